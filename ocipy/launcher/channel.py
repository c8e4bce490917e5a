"""The typed message channel between the launcher's stages.

Two pipes (parent->child, child->parent) created by stage 0 before it forks.
Messages are single lines "KIND payload\\n"; the kinds, in protocol order:

  child -> parent                         parent -> child
  ---------------                         ---------------
  userns      (stage 1 unshared a user ns) mapped  (uid/gid maps written)
  pid N       (stage 1 forked the init)
  netdevs     (init: in its new net ns;   netdevs-done (linux.netDevices moved in,
               move linux.netDevices)                   addresses kept, up; go on)
  hooks       (init: mounts done; run        hooks-done (prestart + createRuntime
               prestart/createRuntime now)               hooks ran; go on)
  hookerror MSG (a createContainer hook failed: destroy, then poststop hooks)
  ready       (init set up, about to block on exec.fifo)
                                          ack     (state saved: go on)
  warn MSG    (a warning for the user's log, e.g. a capability not granted)
  error MSG   (any stage failed; MSG is one line for the user)

EOF on either side means the peer is gone: the init exits if stage 0
disappears before `ack` (a killed `create` leaves no process behind).
Pipes, not a socketpair: `import socket` costs ~7 ms on this path.
"""
import posix


class Channel:
    __slots__ = ("rfd", "wfd", "_buf")

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd, self._buf = rfd, wfd, b""

    def send(self, kind: str, payload: str = "") -> None:
        line = (kind + (" " + payload.replace("\n", " ") if payload else "") + "\n").encode(
            "utf-8", "surrogateescape")
        while line:
            n = posix.write(self.wfd, line)
            line = line[n:]

    def recv(self) -> tuple[str, str]:
        """Next message; ("eof", "") when the peer has closed its end."""
        while b"\n" not in self._buf:
            chunk = posix.read(self.rfd, 4096)
            if not chunk:
                return "eof", ""
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        kind, _, payload = line.decode("utf-8", "surrogateescape").partition(" ")
        return kind, payload

    def expect(self, kind: str) -> str:
        k, payload = self.recv()
        if k != kind:
            raise EOFError(f"expected {kind}, got {k} {payload}".strip())
        return payload

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                posix.close(fd)
            except OSError:
                pass


def pair() -> tuple[Channel, Channel]:
    """(parent side, child side): each fd is O_CLOEXEC."""
    c2p_r, c2p_w = posix.pipe()
    p2c_r, p2c_w = posix.pipe()
    return Channel(c2p_r, p2c_w), Channel(p2c_r, c2p_w)
