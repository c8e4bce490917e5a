"""Issue 3 at the CLI level: the cgroups of real containers on this host
(cgroup v1, or hybrid: v1 controllers plus cgroup2 at /sys/fs/cgroup/unified).

Every limit is read back from cgroupfs on the host, at the directories the
container's init really sits in (/proc/<init>/cgroup, mapped through this
process's cgroup mounts), and observed from inside the container where it
can be: the container's own view of /sys/fs/cgroup (runc's default spec
mounts it), its fork failing at pids.max, its OOM kill, its frozen state.

Containers write into a bind-mounted host directory (/out); the CLI's stdio
goes to files, never pipes (a container inherits create's stdio).

No test leaves a cgroup behind: every container id (hence every default
cgroup name, `<id>-<hash of --root>`) and every cgroupsPath used here holds
TOKEN; after each test (once the `runtime` fixture has deleted what is left)
and once more at the end of the module, `find /sys/fs/cgroup` must find no
directory with TOKEN in its name. Directories of concurrent test runs (other
names) are ignored: they are not ours to judge.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import warnings

import pytest

from conftest import REPO, Runtime, _env

TOKEN = f"ocgcli{os.getpid()}"
MB = 1 << 20
CGROOT = "/sys/fs/cgroup"


# --- helpers -------------------------------------------------------------------------
def poll(fn, timeout: float = 10, interval: float = 0.02):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


def cid(name: str) -> str:
    return f"{TOKEN}-{name}"


def call(rt: Runtime, *args, timeout: float = 30, stdin=None) -> subprocess.CompletedProcess:
    """Run the CLI with stdout/stderr on files (a container inherits them)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(rt.cmd(*args), stdin=stdin if stdin is not None else subprocess.DEVNULL,
                           stdout=out, stderr=err, env=_env(), cwd=REPO, timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())


def err_lines(r: subprocess.CompletedProcess) -> list[str]:
    """stderr lines that are not warnings."""
    return [ln for ln in r.stderr.splitlines() if ln.strip() and "warning" not in ln.lower()]


def one_error(r: subprocess.CompletedProcess, *words: str) -> str:
    """A failed command: non-zero exit, exactly one error line (no
    traceback) naming every one of `words`; returns that line."""
    assert r.returncode != 0, f"expected a failure, got rc 0\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    lines = err_lines(r)
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


def proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def status(rt: Runtime, c: str) -> str:
    r = rt("state", c)
    return json.loads(r.stdout)["status"] if r.returncode == 0 else f"<state failed: {r.stderr.strip()}>"


def wait_status(rt: Runtime, c: str, want: str, timeout: float = 10) -> str:
    got = poll(lambda: status(rt, c) == want, timeout)
    return want if got else status(rt, c)


def rd(path) -> str:
    with open(path) as f:
        return f.read().strip()


def rd_int(path) -> int:
    return int(rd(path))


def kv(path) -> dict:
    out = {}
    for line in rd(path).splitlines():
        k, _, v = line.partition(" ")
        out[k] = v.strip()
    return out


def _cgroup_mounts() -> list[tuple[str, set]]:
    """(mountpoint, controllers) of every cgroup mount of this process's
    mount namespace; cgroup2 mounts get {""}."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-", 6)
            fstype = fields[sep + 1]
            if fstype == "cgroup2":
                out.append((fields[4], {""}))
            elif fstype == "cgroup":
                out.append((fields[4], set(fields[sep + 3].split(","))))
    return out


def host_cgroups(pid: int) -> dict:
    """controller -> the host directory of process `pid`'s cgroup, for every
    hierarchy mounted here: "memory", "cpu", ..., "name=systemd", and "" for
    the cgroup2 (unified) hierarchy. Co-mounted controllers share one."""
    mounts = _cgroup_mounts()
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            names = set(ctrls.split(",")) if ctrls else {""}
            for mnt, opts in mounts:
                if names <= opts:
                    d = mnt.rstrip("/") + path if path != "/" else mnt
                    for n in names:
                        out[n] = d
                    break
    return out


def container_dirs(pid: int) -> list[str]:
    """The container's own cgroup directories (every hierarchy)."""
    return own_dirs(host_cgroups(pid))


def own_dirs(cg: dict) -> list[str]:
    """Of a container's host_cgroups(), the directories that are not the
    runtime's own (the unified hierarchy of a hybrid host may be shared)."""
    mine = host_cgroups(os.getpid())
    return sorted({d for ctrl, d in cg.items() if d != mine.get(ctrl)})


def procs(d: str) -> set[int]:
    return {int(x) for x in rd(os.path.join(d, "cgroup.procs")).split()}


def token_dirs() -> list[str]:
    r = subprocess.run(["find", CGROOT, "-maxdepth", "7", "-type", "d", "-name", f"*{TOKEN}*"],
                       capture_output=True, text=True)
    return sorted(r.stdout.split())


def _scrub(dirs: list[str]) -> None:
    """Best effort: thaw, kill and rmdir (bottom-up, never rm -r) a leak so
    that one failing test does not poison the next."""
    for top in sorted(dirs, key=len):
        for _ in range(50):
            if not os.path.isdir(top):
                break
            subs = [r for r, _, _ in os.walk(top, topdown=False)]
            for d in subs:
                for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                    try:
                        with open(os.path.join(d, name), "w") as f:
                            f.write(value)
                    except OSError:
                        pass
                try:
                    for p in procs(d):
                        os.kill(p, signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            for d in subs:
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            time.sleep(0.02)


@pytest.fixture(scope="module", autouse=True)
def no_cgroup_left_by_the_module(tmp_path_factory):
    """The brief's check: no directory newer than a marker taken before the
    first test holds our TOKEN once every test is done."""
    marker = tmp_path_factory.mktemp("cgmarker") / "marker"
    marker.write_text("")
    time.sleep(0.01)
    yield
    r = subprocess.run(["find", CGROOT, "-maxdepth", "7", "-type", "d", "-newer", str(marker)],
                       capture_output=True, text=True)
    left = [d for d in r.stdout.split() if TOKEN in d]
    _scrub(left)
    assert not left, f"cgroups left behind by test_cgroups_cli.py: {left}"


@pytest.fixture(autouse=True)
def no_cgroup_left_by_the_test():
    """Set up before `runtime` (autouse first), so checked after its
    delete --force of every container left."""
    before = set(token_dirs())
    yield
    left = sorted(set(token_dirs()) - before)
    _scrub(left)
    assert not left, f"cgroups left behind: {left}"


@pytest.fixture
def box(bundle, tmp_path):
    """make(script, resources=None, edit=None, name="b") -> (bundle, out):
    runc's default spec running `sh -c script`, linux.resources updated with
    `resources` (runc's deny-all device rule stays), /out bound rw to `out`."""
    def make(script, resources=None, edit=None, name="b", args=None):
        out = tmp_path / f"{name}-out"
        out.mkdir()

        def ed(cfg):
            cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                                  "options": ["rbind", "rw"]})
            if resources:
                cfg["linux"].setdefault("resources", {}).update(resources)
            if edit:
                edit(cfg)
        return bundle(args or ["sh", "-c", script], ed, name), out
    return make


