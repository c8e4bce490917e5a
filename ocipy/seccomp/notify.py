"""SCMP_ACT_NOTIFY: hand the listener fd to the seccomp agent at listenerPath.

The process that loaded the filter (init or exec child) tells its stage 0
the fd number and waits; stage 0, host root outside the container, copies
the fd with pidfd_getfd(2), connects to listenerPath (AF_UNIX, SOCK_STREAM),
sends the container process state (config-linux.md) as one JSON payload with
the fd in SCM_RIGHTS, closes the connection, and lets the process go on
(which closes its own copy). Imported only when a filter uses NOTIFY.
"""
from __future__ import annotations

import os

from ocipy import SPEC_VERSION
from ocipy.errors import OcipyError


def process_state(f, pid: int) -> dict:
    """The container process state: ociVersion, fds, pid, metadata, state."""
    d = {"ociVersion": SPEC_VERSION, "fds": ["seccompFd"], "pid": pid}
    if f.metadata:
        d["metadata"] = f.metadata
    d["state"] = f.state or {}
    return d


def container_state(s: dict, status: str, pid: int) -> dict:
    """runtime.md's state of the container, from state.json's record."""
    return {"ociVersion": s.get("ociVersion") or SPEC_VERSION, "id": s.get("id", ""), "status": status,
            "pid": pid, "bundle": s.get("bundle", ""), "annotations": s.get("annotations") or {}}


def send(f, fd: int, pid: int) -> None:
    """Send fd and the process state to listenerPath (one connection)."""
    import socket

    from ocipy import jsonlite

    where = f"{f.where}: linux.seccomp.listenerPath: {f.listener_path}"
    data = jsonlite.dumps(process_state(f, pid)).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.settimeout(10)
        try:
            s.connect(f.listener_path)
        except OSError as e:
            raise OcipyError(f"{where}: connect: {os.strerror(e.errno) if e.errno else e}") from None
        try:
            n = s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd.to_bytes(4, "little"))])
            if n < len(data):
                s.sendall(data[n:])  # the fds went with the first sendmsg only
        except OSError as e:
            raise OcipyError(f"{where}: sending the seccomp fd: {os.strerror(e.errno) if e.errno else e}") from None
    finally:
        s.close()


def deliver(f, pid: int, child_fd: int) -> None:
    """Stage 0: copy process pid's listener fd child_fd and send it."""
    from ocipy.errors import SysError
    from ocipy.syscalls.seccomp import pidfd_getfd

    try:
        pidfd = os.pidfd_open(pid)
    except OSError as e:
        raise OcipyError(f"{f.where}: linux.seccomp: pidfd_open {pid}: {os.strerror(e.errno)}") from None
    try:
        fd = pidfd_getfd(pidfd, child_fd)
    except SysError as e:
        raise OcipyError(f"{f.where}: linux.seccomp: taking the listener fd: {e}") from None
    finally:
        os.close(pidfd)
    try:
        send(f, fd, pid)
    finally:
        os.close(fd)


class ExecSync:
    """exec's hand-off over its CLOEXEC error pipe (EOF = exec'd, text =
    error) plus an ack pipe made here: the child writes "\\0seccomp N\\n"
    and waits for one byte; stage 0 delivers, then answers b"1" (or closes:
    the child gives up)."""

    __slots__ = ("wfd", "ack_r", "ack_w")

    def __init__(self, wfd: int, low: int) -> None:
        import fcntl

        r, w = os.pipe2(os.O_CLOEXEC)
        self.wfd = wfd
        self.ack_r = _above(fcntl, r, low)
        self.ack_w = _above(fcntl, w, low)

    def child(self, fd: int) -> None:
        os.close(self.ack_w)
        os.write(self.wfd, b"\0seccomp %d\n" % fd)
        if os.read(self.ack_r, 1) != b"1":
            raise OcipyError("seccomp: the runtime could not hand the listener fd to the agent")
        os.close(self.ack_r)

    def parent(self, rfd: int, f, pid: int) -> bytes:
        """Stage 0 after the fork: serve the hand-off; returns what the
        child wrote besides it (its error, b"" once exec'd)."""
        os.close(self.ack_r)
        buf = b""
        try:
            while True:
                chunk = os.read(rfd, 4096)
                if not chunk:
                    return buf
                buf += chunk
                if buf.startswith(b"\0seccomp ") and b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    try:
                        deliver(f, pid, int(line[len(b"\0seccomp "):]))
                    except OcipyError as e:
                        return str(e).encode()
                    os.write(self.ack_w, b"1")
        finally:
            os.close(self.ack_w)


def _above(fcntl, fd: int, low: int) -> int:
    if fd >= low:
        return fd
    nfd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    os.close(fd)
    return nfd
