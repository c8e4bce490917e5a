"""Classic BPF for seccomp, in pure Python: an evaluator and the -ENOSYS stub.

`run(bpf, nr, args, arch)` computes what the kernel would answer for one
call (the SECCOMP_RET_* value), without loading anything: the launcher asks
it whether the calls ocipy itself still makes after the filter is loaded
(the exec trampoline's memfd_create/execveat...) are allowed, and falls
back to a plain execve where they are not, instead of failing or being
killed where runc would not. Tests use it to check compiled programs
against the kernel's own verdicts.

`enosys_stub(...)`: runc's patchbpf idea. Docker-style profiles deny
everything they do not list (defaultAction ERRNO): a syscall newer than the
profile (clone3, faccessat2, fchmodat2... on a newer kernel) would get
EPERM, which libcs treat as a real refusal, where ENOSYS makes them fall
back to the older call. The stub, put before libseccomp's program, answers
ENOSYS for any call numbered above the highest one the profile names for
that architecture; everything else goes on to the profile.
"""
import struct

# instruction classes and fields (linux/bpf_common.h)
_LD, _LDX, _ST, _STX, _ALU, _JMP, _RET, _MISC = range(8)
_W, _H, _B = 0x00, 0x08, 0x10
_IMM, _ABS, _IND, _MEM, _LEN, _MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
_K, _X, _A = 0x00, 0x08, 0x10
_JA, _JEQ, _JGT, _JGE, _JSET = 0x00, 0x10, 0x20, 0x30, 0x40
M32 = 0xFFFFFFFF

SECCOMP_RET_ACTION_FULL = 0xFFFF0000
X32_SYSCALL_BIT = 0x40000000
AUDIT_ARCH_X86_64 = 0xC000003E


def decode(bpf: bytes) -> list:
    """struct sock_filter[] -> [(code, jt, jf, k)]."""
    return [struct.unpack_from("=HBBI", bpf, i) for i in range(0, len(bpf), 8)]


def encode(prog: list) -> bytes:
    return b"".join(struct.pack("=HBBI", c, jt, jf, k & M32) for c, jt, jf, k in prog)


def seccomp_data(nr: int, arch: int, args=(), ip: int = 0) -> bytes:
    a = list(args) + [0] * (6 - len(args))
    return struct.pack("=iIQ6Q", nr, arch, ip, *(x & 0xFFFFFFFFFFFFFFFF for x in a))


def run(bpf: bytes, nr: int, args=(), arch: int = AUDIT_ARCH_X86_64) -> int:
    """The filter's return value for this call (ValueError on a program
    the kernel would have refused)."""
    data = seccomp_data(nr, arch, args)
    prog = decode(bpf)
    A = X = 0
    mem = [0] * 16
    pc = 0
    for _ in range(len(prog) + 1):  # classic BPF only jumps forward
        if pc >= len(prog):
            raise ValueError("ran off the end of the program")
        code, jt, jf, k = prog[pc]
        pc += 1
        cls = code & 0x07
        if cls == _RET:
            src = code & 0x18
            return (A if src == _A else k) & M32
        if cls == _LD:
            mode, size = code & 0xE0, code & 0x18
            if mode == _ABS and size == _W:
                if k % 4 or k + 4 > len(data):
                    raise ValueError(f"bad load offset {k}")
                A = struct.unpack_from("=I", data, k)[0]
            elif mode == _IMM:
                A = k
            elif mode == _MEM:
                A = mem[k]
            elif mode == _LEN:
                A = len(data)
            else:
                raise ValueError(f"unsupported load {code:#x}")
        elif cls == _LDX:
            mode = code & 0xE0
            X = k if mode == _IMM else mem[k] if mode == _MEM else len(data) if mode == _LEN else None
            if X is None:
                raise ValueError(f"unsupported ldx {code:#x}")
        elif cls == _ST:
            mem[k] = A
        elif cls == _STX:
            mem[k] = X
        elif cls == _ALU:
            op, v = code & 0xF0, (X if code & _X else k)
            if op == 0x00:
                A = A + v
            elif op == 0x10:
                A = A - v
            elif op == 0x20:
                A = A * v
            elif op == 0x30:
                A = A // v if v else 0
            elif op == 0x40:
                A = A | v
            elif op == 0x50:
                A = A & v
            elif op == 0x60:
                A = A << (v & 31)
            elif op == 0x70:
                A = A >> (v & 31)
            elif op == 0x80:
                A = -A
            elif op == 0x90:
                A = A % v if v else 0
            elif op == 0xA0:
                A = A ^ v
            else:
                raise ValueError(f"unsupported alu {code:#x}")
            A &= M32
        elif cls == _JMP:
            op = code & 0xF0
            if op == _JA:
                pc += k
                continue
            v = X if code & _X else k
            if op == _JEQ:
                cond = A == v
            elif op == _JGT:
                cond = A > v
            elif op == _JGE:
                cond = A >= v
            elif op == _JSET:
                cond = bool(A & v)
            else:
                raise ValueError(f"unsupported jump {code:#x}")
            pc += jt if cond else jf
        elif cls == _MISC:
            if code & 0xF8 == 0x00:  # TAX
                X = A
            else:  # TXA
                A = X
    raise ValueError("program too long")