def create(rt: Runtime, b: str, c: str, *extra) -> int:
    r = call(rt, "create", "--bundle", b, *extra, c)
    assert r.returncode == 0, f"create failed: {r.stderr}"
    return rt.state(c)["pid"]


def start(rt: Runtime, c: str) -> None:
    r = call(rt, "start", c)
    assert r.returncode == 0, f"start failed: {r.stderr}"


def run_to_end(rt: Runtime, b: str, c: str, wait_gone) -> tuple[int, dict]:
    """create (returns the init's host cgroup dirs, read while it waits),
    start, wait for the program to end."""
    pid = create(rt, b, c)
    cg = host_cgroups(pid)
    start(rt, c)
    assert wait_gone(pid), "the program did not end"
    return pid, cg


def delete(rt: Runtime, c: str, *extra) -> None:
    r = call(rt, "delete", *extra, c)
    assert r.returncode == 0, f"delete failed: {r.stderr}"


def nothing_left(rt: Runtime, c: str) -> None:
    assert not os.path.exists(os.path.join(rt.root, c)), "state dir left behind"
    left = [d for d in token_dirs() if os.path.basename(d).startswith(c)]
    assert not left, f"cgroups left behind: {left}"


def last_cpu() -> int:
    return max(os.sched_getaffinity(0))


# --- 1. every resource, read back on the host and seen from inside ----------------------
def test_container_cgroup_is_its_own_in_every_v1_hierarchy(runtime, box):
    b, out = box("sleep 100")
    c = cid("own")
    pid = create(runtime, b, c)
    mine = host_cgroups(os.getpid())
    cg = host_cgroups(pid)
    v1 = {n for _, opts in _cgroup_mounts() if opts != {""} for n in opts} & set(mine)
    assert v1 and v1 <= set(cg), f"v1 hierarchies: {sorted(v1)}; init: {cg}"
    for ctrl in v1:
        d = cg[ctrl]
        assert d != mine.get(ctrl), f"{ctrl}: the container shares the runtime's cgroup {d}"
        assert os.path.basename(d).startswith(c + "-"), f"{ctrl}: default cgroup name: {d}"
        assert os.path.dirname(d) == mine[ctrl], f"{ctrl}: not below the runtime's own cgroup: {d}"
        assert procs(d) == {pid}, f"{ctrl}: {d}/cgroup.procs"


def test_hybrid_unified_hierarchy_joined_only_when_it_matters(runtime, box):
    """On a hybrid host the container gets a cgroup of its own in the
    unified hierarchy (as runc always does) when something there needs it:
    systemd tracks units there (a container left in the runtime's cgroup2
    cgroup would belong to the runtime's unit), or the runtime sits in a
    non-root cgroup2 cgroup, or a resource lives there. Otherwise joining is
    skipped (an RCU grace period, ~7 ms, per create) and the container stays
    in the root cgroup2 cgroup, which nothing tracks."""
    if not any(opts == {""} for _, opts in _cgroup_mounts()) or \
            not any(opts != {""} for _, opts in _cgroup_mounts()):
        pytest.skip("not a hybrid host")
    b, out = box("cat /proc/self/cgroup > /out/cg; ls /sys/fs/cgroup/unified > /out/ls 2>&1; sleep 100")
    c = cid("hyb")
    pid = create(runtime, b, c)
    start(runtime, c)
    assert poll(lambda: (out / "ls").exists())
    mine, cg = host_cgroups(os.getpid()), host_cgroups(pid)
    own_v2 = next(line.split(":", 2)[2].strip() for line in open("/proc/self/cgroup") if line.startswith("0::"))
    must_join = os.path.isdir("/run/systemd/system") or own_v2 != "/"
    if must_join:
        assert cg[""] != mine[""], f"the container stays in the runtime's cgroup2 cgroup {cg['']}"
        assert os.path.basename(cg[""]).startswith(c + "-") and procs(cg[""]) == {pid}
        assert "cgroup.procs" in (out / "ls").read_text().split(), (out / "ls").read_text()
    else:
        assert cg[""] == mine[""], cg  # the root cgroup2 cgroup: not moved


def test_memory_limits(runtime, box, wait_gone):
    res = {"memory": {"limit": 64 * MB, "reservation": 32 * MB, "swap": 128 * MB, "swappiness": 10,
                      "disableOOMKiller": True}}
    files = ("memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes",
             "memory.swappiness")
    script = ("cd /sys/fs/cgroup/memory && cat %s > /out/v && grep oom_kill_disable memory.oom_control >> /out/v"
              % " ".join(files))
    b, out = box(script, res)
    _, cg = run_to_end(runtime, b, cid("mem"), wait_gone)
    m = cg["memory"]
    want = [str(64 * MB), str(32 * MB), str(128 * MB), "10", "oom_kill_disable 1"]
    host = [rd(f"{m}/{f}") for f in files] + [kv(f"{m}/memory.oom_control")["oom_kill_disable"]]
    assert host == want[:4] + ["1"]
    assert (out / "v").read_text().split("\n")[:5] == want, "seen from inside"


