"""cgroup v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program.

cgroup v2 has no devices.allow; the kernel instead runs an eBPF program
attached to the cgroup on every device open/mknod (struct
bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }, access_type =
(BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*), returning 1 to allow, 0 to deny.

The program is the one runc generates (libcontainer/cgroups/devices/ebpf,
devicefilter.go), from the same emulated rule set (devices.py):

    r2 = ctx->access_type & 0xffff      ; device type (1 block, 2 char)
    r3 = ctx->access_type >> 16         ; requested access (1 mknod, 2 read, 4 write)
    r4 = ctx->major ; r5 = ctx->minor
    for each exception, last one first:
        if r2 != TYPE goto next
        if ACCESS != rwm: r1 = r3 & ACCESS
            allow-list: if r1 != r3 goto next   ; every requested bit allowed
            deny-list:  if r1 == 0 goto next    ; any requested bit denied
        if MAJOR != *: if r4 != MAJOR goto next
        if MINOR != *: if r5 != MINOR goto next
        r0 = VERDICT; exit
    next: ...
    r0 = DEFAULT; exit

All exceptions carry the same verdict (the opposite of the default), so the
order only matters for speed. The access tests are the v1 kernel's: an
allow exception must cover the whole request (match_exception), a deny
exception refuses any overlap (match_exception_partial). runc's program
uses the first test for deny exceptions too, so a request for "rw" passes a
deny of "w" there; here it does not. The emitter is tiny and pure (tests compare
its bytes); loading and attaching use bpf(2) through ocipy.syscalls._ffi
(no ctypes import: `_ctypes.addressof` gives the buffer addresses that
bpf_attr carries as u64 fields).

Attaching follows runc: with BPF_F_ALLOW_MULTI, then the programs attached
before (an update) are detached, so there is never a moment without a
filter.
"""
import posix
import struct

from ocipy.cgroups import CgroupError
from ocipy.cgroups.devices import Emulator, normalize

# --- instruction encoding (linux/bpf.h, linux/bpf_common.h) ------------------------
BPF_LDX, BPF_ALU, BPF_JMP = 0x01, 0x04, 0x05
BPF_W, BPF_MEM = 0x00, 0x60
BPF_K, BPF_X = 0x00, 0x08
BPF_AND, BPF_RSH, BPF_MOV = 0x50, 0x70, 0xB0
BPF_JEQ, BPF_JNE, BPF_EXIT = 0x10, 0x50, 0x90