def allows(bpf: bytes, nr: int, args=(), arch: int = AUDIT_ARCH_X86_64) -> bool:
    """Whether the call would run (ALLOW or LOG; USER_NOTIF counts as not:
    it waits for an agent)."""
    return run(bpf, nr, args, arch) & SECCOMP_RET_ACTION_FULL in (0x7FFF0000, 0x7FFC0000)


def enosys_stub(last: dict, x32_last: int | None = None) -> list:
    """Instructions to put before a program: for each arch token in `last`
    (arch -> the highest syscall number the profile names there) a call
    numbered above it returns -ENOSYS. x32 shares x86_64's token (its
    numbers carry X32_SYSCALL_BIT): x32_last is its own highest number.
    Anything else (other archs, known numbers) continues at the program's
    first instruction, right after the stub."""
    ENOSYS = 0x00050000 | 38
    blocks = []  # (arch, instructions); None marks "continue"
    for arch in sorted(last):
        if arch == AUDIT_ARCH_X86_64:
            continue
        blocks.append((arch, [(_LD | _W | _ABS, 0, 0, 0),            # A = nr
                              (_JMP | _JGT | _K, 0, 1, last[arch]),   # above the last: the ret, else skip it
                              (_RET | _K, 0, 0, ENOSYS),
                              None]))
    if AUDIT_ARCH_X86_64 in last or x32_last is not None:
        b = [(_LD | _W | _ABS, 0, 0, 0),
             (_JMP | _JGE | _K, 0, 3, X32_SYSCALL_BIT)]  # x32 numbers: the next 3; native: skip them
        if x32_last is not None:
            b += [(_JMP | _JGT | _K, 0, 1, x32_last), (_RET | _K, 0, 0, ENOSYS), None]
        else:
            b += [None, None, None]  # no x32 in the profile: the program decides
        if AUDIT_ARCH_X86_64 in last:
            b += [(_JMP | _JGT | _K, 0, 1, last[AUDIT_ARCH_X86_64]), (_RET | _K, 0, 0, ENOSYS), None]
        else:
            b += [None]
        blocks.append((AUDIT_ARCH_X86_64, b))
    if not blocks:
        return []
    # dispatch: A = arch; one jeq per block; else continue
    head = [(_LD | _W | _ABS, 0, 0, 4)]
    n = len(blocks)
    start = 0
    for i, (arch, b) in enumerate(blocks):
        jt = (n - i - 1) + 1 + start  # over the remaining jeqs, the "continue", earlier blocks
        if jt > 255:
            raise ValueError("too many architectures for the -ENOSYS stub")
        head.append((_JMP | _JEQ | _K, jt, 0, arch))
        start += len(b)
    head.append(None)
    flat = head + [ins for _, b in blocks for ins in b]
    total = len(flat)
    return [(_JMP | _JA, 0, 0, total - i - 1) if ins is None else ins for i, ins in enumerate(flat)]
