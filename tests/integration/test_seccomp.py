"""linux.seccomp (config-linux.md "Seccomp"), observed from inside real
containers: denied calls return the configured errno, KILL_PROCESS kills
with SIGSYS, argument filters with every operator, unknown names skipped,
Docker's own default profile (captured from dockerd 20.10: tests/data)
side by side with runc, `exec` under the container's filter, the NOTIFY
hand-off to a seccomp agent (a Python listener here that answers
notifications), bad profiles rejected naming the field with nothing left.
"""
from __future__ import annotations

import array
import errno
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from conftest import REPO, _env
from test_lifecycle import call, create, outb, poll  # noqa: F401 - outb is a fixture

DATA = os.path.join(REPO, "tests", "data")
X86_64 = os.uname().machine == "x86_64"


def docker_profile() -> dict:
    with open(os.path.join(DATA, "docker-default-seccomp.json")) as f:
        return json.load(f)


def with_seccomp(sec, nnp=None):
    def edit(cfg):
        cfg["linux"]["seccomp"] = sec
        if nnp is not None:
            cfg["process"]["noNewPrivileges"] = nnp
    return edit


def run(rt, b, cid="s", **kw):
    return rt("run", "--bundle", b, cid, **kw)


def run_ok(rt, b, cid="s") -> str:
    r = run(rt, b, cid)
    assert r.returncode == 0, f"rc={r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r.stdout


def one_error_line(r) -> str:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def errno_rule(names, e=None, args=None, action="SCMP_ACT_ERRNO"):
    r = {"names": names, "action": action}
    if e is not None:
        r["errnoRet"] = e
    if args:
        r["args"] = args
    return r


# --- actions ---------------------------------------------------------------------------
@pytest.mark.parametrize("nnp", [True, False])
def test_denied_calls_get_eperm_or_errnoret(runtime, bundle, nnp):
    sec = {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
           "syscalls": [
        errno_rule(["mkdir", "mkdirat"]),                       # EPERM by default
        errno_rule(["rmdir", "unlinkat"], errno.EXDEV),         # a custom errnoRet
        errno_rule(["no_such_syscall_ocipy", "unlink"], errno.ENOTTY),  # unknown names are skipped
    ]}
    script = ("grep Seccomp: /proc/self/status; mkdir /tmp/a 2>&1; mkdir -p /tmp/b 2>&1; "
              "rmdir /proc 2>&1; true")
    b = bundle(["sh", "-c", script], with_seccomp(sec, nnp))
    out = run_ok(runtime, b)
    assert "Seccomp:\t2" in out
    assert out.count("Operation not permitted") == 2, out
    assert "rmdir: '/proc': Invalid cross-device link" in out


def test_default_errno_with_an_allow_list(runtime, bundle):
    """defaultAction ERRNO (defaultErrnoRet EXDEV): only what is listed
    works; everything else the program tries fails with EXDEV."""
    allow = ["execve", "brk", "mmap", "munmap", "mprotect", "arch_prctl", "set_tid_address", "exit_group",
             "write", "read", "close", "getpid", "getppid", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
             "openat", "newfstatat", "fstat", "stat", "lstat", "getuid", "geteuid", "getgid", "getegid",
             "fcntl", "dup2", "dup3", "ioctl", "close_range", "prctl", "capset", "capget", "setgroups",
             "setresuid", "setresgid", "umask", "access", "faccessat", "faccessat2", "lseek", "getdents64",
             "wait4", "exit", "futex", "getcwd", "chdir", "uname", "sysinfo", "prlimit64", "set_robust_list",
             "rseq", "getrandom", "clone", "fork", "vfork", "pread64", "statx", "readlink", "pipe2"]
    sec = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.EXDEV,
           "syscalls": [{"names": allow, "action": "SCMP_ACT_ALLOW"}]}
    b = bundle(["sh", "-c", "echo allowed; mkdir /tmp/d 2>&1; hostname x 2>&1; true"], with_seccomp(sec, True))
    out = run_ok(runtime, b)
    assert out.startswith("allowed\n"), out
    assert out.count("Invalid cross-device link") == 2, out


def test_kill_process_kills_with_sigsys(runtime, bundle):
    sec = {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    b = bundle(["mkdir", "/tmp/k"], with_seccomp(sec))
    r = run(runtime, b)
    assert r.returncode == 128 + 31, (r.returncode, r.stderr)  # SIGSYS


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"])
def test_kill_thread_and_trap_end_a_single_threaded_program_with_sigsys(runtime, bundle, action):
    sec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]}
    b = bundle(["mkdir", "/tmp/k"], with_seccomp(sec))
    r = run(runtime, b)
    assert r.returncode == 128 + 31, (r.returncode, r.stderr)


