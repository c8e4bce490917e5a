"""Stage "prepare": turn a validated config into a launch plan.

Like runc's specconv, every semantic check that can be done before a process
exists happens here (namespace combinations, hostname without a UTS
namespace, sysctls that would touch the host, capability and rlimit names,
namespace paths of the wrong type...), so a bad config fails before anything
is created. Runs in the CLI process (host root) and has no side effects
beyond opening namespace files (kept open for stage 1 to setns into).

Hot path: no typing/re/json.
"""
import posix

from ocipy.errors import ConfigError, SysError
from ocipy.pathlite import join as _join, normpath as _normpath
from ocipy.spec import caps as capsmod
from ocipy.spec import env as envmod
from ocipy.spec import mounts as mountsmod
from ocipy.spec import rlimits as rlmod
from ocipy.syscalls import NAMESPACES

# sysctls that are namespaced, and the namespace each needs (runc's rule)
_SYSCTL_IPC = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
               "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


class Plan:
    """Everything the launcher stages need, computed up front."""

    __slots__ = (
        "cid", "bundle", "rootfs", "config", "ns_new", "ns_join", "userns_new", "uid_map", "gid_map",
        "mounts", "setup_dev", "devices", "masked", "readonly_paths", "root_readonly", "rootfs_prop",
        "hostname", "domainname", "sysctl", "net_new", "time_offsets", "args", "env", "cwd", "uid",
        "gid", "gids", "umask", "caps", "rlimits", "nnp", "oom", "terminal", "console_size",
        "no_pivot", "preserve_fds", "last_cap", "root_uid", "root_gid", "where",
        "new_keyring", "userns_join", "sched", "ioprio", "personality", "cgroup_fds", "cgroup_dirs",
        "seccomp",
        "mempolicy", "lsm",
        "net_devices", "idmaps", "idmap_fds", "lean", "unprivileged", "mnt_ino",
    )


