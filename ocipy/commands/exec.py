"""ocipy exec: run a new process in a created or running container, as runc.

The process comes from `--process FILE` (a spec `process` object, validated:
errors name the file and the JSON path; every other process flag is then
ignored, as runc does, with a warning) or from COMMAND plus the flags over
the container's own config.json process (the bundle recorded in state.json):
`--env` appended (last wins), `--cwd`, `--user uid[:gid]` (additionalGids of
the config kept), `--additional-gids` appended, `--cap` added to bounding,
effective and permitted (and ambient when the config has an inheritable
set), `--no-new-privs`, `--tty` (the config's terminal is not inherited).
rlimits, umask, oomScoreAdj, capabilities, noNewPrivileges come from the
config; linux.personality applies as it does to the init.

Failures are one line and exit 255, as runc's (a program's own exit status
is never mistaken for the runtime's). The stages: launcher/execproc.py.
Hot path: no typing/re/json/typer/pydantic; the --process path alone loads
the validator.
"""
import posix

from ocipy.pathlite import join as _join
from ocipy import state as st
from ocipy.errors import OcipyError
from ocipy.launcher.execproc import ExecError, ExecPlan

# process flags that --process makes irrelevant (runc ignores them silently)
_PROCESS_FLAGS = (("env", "--env"), ("cwd", "--cwd"), ("user", "--user"), ("additional_gids", "--additional-gids"),
                  ("cap", "--cap"), ("tty", "--tty"), ("no_new_privs", "--no-new-privs"), ("command", "COMMAND"),
                  ("apparmor", "--apparmor"), ("process_label", "--process-label"))


def run(g: dict, p: dict) -> int:
    try:
        return _run(g, p)
    except ExecError:
        raise
    except OcipyError as e:
        raise ExecError(str(e)) from None


def _run(g: dict, p: dict) -> int:
    c = st.Container.load(g["root"], p["container_id"])
    status = c.status()
    if status == st.STOPPED:
        raise ExecError(f'cannot exec in a stopped container "{c.id}"')
    if status == st.PAUSED and not p.get("ignore_paused"):
        raise ExecError(f'cannot exec in a paused container "{c.id}" (use --ignore-paused to override)')
    if status not in (st.CREATED, st.RUNNING, st.PAUSED):
        raise ExecError(f'cannot exec in container "{c.id}": it is {status}')
    detach = bool(p.get("detach"))
    plan = build_plan(c, p)
    console_socket = p.get("console_socket") or ""
    if plan.terminal and detach and not console_socket:
        raise ExecError("cannot allocate a tty with --detach without --console-socket")
    if console_socket and not plan.terminal:
        raise ExecError("--console-socket given but the process has no terminal (use --tty)")
    pid_file = p.get("pid_file") or ""
    if pid_file:
        import os.path

        pid_file = os.path.abspath(pid_file)
        if not os.path.isdir(os.path.dirname(pid_file)):
            raise ExecError(f"--pid-file {pid_file}: {os.path.dirname(pid_file)}: no such directory")
    pidfd_sock = -1
    if p.get("pidfd_socket"):
        from ocipy.launcher.execproc import _connect

        pidfd_sock = _connect(p["pidfd_socket"])

    from ocipy.launcher import execproc

    opened = execproc.open_container(c, plan)
    started = execproc.start(plan, opened, console_socket=console_socket, own_console=not detach)
    pid = started.pid
    if pid_file:
        try:
            st.write_atomic(pid_file, str(pid), 0o644)
        except OSError as e:
            raise ExecError(f"--pid-file {pid_file}: {posix.strerror(e.errno)}") from None
    if pidfd_sock >= 0:
        from ocipy.launcher.process import send_fd

        fd = posix.pidfd_open(pid)
        try:
            send_fd(pidfd_sock, fd, "pidfd")
        finally:
            posix.close(fd)
            posix.close(pidfd_sock)
    if detach:
        return 0
    if started.console >= 0:
        from ocipy.console import proxy

        try:
            proxy(started.console, pid)
        finally:
            posix.close(started.console)
    from ocipy.signals import wait_forwarding

    return wait_forwarding(pid)