@pytest.mark.parametrize("nnp", [False, True])
def test_profile_killing_memfd_exec_still_starts_the_program(runtime, runc, bundle, nnp):
    """ocipy's own last steps (the exec trampoline's memfd_create/execveat)
    must not be killed where runc's would not: the launcher evaluates the
    filter and execs directly instead."""
    sec = {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["memfd_create", "execveat"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    b = bundle(["sh", "-c", "echo started"], with_seccomp(sec, nnp))
    assert run_ok(runtime, b) == "started\n"
    assert runc("run", "--bundle", b, "r").stdout == "started\n"


def test_log_and_trace_actions_load(runtime, bundle):
    """SCMP_ACT_LOG lets the call through (and logs it); SCMP_ACT_TRACE
    without a tracer fails the call with ENOSYS (seccomp(2))."""
    sec = {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"], "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"},
        {"names": ["rmdir"], "action": "SCMP_ACT_TRACE", "errnoRet": 1}]}
    b = bundle(["sh", "-c", "mkdir /dev/shm/l && echo made; rmdir /dev/shm/l 2>&1; true"], with_seccomp(sec))
    out = run_ok(runtime, b)
    assert "made" in out and "Function not implemented" in out, out


# --- arguments --------------------------------------------------------------------------
# kill(pid, 0) from inside: pid 96..103 never exist in a fresh pid namespace,
# so an unmatched call says "No such process", a matched one EXDEV
OPS = {
    "SCMP_CMP_NE": (100, None, {96, 97, 98, 99, 101, 102, 103}),
    "SCMP_CMP_LT": (100, None, {96, 97, 98, 99}),
    "SCMP_CMP_LE": (100, None, {96, 97, 98, 99, 100}),
    "SCMP_CMP_EQ": (100, None, {100}),
    "SCMP_CMP_GE": (100, None, {100, 101, 102, 103}),
    "SCMP_CMP_GT": (100, None, {101, 102, 103}),
    "SCMP_CMP_MASKED_EQ": (0x3, 0x1, {97, 101}),  # (pid & 3) == 1
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_argument_operators(runtime, bundle, op):
    value, two, want = OPS[op]
    arg = {"index": 0, "value": value, "op": op}
    if two is not None:
        arg["valueTwo"] = two
    sec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [errno_rule(["kill"], errno.EXDEV, [arg])]}
    script = "for p in 96 97 98 99 100 101 102 103; do kill -0 $p 2>&1 | sed \"s/^/$p /\"; done"
    b = bundle(["sh", "-c", script], with_seccomp(sec))
    out = run_ok(runtime, b)
    denied = {int(ln.split()[0]) for ln in out.splitlines() if "Invalid cross-device link" in ln}
    absent = {int(ln.split()[0]) for ln in out.splitlines() if "No such process" in ln}
    assert denied == want, out
    assert absent == {96, 97, 98, 99, 100, 101, 102, 103} - want, out


def test_two_conditions_are_anded(runtime, bundle):
    """kill(pid, sig) denied only when pid > 100 AND sig == 0."""
    args = [{"index": 0, "value": 100, "op": "SCMP_CMP_GT"}, {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]
    sec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [errno_rule(["kill"], errno.EXDEV, args)]}
    script = "kill -0 99 2>&1; kill -0 101 2>&1; kill -18 101 2>&1; true"
    out = run_ok(runtime, bundle(["sh", "-c", script], with_seccomp(sec)))
    lines = out.splitlines()
    assert "No such process" in lines[0] and "Invalid cross-device link" in lines[1] \
        and "No such process" in lines[2], out


def test_personality_allowed_for_one_value_only(runtime, bundle):
    """personality(PER_LINUX32) allowed, any other persona denied (NE)."""
    if not X86_64:
        pytest.skip("PER_LINUX32 on x86_64")
    args = [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]
    sec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [errno_rule(["personality"], errno.EXDEV, args)]}
    out = run_ok(runtime, bundle(["sh", "-c", "linux32 uname -m; linux64 uname -m 2>&1; true"], with_seccomp(sec)))
    lines = out.splitlines()
    assert lines[0] in ("i686", "i386"), out
    assert "Invalid cross-device link" in lines[1], out


