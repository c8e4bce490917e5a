"""The cgroup manager on real cgroups (root).

- Host tests run on this machine's own hierarchies (v1 or hybrid; the CI host
  is hybrid: v1 controllers, hugetlb on cgroup2 at /sys/fs/cgroup/unified).
- Pure-v2 tests run their body in a forked child that unshares its mount
  namespace, makes / rprivate and mounts cgroup2 over /sys/fs/cgroup: the
  same unified hierarchy, seen as a v2-only host (hugetlb plus the core
  files). Results and failures come back through a pipe.

Every limit is read back from cgroupfs, and where it can be, observed from a
real process placed in the cgroup (a Python child that waits on stdin until
it has been joined, then allocates, forks or opens devices). Every cgroup is
created under a test-unique parent named ocipy-test-cgm-<pid>-<n>; teardown
kills what is left in them and rmdirs them bottom-up (never rm -r on
cgroupfs), and the module checks that `find /sys/fs/cgroup` finds none.
"""
from __future__ import annotations

import errno
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import traceback

import pytest

import ocipy.cgroups as cg
from ocipy import syscalls as sc
from ocipy.cgroups import CgroupError

if os.geteuid() != 0:
    pytest.skip("cgroup manager tests need root", allow_module_level=True)

HIER = cg.detect()
PREFIX = f"ocipy-test-cgm-{os.getpid()}"
_seq = itertools.count()
MB = 1 << 20

host_v1 = pytest.mark.skipif(HIER.mode not in ("v1", "hybrid"), reason="needs a cgroup v1 or hybrid host")
can_v2 = pytest.mark.skipif(HIER.unified is None, reason="no cgroup2 hierarchy on this host")


# --- cleanup ---------------------------------------------------------------------
def _find(prefix: str) -> list:
    r = subprocess.run(["find", "/sys/fs/cgroup", "-name", prefix + "*", "-type", "d", "-prune"],
                       capture_output=True, text=True, check=False)  # find may trip over a racing rmdir
    return sorted(r.stdout.split())


def _remove_tree(top: str) -> None:
    """Kill what runs below top (thawing first), then rmdir bottom-up."""
    for _ in range(50):
        dirs = []
        for root, subdirs, _files in os.walk(top, topdown=False):
            dirs.append(root)
        pids = set()
        for d in dirs:
            for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                try:
                    with open(os.path.join(d, name), "w") as f:
                        f.write(value)
                except OSError:
                    pass
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids.update(int(x) for x in f.read().split())
            except OSError:
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for d in dirs:
            try:
                os.rmdir(d)
            except OSError:
                pass
        if not os.path.isdir(top):
            return
        time.sleep(0.05)


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind():
    roots = [HIER.unified] if HIER.unified else []
    before = {r: rd(r, "cgroup.subtree_control").split() for r in roots}
    yield
    for d in _find(PREFIX):
        _remove_tree(d)
    # controllers our v2 tests enabled at the root of the shared unified
    # hierarchy: hand them back (best effort: someone may use them by now)
    for r, was in before.items():
        now = rd(r, "cgroup.subtree_control").split()
        extra = [c for c in now if c not in was]
        if extra:
            try:
                with open(r + "/cgroup.subtree_control", "w") as f:
                    f.write(" ".join("-" + c for c in extra))
            except OSError:
                pass
    assert _find(PREFIX) == [], "cgroups left behind"


@pytest.fixture
def parent():
    """A fresh test-unique cgroup name (no leading slash); everything below
    it in every hierarchy is removed after the test."""
    name = f"{PREFIX}-{next(_seq)}"
    yield name
    for d in _find(name):
        _remove_tree(d)