def build_plan(c: st.Container, p: dict) -> ExecPlan:
    """The checked process: from --process, or config.json + flags."""
    from ocipy import log
    from ocipy.jsonlite import JSONError, loads

    bundle = c.state.get("bundle") or ""
    cfg_path = _join(bundle, "config.json")
    try:
        with open(cfg_path, "rb") as f:
            config = loads(f.read())
    except OSError as e:
        raise ExecError(f"{cfg_path}: {posix.strerror(e.errno)} (the container's bundle)") from None
    except JSONError as e:
        raise ExecError(f"{cfg_path}: invalid JSON: {e.msg}: line {e.lineno} column {e.colno}") from None
    if not isinstance(config, dict):
        raise ExecError(f"{cfg_path}: not a JSON object")
    linux = config.get("linux") or {}

    if p.get("process"):
        from ocipy.spec.load import read_json_file
        from ocipy.spec.validate import validate

        import os.path

        where = os.path.abspath(p["process"])
        proc = read_json_file(where, pipe_ok=True)
        validate(proc, where, model="Process")
        # conmon (Podman, CRI-O) passes --tty with a file whose "terminal" is
        # true: a flag that agrees with the file is not ignored, only redundant
        ignored = [flag for key, flag in _PROCESS_FLAGS if p.get(key)
                   and not (key == "tty" and proc.get("terminal") is True)]
        if ignored:
            log.warn(f"--process {where}: ignoring {', '.join(ignored)} (the process is the file's)")
        if not proc.get("args"):
            raise ExecError(f"{where}: args: must name the program to run")
        prefix = ""  # fields of the file itself: "args", "user.uid"...
    else:
        where = cfg_path
        prefix = "process."
        proc = dict(config.get("process") or {})
        args = p.get("command") or []
        if not args:
            raise ExecError("exec: a command is required (or --process FILE)")
        proc["args"] = list(args)
        proc["terminal"] = bool(p.get("tty"))
        proc.pop("consoleSize", None)
        _apply_flags(proc, p)
    # AppArmor / SELinux: --apparmor and --process-label override the
    # config's process (runc); with --process the file's fields rule
    aa_what, se_what = f"{where}: {prefix}apparmorProfile", f"{where}: {prefix}selinuxLabel"
    if not p.get("process"):
        if p.get("apparmor"):
            proc["apparmorProfile"], aa_what = p["apparmor"], "--apparmor"
        if p.get("process_label"):
            proc["selinuxLabel"], se_what = p["process_label"], "--process-label"

    from ocipy.spec import caps as capsmod
    from ocipy.spec import env as envmod
    from ocipy.spec import rlimits as rlmod

    x = ExecPlan()
    x.where = where
    x.field_prefix = prefix
    x.args = list(proc["args"])
    x.env = envmod.resolve_env(proc.get("env") or [], field=prefix + "env", filename=where)
    x.cwd = proc.get("cwd") or "/"
    # where a bad cwd came from, for the error line
    x.cwd_from = "--cwd" if p.get("cwd") and not p.get("process") else f"{where}: {prefix}cwd"
    if not x.cwd.startswith("/"):
        raise ExecError(f"{where}: {prefix}cwd: {x.cwd!r} must be an absolute path")
    user = proc.get("user") or {}
    x.uid, x.gid = user.get("uid", 0), user.get("gid", 0)
    x.gids = list(user.get("additionalGids") or [])
    x.unprivileged = posix.geteuid() != 0
    x.umask = user.get("umask", 0o022)
    x.last_cap = capsmod.read_last_cap()
    x.caps = capsmod.grantable_caps(proc.get("capabilities") or {}, x.last_cap, where, prefix)
    rls = proc.get("rlimits") or []
    x.rlimits = [(rl["type"], num, soft, hard)
                 for rl, (num, soft, hard) in zip(rls, rlmod.parse_rlimits(rls, prefix + "rlimits", where))]
    x.nnp = bool(proc.get("noNewPrivileges"))
    x.oom = proc.get("oomScoreAdj")
    if x.oom is None:
        x.oom = (config.get("process") or {}).get("oomScoreAdj")
    x.terminal = bool(proc.get("terminal"))
    cs = proc.get("consoleSize")
    x.console_size = (cs.get("height", 0), cs.get("width", 0)) if cs else None
    x.sched = x.ioprio = x.personality = None
    if proc.get("scheduler") or proc.get("ioPriority") or linux.get("personality"):
        from ocipy.launcher import plan as planmod

        x.sched = planmod.scheduler(proc.get("scheduler"), where)
        x.ioprio = planmod.ioprio(proc.get("ioPriority"), where)
        x.personality = planmod.personality(linux.get("personality"), cfg_path)
    x.mempolicy = _memory_policy(linux, cfg_path)
    x.cpu_affinity = None
    if proc.get("execCPUAffinity"):
        from ocipy.launcher.plan import exec_cpu_affinity

        masks = exec_cpu_affinity(proc["execCPUAffinity"], where, prefix)
        x.cpu_affinity = (masks, f"{where}: {prefix}") if masks else None
    x.lsm = []
    if proc.get("apparmorProfile") or proc.get("selinuxLabel"):
        from ocipy.launcher import lsm

        x.lsm = lsm.check(proc.get("apparmorProfile"), aa_what, proc.get("selinuxLabel"), se_what)
    x.preserve_fds = p.get("preserve_fds") or 0
    if x.preserve_fds < 0:
        raise ExecError(f"--preserve-fds {x.preserve_fds}: must be >= 0")
    x.cgroup_dirs = _cgroup_dirs(c, p.get("cgroup") or [])
    x.seccomp = None
    if c.state.get("seccomp"):  # the container's filter applies to exec'd processes too (runc)
        from ocipy import seccomp

        x.seccomp = seccomp.from_state(c.dir, c.state["seccomp"], cfg_path)
        if x.seccomp.notify:
            from ocipy.seccomp.notify import container_state

            x.seccomp.state = container_state(c.state, c.status(), c.pid)
    return x


