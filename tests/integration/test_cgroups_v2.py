"""Issue 3, the pure cgroup v2 code path, at the CLI level.

Every ocipy command of these tests runs in a private mount namespace of its
own where cgroup2 is mounted at /sys/fs/cgroup over the host's v1 tmpfs:

    unshare -m sh -c 'mount --make-rprivate / && umount -l /sys/fs/cgroup &&
                      mount -t cgroup2 none /sys/fs/cgroup && exec ocipy ...'

so ocipy sees a v2-only host. That cgroup2 is the very hierarchy the host
mounts at /sys/fs/cgroup/unified (CGROUP2 below): its root offers only
hugetlb plus the core files (cgroup.freeze, cgroup.kill, cgroup.events...),
so limits of absent controllers must fail with one clear line. The tests
check the container's cgroup from the host through CGROUP2 and from inside
the container, and that nothing is left there (every directory holding
TOKEN, ids and default cgroup names alike) once each test is over.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time

import pytest

from conftest import REPO, Runtime, _env

TOKEN = f"ocgv2{os.getpid()}"
MB = 1 << 20

WRAP = ("mount --make-rprivate / && umount -l /sys/fs/cgroup && "
        "mount -t cgroup2 none /sys/fs/cgroup && exec \"$@\"")


def _cgroup2_mount() -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-", 6) + 1] == "cgroup2":
                return fields[4]
    return None


CGROUP2 = _cgroup2_mount()
if CGROUP2 is None:
    pytest.skip("no cgroup2 hierarchy on this host", allow_module_level=True)
if subprocess.run(["unshare", "--version"], capture_output=True).returncode != 0:
    pytest.skip("unshare(1) not available", allow_module_level=True)


class V2Runtime(Runtime):
    """The ocipy CLI, each call in a fresh mount namespace seeing pure v2."""

    def cmd(self, *args: str, root: bool = True) -> list[str]:
        return ["unshare", "-m", "sh", "-c", WRAP, "sh"] + super().cmd(*args, root=root)


# --- helpers --------------------------------------------------------------------------
def poll(fn, timeout: float = 10, interval: float = 0.02):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


def cid(name: str) -> str:
    return f"{TOKEN}-{name}"


def call(rt: Runtime, *args, timeout: float = 30, prefix=()) -> subprocess.CompletedProcess:
    """The CLI with stdout/stderr on files (a container inherits them)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(list(prefix) + rt.cmd(*args), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                           env=_env(), cwd=REPO, timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())


def one_error(r: subprocess.CompletedProcess, *words: str) -> str:
    assert r.returncode != 0, f"expected a failure, got rc 0\nstderr: {r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and "warning" not in ln.lower()]
    assert len(lines) == 1, f"want one error line, got: {r.stderr!r}"
    for w in words:
        assert w in lines[0], f"{w!r} not named in: {lines[0]!r}"
    return lines[0]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def status(rt: Runtime, c: str) -> str:
    r = rt("state", c)
    return json.loads(r.stdout)["status"] if r.returncode == 0 else f"<state failed: {r.stderr.strip()}>"


def wait_status(rt: Runtime, c: str, want: str, timeout: float = 10) -> str:
    return want if poll(lambda: status(rt, c) == want, timeout) else status(rt, c)


def rd(path) -> str:
    with open(path) as f:
        return f.read().strip()


def kv(path) -> dict:
    return dict(line.split(None, 1) for line in rd(path).splitlines() if " " in line)


def procs(d: str) -> set[int]:
    return {int(x) for x in rd(os.path.join(d, "cgroup.procs")).split()}


