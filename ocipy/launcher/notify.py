"""sd_notify passed through a container, as runc does (notify_socket.go).

When `create` or `run` runs with NOTIFY_SOCKET in its environment (systemd's
Type=notify service, Podman's --sdnotify=container), the container gets
<root>/<id>/notify/ bind-mounted read-only (nosuid, nodev, noexec) at
/run/notify and NOTIFY_SOCKET=/run/notify/notify.sock in its environment.
`start` (or `run`) binds that datagram socket before the program starts,
connects to the host's NOTIFY_SOCKET (a failure is an error before the
program runs), and after releasing the program waits for a READY= line
from it, or for the init to exit. On READY it sends the host the READY=
line, then MAINPID=<pid> (the container's init; the `run` process itself
for a foreground `run`, which stays the service's main process), then
BARRIER=1 with a pipe systemd closes once it has processed them (30 s at
most, as runc). Other lines (STATUS=...) are not forwarded, as runc.

Imported only when NOTIFY_SOCKET is set: `socket` costs ~7 ms.
"""
from __future__ import annotations

import os

from ocipy.errors import OcipyError

DIR = "notify"
SOCK = "notify.sock"
IN_CONTAINER = "/run/notify"
BARRIER_TIMEOUT = 30.0
SIGIO = 29
O_ASYNC = 0o20000


def setup_spec(config: dict, state_dir: str) -> None:
    """The config as the container must see it (runc's setupSpec): the
    socket's directory bind-mounted at /run/notify, NOTIFY_SOCKET set."""
    config["mounts"] = list(config.get("mounts") or []) + [{
        "destination": IN_CONTAINER, "source": os.path.join(state_dir, DIR), "type": "bind",
        "options": ["bind", "nosuid", "noexec", "nodev", "ro"]}]
    proc = config.get("process")
    if isinstance(proc, dict):
        proc["env"] = list(proc.get("env") or []) + [f"NOTIFY_SOCKET={IN_CONTAINER}/{SOCK}"]


def make_dir(state_dir: str) -> None:
    os.mkdir(os.path.join(state_dir, DIR), 0o755)


def has_dir(state_dir: str) -> bool:
    return os.path.isdir(os.path.join(state_dir, DIR))


def _host_address(host: str) -> str:
    return "\0" + host[1:] if host.startswith("@") else host  # "@name": abstract


class Relay:
    """The container's socket (bound) and the host's (connected)."""

    __slots__ = ("sock", "client", "host")

    def __init__(self, state_dir: str, host: str) -> None:
        import socket

        self.host = host
        path = os.path.join(state_dir, DIR, SOCK)
        try:
            os.unlink(path)  # a stale one from a start that died
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.client = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self.sock.bind(path)
            os.chmod(path, 0o777)  # any uid of the container may notify
        except OSError as e:
            self.close()
            raise OcipyError(f"NOTIFY_SOCKET: binding {path}: {os.strerror(e.errno)}") from None
        try:
            self.client.connect(_host_address(host))
        except OSError as e:
            self.close()
            raise OcipyError(f"NOTIFY_SOCKET={host}: connect: {os.strerror(e.errno)}") from None

    def close(self) -> None:
        self.sock.close()
        self.client.close()

    def wait(self, init_pid: int, main_pid: int) -> bool:
        """Wait for READY= from the container (True, forwarded) or for the
        init to exit (False). Closes both sockets."""
        import select

        try:
            try:
                pidfd = os.pidfd_open(init_pid)
            except ProcessLookupError:
                return False
            try:
                poller = select.poll()
                poller.register(self.sock.fileno(), select.POLLIN)
                poller.register(pidfd, select.POLLIN)
                while True:
                    events = dict(poller.poll())
                    if self.sock.fileno() in events:
                        ready = ready_line(self.sock.recv(4096))
                        if ready is not None:
                            self._notify_host(ready, main_pid)
                            return True
                    elif pidfd in events:
                        return False
            finally:
                os.close(pidfd)
        finally:
            self.close()

    def forward_async(self, main_pid: int) -> None:
        """For a foreground `run`: relay READY while the main code proxies
        the terminal and waits for the program. The socket raises SIGIO
        (O_ASYNC) and the handler forwards; no thread (stage 0 that entered
        the container's pid namespace cannot create one: clone(CLONE_THREAD)
        fails there) and no second process."""
        import fcntl
        import _signal

        fd = self.sock.fileno()

        def on_io(_sig, _frame) -> None:
            self._drain(main_pid)

        _signal.signal(SIGIO, on_io)
        fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK | O_ASYNC)
        self._drain(main_pid)  # what came before we listened raised no signal

    def _drain(self, main_pid: int) -> None:
        if self.sock.fileno() < 0:
            return
        try:
            while True:
                try:
                    data = self.sock.recv(4096)
                except (BlockingIOError, InterruptedError):
                    return
                ready = ready_line(data)
                if ready is not None:
                    import _signal

                    _signal.signal(SIGIO, _signal.SIG_IGN)
                    try:
                        self._notify_host(ready, main_pid)
                    finally:
                        self.close()
                    return
        except OcipyError as e:  # (in a signal handler: never raise into the proxy)
            from ocipy import log

            log.warn(str(e))
        except OSError as e:
            from ocipy import log

            log.warn(f"NOTIFY_SOCKET={self.host}: {os.strerror(e.errno) if e.errno else e}")
            self.close()

    def _notify_host(self, ready: bytes, main_pid: int) -> None:
        try:
            self.client.send(ready + b"\n")
            self.client.send(f"MAINPID={main_pid}\n".encode())
        except OSError as e:
            raise OcipyError(f"NOTIFY_SOCKET={self.host}: {os.strerror(e.errno)}") from None
        self._barrier()

    def _barrier(self) -> None:
        """sd_notify_barrier: send BARRIER=1 with a pipe's write end; the
        host closes it once it processed what came before."""
        import select
        import socket

        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                self.client.sendmsg([b"BARRIER=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, w.to_bytes(4, "little"))])
            except OSError as e:
                raise OcipyError(f"NOTIFY_SOCKET={self.host}: BARRIER=1: {os.strerror(e.errno)}") from None
            os.close(w)
            w = -1
            p = select.poll()
            p.register(r, select.POLLIN)
            if not p.poll(int(BARRIER_TIMEOUT * 1000)):
                from ocipy import log

                log.warn(f"NOTIFY_SOCKET={self.host}: no answer to BARRIER=1 after {BARRIER_TIMEOUT:.0f}s: ignored")
            elif os.read(r, 1):
                raise OcipyError(f"NOTIFY_SOCKET={self.host}: unexpected data on the barrier pipe")
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)


def ready_line(datagram: bytes):
    """The READY= line of one sd_notify datagram (lines are newline
    separated), or None."""
    for line in datagram.split(b"\n"):
        if line.startswith(b"READY="):
            return line
    return None
