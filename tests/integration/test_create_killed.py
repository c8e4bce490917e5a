"""`kill -9` of the create CLI at many moments, then `delete --force ID`,
must leave nothing: no state dir, no process of the container, no mount in
the host namespace; and the id can be created again.

The kill points are spread over a measured create of the same bundle: a
few before the state dir appears (start-up, config checks), most between
the state dir and create's return (forks, namespaces, mounts, pivot_root).
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import REPO, _env, write_config


POINTS = 15


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def container_procs(root: str, rootfs: str) -> list[str]:
    """Live processes of the container: every stage of create runs with
    create's command line (which names the unique --root) until the user's
    program is exec'd (never, here: nothing is started); and any process
    whose root or cwd is the rootfs (a stage between chroot and exec)."""
    found = []
    for n in os.listdir("/proc"):
        if not n.isdigit() or int(n) == os.getpid():
            continue
        try:
            with open(f"/proc/{n}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        where = []
        for link in ("root", "cwd"):
            try:
                where.append(os.readlink(f"/proc/{n}/{link}"))
            except OSError:
                pass
        if (root in cmd or any(w == rootfs or w.startswith(rootfs + "/") for w in where)) and alive(int(n)):
            found.append(f"{n}: {cmd} {where}")
    return found


def host_mounts(*paths: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [ln.strip() for ln in f if any(p in ln for p in paths)]


def poll(fn, timeout: float = 5, interval: float = 0.01):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


@pytest.fixture(params=["plain", "userns"])
def heavy(template, request):
    """A bundle whose create does real work: many mounts (tmpfs, binds rw and
    ro, nested), hostname, the default masked/read-only paths, rlimits; and
    with a user namespace (the id-mapping handshake with create). It lives
    outside pytest's 0700 basetemp: a user-namespaced init (host uid 100000)
    must reach the rootfs by path, as with runc."""
    rootfs_src, base = template
    d = tempfile.mkdtemp(prefix="ocipy-create-killed-")
    os.chmod(d, 0o755)
    share = os.path.join(d, "share")
    os.mkdir(share)
    b = os.path.join(d, "bundle")
    os.mkdir(b)
    subprocess.run(["cp", "-a", rootfs_src, os.path.join(b, "rootfs")], check=True)
    # mount points made here: the rootfs belongs to host root, unwritable to a
    # user-namespaced container root (runc needs them too)
    for sub in ["out", "ro"] + [f"mnt/t{i}" for i in range(20)]:
        os.makedirs(os.path.join(b, "rootfs", sub), exist_ok=True)
    cfg = copy.deepcopy(base)
    cfg["process"]["args"] = ["sleep", "1000"]
    cfg["process"]["terminal"] = False
    m = cfg["mounts"]
    m.append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]})
    for i in range(20):
        m.append({"destination": f"/mnt/t{i}", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]})
    m.append({"destination": "/out", "type": "bind", "source": share, "options": ["rbind", "rw"]})
    m.append({"destination": "/ro", "type": "bind", "source": share, "options": ["rbind", "ro"]})
    m.append({"destination": "/mnt/t0/nested", "type": "bind", "source": share, "options": ["bind", "ro"]})
    cfg["hostname"] = "killed"
    cfg["process"]["capabilities"].pop("ambient", None)
    if request.param == "userns":
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    write_config(b, cfg)
    yield b
    if not host_mounts(d):  # never remove a tree across a mount
        shutil.rmtree(d)


def _create(runtime, b, cid, stderr_to=None, extra=()) -> subprocess.Popen:
    """create with stdio off pipes (the container inherits it)."""
    err = open(stderr_to, "w") if stderr_to else subprocess.DEVNULL
    try:
        return subprocess.Popen(runtime.cmd("create", "--bundle", b, *extra, cid), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, env=_env(), cwd=REPO)
    finally:
        if stderr_to:
            err.close()


def _wait_dir(p: subprocess.Popen, d: str, t0: float) -> float | None:
    """Seconds from t0 until `d` appears (None if create ended first)."""
    while p.poll() is None:
        if os.path.isdir(d):
            return time.monotonic() - t0
        time.sleep(0.0005)
    return None


def _measure(runtime, b, tmp_path) -> tuple[float, float]:
    """(seconds until the state dir appears, then until the pid file is
    written: create's work between claiming the id and "created")."""
    pidfile = tmp_path / "probe.pid"
    t0 = time.monotonic()
    errf = tmp_path / "probe.err"
    p = _create(runtime, b, "probe", stderr_to=errf, extra=("--pid-file", str(pidfile)))
    t_dir = _wait_dir(p, os.path.join(runtime.root, "probe"), t0)
    while p.poll() is None and not pidfile.exists():
        time.sleep(0.0005)
    t_pid = time.monotonic() - t0
    assert p.wait() == 0, f"the heavy bundle does not create: {errf.read_text()}"
    assert runtime("delete", "--force", "probe").returncode == 0
    assert t_dir is not None
    return t_dir, t_pid - t_dir


def _stage(runtime, cid) -> str:
    d = os.path.join(runtime.root, cid)
    try:
        names = sorted(os.listdir(d))
        with open(os.path.join(d, "state.json")) as f:
            s = f.read()
    except OSError:
        return "no state"
    s = json.loads(s)
    return f"{names} status={s.get('status')} pid={s.get('pid')}"


def test_create_killed_at_any_moment_leaves_nothing(runtime, heavy, tmp_path):
    rootfs = os.path.join(heavy, "rootfs")
    mounts_before = host_mounts(os.path.dirname(heavy), runtime.root)
    t_dir, work = _measure(runtime, heavy, tmp_path)
    # (wait for the state dir?, then sleep seconds)
    points = [(False, t_dir * i / 3) for i in range(3)]
    points += [(True, work * 1.2 * j / (POINTS - 4)) for j in range(POINTS - 3)]
    problems = []
    seen = []
    for after_dir, delay in points:
        cid = "victim"
        t0 = time.monotonic()
        p = _create(runtime, heavy, cid)
        if after_dir:
            _wait_dir(p, os.path.join(runtime.root, cid), t0)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        at = f"{'state dir + ' if after_dir else ''}{delay*1000:.1f}ms"
        existed = os.path.isdir(os.path.join(runtime.root, cid))
        if existed:
            at += f" [{_stage(runtime, cid)}]"
            seen.append(at)
            r = runtime("delete", "--force", cid, timeout=20)
            if r.returncode != 0:
                problems.append(f"{at}: delete --force -> {r.returncode}: {r.stderr.strip()}")
        if os.path.exists(os.path.join(runtime.root, cid)):
            problems.append(f"{at}: state dir left")
        left = poll(lambda: not container_procs(runtime.root, rootfs)) or container_procs(runtime.root, rootfs)
        if left is not True:
            problems.append(f"{at}: processes left: {left}")
            for ln in left:
                os.kill(int(ln.split(":")[0]), signal.SIGKILL)
        leaked = [m for m in host_mounts(os.path.dirname(heavy), runtime.root) if m not in mounts_before]
        if leaked:
            problems.append(f"{at}: host mounts left: {leaked}")
        again = _create(runtime, heavy, cid, stderr_to=tmp_path / "again.err")
        if again.wait(timeout=30) != 0:
            problems.append(f"{at}: create again failed: {(tmp_path / 'again.err').read_text().strip()}")
        r = runtime("delete", "--force", cid)
        if r.returncode != 0:
            problems.append(f"{at}: delete --force after re-create: {r.stderr.strip()}")
    print("\n".join(seen))
    assert not problems, "\n".join(problems)
