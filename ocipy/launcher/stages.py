"""The launcher: the stages of `create`, each in its own process.

  stage 0  the CLI (`ocipy create`/`run`): host root, all privileges.
           Validates and plans (launcher.plan), claims <root>/<id> (mkdir:
           of two creates with one id exactly one wins), makes exec.fifo,
           forks stage 1, answers its requests, records the init's pid and
           start time, writes state "created" and --pid-file, sends `ack`.
  stage 1  intermediate, host pid namespace, all privileges; dies with
           stage 0 (PDEATHSIG). Joins namespaces given by path (user first),
           unshares a user namespace and waits for stage 0 to write its id
           maps, unshares the other new namespaces (pid and time apply to
           children only, hence this stage), writes time offsets, forks the
           init, reports its pid, exits.
  stage 2  init: pid 1 of the new pid namespace, full capabilities inside
           its user namespace. Sets up the rootfs (launcher.rootfs) and the
           process (launcher.process), reports `ready`, waits for `ack`
           (EOF: stage 0 died, so exit), then blocks opening exec.fifo until
           `start`, closes every fd it must not pass on and execs the user's
           program. Any error travels back to stage 0 as one line.

Hooks (launcher.hooks): with prestart/createRuntime hooks the init, its
mounts done and before pivot_root, sends `hooks` and waits; stage 0 runs
them in the runtime namespaces and answers `hooks-done` (a failure: the
usual error path, then poststop hooks). The init then runs createContainer
hooks itself (container namespaces, host paths: not pivoted yet); a hook
failure in a child travels as `hookerror MSG`. startContainer hooks run in
the init once `start` opened exec.fifo; the byte it writes is then b"0"
(go on) or b"E" + the error line (the program never runs). With hooks that
stage 0 or `run` spawns in the runtime namespaces, stage 1 is never folded
into stage 0 (stage 0 must keep the host's namespaces for its children).

Messages: launcher.channel. Only this module forks.
"""
import posix
import sys

from ocipy import SPEC_VERSION
from ocipy import state as st
from ocipy.errors import OcipyError
from ocipy.launcher import channel
from ocipy.pathlite import abspath as _abspath, basename as _basename, dirname as _dirname, \
    exists as _exists, isdir as _isdir, join as _join, makedirs


class Created:
    """What create hands back (to `run`)."""

    __slots__ = ("container", "pid", "console", "started")

    def __init__(self, container, pid: int, console: int = -1, started: bool = False) -> None:
        self.container, self.pid, self.console = container, pid, console
        self.started = started  # create(start=True) started it: exec.fifo is gone