def build(config: dict, bundle: str, rootfs: str, cid: str, *, no_pivot: bool = False,
          preserve_fds: int = 0, new_keyring: bool = True) -> Plan:
    p = Plan()
    p.cid, p.bundle, p.rootfs, p.config = cid, bundle, rootfs, config
    p.where = _join(bundle, "config.json")  # errors name the file, like spec.load
    p.no_pivot, p.preserve_fds, p.new_keyring = no_pivot, preserve_fds, new_keyring
    p.cgroup_fds, p.cgroup_dirs = [], {}  # filled by stages.create once the cgroup exists
    p.lean = None  # stages.create's hand-over (stages.Lean), when it applies
    p.mnt_ino = 0  # the init's mount namespace, as it reports it when stage 0 may not stat it
    linux = config.get("linux") or {}
    proc = config.get("process")
    if not proc:
        raise ConfigError(f"{p.where}: process: required to create a container")

    # -- namespaces ----------------------------------------------------------
    p.ns_new, p.ns_join = 0, []
    seen = set()
    for i, ns in enumerate(linux.get("namespaces") or []):
        t = ns["type"]
        where = f"{p.where}: linux.namespaces[{i}]"
        if t in seen:
            raise ConfigError(f'{where}: namespace type "{t}" appears twice')
        seen.add(t)
        flag, _ = NAMESPACES[t]
        path = ns.get("path")
        if not path:
            p.ns_new |= flag
            continue
        try:
            fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
        except OSError as e:
            raise ConfigError(f"{where}.path: {path}: {posix.strerror(e.errno)}") from None
        try:
            from ocipy.syscalls import ns_type

            actual = ns_type(fd)
        except SysError:
            posix.close(fd)
            raise ConfigError(f"{where}.path: {path} is not a namespace file") from None
        if actual != flag:
            posix.close(fd)
            raise ConfigError(f'{where}.path: {path} is not a {t} namespace')
        p.ns_join.append((t, fd, path))
    if "mount" not in seen:
        raise ConfigError(f"{p.where}: linux.namespaces: a mount namespace is required (ocipy never mounts in the host's)")
    p.userns_new = bool(p.ns_new & NAMESPACES["user"][0])
    p.net_new = bool(p.ns_new & NAMESPACES["network"][0])
    p.uid_map = _idmap(linux.get("uidMappings"), "uidMappings")
    p.gid_map = _idmap(linux.get("gidMappings"), "gidMappings")
    if p.userns_new and (not p.uid_map or not p.gid_map):
        raise ConfigError(f"{p.where}: linux.uidMappings/gidMappings: required with a new user namespace")
    if (p.uid_map or p.gid_map) and "user" not in seen:
        raise ConfigError(f"{p.where}: linux.uidMappings: mappings need a user namespace in linux.namespaces")
    p.userns_join = any(t == "user" for t, _, _ in p.ns_join)
    p.unprivileged = posix.geteuid() != 0
    if p.unprivileged:
        _check_unprivileged(p, linux)
    p.root_uid = _host_id(linux.get("uidMappings"), 0)
    p.root_gid = _host_id(linux.get("gidMappings"), 0)
    p.time_offsets = linux.get("timeOffsets") or {}
    if p.time_offsets and not (p.ns_new & NAMESPACES["time"][0]):
        raise ConfigError(f"{p.where}: linux.timeOffsets: needs a new time namespace")

    # -- hostname, sysctl ------------------------------------------------------
    uts_new = bool(p.ns_new & NAMESPACES["uts"][0]) or any(t == "uts" for t, _, _ in p.ns_join)
    p.hostname = config.get("hostname")
    p.domainname = config.get("domainname")
    if (p.hostname or p.domainname) and not uts_new:
        which = "hostname" if p.hostname else "domainname"
        raise ConfigError(f"{p.where}: {which}: setting it needs a private UTS namespace")
    p.sysctl = []
    for key, val in (linux.get("sysctl") or {}).items():
        p.sysctl.append((_check_sysctl(key, seen, p), str(val)))

    # -- rootfs ----------------------------------------------------------------
    root = config.get("root") or {}
    p.root_readonly = bool(root.get("readonly"))
    prop = linux.get("rootfsPropagation")
    p.rootfs_prop = mountsmod.propagation_flags(prop, filename=p.where) if prop else 0
    p.mounts = []
    p.idmaps, p.idmap_fds = {}, {}  # mount index -> (uid map, gid map, recursive); -> fd (stages.create)
    dev_bound = False
    for i, m in enumerate(config.get("mounts") or []):
        opts = mountsmod.parse_mount_options(m.get("options") or [])
        mtype = m.get("type") or ("bind" if opts.bind else "")
        dest = m["destination"]
        if not dest.startswith("/"):
            dest = "/" + dest
        dest = _normpath(dest)
        if dest.startswith("//"):
            dest = dest[1:]
        is_bind = mtype == "bind" or opts.bind
        if dest == "/dev":
            dev_bound = is_bind  # a bind-mounted /dev is the caller's: leave it alone
        p.mounts.append((i, dest, mtype, m.get("source"), opts, is_bind))
        if opts.idmap or m.get("uidMappings"):
            p.idmaps[i] = _mount_idmap(m, opts, is_bind, linux, p, i)
    p.setup_dev = not dev_bound
    p.devices = linux.get("devices") or []
    if linux.get("intelRdt") is not None:
        _refuse_intel_rdt(p.where)
    p.net_devices = _net_devices(linux.get("netDevices"), p) if linux.get("netDevices") else []
    p.masked = linux.get("maskedPaths") or []
    p.readonly_paths = linux.get("readonlyPaths") or []

    # -- process ---------------------------------------------------------------
    p.args = proc.get("args") or []
    if not p.args:
        raise ConfigError(f"{p.where}: process.args: must name the program to run")
    p.env = envmod.resolve_env(proc.get("env") or [], filename=p.where)
    p.cwd = proc.get("cwd") or "/"
    if not p.cwd.startswith("/"):
        raise ConfigError(f"{p.where}: process.cwd: {p.cwd!r} must be an absolute path")
    user = proc.get("user") or {}
    p.uid = user.get("uid", 0)
    p.gid = user.get("gid", 0)
    p.gids = user.get("additionalGids") or []
    if p.userns_new:  # ids the new user namespace does not map cannot be taken (EINVAL)
        for field, ids, maps in (("uid", [p.uid], "uidMappings"), ("gid", [p.gid], "gidMappings"),
                                 ("additionalGids", p.gids, "gidMappings")):
            for n in ids:
                if _host_id(linux.get(maps), n) < 0:
                    raise ConfigError(f"{p.where}: process.user.{field}: {n} is not mapped in the "
                                      f"container's user namespace (linux.{maps})")
    if p.gids and p.unprivileged and p.userns_new:
        raise ConfigError(f"{p.where}: process.user.additionalGids: not run as root: setgroups is "
                          "denied in the user namespace (only one gid is mapped)")
    p.umask = user.get("umask", 0o022)
    p.last_cap = capsmod.read_last_cap()
    p.caps = capsmod.grantable_caps(proc.get("capabilities") or {}, p.last_cap, p.where, "process.")
    rls = proc.get("rlimits") or []
    p.rlimits = [(rl["type"], num, soft, hard) for rl, (num, soft, hard) in zip(rls, rlmod.parse_rlimits(rls, filename=p.where))]
    p.nnp = bool(proc.get("noNewPrivileges"))
    p.oom = proc.get("oomScoreAdj")
    p.terminal = bool(proc.get("terminal"))
    p.sched = scheduler(proc.get("scheduler"), p.where)
    p.ioprio = ioprio(proc.get("ioPriority"), p.where)
    p.personality = personality(linux.get("personality"), p.where)
    p.seccomp = None
    if linux.get("seccomp") is not None:  # compiled now: errors before anything exists (ocipy.seccomp)
        from ocipy import seccomp

        p.seccomp = seccomp.compile(linux["seccomp"], p.where)
    p.mempolicy = memory_policy(linux.get("memoryPolicy"), p.where)
    if proc.get("execCPUAffinity"):
        # config.md: "not applicable to the container's init process"; it is
        # the one `exec` uses by default: checked now, applied by exec
        exec_cpu_affinity(proc["execCPUAffinity"], p.where)
    p.lsm = []
    if proc.get("apparmorProfile") or proc.get("selinuxLabel") or linux.get("mountLabel"):
        from ocipy.launcher import lsm

        p.lsm = lsm.check(proc.get("apparmorProfile"), f"{p.where}: process.apparmorProfile",
                          proc.get("selinuxLabel"), f"{p.where}: process.selinuxLabel")
        label = lsm.check_mount_label(linux.get("mountLabel"), f"{p.where}: linux.mountLabel")
        if label:
            _label_mounts(p.mounts, label)
    cs = proc.get("consoleSize")
    p.console_size = (cs.get("height", 0), cs.get("width", 0)) if cs else None
    return p