def test_disable_oom_killer_holds_the_hog_instead_of_killing_it(runtime, box):
    res = {"memory": {"limit": 16 * MB, "swap": 16 * MB, "disableOOMKiller": True}}
    b, out = box("touch /out/ready; awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo $? > /out/awk", res)
    c = cid("nooom")
    pid = create(runtime, b, c)
    cg = host_cgroups(pid)
    start(runtime, c)
    oom = f"{cg['memory']}/memory.oom_control"
    assert poll(lambda: kv(oom).get("under_oom") == "1", 10), kv(oom)
    assert kv(oom)["oom_kill_disable"] == "1" and kv(oom).get("oom_kill", "0") == "0"
    hogs = procs(cg["memory"]) - {pid}
    assert hogs and all(alive(p) for p in hogs), "the hog was killed despite disableOOMKiller"
    assert not (out / "awk").exists()
    delete(runtime, c, "--force")
    assert not [p for p in hogs | {pid} if alive(p)]
    nothing_left(runtime, c)


def test_cpu_limits_and_throttling(runtime, box, wait_gone):
    cpu = last_cpu()
    res = {"cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": str(cpu), "mems": "0"}}
    script = ("cd /sys/fs/cgroup; cat cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us "
              "cpuset/cpuset.cpus cpuset/cpuset.mems > /out/v; grep Cpus_allowed_list /proc/self/status > /out/aff; "
              # a busy loop at 20% of a cpu gets throttled
              "(while :; do :; done) & sleep 0.5; kill $!; cat cpu/cpu.stat > /out/stat")
    b, out = box(script, res)
    _, cg = run_to_end(runtime, b, cid("cpu"), wait_gone)
    host = [rd(f"{cg['cpu']}/cpu.shares"), rd(f"{cg['cpu']}/cpu.cfs_quota_us"),
            rd(f"{cg['cpu']}/cpu.cfs_period_us"), rd(f"{cg['cpuset']}/cpuset.cpus"),
            rd(f"{cg['cpuset']}/cpuset.mems")]
    want = ["512", "20000", "100000", str(cpu), "0"]
    assert host == want
    assert (out / "v").read_text().split() == want, "seen from inside"
    assert (out / "aff").read_text().split() == ["Cpus_allowed_list:", str(cpu)]
    stat = kv(out / "stat")
    assert int(stat["nr_throttled"]) > 0, f"a busy loop under a 20% quota was never throttled: {stat}"


def test_pids_limit_stops_a_fork_loop(runtime, box, wait_gone):
    # a child shell forks sleeps until it cannot (busybox sh then exits):
    # init + child + 8 sleeps = pids.max; then only builtins (no fork left)
    script = ("read m < /sys/fs/cgroup/pids/pids.max; echo $m > /out/max; "
              "sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do sleep 30 & done' 2> /out/err; "
              "read c < /sys/fs/cgroup/pids/pids.current; echo $c > /out/cur; "
              "while read k v; do echo \"$k $v\" >> /out/events; done < /sys/fs/cgroup/pids/pids.events")
    b, out = box(script, {"pids": {"limit": 10}})
    _, cg = run_to_end(runtime, b, cid("pids"), wait_gone)
    assert rd(f"{cg['pids']}/pids.max") == "10"
    assert (out / "max").read_text().strip() == "10", "seen from inside"
    # the child shell is gone: init + 8 sleeps
    assert (out / "cur").read_text().strip() == "9", "the fork loop did not stop at pids.max"
    assert "fork" in (out / "err").read_text(), (out / "err").read_text()
    assert int(kv(out / "events")["max"]) >= 1, (out / "events").read_text()


def _blkio_weight_file() -> str | None:
    probe = os.path.join(CGROOT, "blkio", f"{TOKEN}-probe")
    if not os.path.isdir(os.path.join(CGROOT, "blkio")):
        return None
    os.mkdir(probe)
    try:
        for name in ("blkio.weight", "blkio.bfq.weight"):
            if os.path.exists(os.path.join(probe, name)):
                return name
        return ""
    finally:
        os.rmdir(probe)


def test_blkio_weight(runtime, box, wait_gone):
    wfile = _blkio_weight_file()
    if wfile is None:
        pytest.skip("no v1 blkio hierarchy")
    b, out = box("cat /sys/fs/cgroup/blkio/%s > /out/v" % (wfile or "blkio.weight"),
                 {"blockIO": {"weight": 300}})
    c = cid("blkio")
    if not wfile:  # no proportional-weight scheduler: a clear error, nothing left
        r = call(runtime, "create", "--bundle", b, c)
        one_error(r, "blockIO.weight")
        nothing_left(runtime, c)
        return
    _, cg = run_to_end(runtime, b, c, wait_gone)
    # blkio.bfq.weight reads "default 300"; blkio.weight "300"
    assert rd(f"{cg['blkio']}/{wfile}").split()[-1] == "300"
    assert (out / "v").read_text().split()[-1] == "300", "seen from inside"


def test_hugepage_limits(runtime, box, wait_gone):
    sizes = os.listdir("/sys/kernel/mm/hugepages") if os.path.isdir("/sys/kernel/mm/hugepages") else []
    if "hugepages-2048kB" not in sizes:
        pytest.skip("no 2MB huge pages on this host")
    script = ("cat /sys/fs/cgroup/unified/hugetlb.2MB.max /sys/fs/cgroup/hugetlb/hugetlb.2MB.limit_in_bytes "
              "> /out/v 2>/dev/null; true")
    b, out = box(script, {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MB}]})
    _, cg = run_to_end(runtime, b, cid("huge"), wait_gone)
    if "hugetlb" in cg:
        assert rd(f"{cg['hugetlb']}/hugetlb.2MB.limit_in_bytes") == str(4 * MB)
    else:  # hybrid host: hugetlb is bound to cgroup v2
        assert "hugetlb" in rd(f"{cg['']}/cgroup.controllers")
        assert rd(f"{cg['']}/hugetlb.2MB.max") == str(4 * MB)
    assert (out / "v").read_text().split() == [str(4 * MB)], "seen from inside"