def test_masked_eq_on_flags(runtime, bundle):
    """unshare(flags) denied when CLONE_NEWUSER is among the flags
    ((flags & NEWUSER) == NEWUSER); other flags reach the kernel (which
    refuses them for lack of CAP_SYS_ADMIN: EPERM, not EXDEV)."""
    newuser = 0x10000000
    args = [{"index": 0, "value": newuser, "valueTwo": newuser, "op": "SCMP_CMP_MASKED_EQ"}]
    sec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [errno_rule(["unshare"], errno.EXDEV, args)]}
    out = run_ok(runtime, bundle(["sh", "-c", "unshare -U -u true 2>&1; unshare -u true 2>&1; true"],
                                 with_seccomp(sec)))
    lines = out.splitlines()
    assert "Invalid cross-device link" in lines[0], out
    assert "Operation not permitted" in lines[1], out


# --- Docker's default profile -----------------------------------------------------------
DOCKER_SCRIPT = ("grep Seccomp: /proc/self/status; unshare -U true 2>&1; echo unshare=$?; "
                 "mount -t tmpfs none /mnt 2>&1; echo mount=$?; swapon /dev/null 2>&1; echo swapon=$?; "
                 "nsenter -t 1 -u true 2>&1; echo nsenter=$?; linux32 uname -m; echo linux32=$?; "
                 "mkdir /dev/shm/ok && echo mkdir-ok; date -s 2000.01.01-00:00 >/dev/null 2>&1; echo date=$?; "
                 "echo done")


@pytest.mark.parametrize("nnp", [False, True])
def test_docker_default_profile_as_runc(runtime, runc, bundle, nnp):
    """The profile exactly as Docker 20.10 writes it into config.json: the
    container runs, and what it may not do fails as it does under runc."""
    b = bundle(["sh", "-c", DOCKER_SCRIPT], with_seccomp(docker_profile(), nnp))
    ours = run_ok(runtime, b, "d")
    r = runc("run", "--bundle", b, "d")
    assert r.returncode == 0, r.stderr
    assert ours == r.stdout
    assert "Seccomp:\t2" in ours and "mkdir-ok" in ours and ours.endswith("done\n")
    assert "unshare=1" in ours and "mount=0" not in ours and "swapon=0" not in ours, ours


def test_docker_profile_denies_what_it_lists(runtime, bundle):
    """Sanity of the comparison above: without the profile, unshare -U
    succeeds in the same container (the denial is seccomp's)."""
    b = bundle(["sh", "-c", "unshare -U true 2>&1; echo unshare=$?"])
    assert "unshare=0" in run_ok(runtime, b)
    b2 = bundle(["sh", "-c", "unshare -U true 2>&1; echo unshare=$?"], with_seccomp(docker_profile()), name="b2")
    assert "unshare=1" in run_ok(runtime, b2, "d2")


# --- exec ---------------------------------------------------------------------------------
def _running(runtime, outb, sec, nnp=None):
    b, out = outb(["sh", "-c", "touch /out/ready; while :; do sleep 1; done"], with_seccomp(sec, nnp))
    assert create(runtime, b, "e").returncode == 0
    assert call(runtime, "start", "e").returncode == 0
    assert poll(lambda: (out / "ready").exists())
    return b


def ex(rt, *args):
    return subprocess.run(rt.cmd("exec", *args), capture_output=True, text=True, timeout=30, env=_env(),
                          cwd=REPO, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("nnp", [False, True])
def test_exec_gets_the_containers_filter(runtime, outb, nnp):
    sec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [errno_rule(["mkdir", "mkdirat"], errno.EXDEV)]}
    _running(runtime, outb, sec, nnp)
    r = ex(runtime, "e", "sh", "-c", "grep Seccomp: /proc/self/status; mkdir /tmp/x 2>&1; true")
    assert r.returncode == 0, r.stderr
    assert "Seccomp:\t2" in r.stdout and "Invalid cross-device link" in r.stdout, r.stdout
    # --no-new-privs on exec: the late load, same filter
    r = ex(runtime, "--no-new-privs", "e", "sh", "-c", "grep NoNewPrivs /proc/self/status; mkdir /tmp/x 2>&1; true")
    assert "NoNewPrivs:\t1" in r.stdout and "Invalid cross-device link" in r.stdout, r.stdout


def test_exec_with_docker_profile(runtime, outb):
    _running(runtime, outb, docker_profile())
    r = ex(runtime, "e", "sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true 2>&1; echo rc=$?")
    assert r.returncode == 0, r.stderr
    assert "Seccomp:\t2" in r.stdout and "Operation not permitted" in r.stdout and "rc=1" in r.stdout


