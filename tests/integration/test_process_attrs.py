"""The process attributes of runtime-spec 1.3, observed from inside real
containers: process.execCPUAffinity (exec), linux.memoryPolicy (init and
exec), scheduler / ioPriority / personality for exec'd processes,
AppArmor / SELinux fields on a host without either, socket activation
(LISTEN_FDS with --preserve-fds) and NOTIFY_SOCKET, side by side with runc
where runc 1.1.5 has the feature.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import time

import pytest

from conftest import REPO, _env

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SLEEP = ["sh", "-c", "exec >/dev/null 2>&1 </dev/null; exec sleep 1000"]


def one_error_line(r) -> str:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def run_ok(rt, b: str, cid: str = "pa", *flags) -> str:
    r = rt("run", *flags, "--bundle", b, cid)
    assert r.returncode == 0, f"{rt.name}: rc={r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r.stdout


def assert_nothing_left(rt, cid: str) -> None:
    assert rt.ids() == [], rt.ids()
    for ctrl in ("memory", "pids", "cpu", "cpuset"):
        base = f"/sys/fs/cgroup/{ctrl}"
        if os.path.isdir(base):
            assert not [n for n in os.listdir(base) if n.startswith(cid + "-") or n == cid], (ctrl, cid)


def ps_with(text: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if text in ln and "ps -eo" not in ln]


def exec_process(rt, cid: str, proc: dict, tmp_path, *flags):
    path = tmp_path / f"process-{time.monotonic_ns()}.json"
    proc = {"cwd": "/", **proc}
    path.write_text(json.dumps(proc))
    return rt("exec", *flags, "--process", str(path), cid)


# --- execCPUAffinity ---------------------------------------------------------------------
def cpus_allowed(text: str) -> str:
    return [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Cpus_allowed_list")][0]


needs_smp = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")


@needs_smp
def test_exec_cpu_affinity_from_process_json(runtime, bundle, tmp_path):
    """runc's cpu_affinity.bats: initial alone stays (the kernel keeps a
    requested affinity across the cpuset join here), final wins over it."""
    run_ok(runtime, bundle(SLEEP), "ca", "-d")
    grep = ["grep", "Cpus_allowed_list", "/proc/self/status"]
    for aff, want in [({"initial": "1"}, "1"), ({"initial": "0"}, "0"), ({"initial": "0-1", "final": "1"}, "1"),
                      ({"initial": "1", "final": "0"}, "0"), ({"final": "0,1"}, "0-1"), ({}, "0-1")]:
        r = exec_process(runtime, "ca", {"args": grep, "execCPUAffinity": aff}, tmp_path)
        assert r.returncode == 0, r.stderr
        assert cpus_allowed(r.stdout) == want, (aff, r.stdout)
    # the init itself: "not applicable to the container's init process"
    pid = runtime.state("ca")["pid"]
    assert len(os.sched_getaffinity(pid)) == len(os.sched_getaffinity(0))


@needs_smp
def test_exec_cpu_affinity_from_config(runtime, runc, bundle, tmp_path):
    """The config's process.execCPUAffinity applies to `exec COMMAND` (not
    to the init); runc 1.1.5 predates it: only ocipy is checked."""
    def edit(c):
        c["process"]["args"] = SLEEP
        c["process"]["execCPUAffinity"] = {"initial": "0", "final": "1"}

    b = bundle(edit=edit)
    run_ok(runtime, b, "cc", "-d")
    pid = runtime.state("cc")["pid"]
    assert os.sched_getaffinity(pid) == os.sched_getaffinity(0)
    r = runtime("exec", "cc", "grep", "Cpus_allowed_list", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    assert cpus_allowed(r.stdout) == "1"


def test_exec_cpu_affinity_errors_name_the_field(runtime, bundle, tmp_path):
    run_ok(runtime, bundle(SLEEP), "ce", "-d")
    n = os.cpu_count()
    r = exec_process(runtime, "ce", {"args": ["true"], "execCPUAffinity": {"initial": str(n + 3)}}, tmp_path)
    line = one_error_line(r)
    assert r.returncode == 255
    assert "execCPUAffinity.initial: sched_setaffinity" in line and "Invalid argument" in line, line
    r = exec_process(runtime, "ce", {"args": ["true"], "execCPUAffinity": {"final": "3-1"}}, tmp_path)
    assert "execCPUAffinity.final: invalid range '3-1'" in one_error_line(r)
    # a config whose list is malformed fails at create, naming the field
    b = bundle(edit=lambda c: c["process"].__setitem__("execCPUAffinity", {"final": "1-"}), name="bad")
    r = runtime("run", "--bundle", b, "bad")
    assert "config.json: process.execCPUAffinity.final: invalid list '1-'" in one_error_line(r)
    assert runtime.ids() == ["ce"]


# --- linux.memoryPolicy ------------------------------------------------------------------
POLICIES = [
    ({"mode": "MPOL_DEFAULT"}, "default"),
    ({"mode": "MPOL_BIND", "nodes": "0"}, "bind:0"),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}, "bind=static:0"),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}, "bind=balancing:0"),
    ({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]}, "interleave=relative:0"),
    ({"mode": "MPOL_PREFERRED", "nodes": "0"}, "prefer:0"),
    ({"mode": "MPOL_PREFERRED_MANY", "nodes": "0"}, "prefer (many):0"),
    ({"mode": "MPOL_WEIGHTED_INTERLEAVE", "nodes": "0"}, "weighted interleave:0"),
    ({"mode": "MPOL_LOCAL"}, "local"),
]


def numa_policy(text: str) -> str:
    """The policy column of /proc/self/numa_maps' first line (the task's
    policy for a mapping without one of its own)."""
    first = text.splitlines()[0].split(" ", 1)[1]
    return first.split(" file=")[0].split(" anon=")[0].split(" heap")[0]


@pytest.mark.parametrize("policy,shown", POLICIES, ids=[p[1] for p in POLICIES])
def test_memory_policy_of_the_init(runtime, bundle, policy, shown):
    if not os.path.exists("/proc/self/numa_maps"):
        pytest.skip("kernel without NUMA")
    b = bundle(["head", "-1", "/proc/self/numa_maps"], edit=lambda c: c["linux"].__setitem__("memoryPolicy", policy))
    assert numa_policy(run_ok(runtime, b)) == shown


def test_memory_policy_of_exec_and_unset(runtime, bundle, tmp_path):
    """The container's policy applies to exec'd processes too (runc's setns
    init sets it); without one, the host's default."""
    if not os.path.exists("/proc/self/numa_maps"):
        pytest.skip("kernel without NUMA")

    def edit(c):
        c["process"]["args"] = SLEEP
        c["linux"]["memoryPolicy"] = {"mode": "MPOL_INTERLEAVE", "nodes": "0"}

    run_ok(runtime, bundle(edit=edit), "mx", "-d")
    r = runtime("exec", "mx", "head", "-1", "/proc/self/numa_maps")
    assert r.returncode == 0, r.stderr
    assert numa_policy(r.stdout) == "interleave:0"
    r = exec_process(runtime, "mx", {"args": ["head", "-1", "/proc/self/numa_maps"]}, tmp_path)
    assert numa_policy(r.stdout) == "interleave:0"
    assert numa_policy(run_ok(runtime, bundle(["head", "-1", "/proc/self/numa_maps"], name="plain"), "plain")) \
        == "default"