# --- processes in the cgroup ----------------------------------------------------------
class Child:
    """A Python child that waits for "go" on stdin (after it was joined)."""

    def __init__(self, code: str) -> None:
        self.p = subprocess.Popen([sys.executable, "-S", "-c", "import os, sys, time\nsys.stdin.readline()\n" + code],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pid = self.p.pid

    def go(self) -> None:
        self.p.stdin.write("go\n")
        self.p.stdin.flush()

    def result(self, timeout: float = 30) -> tuple:
        out, err = self.p.communicate(timeout=timeout)
        return self.p.returncode, out, err

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


@pytest.fixture
def children():
    made = []

    def make(code: str) -> Child:
        c = Child(code)
        made.append(c)
        return c

    yield make
    for c in made:
        c.kill()


class Ticker:
    """sh printing a line every 20 ms: observes freezing from outside."""

    def __init__(self) -> None:
        self.p = subprocess.Popen(["sh", "-c", "while :; do echo x; sleep 0.02; done"], stdout=subprocess.PIPE)
        os.set_blocking(self.p.stdout.fileno(), False)
        self.pid = self.p.pid

    def ticks(self, wait: float) -> int:
        time.sleep(wait)
        try:
            data = os.read(self.p.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return 0
        return len(data)

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


OPEN_DEVICES = """
for path, mode in (("/dev/null", os.O_RDWR), ("/dev/zero", os.O_RDONLY), ("/dev/zero", os.O_WRONLY),
                   ("/dev/full", os.O_RDONLY)):
    try:
        os.close(os.open(path, mode))
        print(path, mode, "ok")
    except OSError as e:
        print(path, mode, errno.errorcode[e.errno])
"""


def opens(children, mgr) -> dict:
    c = children("import errno\n" + OPEN_DEVICES)
    mgr.join(c.pid)
    c.go()
    rc, out, err = c.result()
    assert rc == 0, err
    got = {}
    for line in out.splitlines():
        path, mode, res = line.split()
        got[(path, {str(os.O_RDWR): "rw", str(os.O_RDONLY): "r", str(os.O_WRONLY): "w"}[mode])] = res
    return got


def rd(d: str, name: str) -> str:
    with open(os.path.join(d, name)) as f:
        return f.read().strip()


def wait_for(cond, timeout: float = 10.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("State:"):
                return line.split()[1]
    return "?"


# --- pure v2 in a private mount namespace ---------------------------------------------
def in_v2(fn, *args):
    """Run fn(*args) in a forked child whose /sys/fs/cgroup is a cgroup2
    mount (private mount namespace); return its JSON-able result, or fail
    with the child's traceback."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            sc.unshare(sc.CLONE_NEWNS)
            sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
            sc.mount("cgroup2", "/sys/fs/cgroup", "cgroup2")
            out = {"ok": True, "result": fn(*args)}
        except BaseException:  # noqa: BLE001 - everything goes back to the parent
            out = {"ok": False, "error": traceback.format_exc()}
        try:
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    if not chunks:
        pytest.fail("the v2 namespace child died without a report")
    out = json.loads(b"".join(chunks))
    if not out["ok"]:
        pytest.fail("in the cgroup v2 namespace:\n" + out["error"])
    return out["result"]


def _v2_manager(path: str):
    h = cg.detect()
    assert h.mode == "v2" and h.unified == "/sys/fs/cgroup"
    return cg.new_manager(h, path, "c")


# =====================================================================================
# host (v1 / hybrid)
# =====================================================================================
@host_v1
def test_host_detection_matches_proc_self_cgroup():
    own = cg.own_cgroup()
    for ctrl, mnt in HIER.v1.items():
        assert os.path.ismount(mnt), mnt
        assert ctrl in own, ctrl
    if HIER.unified:
        assert HIER.mode == "hybrid" and "" in own
        assert os.path.exists(HIER.unified + "/cgroup.controllers")


@host_v1
def test_default_path_is_the_id_below_our_own_cgroup_like_runc(parent, children):
    path = cg.resolve_path(None, parent)
    assert path == parent
    m = cg.new_manager(HIER, path, parent)
    own = cg.own_cgroup()
    for ctrl, d in m.paths.items():
        assert d == os.path.normpath(HIER.v1[ctrl] + "/" + own[ctrl] + "/" + parent), ctrl
    m.create()
    try:
        for d in m.dirs():
            assert os.path.isdir(d)
        c = children("print(open('/proc/self/cgroup').read())")
        m.join(c.pid)
        c.go()
        _, out, _ = c.result()
        lines = dict(line.split(":", 2)[1:] for line in out.split("\n") if line)
        for ctrl in m.paths:
            key = next(k for k in lines if ctrl in k.split(","))
            assert lines[key] == os.path.join(own[ctrl], parent), (ctrl, lines[key])
        if m.unified:
            assert lines[""] == os.path.join(own[""], parent)
    finally:
        m.destroy()
    assert not any(os.path.exists(d) for d in m.dirs())
    m.destroy()  # idempotent


def _join_self_in_child(m, threads: int) -> dict:
    """fork; the child starts `threads` extra threads, calls m.join(0) and
    reports every thread's /proc/.../cgroup."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            import threading

            stop = threading.Event()
            ts = [threading.Thread(target=stop.wait) for _ in range(threads)]
            for t in ts:
                t.start()
            import ocipy.cgroups.v1 as v1mod

            used, real = [], v1mod.join_one
            v1mod.join_one = lambda d, p, name="cgroup.procs": (used.append(name), real(d, p, name))
            m.join(0)
            v1mod.join_one = real
            out = {tid: rd(f"/proc/self/task/{tid}", "cgroup") + "\n" for tid in os.listdir("/proc/self/task")}
            out["files"] = sorted(set(used))
            stop.set()
            for t in ts:
                t.join()
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


@host_v1
@pytest.mark.parametrize("threads", [0, 3])
def test_join_self_moves_every_thread(parent, threads):
    # single-threaded: through v1 `tasks` (no RCU grace period); with
    # threads: cgroup.procs, which moves the whole thread group
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    m.create()
    per_thread = _join_self_in_child(m, threads)
    files = per_thread.pop("files")
    assert "tasks" in files if threads == 0 else files == ["cgroup.procs"]
    assert len(per_thread) == threads + 1
    for text in per_thread.values():
        lines = dict(line.split(":", 2)[1:] for line in text.splitlines())
        for ctrl in m.paths:
            key = next(k for k in lines if ctrl in k.split(","))
            assert lines[key] == f"/{parent}/c", (ctrl, lines[key])
        if m.unified:
            assert lines[""] == f"/{parent}/c"
    wait_for(lambda: m.procs() == [], what="child gone")
    m.destroy()


@host_v1
def test_memory_limits_read_back_and_update_order(parent):
    if "memory" not in HIER.v1:
        pytest.skip("no v1 memory controller")
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    res = {"memory": {"limit": 64 * MB, "swap": 128 * MB, "reservation": 32 * MB, "swappiness": 10,
                      "disableOOMKiller": False, "useHierarchy": True, "kernel": 8 * MB, "kernelTCP": MB}}
    m.create(res)
    warnings = m.apply(res)
    d = m.paths["memory"]
    assert rd(d, "memory.limit_in_bytes") == str(64 * MB)
    assert rd(d, "memory.memsw.limit_in_bytes") == str(128 * MB)
    assert rd(d, "memory.soft_limit_in_bytes") == str(32 * MB)
    assert rd(d, "memory.swappiness") == "10"
    assert rd(d, "memory.use_hierarchy") == "1"
    assert len(warnings) == 2 and all("deprecated and ignored" in w for w in warnings)
    assert rd(d, "memory.kmem.limit_in_bytes") != str(8 * MB)  # really ignored
    # growing both: swap must go first (memsw >= limit at every step)
    m.apply({"memory": {"limit": 256 * MB, "swap": 512 * MB}})
    assert (rd(d, "memory.limit_in_bytes"), rd(d, "memory.memsw.limit_in_bytes")) == (str(256 * MB), str(512 * MB))
    # shrinking both: memory first
    m.apply({"memory": {"limit": 16 * MB, "swap": 16 * MB}})
    assert (rd(d, "memory.limit_in_bytes"), rd(d, "memory.memsw.limit_in_bytes")) == (str(16 * MB), str(16 * MB))
    # unlimited memory, swap unset: both unlimited
    m.apply({"memory": {"limit": -1}})
    assert int(rd(d, "memory.limit_in_bytes")) > 1 << 60 and int(rd(d, "memory.memsw.limit_in_bytes")) > 1 << 60
    # 0 means "unchanged" (runc update JSON)
    m.apply({"memory": {"limit": 0, "reservation": 0}})
    assert int(rd(d, "memory.limit_in_bytes")) > 1 << 60
    m.destroy()


@host_v1
def test_memory_limit_is_enforced_with_oom_kill(parent, children):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    res = {"memory": {"limit": 32 * MB, "swap": 32 * MB}}
    m.create(res)
    m.apply(res)
    before = m.oom_events().get("oom_kill", 0)
    c = children("x = bytearray(100 << 20)\nprint('survived')")
    m.join(c.pid)
    c.go()
    rc, out, _ = c.result()
    assert rc == -signal.SIGKILL and "survived" not in out
    assert m.oom_events()["oom_kill"] == before + 1
    peak = m.stats()["memory"]["usage"]["max"]
    assert 28 * MB < peak <= 32 * MB  # it got up to the limit
    m.destroy()


@host_v1
def test_disable_oom_killer_leaves_the_process_under_oom(parent, children):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    res = {"memory": {"limit": 32 * MB, "swap": 32 * MB, "disableOOMKiller": True}}
    m.create(res)
    m.apply(res)
    assert m.oom_events()["oom_kill_disable"] == 1
    c = children("x = bytearray(100 << 20)\nprint('survived')")
    m.join(c.pid)
    c.go()
    wait_for(lambda: m.oom_events().get("under_oom") == 1, what="under_oom 1")
    assert c.p.poll() is None  # stuck, not killed
    m.kill_all(signal.SIGKILL)
    rc, _, _ = c.result()
    assert rc == -signal.SIGKILL
    m.destroy()


@host_v1
def test_memory_limit_below_usage_fails_clearly(parent, children):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    m.create()
    c = children("x = bytearray(40 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\nprint('ready', flush=True)\n"
                 "sys.stdin.readline()")
    m.join(c.pid)
    c.go()
    assert c.p.stdout.readline().strip() == "ready"
    usage = int(rd(m.paths["memory"], "memory.usage_in_bytes"))
    assert usage > 30 * MB
    with pytest.raises(CgroupError, match=r"memory.limit: rejecting memory limit .* \(memory.checkBeforeUpdate\)"):
        m.apply({"memory": {"limit": 20 * MB, "checkBeforeUpdate": True}})
    assert int(rd(m.paths["memory"], "memory.limit_in_bytes")) > 1 << 60  # nothing written
    # without the check v1 refuses by itself (no swap on this host: EBUSY)
    if not rd("/proc", "swaps").count("\n"):  # no swap on this host
        with pytest.raises(CgroupError, match=r"^linux.resources.memory.limit: cannot set 1048576: below the "
                                              r"current usage \d+ \(peak \d+\) of cgroup "):
            m.apply({"memory": {"limit": MB}})
    c.kill()
    m.destroy()


@host_v1
def test_cpu_resources(parent):
    if "cpu" not in HIER.v1:
        pytest.skip("no v1 cpu controller")
    # RT time is handed down the tree: give the test parent some first
    top = os.path.join(HIER.v1["cpu"], parent)
    os.makedirs(top)
    with open(top + "/cpu.rt_runtime_us", "w") as f:
        f.write("20000")
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    res = {"cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 10000, "realtimeRuntime": 10000,
                   "realtimePeriod": 1000000, "cpus": "0", "mems": "0"}}
    m.create(res)
    m.apply(res)
    d = m.paths["cpu"]
    assert rd(d, "cpu.shares") == "512"
    assert rd(d, "cpu.cfs_quota_us") == "50000"
    assert rd(d, "cpu.cfs_period_us") == "100000"
    assert rd(d, "cpu.cfs_burst_us") == "10000"
    assert rd(d, "cpu.rt_runtime_us") == "10000"
    assert rd(d, "cpu.rt_period_us") == "1000000"
    assert rd(m.paths["cpuset"], "cpuset.cpus") == "0"
    assert rd(m.paths["cpuset"], "cpuset.mems") == "0"
    # a smaller period with a quota: the kernel refuses the period first
    # (old quota/new period too big), the retry after the quota succeeds
    # (and the burst must not exceed the new quota: it goes first, as runc)
    m.apply({"cpu": {"quota": 5000, "period": 10000, "burst": 1000}})
    assert (rd(d, "cpu.cfs_quota_us"), rd(d, "cpu.cfs_period_us"), rd(d, "cpu.cfs_burst_us")) == \
        ("5000", "10000", "1000")
    m.apply({"cpu": {"quota": -1}})
    assert rd(d, "cpu.cfs_quota_us") == "-1"
    if os.path.exists(d + "/cpu.idle"):
        m.apply({"cpu": {"idle": 1}})
        assert rd(d, "cpu.idle") == "1"
        m.apply({"cpu": {"idle": 0}})
        assert rd(d, "cpu.idle") == "0"
    with pytest.raises(CgroupError, match=r"^linux.resources.cpu.shares: 1 is out of range: the minimum "
                                          r"allowed cpu-shares is 2$"):
        m.apply({"cpu": {"shares": 1}})
    with pytest.raises(CgroupError, match=r"^linux.resources.cpu.realtimeRuntime: 50000 us is more than the "
                                          r"parent cgroup .* can give \(its cpu.rt_runtime_us is 20000"):
        m.apply({"cpu": {"realtimeRuntime": 50000}})
    with pytest.raises(CgroupError, match=r"^linux.resources.cpu.cpus: cgroup .*/cpuset.cpus: write 99: "):
        m.apply({"cpu": {"cpus": "99"}})
    m.destroy()


@host_v1
def test_cpu_quota_is_observed(parent, children):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    res = {"cpu": {"quota": 10000, "period": 100000}}  # 10% of one CPU
    m.create(res)
    m.apply(res)
    c = children("t = time.monotonic()\nwhile time.monotonic() - t < 1.0: pass\n"
                 "print(time.process_time())")
    m.join(c.pid)
    c.go()
    rc, out, _ = c.result()
    assert rc == 0 and float(out) < 0.4, out  # ~0.1 s of CPU in 1 s of wall time
    st = m.stats()
    assert st["cpu"]["throttling"]["throttledPeriods"] > 0 and st["cpu"]["usage"]["total"] > 0
    m.destroy()


@host_v1
def test_pids_limit_is_enforced(parent, children):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    res = {"pids": {"limit": 3}}
    m.create(res)
    m.apply(res)
    assert rd(m.paths["pids"], "pids.max") == "3"
    c = children("n = 0\nfor i in range(5):\n    try:\n        pid = os.fork()\n    except OSError as e:\n"
                 "        print('fork', e.errno); break\n    if pid == 0:\n        time.sleep(30); os._exit(0)\n"
                 "    n += 1\nprint('forked', n, flush=True)\nsys.stdin.readline()")
    m.join(c.pid)
    c.go()
    assert c.p.stdout.readline().strip() == f"fork {errno.EAGAIN}"
    assert c.p.stdout.readline().strip() == "forked 2"  # itself + 2 = 3
    assert len(m.procs()) == 3
    st = m.stats()["pids"]
    assert st == {"current": 3, "limit": 3}
    m.kill_all(signal.SIGKILL)
    c.result()
    wait_for(lambda: m.procs() == [], what="processes gone")
    for limit, want in ((-1, "max"), (0, "0")):  # the spec: 0 is a real limit
        m.apply({"pids": {"limit": limit}})
        assert rd(m.paths["pids"], "pids.max") == want
    m.destroy()


@host_v1
def test_devices_v1_rules_and_minimal_update(parent, children):
    if "devices" not in HIER.v1:
        pytest.skip("no v1 devices controller")
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
             {"allow": True, "type": "c", "access": "m"}]
    res = {"devices": rules}
    m.create(res)
    m.apply(res)
    d = m.paths["devices"]
    assert rd(d, "devices.list").splitlines() == ["c *:* m", "c 1:3 rwm"]
    got = opens(children, m)
    assert got[("/dev/null", "rw")] == "ok"
    assert got[("/dev/zero", "r")] == "EPERM" and got[("/dev/full", "r")] == "EPERM"
    # update: /dev/zero read-only. A long-lived process keeps /dev/null
    # working throughout (no deny-all moment: only the difference is written)
    keeper = children("while True:\n    os.close(os.open('/dev/null', os.O_RDWR))\n    time.sleep(0.0005)\n")
    m.join(keeper.pid)
    keeper.go()
    time.sleep(0.1)
    m.apply({"devices": rules + [{"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"}]})
    time.sleep(0.1)
    assert keeper.p.poll() is None, keeper.p.stderr.read()
    keeper.kill()
    assert rd(d, "devices.list").splitlines() == ["c *:* m", "c 1:3 rwm", "c 1:5 r"]
    got = opens(children, m)
    assert got[("/dev/zero", "r")] == "ok" and got[("/dev/zero", "w")] == "EPERM"
    # privileged: back to allow-all
    m.apply({"devices": [{"allow": True, "access": "rwm"}]})
    assert rd(d, "devices.list") == "a *:* rwm"
    with pytest.raises(CgroupError, match=r"devices\[2\]: deny c 1:3 rwm cannot punch a hole"):
        m.apply({"devices": [{"allow": False}, {"allow": True, "type": "c", "major": 1},
                             {"allow": False, "type": "c", "major": 1, "minor": 3}]})
    m.destroy()


@host_v1
def test_hugetlb_limits_where_the_host_has_them(parent):
    sizes = [s for s in ("2MB", "1GB") if os.path.isdir(f"/sys/kernel/mm/hugepages/hugepages-"
                                                         f"{2048 if s == '2MB' else 1048576}kB")]
    if not sizes:
        pytest.skip("no huge pages on this host")
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    res = {"hugepageLimits": [{"pageSize": s, "limit": 4 * MB if s == "2MB" else 1 << 30} for s in sizes]}
    m.create(res)
    m.apply(res)
    if "hugetlb" in HIER.v1:
        d, suffix = m.paths["hugetlb"], "limit_in_bytes"
    else:
        # hybrid host with hugetlb bound to cgroup2 (runc 1.1.5 fails here:
        # "cannot set hugetlb limit: container could not join or create cgroup")
        assert "hugetlb" in HIER.controllers
        d, suffix = m.unified, "max"
        assert "hugetlb" in rd(d, "cgroup.controllers").split()
    for h in res["hugepageLimits"]:
        assert rd(d, f"hugetlb.{h['pageSize']}.{suffix}") == str(h["limit"])
        rsvd = f"hugetlb.{h['pageSize']}.rsvd.{suffix}"
        if os.path.exists(os.path.join(d, rsvd)):
            assert rd(d, rsvd) == str(h["limit"])  # reservations limited too (the spec's default)
    assert set(m.stats()["hugetlb"]) >= set(sizes)
    with pytest.raises(CgroupError, match=r"^linux.resources.hugepageLimits\[0\].pageSize: no 3MB huge pages "
                                          r"on this host .*sizes: "):
        m.apply({"hugepageLimits": [{"pageSize": "3MB", "limit": 0}]})
    m.destroy()


def _block_device() -> tuple:
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "zram", "ram")):
            continue
        major, minor = rd("/sys/block", f"{name}/dev").split(":")
        return int(major), int(minor)
    pytest.skip("no block device")