# --- NOTIFY -------------------------------------------------------------------------------
SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1
NR = {"mkdir": 83, "mkdirat": 258, "uname": 63} if X86_64 else {"mkdirat": 34, "uname": 160}


class Agent:
    """A seccomp agent: accepts connections on a unix socket, keeps each
    state JSON, and answers every notification: mkdir* -> EXDEV, anything
    else -> continue (the call runs as if unfiltered)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.states, self.seen, self.errors = [], [], []
        self.stop = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            fds = array.array("i")
            msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4 * fds.itemsize))
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
            while True:  # the rest of the payload until the runtime closes
                more = conn.recv(65536)
                if not more:
                    break
                msg += more
            conn.close()
            self.states.append((json.loads(msg), list(fds)))
            t = threading.Thread(target=self._serve, args=(fds[0],), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, fd: int):
        import fcntl
        import select

        while not self.stop:
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r:
                continue
            buf = bytearray(80)
            try:
                fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buf, True)
            except OSError as e:
                if e.errno == errno.ENOENT:  # the process went away
                    continue
                return  # the filter's last user is gone
            nid, pid, flags, nr = struct.unpack_from("=QIIi", buf)
            self.seen.append(nr)
            if nr in (NR.get("mkdir"), NR["mkdirat"]):
                resp = struct.pack("=QqiI", nid, 0, -errno.EXDEV, 0)
            else:
                resp = struct.pack("=QqiI", nid, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)
            try:
                fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, bytearray(resp), True)
            except OSError as e:
                self.errors.append(e)

    def close(self):
        self.stop = True
        self.sock.close()
        for t in self.threads:
            t.join(5)
        for st, fds in self.states:
            for fd in fds:
                os.close(fd)


@pytest.fixture
def agent(tmp_path):
    a = Agent(str(tmp_path / "agent.sock"))
    yield a
    a.close()


def notify_profile(agent_path: str, flags=()) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent_path, "listenerMetadata": "meta-42",
            "flags": list(flags), "syscalls": [{"names": ["mkdir", "mkdirat", "uname"], "action": "SCMP_ACT_NOTIFY"}]}


@pytest.mark.parametrize("nnp,flags", [(False, ()), (True, ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
                                                             "SECCOMP_FILTER_FLAG_TSYNC"))])
def test_notify_agent_gets_fd_and_state_and_answers(runtime, outb, agent, nnp, flags):
    b, out = outb(["sh", "-c", "uname -s > /out/uname; mkdir /tmp/n 2> /out/mkdir; touch /out/ready; "
                   "while :; do sleep 1; done"], with_seccomp(notify_profile(agent.path, flags), nnp))
    r = create(runtime, b, "n")
    assert r.returncode == 0, r.stderr
    assert len(agent.states) == 1  # sent during create, before `start`
    st, fds = agent.states[0]
    init = runtime.state("n")
    assert st["ociVersion"] and st["fds"] == ["seccompFd"] and len(fds) == 1
    assert st["pid"] == init["pid"] and st["metadata"] == "meta-42"
    assert st["state"]["id"] == "n" and st["state"]["status"] == "creating"
    assert st["state"]["pid"] == init["pid"] and st["state"]["bundle"] == b
    with open(f"/proc/{init['pid']}/status") as f:
        assert "Seccomp:\t2" in f.read()
    assert not any(os.readlink(f"/proc/{init['pid']}/fd/{n}").startswith("anon_inode:seccomp")
                   for n in os.listdir(f"/proc/{init['pid']}/fd")), "the container holds the listener fd"
    assert call(runtime, "start", "n").returncode == 0
    assert poll(lambda: (out / "ready").exists())
    assert (out / "uname").read_text() == "Linux\n"  # continued by the agent
    assert "Invalid cross-device link" in (out / "mkdir").read_text()  # answered by the agent
    assert NR["uname"] in agent.seen and NR["mkdirat"] in agent.seen or NR.get("mkdir") in agent.seen
    # exec: its own filter, its own listener fd, one more connection
    r = ex(runtime, "n", "sh", "-c", "mkdir /tmp/m 2>&1; uname -s")
    assert r.returncode == 0, r.stderr
    assert "Invalid cross-device link" in r.stdout and "Linux" in r.stdout, r.stdout
    assert len(agent.states) == 2
    st2, _ = agent.states[1]
    assert st2["state"]["status"] == "running" and st2["metadata"] == "meta-42"
    assert st2["pid"] != init["pid"] and st2["state"]["pid"] == init["pid"]
    assert not agent.errors, agent.errors


def test_notify_listener_unreachable_fails_create_cleanly(runtime, bundle, tmp_path):
    b = bundle(["true"], with_seccomp(notify_profile(str(tmp_path / "nobody.sock"))))
    r = runtime("create", "--bundle", b, "n")
    line = one_error_line(r)
    assert "linux.seccomp.listenerPath" in line and "nobody.sock" in line, line
    assert runtime.ids() == []


# --- bad profiles -------------------------------------------------------------------------
BAD = [
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW"},
                                                      {"names": ["mkdir"], "action": "X"}]},
     "linux.seccomp.syscalls[1].action"),
    ({"defaultAction": "SCMP_ACT_NOPE"}, "linux.seccomp.defaultAction"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]},
     "linux.seccomp.architectures[1]"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]},
     "linux.seccomp.syscalls[0].args[0].op"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].index"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_KILL", "errnoRet": 3}]},
     "linux.seccomp.syscalls[0].errnoRet"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 3}, "linux.seccomp.defaultErrnoRet"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]}, "linux.seccomp.flags[0]"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]},
     "linux.seccomp.listenerPath"),
]


@pytest.mark.parametrize("sec,field", BAD, ids=[f for _, f in BAD])
def test_bad_profile_is_one_line_naming_the_field_and_leaves_nothing(runtime, bundle, sec, field):
    b = bundle(["true"], with_seccomp(sec))
    cg_before = _ocipy_cgroups()
    r = runtime("run", "--bundle", b, "bad")
    line = one_error_line(r)
    assert os.path.join(b, "config.json") in line and field in line, line
    assert runtime.ids() == []
    assert _ocipy_cgroups() == cg_before


def _ocipy_cgroups() -> set:
    out = set()
    for ctrl in ("memory", "pids", "cpu"):
        d = f"/sys/fs/cgroup/{ctrl}"
        if os.path.isdir(d):
            out |= {n for n in os.listdir(d) if "bad" in n}
    return out


# --- the hot path -------------------------------------------------------------------------
def _imports(rt, b, cid) -> set:
    env = _env()
    code = f"import sys; sys.path.insert(0, {REPO!r}); from ocipy.main import main; main()"
    argv = [sys.executable, "-X", "importtime", "-I", "-S", "-c", code, "--root", rt.root, "create", "--bundle", b, cid]
    # stdio on files: the created init keeps them open (test_lifecycle.call)
    with tempfile.TemporaryFile("w+") as err:
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=REPO,
                           stdin=subprocess.DEVNULL, timeout=60)
        err.seek(0)
        text = err.read()
    assert r.returncode == 0, text
    return {ln.rsplit("|", 1)[1].strip() for ln in text.splitlines() if ln.startswith("import time:")}


def test_create_imports_seccomp_only_when_configured(runtime, bundle):
    plain = _imports(runtime, bundle(["true"]), "p")
    assert not {m for m in plain if "seccomp" in m}, sorted(m for m in plain if "seccomp" in m)
    with_docker = _imports(runtime, bundle(["true"], with_seccomp(docker_profile()), name="b2"), "q")
    ours = {"ocipy.seccomp", "ocipy.seccomp.compiler", "ocipy.seccomp.bpf", "ocipy.syscalls.seccomp"}
    assert ours <= with_docker
    ours |= {"struct", "_struct"}  # (the filter's sock_filter records; a plain create needs neither)
    assert not with_docker & {"ctypes", "json", "re", "typing", "socket", "pydantic"}, \
        sorted(with_docker & {"ctypes", "json", "re", "typing", "socket", "pydantic"})
    assert with_docker - plain <= ours, \
        sorted(with_docker - plain)


def test_create_with_docker_profile_speed_vs_runc(runtime, runc, bundle):
    """Measured side by side (reported, loosely bounded): create + delete
    with Docker's profile, ocipy against runc."""
    b = bundle(["true"], with_seccomp(docker_profile()))

    def timed(rt, n=5):
        ts = []
        for i in range(n):
            t = time.perf_counter()
            r = call(rt, "create", "--bundle", b, f"t{i}")
            ts.append(time.perf_counter() - t)
            assert r.returncode == 0, r.stderr
            rt("delete", "--force", f"t{i}")
        return sorted(ts)[n // 2]

    ours, theirs = timed(runtime), timed(runc)
    print(f"create with Docker's seccomp profile: ocipy {ours * 1e3:.1f} ms, runc {theirs * 1e3:.1f} ms")
    assert ours < theirs * 3