def _memory_policy(linux: dict, cfg_path: str):
    """linux.memoryPolicy of the container applies to its exec'd processes
    too (runc's setns init sets it as its standard init does)."""
    if not linux.get("memoryPolicy"):
        return None
    from ocipy.launcher.plan import memory_policy

    return memory_policy(linux["memoryPolicy"], cfg_path)


def _apply_flags(proc: dict, p: dict) -> None:
    """runc's exec flags over the config's process (runc: getProcess)."""
    env = p.get("env") or []
    for kv in env:
        if "=" not in kv or kv.startswith("="):
            raise ExecError(f"--env {kv!r}: must be NAME=VALUE")
    if env:
        proc["env"] = list(proc.get("env") or []) + list(env)
    if p.get("cwd"):
        if not p["cwd"].startswith("/"):
            raise ExecError(f"--cwd {p['cwd']!r}: must be an absolute path")
        proc["cwd"] = p["cwd"]
    if p.get("no_new_privs"):
        proc["noNewPrivileges"] = True
    user = dict(proc.get("user") or {})
    if p.get("user"):
        parts = p["user"].split(":")
        if len(parts) > 2 or not all(s.isdigit() for s in parts):
            raise ExecError(f"--user {p['user']!r}: must be <uid>[:<gid>] (numbers)")
        user["uid"] = int(parts[0])
        user["gid"] = int(parts[1]) if len(parts) == 2 else 0  # runc: gid 0 unless given
        if user["uid"] > 0xFFFFFFFE or user["gid"] > 0xFFFFFFFE:
            raise ExecError(f"--user {p['user']!r}: id out of range")
    gids = p.get("additional_gids") or []
    for gid in gids:
        if not 0 <= gid <= 0xFFFFFFFE:
            raise ExecError(f"--additional-gids {gid}: must be a gid (0..4294967294)")
    if gids:
        user["additionalGids"] = list(user.get("additionalGids") or []) + list(gids)
    proc["user"] = user
    add = p.get("cap") or []
    if add:
        from ocipy.spec import caps as capsmod

        names = []
        for name in add:
            n = name.upper()
            if not n.startswith("CAP_"):
                n = "CAP_" + n
            if capsmod.cap_number(n) is None:
                raise ExecError(f"--cap {name}: unknown capability")
            names.append(n)
        base = proc.get("capabilities") or {}
        # runc: bounding, effective, permitted; ambient only when the
        # config has an inheritable set (ambient needs inheritable)
        sets = ("bounding", "effective", "permitted") + (("ambient",) if base.get("inheritable") is not None else ())
        proc["capabilities"] = capsmod.merge(base, names, sets=sets)


def state_dirs(s: dict):
    """Manager.dirs() of the manager `s` (its to_state()) describes, read
    straight from the record: importing ocipy.cgroups costs ~1.7 ms, a
    third of what exec may add to the interpreter's start-up.
    tests/integration/test_exec.py proves it equal to from_state(s).dirs().
    None for a record this does not know (then the manager is asked)."""
    mode = s.get("mode")
    if mode == "v2" and isinstance(s.get("unified"), str):
        return [s["unified"]]
    if mode in ("v1", "hybrid") and isinstance(s.get("paths"), dict):
        out = list(dict.fromkeys(s["paths"].values()))
        if s.get("unified"):
            out.append(s["unified"])
        return out
    return None


def _cgroup_dirs(c: st.Container, subs: list) -> list:
    """The container's cgroup directories (state.json), or with --cgroup
    [<controller>:]<path> the existing sub-cgroups below them."""
    s = c.state.get("cgroup")
    if not s:
        if subs:
            raise ExecError(f'--cgroup: container "{c.id}" has no cgroup')
        return []
    if not subs:
        dirs = state_dirs(s)
        if dirs is not None:
            return dirs
    from ocipy.cgroups import from_state

    mgr = from_state(s)
    dirs = mgr.dirs()
    if not subs:
        return dirs
    by_ctrl = dict(getattr(mgr, "paths", None) or {})
    unified = getattr(mgr, "unified", None) or getattr(mgr, "dir", None)
    import os.path

    chosen = {d: d for d in dirs}
    for spec in subs:
        ctrl, _, sub = spec.rpartition(":")
        norm = os.path.normpath(sub) if sub else ""
        if not sub or sub.startswith("/") or norm == ".." or norm.startswith("../"):
            raise ExecError(f"--cgroup {spec!r}: must be [<controller>:]<relative path below the container's cgroup>")
        if ctrl:
            targets = []
            for name in ctrl.split(","):
                d = by_ctrl.get(name) or (unified if not by_ctrl or name not in by_ctrl and unified else None)
                if not d:
                    raise ExecError(f"--cgroup {spec!r}: the container has no {name} cgroup")
                targets.append(d)
        else:
            targets = dirs
        for d in targets:
            path = os.path.join(d, norm)
            if not os.path.isdir(path):
                raise ExecError(f"--cgroup {spec!r}: {path}: no such cgroup (it must exist)")
            chosen[d] = path
    return list(chosen.values())
