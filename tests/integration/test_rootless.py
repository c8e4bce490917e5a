"""Rootless: ocipy run by a non-root user, as `runc` is with `runc spec --rootless`.

Every command runs as an unprivileged uid (setpriv, no supplementary groups)
with $XDG_RUNTIME_DIR set and no --root: the state must land in
$XDG_RUNTIME_DIR/ocipy. The user's container maps that uid (and only it) to
root in a new user namespace, gets no cgroup of its own (it may not create
one: cgroup limits are refused with a clear error), and everything is
observed from inside the container.

The user cannot read root's home (where CI's interpreter and clone may live),
so the tests run a copy of this checkout's ocipy package, owned by the user,
with an interpreter every user can reach (python -S -m ocipy).
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import REPO
from ocipy.spec.defaults import default_spec

SETPRIV = shutil.which("setpriv")


def _free_id() -> int:
    for n in range(64123, 64300):
        try:
            pwd.getpwuid(n)
        except KeyError:
            return n
    pytest.skip("no free uid in 64123..64299")


def _world_reachable(path: str) -> bool:
    """Every directory on the way is o+x and the file o+rx."""
    path = os.path.realpath(path)
    d = os.path.dirname(path)
    while d != "/":
        if not os.stat(d).st_mode & 0o001:
            return False
        d = os.path.dirname(d)
    return os.stat(path).st_mode & 0o005 == 0o005


def _python() -> str | None:
    for cand in (sys.executable, "/usr/bin/python3.11", "/usr/bin/python3"):
        if cand and os.path.exists(cand) and _world_reachable(cand):
            r = subprocess.run([cand, "-S", "-c", "import sys; print(sys.version_info >= (3, 11))"],
                               capture_output=True, text=True, check=False)
            if r.stdout.strip() == "True":
                return os.path.realpath(cand)
    return None


def _mounted_under(d: str) -> list[str]:
    d = os.path.realpath(d)
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4] == d or ln.split()[4].startswith(d + "/")]


class User:
    """An unprivileged uid with its own runtime dir, bundle and /out dir."""

    def __init__(self, base: str, uid: int, py: str, lib: str, rootfs: str) -> None:
        self.base, self.uid, self.py, self.lib = base, uid, py, lib
        self.xdg = os.path.join(base, "run")
        self.root = os.path.join(self.xdg, "ocipy")  # the default --root for this user
        self.out = os.path.join(base, "out")
        self.rootfs = rootfs
        self.n = 0

    def ocipy(self, *args: str, timeout: float = 60, xdg: bool = True) -> subprocess.CompletedProcess:
        """ocipy ARGS as the user; stdout/stderr through files (never pipes:
        a container's init inherits them)."""
        self.n += 1
        paths = [os.path.join(self.base, f"io-{self.n}.{k}") for k in ("out", "err")]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "XDG_RUNTIME_DIR": self.xdg,
               "PYTHONPATH": self.lib, "HOME": self.base}
        if not xdg:
            del env["XDG_RUNTIME_DIR"]
        argv = [SETPRIV, f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--",
                self.py, "-S", "-m", "ocipy", *args]
        with open(paths[0], "w+") as out, open(paths[1], "w+") as err:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                               timeout=timeout, check=False)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, r.returncode, out.read(), err.read())

    def bundle(self, args: list[str], edit=None, name: str = "b") -> str:
        """A bundle of `ocipy spec --rootless` for this uid, /out bound rw."""
        b = os.path.join(self.base, name)
        os.mkdir(b)
        subprocess.run(["cp", "-a", self.rootfs, os.path.join(b, "rootfs")], check=True)
        cfg = default_spec(rootless=True, host_uid=self.uid, host_gid=self.uid)
        cfg["process"]["args"] = list(args)
        cfg["process"]["terminal"] = False
        cfg["mounts"].append({"destination": "/out", "type": "bind", "source": self.out,
                              "options": ["rbind", "rw"]})
        if edit:
            edit(cfg)
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(cfg, f)
        subprocess.run(["chown", "-R", f"{self.uid}:{self.uid}", b], check=True)
        return b

    def read(self, name: str) -> str:
        with open(os.path.join(self.out, name)) as f:
            return f.read()

    def wait_for(self, name: str, timeout: float = 10) -> bool:
        end = time.monotonic() + timeout
        while not os.path.exists(os.path.join(self.out, name)):
            if time.monotonic() > end:
                return False
            time.sleep(0.02)
        return True