def _refuse_intel_rdt(where: str) -> None:
    """config-linux.md IntelRdt: with no resctrl mounted "the runtime MUST
    generate an error"; with one, the container's pid MUST go to its tasks
    file, which ocipy does not implement (features: intelRdt disabled)."""
    with open("/proc/self/mountinfo") as f:
        mounted = any(line.partition(" - ")[2].startswith("resctrl ") for line in f)
    why = ("not supported by ocipy" if mounted else
           "no resctrl pseudo-filesystem is mounted in the runtime mount namespace")
    raise ConfigError(f"{where}: linux.intelRdt: {why}")


def _net_devices(devs, p) -> list:
    """linux.netDevices -> [(host name, name in the container, field)]:
    moved by stage 0 (launcher.netdev) into the container's new network
    namespace, which is required."""
    if not p.net_new:
        raise ConfigError(f"{p.where}: linux.netDevices: needs a new network namespace in linux.namespaces")
    out, names = [], set()
    for host, v in devs.items():
        field = f"linux.netDevices.{host}"
        name = (v or {}).get("name") or host
        for what, n in (("", host), (".name", name)):
            if not n or len(n.encode()) > 15 or "/" in n or ":" in n or n in (".", "..") or any(c.isspace() for c in n):
                raise ConfigError(f"{p.where}: {field}{what}: {n!r} is not a valid network interface name")
        if "%d" not in name:
            if name in names:
                raise ConfigError(f"{p.where}: {field}.name: {name!r} is given to two devices")
            names.add(name)
        out.append((host, name, field))
    return out


