"""The launcher of `exec`: a new process inside a running (or created)
container, in two stages and ONE fork.

  stage 0  the CLI (`ocipy exec`): host root, all privileges, host
           namespaces, host root directory (not root: a rootless container's
           owner, which joins its user namespace first, see open_container). Everything that can fail on the
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

    __slots__ = ("where", "args", "env", "cwd", "cwd_from", "uid", "gid", "gids", "umask", "caps", "last_cap",
                 "rlimits", "nnp", "oom", "terminal", "console_size", "sched", "ioprio", "personality",
                 "preserve_fds", "cgroup_dirs", "cpu_affinity", "mempolicy", "lsm", "field_prefix", "seccomp",
                 "unprivileged")


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
    if plan.unprivileged:
        # not root (a rootless container): joining the pid namespace needs
        # CAP_SYS_ADMIN in our own user namespace too, which only the
        # container's gives us; so stage 0 joins the user namespace first
        # (it had no host privileges to lose), the child not again
        user = [n for n in o.child_ns if n[0] == "user"]
        if user:
            o.child_ns.remove(user[0])
            o.parent_ns.insert(0, user[0])
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
    pty master for the foreground proxy). Stage 1 is the C exec stage
    (below) where it can do all the plan asks, else a fork of this process."""
    if FAST and _fast_ok(plan) and posix.environ.get(b"OCIPY_EXEC_STAGE") != b"python":
        started = _start_in_c(plan, o)
        if started is not None:
            return started
    from ocipy import log
    from ocipy import syscalls as sc

    log.debug("exec: stage 1: a fork of this process")

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


# --- stage 1 in C ---------------------------------------------------------------
# The common exec (no terminal, no seccomp listener, no LSM label, scheduler,
# I/O priority, personality, memory policy or CPU affinity) runs its stage 1
# as the exec-stage mode of the sealed memfd trampoline (trampoline.c): this
# process computes every step (the same order and values as _child below)
# and posix_spawns it; it reports, step by step, what failed, and this
# module words it as _child would have. No fork of the interpreter (its page
# tables and copy-on-write faults: ~1.3 ms), and no ctypes on exec's path.
# tests/integration/test_exec_stage.py runs each case both ways.
FAST = True  # False (or OCIPY_EXEC_STAGE=python): always the Python stage 1 (tests compare both)


def _fast_ok(plan: ExecPlan) -> bool:
    return len(plan.env) < 65536 and not (plan.terminal or plan.lsm or plan.cpu_affinity or plan.sched is not None
                or plan.ioprio is not None or plan.personality is not None or plan.mempolicy is not None
                or (plan.seccomp is not None and plan.seccomp.notify))


def stage_steps(plan: ExecPlan, o: _Opened, errfd: int, bpf_fd: int = -1) -> tuple:
    """The exec stage's argv (trampoline.c, exec-stage mode) and, per step,
    what a failure of it means (for _stage_error)."""
    from ocipy.spec.env import lookup_path

    steps, why = [], []

    def step(s: str, *what) -> None:
        steps.append(s)
        why.append(what)

    for name, flag, fd in o.parent_ns:
        step(f"n{fd},{flag}", "ns", name)
    step(f"F{posix.getpid()}", "fork")
    for fd in o.cgroup:
        step(f"w{fd}", "cgroup")
    if plan.oom is not None:
        step(f"o{plan.oom}", "oom")
    m64 = (1 << 64) - 1
    for name, res, soft, hard in plan.rlimits:
        step(f"r{res},{soft & m64},{hard & m64}", "rlimit", name, soft, hard)
    for name, flag, fd in o.child_ns:
        step(f"n{fd},{flag}", "ns", name)
    if o.root >= 0:
        step(f"c{o.root}", "chroot")
    step(f"d{plan.cwd}", "cwd")
    step("S", "setsid")
    if not any(e.startswith("HOME=") for e in plan.env):
        step(f"H{plan.uid}", "home")
    if plan.uid != 0:
        step(f"O{plan.uid},{plan.gid}", "stdio")
    f = plan.seccomp
    if f is not None and not plan.nnp:
        step(f"X{bpf_fd},{f.flags},{len(f.bpf)}", "seccomp")
    caps, last = plan.caps, plan.last_cap
    step(f"B{last},{caps['bounding']}", "bounding")
    step("K1", "prctl", "PR_SET_KEEPCAPS")
    if plan.gids or not plan.unprivileged:  # (unprivileged: setgroups is denied, groups stay)
        step("G" + ",".join(str(g) for g in plan.gids), "groups")
    step(f"g{plan.gid}", "gid")
    step(f"u{plan.uid}", "uid")
    step(f"C{caps['effective']},{caps['permitted']},{caps['inheritable']}", "capset")
    if caps["ambient"]:
        step(f"A{last},{caps['ambient']}", "ambient")
    step("K0", "prctl", "PR_SET_KEEPCAPS")
    if plan.nnp:
        step("N", "prctl", "PR_SET_NO_NEW_PRIVS")
    step(f"m{plan.umask}", "umask")
    step("L" + lookup_path(plan.env), "find")
    if f is not None and plan.nnp:
        step(f"X{bpf_fd},{f.flags},{len(f.bpf)}", "seccomp")
    step(f"Z{3 + plan.preserve_fds}", "exec")
    from ocipy.launcher.trampoline import MAGIC

    return [MAGIC, f"x{errfd}", *steps, "--", *plan.args], why