DEV_BLOCK, DEV_CHAR = 1, 2                 # BPF_DEVCG_DEV_*
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4   # BPF_DEVCG_ACC_*
_ACC = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}
_TYPE = {"b": DEV_BLOCK, "c": DEV_CHAR}


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """struct bpf_insn { u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm; }
    (little-endian bitfields: dst in the low nibble)."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def ldx_w(dst: int, src: int, off: int) -> bytes:
    return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off)


def alu32_imm(op: int, dst: int, imm: int) -> bytes:
    return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm)


def mov32_reg(dst: int, src: int) -> bytes:
    return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src)


def jne_imm(dst: int, imm: int, off: int) -> bytes:
    return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)


def jeq_imm(dst: int, imm: int, off: int) -> bytes:
    return insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm)


def jne_reg(dst: int, src: int, off: int) -> bytes:
    return insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, off)


def exit_() -> bytes:
    return insn(BPF_JMP | BPF_EXIT)


PROLOGUE = (
    ldx_w(2, 1, 0), alu32_imm(BPF_AND, 2, 0xFFFF),   # r2 = type
    ldx_w(3, 1, 0), alu32_imm(BPF_RSH, 3, 16),       # r3 = access
    ldx_w(4, 1, 4),                                  # r4 = major
    ldx_w(5, 1, 8),                                  # r5 = minor
)


def _block(t: str, major: int, minor: int, access: str, allow: bool) -> list:
    """One exception: tests that jump past the block, then the verdict."""
    acc = 0
    for c in access:
        acc |= _ACC[c]
    tests = [("imm", 2, _TYPE[t])]
    if acc != ACC_MKNOD | ACC_READ | ACC_WRITE:
        tests.append(("acc", acc))
    if major >= 0:
        tests.append(("imm", 4, major))
    if minor >= 0:
        tests.append(("imm", 5, minor))
    # lengths: a test is 1 instruction, the access test 3; then mov + exit
    n = sum(3 if x[0] == "acc" else 1 for x in tests) + 2
    out, pos = [], 0
    for x in tests:
        if x[0] == "acc":
            out.append(mov32_reg(1, 3))
            out.append(alu32_imm(BPF_AND, 1, x[1]))
            pos += 2
            out.append(jne_reg(1, 3, n - pos - 1) if allow else jeq_imm(1, 0, n - pos - 1))
        else:
            out.append(jne_imm(x[1], x[2], n - pos - 1))
        pos += 1
    out.append(alu32_imm(BPF_MOV, 0, 1 if allow else 0))
    out.append(exit_())
    return out


def program(rules: list) -> tuple:
    """The device filter for the spec's rules -> (bytecode, allow_all).

    allow_all is True when the rules leave every device allowed (no program
    is needed then)."""
    emu = Emulator.of(normalize(rules), default_allow=False)
    insns = list(PROLOGUE)
    for r in reversed(emu.rules()):
        if r.type == "a":
            continue  # the default verdict below
        insns.extend(_block(r.type, r.major, r.minor, r.access, r.allow))
    insns.append(alu32_imm(BPF_MOV, 0, 1 if emu.default_allow else 0))
    insns.append(exit_())
    return b"".join(insns), emu.is_allow_all()


# --- bpf(2) -----------------------------------------------------------------------
BPF_PROG_LOAD, BPF_PROG_ATTACH, BPF_PROG_DETACH = 5, 8, 9
BPF_PROG_GET_FD_BY_ID, BPF_PROG_QUERY = 13, 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
_ATTR_SIZE = 128  # bytes of union bpf_attr we pass (the kernel wants the rest zero)
_LICENSE = b"Apache\0"  # not GPL: the device program calls no GPL-only helper
_NAME = b"ocipy_devices"
_SYS_BPF = {"x86_64": 321, "aarch64": 280, "arm64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}


class _Bpf:
    fn = None


def _addr(buf) -> int:
    from _ctypes import addressof

    return addressof(buf)


def _bpf(cmd: int, attr: bytes, op: str, what: str = "linux.resources.devices"):
    """bpf(cmd, attr) -> (result, attr after the call)."""
    from ocipy.syscalls._ffi import buffer, c_long, get_errno, libc

    if _Bpf.fn is None:
        _Bpf.fn = libc("syscall")
    nr = _SYS_BPF.get(posix.uname().machine)
    if nr is None:
        raise CgroupError(f"{what}: bpf(2) number unknown on {posix.uname().machine}")
    buf = buffer(_ATTR_SIZE)
    buf.raw = attr.ljust(_ATTR_SIZE, b"\0")
    r = _Bpf.fn(c_long(nr), c_long(cmd), buf, c_long(_ATTR_SIZE))
    if r < 0:
        err = get_errno()
        raise _BpfError(err, f"{what}: bpf({op}): {posix.strerror(err)}")
    return r, buf.raw


class _BpfError(CgroupError):
    def __init__(self, err: int, msg: str) -> None:
        self.errno = err
        super().__init__(msg)


def load(code: bytes) -> int:
    """BPF_PROG_LOAD a device program; returns its fd. On a verifier refusal
    the first lines of its log are in the error."""
    from ocipy.syscalls._ffi import buffer

    insns = buffer(len(code))
    insns.raw = code
    lic = buffer(len(_LICENSE))
    lic.raw = _LICENSE

    def attr(log_buf=None, log_size=0, level=0) -> bytes:
        # prog_type, insn_cnt, insns, license, log_level, log_size, log_buf,
        # kern_version, prog_flags, prog_name[16]
        return struct.pack("<IIQQIIQII16s", BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8, _addr(insns),
                           _addr(lic), level, log_size, _addr(log_buf) if log_buf is not None else 0,
                           0, 0, _NAME)

    try:
        fd, _ = _bpf(BPF_PROG_LOAD, attr(), "BPF_PROG_LOAD")
        return fd
    except _BpfError as e:
        if e.errno not in (22, 13):  # EINVAL, EACCES: ask the verifier why
            raise
        log = buffer(1 << 16)
        try:
            fd, _ = _bpf(BPF_PROG_LOAD, attr(log, 1 << 16, 1), "BPF_PROG_LOAD")
            return fd  # it passed this time: keep it
        except _BpfError:
            text = log.raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip().splitlines()
            raise CgroupError(f"{e} (verifier: {' | '.join(text[-3:])})") from None


def query(cgroup_fd: int) -> list:
    """Ids of the device programs attached to the cgroup itself."""
    from ocipy.syscalls._ffi import buffer

    ids = buffer(4 * 64)
    # target_fd, attach_type, query_flags, attach_flags, prog_ids, prog_cnt
    _, out = _bpf(BPF_PROG_QUERY, struct.pack("<IIIIQI", cgroup_fd, BPF_CGROUP_DEVICE, 0, 0, _addr(ids), 64),
                  "BPF_PROG_QUERY")
    cnt = struct.unpack_from("<I", out, 24)[0]
    return list(struct.unpack_from(f"<{min(cnt, 64)}I", ids.raw))


def attach(cgroup_fd: int, prog_fd: int) -> None:
    # target_fd, attach_bpf_fd, attach_type, attach_flags
    _bpf(BPF_PROG_ATTACH, struct.pack("<IIII", cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI),
         "BPF_PROG_ATTACH")


def detach(cgroup_fd: int, prog_fd: int) -> None:
    _bpf(BPF_PROG_DETACH, struct.pack("<IIII", cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, 0), "BPF_PROG_DETACH")


def prog_fd_by_id(prog_id: int) -> int:
    fd, _ = _bpf(BPF_PROG_GET_FD_BY_ID, struct.pack("<III", prog_id, 0, 0), "BPF_PROG_GET_FD_BY_ID")
    return fd


def apply_device_rules(cgroup_dir: str, rules: list) -> None:
    """Install the device filter for `rules` on a cgroup2 directory,
    replacing the one there (if the rules allow everything, only remove)."""
    code, allow_all = program(rules)
    try:
        cg = posix.open(cgroup_dir, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    except OSError as e:
        raise CgroupError(f"linux.resources.devices: open cgroup {cgroup_dir}: {posix.strerror(e.errno)}") from None
    prog = -1
    try:
        old = query(cg)
        if not allow_all:
            prog = load(code)
            attach(cg, prog)
        for pid in old:
            try:
                fd = prog_fd_by_id(pid)
            except _BpfError as e:
                if e.errno == 2:  # ENOENT: gone meanwhile
                    continue
                raise
            try:
                detach(cg, fd)
            except _BpfError as e:
                if e.errno != 2:
                    raise
            finally:
                posix.close(fd)
    finally:
        if prog >= 0:
            posix.close(prog)  # the attachment keeps the program alive
        posix.close(cg)
