"""Cgroups: host detection, cgroupsPath resolution and the manager factory.

The one entry point for everything cgroup. A container's cgroups are driven
through a Manager (ocipy/cgroups/base.py), implemented for cgroup v1 (one
hierarchy per controller or co-mounted group; on hybrid hosts also the
unified hierarchy, where the controllers the host bound to v2 live) and for
cgroup v2 (one unified tree, controllers enabled through
cgroup.subtree_control).

    hier = detect()                                   # v1 | v2 | hybrid
    path = resolve_path(spec_cgroups_path, cid, systemd=False)
    mgr = new_manager(hier, path, cid)
    mgr.create(resources); warnings = mgr.apply(resources); mgr.join(pid)
    state["cgroups"] = mgr.to_state()      ...later: from_state(state["cgroups"])

Hot path (create/start/kill/delete import this): posix (through
ocipy.pathlite) and errno only; no os, __future__, typing/re/json/pathlib.
Every failure is a CgroupError whose str() is one line naming the resource,
controller or cgroup file.
"""
from ocipy.pathlite import dirname as _dirname, isdir as _isdir, join as _path_join, normpath as _normpath
from ocipy.errors import OcipyError

__all__ = [
    "V1_CONTROLLERS",
    "CgroupError",
    "Hierarchy",
    "clean_path",
    "detect",
    "from_state",
    "new_manager",
    "own_cgroup",
    "resolve_path",
]

# The v1 controllers a container joins when their hierarchy is mounted (as
# runc's fs driver: every subsystem it knows, plus the name=systemd named
# hierarchy so that the container leaves the runtime's systemd cgroup too).
V1_CONTROLLERS = (
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb",
    "net_cls", "net_prio", "perf_event", "rdma", "misc", "name=systemd",
)

# Mount options of a cgroup (v1) superblock that are not controller names.
_NOT_CONTROLLERS = frozenset((
    "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods",
    "nsdelegate", "memory_recursiveprot", "memory_localevents", "memory_hugetlb_accounting",
    "pids_localevents", "none", "all",
))

SYSTEMD_RUN_DIR = "/run/systemd/system"


class CgroupError(OcipyError):
    """A cgroup operation failed or a resource cannot be honoured (one line)."""


class Hierarchy:
    """The cgroup hierarchies this process sees.

    mode      "v1" (only v1 hierarchies), "v2" (only the unified hierarchy) or
              "hybrid" (v1 hierarchies plus a cgroup2 mount, usually at
              /sys/fs/cgroup/unified, holding the controllers not bound to v1).
    v1        controller -> mountpoint; co-mounted controllers ("cpu,cpuacct")
              map to the same directory; named hierarchies as "name=systemd".
    v1_roots  controller -> the cgroup the mount exposes (mountinfo field 4;
              "/" except inside a cgroup namespace or for bind mounts).
    unified   the cgroup2 mountpoint or None; unified_root as v1_roots.
    """

    __slots__ = ("_controllers", "mode", "unified", "unified_root", "v1", "v1_roots")

    def __init__(self, mode: str, v1: dict | None = None, v1_roots: dict | None = None,
                 unified: str | None = None, unified_root: str = "/",
                 controllers: frozenset | None = None) -> None:
        self.mode = mode
        self.v1 = v1 or {}
        self.v1_roots = v1_roots or {c: "/" for c in self.v1}
        self.unified = unified
        self.unified_root = unified_root
        self._controllers = controllers

    @property
    def controllers(self) -> frozenset:
        """Controllers available in the unified hierarchy (its root's
        cgroup.controllers); empty without one. Read once, lazily."""
        if self._controllers is None:
            self._controllers = frozenset(_read_words(self.unified, "cgroup.controllers")) \
                if self.unified else frozenset()
        return self._controllers

    def __repr__(self) -> str:
        return (f"Hierarchy(mode={self.mode!r}, v1={self.v1!r}, unified={self.unified!r}, "
                f"unified_root={self.unified_root!r})")


