"""A private Podman (4.3, with conmon) for the client tests, and the busybox
image it runs (no registry: hack/mkbundle's rootfs, tarred, `podman import`).

Everything Podman keeps lives in one scratch directory under /var/tmp
(outside pytest's tmp dirs, which pytest later removes with rmtree):
  root/     --root (images, layers, containers' bundles, libpod's bolt db)
  runroot/  --runroot (pidfiles, the runtime's --log file "oci-log")
  tmp/      --tmpdir (libpod's tmp_dir: exit files, events.log)
  cni/      --network-config-dir (nothing is written there with --network none/host)
The cgroup manager is cgroupfs (no systemd here) and events go to a file.

What Podman still does outside that directory, and how `close()` undoes it:
- the cgroups /sys/fs/cgroup/<ctrl>/libpod_parent/{conmon,libpod-<id>}
  (cgroupfs' layout): each container's libpod-<id> must be gone (checked);
  libpod_parent and its conmon dir are removed with rmdir when empty (Podman
  makes them again when it needs them; busy: another Podman uses them);
- `podman import` writes containers/image's blob-info cache to
  /var/lib/containers/cache for root whatever --root says: removed when
  /var/lib/containers did not exist before;
- the runtime's own state: ocipy and runc get no --root from Podman, so
  /run/ocipy/<id> and /run/runc/<id> (the tests check them per container).

`close()` removes every container (podman rm -af), waits for conmon and its
exit command to end (any process still naming this directory is killed by
pid and reported), unmounts what
is still mounted below the directory (overlay's merged dirs), refuses to go
on if a mount remains, and only then removes the tree with
`rm -rf --one-file-system`.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PODMAN = "/usr/bin/podman"
CONMON = "/usr/bin/conmon"
RUNC = "/usr/sbin/runc"
IMAGE = "localhost/ocipy-busybox:test"
PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CGROUP_ROOT = "/sys/fs/cgroup"


def ocipy_binary() -> str:
    """The absolute path Podman is given: $OCIPY when it is one, else the
    lean launcher hack/setup installs."""
    env = os.environ.get("OCIPY")
    if env and os.path.isabs(env) and os.access(env, os.X_OK):
        return env
    return "/usr/local/bin/ocipy"


def missing() -> str:
    """Why the Podman tests cannot run here ('' when they can)."""
    for p in (PODMAN, CONMON):
        if not os.access(p, os.X_OK):
            return f"{p} not installed (hack/setup installs podman and conmon)"
    if not os.access(ocipy_binary(), os.X_OK):
        return f"{ocipy_binary()} not installed (hack/setup installs the launcher)"
    return ""


def storage_driver() -> str:
    """overlay when the kernel has it (what users run), else vfs (no mounts)."""
    try:
        with open("/proc/filesystems") as f:
            if any(line.split()[-1] == "overlay" for line in f if line.strip()):
                return "overlay"
    except OSError:
        pass
    return "vfs"


def mounts_below(path: str) -> list[str]:
    """Mount points at or below `path` (deepest first)."""
    path = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return sorted(out, key=len, reverse=True)


def cgroup_hierarchies() -> list[str]:
    """Every mounted cgroup hierarchy directory (v1 controllers, named ones, unified)."""
    dirs = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] in ("cgroup", "cgroup2") and fields[4].startswith(CGROUP_ROOT):
                dirs.append(fields[4])
    return sorted(set(dirs))


def cgroup_dirs_named(name: str) -> list[str]:
    """Directories `libpod_parent/<name>` in any hierarchy."""
    return [os.path.join(h, "libpod_parent", name) for h in cgroup_hierarchies()
            if os.path.isdir(os.path.join(h, "libpod_parent", name))]


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_for(pred, timeout: float = 10, step: float = 0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


class Podman:
    """One private Podman store. `conf` is the containers.conf text (given
    as CONTAINERS_CONF, which in Podman 4.3 *replaces* the system files);
    everything that must be private is also passed as a global flag, so a
    conf of a user's (docs/config/containers.conf) works the same."""

    def __init__(self, conf_text: str | None = None, conf_path: str | None = None,
                 prefix: str = "ocipy-podman-") -> None:
        self.base = tempfile.mkdtemp(prefix=prefix, dir="/var/tmp")
        self.driver = storage_driver()
        self.root = os.path.join(self.base, "root")
        self.runroot = os.path.join(self.base, "runroot")
        self.tmpdir = os.path.join(self.base, "tmp")
        self.netdir = os.path.join(self.base, "cni")
        for d in (self.tmpdir, self.netdir):
            os.makedirs(d)
        if conf_text is not None:
            conf_path = os.path.join(self.base, "containers.conf")
            with open(conf_path, "w") as f:
                f.write(conf_text)
        self.conf = conf_path
        self._had_var_lib_containers = os.path.exists("/var/lib/containers")
        self.closed = False

    # -- running podman --------------------------------------------------------

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTAINERS_", "PODMAN_"))}
        env["PATH"] = PATH_ENV
        if self.conf:
            env["CONTAINERS_CONF"] = self.conf
        return env

    def argv(self, *args) -> list[str]:
        return [PODMAN, "--root", self.root, "--runroot", self.runroot,
                "--storage-driver", self.driver, "--cgroup-manager", "cgroupfs",
                "--events-backend", "file", "--tmpdir", self.tmpdir,
                "--network-config-dir", self.netdir, "--network-backend", "cni",
                *[str(a) for a in args]]

    def __call__(self, *args, timeout: float = 60, input: str | None = None,
                 check: bool = False) -> subprocess.CompletedProcess:
        r = subprocess.run(self.argv(*args), input=input, capture_output=True, text=True,
                           timeout=timeout, env=self.env(),
                           stdin=subprocess.DEVNULL if input is None else None)
        if check and r.returncode != 0:
            raise AssertionError(f"podman {' '.join(map(str, args))} -> {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def inspect(self, name: str) -> dict:
        return json.loads(self("container", "inspect", name, check=True).stdout)[0]

    # -- the image -------------------------------------------------------------

    def import_busybox(self, image: str = IMAGE) -> str:
        """hack/mkbundle's rootfs (busybox-static, root and user 1000), as a tar, imported."""
        b = os.path.join(self.base, "src")
        subprocess.run([os.path.join(REPO, "hack", "mkbundle"), b, "--", "true"], check=True,
                       env=dict(os.environ, MKBUNDLE_SPEC="runc"), capture_output=True)
        tar = os.path.join(self.base, "busybox.tar")
        subprocess.run(["tar", "-C", os.path.join(b, "rootfs"), "-cf", tar, "."], check=True)
        self._had_var_lib_containers = os.path.exists("/var/lib/containers")
        self("import", tar, image, check=True, timeout=120)
        subprocess.run(["rm", "-rf", "--one-file-system", b, tar], check=True)
        self._forget_blob_cache()
        return image

    def _forget_blob_cache(self) -> None:
        if self._had_var_lib_containers:
            return
        cache = "/var/lib/containers/cache"
        if os.path.isdir(cache) and not mounts_below("/var/lib/containers"):
            subprocess.run(["rm", "-rf", "--one-file-system", cache], check=False)
            try:
                os.rmdir("/var/lib/containers")
            except OSError:
                pass

    # -- teardown --------------------------------------------------------------

    def processes(self) -> list[int]:
        """pids of processes whose command line names this store: conmon and
        the `podman container cleanup` it runs when a container exits."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if any(self.base.encode() in a for a in argv) and pid_alive(int(d)):
                out.append(int(d))
        return out

    def close(self) -> list[str]:
        """Remove everything; returns a list of problems (empty when clean)."""
        if self.closed:
            return []
        self.closed = True
        problems = []
        ids = []
        if os.path.isdir(self.root):
            ids = self("ps", "--all", "--quiet", "--no-trunc").stdout.split()
            self("rm", "--all", "--force", "--time", "0", timeout=120)
        # conmon exits, and its exit command (podman container cleanup) runs,
        # just after the container: give them a moment
        wait_for(lambda: not self.processes(), 10)
        for pid in self.processes():
            problems.append(f"process {pid} (conmon?) still running after podman rm -af: killed")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.processes(), 5)
        if os.path.isdir(self.root):
            self("rmi", "--all", "--force", timeout=120)
        for mp in mounts_below(self.base):
            subprocess.run(["umount", mp], capture_output=True)
        for mp in mounts_below(self.base):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        left = mounts_below(self.base)
        if left:
            problems.append(f"mounts left below {self.base}: {left} (directory kept)")
        else:
            subprocess.run(["rm", "-rf", "--one-file-system", self.base], check=False)
        for cid in ids:
            left = cgroup_dirs_named(f"libpod-{cid}")
            if left:
                problems.append(f"cgroups of container {cid} left: {left}")
        for h in cgroup_hierarchies():
            # Podman makes them again when it needs them
            parent = os.path.join(h, "libpod_parent")
            for d in (os.path.join(parent, "conmon"), parent):
                try:
                    os.rmdir(d)
                except OSError:
                    # gone, or busy: another Podman (a concurrent test run)
                    # uses it; our own containers' cgroups are checked above
                    pass
        self._forget_blob_cache()
        return problems


def which_runtime(name: str) -> str:
    """The binary Podman is given for a runtime name of the tests."""
    if name == "ocipy":
        return ocipy_binary()
    return shutil.which("runc", path=PATH_ENV) or RUNC
