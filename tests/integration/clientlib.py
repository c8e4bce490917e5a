"""Private containerd and dockerd daemons for the client tests, and the
busybox images they run (no registry: built here from hack/mkbundle's rootfs).

Each daemon gets its own directory (config, root, state, sockets, logs) under
a scratch directory of the test session; nothing of the host's daemons is
used or touched (no /var/lib/containerd, /run/containerd/containerd.sock,
/var/lib/docker, /etc/docker/daemon.json). `stop()` kills the daemon and any
shim it left, unmounts what is still mounted below its directory and removes
the directory without ever crossing a mount.

Host paths the clients still use whatever their configuration (noted so a
reader knows where to look): containerd-shim-runc-v2 puts its socket in
/run/containerd/s/<hash> (removed when the shim exits; the test modules remove
the empty directories they caused). dockerd's trust key (default
/etc/docker/key.json) goes to its own directory ("deprecated-key-path").
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKER = "/usr/bin/docker"          # Debian's 20.10 client (/usr/local/bin/docker is foreign)
DOCKERD = "/usr/sbin/dockerd"
CTR = "/usr/bin/ctr"
CONTAINERD = "/usr/bin/containerd"
SHIM = "/usr/bin/containerd-shim-runc-v2"

PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# -- the runtimes under test ---------------------------------------------------

def ocipy_binary(workdir: str) -> str:
    """An absolute path to an ocipy executable a shim can run: $OCIPY, the
    launcher hack/setup installs, else a wrapper around `python -m ocipy`."""
    env = os.environ.get("OCIPY")
    if env and os.path.isabs(env) and os.access(env, os.X_OK):
        return env
    if os.access("/usr/local/bin/ocipy", os.X_OK):
        return "/usr/local/bin/ocipy"
    import sys
    path = os.path.join(workdir, "ocipy")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m ocipy "$@"\n')
    os.chmod(path, 0o755)
    return path


def runtimes(workdir: str) -> dict[str, str]:
    """name -> binary of the runtimes the tests compare (runc only if installed)."""
    rt = {"ocipy": ocipy_binary(workdir)}
    runc = shutil.which("runc")
    if runc:
        rt["runc"] = runc
    return rt


# -- mounts and safe removal -----------------------------------------------------

def _unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 3 < len(s) and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def mounts_under(path: str) -> list[str]:
    """Mount points at or below `path` in our mount namespace, deepest last."""
    path = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = _unescape(line.split()[4])
            if mp == path or mp.startswith(path + "/"):
                found.append(mp)
    return found


def unmount_under(path: str) -> None:
    for _ in range(3):
        mps = mounts_under(path)
        if not mps:
            return
        for mp in sorted(mps, key=lambda m: m.count("/"), reverse=True):
            if subprocess.run(["umount", mp], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", mp], capture_output=True)


def safe_rmtree(path: str) -> None:
    """rm -r that never crosses a mount: unmount first, refuse if anything stays."""
    if not os.path.lexists(path):
        return
    unmount_under(path)
    left = mounts_under(path)
    if left:
        raise RuntimeError(f"not removing {path}: still mounted below it: {left}")
    subprocess.run(["rm", "-rf", "--one-file-system", "--", path], check=True)


# -- processes -------------------------------------------------------------------

def pids_with_arg(needle: str) -> list[int]:
    """Processes whose command line contains `needle` as one argument or inside one."""
    found = []
    for n in os.listdir("/proc"):
        if not n.isdigit():
            continue
        try:
            with open(f"/proc/{n}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if any(needle.encode() in a for a in args):
            found.append(int(n))
    return found


def wait_until(fn, timeout: float = 10, interval: float = 0.05):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


def run(argv: list[str], timeout: float = 60, input: str | None = None,
        env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a client command, its stdout/stderr in files (never pipes: a
    container could inherit and hold a pipe open)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        if input is None:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                               timeout=timeout, env=env)
        else:
            with tempfile.TemporaryFile("w+") as inp:
                inp.write(input)
                inp.seek(0)
                p = subprocess.run(argv, stdin=inp, stdout=out, stderr=err, timeout=timeout, env=env)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(argv, p.returncode, out.read(), err.read())


def run_in_pty(argv: list[str], timeout: float = 30, size: tuple[int, int] = (33, 77),
               env: dict | None = None) -> tuple[int, str]:
    """Run `argv` with a pseudo-terminal of `size` (rows, columns) as its
    stdin/stdout/stderr (the tests have no terminal of their own); returns
    (exit status, all output)."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    try:
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                             start_new_session=True)
    finally:
        os.close(slave)
    chunks = []
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:        # EIO: every slave fd closed
                    data = b""
                if not data:
                    break
                chunks.append(data)
            elif p.poll() is not None:
                # drain whatever is left
                while select.select([master], [], [], 0.05)[0]:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    chunks.append(data)
                break
        rc = p.wait(timeout=max(1.0, end - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return rc, b"".join(chunks).decode(errors="replace")


# -- cgroups ---------------------------------------------------------------------

def cgroup_dirs(rel: str) -> list[str]:
    """Existing directories of cgroup path `rel` ("/a/b") in every hierarchy."""
    base = "/sys/fs/cgroup"
    found = []
    for h in os.listdir(base):
        p = os.path.join(base, h, rel.lstrip("/"))
        if os.path.isdir(p) and rel.strip("/"):
            found.append(p)
    return found


def rmdir_cgroup_tree(rel: str) -> None:
    """Remove an (empty) cgroup directory tree `rel` in every hierarchy, deepest first."""
    for top in cgroup_dirs(rel):
        for dirpath, dirnames, _ in sorted(os.walk(top), key=lambda t: t[0].count("/"), reverse=True):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


# -- images ----------------------------------------------------------------------

def build_rootfs(workdir: str) -> str:
    """hack/mkbundle's busybox rootfs (copied into workdir); returns its path."""
    b = os.path.join(workdir, "bundle")
    env = dict(os.environ, MKBUNDLE_SPEC="runc")
    subprocess.run([os.path.join(REPO, "hack", "mkbundle"), b, "--", "sh"], check=True, env=env,
                   stdin=subprocess.DEVNULL, capture_output=True)
    return os.path.join(b, "rootfs")


def layer_tar(rootfs: str, dest: str) -> tuple[str, int]:
    """Write `rootfs` as an uncompressed layer tar (owners numeric, paths
    relative, sorted); returns (sha256 hex digest, size)."""
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, rootfs)
            for name in dirnames + sorted(filenames):
                full = os.path.join(dirpath, name)
                arc = name if rel_dir == "." else os.path.join(rel_dir, name)
                ti = tar.gettarinfo(full, arcname=arc)
                ti.uname = ti.gname = ""
                if ti.isreg():
                    with open(full, "rb") as f:
                        tar.addfile(ti, f)
                else:
                    tar.addfile(ti)
    h = hashlib.sha256()
    with open(dest, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest(), os.path.getsize(dest)


def image_config(layer_digest: str, **config) -> dict:
    """An OCI image config: `config` holds Env, Cmd, User, WorkingDir..."""
    cfg = {"Env": [f"PATH={PATH_ENV}"], "Cmd": ["sh"], "WorkingDir": "/"}
    cfg.update(config)
    return {"architecture": "amd64", "os": "linux", "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
            "history": [{"created_by": "ocipy tests: hack/mkbundle busybox rootfs"}]}


def oci_archive(layer: str, layer_digest: str, images: dict[str, dict], dest: str) -> None:
    """An OCI image-layout tar (oci-layout, index.json, blobs/sha256/...) with
    one manifest per image name (all on the same layer), for `ctr images import`."""
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> tuple[str, int]:
        d = hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return d, len(data)

    manifests = []
    layer_size = os.path.getsize(layer)
    for name, cfg in images.items():
        cd, cs = blob(json.dumps(cfg, sort_keys=True).encode())
        man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                          "digest": f"sha256:{cd}", "size": cs},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                           "digest": f"sha256:{layer_digest}", "size": layer_size}]}
        md, ms = blob(json.dumps(man, sort_keys=True).encode())
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "digest": f"sha256:{md}", "size": ms,
                          "platform": {"architecture": "amd64", "os": "linux"},
                          "annotations": {"io.containerd.image.name": name,
                                          "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]}})
    index = {"schemaVersion": 2, "manifests": manifests}

    def add_bytes(tar, arc, data):
        ti = tarfile.TarInfo(arc)
        ti.size = len(data)
        ti.mode = 0o644
        tar.addfile(ti, io.BytesIO(data))

    with tarfile.open(dest, "w") as tar:
        add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add_bytes(tar, "index.json", json.dumps(index).encode())
        tar.add(layer, arcname=f"blobs/sha256/{layer_digest}")
        for d, data in blobs.items():
            add_bytes(tar, f"blobs/sha256/{d}", data)


# -- containerd ------------------------------------------------------------------

# Plugins a private test daemon does not need: CRI (would take over CNI dirs),
# "opt" (creates /opt/containerd), snapshotters that need their own filesystem, tracing.
_DISABLED = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt",
             "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
             "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
             "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]


class Daemon:
    """A daemon process with its own directory; `stop()` removes it all."""

    name = "daemon"

    def __init__(self, workdir: str) -> None:
        self.dir = workdir
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, f"{self.name}.log")
        self.proc: subprocess.Popen | None = None

    def _spawn(self, argv: list[str]) -> None:
        logf = open(self.log, "ab")
        try:
            # own session: a ^C of the test run reaches it only through stop()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         start_new_session=True)
        finally:
            logf.close()

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def _terminate(self, timeout: float = 15) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Containerd(Daemon):
    name = "containerd"

    def __init__(self, workdir: str) -> None:
        super().__init__(workdir)
        self.sock = os.path.join(self.dir, "c.sock")
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        self.config = os.path.join(self.dir, "config.toml")

    def start(self, timeout: float = 30) -> "Containerd":
        disabled = ", ".join(json.dumps(p) for p in _DISABLED)
        with open(self.config, "w") as f:
            f.write(f'version = 2\nroot = {json.dumps(self.root)}\nstate = {json.dumps(self.state)}\n'
                    f'disabled_plugins = [{disabled}]\n'
                    f'[grpc]\n  address = {json.dumps(self.sock)}\n'
                    f'[ttrpc]\n  address = {json.dumps(self.sock + ".ttrpc")}\n'
                    f'[debug]\n  level = "debug"\n')
        self._spawn([CONTAINERD, "--config", self.config])
        ok = wait_until(lambda: os.path.exists(self.sock) and
                        run([CTR, "--address", self.sock, "version"], timeout=10).returncode == 0
                        or self.proc.poll() is not None, timeout)
        if not ok or self.proc.poll() is not None:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"containerd did not start:\n{tail}")
        return self

    def ctr(self, *args, ns: str | None = None, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        argv = [CTR, "--address", self.sock] + (["--namespace", ns] if ns else []) + [str(a) for a in args]
        return run(argv, timeout=timeout, input=input)

    def shims(self) -> list[int]:
        """Live shim processes of this daemon (containerd-shim* -address <our socket>)."""
        found = []
        for pid in pids_with_arg(self.sock):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if os.path.basename(args[0]).startswith(b"containerd-shim") and \
                    self.sock.encode() in args:
                found.append(pid)
        return found

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            ns = self.ctr("namespaces", "ls", "-q", timeout=20).stdout.split()
            for n in ns:
                for t in self.ctr("tasks", "ls", "-q", ns=n, timeout=20).stdout.split():
                    self.ctr("tasks", "kill", "-a", "-s", "KILL", t, ns=n, timeout=20)
                    self.ctr("tasks", "rm", "-f", t, ns=n, timeout=20)
                cs = self.ctr("containers", "ls", "-q", ns=n, timeout=20).stdout.split()
                if cs:
                    self.ctr("containers", "rm", *cs, ns=n, timeout=20)
        self._terminate()
        for pid in self.shims():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not self.shims(), 5)
        safe_rmtree(self.dir)


