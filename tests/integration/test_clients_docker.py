"""ocipy under Docker 20.10: a private dockerd (own --data-root, --exec-root,
--pidfile, socket and daemon.json) on a private containerd, with
`--add-runtime ocipy=<ocipy>`; driven with Debian's /usr/bin/docker.

Networking: the default bridge network on a bridge this module creates
(unique name, 10.x/24 address), with --iptables=false --ip-forward=false
--ip-masq=false, so no host firewall rule or sysctl changes. Every container
then gets a new network namespace, and Docker's libnetwork prestart hook
(`/proc/<dockerd>/exe libnetwork-setkey ...`) in its config.json: the
runtime must run it at the right time with the state on stdin, or the
container has no eth0.

Every scenario runs with ocipy and with runc: runc proves the test. Docker
gives every container linux.seccomp (its default profile): every test runs
under it, and test_default_seccomp_profile checks it is loaded.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import re
import subprocess
import tempfile
import time

import pytest

import clientlib as cl

for _b in (cl.DOCKERD, cl.DOCKER, cl.CONTAINERD, cl.SHIM):
    if not os.access(_b, os.X_OK):
        pytest.skip(f"{_b} not installed (apt-get install docker.io containerd)", allow_module_level=True)

IMAGE = "busybox:ocipy"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
# the client sets the window size once the process runs: wait for it (10 s at most)
WAIT_SIZE = ('i=0; while [ $i -lt 200 ]; do s=$(stty size 2>/dev/null); case "$s" in [1-9]*) break;; esac; '
             'sleep 0.05; i=$((i+1)); done; echo "$s"')


class Ctx:
    def __init__(self, ctrd: cl.Containerd, dockerd: cl.Dockerd, runtimes: dict, base: str,
                 subnet: str) -> None:
        self.ctrd = ctrd
        self.d = dockerd
        self.runtimes = runtimes
        self.base = base
        self.subnet = subnet              # "10.x.y" (the bridge is .1)

    def bundle(self, cid: str) -> str:
        return os.path.join(self.ctrd.state, "io.containerd.runtime.v2.task", "moby", cid)


@pytest.fixture(scope="module")
def docker():
    # not under pytest's 0700 tmp tree: a user namespace's root (ctr --uidmap)
    # must reach the rootfs; short paths for the sockets too
    base = tempfile.mkdtemp(prefix="ocipy-dockerd-", dir="/tmp")
    os.chmod(base, 0o711)
    had_run_containerd = os.path.exists("/run/containerd")
    subnet = f"10.{random.randint(100, 250)}.{random.randint(1, 250)}"
    ctrd = d = bridge = None
    try:
        img = os.path.join(base, "img")
        os.makedirs(img)
        rootfs = cl.build_rootfs(img)
        layer = os.path.join(img, "layer.tar")
        cl.layer_tar(rootfs, layer)
        cl.safe_rmtree(os.path.join(img, "bundle"))
        runtimes = cl.runtimes(base)
        bridge = cl.new_bridge(f"{subnet}.1/24")
        ctrd = cl.Containerd(os.path.join(base, "ctrd")).start()
        d = cl.Dockerd(os.path.join(base, "docker"), ctrd, runtimes, bridge=bridge)
        try:
            d.start(storage_driver="overlay2")
        except RuntimeError:
            d = cl.Dockerd(os.path.join(base, "docker-vfs"), ctrd, runtimes, bridge=bridge).start("vfs")
        r = d.docker("import", "--change", 'CMD ["sh"]', "--change", f"ENV PATH={cl.PATH_ENV}",
                     layer, IMAGE, timeout=120)
        assert r.returncode == 0, r.stderr
        yield Ctx(ctrd, d, runtimes, base, subnet)
    finally:
        if d:
            d.stop()
        if ctrd:
            ctrd.stop()
        if bridge:
            cl.del_link(bridge)
        cl.rmdir_cgroup_tree(d.cgroup_parent if d else "")
        if not had_run_containerd:
            for p in ("/run/containerd/s", "/run/containerd"):
                try:
                    os.rmdir(p)
                except OSError:
                    pass
        cl.safe_rmtree(base)


_ids = itertools.count(1)


class Docker:
    """`docker` bound to our daemon and one runtime (--runtime NAME)."""

    def __init__(self, ctx: Ctx, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.binary = ctx.runtimes[name]
        self.cg = ctx.d.cgroup_parent
        self.names: list[str] = []
        self.ids: list[str] = []

    def new_name(self, what: str) -> str:
        n = f"{what}-{self.name}-{next(_ids)}"
        self.names.append(n)
        return n

    def __call__(self, *args, timeout: float = 60, input=None) -> subprocess.CompletedProcess:
        r = self.ctx.d.docker(*args, timeout=timeout, input=input)
        # the client's own warning when the host's ip_forward is 0 (we do not change it;
        # the bridge is still reachable from the host side)
        r.stderr = "".join(ln for ln in r.stderr.splitlines(keepends=True)
                           if not ln.startswith("WARNING: IPv4 forwarding is disabled"))
        return r

    def argv(self, *args) -> list[str]:
        return self.ctx.d.argv(*args)

    def run(self, *cmd, opts=(), timeout: float = 60) -> subprocess.CompletedProcess:
        """`docker run --rm` in the foreground (exit status = the container's)."""
        name = self.new_name("run")
        return self("run", "--rm", "--name", name, "--runtime", self.name, *opts, IMAGE, *cmd,
                    timeout=timeout)

    def run_d(self, name: str, *cmd, opts=()) -> str:
        r = self("run", "-d", "--name", name, "--runtime", self.name, *opts, IMAGE, *cmd)
        assert r.returncode == 0, f"docker run -d ({self.name}): {r.stderr}"
        cid = r.stdout.strip()
        self.ids.append(cid)
        return cid

    def inspect(self, name: str, fmt: str) -> str:
        r = self("inspect", "-f", fmt, name)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def pid(self, name: str) -> int:
        return int(self.inspect(name, "{{.State.Pid}}"))

    def leftovers(self) -> list[str]:
        """Anything left once the test is over (tests run one at a time, so
        nothing at all may remain): containers, the runtime's state (Docker
        gives every runtime the Root <exec-root>/runtime-runc), cgroups under
        the daemon's cgroup parent, shims, processes of the containers."""
        left = []
        ps = self("ps", "-aq").stdout.split()
        if ps:
            left.append(f"containers: {ps}")
            self("rm", "-f", *ps)
        rroot = os.path.join(self.ctx.d.exec_root, "runtime-runc", "moby")
        state = [n for n in os.listdir(rroot) if not n.startswith(".")] if os.path.isdir(rroot) else []
        if state:       # (dot-entries are no container)
            left.append(f"runtime state in {rroot}: {state}")
        for top in cl.cgroup_dirs(self.cg):
            subs = [n for n in os.listdir(top) if os.path.isdir(os.path.join(top, n))]
            if subs:
                left.append(f"cgroups in {top}: {subs}")
        for cid in self.ids:
            if cl.pids_with_arg(cid):
                left.append(f"processes of {cid[:12]}: {cl.pids_with_arg(cid)}")
        if not cl.wait_until(lambda: not self.ctx.ctrd.shims(), 10):
            left.append(f"shims: {self.ctx.ctrd.shims()}")
        return left


@pytest.fixture(params=["ocipy", "runc"])
def rt(request, docker):
    if request.param not in docker.runtimes:
        pytest.skip(f"{request.param} not installed")
    c = Docker(docker, request.param)
    yield c
    left = c.leftovers()
    assert not left, f"{c.name} left behind: {left}"


def fds_of(pid: int) -> dict[int, str]:
    fds = {}
    for n in os.listdir(f"/proc/{pid}/fd"):
        try:
            fds[int(n)] = os.readlink(f"/proc/{pid}/fd/{n}")
        except FileNotFoundError:
            pass
    return fds


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


SCRIPT = ("trap 'echo USR1 > /tmp/usr1' USR1; trap 'echo got-TERM; exit 0' TERM; "
          "echo ready > /tmp/ready; while :; do sleep 0.05; done")


def _ready(rt, name):
    return cl.wait_until(lambda: rt("exec", name, "cat", "/tmp/ready").stdout == "ready\n", 10)


# -- run ---------------------------------------------------------------------------

def test_run_output_and_exit_code(rt):
    r = rt.run("sh", "-c", "echo out-$((6*7)); echo err >&2; exit 3")
    assert r.returncode == 3, r.stderr
    assert r.stdout == "out-42\n" and r.stderr == "err\n", (r.stdout, r.stderr)
    r = rt.run("true")
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stderr


def test_env_workdir_user_readonly_bind(rt, tmp_path):
    (tmp_path / "f").write_text("from-host\n")
    os.chmod(tmp_path, 0o755)
    r = rt.run("sh", "-c", 'echo "$FOO"; pwd; id; cat /b/f; touch /b/x 2>/dev/null && echo bind-rw; '
                           'touch /y 2>/dev/null && echo root-rw; echo done',
               opts=["-e", "FOO=bar", "-w", "/tmp/wd", "--user", "1000:1000", "--read-only",
                     "-v", f"{tmp_path}:/b:ro"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["bar", "/tmp/wd", "uid=1000(user) gid=1000(user) groups=1000(user)",
                                     "from-host", "done"], r.stdout
    assert not (tmp_path / "x").exists()


def test_memory_and_pids_limits_observed_inside(rt):
    """16 MiB: a 32 MiB buffer is OOM-killed, 4 MiB is not; pids 8: the
    8th fork fails. Both also as the cgroup files the container sees."""
    r = rt.run("sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; "
                           "dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null; echo big=$?; "
                           "dd if=/dev/zero of=/dev/null bs=4M count=1 2>/dev/null; echo small=$?; "
                           "(for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done) 2>/dev/null; "
                           "read n < /sys/fs/cgroup/pids/pids.current; echo procs=$n; kill -9 -1",
               opts=["--memory", "16m", "--memory-swap", "16m", "--pids-limit", "8"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:4] == [str(16 << 20), "8", "big=137", "small=0"], r.stdout
    # 10 sleeps asked for: the limit holds sh + the subshell + 6 of them; once
    # the subshell has exited, 7 ("read" is a builtin: no fork)
    assert lines[4:] == ["procs=7"], r.stdout


def test_run_tty_without_a_terminal(rt):
    """`docker run -t` from a test (no terminal): the container still gets a pty."""
    r = rt.run("sh", "-c", "tty; exit 4", opts=["-t"])
    assert r.returncode == 4, r.stderr
    assert r.stdout.replace("\r", "").splitlines() == ["/dev/pts/0"], r.stdout


def test_run_tty_under_a_pty(rt):
    name = rt.new_name("tty")
    rc, out = cl.run_in_pty(rt.argv("run", "--rm", "-it", "--name", name, "--runtime", rt.name, IMAGE,
                                    "sh", "-c", "tty; " + WAIT_SIZE + "; exit 5"))
    assert rc == 5, out
    lines = out.replace("\r", "").splitlines()
    assert "/dev/pts/0" in lines and "33 77" in lines, out


# -- a detached container ----------------------------------------------------------

def test_detached_exec_top_stats_pause(rt):
    name = rt.new_name("det")
    cid = rt.run_d(name, "sh", "-c", SCRIPT)
    try:
        assert _ready(rt, name)
        pid = rt.pid(name)
        r = rt("exec", name, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 4")
        assert r.returncode == 4 and "sh -c trap" in r.stdout, (r.stdout, r.stderr)
        r = rt("exec", "-u", "1000:1000", "-w", "/tmp", "-e", "X=y", name, "sh", "-c", 'id -u; pwd; echo $X')
        assert r.returncode == 0 and r.stdout == "1000\n/tmp\ny\n", (r.stdout, r.stderr)
        # top: the runtime's `ps --format json` + the host's ps
        r = rt("top", name, "-o", "pid,args")
        assert r.returncode == 0, r.stderr
        assert str(pid) in r.stdout.split() and "trap" in r.stdout, r.stdout
        # stats: the shim's cgroup reading
        r = rt("stats", "--no-stream", "--format", "{{json .}}", name)
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["Name"] == name and int(st["PIDs"]) >= 1 and not st["MemUsage"].startswith("0B"), st
        # pause / unpause
        assert rt("pause", name).returncode == 0
        assert rt.inspect(name, "{{.State.Status}}") == "paused"
        assert read(f"/sys/fs/cgroup/freezer{rt.cg}/{cid}/freezer.state") == "FROZEN"
        assert rt("unpause", name).returncode == 0
        assert rt.inspect(name, "{{.State.Status}}") == "running"
        assert read(f"/sys/fs/cgroup/freezer{rt.cg}/{cid}/freezer.state") == "THAWED"
        assert rt("exec", name, "true").returncode == 0
    finally:
        rt("rm", "-f", name)


def test_exec_tty(rt):
    name = rt.new_name("etty")
    rt.run_d(name, "sleep", "1000")
    try:
        rc, out = cl.run_in_pty(rt.argv("exec", "-it", name, "sh", "-c", "tty; " + WAIT_SIZE + "; exit 6"))
        assert rc == 6, out
        lines = out.replace("\r", "").splitlines()
        assert any(re.fullmatch(r"/dev/pts/\d+", ln) for ln in lines) and "33 77" in lines, out
        # -t without a terminal of ours
        r = rt("exec", "-t", name, "tty")
        assert r.returncode == 0 and re.fullmatch(r"/dev/pts/\d+", r.stdout.strip()), (r.stdout, r.stderr)
    finally:
        rt("rm", "-f", name)


def test_update_memory_pids_cpu(rt):
    name = rt.new_name("upd")
    cid = rt.run_d(name, "sleep", "1000", opts=["--memory", "128m", "--memory-swap", "128m"])
    try:
        r = rt("update", "--memory", "64m", "--memory-swap", "64m", "--pids-limit", "33", "--cpus", "0.5", name)
        assert r.returncode == 0, r.stderr
        assert read(f"/sys/fs/cgroup/memory{rt.cg}/{cid}/memory.limit_in_bytes") == str(64 << 20)
        assert read(f"/sys/fs/cgroup/pids{rt.cg}/{cid}/pids.max") == "33"
        quota = int(read(f"/sys/fs/cgroup/cpu{rt.cg}/{cid}/cpu.cfs_quota_us"))
        period = int(read(f"/sys/fs/cgroup/cpu{rt.cg}/{cid}/cpu.cfs_period_us"))
        assert quota * 2 == period, (quota, period)
        r = rt("exec", name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
               "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        assert r.stdout.split() == [str(64 << 20), "33", str(quota)], r.stdout
        assert rt.inspect(name, "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}") == f"{64 << 20} 33"
    finally:
        rt("rm", "-f", name)


def test_stop_when_term_is_handled(rt):
    name = rt.new_name("term")
    rt.run_d(name, "sh", "-c", SCRIPT)
    try:
        assert _ready(rt, name)
        t = time.monotonic()
        r = rt("stop", "-t", "10", name)
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t < 8, "stop waited for the timeout: TERM was not delivered"
        assert rt.inspect(name, "{{.State.ExitCode}}") == "0"
        assert "got-TERM" in rt("logs", name).stdout
    finally:
        rt("rm", "-f", name)


def test_stop_when_term_is_ignored_kills_after_timeout(rt):
    name = rt.new_name("ign")
    rt.run_d(name, "sh", "-c", "trap '' TERM; echo ready > /tmp/ready; while :; do sleep 0.05; done")
    try:
        assert _ready(rt, name)
        t = time.monotonic()
        r = rt("stop", "-t", "1", name)
        took = time.monotonic() - t
        assert r.returncode == 0, r.stderr
        assert 0.9 < took < 10, took
        assert rt.inspect(name, "{{.State.ExitCode}}") == "137"
    finally:
        rt("rm", "-f", name)


def test_kill_usr1_is_trapped(rt):
    name = rt.new_name("usr1")
    rt.run_d(name, "sh", "-c", SCRIPT)
    try:
        assert _ready(rt, name)
        assert rt("kill", "-s", "USR1", name).returncode == 0
        assert cl.wait_until(lambda: rt("exec", name, "cat", "/tmp/usr1").stdout == "USR1\n", 10)
        assert rt.inspect(name, "{{.State.Status}}") == "running"
    finally:
        rt("rm", "-f", name)


def test_rm_force_leaves_nothing(rt):
    name = rt.new_name("rm")
    cid = rt.run_d(name, "sleep", "1000")
    pid = rt.pid(name)
    rroot = os.path.join(rt.ctx.d.exec_root, "runtime-runc", "moby", cid)
    assert os.path.isdir(rroot), "the runtime's state is not under Docker's Root option"
    assert cl.cgroup_dirs(f"{rt.cg}/{cid}")
    assert os.path.isdir(rt.ctx.bundle(cid))
    r = rt("rm", "-f", name)
    assert r.returncode == 0, r.stderr
    assert cl.wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10)
    assert not os.path.exists(rroot)
    assert cl.cgroup_dirs(f"{rt.cg}/{cid}") == []
    assert not os.path.exists(rt.ctx.bundle(cid))
    # an exited container, removed later (delete of a stopped container)
    name = rt.new_name("rm2")
    cid = rt.run_d(name, "true")
    assert cl.wait_until(lambda: rt.inspect(name, "{{.State.Status}}") == "exited", 10)
    r = rt("rm", "-f", name)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(rt.ctx.d.exec_root, "runtime-runc", "moby", cid))


# -- the contract ------------------------------------------------------------------

def test_no_inherited_fd_reaches_the_container(rt, tmp_path):
    name = rt.new_name("fd")
    rt.run_d(name, "sleep", "1000")
    try:
        pid = rt.pid(name)
        assert cl.wait_until(lambda: open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"sleep\0"))
        assert sorted(fds_of(pid)) == [0, 1, 2], fds_of(pid)
        r = rt("exec", name, "ls", "/proc/1/fd")
        assert r.stdout.split() == ["0", "1", "2"], r.stdout
        # an exec'd process gets only its stdio too
        r = rt("exec", name, "sh", "-c", "ls /proc/$$/fd; true")
        assert r.stdout.split() == ["0", "1", "2"], r.stdout
    finally:
        rt("rm", "-f", name)


def test_prestart_hook_sets_up_the_default_bridge(rt):
    """Docker's libnetwork-setkey prestart hook runs (in the runtime
    namespace, with the state on stdin): dockerd then moves the veth into the
    container's netns; the container reaches the bridge's address."""
    name = rt.new_name("net")
    cid = rt.run_d(name, "sleep", "1000")
    try:
        with open(os.path.join(rt.ctx.bundle(cid), "config.json")) as f:
            cfg = json.load(f)
        hooks = cfg.get("hooks", {}).get("prestart", [])
        assert any("libnetwork-setkey" in h.get("args", []) for h in hooks), hooks
        r = rt("exec", name, "sh", "-c", "ip -4 -o addr show eth0; ping -c 1 -W 2 %s.1 >/dev/null && echo ping-ok"
               % rt.ctx.subnet)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert f"inet {rt.ctx.subnet}." in r.stdout and "ping-ok" in r.stdout, r.stdout
        ip = rt.inspect(name, "{{.NetworkSettings.IPAddress}}")
        assert ip.startswith(rt.ctx.subnet + ".") and f"inet {ip}/24" in r.stdout, (ip, r.stdout)
    finally:
        rt("rm", "-f", name)


def test_runtime_log_is_strict_json(rt):
    """The shim passes --log <bundle>/log.json --log-format json and parses it
    strictly. --kernel-memory makes ocipy log a warning there."""
    name = rt.new_name("log")
    cid = rt.run_d(name, "sleep", "1000", opts=["--kernel-memory", "32m"])
    try:
        assert rt("exec", name, "true").returncode == 0
        assert rt("pause", name).returncode == 0 and rt("unpause", name).returncode == 0
        log = os.path.join(rt.ctx.bundle(cid), "log.json")
        lines = open(log).read().splitlines() if os.path.exists(log) else []
        for ln in lines:
            e = json.loads(ln)
            assert isinstance(e, dict) and {"level", "msg", "time"} <= set(e), ln
            assert RFC3339.match(e["time"]) and e["level"] in ("debug", "info", "warning", "error"), ln
        if rt.name == "ocipy":
            assert any("memory.kernel" in json.loads(ln)["msg"] for ln in lines), lines
    finally:
        rt("rm", "-f", name)


def test_create_failure_shows_the_runtimes_message(rt, bundle, tmp_path):
    """A missing executable: the client shows the runtime's own error line,
    and Docker's CLI exits 127 (it matches "no such file or directory")."""
    r = rt.run("/nonexistent")
    assert r.returncode == 127, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    root = tmp_path / "direct-root"
    root.mkdir()
    d = cl.run([rt.binary, "--root", str(root), "create", "--bundle", bundle(["/nonexistent"]), "direct"])
    cl.run([rt.binary, "--root", str(root), "delete", "--force", "direct"])
    assert d.returncode != 0
    own = d.stderr.strip().splitlines()[-1]
    if rt.name == "ocipy":
        msg = own.split(": ", 1)[1]            # "ocipy: <msg>"
        assert msg in r.stderr, (msg, r.stderr)
    else:                                      # logrus text: msg="... \"/nonexistent\" ..."
        assert "/nonexistent" in own and "/nonexistent" in r.stderr, (own, r.stderr)
    # a missing command looked up in PATH
    r = rt.run("nosuchcommand")
    assert r.returncode == 127 and 'exec: "nosuchcommand": executable file not found in $PATH' in r.stderr, r.stderr


def test_exec_failure(rt):
    name = rt.new_name("exf")
    rt.run_d(name, "sleep", "1000")
    try:
        r = rt("exec", name, "/nonexistent")       # (docker prints the error on stdout)
        assert r.returncode == 126, (r.returncode, r.stderr)
        assert 'exec: "/nonexistent": stat /nonexistent: no such file or directory' in r.stdout, r.stdout
        r = rt("exec", name, "/etc/passwd")
        assert r.returncode == 126 and "permission denied" in r.stdout, r.stdout
    finally:
        rt("rm", "-f", name)


def test_default_seccomp_profile(rt):
    """Docker's default profile (linux.seccomp in config.json) is loaded in
    the container; `--security-opt seccomp=unconfined` loads none."""
    r = rt.run("grep", "^Seccomp", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    f = dict(ln.split(":\t") for ln in r.stdout.splitlines())
    assert f["Seccomp"] == "2" and int(f.get("Seccomp_filters", "1")) >= 1, r.stdout
    r = rt.run("grep", "^Seccomp:", "/proc/self/status", opts=["--security-opt", "seccomp=unconfined"])
    assert r.stdout.split() == ["Seccomp:", "0"], r.stdout


def test_runtime_warnings_stay_out_of_the_containers_output(rt):
    """The shim runs `create` with the container's stdio: a runtime warning
    (here: linux.resources.memory.kernel, deprecated) must go to the runtime's
    --log, never into what `docker logs` shows."""
    name = rt.new_name("warn")
    rt.run_d(name, "echo", "hi", opts=["--kernel-memory", "32m"])
    try:
        assert cl.wait_until(lambda: rt.inspect(name, "{{.State.Status}}") == "exited", 10)
        r = rt("logs", name)
        assert (r.stdout, r.stderr) == ("hi\n", ""), (r.stdout, r.stderr)
    finally:
        rt("rm", "-f", name)


def test_dev_null_stdin_is_read_write(rt):
    """Without -i the container's stdin is /dev/null: the container's own,
    read-write (runc reopens the host's read-only one the shim passes)."""
    r = rt.run("sh", "-c", "echo x >&0 && echo write-ok")
    assert r.returncode == 0 and r.stdout == "write-ok\n", (r.stdout, r.stderr)
