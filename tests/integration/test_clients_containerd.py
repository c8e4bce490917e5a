"""ocipy under containerd 1.6: a private containerd (own root, state and
socket under a scratch directory), driven with `ctr` through the
io.containerd.runc.v2 shim with `--runc-binary` (the shim's BinaryName
option) and `--runc-root` (its Root option, inside the scratch directory).

Every scenario runs with ocipy and with runc: runc proves the test. Each
test leaves no task, container, shim, cgroup or runtime state behind (checked
after every test by the `rt` fixture).

Not covered here: `ctr` 1.6 has no command to update a task's resources
(containerd's UpdateTask API is covered through `docker update` in
test_clients_docker.py); `ctr run -t` needs a terminal of its own (ctr panics
"provided file is not a console" before it talks to the shim), so it runs
under a pty.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import tempfile
import time

import pytest

import clientlib as cl

for _b in (cl.CONTAINERD, cl.CTR, cl.SHIM):
    if not os.access(_b, os.X_OK):
        pytest.skip(f"{_b} not installed (apt-get install containerd)", allow_module_level=True)

IMAGE = "docker.io/ocipy/busybox:latest"
IMAGE_USER = "docker.io/ocipy/busybox:user"      # User 1000:1000, WorkingDir /home/user, FOO=from-image
NS = f"ocipy-t{os.getpid()}"                      # containerd namespace, also the cgroup parent
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class Ctx:
    def __init__(self, daemon: cl.Containerd, runtimes: dict, base: str) -> None:
        self.d = daemon
        self.runtimes = runtimes
        self.base = base
        self.fifo = os.path.join(base, "fifo")
        self.snapshotter = snapshotter_for(base)
        os.makedirs(self.fifo, exist_ok=True)


def snapshotter_for(path: str) -> str:
    """overlayfs, unless the directory is itself on overlayfs (a CI
    container) where only the native snapshotter works."""
    OVERLAYFS_MAGIC = 0x794C7630
    r = cl.run(["stat", "-f", "-c", "%t", path])
    return "native" if r.returncode == 0 and int(r.stdout.strip() or "0", 16) == OVERLAYFS_MAGIC else "overlayfs"


@pytest.fixture(scope="module")
def ctrd():
    # not under pytest's 0700 tmp tree: a user namespace's root (ctr --uidmap)
    # must reach the rootfs; short paths for the sockets too
    base = tempfile.mkdtemp(prefix="ocipy-ctrd-", dir="/tmp")
    os.chmod(base, 0o711)
    had_run_containerd = os.path.exists("/run/containerd")
    d = None
    try:
        img = os.path.join(base, "img")
        os.makedirs(img)
        rootfs = cl.build_rootfs(img)
        layer = os.path.join(img, "layer.tar")
        digest, _ = cl.layer_tar(rootfs, layer)
        archive = os.path.join(img, "oci.tar")
        cl.oci_archive(layer, digest, {
            IMAGE: cl.image_config(digest),
            IMAGE_USER: cl.image_config(digest, User="1000:1000", WorkingDir="/home/user",
                                        Env=[f"PATH={cl.PATH_ENV}", "FOO=from-image"]),
        }, archive)
        cl.safe_rmtree(os.path.join(img, "bundle"))
        d = cl.Containerd(os.path.join(base, "daemon")).start()
        ctx = Ctx(d, cl.runtimes(base), base)
        r = d.ctr("images", "import", "--snapshotter", ctx.snapshotter, archive, ns=NS, timeout=120)
        assert r.returncode == 0, r.stderr
        yield ctx
    finally:
        if d:
            d.stop()
        cl.rmdir_cgroup_tree(f"/{NS}")
        if not had_run_containerd:   # the shims' socket dir /run/containerd/s (empty once they exit)
            for p in ("/run/containerd/s", "/run/containerd"):
                try:
                    os.rmdir(p)
                except OSError:
                    pass
        cl.safe_rmtree(base)

_ids = itertools.count(1)


class Ctr:
    """`ctr` bound to our daemon, namespace and one runtime (binary + root)."""

    def __init__(self, ctx: Ctx, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.binary = ctx.runtimes[name]
        self.root = os.path.join(ctx.base, "roots", name)
        os.makedirs(self.root, exist_ok=True)
        self.used: list[str] = []

    def new_id(self, what: str) -> str:
        cid = f"{what}-{self.name}-{next(_ids)}"
        self.used.append(cid)
        return cid

    def __call__(self, *args, timeout: float = 60, input=None) -> subprocess.CompletedProcess:
        return self.ctx.d.ctr(*args, ns=NS, timeout=timeout, input=input)

    def argv(self, *args) -> list[str]:
        return [cl.CTR, "--address", self.ctx.d.sock, "--namespace", NS] + [str(a) for a in args]

    def run_opts(self) -> list[str]:
        return ["--runc-binary", self.binary, "--runc-root", self.root, "--fifo-dir", self.ctx.fifo,
                "--snapshotter", self.ctx.snapshotter]

    def run(self, cid: str, *cmd, opts=(), image: str = IMAGE, timeout: float = 60):
        """Foreground `ctr run --rm`: returns the CompletedProcess (exit status = the task's)."""
        return self("run", "--rm", *self.run_opts(), *opts, image, cid, *cmd, timeout=timeout)

    def run_d(self, cid: str, *cmd, opts=(), image: str = IMAGE) -> int:
        """Detached `ctr run -d`; returns the task's pid."""
        r = self("run", "-d", *self.run_opts(), *opts, image, cid, *cmd)
        assert r.returncode == 0, f"ctr run -d ({self.name}): {r.stderr}"
        return self.pid(cid)

    def pid(self, cid: str) -> int:
        for line in self("tasks", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return int(f[1])
        raise AssertionError(f"no task {cid}")

    def status(self, cid: str) -> str:
        for line in self("tasks", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return f[2]
        return ""

    def exec(self, cid: str, *cmd, opts=(), timeout: float = 30) -> subprocess.CompletedProcess:
        return self("tasks", "exec", "--exec-id", f"e{next(_ids)}", "--fifo-dir", self.ctx.fifo,
                    *opts, cid, *cmd, timeout=timeout)

    def remove(self, cid: str) -> None:
        """Kill and delete a task and its container, as an operator would."""
        if self.status(cid):
            self("tasks", "kill", "-a", "-s", "KILL", cid)
            cl.wait_until(lambda: self.status(cid) in ("STOPPED", ""), 10)
            r = self("tasks", "rm", "-f", cid)
            assert r.returncode == 0, r.stderr
        r = self("containers", "rm", cid)
        assert r.returncode == 0 or "not found" in r.stderr, r.stderr

    def leftovers(self) -> list[str]:
        """Everything this runtime's test left behind (empty when clean)."""
        left = []
        tasks = self("tasks", "ls", "-q").stdout.split()
        conts = self("containers", "ls", "-q").stdout.split()
        if tasks:
            left.append(f"tasks: {tasks}")
        if conts:
            left.append(f"containers: {conts}")
        for cid in tasks:
            self.remove(cid)
        for cid in set(conts) - set(tasks):
            self("containers", "rm", cid)
        rdir = os.path.join(self.root, NS)
        state = [n for n in os.listdir(rdir) if not n.startswith(".")] if os.path.isdir(rdir) else []
        if state:       # (dot-entries are no container)
            left.append(f"runtime state in {rdir}: {state}")
        if not cl.wait_until(lambda: not self.ctx.d.shims(), 10):
            left.append(f"shims: {self.ctx.d.shims()}")
        for top in cl.cgroup_dirs(f"/{NS}"):    # tests run one at a time: none may remain
            subs = [n for n in os.listdir(top) if os.path.isdir(os.path.join(top, n))]
            if subs:
                left.append(f"cgroups in {top}: {subs}")
        procs = cl.pids_with_arg(self.root)
        if procs:
            left.append(f"processes with {self.root} in their command line: {procs}")
        return left


@pytest.fixture(params=["ocipy", "runc"])
def rt(request, ctrd):
    if request.param not in ctrd.runtimes:
        pytest.skip(f"{request.param} not installed")
    c = Ctr(ctrd, request.param)
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


# -- run ---------------------------------------------------------------------------

def test_run_output_and_exit_code(rt):
    cid = rt.new_id("run")
    r = rt.run(cid, "sh", "-c", "echo out-$((6*7)); echo err >&2; exit 3")
    assert r.returncode == 3, r.stderr
    assert r.stdout == "out-42\n", r.stdout
    assert r.stderr == "err\n", r.stderr
    r = rt.run(rt.new_id("run"), "true")
    assert r.returncode == 0, r.stderr


def test_env_cwd_user_readonly_bind(rt, tmp_path):
    (tmp_path / "f").write_text("from-host\n")
    os.chmod(tmp_path, 0o755)                     # readable by the container's user 1000
    cid = rt.new_id("cfg")
    r = rt.run(cid, "sh", "-c", 'echo "$FOO $BAR"; pwd; id -u; id -g; cat /b/f; '
                                'touch /b/x 2>/dev/null && echo bind-rw; '
                                'touch /y 2>/dev/null && echo root-rw; echo done',
               opts=["--env", "BAR=from-ctr", "--cwd", "/tmp", "--read-only", "--mount",
                     f"type=bind,src={tmp_path},dst=/b,options=rbind:ro"],
               image=IMAGE_USER)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == ["from-image from-ctr", "/tmp", "1000", "1000", "from-host",
                                    "done", ""], r.stdout
    assert not (tmp_path / "x").exists()


def test_image_user_and_workdir(rt):
    r = rt.run(rt.new_id("user"), "sh", "-c", "pwd; id", image=IMAGE_USER)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "/home/user\nuid=1000(user) gid=1000(user) groups=1000(user)\n", r.stdout


def test_memory_limit_observed_inside(rt):
    """16 MiB limit: a 32 MiB buffer gets the task's process OOM-killed, 4 MiB does not."""
    cid = rt.new_id("mem")
    r = rt.run(cid, "sh", "-c", "dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null; echo big=$?; "
                                "dd if=/dev/zero of=/dev/null bs=4M count=1 2>/dev/null; echo small=$?; "
                                "grep memory /proc/self/cgroup",
               opts=["--memory-limit", str(16 << 20)])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["big=137", "small=0"], r.stdout
    assert lines[2].endswith(f":memory:/{NS}/{cid}"), r.stdout


def test_cpu_quota_in_cgroupfs(rt):
    cid = rt.new_id("cpu")
    rt.run_d(cid, "sleep", "1000", opts=["--cpus", "0.5"])
    try:
        with open(f"/sys/fs/cgroup/cpu/{NS}/{cid}/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open(f"/sys/fs/cgroup/cpu/{NS}/{cid}/cpu.cfs_period_us") as f:
            period = int(f.read())
        assert quota * 2 == period, (quota, period)
        pid = rt.pid(cid)
        with open(f"/sys/fs/cgroup/cpu/{NS}/{cid}/cgroup.procs") as f:
            assert str(pid) in f.read().split()
    finally:
        rt.remove(cid)


# the client sets the window size once the process runs: wait for it (10 s at most)
WAIT_SIZE = ('i=0; while [ $i -lt 200 ]; do s=$(stty size 2>/dev/null); case "$s" in [1-9]*) break;; esac; '
             'sleep 0.05; i=$((i+1)); done; echo "$s"')


def test_run_tty_under_a_pty(rt):
    """`ctr run -t` (console socket, pty in the container, window size)."""
    cid = rt.new_id("tty")
    rc, out = cl.run_in_pty(rt.argv("run", "--rm", "-t", *rt.run_opts(), IMAGE, cid,
                                    "sh", "-c", "tty; " + WAIT_SIZE + "; exit 5"))
    assert rc == 5, out
    lines = [ln.strip("\x00") for ln in out.replace("\r", "").splitlines()]
    assert "/dev/pts/0" in lines, out
    assert "33 77" in lines, out


# -- a detached task --------------------------------------------------------------

SCRIPT = ("trap 'echo USR1 > /tmp/usr1' USR1; trap 'echo TERM > /tmp/term; exit 0' TERM; "
          "echo ready > /tmp/ready; while :; do sleep 0.05; done")


def _ready(rt, cid):
    return cl.wait_until(lambda: rt.exec(cid, "cat", "/tmp/ready").stdout == "ready\n", 10)


def test_detached_exec_ps_pause_metrics(rt):
    cid = rt.new_id("det")
    pid = rt.run_d(cid, "sh", "-c", SCRIPT)
    try:
        assert rt.status(cid) == "RUNNING"
        assert _ready(rt, cid)
        # exec: output, exit status, in the container's namespaces and cgroup
        r = rt.exec(cid, "sh", "-c", "echo in-$$; cat /proc/1/cmdline | tr '\\0' ' '; exit 4")
        assert r.returncode == 4, r.stderr
        assert r.stdout.startswith("in-") and "sh -c trap" in r.stdout, r.stdout
        r = rt.exec(cid, "sh", "-c", "pwd; id -u", opts=["--cwd", "/tmp", "--user", "1000"])
        assert r.returncode == 0 and r.stdout == "/tmp\n1000\n", (r.stdout, r.stderr)
        # ps (the runtime's `ps --format json`)
        r = rt("tasks", "ps", cid)
        assert r.returncode == 0, r.stderr
        pids = [int(ln.split()[0]) for ln in r.stdout.splitlines()[1:] if ln.strip()]
        assert pid in pids, r.stdout
        # metrics (the shim reads the cgroup)
        r = rt("tasks", "metrics", "--format", "json", cid)
        assert r.returncode == 0, r.stderr
        m = json.loads(r.stdout)
        assert m["memory"]["usage"]["usage"] > 0 and m["pids"]["current"] >= 1, m
        # pause / resume: the freezer and the task status
        assert rt("tasks", "pause", cid).returncode == 0
        assert rt.status(cid) == "PAUSED"
        with open(f"/sys/fs/cgroup/freezer/{NS}/{cid}/freezer.state") as f:
            assert f.read().strip() == "FROZEN"
        assert rt("tasks", "resume", cid).returncode == 0
        assert rt.status(cid) == "RUNNING"
        with open(f"/sys/fs/cgroup/freezer/{NS}/{cid}/freezer.state") as f:
            assert f.read().strip() == "THAWED"
        assert rt.exec(cid, "true").returncode == 0
    finally:
        rt.remove(cid)


def test_kill_usr1_is_trapped(rt):
    cid = rt.new_id("usr1")
    rt.run_d(cid, "sh", "-c", SCRIPT)
    try:
        assert _ready(rt, cid)
        assert rt("tasks", "kill", "-s", "USR1", cid).returncode == 0
        assert cl.wait_until(lambda: rt.exec(cid, "cat", "/tmp/usr1").stdout == "USR1\n", 10)
        assert rt.status(cid) == "RUNNING"
    finally:
        rt.remove(cid)


def test_exec_tty_under_a_pty(rt):
    cid = rt.new_id("etty")
    rt.run_d(cid, "sleep", "1000")
    try:
        rc, out = cl.run_in_pty(rt.argv("tasks", "exec", "-t", "--exec-id", "tty1", "--fifo-dir",
                                        rt.ctx.fifo, cid, "sh", "-c", "tty; " + WAIT_SIZE + "; exit 6"))
        assert rc == 6, out
        lines = [ln.strip("\x00") for ln in out.replace("\r", "").splitlines()]
        assert any(re.fullmatch(r"/dev/pts/\d+", ln) for ln in lines), out
        assert "33 77" in lines, out
    finally:
        rt.remove(cid)


def _foreground(rt, cid, script):
    """`ctr run --rm` in the background: (Popen, its output file)."""
    out = open(os.path.join(rt.ctx.base, f"{cid}.out"), "w+")
    p = subprocess.Popen(rt.argv("run", "--rm", *rt.run_opts(), IMAGE, cid, "sh", "-c", script),
                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    return p, out


def test_term_handled_exits_0(rt):
    cid = rt.new_id("term")
    p, out = _foreground(rt, cid, SCRIPT.replace("echo TERM > /tmp/term", "echo got-TERM"))
    try:
        assert cl.wait_until(lambda: rt.status(cid) == "RUNNING", 10)
        assert _ready(rt, cid)
        assert rt("tasks", "kill", cid).returncode == 0           # SIGTERM by default
        assert p.wait(timeout=20) == 0
        out.seek(0)
        assert "got-TERM" in out.read()
    finally:
        if p.poll() is None:
            rt.remove(cid)
            p.wait()
        out.close()


def test_term_ignored_then_killed_137(rt):
    cid = rt.new_id("ign")
    p, out = _foreground(rt, cid, "trap '' TERM; echo ready > /tmp/ready; while :; do sleep 0.05; done")
    try:
        assert cl.wait_until(lambda: rt.status(cid) == "RUNNING", 10)
        assert _ready(rt, cid)
        assert rt("tasks", "kill", cid).returncode == 0
        time.sleep(1.0)
        assert p.poll() is None and rt.status(cid) == "RUNNING", "TERM was not ignored"
        assert rt("tasks", "kill", "-s", "KILL", cid).returncode == 0
        assert p.wait(timeout=20) == 137
    finally:
        if p.poll() is None:
            rt.remove(cid)
            p.wait()
        out.close()


# -- the contract between the shim and the runtime ---------------------------------

def test_no_inherited_fd_reaches_the_container(rt, tmp_path):
    """The shim may run `create` with an fd 3 of its own (its socket, seen
    here on some runs); a wrapper makes sure the runtime always gets an
    inherited fd 3 (the shim's, or one it opens), and records them. The
    container's pid 1 holds only 0, 1, 2 (its stdio: pipes of the shim)."""
    wrapper = tmp_path / "wrap"
    seen = tmp_path / "fds"
    wrapper.write_text('#!/bin/sh\n'
                       '[ -e /proc/$$/fd/3 ] || exec 3<"$0"\n'
                       f'case " $* " in *" create "*) ls -l /proc/$$/fd > {seen} 2>&1 ;; esac\n'
                       f'exec {rt.binary} "$@"\n')
    wrapper.chmod(0o755)
    cid = rt.new_id("fd")
    r = rt("run", "-d", "--runc-binary", str(wrapper), "--runc-root", rt.root, "--fifo-dir", rt.ctx.fifo,
           "--snapshotter", rt.ctx.snapshotter,
           IMAGE, cid, "sleep", "1000")
    assert r.returncode == 0, r.stderr
    pid = rt.pid(cid)
    try:
        given = {ln.split()[-3]: ln.split()[-1] for ln in seen.read_text().splitlines() if " -> " in ln}
        assert "3" in given, f"the runtime got no fd 3: {given}"
        assert cl.wait_until(lambda: open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"sleep\0"))
        fds = fds_of(pid)
        assert sorted(fds) == [0, 1, 2], fds
        # and seen from inside
        r = rt.exec(cid, "ls", "/proc/1/fd")
        assert r.stdout.split() == ["0", "1", "2"], r.stdout
    finally:
        rt.remove(cid)


def test_runtime_log_is_strict_json(rt):
    """The shim runs the runtime with --log <bundle>/log.json --log-format json
    and decodes it line by line: every line one JSON object with level, msg, time."""
    cid = rt.new_id("log")
    rt.run_d(cid, "sleep", "1000")
    bundle = os.path.join(rt.ctx.d.state, "io.containerd.runtime.v2.task", NS, cid)
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            assert json.load(f)["process"]["args"] == ["sleep", "1000"]
        assert rt.exec(cid, "true").returncode == 0
        assert rt("tasks", "pause", cid).returncode == 0
        assert rt("tasks", "resume", cid).returncode == 0
        log = os.path.join(bundle, "log.json")
        lines = open(log).read().splitlines() if os.path.exists(log) else []
        for ln in lines:
            e = json.loads(ln)
            assert isinstance(e, dict) and {"level", "msg", "time"} <= set(e), ln
            assert RFC3339.match(e["time"]), ln
            assert e["level"] in ("debug", "info", "warning", "error"), ln
    finally:
        rt.remove(cid)


def _own_error(runtime_bin: str, bundle_dir: str, tmp_path) -> str:
    """The one error line `runtime create` prints for this bundle."""
    root = tmp_path / "direct-root"
    root.mkdir()
    r = cl.run([runtime_bin, "--root", str(root), "create", "--bundle", bundle_dir, "direct"])
    cl.run([runtime_bin, "--root", str(root), "delete", "--force", "direct"])
    assert r.returncode != 0
    return r.stderr.strip().splitlines()[-1]


def test_create_failure_shows_the_runtimes_message(rt, bundle, tmp_path):
    cid = rt.new_id("nox")
    r = rt.run(cid, "/nonexistent")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert rt("containers", "ls", "-q").stdout.split() == []      # ctr run --rm cleaned up
    # ctr prints the runtime's own last error line (from its json log)
    own = _own_error(rt.binary, bundle(["/nonexistent"]), tmp_path)
    if rt.name == "ocipy":
        assert own.startswith("ocipy: ") or "/nonexistent" in own, own
        msg = own.split(": ", 1)[1] if own.startswith("ocipy: ") else own
        assert msg in r.stderr, (msg, r.stderr)
        assert 'exec: "/nonexistent": stat /nonexistent: no such file or directory' in r.stderr
    else:
        assert "/nonexistent" in r.stderr and "no such file or directory" in r.stderr, r.stderr


def test_removed_task_leaves_nothing(rt):
    cid = rt.new_id("rm")
    pid = rt.run_d(cid, "sleep", "1000")
    rdir = os.path.join(rt.root, NS, cid)
    assert os.path.isdir(rdir), "the runtime's state is not under the shim's Root option"
    assert cl.cgroup_dirs(f"/{NS}/{cid}")
    rt.remove(cid)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not os.path.exists(rdir)
    assert cl.cgroup_dirs(f"/{NS}/{cid}") == []
    assert os.path.isdir(os.path.join(rt.ctx.d.state, "io.containerd.runtime.v2.task", NS)) and \
        cid not in os.listdir(os.path.join(rt.ctx.d.state, "io.containerd.runtime.v2.task", NS))


def test_join_a_network_namespace_by_path(rt):
    """`ctr run --with-ns network:PATH`: linux.namespaces[].path, joined."""
    name = f"ocipy-t{os.getpid()}-{next(_ids)}"
    r = cl.run(["ip", "netns", "add", name])
    assert r.returncode == 0, r.stderr
    try:
        ino = os.stat(f"/run/netns/{name}").st_ino
        r = rt.run(rt.new_id("netns"), "sh", "-c", "readlink /proc/self/ns/net; ip -o link | wc -l",
                   opts=["--with-ns", f"network:/run/netns/{name}"])
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == [f"net:[{ino}]", "1"], r.stdout
    finally:
        cl.run(["ip", "netns", "del", name])


def test_user_namespace_from_uidmap(rt):
    """`ctr run --uidmap/--gidmap`: a new user namespace; root inside is
    100000 outside."""
    cid = rt.new_id("userns")
    pid = rt.run_d(cid, "sleep", "1000", opts=["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"])
    try:
        with open(f"/proc/{pid}/status") as f:
            st = dict(ln.split(":", 1) for ln in f)
        assert st["Uid"].split()[0] == "100000" and st["Gid"].split()[0] == "100000", st["Uid"]
        r = rt.exec(cid, "sh", "-c", "cat /proc/self/uid_map; id -u")
        assert r.stdout.split() == ["0", "100000", "65536", "0"], (r.stdout, r.stderr)
    finally:
        rt.remove(cid)