def _mount_idmap(m: dict, opts, is_bind: bool, linux: dict, p, i: int) -> tuple:
    """An idmapped mount: its own uid/gid mappings, else the container's
    (config.md: idmap without mappings uses the container's user namespace).
    Returns ("cid hid size\n"..., same for gids, recursive)."""
    where = f"{p.where}: mounts[{i}]"
    if not is_bind:
        raise ConfigError(f"{where}: idmap: ocipy applies idmapped mounts to bind mounts only")
    if m.get("uidMappings"):
        um, gm = m.get("uidMappings"), m.get("gidMappings")
    else:
        um, gm = linux.get("uidMappings"), linux.get("gidMappings")
    if not um or not gm:
        raise ConfigError(f"{where}: idmap: needs uidMappings/gidMappings (of the mount or of a new user namespace)")
    return (_idmap(um, "uidMappings"), _idmap(gm, "gidMappings"), opts.ridmap)


# filesystems that take no SELinux context= option (runc mounts these
# without the mount label too); bind mounts keep their source's labels
_NO_MOUNT_LABEL = ("proc", "sysfs", "cgroup", "cgroup2", "mqueue")


def _label_mounts(mounts: list, label: str) -> None:
    from ocipy.launcher.lsm import mount_label_data

    for _, _, mtype, _, opts, is_bind in mounts:
        if not is_bind and mtype not in _NO_MOUNT_LABEL:
            opts.data = mount_label_data(opts.data, label)


def listen_fds() -> int:
    """Socket activation, as runc (go-systemd's activation.Files): the
    number of fds from 3 on that systemd handed this very process
    (LISTEN_FDS, with LISTEN_PID our pid), else 0."""
    n = posix.environ.get(b"LISTEN_FDS")  # (bytes: `os` stays unimported)
    if not n:
        return 0
    n = n.decode("utf-8", "surrogateescape")
    pid = posix.environ.get(b"LISTEN_PID", b"").decode("utf-8", "surrogateescape")
    if not (n.isdigit() and pid.isdigit() and int(pid) == posix.getpid()):
        return 0
    return int(n)


_SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4,
                   "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
_SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02, "SCHED_FLAG_DL_OVERRUN": 0x04,
                "SCHED_FLAG_KEEP_POLICY": 0x08, "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
                "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
_IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
_PERSONALITY_DOMAINS = {"LINUX": 0x0000, "LINUX32": 0x0008}


def scheduler(sc_cfg, where: str):
    """process.scheduler -> (policy, flags, nice, priority, runtime, deadline, period) for sched_setattr."""
    if not sc_cfg:
        return None
    policy = _SCHED_POLICIES.get(sc_cfg.get("policy"))
    if policy is None:
        raise ConfigError(f'{where}: process.scheduler.policy: unknown policy "{sc_cfg.get("policy")}"')
    flags = 0
    for i, name in enumerate(sc_cfg.get("flags") or []):
        if name not in _SCHED_FLAGS:
            raise ConfigError(f'{where}: process.scheduler.flags[{i}]: unknown flag "{name}"')
        flags |= _SCHED_FLAGS[name]
    nice = sc_cfg.get("nice", 0)
    if not -20 <= nice <= 19:
        raise ConfigError(f"{where}: process.scheduler.nice: must be within -20..19 (got {nice})")
    return (policy, flags, nice, sc_cfg.get("priority", 0), sc_cfg.get("runtime", 0),
            sc_cfg.get("deadline", 0), sc_cfg.get("period", 0))


def ioprio(cfg, where: str):
    """process.ioPriority -> the ioprio_set value (class << 13 | priority)."""
    if not cfg:
        return None
    cls = _IOPRIO_CLASSES.get(cfg.get("class"))
    if cls is None:
        raise ConfigError(f'{where}: process.ioPriority.class: unknown class "{cfg.get("class")}"')
    prio = cfg.get("priority", 0)
    if not 0 <= prio <= 7:
        raise ConfigError(f"{where}: process.ioPriority.priority: must be within 0..7 (got {prio})")
    return cls << 13 | prio


def personality(cfg, where: str):
    if not cfg:
        return None
    dom = _PERSONALITY_DOMAINS.get(cfg.get("domain"))
    if dom is None:
        raise ConfigError(f'{where}: linux.personality.domain: unknown domain "{cfg.get("domain")}"')
    if cfg.get("flags"):
        # config-linux.md defines no flag names yet: MUST error on unsupported values
        raise ConfigError(f"{where}: linux.personality.flags: unsupported {cfg['flags']!r}")
    return dom