def _stage_error(plan: ExecPlan, what: tuple, err: int, detail: int) -> str:
    """A failed step, worded as the Python stage 1 words it."""
    from ocipy.errors import SysError, go_strerror

    kind = what[0] if what else ""
    why = posix.strerror(err) if err else ""
    name = plan.args[0]
    if kind == "ns":
        return str(SysError(err, "setns", f"{what[1]} namespace of the container"))
    if kind == "fork":
        return f"fork: {why}"
    if kind == "cgroup":
        return f"joining the container's cgroup: {why}"
    if kind == "oom":
        return f"{plan.where}: process.oomScoreAdj: {plan.oom}: {why}"
    if kind == "rlimit":
        _, rl, soft, hard = what
        why = {1: "not allowed to raise maximum limit", 22: "current limit exceeds maximum limit"}.get(err, why)
        hint = " (raising the hard limit needs CAP_SYS_RESOURCE)" if hard > detail else ""
        return f"{plan.where}: process.rlimits: {rl} soft={soft} hard={hard}: {why}{hint}"
    if kind == "chroot":
        return why + (": ." if detail else "")
    if kind == "cwd":
        return f"{plan.cwd_from}: chdir {plan.cwd}: " + ("outside the container's root" if detail else why)
    if kind == "stdio":
        return f"stdio fd {detail}: chown to {plan.uid}: {why}"
    if kind == "bounding":
        return str(SysError(err, "prctl", f"drop capability {detail} from bounding set"))
    if kind == "prctl":
        return str(SysError(err, "prctl", what[1]))
    if kind == "groups":
        return f"{plan.where}: process.user.additionalGids: setgroups {plan.gids}: {why}"
    if kind in ("gid", "uid"):
        n = plan.gid if kind == "gid" else plan.uid
        return f"{plan.where}: process.user.{kind}: set{kind} {n}: {why}"
    if kind == "capset":
        return (f"{plan.where}: process.capabilities: {SysError(err, 'capset')} (effective must be within "
                f"permitted, inheritable within bounding)")
    if kind == "seccomp":
        f = plan.seccomp
        e = SysError(err, "seccomp", f"load filter ({len(f.bpf) // 8} instructions, flags {f.flags:#x})")
        hint = " (without noNewPrivileges loading needs CAP_SYS_ADMIN)" if err in (1, 13) else ""
        return f"{f.where}: linux.seccomp: {e}{hint}"
    if kind == "find":
        if detail == 1:
            return f'exec: "{name}": stat {name}: {go_strerror(err)}'
        if detail == 2:
            return f'exec: "{name}": {name} is not a regular file'
        if detail == 3:
            return f'exec: "{name}": {name}: permission denied'
        return f'exec: "{name}": executable file not found in $PATH'
    if kind == "exec":
        return f'exec: "{name}": {go_strerror(err)}'
    return f"exec stage: step {kind or '?'} failed: {why or 'bad arguments'}"


def _start_in_c(plan: ExecPlan, o: _Opened):
    """Stage 1 as the C exec stage; None where memfd exec is refused here
    (then the Python stage 1 runs)."""
    from ocipy.launcher import trampoline

    memfd = trampoline._memfd()
    if memfd < 0:
        return None
    from ocipy import log

    log.debug("exec: stage 1: the C exec stage")
    low = 3 + plan.preserve_fds
    rfd, wfd = posix.pipe2(posix.O_CLOEXEC)
    rfd, wfd = _above(rfd, low), _above(wfd, low)
    bpf_fd = -1
    try:
        if plan.seccomp is not None:
            bpf_fd, w = posix.pipe2(posix.O_CLOEXEC)  # <= 32 KiB: within a pipe's buffer
            bpf_fd = _above(bpf_fd, low)
            try:
                view = memoryview(plan.seccomp.bpf)
                while view:
                    view = view[posix.write(w, view):]
            finally:
                posix.close(w)
        argv, why = stage_steps(plan, o, wfd, bpf_fd)
        passed = [fd for _, _, fd in o.parent_ns + o.child_ns] + o.cgroup + [wfd]
        passed += [fd for fd in (o.root, bpf_fd) if fd >= 0]
        for fd in passed:
            posix.set_inheritable(fd, True)
        env = dict(e.split("=", 1) for e in plan.env)
        try:
            middle = posix.posix_spawn(f"/proc/self/fd/{memfd}", argv, env, setsigdef=(13, 25), setsigmask=())
        except OSError as e:
            if e.errno in (1, 13, 38, 22):  # memfd exec refused (noexec /proc, LSM): the Python stage
                return None
            raise ExecError(f"exec stage: {posix.strerror(e.errno)}") from None
    finally:
        posix.close(memfd)
        posix.close(wfd)
        if bpf_fd >= 0:
            posix.close(bpf_fd)
    close_opened(o)
    try:
        out = _read_all(rfd)
    finally:
        posix.close(rfd)
    _reap(middle)
    pid, err = 0, None
    for rec in out.split(b"\n"):
        if not rec:
            continue
        k, nums = rec[:1], [int(x) for x in rec[1:].split(b",")]
        if k == b"p":
            pid = nums[0]
        elif k == b"W":
            log.warn(f"process.capabilities.ambient: cannot raise capability {nums[0]}: "
                     f"{posix.strerror(nums[1])} (it must be in permitted and inheritable)")
        elif k == b"e":
            i, e, detail = nums
            err = _stage_error(plan, why[i] if 0 <= i < len(why) else (), e, detail)
    if err is not None or not pid:
        if pid:
            _reap(pid)
        raise ExecError(err or "exec stage: no process was started")
    return Started(pid, -1)


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
        raise OcipyError(f"{plan.cwd_from}: chdir {plan.cwd}: {e.strerror}") from None
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
