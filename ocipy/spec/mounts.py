"""Mount options of config.json -> mount(2) / mount_setattr(2) arguments (hot path, pure).

The option table is runc's (libcontainer/specconv/spec_linux.go), which
implements config.md's "Linux mount options" table; unknown options are
filesystem-specific and go to mount(2)'s data argument, comma-joined, as the
spec says: "Runtimes SHOULD treat unknown options as filesystem-specific
ones and pass those as a comma-separated string to the fifth (const void
*data) argument of mount(2)."

Differences from runc, each because runc is wrong or silent:

* ``defaults`` is a no-op, as in mount(8). (runc's table maps it to flag 0,
  which then falls through to the data string and reaches the filesystem.)
* The recursive access-time options (``rnoatime``, ``rstrictatime``,
  ``rrelatime`` and their clear forms ``ratime``, ``rnostrictatime``,
  ``rnorelatime``) follow mount_setattr(2): the access time is one mode, not
  independent bits ("cannot simply specify the access-time setting in
  attr_set, but must also include MOUNT_ATTR__ATIME in the attr_clr field"),
  so they choose the mode, last one wins, and the result always carries
  MOUNT_ATTR__ATIME in ``rec_clr``. A clear form resets the mode to the
  kernel default (relatime) when the mode it clears, or no mode, was chosen;
  it never undoes a different explicit mode (``rstrictatime,ratime`` keeps
  strictatime). runc puts e.g. ``ratime`` as MOUNT_ATTR_NOATIME alone in
  attr_clr, which the kernel rejects with EINVAL.
* Empty option strings are ignored instead of producing ``a,,b`` data.
"""
from ocipy.errors import ConfigError
from ocipy.jsonlite import dumps

# include/uapi/linux/mount.h
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_POSIXACL = 0x10000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_I_VERSION = 0x800000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70  # the access-time mode field:
MOUNT_ATTR_RELATIME = 0x0  # ... relatime (the kernel default)
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_IDMAP = 0x100000
MOUNT_ATTR_NOSYMFOLLOW = 0x200000

# option -> (clears?, MS_* flag). "rw" clears MS_RDONLY, "ro" sets it.
FLAGS = {
    "async": (True, MS_SYNCHRONOUS),
    "atime": (True, MS_NOATIME),
    "bind": (False, MS_BIND),
    "defaults": (False, 0),
    "dev": (True, MS_NODEV),
    "diratime": (True, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC),
    "exec": (True, MS_NOEXEC),
    "iversion": (False, MS_I_VERSION),
    "lazytime": (False, MS_LAZYTIME),
    "loud": (True, MS_SILENT),
    "mand": (False, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME),
    "nodev": (False, MS_NODEV),
    "nodiratime": (False, MS_NODIRATIME),
    "noexec": (False, MS_NOEXEC),
    "noiversion": (True, MS_I_VERSION),
    "nolazytime": (True, MS_LAZYTIME),
    "nomand": (True, MS_MANDLOCK),
    "norelatime": (True, MS_RELATIME),
    "nostrictatime": (True, MS_STRICTATIME),
    "nosuid": (False, MS_NOSUID),
    "nosymfollow": (False, MS_NOSYMFOLLOW),  # Linux 5.10
    "rbind": (False, MS_BIND | MS_REC),
    "relatime": (False, MS_RELATIME),
    "remount": (False, MS_REMOUNT),
    "ro": (False, MS_RDONLY),
    "rw": (True, MS_RDONLY),
    "silent": (False, MS_SILENT),
    "strictatime": (False, MS_STRICTATIME),
    "suid": (True, MS_NOSUID),
    "sync": (False, MS_SYNCHRONOUS),
    "symfollow": (True, MS_NOSYMFOLLOW),
}

# Propagation options (mount options and linux.rootfsPropagation).
PROPAGATION = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE,
    "runbindable": MS_UNBINDABLE | MS_REC,
}

