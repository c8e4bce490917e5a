"""The launcher of `exec`: a new process inside a running (or created)
container, in two stages and ONE fork.

  stage 0  the CLI (`ocipy exec`): host root, all privileges, host
           namespaces, host root directory. Everything that can fail on the
           user's input was checked before (commands/exec.py builds the
           ExecPlan). Here:
           - opens, as root on the host, what the child needs: the init's
             namespaces (/proc/<init>/ns/*, only those that differ from
             ours), its root (/proc/<init>/root: the container's root even
             without pivot_root), the cgroup files it joins through
             (`tasks` on v1, `cgroup.procs` on v2); then re-checks the
             init's start time, so every file opened belongs to the init
             recorded in state.json, never to a process that reused its pid;
           - marks itself NON-DUMPABLE (PR_SET_DUMPABLE 0): the child
             inherits it (mm flag, copied at fork) and is visible to the
             container from the moment it exists (it is born in the
             container's pid namespace), holding host fds and a host
             interpreter as /proc/<pid>/exe. Non-dumpable, its /proc/<pid>/
             {exe,fd,cwd,root,environ,mem} need CAP_SYS_PTRACE in the host
             user namespace (CVE-2019-5736 class);
           - setns into the pid and time namespaces: they apply to children
             only (pid_for_children, time_for_children), so stage 0 itself
             stays a host process: it still writes --pid-file, talks to
             the console socket and waits. It joins nothing else: the mount
             namespace would hide --root and the caller's paths, the user
             namespace would drop its host privileges;
           - forks the child; then waits for it to exec (a CLOEXEC error
             pipe: EOF = exec done, a line = the child's error), writes
             --pid-file, and either returns (--detach) or proxies the pty,
             forwards signals and exits with the process's status (128+N
             when killed by signal N).
  stage 1  the child, born in the container's pid (and time) namespace,
           non-dumpable, with PDEATHSIG=KILL until it execs:
           - joins the container's cgroup ("0" to each file stage 0 opened)
             first: still host root in the host cgroup namespace (cgroup v2
             refuses a move out of a cgroup namespace's subtree), and
             everything it allocates from now on is charged there;
           - oom_score_adj and rlimits, still holding host CAP_SYS_RESOURCE;
           - setns: the user namespace first (as runc: the others are then
             joined with the privileges of their owner), then mount, uts,
             ipc, network, cgroup; fchdir(the init's root) + chroot(".")
             (setns(mnt) moved us to the namespace's root, which is not the
             container's with --no-pivot), chdir(cwd) inside;
           - setsid; terminal: a pty from the container's own devpts (its
             /dev/ptmx, the slave through TIOCGPTPEER: no path lookup),
             master to --console-socket or to stage 0 (foreground proxy);
           - then the same steps as the init (launcher.process): HOME from
             the container's /etc/passwd, personality/scheduler/ioprio,
             stdio owner, bounding set, groups/gid/uid, capset, ambient,
             no_new_privs, umask; resolve the executable in the container;
           - closes every fd but stdio and --preserve-fds (the error pipe
             is CLOEXEC: it closes at execve, telling stage 0 the exec
             happened), restores SIGPIPE/SIGXFSZ, clears PDEATHSIG, execve.
           Any failure travels to stage 0 as one line; the child exits 1.

The only fork: stage 0 cannot become the process (it must stay outside the
container to wait, report and forward) and the pid namespace applies to
children only. Only this module and launcher/stages.py fork.
"""
import posix

from ocipy.pathlite import isdir as _isdir
from ocipy.errors import OcipyError

# /proc/<pid>/ns names joined by the child, in order: the user namespace
# first; pid and time are joined by stage 0 (children only)
CHILD_NS = (("user", 0x10000000), ("mnt", 0x00020000), ("uts", 0x04000000), ("ipc", 0x08000000),
            ("net", 0x40000000), ("cgroup", 0x02000000))
PARENT_NS = (("pid", 0x20000000), ("time", 0x00000080))
PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1


class ExecError(OcipyError):
    """exec's own failures exit 255 as runc's (a program's status is never
    mistaken for the runtime's)."""

    exit_code = 255


