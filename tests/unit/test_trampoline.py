"""The exec trampoline (ocipy/launcher/trampoline.py): the embedded program
is the one trampoline.c builds to, it refuses to run any other way than as
ocipy's last step, it execs with the arguments and environment given, and
its failures read as exec_process's."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from ocipy.launcher import trampoline

pytestmark = pytest.mark.skipif(os.uname().machine != trampoline.MACHINE, reason="x86_64 trampoline")


def test_embedded_code_is_built_from_the_source():
    if not shutil.which("gcc"):
        pytest.skip("gcc needed to rebuild")
    assert trampoline.build() == trampoline.CODE, "stale: run python -m ocipy.launcher.trampoline --build"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=10,
                          env={"PYTHONPATH": os.getcwd(), "PATH": "/usr/bin:/bin"})


def test_execs_the_program_with_args_and_env_from_a_sealed_memfd():
    r = _run("import os; from ocipy.launcher import trampoline as t\n"
             "t.execve('/bin/sh', ['sh', '-c', 'echo \"$0|$1|$FOO\"', 'zero', 'one two'], {'FOO': 'bar'})")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "zero|one two|bar\n"


def test_proc_self_exe_is_the_memfd_not_the_interpreter():
    # exec /proc/self/exe through the trampoline: it is the trampoline itself, which refuses
    r = _run("from ocipy.launcher import trampoline as t\nt.execve('/proc/self/exe', ['x', '-c', 'pass'], {})")
    assert r.returncode == 126, (r.returncode, r.stderr)
    assert "only runs as ocipy's last step" in r.stderr


def test_failure_without_error_pipe_is_printed():
    r = _run("from ocipy.launcher import trampoline as t\nt.execve('/nonexistent', ['x'], {}, -1, 'ocipy: exec x: ')")
    assert r.returncode == 127
    assert r.stderr == "ocipy: exec x: errno 2\n"


def test_failure_with_error_pipe_reads_as_exec_process():
    rfd, wfd = os.pipe2(os.O_CLOEXEC)
    code = (f"from ocipy.launcher import trampoline as t\n"
            f"t.execve('/etc/passwd', ['pw'], {{}}, {wfd}, '')")
    p = subprocess.Popen([sys.executable, "-c", code], pass_fds=(wfd,), env={"PYTHONPATH": os.getcwd()})
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        err = f.read()
    assert p.wait(10) == 127
    assert err == b"\x0013"  # EACCES
    assert trampoline.describe(err, "pw").startswith('exec: "pw": ')
    assert trampoline.describe(b"plain message\n", "pw") == "plain message"


def test_success_closes_the_error_pipe():
    rfd, wfd = os.pipe2(os.O_CLOEXEC)
    code = f"from ocipy.launcher import trampoline as t\nt.execve('/bin/sleep', ['sleep', '2'], {{}}, {wfd}, '')"
    p = subprocess.Popen([sys.executable, "-c", code], pass_fds=(wfd,), env={"PYTHONPATH": os.getcwd()})
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        assert f.read() == b""  # EOF while sleep still runs: the pipe closed at the real execve
    assert p.poll() is None
    p.kill()
    p.wait()