@host_v1
def test_blkio_throttles_and_weights(parent):
    major, minor = _block_device()
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    dev = {"major": major, "minor": minor}
    res = {"blockIO": {"throttleReadBpsDevice": [dict(dev, rate=1 * MB)],
                       "throttleWriteBpsDevice": [dict(dev, rate=2 * MB)],
                       "throttleReadIOPSDevice": [dict(dev, rate=100)],
                       "throttleWriteIOPSDevice": [dict(dev, rate=200)]}}
    m.create(res)
    m.apply(res)
    d = m.paths["blkio"]
    key = f"{major}:{minor}"
    assert rd(d, "blkio.throttle.read_bps_device") == f"{key} {MB}"
    assert rd(d, "blkio.throttle.write_bps_device") == f"{key} {2 * MB}"
    assert rd(d, "blkio.throttle.read_iops_device") == f"{key} 100"
    assert rd(d, "blkio.throttle.write_iops_device") == f"{key} 200"
    # rate 0 removes a throttle
    m.apply({"blockIO": {"throttleReadBpsDevice": [dict(dev, rate=0)]}})
    assert rd(d, "blkio.throttle.read_bps_device") == ""
    # weights: only where a proportional scheduler offers them, else an error
    weight = next((f for f in ("blkio.weight", "blkio.bfq.weight") if os.path.exists(f"{d}/{f}")), None)
    if weight:
        m.apply({"blockIO": {"weight": 300}})
        assert rd(d, weight).split()[-1] == "300"
    else:
        with pytest.raises(CgroupError, match=r"^linux.resources.blockIO.weight: not supported on this host"):
            m.apply({"blockIO": {"weight": 300}})
    if not os.path.exists(f"{d}/blkio.leaf_weight"):
        with pytest.raises(CgroupError, match=r"^linux.resources.blockIO.leafWeight: not supported by this kernel"):
            m.apply({"blockIO": {"leafWeight": 300}})
    m.destroy()


