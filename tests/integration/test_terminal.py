"""process.terminal: the pty, --console-socket (the pty master comes back
over an AF_UNIX socket with SCM_RIGHTS, as runc does for containerd), and
a foreground `run` that proxies the pty itself.
"""
from __future__ import annotations

import array
import fcntl
import os
import select
import socket
import struct
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIOCGPTN = 0x80045430


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = REPO + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def terminal_on(size=None):
    def edit(c):
        c["process"]["terminal"] = True
        if size:
            c["process"]["consoleSize"] = {"height": size[0], "width": size[1]}
    return edit


def recv_fd(conn: socket.socket) -> tuple[int, bytes]:
    fds = array.array("i")
    msg, anc, _flags, _addr = conn.recvmsg(1024, socket.CMSG_LEN(4 * fds.itemsize))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    assert len(fds) == 1, f"expected one fd over the console socket, got {list(fds)}"
    return fds[0], msg


def read_until_eof(fd: int, timeout: float = 15, send: bytes = b"", send_after: bytes = b"") -> str:
    """Read the pty master until the slave side is gone (EIO). `send` is
    written once `send_after` has been seen in the output."""
    buf = b""
    deadline = time.monotonic() + timeout
    sent = not send
    while time.monotonic() < deadline:
        if not sent and send_after in buf:
            os.write(fd, send)
            sent = True
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: every slave fd is closed
            break
        if not chunk:
            break
        buf += chunk
    else:
        raise AssertionError(f"the container's output never ended: {buf!r}")
    return buf.decode(errors="replace")


class ConsoleSocket:
    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(15)

    def accept_master(self) -> tuple[int, bytes]:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(15)
            return recv_fd(conn)

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


@pytest.fixture
def console(tmp_path):
    s = ConsoleSocket(str(tmp_path / "console.sock"))
    yield s
    s.close()


def create_with_console(runtime, b: str, cid: str, console: ConsoleSocket, tmp_path) -> int:
    """`create --console-socket`; returns the pty master received."""
    out = tmp_path / f"{cid}.create.out"
    with open(out, "w") as o:
        p = subprocess.Popen(runtime.cmd("create", "--console-socket", console.path, "--bundle", b, cid),
                             stdin=subprocess.DEVNULL, stdout=o, stderr=subprocess.STDOUT, env=env(), cwd=REPO)
        try:
            master, _name = console.accept_master()
        except OSError as e:
            p.kill()
            p.wait()
            raise AssertionError(f"no pty master received ({e}): {out.read_text()}") from None
        assert p.wait(timeout=30) == 0, out.read_text()
    return master


# --- --console-socket ------------------------------------------------------------------
def test_console_socket_tty_console_size_and_stdin(runtime, bundle, console, tmp_path):
    script = ('tty; stat -c "console %t:%T" /dev/console; stat -L -c "pts %t:%T" "$(tty)"; '
              'stty size; echo ready; read line; echo "got:$line"')
    b = bundle(["sh", "-c", script], edit=terminal_on((33, 111)))
    master = create_with_console(runtime, b, "tty", console, tmp_path)
    try:
        st = os.fstat(master)
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (5, 2), "not a pty master (ptmx)"
        n = struct.unpack("i", fcntl.ioctl(master, TIOCGPTN, struct.pack("i", 0)))[0]
        r = runtime("start", "tty")
        assert r.returncode == 0, r.stderr
        out = read_until_eof(master, send=b"hello from the master\n", send_after=b"ready")
    finally:
        os.close(master)
    lines = [ln.rstrip("\r") for ln in out.split("\n")]
    assert lines[0] == f"/dev/pts/{n}", out
    pts = next(ln for ln in lines if ln.startswith("pts "))
    cons = next(ln for ln in lines if ln.startswith("console "))
    assert pts.split()[1] == cons.split()[1], out  # /dev/console is the same pty
    assert int(pts.split()[1].split(":")[0], 16) == 136  # a Unix98 pty slave
    assert "33 111" in lines, out
    assert "got:hello from the master" in lines, out


def test_console_socket_exit_status_recorded(runtime, bundle, console, tmp_path, wait_gone):
    b = bundle(["sh", "-c", "echo bye; exit 5"], edit=terminal_on())
    master = create_with_console(runtime, b, "ttyexit", console, tmp_path)
    try:
        pid = runtime.state("ttyexit")["pid"]
        assert runtime("start", "ttyexit").returncode == 0
        out = read_until_eof(master)
    finally:
        os.close(master)
    assert "bye" in out
    assert wait_gone(pid)
    assert runtime.state("ttyexit")["status"] == "stopped"
    assert runtime("delete", "ttyexit").returncode == 0
    assert runtime.ids() == []


