"""Stage 2 (init) process setup: the last steps before the user's program.

Order matters and follows the kernel's rules:
  rlimits, oom_score_adj (still fully privileged)
  -> bounding set dropped (needs CAP_SETPCAP)
  -> KEEPCAPS, groups, gid, uid (needs CAP_SETGID/CAP_SETUID)
  -> capset(effective, permitted, inheritable), ambient raised
  -> no_new_privs, umask
  -> (exec.fifo wait), close every fd but stdio and --preserve-fds,
     restore signal dispositions Python changed, execve.
"""
import posix

from ocipy import syscalls as sc
from ocipy.errors import OcipyError, SysError, go_strerror


def set_rlimits(plan) -> None:
    import resource

    for name, res, soft, hard in plan.rlimits:
        try:
            resource.setrlimit(res, (soft, hard))
        except (OSError, ValueError) as e:
            why = posix.strerror(e.errno) if isinstance(e, OSError) and e.errno else str(e)
            cur = resource.getrlimit(res)
            hint = " (raising the hard limit needs CAP_SYS_RESOURCE)" if hard > cur[1] else ""
            raise OcipyError(f"{plan.where}: process.rlimits: {name} soft={soft} hard={hard}: {why}{hint}") from None


def set_oom_score_adj(plan) -> None:
    if plan.oom is None:
        return
    try:
        # already set by stage 1 before it entered a user namespace (this
        # non-dumpable init's /proc/self files are then host root's)
        with open("/proc/self/oom_score_adj") as f:
            if f.read().strip() == str(plan.oom):
                return
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(plan.oom))
    except OSError as e:
        raise OcipyError(f"{plan.where}: process.oomScoreAdj: {plan.oom}: {posix.strerror(e.errno)}") from None


def complete_env(plan) -> None:
    """HOME, when process.env has none, from the container's /etc/passwd
    (runc does this; "/" for a uid without an entry). Runs after pivot_root:
    the file read is the container's."""
    if any(e.startswith("HOME=") for e in plan.env):
        return
    home = "/"
    try:
        with open("/etc/passwd", "rb") as f:
            for line in f:
                parts = line.rstrip(b"\n").split(b":")
                if len(parts) >= 6 and parts[2].isdigit() and int(parts[2]) == plan.uid:
                    home = parts[5].decode("utf-8", "surrogateescape") or "/"
                    break
    except OSError:
        pass
    plan.env.append("HOME=" + home)


def set_process_attrs(plan) -> None:
    """personality, scheduler, I/O priority, NUMA memory policy, the
    AppArmor profile / SELinux label for execve: while the process still
    holds its capabilities (SCHED_FIFO/RR, negative nice and the RT I/O
    class need CAP_SYS_NICE / CAP_SYS_ADMIN; runc sets the LSM attributes
    before dropping them too)."""
    pre = getattr(plan, "field_prefix", "process.")  # exec --process: the file's own fields
    if plan.personality is not None:
        try:
            sc.personality(plan.personality)
        except SysError as e:
            raise OcipyError(f"{plan.where}: linux.personality: {e}") from None
    if plan.sched is not None:
        try:
            sc.sched_setattr(*plan.sched)
        except SysError as e:
            hint = ""
            if e.errno == 1 and plan.sched[0] in (1, 2):  # EPERM, SCHED_FIFO/RR
                hint = (" (with real-time group scheduling, the container's cpu cgroup needs a budget: "
                        "linux.resources.cpu.realtimeRuntime)")
            raise OcipyError(f"{plan.where}: {pre}scheduler: {e}{hint}") from None
    if plan.ioprio is not None:
        try:
            sc.ioprio_set(plan.ioprio)
        except SysError as e:
            raise OcipyError(f"{plan.where}: {pre}ioPriority: {e}") from None
    if plan.mempolicy is not None:
        mode, nodes, where = plan.mempolicy
        try:
            sc.set_mempolicy(mode, nodes)
        except SysError as e:
            raise OcipyError(f"{where}: linux.memoryPolicy: the kernel refused it: {e}") from None
    if plan.lsm:
        from ocipy.launcher import lsm

        lsm.apply(plan.lsm)


