"""Composable spec options: build a config.json from Python, checked as `create` checks it.

For Python programs that embed ocipy and build container configs (containerd's
``oci.SpecOpts`` / ``oci.GenerateSpec``, in our own style); the CLI never imports
this module. A SpecOpt is a callable that modifies a config dict in place and
does nothing else (no I/O, no global state). Every option below is a function
that checks its own arguments at once (OptionError, a ValueError, one line
naming the option) and returns a SpecOpt; `generate` applies them in order to
a fresh `default_spec()` and validates the result as ``ocipy create`` does
(`validate`, then `check_rules`, then root.path, as spec.load), raising the
same one-line error naming the field (a SpecError, or the ConfigError of
env/rlimits checks):

    from ocipy.spec import opts
    cfg = opts.generate(opts.set_args("sleep", "60"), opts.set_env("A=1"),
                        opts.add_mount("/data", "/srv/data", "bind", ["rbind", "ro"]),
                        opts.set_memory_limit(64 << 20), opts.host_network(),
                        opts.add_capabilities("net_admin"))

`apply(cfg, *opts)` does the same to an existing config (in place) and
`compose(*opts)` makes one SpecOpt of several. Options never share an object
with the config they fill (every list or dict they insert is a fresh copy), so
one option can build any number of configs.

What `generate` cannot check is what depends on the host, which `create`
checks in launcher.plan: namespace paths, sysctls against the namespaces,
hostname without a UTS namespace, user namespace without mappings...
"""
from collections.abc import Callable

from ocipy.errors import ConfigError
from ocipy.pathlite import normpath as _normpath
from ocipy.spec import caps as _caps
from ocipy.spec import env as _env
from ocipy.spec import rlimits as _rlimits
from ocipy.spec._table import MODELS as _MODELS
from ocipy.spec.defaults import default_spec
from ocipy.spec.validate import HOOK_KINDS, SpecError, check_rules, show, validate

__all__ = [
    "SpecOpt", "OptionError", "generate", "apply", "compose",
    "set_args", "set_env", "unset_env", "set_cwd", "set_user", "set_terminal",
    "set_hostname", "set_domainname", "set_rootfs", "set_readonly_rootfs",
    "add_mount", "remove_mount", "add_tmpfs",
    "set_namespace", "remove_namespace", "host_network", "set_user_namespace",
    "set_capabilities", "add_capabilities", "drop_capabilities", "set_no_new_privileges",
    "set_rlimit", "add_annotations", "add_hook",
    "set_memory_limit", "set_pids_limit", "set_cpu_shares", "set_cpu_quota", "set_cpuset",
    "set_cgroups_path", "set_sysctl", "add_masked_paths", "add_readonly_paths",
    "set_seccomp", "set_oom_score_adj", "add_device",
]

SpecOpt = Callable[[dict], None]
"""A callable that modifies a config dict in place (and does nothing else)."""

NAMESPACE_TYPES = dict((n, t) for n, t, _ in _MODELS["Namespace"])["type"][1]
_MAX_ID = 0xFFFFFFFE  # uid/gid: uint32, but (uid_t)-1 means "unchanged" to the kernel
_INT64 = (-(2**63), 2**63 - 1)
_UINT32_MAX = 2**32 - 1


class OptionError(ConfigError, ValueError):
    """A bad argument to a spec option: one line, ``<option>: <what>``."""


# ---------------------------------------------------------------------------
# Applying.


def _check(cfg: dict, filename: str) -> None:
    """What spec.load.load_bundle checks, in its order, minus the file system."""
    validate(cfg, filename)
    check_rules(cfg, filename)
    if not cfg["root"]["path"]:  # load.resolve_rootfs's first check
        raise SpecError(filename, ("root", "path"), "must not be empty")


def _run(cfg: dict, opts: tuple, where: str) -> None:
    for i, opt in enumerate(opts):
        if not callable(opt):
            raise OptionError(f"{where}: option {i} is not callable (got {type(opt).__name__})")
        opt(cfg)