class ExecPlan:
    """The process to start, fully checked (commands/exec.py builds it);
    attribute names are launcher.process's, so its helpers apply as is."""

    __slots__ = ("where", "args", "env", "cwd", "uid", "gid", "gids", "umask", "caps", "last_cap",
                 "rlimits", "nnp", "oom", "terminal", "console_size", "sched", "ioprio", "personality",
                 "preserve_fds", "cgroup_dirs", "cpu_affinity", "mempolicy", "lsm", "field_prefix", "seccomp")


class _Opened:
    __slots__ = ("parent_ns", "child_ns", "root", "cgroup")


def open_container(c, plan: ExecPlan) -> _Opened:
    """Stage 0: open the init's namespaces, root and cgroup files, checked
    to belong to the recorded init (start time before and after)."""
    pid = c.pid
    low = 3 + plan.preserve_fds
    o = _Opened()
    o.parent_ns, o.child_ns, o.cgroup = [], [], []
    o.root = -1
    try:
        for group, out in ((PARENT_NS, o.parent_ns), (CHILD_NS, o.child_ns)):
            for name, flag in group:
                try:
                    fd = posix.open(f"/proc/{pid}/ns/{name}", posix.O_RDONLY | posix.O_CLOEXEC)
                except OSError as e:
                    if name == "time" and e.errno == 2:  # a kernel without time namespaces
                        continue
                    if not c.init_alive():
                        raise _gone(c) from None
                    raise ExecError(f"/proc/{pid}/ns/{name}: {posix.strerror(e.errno)}") from None
                if posix.fstat(fd).st_ino == posix.stat(f"/proc/self/ns/{name}").st_ino:
                    posix.close(fd)  # the container shares ours: nothing to join
                    continue
                out.append((name, flag, _above(fd, low)))
        try:
            o.root = _above(posix.open(f"/proc/{pid}/root", posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC), low)
        except OSError:
            raise _gone(c) from None
        for d in plan.cgroup_dirs:
            o.cgroup.append(_above(_open_join_file(d), low))
        if not c.init_alive():  # died (and its pid maybe reused) while we opened
            raise _gone(c)
    except BaseException:
        close_opened(o)
        raise
    return o


def _open_join_file(d: str) -> int:
    """v1: `tasks` (moves the one thread we are, without cgroup.procs'
    threadgroup lock and its RCU grace period); cgroup2 has only cgroup.procs."""
    for name in ("tasks", "cgroup.procs"):
        path = d + name if not d or d.endswith("/") else f"{d}/{name}"  # os.path.join
        try:
            return posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
        except FileNotFoundError:
            if name == "tasks" and _isdir(d):
                continue
            raise ExecError(f"joining the container's cgroup: {d}: no such cgroup") from None
        except OSError as e:
            raise ExecError(f"joining the container's cgroup: {path}: {posix.strerror(e.errno)}") from None
    raise ExecError(f"joining the container's cgroup: {d}: no cgroup.procs")  # not reached


def close_opened(o: _Opened) -> None:
    for _, _, fd in o.parent_ns + o.child_ns:
        posix.close(fd)
    for fd in o.cgroup:
        posix.close(fd)
    if o.root >= 0:
        posix.close(o.root)
    o.parent_ns, o.child_ns, o.cgroup, o.root = [], [], [], -1


def _gone(c) -> ExecError:
    return ExecError(f'cannot exec in a stopped container "{c.id}"')


def _above(fd: int, low: int) -> int:
    """Keep our fds out of the --preserve-fds range."""
    if fd >= low:
        return fd
    import fcntl

    nfd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    posix.close(fd)
    return nfd


class Started:
    __slots__ = ("pid", "console")

    def __init__(self, pid: int, console: int) -> None:
        self.pid, self.console = pid, console