def _read_words(d: str, name: str) -> list:
    try:
        with open(_path_join(d, name), "rb") as f:
            return f.read().decode().split()
    except OSError:
        return []


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo (octal)
    if "\\" not in field:
        return field
    out, i, n = [], 0, len(field)
    while i < n:
        c = field[i]
        if c == "\\" and i + 4 <= n and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def detect(mountinfo: str | None = None, controllers: frozenset | None = None) -> Hierarchy:
    """Detect the cgroup layout from /proc/self/mountinfo (or the given text).

    A mount hidden by a later mount on the same directory or one of its
    ancestors (e.g. cgroup2 mounted over a v1 /sys/fs/cgroup in a private
    mount namespace) still appears in mountinfo: it is ignored. Of several
    visible mounts of one hierarchy the one under /sys/fs/cgroup wins, else
    the first. `controllers` overrides the unified root's cgroup.controllers
    (unit tests).
    """
    if mountinfo is None:
        with open("/proc/self/mountinfo", "rb") as f:
            mountinfo = f.read().decode("utf-8", "surrogateescape")
    mounts = []  # (mountpoint, root, fstype, super options)
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields:
            continue
        sep = fields.index("-", 6)
        mountpoint = _unescape(fields[4])
        # a mount on P hides what was mounted on P or below it before
        prefix = mountpoint.rstrip("/") + "/"
        mounts = [m for m in mounts if m[0] != mountpoint and not m[0].startswith(prefix)]
        fstype = fields[sep + 1]
        if fstype in ("cgroup", "cgroup2"):
            opts = fields[sep + 3].split(",") if len(fields) > sep + 3 else []
            mounts.append((mountpoint, _unescape(fields[3]), fstype, opts))

    def rank(mountpoint: str) -> int:
        # /sys/fs/cgroup itself (pure v2), then anything below it, then elsewhere
        if mountpoint == "/sys/fs/cgroup":
            return 0
        return 1 if mountpoint.startswith("/sys/fs/cgroup/") else 2

    v1, roots, unified, unified_root = {}, {}, None, "/"
    for mountpoint, root, fstype, opts in mounts:
        if fstype == "cgroup2":
            if unified is None or rank(mountpoint) < rank(unified):
                unified, unified_root = mountpoint, root
            continue
        for opt in opts:
            if opt in _NOT_CONTROLLERS or ("=" in opt and not opt.startswith("name=")):
                continue
            if opt not in v1 or rank(mountpoint) < rank(v1[opt]):
                v1[opt] = mountpoint
                roots[opt] = root
    if v1:
        mode = "hybrid" if unified else "v1"
    elif unified:
        mode = "v2"
    else:
        raise CgroupError("cgroups: no cgroup filesystem is mounted (nothing in /proc/self/mountinfo)")
    return Hierarchy(mode, v1, roots, unified, unified_root, controllers)


def own_cgroup(procfile: str = "/proc/self/cgroup") -> dict:
    """The cgroups of this process: controller -> path ("" for the unified
    hierarchy, "name=systemd" for named ones; co-mounted controllers each get
    the line's path). /proc/self/cgroup or a file in its format."""
    with open(procfile, "rb") as f:
        text = f.read().decode("utf-8", "surrogateescape")
    own = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if not ctrls:
            own[""] = path
        else:
            for c in ctrls.split(","):
                own[c] = path
    return own


def own_cgroup_dirs() -> dict:
    """The directories of this process's own cgroups: v1 controller (or
    "name=systemd") -> dir, and "" -> its cgroup2 dir, as a container
    without a cgroup of its own (rootless) stays in them."""
    hier, own = detect(), own_cgroup()
    out = {ctrl: _under(mnt, hier.v1_roots.get(ctrl, "/"), own.get(ctrl), "") for ctrl, mnt in hier.v1.items()}
    if hier.unified:
        out[""] = _under(hier.unified, hier.unified_root, own.get(""), "")
    return out


def clean_path(path: str) -> str:
    """runc's utils.CleanPath: a lexically clean path that cannot climb out
    with "..": "/a/../../b" -> "/b", "../x" -> "x", "a//b/" -> "a/b"."""
    if not path:
        return ""
    absolute = path.startswith("/")
    p = _normpath("/" + path)
    p = "/" + p.lstrip("/")  # normpath keeps a leading "//" (POSIX)
    if absolute:
        return p
    return p[1:] or "."


def resolve_path(cgroups_path: str | None, cid: str, systemd: bool = False,
                 systemd_dir: str = SYSTEMD_RUN_DIR) -> str:
    """linux.cgroupsPath -> the cgroup path the fs driver uses.

    As runc (libcontainer/specconv CreateCgroupConfig + fs/fs2 paths):
    - absolute ("/a/b"): below each hierarchy's mountpoint;
    - relative ("a/b"): below the runtime's own cgroup (v1, and the unified
      hierarchy of a hybrid host), below the parent of its own cgroup on
      pure v2 (its own one holds processes, so it cannot delegate
      controllers): new_manager applies this;
    - absent/empty: the container id, relative (runc uses its name the
      same way: `runc run x` from the root cgroup lands in /x);
    - with systemd=True, "slice:prefix:name" (runc's --systemd-cgroup form;
      absent means ":ocipy:<id>", i.e. ocipy-<id>.scope in system.slice): it
      is parsed and checked, then refused: without a running systemd as
      such, with one because the D-Bus driver is not implemented yet.
    The result is cleaned (clean_path); "/" and the runtime's own cgroup
    itself are refused: limits there would apply to the host or the runtime.
    """
    if systemd:
        slice_, prefix, name = _parse_systemd(cgroups_path, cid)
        unit = name if name.endswith(".slice") else (f"{prefix}-{name}.scope" if prefix else f"{name}.scope")
        where = f"{unit} in {slice_ or 'system.slice'}"
        if not _isdir(systemd_dir):
            raise CgroupError(f"--systemd-cgroup: systemd is not running on this host (no {systemd_dir}): "
                              f"cannot create {where}; use the cgroupfs driver (no --systemd-cgroup)")
        raise CgroupError(f"--systemd-cgroup: the systemd cgroup driver is not implemented yet "
                          f"(would create {where}); use the cgroupfs driver (no --systemd-cgroup)")
    if not cgroups_path:
        return clean_path(cid)
    if "\0" in cgroups_path:
        raise CgroupError("linux.cgroupsPath: contains a NUL byte")
    p = clean_path(cgroups_path)
    if p == "/":
        raise CgroupError(f"linux.cgroupsPath: {cgroups_path!r} is the root cgroup: the container's limits "
                          "would apply to the whole host")
    if p == ".":
        raise CgroupError(f"linux.cgroupsPath: {cgroups_path!r} is the runtime's own cgroup: "
                          "give the container a cgroup of its own")
    return p