def generate(*opts: SpecOpt, rootless: bool = False, filename: str = "config.json") -> dict:
    """A fresh default_spec(rootless) with `opts` applied in order, validated as
    create validates it: otherwise the error create would give, ``<filename>: <field>: <why>``."""
    cfg = default_spec(rootless)
    _run(cfg, opts, "generate")
    _check(cfg, filename)
    return cfg


def apply(cfg: dict, *opts: SpecOpt, filename: str = "config.json") -> dict:
    """Apply `opts` to `cfg` in place, in order, validate it as generate() does,
    and return it. On an error, `cfg` holds the rejected result."""
    _run(cfg, opts, "apply")
    _check(cfg, filename)
    return cfg


def compose(*opts: SpecOpt) -> SpecOpt:
    """One SpecOpt applying `opts` in order (no validation: generate/apply do it)."""
    opts = tuple(opts)
    for i, opt in enumerate(opts):
        if not callable(opt):
            raise OptionError(f"compose: option {i} is not callable (got {type(opt).__name__})")

    def opt(cfg: dict) -> None:
        for o in opts:
            o(cfg)

    return opt


# ---------------------------------------------------------------------------
# Argument checks and helpers.


def _show(v) -> str:
    """validate.show, a tuple shown as the array it becomes."""
    return show(list(v) if isinstance(v, tuple) else v)


def _fail(fn: str, msg: str):
    raise OptionError(f"{fn}: {msg}")