@host_v1
def test_unavailable_controllers_fail_before_anything_is_created(parent):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    cases = []
    if "net_cls" not in HIER.v1:
        cases.append(({"network": {"classID": 0x100001}},
                      "network.classID: the net_cls controller is not available on this host"))
    if "net_prio" not in HIER.v1:
        cases.append(({"network": {"priorities": [{"name": "lo", "priority": 1}]}},
                      "network.priorities: the net_prio controller is not available on this host"))
    if "rdma" not in HIER.v1 and "rdma" not in HIER.controllers:
        cases.append(({"rdma": {"mlx5_0": {"hcaHandles": 1}}}, "rdma: the rdma controller is not available"))
    if HIER.mode == "v1":
        cases.append(({"unified": {"memory.max": "1"}}, "unified: needs cgroup v2"))
    if not cases:
        pytest.skip("every controller is available here")
    for res, msg in cases:
        with pytest.raises(CgroupError) as e:
            m.create(res)
        assert str(e.value) == "linux.resources." + msg or str(e.value).startswith("linux.resources." + msg)
        assert _find(parent) == []  # refused before any mkdir
        with pytest.raises(CgroupError, match="^linux.resources." + msg.split(":")[0]):
            m.apply(res)


@host_v1
def test_unified_on_a_hybrid_host(parent):
    if HIER.mode != "hybrid":
        pytest.skip("not a hybrid host")
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    m.create()
    m.apply({"unified": {"cgroup.max.descendants": "7"}})  # a core file: no controller needed
    assert rd(m.unified, "cgroup.max.descendants") == "7"
    if "hugetlb" in HIER.controllers:
        m.apply({"unified": {"hugetlb.2MB.max": str(2 * MB)}})
        assert rd(m.unified, "hugetlb.2MB.max") == str(2 * MB)
    missing = next(c for c in ("memory", "pids", "io", "cpu") if c not in HIER.controllers)
    with pytest.raises(CgroupError, match=rf"^linux.resources.unified.{missing}.max: the {missing} controller is not "
                                          "available on this host"):
        m.apply({"unified": {f"{missing}.max": "1"}})
    m.destroy()


