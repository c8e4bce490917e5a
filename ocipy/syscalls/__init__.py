"""The one home of ctypes and raw syscalls in ocipy.

Everything that talks to the kernel beyond what the `os` module offers goes
through here, and every failure becomes a SysError carrying errno, the
operation and its context ("mount proc on /proc: Operation not permitted").

Python 3.11 has no os.unshare/os.setns and no os at all for mount,
pivot_root, openat2 or capset; the small wrappers that exist on PyPI
(python-unshare, python-prctl, ...) are stale or cover one call each, so this
module wraps libc directly, through _ffi (the few ctypes types it needs,
defined on `_ctypes` without the ~6 ms `import ctypes`). Only the create and
exec paths import this package; state/kill/delete/list never do.
"""
import posix
import sys

from ocipy.errors import SysError
from ocipy.syscalls._ffi import buffer, c_int, c_long, c_ulong, get_errno, libc


class _Libc:
    """libc functions by attribute, resolved once on first use."""

    def __getattr__(self, name: str):
        fn = libc(name)
        setattr(self, name, fn)
        return fn


_libc = _Libc()


def malloc_trim() -> None:
    """Give the C heap's free pages back to the kernel (glibc malloc_trim(0):
    the top of the heap and, since 2.8, free pages inside it)."""
    try:
        _libc.malloc_trim(c_long(0))
    except AttributeError:  # not glibc
        pass


def _syscall(nr: int, *args):
    # syscall(2) is variadic and reads longs: pass every argument as one
    return _libc.syscall(c_long(nr), *(a if isinstance(a, (bytes, type(None))) else c_long(a) for a in args))

