"""exec's stage 1 in C (trampoline.c's exec-stage mode, driven by
launcher/execproc.py) against the Python stage 1 it replaces on the common
path. The same exec into the same container, run both ways
(OCIPY_EXEC_STAGE=python forces the Python one), must show the process
the same attributes from inside, and fail with the same line and status.
The other exec tests (test_exec, test_hardening, test_seccomp...) run the C
stage wherever it applies.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import REPO, _env
from test_lifecycle import call, create, outb, poll  # noqa: F401 - outb is a fixture

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the exec stage is x86_64 code")

LOOP = "touch /out/ready 2>/dev/null; while :; do sleep 1; done"
# what the process sees of itself (the pid namespace's inode: the same for both)
SCRIPT = ("id; pwd; env | sort; grep -E '^(Cap|NoNewPrivs|Groups|Sig(Blk|Ign)|Seccomp)' /proc/self/status; "
          "ulimit -n; ulimit -s; umask; ls /proc/self/fd; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; "
          "cat /proc/self/oom_score_adj /proc/self/cgroup; stat -L -c '%u:%g %F' /proc/self/fd/1 /proc/self/fd/2; "
          "[ \"$(cut -d' ' -f6 /proc/$$/stat)\" = $$ ] && echo own-session; "
          "mkdir /out/m 2>&1 && rmdir /out/m; true")
FLAGS = (
    [],
    ["-u", "1000:1000", "-g", "5", "-g", "7", "--cwd", "/tmp", "-e", "X=1"],
    ["-u", "1000"],  # HOME from the container's /etc/passwd (/home/user)
    ["-u", "4242:4242"],  # no passwd entry: HOME=/
    ["-e", "HOME=/elsewhere", "-c", "CAP_NET_ADMIN", "--no-new-privs"],
    ["--cwd", "/proc/self/../../tmp"],
)


def _ex(rt, *args, python: bool = False, pass_fds=(), debug: bool = False) -> subprocess.CompletedProcess:
    env = _env()
    env.pop("OCIPY_EXEC_STAGE", None)
    if python:
        env["OCIPY_EXEC_STAGE"] = "python"
    argv = rt.cmd(*(["--debug"] if debug else []), "exec", *args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, cwd=REPO,
                          stdin=subprocess.DEVNULL, pass_fds=pass_fds)


def _both(rt, *args, pass_fds=()) -> tuple:
    return tuple(_ex(rt, *args, python=p, pass_fds=pass_fds) for p in (False, True))


def _container(runtime, outb, edit=None, cid="s"):
    def ed(cfg):
        cfg["process"]["oomScoreAdj"] = 100
        cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
                                     {"type": "RLIMIT_STACK", "soft": 4 << 20, "hard": 8 << 20}]
        if edit:
            edit(cfg)
    b, out = outb(["sh", "-c", LOOP], ed, name=cid)
    create(runtime, b, cid)
    assert call(runtime, "start", cid).returncode == 0
    assert poll(lambda: (out / "ready").exists()), "the container did not start"
    return b, out


def test_the_c_stage_is_what_runs(runtime, outb):
    _container(runtime, outb)
    fast = _ex(runtime, "s", "true", debug=True)
    slow = _ex(runtime, "s", "true", debug=True, python=True)
    assert fast.returncode == slow.returncode == 0, (fast.stderr, slow.stderr)
    assert "exec: stage 1: the C exec stage" in fast.stderr
    assert "exec: stage 1: a fork of this process" in slow.stderr


@pytest.mark.parametrize("flags", FLAGS, ids=lambda f: " ".join(f) or "config")
def test_same_process_as_the_python_stage(runtime, outb, flags):
    _container(runtime, outb)
    fast, slow = _both(runtime, *flags, "s", "sh", "-c", SCRIPT)
    assert fast.returncode == slow.returncode == 0, (fast.stderr, slow.stderr)
    assert fast.stdout == slow.stdout
    assert fast.stderr == slow.stderr == ""
    assert "own-session" in fast.stdout


def test_same_with_preserved_fds(runtime, outb):
    _container(runtime, outb)
    env = _env()
    outs = []
    for python in (False, True):
        env.pop("OCIPY_EXEC_STAGE", None)
        if python:
            env["OCIPY_EXEC_STAGE"] = "python"
        # fds 3 and 4 are made in the CLI's shell only (this process's may be pytest's)
        r = subprocess.run(["sh", "-c", 'exec "$@" 3</dev/null 4>&1', "sh",
                            *runtime.cmd("exec", "--preserve-fds", "2", "s", "sh", "-c",
                                         "ls /proc/self/fd; echo via-fd4 >&4")],
                           capture_output=True, text=True, timeout=30, env=env, cwd=REPO, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1]
    assert outs[0].split() == ["0", "1", "2", "3", "4", "5", "via-fd4"]  # 5: ls's own directory


def test_same_under_a_seccomp_filter(runtime, outb):
    def ed(cfg):
        cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                                 "errnoRet": 1}]}
    _container(runtime, outb, ed)
    for flags in ([], ["--no-new-privs", "-u", "1000"]):
        fast, slow = _both(runtime, *flags, "s", "sh", "-c", SCRIPT)
        assert fast.returncode == slow.returncode == 0, (fast.stderr, slow.stderr)
        assert fast.stdout == slow.stdout
        assert "Seccomp:\t2" in fast.stdout
        assert "Operation not permitted" in fast.stdout  # mkdir refused by the filter


@pytest.mark.parametrize("args", [
    ["s", "nosuch"],
    ["s", "/tmp"],
    ["s", "/etc/passwd"],
    ["s", "/nonexistent/x"],
    ["s", "/notelf"],
    ["--cwd", "/nonexistent", "s", "true"],
    ["--cwd", "/etc/passwd", "s", "true"],
    ["-u", "1000", "s", "/root/x"],
], ids=lambda a: " ".join(a))
def test_same_failures(runtime, outb, args):
    b, _ = _container(runtime, outb)
    root = os.path.join(b, "rootfs")
    with open(os.path.join(root, "notelf"), "w") as f:
        f.write("not a program\n")
    os.chmod(os.path.join(root, "notelf"), 0o755)
    os.makedirs(os.path.join(root, "root"), exist_ok=True)
    os.chmod(os.path.join(root, "root"), 0o700)
    with open(os.path.join(root, "root", "x"), "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(os.path.join(root, "root", "x"), 0o755)
    fast, slow = _both(runtime, *args)
    assert fast.returncode == slow.returncode == 255, (fast.stderr, slow.stderr)
    assert fast.stderr == slow.stderr
    assert fast.stderr.count("\n") == 1 and "Traceback" not in fast.stderr


def test_same_rlimit_failure(runtime, outb, tmp_path):
    """A hard limit above ours: the kernel refuses it here (no
    CAP_SYS_RESOURCE in this host's bounding set), or, with it, both stages
    set it: either way they agree."""
    _container(runtime, outb)
    proc = {"args": ["sh", "-c", "ulimit -Hn"], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1 << 30}]}
    p = tmp_path / "process.json"
    p.write_text(json.dumps(proc))
    fast, slow = _both(runtime, "--process", str(p), "s")
    assert fast.returncode == slow.returncode, (fast.stderr, slow.stderr)
    assert (fast.stdout, fast.stderr) == (slow.stdout, slow.stderr)
    if fast.returncode:
        assert "process.rlimits: RLIMIT_NOFILE soft=1024 hard=1073741824" in fast.stderr


def test_one_child_no_zombie(runtime, outb):
    """The stage's first process (it forks the program as a child of the
    CLI, CLONE_PARENT) is reaped at once: while the program runs, the CLI's
    only child is the program."""
    _container(runtime, outb)
    env = _env()
    env.pop("OCIPY_EXEC_STAGE", None)
    p = subprocess.Popen(runtime.cmd("exec", "s", "sleep", "3"), env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        path = f"/proc/{p.pid}/task/{p.pid}/children"

        def kids():
            with open(path) as f:
                return f.read().split()
        assert poll(lambda: len(kids()) == 1 and _comm(kids()[0]) == "sleep", timeout=10), kids()
        assert len(kids()) == 1
    finally:
        assert p.wait(30) == 0, p.stderr.read()


def _comm(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def test_cwd_errors_name_their_source(runtime, outb, tmp_path):
    """A bad cwd is reported as the flag's or the --process file's, both ways."""
    _container(runtime, outb)
    for r in _both(runtime, "--cwd", "/nonexistent", "s", "true"):
        assert r.returncode == 255
        assert r.stderr.endswith("--cwd: chdir /nonexistent: No such file or directory\n"), r.stderr
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"args": ["true"], "cwd": "/nope", "user": {"uid": 0, "gid": 0}}))
    for r in _both(runtime, "--process", str(p), "s"):
        assert r.returncode == 255
        assert r.stderr.endswith(f"{p}: cwd: chdir /nope: No such file or directory\n"), r.stderr