def reopen_dev_null() -> None:
    """After pivot_root, as runc's reOpenDevNull: stdio fds on a /dev/null
    (an engine's unused stdin: Go opens the host's, read-only) are replaced
    by the container's own /dev/null opened read-write, so `echo >&0` works
    as under runc and no fd of a host device node stays in the container.
    Skipped when the container's /dev/null is not the 1:3 character device."""
    try:
        fd = posix.open("/dev/null", posix.O_RDWR | posix.O_NOFOLLOW | posix.O_NOCTTY | posix.O_CLOEXEC)
    except OSError:
        return
    try:
        null = posix.fstat(fd)
        if (null.st_mode & 0o170000) != 0o020000 or null.st_rdev != posix.makedev(1, 3):
            return
        for n in (0, 1, 2):
            try:
                s = posix.fstat(n)
            except OSError:
                continue
            if (s.st_mode & 0o170000) == 0o020000 and s.st_rdev == null.st_rdev:
                posix.dup2(fd, n)
    finally:
        posix.close(fd)


def fix_stdio_owner(plan) -> None:
    """Give a non-root process its stdio: pipes and sockets (containerd's
    FIFOs, a shell's pipe) and the container's own pty are chowned to the
    process uid, as runc does, so it can reopen /dev/stdout. Never a device
    node of the host (/dev/null, a host tty), never a regular file."""
    if plan.uid == 0:
        return
    import _stat as st  # built in: no file to find after chroot (exec's stage 1)

    for fd in (0, 1, 2):
        try:
            s = posix.fstat(fd)
        except OSError:
            continue
        if s.st_uid == plan.uid:
            continue
        ours = plan.terminal and st.S_ISCHR(s.st_mode)  # the pty slave we made
        if not (st.S_ISFIFO(s.st_mode) or st.S_ISSOCK(s.st_mode) or ours):
            continue
        try:
            posix.fchown(fd, plan.uid, plan.gid)
        except OSError as e:
            if e.errno not in (22, 1, 30):  # EINVAL, EPERM (unmapped owner), EROFS: leave it
                raise OcipyError(f"stdio fd {fd}: chown to {plan.uid}: {posix.strerror(e.errno)}") from None


def can_wait_in_trampoline(plan) -> bool:
    """Whether exec_waiting may work: memfd exec here and a seccomp filter
    (loaded or about to be) letting every call of the wait mode through."""
    from ocipy.launcher import trampoline

    if not trampoline.can_wait():
        return False
    if plan.seccomp is None:
        return True
    from ocipy import seccomp

    return seccomp.allows_memfd_exec(plan.seccomp) and seccomp.allows_trampoline_wait(plan.seccomp)


def spare_gid(gid: int) -> int:
    """A gid other than `gid` that this user namespace maps (its
    /proc/self/gid_map), or -1. exec_waiting execs the trampoline with it
    as the real gid: an execve with real != effective gid leaves the process
    non-dumpable (kernel: begin_new_exec), so no instant of the trampoline
    is open to /proc/<pid>/fd or ptrace from the container."""
    try:
        with open("/proc/self/gid_map", "rb") as f:
            lines = f.read().split(b"\n")
    except OSError:
        return -1
    for line in lines:
        f = line.split()
        if len(f) == 3 and f[0].isdigit() and f[2].isdigit():
            first, size = int(f[0]), int(f[2])
            for g in (first + 1, first):  # (reset before any program runs; rather not gid 0)
                if g != gid and g < first + size:
                    return g
    return -1


_spare_saved = -1  # the spare gid set_credentials left as the saved one (reset before any program runs)