@pytest.fixture
def user(template):
    if not SETPRIV:
        pytest.skip("setpriv (util-linux) not installed")
    py = _python()
    if not py:
        pytest.skip("no Python >= 3.11 that an unprivileged user can run")
    uid = _free_id()
    base = tempfile.mkdtemp(prefix="ocipy-rootless-", dir="/tmp")
    os.chmod(base, 0o755)
    lib = os.path.join(base, "lib")
    shutil.copytree(os.path.join(REPO, "ocipy"), os.path.join(lib, "ocipy"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.bin"))
    for d in ("run", "out"):
        os.mkdir(os.path.join(base, d), 0o700)
    subprocess.run(["chown", "-R", f"{uid}:{uid}", base], check=True)
    u = User(base, uid, py, lib, template[0])
    try:
        yield u
    finally:
        left = sorted(os.listdir(u.root)) if os.path.isdir(u.root) else []
        for cid in left:
            u.ocipy("delete", "--force", cid)
        still = sorted(os.listdir(u.root)) if os.path.isdir(u.root) else []
        mounted = _mounted_under(base)
        if not mounted:  # never remove a tree with a mount inside
            shutil.rmtree(base, ignore_errors=True)
        assert not mounted, f"mounts left on the host under {base}: {mounted}"
        assert not left, f"containers left behind: {left}"
        assert not still, f"delete --force did not remove: {still}"


def _own_cgroup_dirs(cid: str) -> list[str]:
    """Any cgroup directory named after the container, on any hierarchy."""
    found = []
    for top in ("/sys/fs/cgroup",):
        for dirpath, dirnames, _ in os.walk(top):
            for d in dirnames:
                if d == cid or d.startswith(cid + "-"):
                    found.append(os.path.join(dirpath, d))
            if dirpath.count("/") > 6:
                dirnames[:] = []
    return found


# --- tests --------------------------------------------------------------------

def test_run_maps_the_user_to_root_in_its_user_namespace(user):
    script = ("id -u > /out/uid; id -g > /out/gid; cat /proc/self/uid_map > /out/uid_map; "
              "cat /proc/self/gid_map > /out/gid_map; cat /proc/self/setgroups > /out/setgroups; "
              "hostname > /out/host; echo $$ > /out/pid; ls -A /sys/fs/cgroup > /out/cgroupfs; "
              "if echo $$ > /sys/fs/cgroup/pids/cgroup.procs; then echo rw; else echo ro; fi > /out/cgw; "
              "touch /out/made; exit 3")
    b = user.bundle(["sh", "-c", script])
    r = user.ocipy("run", "--bundle", b, "rl1")
    assert r.returncode == 3, r.stderr
    assert user.read("uid") == "0\n" and user.read("gid") == "0\n"
    assert user.read("uid_map").split() == ["0", str(user.uid), "1"]
    assert user.read("gid_map").split() == ["0", str(user.uid), "1"]
    assert user.read("setgroups") == "deny\n"
    assert user.read("host") == "runc\n"  # runc's spec's hostname
    assert user.read("pid") == "1\n"
    # no cgroup of its own: /sys/fs/cgroup shows the ones it stays in (the
    # caller's, as runc shows them), read-only
    if os.path.isdir("/sys/fs/cgroup/pids"):  # a v1 or hybrid host
        assert {"memory", "pids"} <= set(user.read("cgroupfs").split()), user.read("cgroupfs")
        assert user.read("cgw") == "ro\n"
    st = os.stat(os.path.join(user.out, "made"))
    assert (st.st_uid, st.st_gid) == (user.uid, user.uid), "container root is not the user on the host"
    assert os.listdir(user.root) == [], "run did not delete the container"
    assert _own_cgroup_dirs("rl1") == []


def test_lifecycle_exec_kill_and_delete(user):
    b = user.bundle(["sh", "-c", "touch /out/started; exec sleep 1000"])
    r = user.ocipy("create", "--bundle", b, "rl2")
    assert r.returncode == 0, r.stderr
    assert os.listdir(user.root) == ["rl2"], "state is not under $XDG_RUNTIME_DIR/ocipy"
    with open(os.path.join(user.root, "rl2", "state.json")) as f:
        saved = json.load(f)
    assert not saved.get("cgroup"), "a rootless container got a cgroup it cannot own"
    st = json.loads(user.ocipy("state", "rl2").stdout)
    assert st["status"] == "created" and st["pid"] > 0
    assert os.stat(f"/proc/{st['pid']}").st_uid == user.uid
    assert user.ocipy("start", "rl2").returncode == 0
    assert user.wait_for("started")
    assert json.loads(user.ocipy("state", "rl2").stdout)["status"] == "running"
    listed = json.loads(user.ocipy("list", "--format", "json").stdout)
    assert [(x["id"], x["owner"]) for x in listed] == [("rl2", f"#{user.uid}")]  # no passwd entry: runc's "#UID"
    r = user.ocipy("exec", "rl2", "sh", "-c", "id -u > /out/exec_uid; echo $$ > /out/exec_pid")
    assert r.returncode == 0, r.stderr
    assert user.read("exec_uid") == "0\n"
    assert int(user.read("exec_pid")) > 1  # in the container's pid namespace
    assert user.ocipy("exec", "rl2", "sh", "-c", "exit 5").returncode == 5
    r = user.ocipy("ps", "--format", "json", "rl2")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [st["pid"]]
    assert user.ocipy("kill", "rl2", "0").returncode == 0
    for cmd in (["pause"], ["update", "--memory", "64m"], ["events", "--stats"]):
        r = user.ocipy(*cmd, "rl2")
        assert r.returncode != 0, cmd
        assert r.stderr.splitlines() == ['ocipy: container "rl2" has no cgroup of its own (a rootless '
                                         'container without cgroup delegation)'], (cmd, r.stderr)
    assert user.ocipy("kill", "rl2", "KILL").returncode == 0
    end = time.monotonic() + 10
    while json.loads(user.ocipy("state", "rl2").stdout)["status"] != "stopped":
        assert time.monotonic() < end, "still running after SIGKILL"
        time.sleep(0.05)
    assert user.ocipy("delete", "rl2").returncode == 0
    assert os.listdir(user.root) == []


def test_delete_force_and_kill_all_of_a_running_container(user):
    b = user.bundle(["sh", "-c", "sleep 1000 & touch /out/up; wait"])
    assert user.ocipy("run", "-d", "--bundle", b, "rl3").returncode == 0
    assert user.wait_for("up")
    pid = json.loads(user.ocipy("state", "rl3").stdout)["pid"]
    assert user.ocipy("kill", "--all", "rl3", "KILL").returncode == 0
    end = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < end:
        time.sleep(0.02)
    assert json.loads(user.ocipy("state", "rl3").stdout)["status"] == "stopped"
    assert user.ocipy("delete", "rl3").returncode == 0
    b2 = user.bundle(["sleep", "1000"], name="b2")
    assert user.ocipy("run", "-d", "--bundle", b2, "rl4").returncode == 0
    pid = json.loads(user.ocipy("state", "rl4").stdout)["pid"]
    r = user.ocipy("delete", "--force", "rl4")
    assert r.returncode == 0, r.stderr
    assert os.listdir(user.root) == []
    end = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < end:
        time.sleep(0.02)
    assert not os.path.exists(f"/proc/{pid}")


def _refused(user, b: str, cid: str, field: str) -> str:
    r = user.ocipy("create", "--bundle", b, cid)
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert os.listdir(user.root) == [] if os.path.isdir(user.root) else True, "state left behind"
    assert _own_cgroup_dirs(cid) == []
    return lines[0]


def test_resources_without_a_cgroup_fail_clearly(user):
    def edit(cfg):
        cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    line = _refused(user, user.bundle(["true"], edit), "rl5", "linux.resources.memory")
    assert "rootless" in line


def test_a_user_namespace_is_required(user):
    def edit(cfg):
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "user"]
        del cfg["linux"]["uidMappings"], cfg["linux"]["gidMappings"]
    _refused(user, user.bundle(["true"], edit), "rl6", "linux.namespaces")


@pytest.mark.parametrize("field,entry", [
    ("uidMappings", {"containerID": 0, "hostID": None, "size": 65536}),
    ("gidMappings", {"containerID": 0, "hostID": 0, "size": 1}),
])
def test_only_the_users_own_id_can_be_mapped(user, field, entry):
    def edit(cfg):
        e = dict(entry)
        if e["hostID"] is None:
            e["hostID"] = user.uid
        cfg["linux"][field] = [e]
    line = _refused(user, user.bundle(["true"], edit), "rl7", f"linux.{field}")
    assert str(user.uid) in line


def test_additional_gids_are_refused(user):
    def edit(cfg):
        cfg["process"]["user"]["additionalGids"] = [5]
    _refused(user, user.bundle(["true"], edit), "rl8", "additionalGids")


@pytest.mark.parametrize("field,user_cfg", [("uid", {"uid": 1000, "gid": 0}), ("gid", {"uid": 0, "gid": 1000})])
def test_an_unmapped_process_user_is_refused(user, field, user_cfg):
    def edit(cfg):
        cfg["process"]["user"] = dict(user_cfg)
    line = _refused(user, user.bundle(["true"], edit), "rl9", f"process.user.{field}")
    assert "1000 is not mapped" in line


def test_without_a_runtime_dir_the_default_root_is_refused_clearly(user):
    """No XDG_RUNTIME_DIR: the default is /run/ocipy, root's (0700; where it
    does not exist yet, only creating in it fails: /run is root's too)."""
    cases = [["run", "--bundle", user.bundle(["true"]), "x"]]
    if os.path.isdir("/run/ocipy"):
        cases += [["list"], ["state", "x"]]
    for args in cases:
        r = user.ocipy(*args, xdg=False)
        assert r.returncode != 0, args
        assert r.stderr.splitlines() == ["ocipy: --root /run/ocipy: Permission denied (not run as root: "
                                         "give --root, or set XDG_RUNTIME_DIR for the default)"], (args, r.stderr)


def test_a_failure_inside_the_container_leaves_nothing(user):
    """An error in the init (a bind source that does not exist): one line,
    and no state, no process of the user left."""
    def edit(cfg):
        cfg["mounts"].append({"destination": "/data", "type": "bind", "source": "/nonexistent-ocipy",
                              "options": ["rbind"]})
    b = user.bundle(["true"], edit)
    before = _user_pids(user.uid)
    line = _refused(user, b, "rl10", "/nonexistent-ocipy")
    assert "mounts[" in line or "/data" in line, line
    left = _user_pids(user.uid) - before
    info = {}
    for pid in left:
        try:
            info[pid] = (open(f"/proc/{pid}/stat").read()[:80], open(f"/proc/{pid}/cmdline").read()[:80])
        except OSError as e:
            info[pid] = str(e)
    assert not left, f"a process of the failed create is left: {info}"


def _user_pids(uid: int) -> set[int]:
    pids = set()
    for n in os.listdir("/proc"):
        if n.isdigit():
            try:
                if os.stat(f"/proc/{n}").st_uid == uid:
                    pids.add(int(n))
            except FileNotFoundError:
                pass
    return pids


@pytest.fixture
def delegated(user):
    """A cgroup per v1 hierarchy (but devices, root's) owned by the user, as
    an administrator delegates one; removed afterwards (only empty cgroup
    dirs: rmdir, deepest first)."""
    if not os.path.isdir("/sys/fs/cgroup/pids") or not os.path.isdir("/sys/fs/cgroup/memory"):
        pytest.skip("needs the v1 memory and pids hierarchies (a v1 or hybrid host)")
    name = f"ocipy-delegated-{user.uid}-{os.getpid()}"
    made = []
    for h in sorted(os.listdir("/sys/fs/cgroup")):
        top = os.path.join("/sys/fs/cgroup", h)
        if h in ("devices", "unified") or not os.path.isfile(os.path.join(top, "tasks")):
            continue
        d = os.path.join(top, name)
        os.mkdir(d)
        made.append(d)
        if h == "cpuset":  # a new cpuset starts empty
            for f in ("cpuset.cpus", "cpuset.mems"):
                with open(os.path.join(top, f)) as src, open(os.path.join(d, f), "w") as dst:
                    dst.write(src.read())
        for entry in [d] + [os.path.join(d, f) for f in ("tasks", "cgroup.procs")]:
            os.chown(entry, user.uid, user.uid)
    try:
        yield name
    finally:
        for d in made:
            for sub, _, _ in sorted(os.walk(d), key=lambda w: -w[0].count("/")):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
        left = [d for d in made if os.path.exists(d)]
        assert not left, f"cgroups left behind: {left}"


def test_a_delegated_cgroup_gets_the_limits(user, delegated):
    """With a cgroup the user owns, resources apply as for root: the limits
    read from inside, and the cgroup is gone after delete."""
    def edit(cfg):
        cfg["linux"]["cgroupsPath"] = f"/{delegated}/c1"
        cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 20}}
    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max > /out/limits; "
              "touch /out/up; exec sleep 1000")
    b = user.bundle(["sh", "-c", script], edit)
    r = user.ocipy("run", "-d", "--bundle", b, "rl11")
    assert r.returncode == 0, r.stderr
    assert user.wait_for("up")
    assert user.read("limits").split() == [str(64 << 20), "20"]
    pid = json.loads(user.ocipy("state", "rl11").stdout)["pid"]
    mem = f"/sys/fs/cgroup/memory/{delegated}/c1"
    with open(f"{mem}/cgroup.procs") as f:
        assert int(f.read().split()[0]) == pid
    assert not os.path.exists(f"/sys/fs/cgroup/devices/{delegated}"), "devices is root's"
    assert user.ocipy("pause", "rl11").returncode == 0  # the freezer is the user's too
    assert json.loads(user.ocipy("state", "rl11").stdout)["status"] == "paused"
    assert user.ocipy("resume", "rl11").returncode == 0
    r = user.ocipy("update", "--pids-limit", "30", "rl11")
    assert r.returncode == 0, r.stderr
    with open(f"/sys/fs/cgroup/pids/{delegated}/c1/pids.max") as f:
        assert f.read().strip() == "30"
    assert user.ocipy("delete", "--force", "rl11").returncode == 0
    assert not os.path.exists(mem), "delete left the cgroup"