@host_v1
def test_join_procs_freeze_thaw_kill_stats_destroy(parent):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    m.create()
    t = Ticker()
    try:
        m.join(t.pid)
        assert t.pid in m.procs()
        assert t.ticks(0.2) > 0
        m.freeze()
        assert m.frozen()
        if "freezer" in m.paths:
            assert rd(m.paths["freezer"], "freezer.state") == "FROZEN"
            assert proc_state(t.pid) == "D"  # frozen tasks show as uninterruptible
        t.ticks(0.05)
        assert t.ticks(0.3) == 0, "a frozen process made progress"
        m.thaw()
        assert not m.frozen()
        assert t.ticks(0.3) > 0
        # the runtime's own process is not in there
        assert os.getpid() not in m.procs()
        st = m.stats()
        assert st["cpu"]["usage"]["total"] > 0
        assert set(st) == {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"}
        # destroy while a process is inside: a clear error after retries
        with pytest.raises(CgroupError, match=r"rmdir: Device or resource busy \(processes still in it: "):
            m.destroy()
        # SIGTERM while paused: delivered on resume, the container stays paused
        m.freeze()
        sent = m.kill_all(signal.SIGTERM)
        assert t.pid in sent
        time.sleep(0.2)
        assert t.p.poll() is None and m.frozen()
        m.thaw()
        assert wait_for(lambda: t.p.poll() is not None, what="ticker gone") and t.p.returncode == -signal.SIGTERM
    finally:
        t.kill()
    wait_for(lambda: m.procs() == [], what="empty cgroup")
    m.destroy()
    assert not any(os.path.exists(d) for d in m.dirs())


@host_v1
def test_kill_all_sigkill(parent):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    m.create()
    ts = [Ticker(), Ticker()]
    try:
        for t in ts:
            m.join(t.pid)
        procs = m.procs()
        assert all(t.pid in procs for t in ts)
        m.freeze()  # paused: SIGKILL must still get them
        sent = m.kill_all(signal.SIGKILL)
        if m.unified:
            assert sent == []  # cgroup.kill did it
        for t in ts:
            t.p.wait(timeout=10)
            assert t.p.returncode == -signal.SIGKILL
        wait_for(lambda: m.procs() == [], what="empty cgroup")
        assert not m.frozen()
    finally:
        for t in ts:
            t.kill()
    m.destroy()


@host_v1
def test_kill_all_without_cgroup_kill_signals_each_process(parent):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    m.create()
    st = m.to_state()
    st.pop("unified", None)  # a v1-only view of it: no cgroup.kill
    v1only = cg.from_state(json.loads(json.dumps(st)))
    t = Ticker()
    try:
        m.join(t.pid)
        sent = v1only.kill_all(signal.SIGKILL)
        assert t.pid in sent
        t.p.wait(timeout=10)
        assert t.p.returncode == -signal.SIGKILL
        assert not v1only.frozen()  # frozen for the signalling, thawed after
    finally:
        t.kill()
    wait_for(lambda: m.procs() == [], what="empty cgroup")
    m.destroy()


@host_v1
def test_state_roundtrip_finds_the_cgroups_again(parent):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    m.create()
    t = Ticker()
    try:
        m.join(t.pid)
        again = cg.from_state(json.loads(json.dumps(m.to_state())))
        assert again.dirs() == m.dirs() and t.pid in again.procs()
        again.freeze()
        assert m.frozen()
        again.thaw()
        with pytest.raises(CgroupError, match="already has processes"):
            again.check_new()
    finally:
        t.kill()
    wait_for(lambda: m.procs() == [], what="empty cgroup")
    m.check_new()
    m.destroy()
    cg.from_state(m.to_state()).destroy()
    m.check_new()  # a cgroup that does not exist is fine too


@host_v1
def test_nested_cgroups_are_listed_and_removed(parent):
    m = cg.new_manager(HIER, f"/{parent}/c", "c")
    m.create()
    t = Ticker()
    try:
        m.join(t.pid)
        # as a container with its own cgroup namespace may do: sub-cgroups,
        # and a process moved down in one hierarchy
        for d in m.dirs():
            os.makedirs(d + "/inner/deeper")
        with open(m.procs_dir() + "/inner/deeper/cgroup.procs", "w") as f:
            f.write(str(t.pid))
        assert t.pid in m.procs()
        m.kill_all(signal.SIGKILL)
        t.p.wait(timeout=10)
    finally:
        t.kill()
    wait_for(lambda: m.procs() == [], what="empty cgroup")
    m.destroy()
    assert not any(os.path.exists(d) for d in m.dirs())


@host_v1
def test_stats_equal_runc_on_runcs_own_cgroup(parent, runc, bundle):
    """Differential: runc 1.1.5 runs a container; our manager, pointed at the
    same cgroupsPath, reads the same cgroups: `runc events --stats` and
    stats() must have the same shape and the same stable values, and
    procs()/frozen() must agree with `runc ps` and `runc pause`."""
    path = f"/{parent}/rc"

    def edit(cfg):
        cfg["linux"]["cgroupsPath"] = path
        cfg["linux"]["resources"] = dict(cfg["linux"].get("resources") or {}, memory={"limit": 64 * MB, "swap": 128 * MB},
                                         cpu={"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
                                         pids={"limit": 50})

    b = bundle(("sleep", "1000"), edit)
    cid = parent
    with open(os.path.join(b, "runc.log"), "w") as log:
        r = subprocess.run(runc.cmd("run", "-d", "--bundle", b, cid), stdin=subprocess.DEVNULL, stdout=log,
                           stderr=log, timeout=60, check=False)
    assert r.returncode == 0, rd(b, "runc.log")
    try:
        m = cg.new_manager(HIER, path, cid)
        # runc first: its counters can only have grown by the time we read
        theirs = json.loads(runc("events", "--stats", cid, check=True).stdout)["data"]
        ours = m.stats()

        def shape(x):
            if isinstance(x, dict):
                return {k: shape(v) for k, v in x.items() if k != "raw"}
            return type(x).__name__

        def same_shape(a, b, where=""):
            # equal, except that a counter omitted at zero (Go omitempty) in
            # runc's reading may have become non-zero by ours
            counters = {"periods", "throttledPeriods", "throttledTime", "usage", "max", "total", "cache"}
            if not isinstance(a, dict) or not isinstance(b, dict):
                assert a == b, where
                return
            for k in set(a) | set(b):
                if k not in a:
                    assert k in counters, f"{where}.{k} only in ours"
                    continue
                assert k in b, f"{where}.{k} only in runc's"
                same_shape(a[k], b[k], f"{where}.{k}")

        same_shape(shape(theirs), shape(ours))
        for key in ("cpuset", "pids"):
            assert ours[key] == theirs[key]
        for key in ("usage", "swap"):
            assert ours["memory"][key]["limit"] == theirs["memory"][key]["limit"]
        assert set(ours["memory"]["raw"]) == set(theirs["memory"]["raw"])
        assert ours["cpu"]["usage"]["total"] > 0 and theirs["cpu"]["usage"]["total"] > 0
        pids = [p["pid"] if isinstance(p, dict) else p
                for p in json.loads(runc("ps", "--format", "json", cid, check=True).stdout)]
        assert m.procs() == sorted(pids)
        runc("pause", cid, check=True)
        assert m.frozen()
        runc("resume", cid, check=True)
        assert not m.frozen()
        m.freeze()
        assert runc.state(cid)["status"] == "paused"
        m.thaw()
        assert runc.state(cid)["status"] == "running"
    finally:
        runc("delete", "--force", cid)


# =====================================================================================
# pure cgroup v2 (private mount namespace)
# =====================================================================================
def _v2_missing_controllers(parent):
    m = _v2_manager(f"/{parent}/c")
    out = {}
    for name, res in (("memory", {"memory": {"limit": MB}}), ("pids", {"pids": {"limit": 1}}),
                      ("cpu", {"cpu": {"shares": 100}}), ("cpuset", {"cpu": {"cpus": "0"}}),
                      ("io", {"blockIO": {"weight": 100}}), ("rt", {"cpu": {"realtimeRuntime": 1}}),
                      ("swappiness", {"memory": {"swappiness": 1}}), ("net", {"network": {"classID": 1}})):
        for op in ("create", "apply"):
            try:
                getattr(m, op)(res)
                out[f"{name}/{op}"] = "no error"
            except CgroupError as e:
                out[f"{name}/{op}"] = str(e)
        out[name + "/created"] = os.path.exists(m.dir)
    out["controllers"] = rd("/sys/fs/cgroup", "cgroup.controllers").split()
    return out


@can_v2
def test_v2_limits_of_absent_controllers_fail_clearly(parent):
    out = in_v2(_v2_missing_controllers, parent)
    offers = " ".join(sorted(out["controllers"])) or "none"
    for name, what in (("memory", "memory.limit"), ("pids", "pids.limit"), ("cpu", "cpu.shares"),
                       ("cpuset", "cpu.cpus"), ("io", "blockIO.weight")):
        if name in out["controllers"]:
            continue
        assert out[f"{name}/create"] == (f"linux.resources.{what}: the {name} controller is not available on "
                                         f"this host (cgroup v2 at /sys/fs/cgroup offers: {offers})")
        assert out[name + "/created"] is False  # nothing was created
        assert out[f"{name}/apply"].startswith(f"linux.resources.{what}: ")
    assert out["rt/create"] == ("linux.resources.cpu.realtimeRuntime: not supported on cgroup v2 "
                                "(no realtime CPU bandwidth control)")
    assert out["swappiness/create"].startswith("linux.resources.memory.swappiness: not supported on cgroup v2")
    assert out["net/create"].startswith("linux.resources.network.classID: not supported on cgroup v2")


def _v2_hugetlb_unified_and_path_rules(parent):
    m = _v2_manager(f"/{parent}/a/b")
    res = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MB}]}
    m.create(res)
    warnings = m.apply(res)
    out = {"warnings": warnings,
           "max": rd(m.dir, "hugetlb.2MB.max"),
           "rsvd": rd(m.dir, "hugetlb.2MB.rsvd.max") if os.path.exists(m.dir + "/hugetlb.2MB.rsvd.max") else None,
           "subtree": [rd(d, "cgroup.subtree_control") for d in
                       ("/sys/fs/cgroup", f"/sys/fs/cgroup/{parent}", f"/sys/fs/cgroup/{parent}/a")],
           "leaf_controllers": rd(m.dir, "cgroup.controllers")}
    m.apply({"unified": {"hugetlb.2MB.max": str(2 * MB), "cgroup.max.depth": "3"}})
    out["unified"] = [rd(m.dir, "hugetlb.2MB.max"), rd(m.dir, "cgroup.max.depth")]
    errors = {}
    for key in ("memory.max", "pids.max", "nonsense", "../x", "cgroup.nope"):
        try:
            m.apply({"unified": {key: "1"}})
            errors[key] = "no error"
        except CgroupError as e:
            errors[key] = str(e)
    out["errors"] = errors
    # relative paths: below the parent of our own cgroup ("/" here)
    rel = cg.new_manager(cg.detect(), cg.resolve_path(f"{parent}/rel", "x"), "x")
    out["relative"] = rel.dir
    m.destroy()
    out["gone"] = not os.path.exists(m.dir)
    return out