def cpu_list(text: str, what: str) -> int:
    """A list like "0-3,7" (config.md: "a comma-separated list, with dashes
    to represent ranges") -> a bit mask. Spaces around items and empty items
    are allowed, as runc allows them. `what` prefixes every error (the file
    and field). The empty string is 0: "not set"."""
    mask = 0
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        lo, dash, hi = item.partition("-")
        lo, hi = lo.strip(), hi.strip()
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ConfigError(f"{what}: invalid list {text!r} (expected numbers and ranges: \"0-3,7\")")
        a, b = int(lo), int(hi) if dash else int(lo)
        if a > b:
            raise ConfigError(f"{what}: invalid range {item!r} in {text!r}")
        if b >= _MAX_CPU:
            raise ConfigError(f"{what}: {b} is out of range (at most {_MAX_CPU - 1}) in {text!r}")
        mask |= ((1 << (b - a + 1)) - 1) << a
    return mask


_MAX_CPU = 8192  # the kernel's largest NR_CPUS / MAX_NUMNODES


def exec_cpu_affinity(cfg, where: str, prefix: str = "process."):
    """process.execCPUAffinity -> (initial mask, final mask), 0 = not set;
    None when there is nothing to do. config.md: initial applies before the
    process joins the container's cgroup, final after; an empty or omitted
    one is not applied (the kernel decides)."""
    if not cfg:
        return None
    out = []
    for key in ("initial", "final"):
        out.append(cpu_list(cfg.get(key) or "", f"{where}: {prefix}execCPUAffinity.{key}"))
    return tuple(out) if any(out) else None


MPOL_MODES = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3, "MPOL_LOCAL": 4,
               "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}
MPOL_FLAGS = {"MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14, "MPOL_F_STATIC_NODES": 1 << 15}
_MPOL_NO_NODES = ("MPOL_DEFAULT", "MPOL_LOCAL")
_MPOL_NEED_NODES = ("MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED_MANY")


def memory_policy(cfg, where: str):
    """linux.memoryPolicy -> (mode | flags, node mask, where) for set_mempolicy(2).
    What set_mempolicy(2) documents as invalid for every host (nodes with
    MPOL_DEFAULT/MPOL_LOCAL, none with the modes that need some) fails here;
    what depends on the host (a node that is not online, a flag the mode or
    the kernel does not support) fails when the kernel refuses it."""
    if not cfg:
        return None
    name = cfg.get("mode")
    mode = MPOL_MODES.get(name)
    if mode is None:
        raise ConfigError(f'{where}: linux.memoryPolicy.mode: unknown mode "{name}"')
    for i, flag in enumerate(cfg.get("flags") or []):
        if flag not in MPOL_FLAGS:
            raise ConfigError(f'{where}: linux.memoryPolicy.flags[{i}]: unknown flag "{flag}"')
        mode |= MPOL_FLAGS[flag]
    nodes = cpu_list(cfg.get("nodes") or "", f"{where}: linux.memoryPolicy.nodes")
    if nodes and name in _MPOL_NO_NODES:
        raise ConfigError(f"{where}: linux.memoryPolicy.nodes: {name} takes no nodes (got {cfg['nodes']!r})")
    if not nodes and name in _MPOL_NEED_NODES:
        raise ConfigError(f"{where}: linux.memoryPolicy.nodes: {name} needs at least one node")
    return mode, nodes, where


# The devices every container may use whatever linux.resources.devices
# says: the spec's default devices and the pty/console nodes, plus mknod of
# any node (runc's specconv.AllowedDevices, appended after the config's rules).
MKNOD_RULES = (
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
)
DEFAULT_DEVICE_RULES = (
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},    # null
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},    # random
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},    # full
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},    # tty
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},    # zero
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},    # urandom
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},    # console
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},              # pts/*
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},    # ptmx
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},  # net/tun
)