def v2_dir(pid: int) -> str:
    """The host directory (under CGROUP2) of pid's cgroup2 cgroup."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                path = line.rstrip("\n")[3:]
                return CGROUP2 if path == "/" else CGROUP2.rstrip("/") + path
    raise AssertionError(f"pid {pid} has no cgroup2 cgroup")


def token_dirs() -> list[str]:
    r = subprocess.run(["find", CGROUP2, "-type", "d", "-name", f"*{TOKEN}*"], capture_output=True, text=True)
    return sorted(r.stdout.split())


def _scrub(dirs: list[str]) -> None:
    """Thaw, cgroup.kill and rmdir (bottom-up, never rm -r) a leak."""
    for top in sorted(dirs, key=len):
        for _ in range(50):
            if not os.path.isdir(top):
                break
            subs = [r for r, _, _ in os.walk(top, topdown=False)]
            for d in subs:
                for name, value in (("cgroup.freeze", "0"), ("cgroup.kill", "1")):
                    try:
                        with open(os.path.join(d, name), "w") as f:
                            f.write(value)
                    except OSError:
                        pass
            for d in subs:
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            time.sleep(0.02)


@pytest.fixture(scope="module", autouse=True)
def nothing_left_in_cgroup2():
    yield
    left = token_dirs()
    _scrub(left)
    assert not left, f"cgroups left behind in {CGROUP2}: {left}"


@pytest.fixture
def v2(runtime):
    """The `runtime` fixture's --root, driven in pure-v2 namespaces. At
    teardown (before `runtime`'s own) every container left is deleted there,
    and no cgroup of the test may remain in CGROUP2."""
    before = set(token_dirs())
    rt = V2Runtime(runtime.argv, runtime.root, "ocipy-v2")
    yield rt
    for c in rt.ids():
        rt("delete", "--force", c)
    left = sorted(set(token_dirs()) - before)
    _scrub(left)
    assert not left, f"cgroups left behind in {CGROUP2}: {left}"


@pytest.fixture
def box(bundle, tmp_path):
    """make(script, resources=None, edit=None) -> (bundle, out dir at /out).
    resources=None keeps runc's default (deny-all devices), {} removes
    linux.resources entirely."""
    def make(script, resources=None, edit=None, name="b"):
        out = tmp_path / f"{name}-out"
        out.mkdir()

        def ed(cfg):
            cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                                  "options": ["rbind", "rw"]})
            if resources == {}:
                cfg["linux"].pop("resources", None)
            elif resources:
                cfg["linux"].setdefault("resources", {}).update(resources)
            if edit:
                edit(cfg)
        return bundle(["sh", "-c", script], ed, name), out
    return make


def create(rt: Runtime, b: str, c: str) -> int:
    r = call(rt, "create", "--bundle", b, c)
    assert r.returncode == 0, f"create failed: {r.stderr}"
    return rt.state(c)["pid"]


def start(rt: Runtime, c: str) -> None:
    r = call(rt, "start", c)
    assert r.returncode == 0, f"start failed: {r.stderr}"


def no_pidns(cfg):
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]


# --- the tests ----------------------------------------------------------------------------
def test_host_view_is_pure_v2(v2, tmp_path):
    """The wrapper itself: ocipy's process sees cgroup2 at /sys/fs/cgroup
    and nothing else, and the host's mounts are untouched."""
    script = tmp_path / "probe.sh"
    script.write_text("grep -c ' cgroup ' /proc/self/mountinfo; grep ' /sys/fs/cgroup ' /proc/self/mountinfo\n")
    r = subprocess.run(["unshare", "-m", "sh", "-c", WRAP, "sh", "sh", str(script)], capture_output=True, text=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "0" and "cgroup2" in lines[1], r.stdout + r.stderr
    assert _cgroup2_mount() == CGROUP2


@pytest.mark.parametrize("resources", [{}, None], ids=["no-resources", "runc-default-devices"])
def test_container_gets_and_loses_its_cgroup(v2, box, wait_gone, resources):
    b, out = box("cat /proc/self/cgroup > /out/cg; ls /sys/fs/cgroup > /out/ls; "
                 "echo x > /dev/null && echo null-ok > /out/null; sleep 100", resources)
    c = cid("plain")
    pid = create(v2, b, c)
    d = v2_dir(pid)
    assert os.path.dirname(d) == CGROUP2 and os.path.basename(d).startswith(c + "-"), d
    assert procs(d) == {pid}
    start(v2, c)
    assert poll(lambda: (out / "null").exists()), "the container did not run"
    assert (out / "cg").read_text().splitlines()[-1] == "0::" + d[len(CGROUP2):]
    inside = (out / "ls").read_text().split()
    assert "cgroup.freeze" in inside and "cgroup.procs" in inside, inside
    assert not [n for n in inside if n.startswith(TOKEN)], "the container sees the host's cgroup2 root"
    assert call(v2, "kill", c, "KILL").returncode == 0
    assert wait_gone(pid)
    assert wait_status(v2, c, "stopped") == "stopped"
    assert os.path.isdir(d)
    r = call(v2, "delete", c)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(d), "delete left the cgroup"
    assert not os.path.exists(os.path.join(v2.root, c))


def test_devices_ebpf_filter(v2, box, wait_gone):
    """runc's deny-all rule (plus the default devices) through the eBPF
    device filter: /dev/null and /dev/zero work, a node made for another
    device cannot be opened."""
    def caps(cfg):
        for k in ("bounding", "effective", "permitted"):
            cfg["process"]["capabilities"][k].append("CAP_MKNOD")
    b, out = box("echo x > /dev/null && echo null-ok > /out/null; head -c 2 /dev/zero | wc -c > /out/zero; "
                 "mknod /dev/xmem c 1 1 && echo mknod-ok > /out/mknod; "
                 "head -c 1 /dev/xmem > /dev/null 2> /out/xmem_err; echo $? > /out/xmem_rc", edit=caps)
    c = cid("dev")
    pid = create(v2, b, c)
    start(v2, c)
    assert wait_gone(pid)
    assert (out / "null").read_text().strip() == "null-ok"
    assert (out / "zero").read_text().strip() == "2"
    assert (out / "mknod").read_text().strip() == "mknod-ok", "mknod of a char device (c *:* m) failed"
    assert (out / "xmem_rc").read_text().strip() != "0", "/dev/mem (1:1) was readable"
    assert "Operation not permitted" in (out / "xmem_err").read_text()


TICKER = "touch /out/ready; i=0; while :; do i=$((i+1)); echo $i > /out/n.tmp; mv /out/n.tmp /out/n; sleep 0.02; done"


def ticks(out) -> int:
    try:
        return int((out / "n").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def test_pause_resume_through_cgroup_freeze(v2, box):
    b, out = box(TICKER)
    c = cid("pause")
    pid = create(v2, b, c)
    d = v2_dir(pid)
    start(v2, c)
    assert poll(lambda: ticks(out) > 2)
    r = call(v2, "pause", c)
    assert r.returncode == 0, r.stderr
    assert status(v2, c) == "paused"
    assert rd(f"{d}/cgroup.freeze") == "1"
    assert kv(f"{d}/cgroup.events")["frozen"] == "1"
    n = ticks(out)
    time.sleep(0.3)  # observing that nothing happens takes some time
    assert ticks(out) == n, "the container kept running while paused"
    r = call(v2, "resume", c)
    assert r.returncode == 0, r.stderr
    assert status(v2, c) == "running"
    assert rd(f"{d}/cgroup.freeze") == "0"
    assert kv(f"{d}/cgroup.events")["frozen"] == "0"
    assert poll(lambda: ticks(out) > n + 2), "no progress after resume"


def test_delete_force_of_a_paused_container(v2, box, wait_gone):
    b, out = box(TICKER)
    c = cid("pausedel")
    pid = create(v2, b, c)
    d = v2_dir(pid)
    start(v2, c)
    assert poll(lambda: ticks(out) > 2)
    assert call(v2, "pause", c).returncode == 0
    members = procs(d)
    r = call(v2, "delete", "--force", c)
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid, 5)
    assert not [p for p in members if alive(p)]
    assert not os.path.exists(d)
    assert not os.path.exists(os.path.join(v2.root, c))


FAMILY = "sleep 100 & sleep 101 & sh -c 'sleep 102 & wait' & touch /out/ready; wait"


@pytest.mark.parametrize("sig,via_cgroup_kill", [("KILL", True), ("TERM", False)])
def test_kill_all(v2, box, tmp_path, sig, via_cgroup_kill):
    """kill --all of a container without a pid namespace: every process of
    the cgroup dies; SIGKILL goes through cgroup.kill (seen with strace),
    other signals process by process."""
    b, out = box(FAMILY, edit=no_pidns)
    c = cid("killall")
    pid = create(v2, b, c)
    d = v2_dir(pid)
    start(v2, c)
    assert poll(lambda: (out / "ready").exists() and len(procs(d)) == 5), procs(d)
    members = procs(d)
    trace = tmp_path / "strace.out"
    r = call(v2, "kill", "--all", c, sig, prefix=["strace", "-f", "-qq", "-e", "trace=openat",
                                                   "-o", str(trace)])
    assert r.returncode == 0, r.stderr
    assert poll(lambda: not [p for p in members if alive(p)], 5), [p for p in members if alive(p)]
    opened_kill = any("cgroup.kill" in ln for ln in trace.read_text().splitlines())
    assert opened_kill == via_cgroup_kill, "cgroup.kill use: " + \
        "\n".join(ln for ln in trace.read_text().splitlines() if "cgroup" in ln)
    assert wait_status(v2, c, "stopped") == "stopped"
    r = call(v2, "delete", c)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(d)


def test_ps_and_events_stats(v2, box):
    b, out = box("sleep 100 & touch /out/ready; wait")
    c = cid("ps")
    pid = create(v2, b, c)
    d = v2_dir(pid)
    start(v2, c)
    assert poll(lambda: (out / "ready").exists() and len(procs(d)) == 2)
    r = call(v2, "ps", "--format", "json", c)
    assert r.returncode == 0, r.stderr
    assert set(json.loads(r.stdout)) == procs(d)
    u0 = int(kv(f"{d}/cpu.stat")["usage_usec"])
    r = call(v2, "events", "--stats", c)
    u1 = int(kv(f"{d}/cpu.stat")["usage_usec"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == c
    total = ev["data"]["cpu"]["usage"]["total"]
    assert u0 * 1000 <= total <= u1 * 1000, (u0, total, u1)


def test_hugepage_limit_works_in_v2(v2, box, wait_gone):
    if not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB") or \
            "hugetlb" not in rd(f"{CGROUP2}/cgroup.controllers").split():
        pytest.skip("no hugetlb controller or 2MB pages")
    b, out = box("cat /sys/fs/cgroup/hugetlb.2MB.max > /out/v",
                 {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MB}]})
    c = cid("huge")
    pid = create(v2, b, c)
    d = v2_dir(pid)
    assert rd(f"{d}/hugetlb.2MB.max") == str(4 * MB)
    start(v2, c)
    assert wait_gone(pid)
    assert (out / "v").read_text().strip() == str(4 * MB), "seen from inside"


ABSENT = [
    ({"memory": {"limit": 64 * MB}}, "memory"),
    ({"pids": {"limit": 10}}, "pids"),
    ({"cpu": {"shares": 512}}, "cpu"),
    ({"cpu": {"cpus": "0"}}, "cpuset"),
    ({"blockIO": {"weight": 300}}, "io"),
    ({"unified": {"memory.max": "1000000"}}, "memory"),
]


@pytest.mark.parametrize("resources,ctrl", ABSENT, ids=[json.dumps(r) for r, _ in ABSENT])
def test_limit_of_an_absent_controller_fails_clearly(v2, box, resources, ctrl):
    present = rd(f"{CGROUP2}/cgroup.controllers").split()
    if ctrl in present:
        pytest.skip(f"this host's cgroup2 has {ctrl}")
    b, _ = box("true", resources)
    c = cid("absent")
    r = call(v2, "create", "--bundle", b, c)
    one_error(r, ctrl)
    assert not os.path.exists(os.path.join(v2.root, c)), "state dir left behind"
    assert not [x for x in token_dirs() if os.path.basename(x).startswith(c)], "cgroup left behind"


def test_update_of_an_absent_controller_fails_and_changes_nothing(v2, box):
    b, out = box("touch /out/ready; sleep 100")
    c = cid("upd")
    pid = create(v2, b, c)
    d = v2_dir(pid)
    start(v2, c)
    ctl = rd(f"{d}/cgroup.subtree_control") if os.path.exists(f"{d}/cgroup.subtree_control") else ""
    r = call(v2, "update", "--memory", "64m", c)
    one_error(r, "memory")
    assert procs(d) == {pid}
    assert (rd(f"{d}/cgroup.subtree_control") if ctl else "") == ctl
    assert not os.path.exists(f"{d}/memory.max")
