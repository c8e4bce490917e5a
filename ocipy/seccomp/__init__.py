"""Seccomp for containers (config-linux.md "Seccomp"), crun-style.

  stage 0 (create)   compile(): linux.seccomp -> a BPF program with
                     libseccomp (ocipy.seccomp.compiler), every error one line
                     naming the field, before anything exists; the program
                     is saved beside state.json (seccomp.bpf) for `exec`.
  init / exec child  load(): the raw seccomp(2) syscall with those bytes and
                     the spec's flags: no libseccomp in the container's
                     process (nothing to dlopen after pivot_root, no library
                     state to inherit), one syscall.
  NOTIFY             the filter is loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER;
                     the process tells its stage 0 the fd number and waits;
                     stage 0 takes a copy with pidfd_getfd(2) (runc does the
                     same) and sends it with the container process state to
                     listenerPath (ocipy.seccomp.notify); the process then
                     closes its copy (the container never holds it).

When it is loaded (runc's order, standard_init_linux.go):
  - without noNewPrivileges, loading needs CAP_SYS_ADMIN: before the
    capabilities are dropped (before set_credentials); what follows (setuid,
    capset, the wait for `start`, closing fds, execve) runs under the filter,
    as runc's finalizeNamespace and exec do;
  - with noNewPrivileges: as late as the hand-off allows, after credentials
    and the executable lookup, just before the init reports "ready" (the exec
    child: just before closing its fds and execve).
Everything ocipy does afterwards uses calls runc's init also makes (write,
read, close, openat, execve), plus close_range, which falls back to closing
fd by fd (launcher.process) where a profile denies it.

Hot path: this module imports nothing beyond what create already holds; a
container without linux.seccomp never imports it.
"""
import posix

from ocipy.errors import OcipyError
from ocipy.pathlite import join as _join

BPF_FILE = "seccomp.bpf"


class Filter:
    """A compiled filter and how to load and hand it over."""

    __slots__ = ("bpf", "flags", "notify", "listener_path", "metadata", "state", "where", "sync")

    def __init__(self, bpf: bytes, flags: int, notify: bool, listener_path: str = "", metadata: str = "",
                 where: str = "config.json") -> None:
        self.bpf, self.flags, self.notify = bpf, flags, notify
        self.listener_path, self.metadata, self.where = listener_path, metadata, where
        self.state = None  # the container's state for a NOTIFY agent (set by stage 0)
        self.sync = None  # exec: the hand-off pipes (notify.ExecSync)


# where compiled programs are kept for the next create with the same profile
# (stages.create sets compiler.CACHE_DIR; "" = no cache)
cache_dir = ""


def compile(sec: dict, where: str) -> Filter:  # noqa: A001 - the verb of this package
    """Stage 0: linux.seccomp -> Filter (ConfigError naming the field)."""
    from ocipy import log
    from ocipy.seccomp.compiler import compile_seccomp

    c = compile_seccomp(sec, where, debug=log.debug, cache_dir=cache_dir)
    return Filter(c.bpf, c.flags, c.notify, sec.get("listenerPath") or "", sec.get("listenerMetadata") or "",
                  where)


def load(f: Filter, handoff=None) -> None:
    """Install the filter on the calling process. With NOTIFY, handoff(fd)
    must return once stage 0 holds its copy of the listener fd; ours is
    closed right after."""
    from ocipy.errors import SysError
    from ocipy.syscalls.seccomp import load_filter

    try:
        fd = load_filter(f.bpf, f.flags)
    except SysError as e:
        hint = " (without noNewPrivileges loading needs CAP_SYS_ADMIN)" if e.errno in (1, 13) else ""
        raise OcipyError(f"{f.where}: linux.seccomp: {e}{hint}") from None
    if f.flags & 8:  # SECCOMP_FILTER_FLAG_NEW_LISTENER
        try:
            if handoff is None:
                raise OcipyError(f"{f.where}: linux.seccomp: no way to hand the listener fd to the runtime")
            handoff(fd)
        finally:
            posix.close(fd)


# the calls the exec trampoline (launcher.trampoline: sealed memfd, x86_64)
# makes once the filter is loaded: memfd_create(MFD_CLOEXEC|ALLOW_SEALING|EXEC),
# ioctl(FIONCLEX), fcntl(F_ADD_SEALS), execveat(AT_EMPTY_PATH), in the
# trampoline fcntl(F_SETFD) and, failing, exit
_MEMFD_EXEC_X86_64 = ((319, (0, 0x13)), (16, (3, 0x5450)), (72, (3, 1033, 15)), (322, (3, 0, 0, 0, 0x1000)),
                      (72, (3, 2, 1)), (60, (127,)))


def allows_memfd_exec(f: Filter) -> bool:
    """Whether the filter lets the exec trampoline through (else the
    launcher execs the program directly, as runc would: a profile that
    refuses or kills on memfd_create/execveat must not break the start)."""
    from ocipy.seccomp import bpf

    try:
        return all(bpf.allows(f.bpf, nr, args) for nr, args in _MEMFD_EXEC_X86_64)
    except ValueError:
        return False


# the calls of the trampoline's wait mode (the init of a created container):
# prctl(PR_SET_DUMPABLE, 0), getegid, setresgid, rt_sigaction and rt_sigprocmask(SIG_UNBLOCK),
# openat(AT_FDCWD, "/proc/self/fd/N", O_WRONLY|O_CLOEXEC), fstat, write,
# close, sched_yield, exit_group (its signal handlers), execve, exit
_WAIT_X86_64 = ((157, (4, 0)), (108, ()), (119, ()), *((13, (s, 0, 0, 8)) for s in (1, 2, 3, 10, 12, 14, 15)), (14, (1, 0, 0, 8)),
                (257, (-100, 0, 0o2000001, 0)), (5, ()), (1, ()), (3, ()), (24, ()), (231, ()), (59, ()),
                (60, ()))


def allows_trampoline_wait(f: Filter) -> bool:
    """Whether the filter lets the trampoline's wait mode through (else the
    init waits for `start` itself, as before)."""
    from ocipy.seccomp import bpf

    try:
        return all(bpf.allows(f.bpf, nr, args) for nr, args in _WAIT_X86_64)
    except ValueError:
        return False


# --- kept for `exec` (runc applies the container's filter to exec'd processes) ----
def save(f: Filter, state_dir: str) -> dict:
    """Write the program beside state.json; returns the record for state.json."""
    path = _join(state_dir, BPF_FILE)
    fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC, 0o600)
    try:
        posix.write(fd, f.bpf)
    finally:
        posix.close(fd)
    rec = {"flags": f.flags, "notify": f.notify}
    if f.notify:
        rec["listenerPath"], rec["listenerMetadata"] = f.listener_path, f.metadata
    return rec


def from_state(state_dir: str, rec: dict, where: str) -> Filter:
    """The container's filter as create saved it (for exec)."""
    path = _join(state_dir, BPF_FILE)
    try:
        with open(path, "rb") as fh:
            bpf = fh.read()
    except OSError as e:
        raise OcipyError(f"{path}: {posix.strerror(e.errno)} (the container's seccomp filter)") from None
    return Filter(bpf, int(rec.get("flags", 0)), bool(rec.get("notify")), rec.get("listenerPath") or "",
                  rec.get("listenerMetadata") or "", where)