@can_v2
def test_v2_hugetlb_controllers_along_the_path_and_unified(parent):
    if "hugetlb" not in HIER.controllers:
        pytest.skip("hugetlb is not on cgroup2 here")
    out = in_v2(_v2_hugetlb_unified_and_path_rules, parent)
    assert out["warnings"] == []
    assert out["max"] == str(4 * MB)
    assert out["rsvd"] in (None, str(4 * MB))
    assert all("hugetlb" in s.split() for s in out["subtree"]), out["subtree"]
    assert "hugetlb" in out["leaf_controllers"].split()
    assert out["unified"] == [str(2 * MB), "3"]
    e = out["errors"]
    if "memory" not in HIER.controllers:
        assert e["memory.max"].startswith("linux.resources.unified.memory.max: the memory controller is not "
                                          "available on this host")
    assert e["nonsense"].startswith("linux.resources.unified.nonsense: no such file in cgroup ")
    assert e["../x"] == "linux.resources.unified.../x: not a cgroup file name"
    assert e["cgroup.nope"].startswith("linux.resources.unified.cgroup.nope: no such file")
    assert out["relative"] == f"/sys/fs/cgroup/{parent}/rel"
    assert out["gone"]


def _v2_devices(parent):
    from ocipy.cgroups import ebpf

    m = _v2_manager(f"/{parent}/c")
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    m.create({"devices": rules})
    m.apply({"devices": rules})
    out = {}
    made = []

    def children(code):
        c = Child(code)
        made.append(c)
        return c

    def attached():
        fd = os.open(m.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            return len(ebpf.query(fd))
        finally:
            os.close(fd)

    try:
        out["first"] = {f"{k[0]} {k[1]}": v for k, v in opens(children, m).items()}
        out["progs1"] = attached()
        m.apply({"devices": rules + [{"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"}]})
        out["second"] = {f"{k[0]} {k[1]}": v for k, v in opens(children, m).items()}
        out["progs2"] = attached()  # replaced, not stacked
        m.apply({"devices": [{"allow": True, "access": "rwm"}]})
        out["third"] = {f"{k[0]} {k[1]}": v for k, v in opens(children, m).items()}
        out["progs3"] = attached()
        # deny-list: everything but writes to /dev/zero; "rw" overlaps the
        # denied "w" and is refused, as the v1 kernel does
        m.apply({"devices": [{"allow": True, "access": "rwm"},
                             {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "w"}]})
        out["fourth"] = {f"{k[0]} {k[1]}": v for k, v in opens(children, m).items()}
    finally:
        for c in made:
            c.kill()
    m.destroy()
    return out


@can_v2
def test_v2_devices_ebpf_program_is_enforced_and_replaced(parent):
    out = in_v2(_v2_devices, parent)
    assert out["first"] == {"/dev/null rw": "ok", "/dev/zero r": "EPERM", "/dev/zero w": "EPERM",
                            "/dev/full r": "EPERM"}
    assert out["progs1"] == 1
    assert out["second"] == {"/dev/null rw": "ok", "/dev/zero r": "ok", "/dev/zero w": "EPERM",
                             "/dev/full r": "EPERM"}
    assert out["progs2"] == 1
    assert set(out["third"].values()) == {"ok"} and out["progs3"] == 0
    assert out["fourth"] == {"/dev/null rw": "ok", "/dev/zero r": "ok", "/dev/zero w": "EPERM",
                             "/dev/full r": "ok"}


def _v2_lifecycle(parent):
    m = _v2_manager(f"/{parent}/c")
    m.create()
    out = {}
    t = Ticker()
    try:
        m.join(t.pid)
        out["procs"] = t.pid in m.procs()  # with, at times, its `sleep` child
        out["ticks_before"] = t.ticks(0.2)
        m.freeze()
        out["frozen"] = m.frozen()
        out["events"] = rd(m.dir, "cgroup.events")
        t.ticks(0.05)
        out["ticks_frozen"] = t.ticks(0.3)
        m.thaw()
        out["thawed"] = not m.frozen()
        out["ticks_after"] = t.ticks(0.3)
        st = m.stats()
        out["cpu_total"] = st["cpu"]["usage"].get("total", 0)
        out["stats_keys"] = sorted(st)
        m.freeze()
        out["term_sent"] = t.pid in m.kill_all(signal.SIGTERM)
        time.sleep(0.2)
        # v2 lets fatal signals through the freezer (unlike v1); either way
        # the cgroup stays paused
        out["still_paused"] = m.frozen()
        m.thaw()
        t.p.wait(timeout=10)
        out["term_rc"] = t.p.returncode
        t2 = Ticker()
        try:
            m.join(t2.pid)
            m.freeze()
            out["kill_sent"] = m.kill_all(signal.SIGKILL)  # cgroup.kill: [] and no thaw needed
            t2.p.wait(timeout=10)
            out["kill_rc"] = t2.p.returncode
        finally:
            t2.kill()
        wait_for(lambda: m.procs() == [], what="empty cgroup")
        m.thaw()
        m.check_new()
    finally:
        t.kill()
    m.destroy()
    m.destroy()
    out["gone"] = not os.path.exists(m.dir)
    return out


@can_v2
def test_v2_join_freeze_kill_stats_destroy(parent):
    out = in_v2(_v2_lifecycle, parent)
    assert out["procs"] and out["ticks_before"] > 0
    assert out["frozen"] and "frozen 1" in out["events"]
    assert out["ticks_frozen"] == 0 and out["thawed"] and out["ticks_after"] > 0
    assert out["cpu_total"] > 0
    assert out["stats_keys"] == ["blkio", "cpu", "cpuset", "hugetlb", "intel_rdt", "memory", "network_interfaces",
                                 "pids"]
    assert out["term_sent"] and out["still_paused"] and out["term_rc"] == -signal.SIGTERM
    assert out["kill_sent"] == [] and out["kill_rc"] == -signal.SIGKILL
    assert out["gone"]


def _v2_state(parent):
    m = _v2_manager(f"/{parent}/c")
    m.create()
    st = json.loads(json.dumps(m.to_state()))
    again = cg.from_state(st)
    t = Ticker()
    try:
        again.join(t.pid)
        ok = t.pid in m.procs()  # with, at times, its `sleep` child
        try:
            m.check_new()
            refused = False
        except CgroupError as e:
            refused = "already has processes" in str(e)
    finally:
        t.kill()
    wait_for(lambda: m.procs() == [], what="empty cgroup")
    again.destroy()
    return {"state": st, "ok": ok, "refused": refused, "gone": not os.path.exists(m.dir)}


@can_v2
def test_v2_state_roundtrip(parent):
    out = in_v2(_v2_state, parent)
    assert out["state"] == {"mode": "v2", "path": f"/{parent}/c", "unified": f"/sys/fs/cgroup/{parent}/c",
                            "unifiedMount": "/sys/fs/cgroup"}
    assert out["ok"] and out["refused"] and out["gone"]


def _v2_verifier_accepts(parent, rulesets):
    from ocipy.cgroups import ebpf

    ok = 0
    for rules in rulesets:
        code, _ = ebpf.program(rules)
        fd = ebpf.load(code)
        os.close(fd)
        ok += 1
    return ok


@can_v2
def test_v2_kernel_verifier_accepts_generated_programs(parent):
    import random

    rng = random.Random(7)
    sets = []
    for _ in range(30):
        rules = [{"allow": False, "access": "rwm"}]
        for _ in range(rng.randint(0, 12)):
            r = {"allow": True, "type": rng.choice("cb"), "access": rng.choice(["r", "rw", "rwm", "m", "w"])}
            if rng.random() < 0.8:
                r["major"] = rng.randint(0, 300)
            if rng.random() < 0.6:
                r["minor"] = rng.randint(0, 300)
            rules.append(r)
        sets.append(rules)
    sets.append([{"allow": True}, {"allow": False, "type": "b", "major": 8, "access": "w"}])
    assert in_v2(_v2_verifier_accepts, parent, sets) == len(sets)