def create(root: str, cid: str, bundle: str, *, pid_file: str = "", console_socket: str = "",
           no_pivot: bool = False, preserve_fds: int = 0, subreaper: bool = False,
           own_console: bool = False, new_keyring: bool = True, systemd_cgroup: bool = False,
           hand_over: bool = False, start: bool = False, rootless: bool = False) -> Created:
    """Stage 0. With own_console (a foreground `run`), a terminal without
    --console-socket is allowed: the pty master comes back to us over a
    socketpair, in Created.console. With start (`run`), the container is
    started as it is acknowledged, where nothing has to happen in between
    (Created.started; else the caller starts it as `start` does). With
    rootless (--rootless, by default when not root), a cgroup that may not
    be created is skipped unless linux.resources asks for limits."""
    from ocipy.launcher import plan as planmod
    from ocipy.spec.load import load_bundle

    st.validate_id(cid)
    config, bundle, rootfs = load_bundle(bundle)
    if (config.get("linux") or {}).get("seccomp") is not None:  # compiled programs are cached
        from ocipy import seccomp
        from ocipy.seccomp.compiler import CACHE_DIR

        seccomp.cache_dir = CACHE_DIR
    # socket activation (runc): fds 3.. that systemd passed us go on first,
    # then the --preserve-fds ones; the process learns it from LISTEN_FDS
    listen = planmod.listen_fds()
    preserve_fds += listen
    notify_sock = posix.environ.get(b"NOTIFY_SOCKET")  # (bytes: `os` stays unimported)
    if notify_sock:
        from ocipy.launcher import notify

        notify.setup_spec(config, _join(_abspath(root), cid))
    plan = planmod.build(config, bundle, rootfs, cid, no_pivot=no_pivot, preserve_fds=preserve_fds,
                         new_keyring=new_keyring)
    if listen:
        plan.env = [e for e in plan.env if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
        plan.env += [f"LISTEN_FDS={listen}", "LISTEN_PID=1"]
    lean_ok = hand_over and not (subreaper or own_console or notify_sock) and _lean_ok(plan)
    if lean_ok:  # validation is over: its memory goes to what stage 0 and the init allocate next
        _drop_modules(_STAGE0_ONLY)
    if plan.terminal and not console_socket and not own_console:
        raise OcipyError(f"{plan.where}: process.terminal is true: --console-socket is required "
                         "(or set terminal to false)")
    if not plan.terminal and console_socket:
        raise OcipyError(f"--console-socket given but {plan.where}: process.terminal is false")
    if pid_file:
        pid_file = _abspath(pid_file)
        if not _isdir(_dirname(pid_file)):
            raise OcipyError(f"--pid-file {pid_file}: {_dirname(pid_file)}: no such directory")
    console_fd = our_console = -1
    if console_socket:
        console_fd = _connect_console(console_socket)
    elif plan.terminal:
        import socket

        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        our_console, console_fd = a.detach(), b.detach()

    try:
        makedirs(root, 0o700, exist_ok=True)
    except OSError as e:
        raise st.root_error(root, e.errno) from None
    c = st.Container(root, cid)
    try:
        posix.mkdir(c.dir, 0o711)
    except FileExistsError:
        raise OcipyError(f'container "{cid}" already exists') from None
    except PermissionError as e:
        raise st.root_error(root, e.errno) from None
    except OSError as e:
        raise OcipyError(f"{c.dir}: {posix.strerror(e.errno)}") from None

    init_pid = 0
    parent = child = mgr = None
    try:
        c.state = {
            "ociVersion": SPEC_VERSION,  # the state complies with ocipy's version (runtime.md)
            "id": cid,
            "pid": 0,
            "status": st.CREATING,
            "bundle": bundle,
            "rootfs": rootfs,
            "created": st.now_rfc3339(),
            "init_start": 0,
            "annotations": config.get("annotations") or {},
            "new_pidns": bool(plan.ns_new & 0x20000000),
            "new_mntns": bool(plan.ns_new & 0x00020000),
            "rootfs_id": _dev_ino(rootfs),
        }
        if plan.seccomp is not None:  # the compiled filter, for `exec` (as runc applies it there)
            from ocipy import seccomp

            c.state["seccomp"] = seccomp.save(plan.seccomp, c.dir)
        later_hooks = {k: v for k, v in ((config.get("hooks") or {}).items())
                       if k in ("poststart", "poststop") and v}
        if later_hooks:  # run by start/delete: recorded now (a later config.json edit changes nothing)
            c.state["hooks"] = later_hooks
        # (a killed create before the first save leaves a dir without
        # state.json: that reads as "creating" and delete --force removes it)
        if notify_sock:
            notify.make_dir(c.dir)
        mgr = _cgroup_setup(plan, cid, systemd_cgroup, root, rootless)
        if lean_ok:  # planning is over too
            _drop_modules(_PLANNING)
        if mgr is not None:  # (None: rootless, no cgroup of its own)
            c.state["cgroup"] = mgr.to_state()
        c.save()
        low = 3 + preserve_fds
        if mgr is not None:
            # the init joins late, through fds opened here by root: after it
            # pivoted and dropped privileges (the kernel checks the opener)
            plan.cgroup_fds = [_above(posix.open(_join_file(d), posix.O_WRONLY | posix.O_CLOEXEC), low) for d in mgr.dirs()]
            plan.cgroup_dirs = _cgroup_dirs(mgr)
        else:  # it stays in ours: a cgroup mount shows those (as runc)
            from ocipy.cgroups import own_cgroup_dirs

            plan.cgroup_dirs = own_cgroup_dirs()
        fifo = _join(c.dir, st.FIFO)
        posix.mkfifo(fifo, 0o622)
        posix.chmod(fifo, 0o622)  # not what the umask left: the init may run as any uid
        fifo_fd = posix.open(fifo, posix.O_PATH | posix.O_CLOEXEC)
        parent, child = channel.pair()
        # keep our own fds clear of the range --preserve-fds hands on
        low = 3 + preserve_fds
        child.rfd, child.wfd = _above(child.rfd, low), _above(child.wfd, low)
        fifo_fd = _above(fifo_fd, low)
        if console_fd >= 0:
            console_fd = _above(console_fd, low)
        if subreaper:
            from ocipy.syscalls import set_subreaper

            set_subreaper()
        if plan.idmaps:  # detached idmapped trees, inherited by the init (launcher.idmap)
            from ocipy.launcher import idmap

            idmap.prepare(plan)
            plan.idmap_fds = {k: _above(v, low) for k, v in plan.idmap_fds.items()}
        _preload(plan)
        # non-dumpable from here, inherited by stage 1 and the init: until
        # the init execs, /proc/<init>/{exe,fd,cwd,...} (the host's
        # interpreter, a host /proc fd, exec.fifo) and ptrace need
        # CAP_SYS_PTRACE on the host, whoever shares its pid namespace (an
        # exec'd process of a created container, a joined pid namespace):
        # the CVE-2019-5736 class. execve makes the program dumpable again.
        from ocipy import syscalls as _sc

        _sc.prctl(4, 0, context="PR_SET_DUMPABLE")  # PR_SET_DUMPABLE
        sys.stdout.flush()
        sys.stderr.flush()
        if _needs_stage1(plan) or _runtime_hooks(plan):
            if not subreaper:
                # the init, forked by stage 1, becomes our child when stage 1
                # exits: a failed create then reaps it (else a zombie of the
                # host's init); on success it moves on when we exit
                from ocipy.syscalls import set_subreaper

                set_subreaper()
            pid1 = posix.fork()
            if pid1 == 0:
                _child_main(parent, child, plan, fifo_fd, console_fd)  # never returns
            _close_child_side(child, fifo_fd, console_fd)
            init_pid = _parent_loop(parent, pid1, plan, c)
        else:
            # stage 1 folded into this process: nothing it does needs a
            # process of its own, and one fork fewer is faster and leaner
            if lean_ok:
                plan.lean = _lean(plan, c, pid_file)
            _enter_namespaces(plan, None)
            init_pid = _fork_init(parent, child, plan, fifo_fd, console_fd)
            _close_child_side(child, fifo_fd, console_fd)
            if plan.lean is not None:  # the waiter could not be exec'd: wait here
                return _finish_here(parent, c, init_pid, plan)
            _record_init(c, init_pid)
            _parent_loop(parent, 0, plan, c, init_pid)
        for fd in plan.idmap_fds.values():  # the init has attached them
            posix.close(fd)
        if pid_file:
            try:
                st.write_atomic(pid_file, str(init_pid), 0o644)
            except OSError as e:
                raise OcipyError(f"--pid-file {pid_file}: {posix.strerror(e.errno)}") from None
        c.state["status"] = st.CREATED
        if c.state["new_mntns"]:  # to find the container's processes without a pid ns
            c.state["mnt_ino"] = plan.mnt_ino or posix.stat(f"/proc/{init_pid}/ns/mnt").st_ino
        c.save()
        # `run`: "go" instead of "ack" starts the program at once, as a
        # `start` would (the init then neither execs the trampoline's wait
        # nor blocks on exec.fifo); not with startContainer hooks (the init
        # runs them on `start`'s signal) or a NOTIFY_SOCKET relay (bound by
        # `run` before the program may run)
        go = start and not notify_sock and not (plan.config.get("hooks") or {}).get("startContainer")
        parent.send("go" if go else "ack")
        parent.close()
        if go:  # "running" from here (state.py: exec.fifo gone)
            posix.unlink(fifo)
        return Created(c, init_pid, our_console, go)
    except BaseException as e:
        if our_console >= 0:
            posix.close(our_console)
        # (an error from _parent_loop leaves init_pid 0: the pid it recorded)
        init_pid = init_pid or (c.state or {}).get("pid") or 0
        if init_pid:
            _kill_and_reap(init_pid)
        if mgr is not None:
            try:
                mgr.kill_all(9)
                mgr.destroy()
            except OcipyError:
                pass
        if parent is not None:
            parent.close()
        c.remove_dir()
        from ocipy.launcher.hooks import HookError

        if isinstance(e, HookError):
            # runtime.md: a failed prestart/createRuntime/createContainer hook
            # stops the container and continues at step 12 (destroy) and 13
            # (poststop hooks, failures only warned about)
            _poststop(c.state or {}, plan.config)
        raise


# --- the hand-over: stage 0 becomes a 6 KiB program while the init works ------
# A forked interpreter is charged twice: every page the init writes while
# stage 0 still maps it is copied (~1.5 MiB of the ~6.3 MiB create peaked
# at). So where stage 0 has nothing left to do but wait (stage 1 folded, no
# runtime-namespace work: hooks, netDevices, a seccomp listener, idmapped
# mounts, time namespaces, a NOTIFY_SOCKET relay; `create` itself, not
# `run`), it execs the trampoline's create-wait mode (trampoline.c) right
# after the fork, and the init, held until then, does stage 0's remaining
# writes itself: its pid and start time in state.json (before it leaves the
# host's mount namespace), --pid-file and "created" once set up, before it
# drops its privileges (through directory fds opened here). The waiter exits
# 0 on the init's "ok"; for
# anything else it runs this command line again with OCIPY_CREATE_REPORT,
# and finish_report() logs it and, without "ok", removes the container.
class Lean:
    __slots__ = ("c", "memfd", "dirfd", "pid_dirfd", "pid_name", "gate_r", "gate_w", "mnt_ino", "argv", "env")


def _lean_ok(plan) -> bool:
    """Whether the hand-over applies to this plan (stage 1 folded and no
    work left for stage 0 after the fork)."""
    return not (_needs_stage1(plan) or _runtime_hooks(plan) or any((plan.config.get("hooks") or {}).values())
                or plan.net_devices or plan.idmaps or (plan.seccomp is not None and plan.seccomp.notify)
                or plan.ns_new & 0x80 or any(t == "time" for t, _, _ in plan.ns_join) or plan.time_offsets
                or not getattr(sys, "orig_argv", None) or not sys.executable
                or posix.environ.get(b"OCIPY_CREATE_HAND_OVER") == b"0")


def _drop_modules(names) -> None:
    """Forget modules and empty them (their functions and tables freed: no
    gc runs, the cycles go with the dicts); a later import loads them anew."""
    for name in names:
        mod = sys.modules.pop(name, None)
        if mod is not None:
            pkg, _, attr = name.rpartition(".")
            if pkg in sys.modules and getattr(sys.modules[pkg], attr, None) is mod:
                delattr(sys.modules[pkg], attr)  # `from pkg import attr` must not find the empty one
            mod.__dict__.clear()


def _lean(plan, c, pid_file: str):
    """A Lean for the hand-over (_lean_ok(plan) is true), or None where
    memfd exec is refused."""
    from ocipy.launcher import trampoline

    memfd = trampoline._memfd()
    if memfd < 0:
        return None
    low = 3 + plan.preserve_fds
    ln = Lean()
    ln.c, ln.memfd, ln.mnt_ino = c, _above(memfd, low), 0
    flags = posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC
    ln.dirfd = _above(posix.open(c.dir, flags), low)
    ln.pid_dirfd, ln.pid_name = -1, ""
    if pid_file:
        ln.pid_dirfd = _above(posix.open(_dirname(pid_file), flags), low)
        ln.pid_name = _basename(pid_file)
    r, w = posix.pipe2(posix.O_CLOEXEC)
    ln.gate_r, ln.gate_w = _above(r, low), _above(w, low)
    ln.argv = [trampoline.MAGIC, "", "", sys.executable, *sys.orig_argv]
    ln.env = posix.environ  # bytes: passed as they are
    from ocipy.syscalls import malloc_trim

    malloc_trim()  # what validation freed is not copied into the init's page tables
    from ocipy import log

    log.debug("create: stage 0 hands over to the create-wait program once the init is forked")
    return ln


def _hand_over(parent, init_pid: int, ln) -> None:
    """Stage 0, right after the fork: exec the create-wait program (argv and
    env made before the fork: as little as possible is written meanwhile).
    Returns only if that failed (then the caller waits in Python)."""
    ln.argv[2] = str(init_pid)
    try:
        posix.execve(ln.memfd, ln.argv, ln.env)
    except OSError:
        posix.set_inheritable(parent.rfd, False)
        posix.close(ln.gate_w)  # let the init go on
        ln.gate_w = -1


def _finish_here(parent, c, init_pid: int, plan) -> Created:
    """The waiter's job, in Python (its exec failed)."""
    chunks = []
    while True:
        b = posix.read(parent.rfd, 65536)
        if not b:
            break
        chunks.append(b)
    parent.close()
    finish_report(c.root, c.id, f"{init_pid}\n".encode() + b"".join(chunks))
    return Created(c, init_pid, -1)


def finish_report(root: str, cid: str, rep: bytes) -> int:
    """What the init said after the hand-over (OCIPY_CREATE_REPORT, or read
    by _finish_here): its warnings logged; without "ok", the container is
    removed as a failed create is, and the error raised. Only for the init
    this very process forked before it exec'd the waiter (our child)."""
    from ocipy import log

    pid_s, _, data = rep.partition(b"\n")
    try:
        pid = int(pid_s)
        wpid, status = posix.waitpid(pid, posix.WNOHANG)
    except (ValueError, ChildProcessError):
        raise OcipyError("OCIPY_CREATE_REPORT: not the report of this create") from None
    ok, err = False, None
    for line in data.decode("utf-8", "replace").split("\n"):
        kind, _, payload = line.partition(" ")
        if kind == "ok":
            ok = True
        elif kind == "warn":
            log.warn(payload)
        elif kind in ("error", "hookerror") and err is None:
            err = payload
    if ok and err is None:
        return 0
    if err is None:  # as _parent_loop words an init gone without a word
        err = f"container init exited unexpectedly{_status_reason(status) if wpid else ''}"
    if not wpid:
        _kill_and_reap(pid)
    c = st.Container(root, cid)
    c.reload()
    rec = (c.state or {}).get("cgroup")
    if rec:
        from ocipy import cgroups

        try:
            mgr = cgroups.from_state(rec)
            mgr.kill_all(9)
            mgr.destroy()
        except OcipyError:
            pass
    c.remove_dir()
    raise OcipyError(err)


def _poststop(state: dict, config: dict) -> None:
    from ocipy.launcher import hooks

    hooks.run_hooks_warn("poststop", hooks.hooks_of(config, "poststop"),
                         hooks.hook_state(state, st.STOPPED), "")


def _runtime_hooks(plan) -> bool:
    """Hooks that stage 0 (or `run`, the same process) spawns in the
    runtime namespaces: then stage 0 must never enter or unshare one of the
    container's namespaces itself (folded stage 1 would: its later children
    would land in the container's pid/time namespace or a joined one)."""
    h = plan.config.get("hooks") or {}
    return any(h.get(k) for k in ("prestart", "createRuntime", "poststart", "poststop"))


def _dev_ino(path: str) -> list:
    s = posix.stat(path)
    return [s.st_dev, s.st_ino]


def _preload(plan) -> None:
    """Import now what stages 1 and 2 need: once they are in a user
    namespace or another mount namespace, the interpreter's own files (under
    a 0700 /root, say) may be out of reach."""
    import fcntl  # noqa: F401
    import resource  # noqa: F401
    import _signal  # noqa: F401

    import ocipy.launcher.process  # noqa: F401
    import ocipy.launcher.rootfs  # noqa: F401
    import ocipy.launcher.trampoline  # noqa: F401
    import ocipy.spec.env  # noqa: F401
    import ocipy.syscalls  # noqa: F401

    if plan.terminal:
        import socket  # noqa: F401
        import struct  # noqa: F401
    if plan.seccomp is not None:
        import ocipy.seccomp  # noqa: F401
        import ocipy.seccomp.bpf  # noqa: F401
        import ocipy.syscalls.seccomp  # noqa: F401
    if plan.config.get("hooks"):
        import select  # noqa: F401
        import time  # noqa: F401

        import ocipy.jsonlite  # noqa: F401
        import ocipy.launcher.hooks  # noqa: F401


def _above(fd: int, low: int) -> int:
    if fd >= low:
        return fd
    import fcntl

    nfd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    posix.close(fd)
    return nfd


def _connect_console(path: str) -> int:
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise OcipyError(f"--console-socket {path}: {posix.strerror(e.errno) if e.errno else e}") from None
    return s.detach()


def _kill_and_reap(pid: int) -> None:
    """SIGKILL and reap; a process that is not our child (the init forked
    by a stage 1 of its own, then reparented) is waited for through a pidfd
    until it has died, so that a failed create returns with it gone."""
    import _signal

    try:
        fd = posix.pidfd_open(pid)
    except OSError:  # ProcessLookupError: gone already
        return
    try:
        try:
            _signal.pidfd_send_signal(fd, 9)
        except ProcessLookupError:
            return
        try:
            posix.waitpid(pid, 0)
            return
        except ChildProcessError:
            pass
        import select

        p = select.poll()
        p.register(fd, select.POLLIN)
        p.poll(5000)  # readable once it has exited (SIGKILL: at once)
    finally:
        posix.close(fd)


def _cgroup_setup(plan, cid: str, systemd: bool, root: str, rootless: bool = False):
    """Create the container's cgroup and write its resources (stage 0, as
    root, before any process of the container exists). Rootless, a cgroup
    this user may not create (no delegation) is skipped: None, the container
    stays in the caller's cgroups, as with runc; unless linux.resources asks
    for a limit, which is then an error naming it."""
    from ocipy import cgroups, log
    from ocipy.launcher.plan import cgroup_resources

    linux = plan.config.get("linux") or {}
    try:
        name = cid
        if not linux.get("cgroupsPath") and _abspath(root) != "/run/ocipy":
            # the default cgroup is named after the id; ids are unique per
            # --root only, so another root gets its own name (several roots
            # coexist: a delete in one must never kill the other's processes)
            from zlib import crc32

            name = f"{cid}-{crc32(_abspath(root).encode()):08x}"
        path = cgroups.resolve_path(linux.get("cgroupsPath"), name, systemd=systemd)
        mgr = cgroups.new_manager(cgroups.detect(), path, cid)
        resources = cgroup_resources(plan.config)
        if rootless:
            # a cgroup delegated to the user (or none): device rules are
            # root's (devices.allow and a cgroup2 BPF program need
            # CAP_SYS_ADMIN), and the container's device nodes are binds of
            # the host's, which the user may open anyway; runc skips them too
            resources.pop("devices", None)
            if getattr(mgr, "paths", None) and "devices" in mgr.paths:
                mgr.paths = {k: v for k, v in mgr.paths.items() if k != "devices"}
        if getattr(mgr, "unified", None) and not _needs_unified(mgr, resources):
            # A hybrid host's cgroup2 hierarchy holds only the controllers
            # the host moved there (hugetlb here). Joining it costs an RCU
            # grace period (cgroup.procs: ~7 ms measured, no `tasks` file in
            # cgroup2), so it is used only when a resource needs it; the
            # manager then behaves as on a v1-only host.
            mgr.unified = None
        mgr.create(resources)
    except OcipyError as e:
        if rootless and getattr(e, "errno", 0) in (1, 13, 30):  # EPERM, EACCES, EROFS
            asked = sorted(k for k, v in (linux.get("resources") or {}).items() if v and k != "devices")
            if not asked:
                return None
            raise OcipyError(f"{plan.where}: linux.resources.{asked[0]}: rootless container: "
                             f"no cgroup to set it in ({e})") from None
        raise OcipyError(f"{plan.where}: {e}") from None
    try:
        for w in mgr.apply(resources):
            log.warn(f"{plan.where}: {w}")
    except OcipyError as e:
        mgr.destroy()
        raise OcipyError(f"{plan.where}: {e}") from None
    return mgr


# linux.resources key -> the controller that implements it
_RESOURCE_CONTROLLERS = {"memory": "memory", "cpu": "cpu", "pids": "pids", "blockIO": "io",
                         "hugepageLimits": "hugetlb", "rdma": "rdma", "network": "net_cls"}


def _needs_unified(mgr, resources: dict) -> bool:
    """Whether a hybrid host's cgroup2 hierarchy must hold the container:
    a resource lives there, or something tracks processes by it (systemd
    does: without it, `systemctl stop` of the caller's unit would kill the
    containers), or the runtime itself sits in a non-root cgroup2 cgroup
    (its manager would count the container as its own)."""
    if resources.get("unified") or _isdir("/run/systemd/system"):
        return True
    from ocipy.cgroups import own_cgroup

    if own_cgroup().get("", "/") not in ("/", ""):
        return True
    v1 = getattr(mgr, "paths", {})
    v2 = getattr(mgr, "v2_controllers", frozenset())
    for key, ctrl in _RESOURCE_CONTROLLERS.items():
        if resources.get(key) and ctrl not in v1 and (ctrl in v2 or (ctrl == "io" and "blkio" not in v1)):
            return True
    return False


def _join_file(d: str) -> str:
    """The file the init writes "0" to. On v1, `tasks`: moving one thread
    (the init is single-threaded: that is the whole process) skips the
    global threadgroup rwsem that `cgroup.procs` takes, and its RCU grace
    period (measured here: ~8 ms against 0.3 ms, per hierarchy). cgroup2 has
    only cgroup.procs for this."""
    tasks = _join(d, "tasks")
    return tasks if _exists(tasks) else _join(d, "cgroup.procs")


def _cgroup_dirs(mgr) -> dict:
    """What the container's cgroup mount binds: v1 controller -> dir, and
    "" -> its cgroup2 dir (unified hierarchy of a hybrid host, or pure v2)."""
    out = dict(getattr(mgr, "paths", {}) or {})
    unified = getattr(mgr, "unified", None) or getattr(mgr, "dir", None)
    if unified:
        out[""] = unified
    return out


def _needs_stage1(plan) -> bool:
    """A process of its own is needed to enter a user namespace (stage 0
    must keep its host credentials to write maps and state) or another mount
    namespace (stage 0 must keep seeing --root). Everything else stage 0 may
    do to itself: it only writes state afterwards, and pid/time namespaces
    apply to its children only."""
    return plan.userns_new or any(t in ("user", "mount") for t, _, _ in plan.ns_join)


def _close_child_side(child, fifo_fd: int, console_fd: int) -> None:
    child.close()
    posix.close(fifo_fd)
    if console_fd >= 0:
        posix.close(console_fd)


def _record_init(c, init_pid: int) -> None:
    started = st.proc_start_time(init_pid)
    c.state["pid"] = init_pid
    c.state["init_start"] = started[0] if started else 0
    c.save()


def _parent_loop(ch: channel.Channel, stage1: int, plan, c, init_pid: int = 0) -> int:
    """Stage 0's side of the protocol; returns the init's host pid. With
    stage1 == 0 (folded), init_pid is already known."""
    stage1_reaped = stage1 == 0
    pending_hooks = pending_net = False
    try:
        while True:
            kind, payload = ch.recv()
            if kind == "userns":
                _write_id_maps(stage1, plan)
                ch.send("mapped")
            elif kind == "pid":
                init_pid = int(payload)
                posix.waitpid(stage1, 0)
                stage1_reaped = True
                _record_init(c, init_pid)
                if pending_net:
                    pending_net = False
                    _move_net_devices(ch, plan, init_pid)
                if pending_hooks:
                    pending_hooks = False
                    _create_hooks(ch, plan, c, init_pid)
            elif kind == "ready":
                if not init_pid:
                    raise OcipyError("internal error: init ready before its pid was known")
                if payload:
                    plan.mnt_ino = int(payload)
                return init_pid
            elif kind == "hooks":
                # the init is past its mounts, before pivot_root: prestart
                # then createRuntime, here in the runtime namespaces
                if not init_pid:
                    pending_hooks = True
                    continue
                _create_hooks(ch, plan, c, init_pid)
            elif kind == "netdevs":  # the init is in its new network namespace
                if not init_pid:
                    pending_net = True
                    continue
                _move_net_devices(ch, plan, init_pid)
            elif kind == "hookerror":
                from ocipy.launcher.hooks import HookError

                raise HookError(payload)
            elif kind == "seccomp":  # the init loaded a NOTIFY filter: listener fd to the agent
                from ocipy.seccomp import notify

                if not init_pid:
                    raise OcipyError("internal error: seccomp hand-off before the init's pid was known")
                plan.seccomp.state = notify.container_state(c.state, st.CREATING, init_pid)
                notify.deliver(plan.seccomp, init_pid, int(payload))
                ch.send("seccomp-done")
            elif kind == "warn":
                from ocipy import log

                log.warn(payload)
            elif kind == "error":
                raise OcipyError(payload)
            else:  # eof or garbage: the child died without a word
                why = _exit_reason(stage1 if not stage1_reaped else init_pid)
                raise OcipyError(f"container init exited unexpectedly{why}")
    except BaseException:
        if not stage1_reaped:
            _kill_and_reap(stage1)
        raise


def _move_net_devices(ch, plan, init_pid: int) -> None:
    """linux.netDevices, from here: the host's network namespace, where the
    devices are and CAP_NET_ADMIN is held (launcher.netdev)."""
    from ocipy.launcher import netdev

    netdev.move_all(plan, init_pid)
    ch.send("netdevs-done")


def _create_hooks(ch, plan, c, init_pid: int) -> None:
    from ocipy.launcher import hooks

    state = hooks.hook_state(c.state, st.CREATING, init_pid)
    for kind in ("prestart", "createRuntime"):
        hooks.run_hooks(kind, hooks.hooks_of(plan.config, kind), state, plan.where)
    ch.send("hooks-done")


def _exit_reason(pid: int) -> str:
    try:
        _, status = posix.waitpid(pid, posix.WNOHANG)
    except ChildProcessError:
        return ""
    return _status_reason(status)


def _status_reason(status: int) -> str:
    if posix.WIFSIGNALED(status):
        return f" (killed by signal {posix.WTERMSIG(status)})"
    if posix.WIFEXITED(status):
        return f" (exit status {posix.WEXITSTATUS(status)})"
    return ""


def _write_id_maps(pid: int, plan) -> None:
    if plan.unprivileged:  # no CAP_SETGID on the host: gid_map needs setgroups denied first
        with open(f"/proc/{pid}/setgroups", "w") as f:
            f.write("deny")
    for name, data in (("uid_map", plan.uid_map), ("gid_map", plan.gid_map)):
        try:
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(data)
        except OSError as e:
            field = "uidMappings" if name == "uid_map" else "gidMappings"
            raise OcipyError(f"{plan.where}: linux.{field}: writing {name}: {posix.strerror(e.errno)}") from None


# --- child side ------------------------------------------------------------------
def _child_main(parent, ch, plan, fifo_fd: int, console_fd: int) -> None:
    """Stage 1, then (in its child) stage 2. Never returns."""
    code = 1
    try:
        posix.close(parent.rfd)
        posix.close(parent.wfd)
        _stage1(ch, plan, fifo_fd, console_fd)
        code = 0
    except BaseException as e:  # noqa: BLE001 - everything must reach stage 0
        _report(ch, e)
    finally:
        posix._exit(code)


def _report(ch, e: BaseException) -> None:
    kind = "error"
    if isinstance(e, OcipyError):
        if getattr(e, "is_hook", False):  # (no import here: maybe unreachable now)
            kind = "hookerror"
        msg = str(e)
    elif isinstance(e, OSError):
        msg = f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
    else:
        msg = f"internal error: {type(e).__name__}: {e}"
    try:
        ch.send(kind, msg)
    except OSError:  # after `ack` nobody listens: the container's stderr is all we have
        try:
            posix.write(2, f"ocipy: {msg}\n".encode())
        except OSError:
            pass


def _stage1(ch, plan, fifo_fd: int, console_fd: int) -> None:
    from ocipy import syscalls as sc

    sc.set_pdeathsig(9)
    if posix.getppid() == 1:
        posix._exit(1)
    # still host root: the init inherits it (non-dumpable in a user
    # namespace, it could not write its own /proc/self/oom_score_adj)
    from ocipy.launcher.process import set_oom_score_adj

    set_oom_score_adj(plan)
    _enter_namespaces(plan, ch)
    ch.send("pid", str(_fork_init(None, ch, plan, fifo_fd, console_fd)))


def _enter_namespaces(plan, ch) -> None:
    """setns into the namespaces given by path, unshare the new ones, set
    time offsets. ch is the channel to stage 0 for the user namespace's id
    maps (None when stage 0 runs this itself: then there is no new userns)."""
    from ocipy import syscalls as sc

    # join namespaces given by path: the user namespace first, so that the
    # others are joined with the credentials of their owner
    joins = sorted(plan.ns_join, key=lambda j: j[0] != "user")
    for t, fd, path in joins:
        try:
            sc.setns(fd, sc.NAMESPACES[t][0], context=f"{t} namespace {path}")
        except OcipyError as e:
            raise OcipyError(f"{plan.where}: linux.namespaces: {e}") from None
        posix.close(fd)
    if plan.userns_join:
        # become root of the joined user namespace (host root is unmapped there)
        posix.setresgid(0, 0, 0)
        posix.setresuid(0, 0, 0)
    if plan.userns_new:
        sc.unshare(sc.CLONE_NEWUSER)
        if plan.unprivileged:
            # stage 0 (not root: no CAP_DAC_OVERRIDE) opens our uid_map and
            # gid_map, which a non-dumpable process's /proc files (root's)
            # refuse it: dumpable only while it writes them (as runc)
            sc.prctl(4, 1, context="PR_SET_DUMPABLE")
        ch.send("userns")
        ch.expect("mapped")
        if plan.unprivileged:
            sc.prctl(4, 0, context="PR_SET_DUMPABLE")
        posix.setresgid(0, 0, 0)
        posix.setresuid(0, 0, 0)
    # pid and time namespaces apply to children only: unshared here, before
    # the init is forked. The others apply at once, so the init unshares
    # them itself (stage 0 must never share the container's mount namespace)
    later = plan.ns_new & (sc.CLONE_NEWPID | sc.CLONE_NEWTIME)
    if later:
        sc.unshare(later)
    if plan.time_offsets:
        _write_time_offsets(plan)


def _fork_init(parent, ch, plan, fifo_fd: int, console_fd: int) -> int:
    """Fork stage 2; returns its pid (as seen by the caller). With the
    hand-over (plan.lean), stage 0 execs the waiter at once and the init
    waits for that (the gate's EOF): nothing is copied on write meanwhile."""
    ln = plan.lean
    if ln is not None:
        posix.set_inheritable(parent.rfd, True)  # for the waiter (the init closes its copy)
        ln.argv[1] = f"c{parent.rfd}"
    pid = posix.fork()
    if pid and ln is not None:
        _hand_over(parent, pid, ln)  # returns only if the exec failed
    if pid == 0:
        code = 1
        try:
            if ln is not None:
                posix.close(ln.gate_w)
                posix.read(ln.gate_r, 1)  # EOF: stage 0 is the waiter now (or gave up exec'ing it)
                posix.close(ln.gate_r)
                posix.close(ln.memfd)
                _lean_start(ln)
            if parent is not None:
                parent.close()
            _stage2(ch, plan, fifo_fd, console_fd)
        except BaseException as e:  # noqa: BLE001 - everything must reach stage 0
            _report(ch, e)
        finally:
            posix._exit(code)
    return pid


# stage 0's modules that neither the rest of create nor the init use once the
# plan is built: emptied then (with the hand-over), what is allocated next
# (the cgroup, the state, the init's modules and objects) reuses their memory
_PLANNING = ("ocipy.launcher.plan", "ocipy.spec.mounts", "ocipy.spec.caps", "ocipy.spec.rlimits",
             "ocipy.spec.defaults")
_STAGE0_ONLY = ("ocipy.spec.load", "ocipy.spec.validate", "ocipy.spec._table", "ocipy.cli.parse",
                "ocipy.cli._table", "ocipy.commands.create")


def _lean_start(ln) -> None:
    """The init, after the hand-over, still in the host's namespaces but
    pid (children only): its host pid (/proc/self of the host's procfs) and
    start time in state.json, as stage 0 records them otherwise."""
    pid = int(posix.readlink("/proc/self"))
    _record_init(ln.c, pid)


def _lean_save(ln) -> None:
    """The init, set up but for its seccomp filter, credentials and the
    executable's lookup (still root with every capability: after them it may
    be neither): --pid-file and "created" through the directory fds (the
    host's paths are out of reach now). Should a later step fail, the waiter
    reports it and the container is removed as any failed create's."""
    c = ln.c
    if ln.pid_dirfd >= 0:
        try:
            st.write_atomic(ln.pid_name, str(c.state["pid"]), 0o644, dir_fd=ln.pid_dirfd)
        except OSError as e:
            raise OcipyError(f"--pid-file {ln.pid_name}: {posix.strerror(e.errno)}") from None
        posix.close(ln.pid_dirfd)
    c.state["status"] = st.CREATED
    if c.state["new_mntns"]:
        c.state["mnt_ino"] = ln.mnt_ino
    st.write_atomic(st.STATE_FILE, c.dumps(), dir_fd=ln.dirfd)
    posix.close(ln.dirfd)


def _write_time_offsets(plan) -> None:
    offsets = plan.time_offsets
    lines = []
    for clock in ("monotonic", "boottime"):
        o = offsets.get(clock)
        if o:
            lines.append(f"{clock} {o.get('secs', 0)} {o.get('nanosecs', 0)}")
    if not lines:
        return
    try:
        with open("/proc/self/timens_offsets", "w") as f:
            f.write("\n".join(lines) + "\n")
    except OSError as e:
        raise OcipyError(f"{plan.where}: linux.timeOffsets: {posix.strerror(e.errno)}") from None


def _join_cgroup(plan) -> None:
    """Enter the container's cgroup as late as possible: everything the
    interpreter allocated so far stays charged where it was (memory already
    charged does not move), so even a 1 MiB memory limit can start a
    program. Then the cgroup namespace, rooted at that cgroup."""
    from ocipy import syscalls as sc

    for fd in plan.cgroup_fds:
        try:
            posix.write(fd, b"0")
        except OSError as e:
            raise OcipyError(f"{plan.where}: linux.cgroupsPath: joining the container's cgroup: "
                             f"{posix.strerror(e.errno)}") from None
        posix.close(fd)
    if plan.ns_new & sc.CLONE_NEWCGROUP:
        sc.unshare(sc.CLONE_NEWCGROUP)


def _die(sig, _frame) -> None:
    posix._exit(128 + sig)


def _stage2(ch, plan, fifo_fd: int, console_fd: int) -> None:
    from ocipy import syscalls as sc
    from ocipy.launcher import process, rootfs

    # the cgroup namespace is unshared after the late cgroup join (its root
    # is the cgroup of the process that unshares it)
    now = plan.ns_new & ~(sc.CLONE_NEWUSER | sc.CLONE_NEWPID | sc.CLONE_NEWTIME | sc.CLONE_NEWCGROUP)
    if now:
        sc.unshare(now)
    if plan.lean is not None:  # our mount namespace, seen through the host's /proc still here
        plan.lean.mnt_ino = posix.stat("/proc/self/ns/mnt").st_ino
    posix.setsid()
    if plan.new_keyring:
        try:
            sc.join_session_keyring("_ses." + plan.cid)  # runc's name for it
        except OcipyError as e:
            if e.errno not in (38, 1, 122):  # ENOSYS, EPERM, EDQUOT (user ns quota): as runc, go on
                raise
    # host fds we need after pivot_root: our fd table through the host /proc
    procfd_dir = posix.open("/proc/self/fd", posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    devnull = rootfs.open_host_devnull()
    rfs = rootfs.prepare_root(plan)
    rootfs.do_mounts(plan, rfs)
    if plan.setup_dev:
        rootfs.setup_dev(plan, rfs)
    for rel, val in plan.sysctl:
        try:
            with open("/proc/sys/" + rel, "w") as f:
                f.write(val)
        except OSError as e:
            raise OcipyError(f"{plan.where}: linux.sysctl: {rel.replace('/', '.')}: {posix.strerror(e.errno)}") from None
    if plan.hostname:
        sc.sethostname(plan.hostname)
    if plan.domainname:
        sc.setdomainname(plan.domainname)
    if plan.net_new:
        sc.loopback_up()
    if plan.net_devices:  # stage 0 moves them in (launcher.netdev)
        ch.send("netdevs")
        k, msg = ch.recv()
        if k != "netdevs-done":
            posix._exit(1)  # stage 0 failed (it reports the error) or is gone
    if plan.terminal:
        process.setup_terminal(plan, rfs, console_fd)
        posix.close(console_fd)
    posix.close(rfs.mkdir_all(plan.cwd))
    rootfs.mask_paths(plan, rfs, devnull)
    rootfs.readonly_paths(plan, rfs)
    if plan.root_readonly:
        rootfs.remount_root_readonly(rfs)
    hk = plan.config.get("hooks")
    if hk:
        _init_create_hooks(ch, plan, hk)
    process.set_oom_score_adj(plan)
    process.set_rlimits(plan)
    posix.close(devnull)
    posix.close(rfs.fd)
    rootfs.pivot(plan)
    rootfs.apply_root_propagation(plan)
    try:
        rootfs.chdir_in_root(plan.cwd)  # never through a magic link (CVE-2024-21626 class)
    except OSError as e:
        raise OcipyError(f"{plan.where}: process.cwd: {plan.cwd}: {e.strerror}") from None
    process.complete_env(plan)
    process.reopen_dev_null()
    process.fix_stdio_owner(plan)
    _join_cgroup(plan)
    # after the join, as runc and as exec: a real-time policy is then checked
    # against the container's cgroup budget (cpu.rt_runtime_us), not refused
    # by the join with a vague EINVAL
    process.set_process_attrs(plan)
    if plan.lean is not None:
        _lean_save(plan.lean)
    if plan.seccomp is not None and not plan.nnp:  # needs CAP_SYS_ADMIN: before the drop (runc's order)
        _load_seccomp(ch, plan)
    # a spare gid for the trampoline's wait (process.exec_waiting), unless startContainer hooks run here
    spare = -1
    if not (hk and hk.get("startContainer")) and process.can_wait_in_trampoline(plan):
        spare = process.spare_gid(plan.gid)
    process.set_credentials(plan, lambda msg: ch.send("warn", msg), spare)
    path = process.find_executable(plan)
    if plan.seccomp is not None and plan.nnp:  # as late as the listener hand-off allows (runc's order)
        _load_seccomp(ch, plan)
    go = False  # `run`'s "go": start now, without waiting on exec.fifo
    if plan.lean is not None:
        ch.send("ok")  # the waiter gone (create killed): EPIPE, and we exit
    else:
        # with our mount namespace's inode: stage 0 cannot stat our
        # /proc/<pid>/ns/mnt while we are non-dumpable unless it is root
        ch.send("ready", str(posix.stat("/proc/self/ns/mnt").st_ino) if plan.unprivileged else "")
        reply = ch.recv()[0]
        if reply not in ("ack", "go"):
            posix._exit(1)  # stage 0 is gone: create failed or was killed
        go = reply == "go"
    ch.close()
    # A namespace's init only receives signals it handles: while we wait for
    # `start`, `kill ID TERM` must still end the container as it would the
    # program (runc's Go init dies the same way). Handlers reset at execve.
    import _signal

    for sig in (1, 2, 3, 10, 12, 14, 15):
        _signal.signal(sig, _die)
    if hk and hk.get("startContainer"):
        _start_with_hooks(plan, hk["startContainer"], fifo_fd, procfd_dir)
    elif not go:
        # the trampoline waits for `start` in our place (the interpreter's
        # ~4 MiB freed while "created"); returns when it cannot
        process.exec_waiting(plan, path, fifo_fd)
        process.wait_for_start(fifo_fd, procfd_dir)
    process.exec_process(plan, path, plan.preserve_fds)


def _load_seccomp(ch, plan) -> None:
    from ocipy import seccomp

    def handoff(fd: int) -> None:  # stage 0 copies it with pidfd_getfd and sends it to the agent
        ch.send("seccomp", str(fd))
        ch.expect("seccomp-done")

    seccomp.load(plan.seccomp, handoff)
    if not seccomp.allows_memfd_exec(plan.seccomp):  # then exec the program directly (launcher.trampoline)
        from ocipy.launcher import trampoline

        trampoline.DISABLED = True
    elif not seccomp.allows_trampoline_wait(plan.seccomp):  # then wait for `start` in Python
        from ocipy.launcher import trampoline

        trampoline.WAIT_DISABLED = True


def _base_state(plan) -> dict:
    return {"ociVersion": SPEC_VERSION, "id": plan.cid, "bundle": plan.bundle,
            "annotations": plan.config.get("annotations") or {}}


def _init_create_hooks(ch, plan, hk: dict) -> None:
    """The init, mounts done, before pivot_root: stage 0 runs prestart and
    createRuntime (runtime namespaces) while we wait, then we run
    createContainer here: in the container's namespaces, the path still
    resolving in the runtime's mount tree (we have not pivoted)."""
    from ocipy.launcher import hooks

    if hk.get("prestart") or hk.get("createRuntime"):
        ch.send("hooks")
        k, _ = ch.recv()
        if k != "hooks-done":
            posix._exit(1)  # stage 0 failed (it reports) or is gone
    if hk.get("createContainer"):
        # the pid as the container sees it (runtime.md: container-namespace hooks)
        state = hooks.hook_state(_base_state(plan), st.CREATING, posix.getpid())
        hooks.run_hooks("createContainer", hk["createContainer"], state, plan.where)


def _start_with_hooks(plan, start_hooks: list, fifo_fd: int, procfd_dir: int) -> None:
    """`start` opened exec.fifo: run startContainer hooks inside the
    container (after pivot_root, with the process's credentials), then tell
    `start` the outcome on the fifo: b"0" (go), or b"E" and the error line,
    after which we exit: the user's program never runs."""
    from ocipy.launcher import hooks

    fd = posix.open(str(fifo_fd), posix.O_WRONLY | posix.O_CLOEXEC, dir_fd=procfd_dir)
    try:
        state = hooks.hook_state(_base_state(plan), st.CREATED, posix.getpid())
        hooks.run_hooks("startContainer", start_hooks, state, plan.where)
    except BaseException as e:  # noqa: BLE001 - `start` must learn why
        msg = str(e) if isinstance(e, OcipyError) else f"startContainer hooks: {type(e).__name__}: {e}"
        try:
            posix.write(fd, b"E" + msg.encode("utf-8", "replace"))
        finally:
            posix._exit(1)
    try:
        posix.write(fd, b"0")
    finally:
        posix.close(fd)