def cgroup_resources(config: dict) -> dict:
    """linux.resources as the cgroup manager must apply it: the config's
    device rules, then an allow rule for each linux.devices entry and the
    default devices (a container's own /dev/null must stay usable even under
    Docker's or runc's deny-all first rule)."""
    linux = config.get("linux") or {}
    res = dict(linux.get("resources") or {})
    if "devices" in res or linux.get("devices"):
        rules = list(res.get("devices") or [])
        for d in linux.get("devices") or []:
            if d.get("type") in ("c", "b", "u"):
                rules.append({"allow": True, "type": "c" if d["type"] == "u" else d["type"],
                              "major": d.get("major"), "minor": d.get("minor"), "access": "rwm"})
        # The defaults go right after the last deny-all rule (runc and
        # Docker start with one), not at the end as runc does: the spec
        # applies entries in order, so a user's later, specific deny (of
        # /dev/zero, say) must still win over the runtime's defaults.
        at = 0
        for i, r in enumerate(rules):
            if not r.get("allow") and r.get("type", "a") == "a" and r.get("major") is None \
                    and r.get("minor") is None:
                at = i + 1
        rules[at:at] = DEFAULT_DEVICE_RULES
        rules.extend(MKNOD_RULES)  # last: wildcards, so no later specific rule needs to cut them
        res["devices"] = rules
    return res


def _check_unprivileged(p: Plan, linux: dict) -> None:
    """A container created by a non-root user (rootless): it needs a user
    namespace, and without newuidmap/newgidmap (setuid helpers ocipy does
    not use) the kernel lets that user map only its own uid and gid, one id
    each (user_namespaces(7)); setgroups is then denied in the namespace."""
    if not p.userns_new and not p.userns_join:
        raise ConfigError(f"{p.where}: linux.namespaces: not run as root: a user namespace is required "
                          "(`ocipy spec --rootless` writes such a config)")
    if not p.userns_new:
        return
    for field, own in (("uidMappings", posix.geteuid()), ("gidMappings", posix.getegid())):
        maps = linux.get(field) or []
        if len(maps) != 1 or maps[0]["hostID"] != own or maps[0]["size"] != 1:
            raise ConfigError(f"{p.where}: linux.{field}: not run as root, only the caller's own "
                              f"{field[:3]} can be mapped: one entry with hostID {own} and size 1")


def _idmap(maps, field: str) -> str:
    if not maps:
        return ""
    lines = []
    for m in maps:
        lines.append(f"{m['containerID']} {m['hostID']} {m['size']}")
    return "\n".join(lines) + "\n"


def _host_id(maps, cid: int) -> int:
    """The host id that container id `cid` maps to (itself without a map)."""
    for m in maps or []:
        if m["containerID"] <= cid < m["containerID"] + m["size"]:
            return m["hostID"] + cid - m["containerID"]
    return cid if not maps else -1


def _check_sysctl(key: str, ns_seen: set, p: Plan) -> str:
    """Allow only namespaced sysctls whose namespace is the container's own
    (a new one); anything else would change the host. Returns the
    /proc/sys relative path."""
    where = f"{p.where}: linux.sysctl: {key}"
    if not key or key.startswith(("/", ".")) or key.endswith((".", "/")):
        raise ConfigError(f"{where}: invalid name")
    rel = key.replace(".", "/") if "/" not in key else key
    if ".." in rel.split("/"):
        raise ConfigError(f"{where}: invalid name")
    dotted = rel.replace("/", ".")
    new = p.ns_new
    if dotted in _SYSCTL_IPC or dotted.startswith("fs.mqueue."):
        need = "ipc"
    elif dotted.startswith("net."):
        need = "network"
    elif dotted in ("kernel.hostname", "kernel.domainname"):
        need = "uts"
    else:
        raise ConfigError(f"{where}: not a namespaced sysctl, refusing to change the host")
    if new & NAMESPACES[need][0]:
        return rel
    joined = [path for t, _, path in p.ns_join if t == need]
    if not joined:
        raise ConfigError(f"{where}: needs a {need} namespace of the container's own in linux.namespaces")
    # a namespace given by path must not be the runtime's own (runc's rule)
    try:
        if posix.stat(joined[0]).st_ino == posix.stat(f"/proc/self/ns/{NAMESPACES[need][1]}").st_ino:
            raise ConfigError(f"{where}: not allowed in the host's {need} namespace ({joined[0]})")
    except OSError:
        pass
    return rel
