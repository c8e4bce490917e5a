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


# --- wait mode: the created container's init (process.exec_waiting) ----------------
_WAIT = """
import os, signal, sys
from ocipy.launcher import trampoline as t
fifo = sys.argv[1]
fd = os.dup2(os.open(fifo, os.O_PATH | os.O_CLOEXEC), 9, inheritable=False)
os.setresgid(1, 65534, 65534)  # real != effective: non-dumpable from the execve on
os.setresuid(65534, 65534, 65534)
signal.pthread_sigmask(signal.SIG_BLOCK, t.WAIT_SIGNALS)
os.closerange(3, 9)
t.execve('/bin/sh', ['sh', '-c', 'echo "ran $(id -g) $(id -rg)"'], {'PATH': '/bin'}, prefix='p: ', wait_fd=9)
print('not exec', flush=True)
"""


def _waiter(tmp_path):
    fifo = tmp_path / "exec.fifo"
    os.mkfifo(fifo)
    os.chmod(fifo, 0o622)
    os.chmod(tmp_path, 0o755)
    p = subprocess.Popen([sys.executable, "-c", _WAIT, str(fifo)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={"PYTHONPATH": os.getcwd(), "PATH": "/usr/bin:/bin"})
    for _ in range(200):  # until it waits as the trampoline
        try:
            if os.readlink(f"/proc/{p.pid}/exe").startswith("/memfd:ocipy-exec"):
                break
        except OSError:
            pass
        import time

        time.sleep(0.01)
    else:
        p.kill()
        pytest.fail(f"the trampoline never waited: {p.communicate()}")
    return p, fifo


@pytest.mark.skipif(os.geteuid() != 0, reason="root: sets ids")
def test_wait_mode_waits_for_start_non_dumpable_then_execs(tmp_path):
    p, fifo = _waiter(tmp_path)
    try:
        # non-dumpable: its /proc/<pid>/fd belongs to root, not to its uid 65534
        assert os.stat(f"/proc/{p.pid}/fd").st_uid == 0
        assert sorted(os.listdir(f"/proc/{p.pid}/fd")) == ["0", "1", "2", "9"]
        assert p.poll() is None, "it must wait for start"
        fd = os.open(fifo, os.O_RDONLY)  # what `start` does
        try:
            assert os.read(fd, 1) == b"0"
        finally:
            os.close(fd)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert out == "ran 65534 65534\n"  # the real gid set back to the effective one


@pytest.mark.skipif(os.geteuid() != 0, reason="root: sets ids")
@pytest.mark.parametrize("sig", [1, 2, 3, 10, 12, 14, 15])
def test_wait_mode_signals_end_it_as_the_python_init(tmp_path, sig):
    p, _ = _waiter(tmp_path)
    os.kill(p.pid, sig)
    p.communicate(timeout=10)
    assert p.returncode == 128 + sig