def start(plan: ExecPlan, o: _Opened, *, console_socket: str = "", own_console: bool = False) -> Started:
    """Stage 0: join pid/time (for children), fork stage 1, wait until it
    has exec'd. Returns the process's host pid (and, with own_console, the
    pty master for the foreground proxy)."""
    from ocipy import syscalls as sc

    low = 3 + plan.preserve_fds
    console_fd = our_console = -1
    if plan.terminal:
        if console_socket:
            console_fd = _above(_connect(console_socket), low)
        elif own_console:
            import socket

            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            our_console, console_fd = a.detach(), _above(b.detach(), low)
    rfd, wfd = posix.pipe2(posix.O_CLOEXEC)
    rfd, wfd = _above(rfd, low), _above(wfd, low)
    sync = None
    if plan.seccomp is not None and plan.seccomp.notify:  # listener fd hand-off (ocipy.seccomp.notify)
        from ocipy.seccomp.notify import ExecSync

        sync = plan.seccomp.sync = ExecSync(wfd, low)
    _preload(plan)
    try:
        sc.prctl(PR_SET_DUMPABLE, 0, context="PR_SET_DUMPABLE")
        for name, flag, fd in o.parent_ns:
            sc.setns(fd, flag, context=f"{name} namespace of the container")
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        pid = posix.fork()
        if pid == 0:
            code = 1
            try:
                posix.close(rfd)
                if our_console >= 0:
                    posix.close(our_console)
                _child(plan, o, console_fd, wfd)
            except BaseException as e:  # noqa: BLE001 - everything must reach stage 0
                _report(wfd, e)
            finally:
                posix._exit(code)
    except BaseException:
        for fd in (rfd, wfd, console_fd, our_console):
            if fd >= 0:
                posix.close(fd)
        raise
    finally:
        close_opened(o)
    posix.close(wfd)
    if console_fd >= 0:
        posix.close(console_fd)
    try:
        master = -1
        if our_console >= 0:
            from ocipy.console import recv_master

            try:
                master = recv_master(our_console)  # closes our_console
            except OSError:
                master = -1  # the child failed before sending: its error follows
            our_console = -1
        err = _read_all(rfd) if sync is None else sync.parent(rfd, plan.seccomp, pid)
        if err:
            if master >= 0:
                posix.close(master)
            _reap(pid)
            from ocipy.launcher.trampoline import describe

            raise ExecError(describe(err, plan.args[0]) or "exec failed")
        if plan.terminal and own_console and not console_socket and master < 0:
            _reap(pid)
            raise ExecError("terminal: no pty master received from the container")
    finally:
        posix.close(rfd)
        if our_console >= 0:
            posix.close(our_console)
    return Started(pid, master)


def _preload(plan: ExecPlan) -> None:
    """Import now what stage 1 needs once chrooted into the container
    (where the interpreter's files are out of reach)."""
    import _signal  # noqa: F401
    import resource  # noqa: F401

    import ocipy.launcher.process  # noqa: F401
    import ocipy.launcher.trampoline  # noqa: F401
    import ocipy.spec.env  # noqa: F401

    if plan.terminal:
        import fcntl  # noqa: F401
        import socket  # noqa: F401
        import stat  # noqa: F401
        import struct  # noqa: F401
    if plan.seccomp is not None:
        import ocipy.seccomp  # noqa: F401
        import ocipy.seccomp.bpf  # noqa: F401
        import ocipy.syscalls.seccomp  # noqa: F401


def _reap(pid: int) -> None:
    try:
        posix.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        b = posix.read(fd, 4096)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _connect(path: str) -> int:
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise ExecError(f"--console-socket {path}: {posix.strerror(e.errno) if e.errno else e}") from None
    return s.detach()


def _report(wfd: int, e: BaseException) -> None:
    if isinstance(e, OcipyError):
        msg = str(e)
    elif isinstance(e, OSError):
        msg = f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
    elif isinstance(e, KeyboardInterrupt):
        msg = "interrupted"
    else:
        msg = f"internal error: {type(e).__name__}: {e}"
    try:
        posix.write(wfd, msg.encode(errors="replace"))
    except OSError:
        pass