# Recursive (mount_setattr AT_RECURSIVE, Linux 5.12) flag options:
# option -> (clears?, MOUNT_ATTR_* flag).
REC_FLAGS = {
    "rro": (False, MOUNT_ATTR_RDONLY),
    "rrw": (True, MOUNT_ATTR_RDONLY),
    "rnosuid": (False, MOUNT_ATTR_NOSUID),
    "rsuid": (True, MOUNT_ATTR_NOSUID),
    "rnodev": (False, MOUNT_ATTR_NODEV),
    "rdev": (True, MOUNT_ATTR_NODEV),
    "rnoexec": (False, MOUNT_ATTR_NOEXEC),
    "rexec": (True, MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, MOUNT_ATTR_NODIRATIME),
    "rdiratime": (True, MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (False, MOUNT_ATTR_NOSYMFOLLOW),  # Linux 5.14
    "rsymfollow": (True, MOUNT_ATTR_NOSYMFOLLOW),
}

# Recursive access-time options: option -> (clears?, access-time mode).
REC_ATIME = {
    "rrelatime": (False, MOUNT_ATTR_RELATIME),
    "rnorelatime": (True, MOUNT_ATTR_RELATIME),
    "rnoatime": (False, MOUNT_ATTR_NOATIME),
    "ratime": (True, MOUNT_ATTR_NOATIME),
    "rstrictatime": (False, MOUNT_ATTR_STRICTATIME),
    "rnostrictatime": (True, MOUNT_ATTR_STRICTATIME),
}

# Options that are instructions to the runtime, never passed to mount(2).
RUNTIME_OPTIONS = ("idmap", "ridmap", "tmpcopyup")

KNOWN_OPTIONS = tuple(sorted({*FLAGS, *PROPAGATION, *REC_FLAGS, *REC_ATIME, *RUNTIME_OPTIONS}))


class MountOpts:
    """The parsed options of one mount.

    flags       MS_* flags to pass to mount(2) (includes MS_BIND[|MS_REC])
    clear       MS_* flags the options explicitly clear ("rw", "suid"...):
                what a bind remount must drop from the source's flags
    propagation MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE, each with MS_REC
                for the r* forms, to apply in order after mounting
    rec_set     MOUNT_ATTR_* for mount_setattr(AT_RECURSIVE) attr_set
    rec_clr     MOUNT_ATTR_* for attr_clr (includes MOUNT_ATTR__ATIME
                whenever an access-time mode is in rec_set)
    data        unknown options, comma-joined, for mount(2)'s data argument
    bind        a bind mount ("bind" or "rbind" given, as the spec defines it)
    rbind       a recursive bind mount ("rbind")
    idmap       an idmapped mount is requested ("idmap" or "ridmap")
    ridmap      ... applied recursively ("ridmap"; last of the two wins)
    tmpcopyup   copy the destination's contents up into the new tmpfs
    """

    __slots__ = (
        "flags",
        "clear",
        "propagation",
        "rec_set",
        "rec_clr",
        "data",
        "bind",
        "rbind",
        "idmap",
        "ridmap",
        "tmpcopyup",
    )

    def __init__(self) -> None:
        self.flags = 0
        self.clear = 0
        self.propagation: list[int] = []
        self.rec_set = 0
        self.rec_clr = 0
        self.data = ""
        self.bind = False
        self.rbind = False
        self.idmap = False
        self.ridmap = False
        self.tmpcopyup = False

    def _items(self) -> tuple:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MountOpts):
            return NotImplemented
        return self._items() == other._items()

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        parts = []
        for n in self.__slots__:
            v = getattr(self, n)
            if n in ("flags", "clear", "rec_set", "rec_clr"):
                parts.append(f"{n}={v:#x}")
            elif n == "propagation":
                parts.append(f"{n}=[{', '.join(f'{p:#x}' for p in v)}]")
            else:
                parts.append(f"{n}={v!r}")
        return f"MountOpts({', '.join(parts)})"


def parse_mount_options(options: list[str]) -> MountOpts:
    """Parse a mount's options (see the module docstring for the rules).

    Later options override earlier ones ("ro,rw" is read-write), as with
    mount(8). Never fails: unknown options are filesystem data.
    """
    m = MountOpts()
    data: list[str] = []
    atime = None  # chosen access-time mode for rec_set, None = unchanged
    for o in options:
        f = FLAGS.get(o)
        if f is not None:
            clears, flag = f
            if clears:
                m.flags &= ~flag
                m.clear |= flag
            else:
                m.flags |= flag
                m.clear &= ~flag
            if o == "bind":
                m.bind = True
            elif o == "rbind":
                m.bind = m.rbind = True
            continue
        p = PROPAGATION.get(o)
        if p is not None:
            m.propagation.append(p)
            continue
        r = REC_FLAGS.get(o)
        if r is not None:
            clears, attr = r
            if clears:
                m.rec_clr |= attr
                m.rec_set &= ~attr
            else:
                m.rec_set |= attr
                m.rec_clr &= ~attr
            continue
        a = REC_ATIME.get(o)
        if a is not None:
            clears, mode = a
            if not clears:
                atime = mode
            elif atime is None or atime == mode:
                atime = MOUNT_ATTR_RELATIME
            continue
        if o == "idmap" or o == "ridmap":
            m.idmap = True
            m.ridmap = o == "ridmap"
        elif o == "tmpcopyup":
            m.tmpcopyup = True
        elif o:
            data.append(o)
    if atime is not None:
        m.rec_set |= atime
        m.rec_clr |= MOUNT_ATTR__ATIME
    m.data = ",".join(data)
    return m


def is_bind_mount(mount: dict) -> bool:
    """Whether a config mount is a bind mount: "bind" or "rbind" in its
    options (config.md: "A mount is a bind mount if it has either bind or
    rbind in the options"), or type "bind", which runc and crun honour too."""
    if mount.get("type") == "bind":
        return True
    opts = mount.get("options")
    return bool(opts) and ("bind" in opts or "rbind" in opts)


def propagation_flags(
    name: str, field: str = "linux.rootfsPropagation", filename: str = "config.json"
) -> int:
    """MS_* flags for a propagation name: "shared", "slave", "private",
    "unbindable" (the spec's values for linux.rootfsPropagation) and their
    recursive r* forms, which runc accepts too (they add MS_REC)."""
    flags = PROPAGATION.get(name)
    if flags is None:
        raise ConfigError(f"{filename}: {field}: unknown propagation {dumps(name)}")
    return flags