# -- dockerd ---------------------------------------------------------------------

class Dockerd(Daemon):
    """dockerd on a private containerd (`containerd`), its own data/exec roots,
    socket, pidfile and config file; no iptables rules, no ip_forward change.
    `bridge`: an existing bridge the default network uses (else --bridge=none).
    Containers' cgroups go under `cgroup_parent` (cgroupfs driver), never /docker."""

    name = "dockerd"

    def __init__(self, workdir: str, containerd: Containerd, runtimes: dict[str, str],
                 bridge: str | None = None, cgroup_parent: str = "") -> None:
        super().__init__(workdir)
        self.cgroup_parent = cgroup_parent or f"/ocipy-docker-{os.getpid()}"
        self.containerd = containerd
        self.runtimes = runtimes
        self.bridge = bridge
        self.sock = os.path.join(self.dir, "docker.sock")
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "exec")
        self.pidfile = os.path.join(self.dir, "docker.pid")
        self.config = os.path.join(self.dir, "daemon.json")
        self.driver = None

    def start(self, storage_driver: str = "overlay2", timeout: float = 60) -> "Dockerd":
        with open(self.config, "w") as f:
            # the trust key would go to /etc/docker/key.json: keep it in our dir
            json.dump({"deprecated-key-path": os.path.join(self.dir, "key.json")}, f)
        argv = [DOCKERD, "--config-file", self.config, "--data-root", self.data_root,
                "--exec-root", self.exec_root, "--pidfile", self.pidfile,
                "-H", f"unix://{self.sock}", "--containerd", self.containerd.sock,
                "--iptables=false", "--ip-forward=false", "--ip-masq=false",
                "--userland-proxy=false", "--bridge", self.bridge or "none",
                "--storage-driver", storage_driver, "--cgroup-parent", self.cgroup_parent,
                "--log-level", "debug"]
        for name, path in self.runtimes.items():
            if name != "runc":
                argv += ["--add-runtime", f"{name}={path}"]
        self._spawn(argv)
        ok = wait_until(lambda: self.proc.poll() is not None or
                        (os.path.exists(self.sock) and self.docker("version", timeout=10).returncode == 0),
                        timeout)
        if not ok or self.proc.poll() is not None:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"dockerd did not start:\n{tail}")
        self.driver = storage_driver
        return self

    def docker(self, *args, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
        return run(self.argv(*args), timeout=timeout, input=input, env=self.env())

    def argv(self, *args) -> list[str]:
        return [DOCKER, "-H", f"unix://{self.sock}"] + [str(a) for a in args]

    def env(self) -> dict:
        # no user's ~/.docker config, no DOCKER_HOST from the environment
        return {"PATH": PATH_ENV, "HOME": self.dir, "DOCKER_CONFIG": os.path.join(self.dir, "cli")}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None and os.path.exists(self.sock):
            ids = self.docker("ps", "-aq", timeout=20).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, timeout=60)
        self._terminate(timeout=20)
        safe_rmtree(self.dir)


def new_bridge(addr: str) -> str:
    """Create a bridge with a unique name and address `addr` (CIDR), up."""
    name = "ocipydk" + secrets.token_hex(3)
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True, capture_output=True)
    subprocess.run(["ip", "addr", "add", addr, "dev", name], check=True, capture_output=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True, capture_output=True)
    return name


def del_link(name: str) -> None:
    subprocess.run(["ip", "link", "del", name], capture_output=True)
