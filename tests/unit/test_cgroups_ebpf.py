"""The cgroup v2 device program: exact instruction bytes for a few rule
sets, runc's listings where the semantics agree, and a small interpreter
that runs the bytecode against the v1 kernel's rules on random rule lists.
(The integration tests load it into the kernel and open real devices.)"""
from __future__ import annotations

import random
import struct

import pytest

from ocipy.cgroups.devices import Emulator, normalize
from ocipy.cgroups.ebpf import PROLOGUE, insn, program

PROLOGUE_BYTES = bytes.fromhex(
    "6112000000000000"    # ldxw r2, [r1+0]
    "54020000ffff0000"    # w2 &= 0xffff
    "6113000000000000"    # ldxw r3, [r1+0]
    "7403000010000000"    # w3 >>= 16
    "6114040000000000"    # ldxw r4, [r1+4]
    "6115080000000000"    # ldxw r5, [r1+8]
)
RET0 = bytes.fromhex("b400000000000000" "9500000000000000")   # w0 = 0; exit
RET1 = bytes.fromhex("b400000001000000" "9500000000000000")   # w0 = 1; exit


def test_insn_encoding():
    # struct bpf_insn: code, dst (low nibble) | src (high nibble), s16 off, s32 imm
    assert insn(0x61, 2, 1, 0, 0) == bytes.fromhex("6112000000000000")
    assert insn(0x55, 4, 0, -1, 136) == bytes.fromhex("5504ffff88000000")
    assert b"".join(PROLOGUE) == PROLOGUE_BYTES


def test_no_rules_denies_everything():
    code, allow_all = program([])
    assert code == PROLOGUE_BYTES + RET0 and not allow_all


def test_privileged_allows_everything():
    code, allow_all = program([{"allow": True, "access": "rwm"}])
    assert code == PROLOGUE_BYTES + RET1 and allow_all


def test_one_allowed_device_with_partial_access():
    code, _ = program([{"allow": False, "access": "rwm"},
                       {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}])
    block = bytes.fromhex(
        "5502070002000000"    # if r2 != 2 (char) goto +7 (next block)
        "bc31000000000000"    # w1 = w3
        "5401000006000000"    # w1 &= 6 (read|write)
        "5d31040000000000"    # if r1 != r3 goto +4: some requested access is not allowed
        "5504030001000000"    # if r4 != 1 goto +3
        "5505020003000000"    # if r5 != 3 goto +2
        "b400000001000000"    # w0 = 1
        "9500000000000000"    # exit
    )
    assert code == PROLOGUE_BYTES + block + RET0


def test_deny_exception_refuses_any_overlap():
    code, allow_all = program([{"allow": True, "access": "rwm"},
                               {"allow": False, "type": "b", "major": 8, "access": "w"}])
    assert not allow_all
    block = bytes.fromhex(
        "5502060001000000"    # if r2 != 1 (block) goto +6
        "bc31000000000000"    # w1 = w3
        "5401000004000000"    # w1 &= 4 (write)
        "1501030000000000"    # if r1 == 0 goto +3: nothing denied is requested
        "5504020008000000"    # if r4 != 8 goto +2 (minor is a wildcard: no test)
        "b400000000000000"    # w0 = 0
        "9500000000000000"    # exit
    )
    assert code == PROLOGUE_BYTES + block + RET1


# --- runc's listings (libcontainer/cgroups/ebpf/devicefilter/devicefilter_test.go) ---------
_NAMES = {0x61: "LdXMemW", 0x54: "And32Imm", 0x74: "RSh32Imm", 0xbc: "Mov32Reg", 0xb4: "Mov32Imm",
          0x55: "JNEImm", 0x5d: "JNEReg", 0x15: "JEqImm", 0x95: "Exit"}


def disasm(code: bytes) -> list:
    """runc's textual format, with jump targets as instruction indexes."""
    out = []
    for i in range(0, len(code), 8):
        op, regs, off, imm = struct.unpack("<BBhi", code[i:i + 8])
        dst, src, name = regs & 15, regs >> 4, _NAMES[op]
        n = i // 8
        if name == "LdXMemW":
            out.append(f"{n}: LdXMemW dst: r{dst} src: r{src} off: {off} imm: {imm}")
        elif name in ("JNEImm", "JEqImm"):
            out.append(f"{n}: {name} dst: r{dst} imm: {imm} -> {n + 1 + off}")
        elif name == "JNEReg":
            out.append(f"{n}: JNEReg dst: r{dst} src: r{src} -> {n + 1 + off}")
        elif name == "Mov32Reg":
            out.append(f"{n}: Mov32Reg dst: r{dst} src: r{src}")
        elif name == "Exit":
            out.append(f"{n}: Exit")
        else:
            out.append(f"{n}: {name} dst: r{dst} imm: {imm}")
    return out


RUNC_PROLOGUE = [
    "0: LdXMemW dst: r2 src: r1 off: 0 imm: 0", "1: And32Imm dst: r2 imm: 65535",
    "2: LdXMemW dst: r3 src: r1 off: 0 imm: 0", "3: RSh32Imm dst: r3 imm: 16",
    "4: LdXMemW dst: r4 src: r1 off: 4 imm: 0", "5: LdXMemW dst: r5 src: r1 off: 8 imm: 0",
]


