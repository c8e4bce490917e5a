"""The caller's side of a container terminal.

`--console-socket` peers (containerd's shim, conmon, tests) receive the pty
master over a unix socket with SCM_RIGHTS; `recv_master` is that receiving
side. A foreground `ocipy run` with `process.terminal` and no console socket
is its own peer, and `proxy` then relays between the caller's terminal (put
in raw mode) and the container's pty, like `runc run`.
"""
from __future__ import annotations

import os


def recv_master(sock_fd: int) -> int:
    import array
    import socket

    s = socket.socket(fileno=sock_fd)
    try:
        fds = array.array("i")
        _msg, anc, _flags, _addr = s.recvmsg(1024, socket.CMSG_SPACE(fds.itemsize))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        if not fds:
            raise OSError("no pty master received")
        return fds[0]
    finally:
        s.close()


def proxy(master: int, pid: int) -> None:
    """Relay stdin -> master and master -> stdout until the pty closes
    (every holder of the slave is gone) or the process exits."""
    import select

    stdin_tty = os.isatty(0)
    saved = None
    if stdin_tty:
        import termios
        import tty

        saved = termios.tcgetattr(0)
        tty.setraw(0)
        _copy_winsize(0, master)
    import _signal

    _signal.signal(28, lambda *_: _copy_winsize(0, master) if stdin_tty else None)  # SIGWINCH
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        pidfd = -1
    poller = select.poll()
    poller.register(master, select.POLLIN)
    stdin_open = True
    poller.register(0, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    try:
        while True:
            for fd, ev in poller.poll():
                if fd == master:
                    try:
                        data = os.read(master, 65536)
                    except OSError:  # EIO: the slave side is closed
                        data = b""
                    if not data:
                        return
                    _write_all(1, data)
                elif fd == 0 and stdin_open:
                    data = os.read(0, 65536) if ev & (select.POLLIN | select.POLLHUP) else b""
                    if not data:
                        poller.unregister(0)
                        stdin_open = False
                        _write_all(master, b"\x04")  # EOF for the container's line discipline
                    else:
                        _write_all(master, data)
                elif fd == pidfd:
                    # drain what the process wrote before it exited
                    try:
                        while True:
                            data = os.read(master, 65536)
                            if not data:
                                break
                            _write_all(1, data)
                            if len(data) < 65536:
                                break
                    except OSError:
                        pass
                    return
    finally:
        if pidfd >= 0:
            os.close(pidfd)
        if saved is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _copy_winsize(src: int, dst: int) -> None:
    import fcntl

    TIOCGWINSZ, TIOCSWINSZ = 0x5413, 0x5414
    try:
        ws = fcntl.ioctl(src, TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, TIOCSWINSZ, ws)
    except OSError:
        pass