# --- stage 1 -------------------------------------------------------------------
def _child(plan: ExecPlan, o: _Opened, console_fd: int, wfd: int) -> None:
    from ocipy import syscalls as sc
    from ocipy.launcher import process

    sc.prctl(PR_SET_PDEATHSIG, 9, context="PR_SET_PDEATHSIG")
    if plan.cpu_affinity:
        _set_affinity(plan, 0)  # execCPUAffinity.initial: before the cgroup
    # the cgroup first: as host root, from the host's cgroup namespace
    for fd in o.cgroup:
        try:
            posix.write(fd, b"0")
        except OSError as e:
            raise OcipyError(f"joining the container's cgroup: {posix.strerror(e.errno)}") from None
    if plan.cpu_affinity:
        _set_affinity(plan, 1)  # .final: once in the cgroup (a cpuset may have reset it)
    process.set_oom_score_adj(plan)
    process.set_rlimits(plan)
    for name, flag, fd in o.child_ns:
        sc.setns(fd, flag, context=f"{name} namespace of the container")
    if o.root >= 0:
        posix.fchdir(o.root)
        posix.chroot(".")
    try:
        process.chdir_in_root(plan.cwd)  # never through a magic link (CVE-2024-21626 class)
    except OSError as e:
        raise OcipyError(f"{plan.where}: process.cwd: chdir {plan.cwd}: {e.strerror}") from None
    posix.setsid()
    if plan.terminal:
        _setup_terminal(plan, console_fd)
    process.complete_env(plan)
    process.set_process_attrs(plan)
    process.fix_stdio_owner(plan)
    if plan.seccomp is not None and not plan.nnp:  # needs CAP_SYS_ADMIN: before the drop (runc's order)
        _load_seccomp(plan)
    process.set_credentials(plan, lambda msg: posix.write(2, f"ocipy: warning: {msg}\n".encode()))
    path = process.find_executable(plan)
    if plan.seccomp is not None and plan.nnp:
        _load_seccomp(plan)
    _exec(plan, path, wfd)


def _load_seccomp(plan: ExecPlan) -> None:
    from ocipy import seccomp

    f = plan.seccomp
    seccomp.load(f, f.sync.child if f.notify else None)
    if not seccomp.allows_memfd_exec(f):  # then exec the program directly (launcher.trampoline)
        from ocipy.launcher import trampoline

        trampoline.DISABLED = True


def _set_affinity(plan: ExecPlan, which: int) -> None:
    """process.execCPUAffinity: initial (which=0) or final (1); an unset one
    (0) is left to the kernel (config.md)."""
    from ocipy import syscalls as sc
    from ocipy.errors import SysError

    masks, where = plan.cpu_affinity
    if not masks[which]:
        return
    try:
        sc.sched_setaffinity(masks[which])
    except SysError as e:
        raise OcipyError(f"{where}execCPUAffinity.{('initial', 'final')[which]}: {e}") from None


def _setup_terminal(plan: ExecPlan, console_fd: int) -> None:
    """A pty of the container's devpts: its /dev/ptmx (we are chrooted: the
    lookup stays in the container), the slave through TIOCGPTPEER (no path
    lookup at all); the slave becomes our controlling terminal and stdio,
    the master goes to the console socket peer."""
    import fcntl
    import stat
    import struct

    from ocipy.launcher.process import send_fd

    try:
        master = posix.open("/dev/ptmx", posix.O_RDWR | posix.O_NOCTTY | posix.O_CLOEXEC | posix.O_NONBLOCK)
    except OSError as e:
        raise OcipyError(f"terminal: open /dev/ptmx in the container: {posix.strerror(e.errno)}") from None
    if not stat.S_ISCHR(posix.fstat(master).st_mode):
        raise OcipyError("terminal: /dev/ptmx in the container is not a character device")
    posix.set_blocking(master, True)
    TIOCSPTLCK, TIOCGPTN, TIOCSWINSZ, TIOCSCTTY, TIOCGPTPEER = 0x40045431, 0x80045430, 0x5414, 0x540E, 0x5441
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        n = struct.unpack("i", fcntl.ioctl(master, TIOCGPTN, struct.pack("i", 0)))[0]
        slave = fcntl.ioctl(master, TIOCGPTPEER, posix.O_RDWR | posix.O_NOCTTY)
    except OSError as e:
        raise OcipyError(f"terminal: /dev/ptmx in the container: {posix.strerror(e.errno)}") from None
    if plan.console_size:
        h, w = plan.console_size
        fcntl.ioctl(master, TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))
    send_fd(console_fd, master, f"/dev/pts/{n}")
    posix.close(master)
    posix.close(console_fd)
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    for i in (0, 1, 2):
        posix.dup2(slave, i)
    if slave > 2:
        posix.close(slave)


def _exec(plan: ExecPlan, path: str, wfd: int) -> None:
    """execve with every fd closed but stdio, --preserve-fds and the error
    pipe (CLOEXEC: gone at execve, which stage 0 reads as success)."""
    from ocipy import syscalls as sc
    from ocipy.launcher.process import exec_process

    sc.prctl(PR_SET_PDEATHSIG, 0, context="PR_SET_PDEATHSIG")
    exec_process(plan, path, plan.preserve_fds, keep_fd=wfd)