DEV_SCRIPT = ("head -c 1 /dev/zero > /dev/null 2> /out/zero_err; echo $? > /out/zero_rc; "
              "echo x > /dev/null && echo null-ok > /out/null; head -c 4 /dev/urandom | wc -c > /out/urandom; "
              "cat /sys/fs/cgroup/devices/devices.list > /out/list")


def test_devices_default_deny_all_keeps_the_default_devices(runtime, box, wait_gone):
    b, out = box(DEV_SCRIPT)  # runc's spec: [{"allow": false, "access": "rwm"}]
    _, cg = run_to_end(runtime, b, cid("devdef"), wait_gone)
    host = rd(f"{cg['devices']}/devices.list").splitlines()
    assert "a *:* rwm" not in host, host
    assert "c 1:3 rwm" in host and "c 1:5 rwm" in host, host
    assert (out / "zero_rc").read_text().strip() == "0", (out / "zero_err").read_text()
    assert (out / "null").read_text().strip() == "null-ok"
    assert (out / "urandom").read_text().strip() == "4"
    assert (out / "list").read_text().splitlines() == host, "seen from inside"


def test_devices_deny_rule_for_dev_zero(runtime, box, wait_gone):
    rules = [{"allow": False, "access": "rwm"},
             {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "rwm"}]
    b, out = box(DEV_SCRIPT, {"devices": rules})
    _, cg = run_to_end(runtime, b, cid("devzero"), wait_gone)
    host = rd(f"{cg['devices']}/devices.list").splitlines()
    assert not [ln for ln in host if ln.startswith("c 1:5 ")], f"/dev/zero still allowed: {host}"
    assert (out / "zero_rc").read_text().strip() != "0", "reading /dev/zero worked despite the deny rule"
    assert "Operation not permitted" in (out / "zero_err").read_text()
    assert (out / "null").read_text().strip() == "null-ok", "/dev/null no longer works"
    assert (out / "urandom").read_text().strip() == "4"


def test_unified_on_v1_controllers_is_a_clear_error(runtime, box):
    b, _ = box("true", {"unified": {"memory.max": "1000000"}})
    c = cid("unified")
    r = call(runtime, "create", "--bundle", b, c)
    one_error(r, "unified", "memory.max")
    nothing_left(runtime, c)


def test_network_class_id_names_net_cls(runtime, box):
    if os.path.isdir(os.path.join(CGROOT, "net_cls")):
        pytest.skip("this host mounts net_cls")
    b, _ = box("true", {"network": {"classID": 1048577}})
    c = cid("netcls")
    r = call(runtime, "create", "--bundle", b, c)
    one_error(r, "net_cls", "classID")
    nothing_left(runtime, c)


def test_kernel_memory_is_a_warning_not_a_failure(runtime, box):
    res = {"memory": {"limit": 64 * MB, "kernel": 32 * MB, "kernelTCP": 16 * MB}}
    b, out = box("cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /out/v", res)
    r = call(runtime, "run", "--bundle", b, cid("kmem"))
    assert r.returncode == 0, r.stderr
    assert not err_lines(r), r.stderr
    warns = [ln for ln in r.stderr.splitlines() if "warning" in ln.lower()]
    assert any("memory.kernel " in w for w in warns), r.stderr
    assert any("memory.kernelTCP" in w for w in warns), r.stderr
    assert (out / "v").read_text().strip() == str(64 * MB), "the memory limit was not applied"


def test_systemd_cgroup_is_a_clear_error(runtime, box):
    b, _ = box("true")
    c = cid("systemd")
    r = call(runtime, "--systemd-cgroup", "create", "--bundle", b, c)
    one_error(r, "systemd")
    nothing_left(runtime, c)


@pytest.fixture
def scrub_token_parents():
    """cgroupsPath parents the test names: delete leaves them (as runc)."""
    yield
    _scrub(token_dirs())