def test_runc_listing_privileged_except_single_device():
    code, _ = program([{"allow": True, "type": "a", "access": "rwm"},
                       {"allow": False, "type": "b", "major": 8, "minor": 0, "access": "rwm"}])
    assert disasm(code) == RUNC_PROLOGUE + [
        "6: JNEImm dst: r2 imm: 1 -> 11", "7: JNEImm dst: r4 imm: 8 -> 11", "8: JNEImm dst: r5 imm: 0 -> 11",
        "9: Mov32Imm dst: r0 imm: 0", "10: Exit",
        "11: Mov32Imm dst: r0 imm: 1", "12: Exit",
    ]


def test_runc_listing_weird():
    # "8/1 is allowed, 8/2 is not allowed": the allow-all resets the first deny
    code, _ = program([{"allow": False, "type": "b", "major": 8, "minor": 1, "access": "rwm"},
                       {"allow": True, "type": "a", "access": "rwm"},
                       {"allow": False, "type": "b", "major": 8, "minor": 2, "access": "rwm"}])
    assert disasm(code) == RUNC_PROLOGUE + [
        "6: JNEImm dst: r2 imm: 1 -> 11", "7: JNEImm dst: r4 imm: 8 -> 11", "8: JNEImm dst: r5 imm: 2 -> 11",
        "9: Mov32Imm dst: r0 imm: 0", "10: Exit",
        "11: Mov32Imm dst: r0 imm: 1", "12: Exit",
    ]


# --- semantics: run the bytecode -------------------------------------------------------
def run(code: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    """Interpret the instructions the emitter uses."""
    ctx = struct.pack("<III", (access << 16) | dev_type, major, minor)
    r = [0] * 11
    pc = 0
    while True:
        op, regs, off, imm = struct.unpack("<BBhi", code[pc * 8:pc * 8 + 8])
        dst, src = regs & 15, regs >> 4
        pc += 1
        if op == 0x61:
            assert src == 1
            r[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == 0x54:
            r[dst] = (r[dst] & imm) & 0xFFFFFFFF
        elif op == 0x74:
            r[dst] = (r[dst] & 0xFFFFFFFF) >> imm
        elif op == 0xbc:
            r[dst] = r[src] & 0xFFFFFFFF
        elif op == 0xb4:
            r[dst] = imm & 0xFFFFFFFF
        elif op == 0x55:
            pc += off if r[dst] != imm else 0
        elif op == 0x15:
            pc += off if r[dst] == imm else 0
        elif op == 0x5d:
            pc += off if r[dst] != r[src] else 0
        elif op == 0x95:
            return r[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")


def kernel_v1_allows(emu: Emulator, t: str, major: int, minor: int, access: str) -> bool:
    """security/device_cgroup.c: an allow-list needs one exception covering
    the whole request (match_exception); a deny-list refuses a request that
    overlaps any exception (match_exception_partial)."""
    def matches(key):
        et, emaj, emin = key
        return et == t and emaj in (-1, major) and emin in (-1, minor)

    if emu.default_allow:
        return not any(matches(k) and set(v) & set(access) for k, v in emu.exceptions.items())
    return any(matches(k) and set(access) <= set(v) for k, v in emu.exceptions.items())


def _random_rules(rng: random.Random) -> list:
    rules = []
    for _ in range(rng.randint(0, 7)):
        r = {"allow": rng.random() < 0.6}
        if rng.random() < 0.9:
            r["type"] = rng.choice("cb")
            if rng.random() < 0.8:
                r["major"] = rng.choice([1, 5, 8])
                if rng.random() < 0.7:
                    r["minor"] = rng.choice([0, 3, 5])
        else:
            r["type"] = "a"
        r["access"] = "".join(c for c in "rwm" if rng.random() < 0.6) or "r"
        rules.append(r)
    return rules


def test_program_agrees_with_the_kernel_rules_on_random_rule_lists():
    from ocipy.cgroups import CgroupError

    rng = random.Random(1234)
    accesses = ["r", "w", "m", "rw", "rm", "wm", "rwm"]
    checked = 0
    for _ in range(400):
        rules = _random_rules(rng)
        try:
            emu = Emulator.of(normalize(rules), default_allow=False)
        except CgroupError:
            continue  # a hole punched in a wildcard: refused before any program
        code, allow_all = program(rules)
        assert allow_all == emu.is_allow_all()
        for t, tnum in (("c", 2), ("b", 1)):
            for major in (1, 5, 8, 9):
                for minor in (0, 3, 5, 6):
                    for acc in accesses:
                        bits = sum({"m": 1, "r": 2, "w": 4}[c] for c in acc)
                        got = run(code, tnum, bits, major, minor)
                        assert got == int(kernel_v1_allows(emu, t, major, minor, acc)), (rules, t, major, minor, acc)
                        checked += 1
    assert checked > 50000


@pytest.mark.parametrize("rules", [
    [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
    [{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "rwm"}],
])
def test_block_offsets_stay_inside_the_program(rules):
    code, _ = program(rules)
    n = len(code) // 8
    for i in range(n):
        op, _, off, _ = struct.unpack("<BBhi", code[i * 8:i * 8 + 8])
        if op in (0x55, 0x5d, 0x15):
            assert 0 < i + 1 + off < n
