"""ocipy start: release a created container's process and return at once."""
from __future__ import annotations

import os

from ocipy import state as st
from ocipy.errors import OcipyError


def run(g: dict, p: dict) -> int:
    c = st.Container.load(g["root"], p["container_id"])
    c.lock()
    try:
        c.require("start")
        release(c)
    finally:
        c.unlock()
    return 0


def release(c: st.Container) -> None:
    """Open exec.fifo for reading: the init, blocked opening it for writing,
    writes one byte and execs the user's program. Watch the init through a
    pidfd meanwhile, so a dead init is an error, never a hang."""
    import select

    fifo = os.path.join(c.dir, st.FIFO)
    try:
        pidfd = os.pidfd_open(c.pid)
    except ProcessLookupError:
        raise OcipyError(f'cannot start container "{c.id}": its process has exited') from None
    try:
        if not c.init_alive():  # the pidfd is ours now: check it is the right process
            raise OcipyError(f'cannot start container "{c.id}": its process has exited')
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.register(pidfd, select.POLLIN)
            while True:
                events = dict(poller.poll())
                if fd in events:
                    if os.read(fd, 1):
                        break
                if pidfd in events:
                    raise OcipyError(f'cannot start container "{c.id}": its process exited before start')
        finally:
            os.close(fd)
    finally:
        os.close(pidfd)
    os.unlink(fifo)
