"""seccomp(2), pidfd_getfd(2) and a small binding of libseccomp.

Two halves with different users:
  - the raw kernel calls (`load_filter`, `action_available`,
    `flag_supported`, `pidfd_getfd`): used by the container's init and
    exec'd processes, which load a BPF program compiled beforehand; they
    need no libseccomp at all (the library may not even exist in the
    container's mount namespace);
  - `Libseccomp`: the few libseccomp calls that compile a filter to BPF
    (seccomp_init/arch_add/rule_add_array/export_bpf), used in stage 0 only,
    dlopen'd on first use. pyseccomp is unmaintained and ctypes costs
    ~6 ms, so this is our own binding on syscalls._ffi.

Every failure is a SysError (errno, operation, context).
"""
import posix
import struct

from ocipy.errors import SysError
from ocipy.syscalls import _ARCH_INDEX, _syscall
from ocipy.syscalls._ffi import addressof, buffer, c_int, c_long, c_uint, foreign, get_errno, read_memory

# syscall numbers (x86_64, aarch64); pidfd_getfd is unified (438)
_SYS_seccomp = (317, 277)[_ARCH_INDEX]
SYS_pidfd_getfd = 438

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2

# seccomp(2) filter flags (linux/seccomp.h)
FLAG_TSYNC = 1 << 0
FLAG_LOG = 1 << 1
FLAG_SPEC_ALLOW = 1 << 2
FLAG_NEW_LISTENER = 1 << 3
FLAG_TSYNC_ESRCH = 1 << 4
FLAG_WAIT_KILLABLE_RECV = 1 << 5

FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": FLAG_WAIT_KILLABLE_RECV,
}

# filter return values (SECCOMP_RET_*), as libseccomp's SCMP_ACT_* values
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000


def load_filter(bpf: bytes, flags: int) -> int:
    """Install the classic-BPF program `bpf` (struct sock_filter[]) on the
    calling thread. Returns the notification fd with FLAG_NEW_LISTENER,
    else 0. Without no_new_privs this needs CAP_SYS_ADMIN."""
    n = len(bpf) // 8
    prog = buffer(len(bpf) or 8)
    prog.raw = bpf.ljust(len(prog), b"\0")
    fprog = struct.pack("=HxxxxxxQ", n, addressof(prog))  # struct sock_fprog
    r = _syscall(_SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, fprog)
    if r < 0:
        raise SysError(get_errno(), "seccomp", f"load filter ({n} instructions, flags {flags:#x})")
    return r


def action_available(ret: int) -> bool:
    """Whether the kernel knows the filter return action `ret`."""
    return _syscall(_SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, struct.pack("=I", ret)) == 0


def flag_supported(flag: int) -> bool:
    """Whether the kernel accepts a filter flag: a NULL program then fails
    with EFAULT (flags are checked first) instead of EINVAL (runc's probe).
    WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER."""
    if flag & FLAG_WAIT_KILLABLE_RECV:
        flag |= FLAG_NEW_LISTENER
    if _syscall(_SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, None) >= 0:
        return True  # not reached: a NULL program cannot load
    return get_errno() == 14  # EFAULT


def pidfd_getfd(pidfd: int, fd: int) -> int:
    """A duplicate of process `pidfd`'s descriptor `fd` (CLOEXEC); needs
    ptrace-attach rights over it (stage 0: host root)."""
    r = _syscall(SYS_pidfd_getfd, pidfd, fd, 0)
    if r < 0:
        raise SysError(get_errno(), "pidfd_getfd", f"fd {fd}")
    return r


# --- libseccomp (stage 0 only) -------------------------------------------------
SONAME = "libseccomp.so.2"

# enum scmp_compare
CMP = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
       "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
NR_SCMP_ERROR = -1


class Libseccomp:
    """One filter context of libseccomp. Raises OSError (from dlopen) if
    the library is missing, SysError on a failing call."""

    _fns: dict = {}

    @classmethod
    def _fn(cls, name: str, returns_int: bool = True):
        f = cls._fns.get(name)
        if f is None:
            f = cls._fns[name] = foreign(SONAME, name, returns_int)
        return f

    @classmethod
    def version(cls) -> tuple[int, int, int]:
        p = cls._fn("seccomp_version", returns_int=False)()
        return struct.unpack("=3I", read_memory(p, 12)) if p else (0, 0, 0)

    @classmethod
    def resolve_syscall(cls, name: str) -> int:
        """The native syscall number of `name` (negative pseudo numbers for
        calls of other architectures), NR_SCMP_ERROR if unknown."""
        return cls._fn("seccomp_syscall_resolve_name")(name.encode())

    @classmethod
    def resolve_syscall_arch(cls, token: int, name: str) -> int:
        """`name`'s number on architecture `token` (negative: none there)."""
        return cls._fn("seccomp_syscall_resolve_name_arch")(c_uint(token), name.encode())

    @classmethod
    def native_arch(cls) -> int:
        return cls._fn("seccomp_arch_native")() & 0xFFFFFFFF

    @classmethod
    def resolve_arch(cls, name: str) -> int:
        """The AUDIT_ARCH token of libseccomp's arch name ("x86_64"), 0 if unknown."""
        return cls._fn("seccomp_arch_resolve_name")(name.encode()) & 0xFFFFFFFF

    def __init__(self, default_action: int) -> None:
        self.ctx = self._fn("seccomp_init", returns_int=False)(c_uint(default_action))
        if not self.ctx:
            raise SysError(22, "seccomp_init", f"default action {default_action:#x}")

    def _check(self, r: int, op: str, context: str) -> int:
        if r < 0:
            raise SysError(-r, op, context)
        return r

    def arch_add(self, token: int) -> bool:
        """Add an architecture; False if already there."""
        r = self._fn("seccomp_arch_add")(c_long(self.ctx), c_uint(token))
        if r == -17:  # EEXIST
            return False
        self._check(r, "seccomp_arch_add", f"{token:#x}")
        return True

    def rule_add(self, action: int, nr: int, conds: list, context: str) -> None:
        """conds: [(arg index, CMP op, datum_a, datum_b)], all ANDed."""
        arr = b"".join(struct.pack("=IIQQ", i, op, a, b) for i, op, a, b in conds)  # struct scmp_arg_cmp
        r = self._fn("seccomp_rule_add_array")(c_long(self.ctx), c_uint(action), c_int(nr),
                                               c_uint(len(conds)), arr or None)
        self._check(r, "seccomp_rule_add", context)

    def export_bpf(self) -> bytes:
        fd = posix.memfd_create("ocipy-seccomp", posix.MFD_CLOEXEC)
        try:
            self._check(self._fn("seccomp_export_bpf")(c_long(self.ctx), c_int(fd)), "seccomp_export_bpf", "")
            size = posix.lseek(fd, 0, 2)  # SEEK_END
            return posix.pread(fd, size, 0)
        finally:
            posix.close(fd)

    def release(self) -> None:
        if self.ctx:
            self._fn("seccomp_release", returns_int=False)(c_long(self.ctx))
            self.ctx = 0