def set_credentials(plan, warn, saved_gid: int = -1) -> None:
    """Bounding set, groups, gid, uid, capabilities, no_new_privs, umask.
    saved_gid (spare_gid), when given, becomes the saved set-group-ID:
    exec_waiting makes it the real one for the trampoline's execve without
    needing CAP_SETGID (the trampoline, and else exec_process, set all
    three back to the gid)."""
    caps = plan.caps
    # bounding set first: dropping needs CAP_SETPCAP, which we may give up next
    for cap in range(plan.last_cap + 1):
        if not caps["bounding"] >> cap & 1:
            try:
                sc.prctl(sc.PR_CAPBSET_DROP, cap, context=f"drop capability {cap} from bounding set")
            except SysError as e:
                if e.errno != 22:  # EINVAL: unknown to this kernel
                    raise
    sc.prctl(sc.PR_SET_KEEPCAPS, 1, context="PR_SET_KEEPCAPS")
    try:
        if plan.gids or not plan.unprivileged:  # (unprivileged: setgroups is denied, groups stay)
            posix.setgroups(plan.gids)
    except OSError as e:
        raise OcipyError(f"{plan.where}: process.user.additionalGids: setgroups {plan.gids}: {posix.strerror(e.errno)}") from None
    try:
        posix.setresgid(plan.gid, plan.gid, plan.gid if saved_gid < 0 else saved_gid)
        if saved_gid >= 0:
            global _spare_saved
            _spare_saved = saved_gid
    except OSError as e:
        raise OcipyError(f"{plan.where}: process.user.gid: setgid {plan.gid}: {posix.strerror(e.errno)}") from None
    try:
        posix.setresuid(plan.uid, plan.uid, plan.uid)
    except OSError as e:
        raise OcipyError(f"{plan.where}: process.user.uid: setuid {plan.uid}: {posix.strerror(e.errno)}") from None
    try:
        sc.capset(caps["effective"], caps["permitted"], caps["inheritable"])
    except SysError as e:
        raise OcipyError(f"{plan.where}: process.capabilities: {e} (effective must be within permitted, "
                         f"inheritable within bounding)") from None
    if caps["ambient"]:
        for cap in range(plan.last_cap + 1):
            if caps["ambient"] >> cap & 1:
                try:
                    sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, cap)
                except SysError as e:
                    # config.md: a capability that cannot be granted MUST be
                    # logged as a warning; runtimes SHOULD NOT fail
                    warn(f"process.capabilities.ambient: cannot raise capability {cap}: "
                         f"{posix.strerror(e.errno)} (it must be in permitted and inheritable)")
    sc.prctl(sc.PR_SET_KEEPCAPS, 0, context="PR_SET_KEEPCAPS")
    if plan.nnp:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1, context="PR_SET_NO_NEW_PRIVS")
    posix.umask(plan.umask)


def find_executable(plan) -> str:
    """Resolve args[0] like execvp / Go's exec.LookPath, with the
    container's PATH, as the container's user, inside the container."""
    from ocipy.spec.env import lookup_path

    name = plan.args[0]
    if "/" in name:
        _check_exec(name, name)
        return name
    for d in lookup_path(plan.env).split(":"):
        cand = f"{d}/{name}" if d and not d.endswith("/") else (d or "./") + name  # os.path.join(d or ".", name)
        try:
            st = posix.stat(cand)
        except OSError:
            continue
        if (st.st_mode & 0o170000) == 0o100000 and posix.access(cand, posix.X_OK):
            return cand
    raise OcipyError(f'exec: "{name}": executable file not found in $PATH')


def _check_exec(path: str, name: str) -> None:
    try:
        st = posix.stat(path)
    except OSError as e:
        raise OcipyError(f'exec: "{name}": stat {path}: {go_strerror(e.errno)}') from None
    if (st.st_mode & 0o170000) != 0o100000:
        raise OcipyError(f'exec: "{name}": {path} is not a regular file')
    if not posix.access(path, posix.X_OK):
        raise OcipyError(f'exec: "{name}": {path}: permission denied')


