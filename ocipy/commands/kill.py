"""ocipy kill: signal the container's init (or, --all, every process)."""
import posix

from ocipy import state as st
from ocipy.errors import OcipyError, StateError
from ocipy.signals import parse_signal


def run(g: dict, p: dict) -> int:
    sig = parse_signal(p.get("signal") or "SIGTERM")
    c = st.Container.load(g["root"], p["container_id"])
    status = c.status()
    if status == st.STOPPED:
        if p.get("all"):
            # runc: --all acts on a stopped container too (whatever is left in
            # its cgroup, usually nothing). containerd's `tasks rm -f` and
            # Docker's teardown send it to stopped containers and treat any
            # error other than "not running"/"does not exist" as a failure.
            kill_all(c, sig)
            return 0
        # "container not running": the words containerd matches (as runc's)
        # to know the process is already gone (else "unknown error after kill")
        raise StateError(f'cannot kill container "{c.id}": container not running (it is stopped)')
    status = c.require("kill", status=status)
    if p.get("all"):
        kill_all(c, sig)
    elif not signal_init(c, sig):
        raise OcipyError(f'cannot kill container "{c.id}": container not running (its init has exited)')
    elif sig == 9 and status == st.PAUSED:
        # a v1 freezer holds a SIGKILLed task until thawed (runc thaws too)
        cgroup_of(c).thaw()
    return 0


def signal_init(c: st.Container, sig: int) -> bool:
    """Signal the init through a pidfd checked against the recorded start
    time: a recycled pid is never signalled. False if the init is gone."""
    import _signal

    try:
        pidfd = posix.pidfd_open(c.pid)
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
        posix.close(pidfd)


def container_pids(c: st.Container) -> list[int]:
    """Every process of the container, without cgroups (ocipy.cgroups will
    read cgroup.procs):
    - its own pid namespace: the processes in the init's pid namespace
      (when the init is gone, the kernel has killed them all);
    - else its own mount namespace: processes in that namespace whose root
      is the container's rootfs (both checks: a namespace inode number can be
      reused once the namespace is freed);
    - else only the init."""
    s = c.state
    if s.get("cgroup"):
        return cgroup_of(c).procs()
    alive = c.init_alive()
    if s.get("new_pidns"):
        return _scan("pid", _ns_ino(c.pid, "pid"), None) if alive else []
    if s.get("new_mntns"):
        ino = _ns_ino(c.pid, "mnt") if alive else s.get("mnt_ino")
        if ino:
            pids = _scan("mnt", ino, tuple(s.get("rootfs_id") or ()))
            if alive and c.pid not in pids:
                pids.append(c.pid)
            return pids
    return [c.pid] if alive else []


def _ns_ino(pid: int, ns: str) -> int:
    try:
        return posix.stat(f"/proc/{pid}/ns/{ns}").st_ino
    except OSError:
        return 0


def _scan(ns: str, ino: int, root_id) -> list[int]:
    if not ino:
        return []
    pids = []
    for name in posix.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if posix.stat(f"/proc/{name}/ns/{ns}").st_ino != ino:
                continue
            if root_id:
                r = posix.stat(f"/proc/{name}/root")
                if (r.st_dev, r.st_ino) != root_id:
                    continue
        except OSError:
            continue
        pids.append(int(name))
    return pids


def cgroup_of(c: st.Container):
    from ocipy.cgroups import from_state

    return from_state(c.state["cgroup"])


def kill_all(c: st.Container, sig: int) -> None:
    if c.state.get("cgroup"):
        # every process of the cgroup (cgroup.kill, or freeze-signal-thaw)
        mgr = cgroup_of(c)
        if mgr.exists():
            mgr.kill_all(sig)
            return
    if sig == 9 and c.state.get("new_pidns") and c.init_alive():
        # SIGKILL to a pid namespace's init kills the whole namespace
        signal_init(c, 9)
        return
    for pid in container_pids(c):
        if pid == c.pid:
            signal_init(c, sig)
        else:
            try:
                posix.kill(pid, sig)
            except ProcessLookupError:
                pass