def _parse_systemd(cgroups_path: str | None, cid: str) -> tuple:
    if not cgroups_path:
        return "", "ocipy", cid
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise CgroupError(f"linux.cgroupsPath: expected \"slice:prefix:name\" for systemd cgroups "
                          f"(--systemd-cgroup), got {cgroups_path!r}")
    slice_, prefix, name = parts
    if slice_ and slice_ != "-" and (not slice_.endswith(".slice") or "/" in slice_):
        raise CgroupError(f"linux.cgroupsPath: systemd slice {slice_!r} must be a unit name ending in "
                          "\".slice\" without \"/\" (e.g. system.slice, user-1000.slice)")
    if not name or "/" in name or "/" in prefix:
        raise CgroupError(f"linux.cgroupsPath: systemd unit name in {cgroups_path!r} must be non-empty "
                          "and contain no \"/\"")
    return slice_, prefix, name


def _join(mountpoint: str, cgpath: str) -> str:
    return mountpoint.rstrip("/") + "/" + cgpath.lstrip("/") if cgpath.strip("/") else mountpoint


def _under(mountpoint: str, mount_root: str, own: str | None, rel: str) -> str:
    """mountpoint + (own cgroup relative to what the mount shows) + rel."""
    base = "/"
    if own is not None:
        if mount_root in ("", "/"):
            base = own
        elif own == mount_root or own.startswith(mount_root.rstrip("/") + "/"):
            base = own[len(mount_root.rstrip("/")):] or "/"
    return _join(mountpoint, _path_join(base, rel))


def new_manager(hier: Hierarchy, path: str, cid: str = "", own: dict | None = None):
    """A Manager for cgroup `path` (from resolve_path) on this host.

    v1/hybrid -> V1Manager with one directory per mounted v1 hierarchy (and
    the unified one on hybrid hosts); v2 -> V2Manager. Relative paths are
    placed under the runtime's own cgroup (`own`, default /proc/self/cgroup).
    Nothing is created until create().
    """
    path = clean_path(path)  # no "..": whatever the caller passes stays below the mountpoints
    if not path or path in ("/", "."):
        raise CgroupError(f"cgroup path {path!r}: not a container cgroup (use resolve_path)")
    relative = not path.startswith("/")
    if relative and own is None:
        own = own_cgroup()
    if hier.mode == "v2":
        from ocipy.cgroups.v2 import V2Manager

        if relative:
            # runc fs2: the parent of our own cgroup (ours holds processes)
            mine = own.get("", "/") or "/"
            d = _under(hier.unified, hier.unified_root, _dirname(mine.rstrip("/")) or "/", path)
        else:
            d = _join(hier.unified, path)
        return V2Manager(path, d, hier.unified, cid)
    from ocipy.cgroups.v1 import V1Manager

    paths = {}
    for ctrl in V1_CONTROLLERS:
        mnt = hier.v1.get(ctrl)
        if mnt is None:
            continue
        paths[ctrl] = _under(mnt, hier.v1_roots.get(ctrl, "/"), own.get(ctrl), path) if relative \
            else _join(mnt, path)
    unified = None
    if hier.unified:
        unified = _under(hier.unified, hier.unified_root, own.get(""), path) if relative \
            else _join(hier.unified, path)
    return V1Manager(path, paths, unified, hier.unified, cid, mode=hier.mode, v2_controllers=hier._controllers)


def from_state(state: dict):
    """The Manager that to_state() described (no host detection needed)."""
    if not isinstance(state, dict) or state.get("mode") not in ("v1", "v2", "hybrid"):
        raise CgroupError(f"state.json: invalid cgroups record {state!r}")
    if state["mode"] == "v2":
        from ocipy.cgroups.v2 import V2Manager

        return V2Manager.from_state(state)
    from ocipy.cgroups.v1 import V1Manager

    return V1Manager.from_state(state)