def setup_terminal(plan, rfs, console_sock: int) -> int:
    """Open a pty from the container's own devpts, make its slave our
    controlling terminal and stdio, bind it over /dev/console, and send the
    master to the --console-socket peer (SCM_RIGHTS). Returns nothing held:
    the master is closed here once sent."""
    import fcntl
    import struct

    try:
        master = rfs.open("/dev/ptmx", posix.O_RDWR | posix.O_NOCTTY)
    except SysError as e:
        raise OcipyError(f"terminal: open /dev/ptmx in the container: {e} (is devpts mounted at /dev/pts?)") from None
    TIOCSPTLCK, TIOCGPTN, TIOCSWINSZ, TIOCSCTTY = 0x40045431, 0x80045430, 0x5414, 0x540E
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    n = struct.unpack("i", fcntl.ioctl(master, TIOCGPTN, struct.pack("i", 0)))[0]
    slave_path = f"/dev/pts/{n}"
    # the slave through the master (TIOCGPTPEER), never a path lookup that
    # something in the rootfs could redirect (CVE-2025-52565 class)
    slave = fcntl.ioctl(master, 0x5441, posix.O_RDWR | posix.O_NOCTTY | posix.O_CLOEXEC)
    if plan.console_size:
        h, w = plan.console_size
        fcntl.ioctl(master, TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))
    # /dev/console is the pty (the spec: "the runtime MUST ... /dev/console")
    cfd = rfs.console_mountpoint()
    try:
        sc.mount(f"/proc/self/fd/{slave}", f"/proc/self/fd/{cfd}", None, sc.MS_BIND, context="bind /dev/console")
    finally:
        posix.close(cfd)
    send_fd(console_sock, master, slave_path)
    posix.close(master)
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    for i in (0, 1, 2):
        posix.dup2(slave, i)
    if slave > 2:
        posix.close(slave)
    return n


def send_fd(sock: int, fd: int, name: str) -> None:
    import socket

    s = socket.socket(fileno=posix.dup(sock))
    try:
        s.sendmsg([name.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd.to_bytes(4, "little"))])
    except OSError as e:
        raise OcipyError(f"--console-socket: sending the pty master: {posix.strerror(e.errno)}") from None
    finally:
        s.close()


def wait_for_start(fifo_fd: int, procfd_dir: int) -> None:
    """Block until `start` opens exec.fifo for reading (via our O_PATH fd,
    through the host /proc opened before pivot_root), then tell it we go."""
    fd = posix.open(str(fifo_fd), posix.O_WRONLY | posix.O_CLOEXEC, dir_fd=procfd_dir)
    try:
        posix.write(fd, b"0")
    finally:
        posix.close(fd)
    # `start` woke us by opening the fifo and the scheduler let us run first
    # (a long sleeper preempts the waker): give the CPU back so that `start`
    # reads the byte and exits before our exec work (~1-5 ms on a busy host
    # otherwise counted in `start`)
    try:
        posix.sched_yield()
    except OSError:  # a seccomp profile may refuse it (loaded by now): a hint only
        pass


def exec_waiting(plan, path: str, fifo_fd: int) -> None:
    """The init, set up and acknowledged: exec the trampoline in its wait
    mode (launcher.trampoline), which waits for `start` on exec.fifo and
    then execs the program, so that the interpreter's memory is not held
    (and charged to the container) while it is "created". Returns, with
    nothing lost, when that is not possible: no memfd exec here, a seccomp
    filter refusing the wait's calls, or no /proc in the container that
    leads to exec.fifo (the trampoline reopens it through /proc/self/fd,
    never through a host fd); the caller then waits itself."""
    import _signal

    from ocipy.launcher import trampoline

    if _spare_saved < 0 or not trampoline.can_wait():  # (no spare gid: see set_credentials)
        return
    try:
        seen, fifo = posix.stat(f"/proc/self/fd/{fifo_fd}"), posix.fstat(fifo_fd)
    except OSError:
        return
    if (seen.st_dev, seen.st_ino) != (fifo.st_dev, fifo.st_ino):
        return
    # the handlers the caller installed die at execve: the signals wait,
    # blocked, until the trampoline has its own (a pid namespace's init
    # would drop them meanwhile)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, trampoline.WAIT_SIGNALS)
    try:
        posix.setresgid(_spare_saved, plan.gid, plan.gid)  # real != effective: the execve leaves us non-dumpable
        exec_process(plan, path, plan.preserve_fds, wait_fd=fifo_fd)
    except OSError:
        pass
    finally:  # not exec'd
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, trampoline.WAIT_SIGNALS)