@pytest.mark.parametrize("policy,msg", [
    ({"mode": "MPOL_BIND", "nodes": "63"}, "linux.memoryPolicy: the kernel refused it: set_mempolicy"),
    ({"mode": "MPOL_DEFAULT", "nodes": "0"}, "linux.memoryPolicy.nodes: MPOL_DEFAULT takes no nodes"),
    ({"mode": "MPOL_BIND"}, "linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"),
    ({"mode": "MPOL_INTERLEAVE", "nodes": "0-x"}, "linux.memoryPolicy.nodes: invalid list '0-x'"),
    ({"mode": "MPOL_NOPE", "nodes": "0"}, "linux.memoryPolicy.mode"),
])
def test_memory_policy_refused_clearly_nothing_left(runtime, bundle, policy, msg):
    """A node that is not online: the kernel says EINVAL, in the init; the
    rest fails before anything exists. Either way: one line naming the
    field, no state, cgroup or process left."""
    b = bundle(["true"], edit=lambda c: c["linux"].__setitem__("memoryPolicy", policy))
    r = runtime("run", "--bundle", b, "mp")
    line = one_error_line(r)
    assert "config.json: " in line and msg in line, line
    assert_nothing_left(runtime, "mp")
    assert not ps_with(b)


# --- scheduler, ioPriority, personality for exec ----------------------------------------
def test_exec_scheduler_io_priority_personality(runtime, bundle, tmp_path):
    """The exec'd process gets its own scheduler and ioPriority (from
    --process) and the container's linux.personality."""
    def edit(c):
        c["process"]["args"] = SLEEP
        if os.uname().machine == "x86_64":
            c["linux"]["personality"] = {"domain": "LINUX32"}
        if RT_GROUP_SCHED:  # a real-time budget for the container's cgroup
            c["linux"].setdefault("resources", {})["cpu"] = {"realtimeRuntime": 10000, "realtimePeriod": 1000000}

    run_ok(runtime, bundle(edit=edit), "sx", "-d")
    script = "grep ^policy /proc/self/sched; cut -d' ' -f18,19 /proc/self/stat; ionice -p $$; uname -m"
    r = exec_process(runtime, "sx", {"args": ["sh", "-c", script],
                                     "scheduler": {"policy": "SCHED_FIFO", "priority": 7},
                                     "ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 3}}, tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert int(lines[0].split(":")[1]) == 1  # SCHED_FIFO
    assert lines[1].split()[0] == str(-1 - 7)  # /proc stat "priority" of an RT task: -1 - rt_priority
    assert lines[2].startswith("realtime: prio 3"), lines[2]
    if os.uname().machine == "x86_64":
        assert lines[3] == "i686"
    r = exec_process(runtime, "sx", {"args": ["sh", "-c", "grep ^policy /proc/self/sched; ionice -p $$"],
                                     "scheduler": {"policy": "SCHED_BATCH", "nice": 9}}, tmp_path)
    assert r.stdout.split() [:3] == ["policy", ":", "3"]
    assert r.stdout.splitlines()[1].startswith("none: prio") or "best-effort" in r.stdout


RT_GROUP_SCHED = os.path.exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us")


@pytest.mark.skipif(not RT_GROUP_SCHED, reason="needs real-time group scheduling (cgroup v1 cpu.rt_runtime_us)")
def test_real_time_policy_needs_a_budget(runtime, bundle):
    """SCHED_FIFO in a cgroup without a real-time budget: the kernel refuses
    it (EPERM) and the error says what is missing; with
    linux.resources.cpu.realtimeRuntime it runs."""
    def edit(c, budget):
        c["process"]["scheduler"] = {"policy": "SCHED_FIFO", "priority": 5}
        if budget:
            c["linux"].setdefault("resources", {})["cpu"] = {"realtimeRuntime": 10000, "realtimePeriod": 1000000}

    b = bundle(["grep", "^policy", "/proc/self/sched"], edit=lambda c: edit(c, False))
    line = one_error_line(runtime("run", "--bundle", b, "rt"))
    assert "config.json: process.scheduler: sched_setattr: Operation not permitted" in line, line
    assert "linux.resources.cpu.realtimeRuntime" in line
    assert_nothing_left(runtime, "rt")
    b = bundle(["grep", "^policy", "/proc/self/sched"], edit=lambda c: edit(c, True), name="budget")
    assert run_ok(runtime, b, "rt").split()[-1] == "1"


def test_scheduler_the_kernel_refuses_names_the_field(runtime, bundle, tmp_path):
    """SCHED_DEADLINE with runtime > deadline: EINVAL from sched_setattr."""
    bad = {"policy": "SCHED_DEADLINE", "runtime": 2000000, "deadline": 1000000, "period": 3000000}
    b = bundle(["true"], edit=lambda c: c["process"].__setitem__("scheduler", bad))
    line = one_error_line(runtime("run", "--bundle", b, "sd"))
    assert "config.json: process.scheduler: sched_setattr: Invalid argument" in line, line
    assert_nothing_left(runtime, "sd")
    run_ok(runtime, bundle(SLEEP, name="b2"), "sd2", "-d")
    r = exec_process(runtime, "sd2", {"args": ["true"], "scheduler": bad}, tmp_path)
    line = one_error_line(r)
    assert f"{tmp_path}/process-" in line and ".json: scheduler: sched_setattr: Invalid argument" in line, line


# --- AppArmor, SELinux -------------------------------------------------------------------
from ocipy.launcher import lsm  # noqa: E402

no_apparmor = pytest.mark.skipif(lsm.apparmor_enabled(), reason="the host runs AppArmor")
no_selinux = pytest.mark.skipif(lsm.selinux_enabled(), reason="the host runs SELinux")


@no_apparmor
@no_selinux
@pytest.mark.parametrize("where,field,value", [
    ("process", "apparmorProfile", "docker-default"),
    ("process", "selinuxLabel", "system_u:system_r:container_t:s0:c1,c2"),
    ("linux", "mountLabel", "system_u:object_r:container_file_t:s0:c1,c2"),
])
def test_lsm_field_on_a_host_without_it(runtime, bundle, where, field, value):
    b = bundle(["true"], edit=lambda c: c[where].__setitem__(field, value))
    for cmd in (("run",), ("create",)):
        r = runtime(*cmd, "--bundle", b, "lsm")
        line = one_error_line(r)
        module = "AppArmor" if field == "apparmorProfile" else "SELinux"
        assert line == (f'ocipy: {b}/config.json: {where}.{field}: "{value}": {module} is disabled or not '
                        f"supported on this host (the {'profile' if module == 'AppArmor' else 'label'} "
                        "cannot be applied)"), line
        assert_nothing_left(runtime, "lsm")
    with open("/proc/self/mountinfo") as f:  # (other tests' mounts come and go: only ours count)
        mounts = f.read()
    assert b not in mounts and runtime.root not in mounts


def test_lsm_empty_strings_are_not_set(runtime, bundle):
    def edit(c):
        c["process"]["apparmorProfile"] = ""
        c["process"]["selinuxLabel"] = ""
        c["linux"]["mountLabel"] = ""

    assert run_ok(runtime, bundle(["echo", "ran"], edit=edit)) == "ran\n"


@no_apparmor
@no_selinux
def test_lsm_exec_flags_and_process_json(runtime, bundle, tmp_path):
    """exec shares create's implementation: --apparmor / --process-label
    (over the config's process) and the fields of --process."""
    run_ok(runtime, bundle(SLEEP), "lx", "-d")
    r = runtime("exec", "--apparmor", "unconfined-x", "lx", "true")
    assert one_error_line(r).startswith('ocipy: --apparmor: "unconfined-x": AppArmor is disabled or not supported')
    assert r.returncode == 255
    r = runtime("exec", "--process-label", "system_u:system_r:t:s0", "lx", "true")
    assert one_error_line(r).startswith('ocipy: --process-label: "system_u:system_r:t:s0": SELinux is disabled')
    r = exec_process(runtime, "lx", {"args": ["true"], "apparmorProfile": "p1"}, tmp_path)
    assert ': apparmorProfile: "p1": AppArmor is disabled' in one_error_line(r)
    r = exec_process(runtime, "lx", {"args": ["true"], "selinuxLabel": "l1"}, tmp_path)
    assert ': selinuxLabel: "l1": SELinux is disabled' in one_error_line(r)
    r = exec_process(runtime, "lx", {"args": ["echo", "ok"], "apparmorProfile": "", "selinuxLabel": ""}, tmp_path)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


def test_features_report_lsm_as_the_host_has_it(runtime):
    r = runtime("features", root=False)
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)["linux"]
    assert f["apparmor"] == {"enabled": lsm.apparmor_enabled()}
    assert f["selinux"] == {"enabled": lsm.selinux_enabled()}
    # features-linux.md memoryPolicy: every mode and flag the spec declares (models.py), recognised
    import typing

    from ocipy.spec.models import MemoryPolicy

    fields = MemoryPolicy.model_fields
    assert set(f["memoryPolicy"]["modes"]) == set(typing.get_args(fields["mode"].annotation))
    flag_type = typing.get_args(fields["flags"].annotation)[0]
    assert set(f["memoryPolicy"]["flags"]) == set(typing.get_args(flag_type))
    if not os.path.exists("/sys/module/apparmor/parameters/enabled"):
        assert f["apparmor"]["enabled"] is False
    if not os.path.exists("/sys/fs/selinux/enforce"):
        assert f["selinux"]["enabled"] is False


# --- LISTEN_FDS (socket activation) --------------------------------------------------------
FD_SCRIPT = ("echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID; ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; "
             "cat <&3; cat <&4; cat <&5 2>/dev/null || echo no-fd-5")


def activated(rt, args, tmp_path, listen_fds: str = "2", listen_pid: str = "$$", stdout=subprocess.PIPE):
    """Run `rt args...` as systemd would after socket activation: fds 3, 4
    and 5 open (files one, two, three), LISTEN_FDS, LISTEN_PID = its pid
    (the shell's, kept by exec)."""
    for i, word in enumerate(("one", "two", "three")):
        (tmp_path / f"f{i}").write_text(word + "\n")
    env = _env()
    env.pop("LISTEN_FDS", None)
    env.pop("LISTEN_PID", None)
    script = (f'exec 3<"{tmp_path}/f0" 4<"{tmp_path}/f1" 5<"{tmp_path}/f2"; '
              f'LISTEN_FDS={listen_fds} LISTEN_PID={listen_pid} exec "$@"')
    return subprocess.run(["sh", "-c", script, "sh", *rt.cmd(*args)], stdout=stdout, stderr=stdout, text=True,
                          timeout=60, env=env, cwd=REPO, stdin=subprocess.DEVNULL)


def test_listen_fds_with_preserve_fds_as_runc(runtime, runc, bundle, tmp_path):
    """LISTEN_FDS=2 (our pid): fds 3, 4 go on, then --preserve-fds 1 more
    (5); the process sees LISTEN_FDS=2 LISTEN_PID=1 (runc's values)."""
    b = bundle(["sh", "-c", FD_SCRIPT])
    outs = {}
    for rt in (runtime, runc):
        r = activated(rt, ["run", "--preserve-fds", "1", "--bundle", b, "lf"], tmp_path)
        assert r.returncode == 0, f"{rt.name}: {r.stderr}"
        outs[rt.name] = r.stdout
    lines = outs["ocipy"].splitlines()
    assert lines[0] == "LISTEN_FDS=2 LISTEN_PID=1"
    assert lines[1].split() == ["0", "1", "2", "3", "4", "5", "6"]  # 6: ls's own directory
    assert lines[2:] == ["one", "two", "three"]
    assert outs["ocipy"] == outs["runc"]


def test_listen_fds_create_start(runtime, bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def edit(c):
        c["process"]["args"] = ["sh", "-c", "{ " + FD_SCRIPT + "; } >/out/fds 2>&1"]
        c["mounts"].append({"destination": "/out", "source": str(out), "type": "bind", "options": ["rbind"]})

    b = bundle(edit=edit)
    with open(tmp_path / "create.log", "w") as log:  # (the init keeps create's stdio: no pipe)
        r = activated(runtime, ["create", "--bundle", b, "lc"], tmp_path, listen_fds="3", stdout=log)
    assert r.returncode == 0, (tmp_path / "create.log").read_text()
    assert runtime("start", "lc").returncode == 0
    deadline = time.monotonic() + 10
    while runtime.state("lc")["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = (out / "fds").read_text().splitlines()
    # (ls's own directory fd is 6: 0-2, the three LISTEN_FDS, nothing else)
    assert lines[0] == "LISTEN_FDS=3 LISTEN_PID=1"
    assert lines[1].split() == ["0", "1", "2", "3", "4", "5", "6"]
    assert lines[2:] == ["one", "two", "three"]


@pytest.mark.parametrize("listen_pid", ["1", "", "$(($$ + 1))"])
def test_listen_fds_for_another_process_are_ignored(runtime, runc, bundle, tmp_path, listen_pid):
    """LISTEN_PID not ours: nothing is passed, nothing is set (runc)."""
    b = bundle(["sh", "-c", FD_SCRIPT])
    outs = []
    for rt in (runtime, runc):
        r = activated(rt, ["run", "--bundle", b, "ln"], tmp_path, listen_pid=listen_pid)
        outs.append(r.stdout)
    lines = outs[0].splitlines()
    assert lines[0] == "LISTEN_FDS= LISTEN_PID=" and lines[1].split() == ["0", "1", "2", "3"], outs[0]
    assert outs[0] == outs[1]


def test_listen_fds_not_for_exec_as_runc(runtime, runc, bundle, tmp_path):
    """runc's exec never looks at LISTEN_FDS: only --preserve-fds counts."""
    outs = []
    for rt in (runtime, runc):
        run_ok(rt, bundle(SLEEP, name=f"b-{rt.name}"), "le", "-d")
        r = activated(rt, ["exec", "--preserve-fds", "1", "le", "sh", "-c", FD_SCRIPT], tmp_path)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
        rt("delete", "-f", "le")
    lines = outs[0].splitlines()
    assert lines[0] == "LISTEN_FDS= LISTEN_PID=" and lines[1].split() == ["0", "1", "2", "3", "4"], outs[0]
    assert lines[2:] == ["one", "no-fd-5"], outs[0]
    assert outs[0] == outs[1]


# --- NOTIFY_SOCKET ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sdnotify(tmp_path_factory):
    """A static sd_notify sender for busybox containers (data/sdnotify.c)."""
    gcc = shutil.which("gcc")
    if not gcc:
        pytest.skip("gcc is needed to build the static sd_notify sender")
    out = str(tmp_path_factory.mktemp("sdnotify") / "sdnotify")
    r = subprocess.run([gcc, "-static", "-Os", "-o", out, os.path.join(DATA, "sdnotify.c")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build a static binary: {r.stderr.strip()[:200]}")
    return out


class HostSocket:
    """The host's NOTIFY_SOCKET (what systemd listens on): a datagram socket
    whose messages are collected while a runtime command runs. Fds that
    come with a message (BARRIER=1) are closed at once, as systemd does."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path if not path.startswith("@") else "\0" + path[1:])
        self.msgs: list[tuple[bytes, int]] = []

    def close(self) -> None:
        self.sock.close()
        if not self.path.startswith("@"):
            os.unlink(self.path)

    def _take(self, timeout: float) -> bool:
        if not select.select([self.sock], [], [], timeout)[0]:
            return False
        data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(16))
        nfds = 0
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                for i in range(0, len(payload) - len(payload) % 4, 4):
                    os.close(int.from_bytes(payload[i:i + 4], "little"))
                    nfds += 1
        self.msgs.append((data, nfds))
        return True

    def run(self, rt, *args, timeout: float = 30):
        """Run `rt args` with NOTIFY_SOCKET set, its stdio in files (a
        container's init keeps them: a pipe would never see EOF)."""
        import tempfile

        env = dict(_env(), NOTIFY_SOCKET=self.path)
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            p = subprocess.Popen(rt.cmd(*args), stdout=out, stderr=err, text=True, env=env, cwd=REPO,
                                 stdin=subprocess.DEVNULL)
            end = time.monotonic() + timeout
            while p.poll() is None and time.monotonic() < end:
                self._take(0.05)
            while self._take(0.05):
                pass
            if p.poll() is None:
                p.kill()
            p.wait()
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read()), p.pid


@pytest.fixture
def host_socket(tmp_path):
    s = HostSocket(str(tmp_path / "host-notify.sock"))
    yield s
    s.close()


def notify_bundle(bundle, sdnotify, script: str, name: str = "bundle", edit=None):
    def ed(c):
        c["process"]["args"] = ["sh", "-c", script]
        if edit:
            edit(c)

    b = bundle(edit=ed, name=name)
    shutil.copy(sdnotify, os.path.join(b, "rootfs", "sdnotify"))
    return b


READY_THEN_SLEEP = ("exec >/dev/null 2>&1 </dev/null; /sdnotify STATUS=starting; sleep 0.3; "
                    "/sdnotify 'STATUS=up\nREADY=1'; exec sleep 1000")


def test_notify_run_detached_as_runc(runtime, runc, bundle, sdnotify, host_socket):
    """run -d returns once the container said READY=1; the host gets READY=1
    then MAINPID=<the init> (runc's two lines), then BARRIER=1 with an fd
    (newer runc's sd_notify_barrier)."""
    b = notify_bundle(bundle, sdnotify, READY_THEN_SLEEP.replace("'STATUS=up\nREADY=1'", "READY=1"))
    got = {}
    for rt in (runtime, runc):
        host_socket.msgs.clear()
        start = time.monotonic()
        r, _ = host_socket.run(rt, "run", "-d", "--bundle", b, "nd")
        took = time.monotonic() - start
        assert r.returncode == 0, f"{rt.name}: {r.stderr}"
        assert took >= 0.3, f"{rt.name} returned before the container was ready ({took:.2f}s)"
        pid = rt.state("nd")["pid"]
        got[rt.name] = [m for m in host_socket.msgs if m[0] != b"BARRIER=1"]
        assert got[rt.name] == [(b"READY=1\n", 0), (f"MAINPID={pid}\n".encode(), 0)], (rt.name, host_socket.msgs)
        if rt is runtime:
            assert host_socket.msgs[-1] == (b"BARRIER=1", 1)
        assert rt("delete", "-f", "nd").returncode == 0


def test_notify_inside_the_container(runtime, bundle, sdnotify, host_socket):
    """NOTIFY_SOCKET=/run/notify/notify.sock, the directory bound read-only,
    nosuid, nodev, noexec (runc's mount); STATUS lines are not forwarded."""
    script = ("echo NOTIFY_SOCKET=$NOTIFY_SOCKET; grep ' /run/notify ' /proc/self/mountinfo | cut -d' ' -f6; "
              "ls /run/notify; /sdnotify 'STATUS=up\nREADY=1'")
    b = notify_bundle(bundle, sdnotify, script)
    r, run_pid = host_socket.run(runtime, "run", "--bundle", b, "ni")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "NOTIFY_SOCKET=/run/notify/notify.sock"
    assert set(lines[1].split(",")) >= {"ro", "nosuid", "nodev", "noexec"}, lines[1]
    assert lines[2] == "notify.sock"
    # a foreground run stays the main process: MAINPID is its own pid (runc)
    assert host_socket.msgs == [(b"READY=1\n", 0), (f"MAINPID={run_pid}\n".encode(), 0), (b"BARRIER=1", 1)]
    assert_nothing_left(runtime, "ni")


def test_notify_create_then_start_waits_for_ready(runtime, runc, bundle, sdnotify, host_socket):
    """(runc 1.1.5 misses a READY= that is not its datagram's first line, and
    then waits for the container's exit: it gets READY=1 alone.)"""
    for rt in (runtime, runc):
        script = READY_THEN_SLEEP if rt is runtime else READY_THEN_SLEEP.replace("'STATUS=up\nREADY=1'", "READY=1")
        b = notify_bundle(bundle, sdnotify, script, name=f"b-{rt.name}")
        host_socket.msgs.clear()
        r, _ = host_socket.run(rt, "create", "--bundle", b, "ns")
        assert r.returncode == 0, r.stderr
        assert host_socket.msgs == []
        assert os.path.isdir(os.path.join(rt.root, "ns", "notify"))
        start = time.monotonic()
        r, _ = host_socket.run(rt, "start", "ns")
        assert r.returncode == 0, f"{rt.name}: {r.stderr}"
        assert time.monotonic() - start >= 0.3
        pid = rt.state("ns")["pid"]
        want = [(b"READY=1\n", 0), (f"MAINPID={pid}\n".encode(), 0)] + ([(b"BARRIER=1", 1)] if rt is runtime else [])
        assert host_socket.msgs == want, rt.name
        assert rt("delete", "-f", "ns").returncode == 0
    assert not os.path.exists(os.path.join(runtime.root, "ns"))


def test_notify_start_returns_when_the_container_exits_unready(runtime, bundle, sdnotify, host_socket):
    b = notify_bundle(bundle, sdnotify, "/sdnotify STATUS=bye; exit 3")
    r, _ = host_socket.run(runtime, "run", "-d", "--bundle", b, "nx", timeout=20)
    assert r.returncode == 0, r.stderr
    assert host_socket.msgs == []
    assert runtime("delete", "nx").returncode == 0
    assert runtime.ids() == []


def test_notify_abstract_host_socket(runtime, bundle, sdnotify):
    s = HostSocket(f"@ocipy-test-notify-{os.getpid()}")
    try:
        b = notify_bundle(bundle, sdnotify, "/sdnotify READY=1")
        r, run_pid = s.run(runtime, "run", "--bundle", b, "na")
        assert r.returncode == 0, r.stderr
        assert s.msgs[:2] == [(b"READY=1\n", 0), (f"MAINPID={run_pid}\n".encode(), 0)]
    finally:
        s.close()


def test_notify_unreachable_host_socket_fails_before_the_program(runtime, bundle, sdnotify, tmp_path):
    """The host's NOTIFY_SOCKET cannot be reached: `run` fails before the
    program runs, nothing left; `start` fails and the container stays
    created (as before the start)."""
    marker = tmp_path / "ran"
    out = tmp_path / "out"
    out.mkdir()

    def edit(c):
        c["mounts"].append({"destination": "/out", "source": str(out), "type": "bind", "options": ["rbind"]})

    b = notify_bundle(bundle, sdnotify, "touch /out/ran; /sdnotify READY=1", edit=edit)
    env = dict(_env(), NOTIFY_SOCKET=str(tmp_path / "nobody-listens"))
    r = subprocess.run(runtime.cmd("run", "--bundle", b, "nu"), capture_output=True, text=True, env=env,
                       cwd=REPO, stdin=subprocess.DEVNULL, timeout=30)
    line = one_error_line(r)
    assert f"NOTIFY_SOCKET={tmp_path}/nobody-listens: connect: No such file or directory" in line, line
    assert_nothing_left(runtime, "nu")
    assert not (out / "ran").exists()
    with open(tmp_path / "create.log", "w+") as log:  # (the init keeps create's stdio: no pipe)
        r = subprocess.run(runtime.cmd("create", "--bundle", b, "nu"), stdout=log, stderr=log, env=env,
                           cwd=REPO, stdin=subprocess.DEVNULL, timeout=30)
    assert r.returncode == 0, (tmp_path / "create.log").read_text()
    r = subprocess.run(runtime.cmd("start", "nu"), capture_output=True, text=True, env=env,
                       cwd=REPO, stdin=subprocess.DEVNULL, timeout=30)
    assert "connect: No such file or directory" in one_error_line(r)
    assert runtime.state("nu")["status"] == "created"
    assert not marker.exists() and not (out / "ran").exists()
    assert runtime("delete", "-f", "nu").returncode == 0
    assert runtime.ids() == []


def test_no_notify_socket_no_notify_dir(runtime, bundle, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    b = bundle(SLEEP)
    run_ok(runtime, b, "nn", "-d")
    assert os.listdir(os.path.join(runtime.root, "nn")) == ["state.json"]
    r = runtime("exec", "nn", "sh", "-c", "echo [$NOTIFY_SOCKET]; ls /run/notify 2>&1 || true")
    assert r.stdout.startswith("[]\n") and "No such file" in r.stdout


# --- the hot path stays lean ---------------------------------------------------------------
def test_features_load_only_when_configured(runtime, bundle, sdnotify, host_socket, tmp_path):
    """create/start/exec of a plain container never import the LSM or
    sd_notify code (nor socket); with NOTIFY_SOCKET set they do (the probe
    sees them)."""
    from test_hotpath_live import _imported, importtime_argv

    base = importtime_argv()
    base += ["--root", runtime.root]
    ours = {"ocipy.launcher.lsm", "ocipy.launcher.notify", "socket"}

    def imports(args, env=None) -> set:
        err = tmp_path / "err"
        with open(err, "w") as ef:
            p = subprocess.Popen(base + args, stdin=subprocess.DEVNULL, stdout=ef, stderr=ef, env=env)
            end = time.monotonic() + 60
            while p.poll() is None and time.monotonic() < end:
                host_socket._take(0.05)  # (answers BARRIER=1 as systemd would)
            if p.poll() is None:
                p.kill()
        text = err.read_text()
        assert p.wait() == 0, text[-2000:]
        return _imported(text)

    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID")}
    b = bundle(SLEEP)
    for args in (["create", "--bundle", b, "hp"], ["start", "hp"], ["exec", "hp", "true"]):
        got = imports(args, env)
        assert "ocipy.main" in got and not got & ours, (args[0], got & ours)
    runtime("delete", "-f", "hp")
    b = notify_bundle(bundle, sdnotify, "/sdnotify READY=1; exec sleep 1000 >/dev/null 2>&1", name="nb")
    env["NOTIFY_SOCKET"] = host_socket.path
    assert "ocipy.launcher.notify" in imports(["create", "--bundle", b, "hp"], env)
    got = imports(["start", "hp"], env)
    assert {"ocipy.launcher.notify", "socket"} <= got
    assert host_socket.msgs[0] == (b"READY=1\n", 0)