# --- constants (Linux UAPI) --------------------------------------------------
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# namespace type in the spec -> (clone flag, /proc/self/ns name)
NAMESPACES = {
    "pid": (CLONE_NEWPID, "pid"),
    "network": (CLONE_NEWNET, "net"),
    "mount": (CLONE_NEWNS, "mnt"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "uts": (CLONE_NEWUTS, "uts"),
    "user": (CLONE_NEWUSER, "user"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
    "time": (CLONE_NEWTIME, "time"),
}

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

O_PATH = 0o10000000
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

NS_GET_NSTYPE = 0xB703

_ARCH_SYSCALLS = {
    # name: (x86_64, aarch64)
    "pivot_root": (155, 41),
    "keyctl": (250, 219),
    "sched_setattr": (314, 274),
    "ioprio_set": (251, 30),
    "set_mempolicy": (238, 237),
}
_MACHINE = posix.uname().machine
_ARCH_INDEX = 1 if _MACHINE in ("aarch64", "arm64") else 0
SYS_openat2 = 437  # same number on every architecture (added after 5.x unification)
SYS_close_range = 436
SYS_mount_setattr = 442


def _err(op: str, context: str = "") -> SysError:
    return SysError(get_errno(), op, context)


def _enc(s: str | bytes | None) -> bytes | None:
    if s is None or isinstance(s, bytes):
        return s
    return s.encode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())  # os.fsencode


# --- namespaces ---------------------------------------------------------------
def unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        raise _err("unshare", _ns_names(flags))


def setns(fd: int, nstype: int, context: str = "") -> None:
    if _libc.setns(fd, nstype) != 0:
        raise _err("setns", context)


def _ns_names(flags: int) -> str:
    return ",".join(k for k, (f, _) in NAMESPACES.items() if flags & f)


def ns_type(fd: int) -> int:
    """The CLONE_NEW* type of an open namespace file (ioctl NS_GET_NSTYPE);
    raises SysError(ENOTTY) if fd is not a namespace file."""
    import fcntl

    try:
        return fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError as e:
        raise SysError(e.errno, "NS_GET_NSTYPE") from None


# --- mounts -------------------------------------------------------------------
def mount(source, target, fstype, flags: int = 0, data=None, context: str = "") -> None:
    if _libc.mount(_enc(source), _enc(target), _enc(fstype), c_ulong(flags), _enc(data)) != 0:
        raise _err("mount", context or f"{source} on {target}")


def umount2(target, flags: int = 0) -> None:
    if _libc.umount2(_enc(target), flags) != 0:
        raise _err("umount", str(target))


def pivot_root(new_root, put_old) -> None:
    nr = _ARCH_SYSCALLS["pivot_root"][_ARCH_INDEX]
    if _syscall(nr, _enc(new_root), _enc(put_old)) != 0:
        raise _err("pivot_root", str(new_root))


AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000


def mount_setattr(fd: int, attr_set: int, attr_clr: int, recursive: bool, context: str = "") -> None:
    """Change mount attributes of the mount at fd (recursively): used for the
    spec's recursive options (rro, rnosuid...)."""
    attr = _words(8, attr_set, attr_clr, 0, 0)  # struct mount_attr
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    if _syscall(SYS_mount_setattr, fd, b"", flags, attr, len(attr)) != 0:
        raise _err("mount_setattr", context)


SYS_open_tree = 428  # same number on every architecture
SYS_move_mount = 429
OPEN_TREE_CLONE = 1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
MOUNT_ATTR_IDMAP = 0x100000


def open_tree(path: str, clone: bool, recursive: bool, context: str = "") -> int:
    """open_tree(2): an O_PATH-like fd of the mount at `path`; with clone a
    detached copy of it (recursive: of the whole tree below too)."""
    flags = posix.O_CLOEXEC | (OPEN_TREE_CLONE if clone else 0) | (AT_RECURSIVE if recursive else 0)
    fd = _syscall(SYS_open_tree, -100, _enc(path), flags)  # AT_FDCWD
    if fd < 0:
        raise _err("open_tree", context or path)
    return fd


def mount_setattr_idmap(fd: int, userns_fd: int, recursive: bool, context: str = "") -> None:
    """Make the (detached) mount at fd idmapped with the mappings of the
    user namespace userns_fd (MOUNT_ATTR_IDMAP, Linux 5.12; the filesystem
    must support it)."""
    attr = _words(8, MOUNT_ATTR_IDMAP, 0, 0, userns_fd)  # struct mount_attr
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    if _syscall(SYS_mount_setattr, fd, b"", flags, attr, len(attr)) != 0:
        raise _err("mount_setattr(MOUNT_ATTR_IDMAP)", context)


def move_mount(fd: int, target_fd: int, context: str = "") -> None:
    """Attach the detached mount fd on the file or directory target_fd (an
    O_PATH fd, so no path is resolved again): move_mount(2)."""
    if _syscall(SYS_move_mount, fd, b"", target_fd, b"", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0:
        raise _err("move_mount", context)


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): the kernel resolves `path` under `dirfd` with `resolve`
    (RESOLVE_IN_ROOT: symlinks and '..' can never leave dirfd). Raises
    SysError; .errno tells ENOENT/ELOOP/EXDEV apart."""
    how = _words(8, flags | posix.O_CLOEXEC, mode, resolve)  # struct open_how
    fd = _syscall(SYS_openat2, dirfd, _enc(path), how, len(how))
    if fd < 0:
        raise _err("openat2", path)
    return fd


PROC_SUPER_MAGIC = 0x9FA0


def fstatfs_type(fd: int) -> int:
    """f_type of the filesystem holding fd (fstatfs(2)): PROC_SUPER_MAGIC..."""
    out = buffer(120)  # struct statfs on 64-bit Linux; f_type is the first word
    if _libc.fstatfs(c_int(fd), out) != 0:
        raise _err("fstatfs")
    return int.from_bytes(out.raw[:4], sys.byteorder, signed=True)  # struct.unpack_from("=l")


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    if _syscall(SYS_close_range, first, last, flags) != 0:
        e = get_errno()
        if flags or e not in (1, 13, 38):  # EPERM/EACCES (a seccomp profile without it), ENOSYS
            raise _err("close_range")
        # fd by fd, as runc does (a container's seccomp filter may be loaded already)
        for name in posix.listdir("/proc/self/fd"):
            fd = int(name)
            if first <= fd <= last:
                try:
                    posix.close(fd)
                except OSError:
                    pass


# --- identity, processes ------------------------------------------------------
def sethostname(name: str) -> None:
    b = name.encode()
    if _libc.sethostname(b, len(b)) != 0:
        raise _err("sethostname", repr(name))


def setdomainname(name: str) -> None:
    b = name.encode()
    if _libc.setdomainname(b, len(b)) != 0:
        raise _err("setdomainname", repr(name))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0, context: str = "") -> int:
    r = _libc.prctl(c_int(option), c_ulong(arg2), c_ulong(arg3), c_ulong(arg4), c_ulong(arg5))
    if r < 0:
        raise _err("prctl", context or str(option))
    return r


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _words(size: int, *values: int) -> bytes:
    """struct.pack("=" + "I"/"Q" * n, *values) for unsigned values, without
    the struct module: exec's stage 1 (chrooted, where no module file can be
    found any more) needs openat2 and capset, and struct costs ~0.5M
    instructions to import on exec's path."""
    return b"".join(v.to_bytes(size, sys.byteorder) for v in values)


def capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr = _words(4, _LINUX_CAPABILITY_VERSION_3, 0)
    m = 0xFFFFFFFF
    data = _words(4, effective & m, permitted & m, inheritable & m,
                  effective >> 32 & m, permitted >> 32 & m, inheritable >> 32 & m)
    if _libc.capset(hdr, data) != 0:
        raise _err("capset")


def capget() -> tuple[int, int, int]:
    hdr = _words(4, _LINUX_CAPABILITY_VERSION_3, 0)
    out = buffer(24)
    if _libc.capget(hdr, out) != 0:
        raise _err("capget")
    e0, p0, i0, e1, p1, i1 = (int.from_bytes(out.raw[i:i + 4], sys.byteorder) for i in range(0, 24, 4))
    return e0 | e1 << 32, p0 | p1 << 32, i0 | i1 << 32