def exec_process(plan, path: str, keep_fds: int, keep_fd: int = -1, wait_fd: int = -1) -> None:
    """Close every fd but stdio, the --preserve-fds ones (made inheritable)
    and `keep_fd` (a CLOEXEC error pipe for exec: it closes at execve, which
    its reader takes as success), restore the signal dispositions Python
    changed, and execve. A failing execve raises OcipyError when there is
    such a pipe to report it on, else is printed on the process's stderr.
    With wait_fd (exec_waiting), the fds are only marked close-on-exec and
    a trampoline that cannot be exec'd returns."""
    import _signal

    # Python ignores SIGPIPE and SIGXFSZ; an ignored disposition survives
    # execve, so restore them (subprocess does the same with restore_signals)
    for sig in (13, 25):
        _signal.signal(sig, _signal.SIG_DFL)
    keep = 3 + keep_fds
    for fd in range(3, keep):
        try:
            posix.set_inheritable(fd, True)
        except OSError:
            pass
    env = dict(e.split("=", 1) for e in plan.env)
    if wait_fd < 0 and _spare_saved >= 0:  # never exec the program with the spare gid still real or saved
        try:
            posix.setresgid(plan.gid, plan.gid, plan.gid)
        except OSError as e:
            posix.write(2, f"ocipy: exec {plan.args[0]}: setresgid {plan.gid}: {posix.strerror(e.errno)}\n".encode())
            posix._exit(127)
    if wait_fd >= 0:
        if wait_fd < keep:
            return
        try:  # CLOSE_RANGE_CLOEXEC: the execve closes them (and a failed one leaves them)
            if wait_fd > keep:
                sc.close_range(keep, wait_fd - 1, 4)
            sc.close_range(wait_fd + 1, 0xFFFFFFFF, 4)
            trampoline_execve(path, plan.args, env, prefix=f"ocipy: exec {plan.args[0]}: ", wait_fd=wait_fd)
        except (SysError, OSError):
            pass
        return
    if keep_fd >= keep:
        if keep_fd > keep:
            sc.close_range(keep, keep_fd - 1)
        sc.close_range(keep_fd + 1)
    else:
        sc.close_range(keep)
    try:
        # through the sealed memfd trampoline: /proc/self/exe is never the
        # host's interpreter when the program is exec'd (CVE-2019-5736)
        trampoline_execve(path, plan.args, env, keep_fd, f"ocipy: exec {plan.args[0]}: ")
    except OSError as e:
        if keep_fd >= 0:
            raise OcipyError(f'exec: "{plan.args[0]}": {go_strerror(e.errno)}') from None
        posix.write(2, f"ocipy: exec {plan.args[0]}: {posix.strerror(e.errno)}\n".encode())
        posix._exit(127)


def trampoline_execve(*args, **kw) -> None:
    from ocipy.launcher import trampoline

    trampoline.execve(*args, **kw)


def chdir_in_root(cwd: str) -> None:
    """chdir to process.cwd once the container's root is '/' (after
    pivot_root or chroot), the path resolved by the kernel inside that root:
    symlinks and '..' cannot leave it, and magic links (/proc/self/fd/N,
    /proc/<pid>/cwd) are refused, so no fd the runtime holds at that moment
    can become the process's cwd (CVE-2024-21626 class). Checked again
    with getcwd, which fails for a directory outside the root. Raises
    OSError (the callers name process.cwd)."""
    root = posix.open("/", posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        fd = sc.openat2(root, cwd.lstrip("/") or ".", posix.O_PATH | posix.O_DIRECTORY, sc.RESOLVE_IN_ROOT | sc.RESOLVE_NO_MAGICLINKS)
    except SysError as e:
        raise OSError(e.errno, posix.strerror(e.errno)) from None
    finally:
        posix.close(root)
    try:
        posix.fchdir(fd)
    finally:
        posix.close(fd)
    try:
        posix.getcwd()
    except FileNotFoundError:  # glibc: the cwd is unreachable from our root
        raise OSError(18, "outside the container's root") from None
