"""ocipy kill: signal the container's init (or, --all, every process)."""
from __future__ import annotations

import os

from ocipy import state as st
from ocipy.errors import OcipyError
from ocipy.signals import parse_signal


def run(g: dict, p: dict) -> int:
    sig = parse_signal(p.get("signal") or "SIGTERM")
    c = st.Container.load(g["root"], p["container_id"])
    c.require("kill")
    if p.get("all"):
        kill_all(c, sig)
    elif not signal_init(c, sig):
        raise OcipyError(f'container "{c.id}" is not running')
    return 0


def signal_init(c: st.Container, sig: int) -> bool:
    """Signal the init through a pidfd checked against the recorded start
    time: a recycled pid is never signalled. False if the init is gone."""
    import _signal

    try:
        pidfd = os.pidfd_open(c.pid)
    except (ProcessLookupError, OSError):
        return False
    try:
        if not c.init_alive():
            return False
        try:
            _signal.pidfd_send_signal(pidfd, sig)
        except ProcessLookupError:
            return False
        return True
    finally:
        os.close(pidfd)


def container_pids(c: st.Container) -> list[int]:
    """Every process of the container. With its own pid namespace: all
    processes in that namespace (found through /proc/*/ns/pid); otherwise
    only the init (the cgroup-based lookup comes with ocipy.cgroups)."""
    if not c.state.get("new_pidns"):
        return [c.pid]
    try:
        want = os.stat(f"/proc/{c.pid}/ns/pid").st_ino
    except OSError:
        return []
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}/ns/pid").st_ino == want:
                    pids.append(int(name))
            except OSError:
                pass
    return pids


def kill_all(c: st.Container, sig: int) -> None:
    if sig == 9 and c.state.get("new_pidns"):
        # SIGKILL to a pid namespace's init kills the whole namespace
        signal_init(c, 9)
        return
    for pid in container_pids(c):
        if pid == c.pid:
            signal_init(c, sig)
        else:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