def test_relative_and_absolute_cgroups_path(runtime, box, scrub_token_parents):
    rel, ab = f"{TOKEN}-rel/sub", f"/{TOKEN}-abs/sub"
    pids = {}
    for name, path in (("rel", rel), ("abs", ab)):
        b, _ = box("sleep 100", edit=lambda cfg, p=path: cfg["linux"].__setitem__("cgroupsPath", p), name=name)
        pids[name] = create(runtime, b, cid(name))
    # (a hybrid host's cgroup2 line may stay the runtime's: see
    # test_hybrid_container_leaves_the_runtimes_cgroup2_cgroup)
    with open(f"/proc/{pids['rel']}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            key = ctrls.split(",")[0] if ctrls else ""
            if key or path != _own_path(""):
                assert path == _own_path(key).rstrip("/") + "/" + rel, line
    with open(f"/proc/{pids['abs']}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if ctrls or path != _own_path(""):
                assert path == ab, line
    dirs = container_dirs(pids["rel"]) + container_dirs(pids["abs"])
    assert len(dirs) >= 2 * len([m for m, opts in _cgroup_mounts() if opts != {""}])
    for name in ("rel", "abs"):
        assert call(runtime, "kill", cid(name), "KILL").returncode == 0
        assert wait_status(runtime, cid(name), "stopped") == "stopped"
        delete(runtime, cid(name))
    assert [d for d in dirs if os.path.isdir(d)] == [], "delete left the container's cgroups"


def _own_path(ctrl: str) -> str:
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if (ctrls.split(",")[0] if ctrls else "") == ctrl:
                return path
    raise KeyError(ctrl)


# --- 2. late join ---------------------------------------------------------------------
def test_memory_limit_1mib_runs_true(runtime, box, wait_gone):
    res = {"memory": {"limit": 1 * MB}}
    b, _ = box("", res, args=["/bin/true"])
    pid = create(runtime, b, cid("1m"))
    cg = host_cgroups(pid)
    assert rd(f"{cg['memory']}/memory.limit_in_bytes") == str(MB)
    assert procs(cg["memory"]) == {pid}, "the init is not in the limited cgroup"
    start(runtime, cid("1m"))
    assert wait_gone(pid)
    assert int(kv(f"{cg['memory']}/memory.oom_control").get("oom_kill", 0)) == 0, "OOM kill under 1 MiB"
    delete(runtime, cid("1m"))
    r = call(runtime, "run", "--bundle", b, cid("1m-run"))
    assert r.returncode == 0, f"/bin/true under a 1 MiB memory limit: rc {r.returncode}: {r.stderr}"


def test_memory_limit_1mib_vs_runc(runtime, runc, box):
    """Documents the issue's claim: runc (1.1.5 here) cannot start a
    container under 1 MiB (it fails at 4 MiB); ocipy can."""
    b, _ = box("", {"memory": {"limit": 1 * MB}}, args=["/bin/true"])
    r = call(runtime, "run", "--bundle", b, cid("1m-ocipy"))
    assert r.returncode == 0, r.stderr
    rr = call(runc, "run", "--bundle", b, cid("1m-runc"), timeout=60)
    if rr.returncode == 0:
        warnings.warn("runc now starts /bin/true under a 1 MiB memory limit (the issue says it fails)")
    else:
        print(f"runc at 1 MiB: rc {rr.returncode}: {rr.stderr.strip()[:300]}")
    runc("delete", "--force", cid("1m-runc"))


def test_pids_limit_1_runs_true(runtime, box, wait_gone):
    b, _ = box("", {"pids": {"limit": 1}}, args=["/bin/true"])
    pid = create(runtime, b, cid("pid1"))
    cg = host_cgroups(pid)
    assert rd(f"{cg['pids']}/pids.max") == "1"
    assert procs(cg["pids"]) == {pid}
    start(runtime, cid("pid1"))
    assert wait_gone(pid)
    delete(runtime, cid("pid1"))
    r = call(runtime, "run", "--bundle", b, cid("pid1-run"))
    assert r.returncode == 0, f"/bin/true with pids.max 1: rc {r.returncode}: {r.stderr}"


# --- 3. pause / resume -------------------------------------------------------------------
TICKER = "i=0; touch /out/ready; while :; do i=$((i+1)); echo $i > /out/n.tmp; mv /out/n.tmp /out/n; sleep 0.02; done"


def ticks(out) -> int:
    try:
        return int((out / "n").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


@pytest.fixture
def ticker(runtime, box):
    """A running container counting in /out/n; -> (id, out, init pid, host cgroups)."""
    b, out = box(TICKER)
    c = cid("tick")
    pid = create(runtime, b, c)
    start(runtime, c)
    assert poll(lambda: ticks(out) > 2), "the ticker did not start"
    return c, out, pid, host_cgroups(pid)


def test_pause_freezes_and_resume_thaws(runtime, ticker):
    c, out, pid, cg = ticker
    r = call(runtime, "pause", c)
    assert r.returncode == 0, r.stderr
    assert status(runtime, c) == "paused"
    assert runtime.state(c)["pid"] == pid
    assert rd(f"{cg['freezer']}/freezer.state") == "FROZEN"
    members = procs(cg["freezer"])
    assert pid in members
    n = ticks(out)
    time.sleep(0.3)  # observing that nothing happens takes some time
    assert ticks(out) == n, "the container kept running while paused"
    r = call(runtime, "pause", c)
    one_error(r, c, "paused")
    r = call(runtime, "resume", c)
    assert r.returncode == 0, r.stderr
    assert status(runtime, c) == "running"
    assert rd(f"{cg['freezer']}/freezer.state") == "THAWED"
    assert poll(lambda: ticks(out) > n + 2), "the container did not run again after resume"
    r = call(runtime, "resume", c)
    one_error(r, c, "running")


def test_pause_created_container(runtime, box, wait_gone):
    b, out = box("touch /out/ran")
    c = cid("pausecr")
    pid = create(runtime, b, c)
    cg = host_cgroups(pid)
    assert call(runtime, "pause", c).returncode == 0
    assert status(runtime, c) == "paused"
    assert rd(f"{cg['freezer']}/freezer.state") == "FROZEN"
    assert call(runtime, "resume", c).returncode == 0
    assert status(runtime, c) == "created"


def test_sigkill_of_a_paused_container(runtime, ticker, wait_gone):
    c, out, pid, cg = ticker
    assert call(runtime, "pause", c).returncode == 0
    r = call(runtime, "kill", c, "KILL")
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid, 5), f"init survived SIGKILL while paused (state {proc_state(pid)})"
    assert wait_status(runtime, c, "stopped") == "stopped"
    delete(runtime, c)
    nothing_left(runtime, c)


def test_pause_of_a_stopped_container_fails(runtime, box, wait_gone):
    b, _ = box("true")
    c = cid("pausestop")
    run_to_end(runtime, b, c, wait_gone)
    assert wait_status(runtime, c, "stopped") == "stopped"
    for cmd in ("pause", "resume"):
        r = call(runtime, cmd, c)
        one_error(r, c, "stopped")
    assert status(runtime, c) == "stopped"


# --- 4. update ---------------------------------------------------------------------------
WATCHED = ("memory/memory.limit_in_bytes", "memory/memory.memsw.limit_in_bytes",
           "memory/memory.soft_limit_in_bytes", "pids/pids.max", "cpu/cpu.cfs_quota_us",
           "cpu/cpu.cfs_period_us", "cpu/cpu.shares", "cpuset/cpuset.cpus", "cpuset/cpuset.mems")
WATCHER = ("touch /out/ready; while :; do for f in %s; do read v < /sys/fs/cgroup/$f; echo \"$f $v\"; done "
           "> /out/v.tmp; mv /out/v.tmp /out/v; sleep 0.05; done" % " ".join(WATCHED))


def inside(out) -> dict:
    try:
        return kv(out / "v")
    except FileNotFoundError:
        return {}


def host_values(cg) -> dict:
    return {f: rd(os.path.join(cg[f.split("/")[0]], f.split("/")[1])) for f in WATCHED}


@pytest.fixture
def watcher(runtime, box):
    """A running container copying its cgroup files to /out/v every 50 ms;
    -> (id, out, pid, host cgroups)."""
    b, out = box(WATCHER, {"memory": {"limit": 256 * MB}, "pids": {"limit": 100}})
    c = cid("upd")
    pid = create(runtime, b, c)
    start(runtime, c)
    assert poll(lambda: inside(out)), "the watcher did not start"
    return c, out, pid, host_cgroups(pid)


def _cpu0() -> str:
    return str(min(os.sched_getaffinity(0)))


UPDATES = [
    (["--memory", "64m"], {"memory/memory.limit_in_bytes": str(64 * MB)}),
    (["--memory", "64m", "--memory-swap", "128m"],
     {"memory/memory.limit_in_bytes": str(64 * MB), "memory/memory.memsw.limit_in_bytes": str(128 * MB)}),
    (["--memory-reservation", "16m"], {"memory/memory.soft_limit_in_bytes": str(16 * MB)}),
    (["--pids-limit", "20"], {"pids/pids.max": "20"}),
    (["--cpu-quota", "30000", "--cpu-period", "50000"],
     {"cpu/cpu.cfs_quota_us": "30000", "cpu/cpu.cfs_period_us": "50000"}),
    (["--cpu-share", "256"], {"cpu/cpu.shares": "256"}),
    (["--cpuset-cpus", "CPU0"], {"cpuset/cpuset.cpus": "CPU0"}),
]


@pytest.mark.parametrize("flags,want", UPDATES, ids=[" ".join(f) for f, _ in UPDATES])
def test_update_runc_flags(runtime, watcher, flags, want):
    c, out, pid, cg = watcher
    flags = [_cpu0() if f == "CPU0" else f for f in flags]
    want = {k: _cpu0() if v == "CPU0" else v for k, v in want.items()}
    before = host_values(cg)
    r = call(runtime, "update", *flags, c)
    assert r.returncode == 0, r.stderr
    after = host_values(cg)
    assert after == {**before, **want}, "host cgroupfs"
    assert poll(lambda: all(inside(out).get(k) == v for k, v in want.items()), 5), \
        f"seen from inside: {inside(out)}"


RES_JSON = {"memory": {"limit": 48 * MB, "reservation": 8 * MB}, "pids": {"limit": 33},
            "cpu": {"shares": 300, "quota": 25000, "period": 100000}}
RES_WANT = {"memory/memory.limit_in_bytes": str(48 * MB), "memory/memory.soft_limit_in_bytes": str(8 * MB),
            "pids/pids.max": "33", "cpu/cpu.shares": "300", "cpu/cpu.cfs_quota_us": "25000",
            "cpu/cpu.cfs_period_us": "100000"}


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_update_resources_json(runtime, watcher, tmp_path, how):
    c, out, pid, cg = watcher
    f = tmp_path / "res.json"
    f.write_text(json.dumps(RES_JSON))
    before = host_values(cg)
    if how == "file":
        r = call(runtime, "update", "--resources", str(f), c)
    else:
        with open(f) as stdin:
            r = call(runtime, "update", "--resources", "-", c, stdin=stdin)
    assert r.returncode == 0, r.stderr
    assert host_values(cg) == {**before, **RES_WANT}
    assert poll(lambda: all(inside(out).get(k) == v for k, v in RES_WANT.items()), 5), inside(out)


BAD_RESOURCES = [
    ("{not json", ["JSON"]),
    ('{"memory": {"limit": "lots"}}', ["memory", "limit"]),
    ('{"pids": {"limit": [1]}}', ["pids", "limit"]),
    ('{"cpu": {"shares": -5}}', ["cpu", "shares"]),
    ('[1, 2]', []),
]


@pytest.mark.parametrize("text,words", BAD_RESOURCES, ids=[t for t, _ in BAD_RESOURCES])
def test_update_bad_resources_change_nothing(runtime, watcher, tmp_path, text, words):
    c, out, pid, cg = watcher
    f = tmp_path / "bad.json"
    f.write_text(text)
    before = host_values(cg)
    r = call(runtime, "update", "--resources", str(f), c)
    one_error(r, *words)
    assert str(f) in r.stderr or "--resources" in r.stderr, r.stderr
    assert host_values(cg) == before


@pytest.mark.parametrize("flags,words", [(["--memory", "lots"], ["--memory", "lots"]),
                                         (["--cpu-quota", "x"], ["--cpu-quota"]),
                                         (["--pids-limit", "many"], ["--pids-limit"])])
def test_update_bad_flags_change_nothing(runtime, watcher, flags, words):
    c, out, pid, cg = watcher
    before = host_values(cg)
    r = call(runtime, "update", *flags, c)
    one_error(r, *words)
    assert host_values(cg) == before


def test_update_limit_the_kernel_refuses_changes_nothing(runtime, watcher):
    c, out, pid, cg = watcher
    before = host_values(cg)
    # memory+swap below the memory limit: the kernel says EINVAL
    r = call(runtime, "update", "--memory-swap", "16m", c)
    one_error(r, "memory")
    assert host_values(cg) == before


def test_update_of_a_stopped_container_fails(runtime, box, wait_gone):
    b, _ = box("true")
    c = cid("updstop")
    run_to_end(runtime, b, c, wait_gone)
    assert wait_status(runtime, c, "stopped") == "stopped"
    r = call(runtime, "update", "--memory", "64m", c)
    one_error(r, c, "stopped")


def test_update_unknown_container_fails(runtime):
    r = call(runtime, "update", "--memory", "64m", cid("nosuch"))
    one_error(r, cid("nosuch"))


# --- 5. ps ----------------------------------------------------------------------------------
@pytest.fixture
def family(runtime, box):
    """A running container with 3 processes: sh, sleep, sleep."""
    b, out = box("sleep 100 & sleep 101 & touch /out/ready; wait")
    c = cid("ps")
    pid = create(runtime, b, c)
    start(runtime, c)
    cg = host_cgroups(pid)
    assert poll(lambda: (out / "ready").exists() and len(procs(cg["pids"])) == 3), procs(cg["pids"])

    def comms() -> list:
        names = []
        for p in procs(cg["pids"]):
            try:
                with open(f"/proc/{p}/comm") as f:
                    names.append(f.read().strip())
            except FileNotFoundError:
                pass
        return sorted(names)
    # busybox runs an applet through /proc/self/exe: "exe" until it names itself
    assert poll(lambda: comms() == ["sh", "sleep", "sleep"]), comms()
    return c, pid, cg


def test_ps_json_equals_cgroup_procs(runtime, family):
    c, pid, cg = family
    r = call(runtime, "ps", "--format", "json", c)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert isinstance(got, list) and all(isinstance(p, int) for p in got), r.stdout
    for ctrl in ("memory", "pids", "freezer", ""):
        if ctrl in cg and (ctrl or cg[""] != host_cgroups(os.getpid())[""]):
            assert set(got) == procs(cg[ctrl]), ctrl
    assert len(got) == 3 and pid in got


def test_ps_table_default_ef(runtime, family):
    c, pid, cg = family
    r = call(runtime, "ps", c)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    header = lines[0].split()
    assert header[:3] == ["UID", "PID", "PPID"], lines[0]
    assert sorted(int(ln.split()[1]) for ln in lines[1:]) == sorted(procs(cg["pids"]))
    cmds = sorted(ln.split(None, 7)[-1].split()[0] for ln in lines[1:])
    assert cmds == ["sh", "sleep", "sleep"], lines


def test_ps_extra_args(runtime, family):
    c, pid, cg = family
    r = call(runtime, "ps", c, "-o", "pid,comm")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["PID", "COMMAND"], lines
    rows = [ln.split() for ln in lines[1:]]
    assert sorted(int(p) for p, _ in rows) == sorted(procs(cg["pids"]))
    assert sorted(comm for _, comm in rows) == ["sh", "sleep", "sleep"]


# --- 6. events --------------------------------------------------------------------------------
def test_events_stats_matches_cgroupfs(runtime, box):
    b, out = box("sleep 100 & touch /out/ready; wait", {"memory": {"limit": 64 * MB}, "pids": {"limit": 50}})
    c = cid("stats")
    pid = create(runtime, b, c)
    start(runtime, c)
    cg = host_cgroups(pid)
    assert poll(lambda: (out / "ready").exists() and len(procs(cg["pids"])) == 2)
    m, p, acct = cg["memory"], cg["pids"], cg["cpuacct"]
    # usage moves both ways (the kernel charges and uncharges pages at any time), so it is
    # bounded by the high-water mark, which only grows: max0 <= max <= max1, usage <= max1.
    max0, cpu0 = rd_int(f"{m}/memory.max_usage_in_bytes"), rd_int(f"{acct}/cpuacct.usage")
    r = call(runtime, "events", "--stats", c)
    max1, cpu1 = rd_int(f"{m}/memory.max_usage_in_bytes"), rd_int(f"{acct}/cpuacct.usage")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == c, ev
    d = ev["data"]
    assert d["memory"]["usage"]["limit"] == rd_int(f"{m}/memory.limit_in_bytes") == 64 * MB
    assert 0 < d["memory"]["usage"]["usage"] <= d["memory"]["usage"]["max"] <= max1
    assert max0 <= d["memory"]["usage"]["max"] <= max1
    assert d["pids"]["current"] == rd_int(f"{p}/pids.current") == 2
    assert d["pids"]["limit"] == 50
    assert cpu0 <= d["cpu"]["usage"]["total"] <= cpu1 and d["cpu"]["usage"]["total"] > 0
    assert len(d["cpu"]["usage"]["percpu"]) >= 1
    assert sum(d["cpu"]["usage"]["percpu"]) == d["cpu"]["usage"]["total"]


def test_events_stream_until_the_container_stops(runtime, box, tmp_path, wait_gone):
    b, out = box("touch /out/ready; while [ ! -e /out/stop ]; do sleep 0.05; done")
    c = cid("stream")
    pid = create(runtime, b, c)
    start(runtime, c)
    assert poll(lambda: (out / "ready").exists())
    for bad in ("soon", "0s", "10"):
        one_error(call(runtime, "events", "--interval", bad, c), "--interval")
    log = tmp_path / "events.out"
    with open(log, "w") as f:
        p = subprocess.Popen(runtime.cmd("events", "--interval", "100ms", c), stdin=subprocess.DEVNULL,
                             stdout=f, stderr=subprocess.STDOUT, env=_env(), cwd=REPO)
    try:
        assert poll(lambda: len(log.read_text().splitlines()) >= 2, 10), log.read_text()
        (out / "stop").write_text("")
        assert wait_gone(pid)
        rc = p.wait(timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rc == 0, log.read_text()
    evs = [json.loads(ln) for ln in log.read_text().splitlines()]
    assert len(evs) >= 2
    assert all(e["type"] == "stats" and e["id"] == c for e in evs), evs


def test_events_reports_an_oom_kill(runtime, box, tmp_path):
    # awk doubles a string until the memory cgroup OOM-kills it
    script = ("touch /out/ready; while [ ! -e /out/go ]; do sleep 0.02; done; "
              "awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo $? > /out/awk; "
              "while [ ! -e /out/stop ]; do sleep 0.05; done")
    b, out = box(script, {"memory": {"limit": 16 * MB, "swap": 16 * MB}})
    c = cid("oom")
    pid = create(runtime, b, c)
    start(runtime, c)
    cg = host_cgroups(pid)
    assert poll(lambda: (out / "ready").exists())
    log = tmp_path / "events.out"
    with open(log, "w") as f:
        p = subprocess.Popen(runtime.cmd("events", "--interval", "100ms", c), stdin=subprocess.DEVNULL,
                             stdout=f, stderr=subprocess.STDOUT, env=_env(), cwd=REPO)
    try:
        assert poll(lambda: log.read_text().strip(), 10), "no event at all"
        (out / "go").write_text("")
        assert poll(lambda: (out / "awk").exists(), 20), "awk was not killed"
        assert (out / "awk").read_text().strip() == "137", "awk did not die of SIGKILL"
        assert int(kv(f"{cg['memory']}/memory.oom_control")["oom_kill"]) >= 1
        assert poll(lambda: any(json.loads(ln)["type"] == "oom" for ln in log.read_text().splitlines()), 5), \
            log.read_text()
        (out / "stop").write_text("")
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    for ln in log.read_text().splitlines():
        e = json.loads(ln)
        assert e["id"] == c and e["type"] in ("stats", "oom"), e


def test_events_of_a_stopped_container_fails(runtime, box, wait_gone):
    b, _ = box("true")
    c = cid("evstop")
    run_to_end(runtime, b, c, wait_gone)
    assert wait_status(runtime, c, "stopped") == "stopped"
    r = call(runtime, "events", "--stats", c)
    one_error(r, c)


# --- 7. kill --all, delete ----------------------------------------------------------------------
def no_pidns(cfg):
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]


@pytest.mark.parametrize("sig", ["KILL", "TERM"])
@pytest.mark.parametrize("pidns", [False, True], ids=["no-pidns", "pidns"])
def test_kill_all(runtime, box, wait_gone, sig, pidns):
    """Every process of the cgroup gets the signal (with a pid namespace
    the init ignores TERM from the host, but ends once its children did)."""
    script = "sleep 100 & sleep 101 & sh -c 'sleep 102 & wait' & touch /out/ready; wait"
    b, out = box(script, edit=None if pidns else no_pidns)
    c = cid("killall")
    pid = create(runtime, b, c)
    start(runtime, c)
    cg = host_cgroups(pid)
    assert poll(lambda: (out / "ready").exists() and len(procs(cg["pids"])) == 5), procs(cg["pids"])
    members = procs(cg["pids"])
    assert members == procs(cg["memory"]) == procs(cg["freezer"])
    r = call(runtime, "kill", "--all", c, sig)
    assert r.returncode == 0, r.stderr
    assert poll(lambda: not [p for p in members if alive(p)], 5), \
        f"survivors: {[(p, proc_state(p)) for p in members if alive(p)]}"
    assert wait_status(runtime, c, "stopped") == "stopped"
    dirs = own_dirs(cg)
    delete(runtime, c)
    assert [d for d in dirs if os.path.isdir(d)] == []
    nothing_left(runtime, c)


def test_kill_all_sigkill_of_a_paused_container(runtime, box, wait_gone):
    b, out = box("sleep 100 & sleep 101 & touch /out/ready; wait", edit=no_pidns)
    c = cid("killallp")
    pid = create(runtime, b, c)
    start(runtime, c)
    cg = host_cgroups(pid)
    assert poll(lambda: (out / "ready").exists() and len(procs(cg["pids"])) == 3)
    members = procs(cg["pids"])
    assert call(runtime, "pause", c).returncode == 0
    r = call(runtime, "kill", "--all", c, "KILL")
    assert r.returncode == 0, r.stderr
    assert poll(lambda: not [p for p in members if alive(p)], 5), \
        f"survivors: {[(p, proc_state(p)) for p in members if alive(p)]}"
    assert wait_status(runtime, c, "stopped") == "stopped"
    delete(runtime, c)
    nothing_left(runtime, c)


def test_delete_removes_the_cgroup_in_every_hierarchy(runtime, box, wait_gone):
    b, out = box("sleep 100")
    c = cid("del")
    pid = create(runtime, b, c)
    start(runtime, c)
    cg = host_cgroups(pid)
    dirs = sorted(set(cg.values()))
    assert "memory" in cg and "name=systemd" in cg, cg
    mine = host_cgroups(os.getpid())
    dirs = sorted({d for ctrl, d in cg.items() if d != mine.get(ctrl)})  # those it has of its own
    assert len(dirs) >= len({d for ctrl, d in mine.items() if ctrl}), cg
    for d in dirs:
        assert procs(d) == {pid}, d
    assert call(runtime, "kill", c, "KILL").returncode == 0
    assert wait_gone(pid)
    assert wait_status(runtime, c, "stopped") == "stopped"
    assert all(os.path.isdir(d) for d in dirs), "the cgroup went away before delete"
    delete(runtime, c)
    assert [d for d in dirs if os.path.isdir(d)] == [], "delete left cgroup directories"
    nothing_left(runtime, c)


def test_delete_force_of_a_paused_container(runtime, ticker, wait_gone):
    c, out, pid, cg = ticker
    members = procs(cg["pids"])
    assert call(runtime, "pause", c).returncode == 0
    assert status(runtime, c) == "paused"
    delete(runtime, c, "--force")
    assert wait_gone(pid, 5)
    assert not [p for p in members if alive(p)]
    assert [d for d in own_dirs(cg) if os.path.isdir(d)] == []
    nothing_left(runtime, c)


def test_delete_force_of_a_running_container_without_pid_namespace(runtime, box, wait_gone):
    b, out = box("sleep 100 & sleep 101 & touch /out/ready; wait", edit=no_pidns)
    c = cid("delforce")
    pid = create(runtime, b, c)
    start(runtime, c)
    cg = host_cgroups(pid)
    assert poll(lambda: (out / "ready").exists() and len(procs(cg["pids"])) == 3)
    members = procs(cg["pids"])
    delete(runtime, c, "--force")
    assert poll(lambda: not [p for p in members if alive(p)], 5)
    assert [d for d in own_dirs(cg) if os.path.isdir(d)] == []
    nothing_left(runtime, c)


def test_failed_create_leaves_no_cgroup(runtime, box):
    # a limit the kernel refuses (cpuset.cpus beyond the host's cpus) fails
    # after the cgroup was made: it must be removed again
    b, _ = box("true", {"cpu": {"cpus": "4000"}})
    c = cid("failcr")
    r = call(runtime, "create", "--bundle", b, c)
    one_error(r, "cpu.cpus")
    nothing_left(runtime, c)