def test_console_is_controlling_terminal(runtime, bundle, console, tmp_path):
    """The pty is the process's controlling terminal: /dev/tty opens, and
    its session is the process's own (setsid)."""
    script = 'echo x > /dev/tty && echo tty-ok; cat /proc/self/stat | cut -d" " -f6,7'
    b = bundle(["sh", "-c", script], edit=terminal_on())
    master = create_with_console(runtime, b, "ctty", console, tmp_path)
    try:
        assert runtime("start", "ctty").returncode == 0
        out = read_until_eof(master)
    finally:
        os.close(master)
    lines = [ln.rstrip("\r") for ln in out.split("\n") if ln.strip()]
    assert "tty-ok" in lines, out
    _session, tty_nr = lines[-1].split()
    assert int(tty_nr) != 0, out  # has a controlling terminal


def test_console_owned_by_non_root_process_user(runtime, bundle, console, tmp_path):
    """As runc does, the pty slave (and so /dev/console) belongs to the
    process's user, who can reopen it."""
    def edit(c):
        terminal_on()(c)
        c["process"]["user"] = {"uid": 1000, "gid": 1000}

    script = 'stat -c "%u" "$(tty)" /dev/console; echo hi > "$(tty)" && echo reopen-ok'
    b = bundle(["sh", "-c", script], edit=edit)
    master = create_with_console(runtime, b, "ttyuser", console, tmp_path)
    try:
        assert runtime("start", "ttyuser").returncode == 0
        out = read_until_eof(master)
    finally:
        os.close(master)
    lines = [ln.rstrip("\r") for ln in out.split("\n") if ln.strip()]
    assert lines[:2] == ["1000", "1000"], out
    assert "reopen-ok" in lines, out


# --- errors --------------------------------------------------------------------------------
def test_create_terminal_without_console_socket_fails_clearly(runtime, bundle):
    b = bundle(["true"], edit=terminal_on())
    r = runtime("create", "--bundle", b, "noconsole")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "console-socket" in r.stderr and "terminal" in r.stderr, r.stderr
    assert runtime.ids() == []


def test_detached_run_terminal_without_console_socket_fails_clearly(runtime, bundle):
    """`run -d` cannot proxy a pty: like create, it needs --console-socket."""
    b = bundle(["sleep", "10"], edit=terminal_on())
    r = runtime("run", "-d", "--bundle", b, "detached", timeout=20)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "console-socket" in r.stderr, r.stderr
    assert runtime.ids() == []


def test_console_socket_without_terminal_fails_clearly(runtime, bundle, console):
    b = bundle(["true"])
    r = runtime("create", "--console-socket", console.path, "--bundle", b, "noterm")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "console-socket" in r.stderr and "terminal" in r.stderr, r.stderr
    assert runtime.ids() == []


def test_console_socket_missing_path_fails_clearly(runtime, bundle, tmp_path):
    path = str(tmp_path / "no-such.sock")
    b = bundle(["true"], edit=terminal_on())
    r = runtime("create", "--console-socket", path, "--bundle", b, "nosock")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert path in r.stderr, r.stderr
    assert runtime.ids() == []


# --- foreground run proxies the pty ----------------------------------------------------
def test_foreground_run_with_terminal_and_no_console_socket(runtime, bundle):
    b = bundle(["sh", "-c", "tty; stty size; exit 3"], edit=terminal_on((24, 80)))
    r = runtime("run", "--bundle", b, "fg", stdin=subprocess.DEVNULL, timeout=30)
    assert r.returncode == 3, r.stderr
    lines = [ln.rstrip("\r") for ln in r.stdout.split("\n")]
    assert lines[0].startswith("/dev/pts/"), r.stdout
    assert "24 80" in lines, r.stdout
    assert runtime.ids() == []


def test_foreground_run_with_terminal_passes_stdin(runtime, bundle):
    b = bundle(["sh", "-c", "read a; echo \"got:$a\""], edit=terminal_on())
    r = runtime("run", "--bundle", b, "fgin", input="typed\n", timeout=30)
    assert r.returncode == 0, r.stderr
    assert "got:typed" in r.stdout, r.stdout