def _sched_attr(policy: int, flags: int, nice: int, priority: int, runtime: int, deadline: int,
                period: int) -> bytes:
    """struct sched_attr (VER0, 48 bytes): struct.pack("=IIQiIQQQ", 48, ...)."""
    return (_words(4, 48, policy) + _words(8, flags) + nice.to_bytes(4, sys.byteorder, signed=True)
            + _words(4, priority) + _words(8, runtime, deadline, period))


def sched_setattr(policy: int, flags: int, nice: int, priority: int, runtime: int, deadline: int,
                  period: int) -> None:
    """sched_setattr(2) on the calling thread (struct sched_attr, VER0)."""
    attr = _sched_attr(policy, flags, nice, priority, runtime, deadline, period)
    nr = _ARCH_SYSCALLS["sched_setattr"][_ARCH_INDEX]
    if _syscall(nr, 0, attr, 0) != 0:
        raise _err("sched_setattr")


def ioprio_set(value: int) -> None:
    nr = _ARCH_SYSCALLS["ioprio_set"][_ARCH_INDEX]
    if _syscall(nr, 1, 0, value) != 0:  # IOPRIO_WHO_PROCESS, self
        raise _err("ioprio_set")


def _mask_bytes(mask: int, minimum: int) -> bytes:
    """A bit mask (bit N = CPU or node N) as the kernel's array of unsigned
    longs, at least `minimum` bytes, a multiple of 8."""
    n = max(minimum, (mask.bit_length() + 63) // 64 * 8)
    return mask.to_bytes(n, "little")


def sched_setaffinity(mask: int, pid: int = 0) -> None:
    """sched_setaffinity(2): run `pid` (0: the calling thread) only on the
    CPUs whose bits are set in `mask`."""
    buf = _mask_bytes(mask, 128)  # 1024 CPUs, glibc's cpu_set_t
    if _libc.sched_setaffinity(c_int(pid), c_ulong(len(buf)), buf) != 0:
        raise _err("sched_setaffinity", _bits_list(mask))


def sched_getaffinity(pid: int = 0) -> int:
    out = buffer(1024)
    n = _libc.sched_getaffinity(c_int(pid), c_ulong(1024), out)
    if n < 0:
        raise _err("sched_getaffinity")
    return int.from_bytes(out.raw, "little")


def set_mempolicy(mode: int, nodes: int = 0) -> None:
    """set_mempolicy(2) for the calling thread (inherited across fork and
    execve). `mode` includes the MPOL_F_* flags; `nodes` is a node bit mask
    (0 with no node: NULL nodemask)."""
    nr = _ARCH_SYSCALLS["set_mempolicy"][_ARCH_INDEX]
    if nodes:
        buf = _mask_bytes(nodes, 8)
        r = _syscall(nr, mode, buf, len(buf) * 8 + 1)  # the kernel counts maxnode - 1 bits
    else:
        r = _syscall(nr, mode, None, 0)
    if r != 0:
        raise _err("set_mempolicy", f"mode {mode:#x} nodes {_bits_list(nodes) or '(none)'}")


def _bits_list(mask: int) -> str:
    return ",".join(str(i) for i in range(mask.bit_length()) if mask >> i & 1)


def personality(persona: int) -> None:
    if _libc.personality(c_ulong(persona)) == -1:
        raise _err("personality", hex(persona))


KEYCTL_JOIN_SESSION_KEYRING = 1


def join_session_keyring(name: str) -> None:
    """A new session keyring for the container, so it does not share the
    caller's keys (runc does the same unless --no-new-keyring)."""
    nr = _ARCH_SYSCALLS["keyctl"][_ARCH_INDEX]
    if _syscall(nr, KEYCTL_JOIN_SESSION_KEYRING, _enc(name), 0, 0, 0) < 0:
        raise _err("keyctl", f"join session keyring {name}")


def set_subreaper() -> None:
    prctl(PR_SET_CHILD_SUBREAPER, 1, context="PR_SET_CHILD_SUBREAPER")


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig, context="PR_SET_PDEATHSIG")


# --- network ------------------------------------------------------------------
def loopback_up() -> None:
    """Bring `lo` up in the current network namespace: one SIOCSIFFLAGS ioctl
    (no netlink library needed for this hot path)."""
    import fcntl

    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    fd = _libc.socket(c_int(2), c_int(2 | 0o2000000), c_int(0))  # AF_INET, SOCK_DGRAM|SOCK_CLOEXEC
    if fd < 0:
        raise _err("socket", "AF_INET for lo")
    try:
        # struct ifreq: char ifr_name[16], then the union, here short ifr_flags
        # (native order), 40 bytes in all (bytes ops: `struct` is one import more)
        name = b"lo".ljust(16, b"\0")
        try:
            res = fcntl.ioctl(fd, SIOCGIFFLAGS, name + bytes(24))
            flags = int.from_bytes(res[16:18], sys.byteorder) | IFF_UP
            fcntl.ioctl(fd, SIOCSIFFLAGS, name + flags.to_bytes(2, sys.byteorder) + bytes(22))
        except OSError as e:
            raise SysError(e.errno, "bring up", "lo") from None
    finally:
        posix.close(fd)