def _clone(v):
    """A deep copy of a JSON-like value (tuples become lists)."""
    if isinstance(v, dict):
        return {k: _clone(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clone(x) for x in v]
    return v


def _str(fn: str, name: str, v, empty_ok: bool = False) -> str:
    if not isinstance(v, str):
        _fail(fn, f"{name} must be a string (got {_show(v)})")
    if not v and not empty_ok:
        _fail(fn, f"{name} must not be empty")
    if "\x00" in v:
        _fail(fn, f"{name} must not contain a NUL byte")
    return v


def _abs(fn: str, name: str, v) -> str:
    _str(fn, name, v)
    if not v.startswith("/"):
        _fail(fn, f"{name} must be an absolute path (got {_show(v)})")
    return v


def _strs(fn: str, name: str, v, empty_ok: bool = True) -> list:
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
        _fail(fn, f"{name} must be a list of strings (got {_show(v)})")
    return [_str(fn, f"{name}[{i}]", x, empty_ok=empty_ok) for i, x in enumerate(v)]


def _int(fn: str, name: str, v, lo: int | None = None, hi: int | None = None) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        _fail(fn, f"{name} must be an integer (got {_show(v)})")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        _fail(fn, f"{name} must be between {lo} and {hi} (got {v})")
    return v


def _limit(fn: str, name: str, v) -> int:
    """A positive limit, or -1 for unlimited (as runc reads linux.resources)."""
    _int(fn, name, v)
    if v != -1 and not 0 < v <= _INT64[1]:
        _fail(fn, f"{name} must be a positive integer or -1 for unlimited (got {v})")
    return v


def _process(cfg: dict) -> dict:
    return cfg.setdefault("process", {})


def _linux(cfg: dict) -> dict:
    return cfg.setdefault("linux", {})


def _resources(cfg: dict) -> dict:
    return _linux(cfg).setdefault("resources", {})


# ---------------------------------------------------------------------------
# Process.


def set_args(*args: str) -> SpecOpt:
    """process.args: the program and its arguments (at least the program)."""
    if not args:
        _fail("set_args", "needs at least the program to run")
    args = _strs("set_args", "args", args)
    if not args[0]:
        _fail("set_args", "args[0] must not be empty")

    def opt(cfg: dict) -> None:
        _process(cfg)["args"] = list(args)

    return opt


def _env_entries(fn: str, entries: tuple) -> list:
    entries = _strs(fn, "env", entries)
    try:
        _env.resolve_env(entries, "env", fn)
    except ConfigError as e:
        raise OptionError(str(e)) from None
    return entries


def set_env(*entries: str) -> SpecOpt:
    """process.env: set NAME=VALUE entries; a name already set is replaced where it is."""
    entries = _env_entries("set_env", entries)

    def opt(cfg: dict) -> None:
        proc = _process(cfg)
        # runc's reading of duplicates (env.resolve_env): the last one wins;
        # once de-duplicated, a name has one entry to replace in place.
        env = _env.resolve_env(proc.get("env") or [])
        at = {kv[: kv.index("=")]: i for i, kv in enumerate(env)}
        for kv in entries:
            name = kv[: kv.index("=")]
            if name in at:
                env[at[name]] = kv
            else:
                at[name] = len(env)
                env.append(kv)
        proc["env"] = env

    return opt


def unset_env(*names: str) -> SpecOpt:
    """process.env: remove every entry of each name."""
    names = _strs("unset_env", "names", names, empty_ok=False)
    for n in names:
        if "=" in n:
            _fail("unset_env", f"{_show(n)} is a name, not NAME=VALUE")

    def opt(cfg: dict) -> None:
        proc = _process(cfg)
        if "env" in proc:
            gone = set(names)
            proc["env"] = [kv for kv in proc["env"] if kv.partition("=")[0] not in gone]

    return opt


def set_cwd(path: str) -> SpecOpt:
    """process.cwd: the working directory (absolute, in the container)."""
    _abs("set_cwd", "path", path)

    def opt(cfg: dict) -> None:
        _process(cfg)["cwd"] = path

    return opt


def set_user(uid: int, gid: int, additional_gids=()) -> SpecOpt:
    """process.user: uid, gid and exactly these additional gids (umask kept)."""
    _int("set_user", "uid", uid, 0, _MAX_ID)
    _int("set_user", "gid", gid, 0, _MAX_ID)
    if isinstance(additional_gids, (str, bytes)) or not isinstance(additional_gids, (list, tuple)):
        _fail("set_user", f"additional_gids must be a list of gids (got {_show(additional_gids)})")
    gids = [_int("set_user", f"additional_gids[{i}]", g, 0, _MAX_ID) for i, g in enumerate(additional_gids)]

    def opt(cfg: dict) -> None:
        proc = _process(cfg)
        user = dict(proc.get("user") or {})
        user["uid"], user["gid"] = uid, gid
        if gids:
            user["additionalGids"] = list(gids)
        else:
            user.pop("additionalGids", None)
        proc["user"] = user

    return opt


def _bool(fn: str, name: str, v) -> bool:
    if v is not True and v is not False:
        _fail(fn, f"{name} must be True or False (got {_show(v)})")
    return v


def set_terminal(on: bool = True) -> SpecOpt:
    """process.terminal: give the process a pseudo-terminal (or not)."""
    _bool("set_terminal", "on", on)

    def opt(cfg: dict) -> None:
        _process(cfg)["terminal"] = on

    return opt


def set_no_new_privileges(on: bool = True) -> SpecOpt:
    """process.noNewPrivileges: no privilege gain through execve (setuid, file caps)."""
    _bool("set_no_new_privileges", "on", on)

    def opt(cfg: dict) -> None:
        _process(cfg)["noNewPrivileges"] = on

    return opt


def set_oom_score_adj(score: int) -> SpecOpt:
    """process.oomScoreAdj: the OOM killer's adjustment, -1000..1000."""
    _int("set_oom_score_adj", "score", score, -1000, 1000)

    def opt(cfg: dict) -> None:
        _process(cfg)["oomScoreAdj"] = score

    return opt


def set_rlimit(kind: str, soft: int, hard: int | None = None) -> SpecOpt:
    """process.rlimits: set one limit ("NOFILE" or "RLIMIT_NOFILE"), replacing one of that type."""
    fn = "set_rlimit"
    _str(fn, "kind", kind)
    name = kind.upper()
    if not name.startswith("RLIMIT_"):
        name = "RLIMIT_" + name
    if _rlimits.rlimit_number(name) is None:
        _fail(fn, f"unknown resource {_show(kind)}")
    _int(fn, "soft", soft, 0, _rlimits.RLIM_INFINITY)
    hard = soft if hard is None else _int(fn, "hard", hard, 0, _rlimits.RLIM_INFINITY)
    if soft > hard:
        _fail(fn, f"soft limit {soft} is above hard limit {hard}")

    def opt(cfg: dict) -> None:
        proc = _process(cfg)
        rls = list(proc.get("rlimits") or [])
        entry = {"type": name, "hard": hard, "soft": soft}
        for i, rl in enumerate(rls):
            if rl.get("type") == name:
                rls[i] = entry
                break
        else:
            rls.append(entry)
        proc["rlimits"] = rls

    return opt


# ---------------------------------------------------------------------------
# Capabilities.

_DEFAULT_ADD_SETS = ("bounding", "effective", "permitted")


def _cap_names(fn: str, names: tuple) -> list:
    out: list[str] = []
    for name in _strs(fn, "capabilities", names, empty_ok=False):
        n = name.upper()
        if not n.startswith("CAP_"):
            n = "CAP_" + n
        if _caps.cap_number(n) is None:
            _fail(fn, f"unknown capability {_show(name)}")
        if n not in out:
            out.append(n)
    return out


def set_capabilities(*names: str, ambient: bool = False) -> SpecOpt:
    """process.capabilities: exactly `names` in bounding/effective/permitted (+ inheritable/ambient with `ambient`)."""
    fn = "set_capabilities"
    names = _cap_names(fn, names)
    _bool(fn, "ambient", ambient)

    def opt(cfg: dict) -> None:
        caps = {s: list(names) for s in _DEFAULT_ADD_SETS}
        if ambient:
            caps["inheritable"] = list(names)
            caps["ambient"] = list(names)
        _process(cfg)["capabilities"] = {s: caps[s] for s in _caps.SETS if s in caps}

    return opt


def add_capabilities(*names: str) -> SpecOpt:
    """process.capabilities: add `names` to bounding/effective/permitted (+ ambient if inheritable is set), as exec --cap."""
    names = _cap_names("add_capabilities", names)

    def opt(cfg: dict) -> None:
        proc = _process(cfg)
        base = proc.get("capabilities") or {}
        sets = _DEFAULT_ADD_SETS + (("ambient",) if base.get("inheritable") is not None else ())
        proc["capabilities"] = _caps.merge(base, names, sets=sets)

    return opt


def drop_capabilities(*names: str) -> SpecOpt:
    """process.capabilities: remove `names` from all five sets."""
    names = _cap_names("drop_capabilities", names)

    def opt(cfg: dict) -> None:
        proc = _process(cfg)
        proc["capabilities"] = _caps.merge(proc.get("capabilities") or {}, drop=names)

    return opt


# ---------------------------------------------------------------------------
# Root, hostname, mounts.


def set_rootfs(path: str, readonly: bool | None = None) -> SpecOpt:
    """root.path (relative to the bundle, or absolute) and, unless None, root.readonly."""
    _str("set_rootfs", "path", path)
    if readonly is not None:
        _bool("set_rootfs", "readonly", readonly)

    def opt(cfg: dict) -> None:
        root = dict(cfg.get("root") or {})
        root["path"] = path
        if readonly is not None:
            root["readonly"] = readonly
        cfg["root"] = root

    return opt


def set_readonly_rootfs(readonly: bool = True) -> SpecOpt:
    """root.readonly: mount the root filesystem read-only (or not)."""
    _bool("set_readonly_rootfs", "readonly", readonly)

    def opt(cfg: dict) -> None:
        cfg.setdefault("root", {})["readonly"] = readonly

    return opt


_HOST_NAME_MAX = 64  # HOST_NAME_MAX, and __NEW_UTS_LEN for the domain name


def _uts_name(fn: str, name: str, v) -> str:
    _str(fn, name, v)
    if len(v.encode()) > _HOST_NAME_MAX:
        _fail(fn, f"{name} must be at most {_HOST_NAME_MAX} bytes (got {len(v.encode())})")
    return v


def set_hostname(hostname: str, domainname: str | None = None) -> SpecOpt:
    """hostname (and, unless None, domainname) of the container's UTS namespace."""
    _uts_name("set_hostname", "hostname", hostname)
    if domainname is not None:
        _uts_name("set_hostname", "domainname", domainname)

    def opt(cfg: dict) -> None:
        cfg["hostname"] = hostname
        if domainname is not None:
            cfg["domainname"] = domainname

    return opt


def set_domainname(domainname: str) -> SpecOpt:
    """domainname (NIS domain) of the container's UTS namespace."""
    _uts_name("set_domainname", "domainname", domainname)

    def opt(cfg: dict) -> None:
        cfg["domainname"] = domainname

    return opt


def _dest_key(dest: str) -> str:
    """A mount destination as create reads it (a legacy relative one is under /)."""
    return _normpath(dest if dest.startswith("/") else "/" + dest)


def add_mount(destination: str, source: str | None = None, type: str | None = None,
              options=None) -> SpecOpt:
    """mounts: a mount at `destination`, replacing the one(s) already there in place, else appended."""
    fn = "add_mount"
    _abs(fn, "destination", destination)
    mount = {"destination": destination}
    if type is not None:
        mount["type"] = _str(fn, "type", type)
    if source is not None:
        mount["source"] = _str(fn, "source", source)
    if options is not None:
        mount["options"] = _strs(fn, "options", options, empty_ok=False)
    key = _dest_key(destination)

    def opt(cfg: dict) -> None:
        out, placed = [], False
        for m in cfg.get("mounts") or []:
            if _dest_key(m.get("destination") or "") == key:
                if placed:
                    continue
                m, placed = _clone(mount), True
            out.append(m)
        if not placed:
            out.append(_clone(mount))
        cfg["mounts"] = out

    return opt


def add_tmpfs(destination: str, options=("nosuid", "nodev", "noexec"), size: int | None = None,
              mode: int | None = None) -> SpecOpt:
    """mounts: a tmpfs at `destination` (size in bytes and mode as tmpfs options if given)."""
    fn = "add_tmpfs"
    _abs(fn, "destination", destination)
    opts = _strs(fn, "options", options, empty_ok=False)
    if size is not None:
        opts.append(f"size={_int(fn, 'size', size, 1, _INT64[1])}")
    if mode is not None:
        opts.append(f"mode={_int(fn, 'mode', mode, 0, 0o7777):o}")
    return add_mount(destination, "tmpfs", "tmpfs", opts)


def remove_mount(destination: str) -> SpecOpt:
    """mounts: remove every mount at `destination` (nothing there: no change)."""
    _abs("remove_mount", "destination", destination)
    key = _dest_key(destination)

    def opt(cfg: dict) -> None:
        if "mounts" in cfg:
            cfg["mounts"] = [m for m in cfg["mounts"] if _dest_key(m.get("destination") or "") != key]

    return opt


def _add_paths(field: str, fn: str, paths: tuple) -> SpecOpt:
    paths = [_abs(fn, f"paths[{i}]", p) for i, p in enumerate(paths)]

    def opt(cfg: dict) -> None:
        linux = _linux(cfg)
        cur = list(linux.get(field) or [])
        for p in paths:
            if p not in cur:
                cur.append(p)
        linux[field] = cur

    return opt


def add_masked_paths(*paths: str) -> SpecOpt:
    """linux.maskedPaths: add absolute paths (hidden in the container), skipping those present."""
    return _add_paths("maskedPaths", "add_masked_paths", paths)


def add_readonly_paths(*paths: str) -> SpecOpt:
    """linux.readonlyPaths: add absolute paths (read-only in the container), skipping those present."""
    return _add_paths("readonlyPaths", "add_readonly_paths", paths)


# ---------------------------------------------------------------------------
# Namespaces.


def _ns_type(fn: str, ns_type) -> str:
    if ns_type not in NAMESPACE_TYPES:
        _fail(fn, f"unknown namespace type {_show(ns_type)} (one of {', '.join(NAMESPACE_TYPES)})")
    return ns_type


def set_namespace(ns_type: str, path: str | None = None) -> SpecOpt:
    """linux.namespaces: a new `ns_type` namespace, or the one at `path` to join (that type's entry replaced in place)."""
    fn = "set_namespace"
    _ns_type(fn, ns_type)
    entry = {"type": ns_type}
    if path is not None:
        entry["path"] = _abs(fn, "path", path)

    def opt(cfg: dict) -> None:
        linux = _linux(cfg)
        out, placed = [], False
        for ns in linux.get("namespaces") or []:
            if ns.get("type") == ns_type:
                if placed:
                    continue
                ns, placed = dict(entry), True
            out.append(ns)
        if not placed:
            out.append(dict(entry))
        linux["namespaces"] = out

    return opt


def remove_namespace(ns_type: str) -> SpecOpt:
    """linux.namespaces: share the runtime's `ns_type` namespace ("user" drops the id mappings; "mount" is refused)."""
    fn = "remove_namespace"
    _ns_type(fn, ns_type)
    if ns_type == "mount":
        _fail(fn, 'ocipy create needs a mount namespace: "mount" cannot be removed')

    def opt(cfg: dict) -> None:
        linux = _linux(cfg)
        if "namespaces" in linux:
            linux["namespaces"] = [ns for ns in linux["namespaces"] if ns.get("type") != ns_type]
        if ns_type == "user":
            linux.pop("uidMappings", None)
            linux.pop("gidMappings", None)

    return opt


def host_network() -> SpecOpt:
    """Host networking: remove the network namespace."""
    return remove_namespace("network")


def _mappings(fn: str, name: str, maps) -> list:
    if isinstance(maps, (str, bytes, dict)) or not isinstance(maps, (list, tuple)) or not maps:
        _fail(fn, f"{name} must be a non-empty list of (containerID, hostID, size) (got {_show(maps)})")
    out = []
    for i, m in enumerate(maps):
        if isinstance(m, dict):
            unknown = set(m) - {"containerID", "hostID", "size"}
            if unknown or len(m) != 3:
                _fail(fn, f"{name}[{i}] must have exactly containerID, hostID and size")
            m = (m["containerID"], m["hostID"], m["size"])
        elif not isinstance(m, (list, tuple)) or len(m) != 3:
            _fail(fn, f"{name}[{i}] must be (containerID, hostID, size) (got {_show(m)})")
        c = _int(fn, f"{name}[{i}] containerID", m[0], 0, _UINT32_MAX)
        h = _int(fn, f"{name}[{i}] hostID", m[1], 0, _UINT32_MAX)
        s = _int(fn, f"{name}[{i}] size", m[2], 1, _UINT32_MAX)
        out.append({"containerID": c, "hostID": h, "size": s})
    return out


def set_user_namespace(uid_mappings, gid_mappings) -> SpecOpt:
    """A new user namespace with these uid/gid mappings: lists of (containerID, hostID, size) tuples or such dicts."""
    uids = _mappings("set_user_namespace", "uid_mappings", uid_mappings)
    gids = _mappings("set_user_namespace", "gid_mappings", gid_mappings)
    new_ns = set_namespace("user")

    def opt(cfg: dict) -> None:
        new_ns(cfg)
        linux = _linux(cfg)
        linux["uidMappings"] = _clone(uids)
        linux["gidMappings"] = _clone(gids)

    return opt


# ---------------------------------------------------------------------------
# Annotations, hooks.


def add_annotations(annotations: dict) -> SpecOpt:
    """annotations: merge these string keys (non-empty) and values."""
    fn = "add_annotations"
    if not isinstance(annotations, dict):
        _fail(fn, f"annotations must be a dict (got {_show(annotations)})")
    for k, v in annotations.items():
        _str(fn, "a key", k)
        if not isinstance(v, str):
            _fail(fn, f"annotation {_show(k)} must be a string (got {_show(v)})")
    items = dict(annotations)

    def opt(cfg: dict) -> None:
        ann = dict(cfg.get("annotations") or {})
        ann.update(items)
        cfg["annotations"] = ann

    return opt


def add_hook(kind: str, path: str, args=None, env=None, timeout: int | None = None) -> SpecOpt:
    """hooks.<kind>: append a hook (kind: one of validate.HOOK_KINDS; prestart is deprecated but honoured)."""
    fn = "add_hook"
    if kind not in HOOK_KINDS:
        _fail(fn, f"unknown hook kind {_show(kind)} (one of {', '.join(HOOK_KINDS)})")
    hook = {"path": _abs(fn, "path", path)}
    if args is not None:
        hook["args"] = _strs(fn, "args", args)
    if env is not None:
        hook["env"] = _env_entries(fn, tuple(_strs(fn, "env", env)))
    if timeout is not None:
        hook["timeout"] = _int(fn, "timeout", timeout, 1, _INT64[1])

    def opt(cfg: dict) -> None:
        hooks = dict(cfg.get("hooks") or {})
        hooks[kind] = [*(hooks.get(kind) or []), _clone(hook)]
        cfg["hooks"] = hooks

    return opt


# ---------------------------------------------------------------------------
# Resources, cgroups, sysctl, seccomp, devices.


def set_memory_limit(limit: int, swap: int | None = None) -> SpecOpt:
    """linux.resources.memory: limit and swap (memory+swap, >= limit; None: unset) in bytes, -1 for unlimited."""
    fn = "set_memory_limit"
    _limit(fn, "limit", limit)
    if swap is not None:
        _limit(fn, "swap", swap)
        if swap != -1 and (limit == -1 or swap < limit):
            _fail(fn, f"swap (memory+swap) must be at least the limit or -1 (got {swap} with limit {limit})")

    def opt(cfg: dict) -> None:
        res = _resources(cfg)
        mem = dict(res.get("memory") or {})
        mem["limit"] = limit
        if swap is None:
            mem.pop("swap", None)
        else:
            mem["swap"] = swap
        res["memory"] = mem

    return opt


def set_pids_limit(limit: int) -> SpecOpt:
    """linux.resources.pids.limit: the most tasks in the cgroup (-1: unlimited)."""
    _limit("set_pids_limit", "limit", limit)

    def opt(cfg: dict) -> None:
        _resources(cfg)["pids"] = {"limit": limit}

    return opt


def _cpu(cfg: dict) -> dict:
    res = _resources(cfg)
    cpu = res["cpu"] = dict(res.get("cpu") or {})
    return cpu


def set_cpu_shares(shares: int) -> SpecOpt:
    """linux.resources.cpu.shares: relative CPU weight, 2..262144 (cgroup v1's range; 1024 is the default)."""
    _int("set_cpu_shares", "shares", shares, 2, 262144)

    def opt(cfg: dict) -> None:
        _cpu(cfg)["shares"] = shares

    return opt


def set_cpu_quota(quota: int, period: int = 100000) -> SpecOpt:
    """linux.resources.cpu.quota/period: `quota` µs of CPU per `period` µs (quota -1: unlimited)."""
    fn = "set_cpu_quota"
    _int(fn, "quota", quota)
    if quota != -1 and not 1000 <= quota <= _INT64[1]:
        _fail(fn, f"quota must be at least 1000 (µs) or -1 for unlimited (got {quota})")
    _int(fn, "period", period, 1000, 1000000)

    def opt(cfg: dict) -> None:
        cpu = _cpu(cfg)
        cpu["quota"], cpu["period"] = quota, period

    return opt


def _cpu_list(fn: str, name: str, text) -> str:
    """A cpuset list like "0-3,7": numbers and ascending ranges, comma-separated."""
    _str(fn, name, text)
    for item in text.split(","):
        lo, dash, hi = item.partition("-")
        if not (lo.isascii() and lo.isdigit()) or (dash and not (hi.isascii() and hi.isdigit())) \
                or (dash and int(lo) > int(hi)):
            _fail(fn, f"{name}: invalid list {_show(text)} (numbers and ranges, e.g. \"0-3,7\")")
    return text


def set_cpuset(cpus: str, mems: str | None = None) -> SpecOpt:
    """linux.resources.cpu.cpus (and, unless None, mems): e.g. "0-3,7"."""
    _cpu_list("set_cpuset", "cpus", cpus)
    if mems is not None:
        _cpu_list("set_cpuset", "mems", mems)

    def opt(cfg: dict) -> None:
        cpu = _cpu(cfg)
        cpu["cpus"] = cpus
        if mems is not None:
            cpu["mems"] = mems

    return opt


def set_cgroups_path(path: str) -> SpecOpt:
    """linux.cgroupsPath: the container's cgroup (a path, or "slice:prefix:name" with systemd)."""
    _str("set_cgroups_path", "path", path)

    def opt(cfg: dict) -> None:
        _linux(cfg)["cgroupsPath"] = path

    return opt


def set_sysctl(key: str, value) -> SpecOpt:
    """linux.sysctl: set one namespaced kernel parameter ("net.ipv4.ip_forward", "1")."""
    fn = "set_sysctl"
    _str(fn, "key", key)
    if key.startswith(("/", ".")) or key.endswith(("/", ".")) or ".." in key.replace("/", "."):
        _fail(fn, f"invalid key {_show(key)}")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    _str(fn, "value", value, empty_ok=True)

    def opt(cfg: dict) -> None:
        linux = _linux(cfg)
        linux["sysctl"] = {**(linux.get("sysctl") or {}), key: value}

    return opt


def set_seccomp(profile: dict | None) -> SpecOpt:
    """linux.seccomp: this profile (a dict, checked as config.json's), or none with None."""
    fn = "set_seccomp"
    if profile is not None:
        if not isinstance(profile, dict):
            _fail(fn, f"profile must be a dict (got {_show(profile)})")
        profile = _clone(profile)
        try:
            validate(profile, fn, model="Seccomp")
        except SpecError as e:
            raise OptionError(f"{fn}: profile.{e.path}: {e.reason}" if e.path else f"{fn}: {e.reason}") from None

    def opt(cfg: dict) -> None:
        linux = _linux(cfg)
        if profile is None:
            linux.pop("seccomp", None)
        else:
            linux["seccomp"] = _clone(profile)

    return opt


def add_device(path: str, dev_type: str, major: int | None = None, minor: int | None = None,
               file_mode: int | None = None, uid: int | None = None, gid: int | None = None,
               access: str = "rwm") -> SpecOpt:
    """linux.devices: a device node (replacing one at `path`) plus its allow rule in linux.resources.devices."""
    fn = "add_device"
    _abs(fn, "path", path)
    if dev_type not in ("c", "b", "u", "p"):
        _fail(fn, f'dev_type must be "c", "b", "u" or "p" (got {_show(dev_type)})')
    dev = {"path": path, "type": dev_type}
    for name, v in (("major", major), ("minor", minor)):
        if v is None:
            if dev_type != "p":
                _fail(fn, f"{name} is required for a device of type {_show(dev_type)}")
        else:
            dev[name] = _int(fn, name, v, 0, _INT64[1])
    if file_mode is not None:
        dev["fileMode"] = _int(fn, "file_mode", file_mode, 0, 0o7777)
    if uid is not None:
        dev["uid"] = _int(fn, "uid", uid, 0, _MAX_ID)
    if gid is not None:
        dev["gid"] = _int(fn, "gid", gid, 0, _MAX_ID)
    _str(fn, "access", access)
    if not set(access) <= set("rwm") or len(set(access)) != len(access):
        _fail(fn, f"access must be letters of \"rwm\", each once (got {_show(access)})")
    rule = None
    if dev_type != "p":
        rule = {"allow": True, "type": "c" if dev_type == "u" else dev_type,
                "major": major, "minor": minor, "access": access}

    def opt(cfg: dict) -> None:
        linux = _linux(cfg)
        devs, placed = [], False
        for d in linux.get("devices") or []:
            if d.get("path") == path:
                if placed:
                    continue
                d, placed = dict(dev), True
            devs.append(d)
        if not placed:
            devs.append(dict(dev))
        linux["devices"] = devs
        if rule is not None:
            res = _resources(cfg)
            # last, so no earlier deny rule overrides it; an identical one moves here
            res["devices"] = [r for r in res.get("devices") or [] if r != rule] + [dict(rule)]

    return opt
