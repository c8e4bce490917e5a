"""ocipy.syscalls packs its kernel structs without the struct module (exec's
path); the bytes must be the ones struct.pack gives."""
import struct

from ocipy import syscalls as sc


def test_words_match_struct_pack():
    assert sc._words(8, 0o2000000 | 0o10000000, 0o644, 0x18) == struct.pack("=QQQ", 0o2000000 | 0o10000000, 0o644, 0x18)
    assert sc._words(4, 0x20080522, 0) == struct.pack("=Ii", 0x20080522, 0)
    e, p, i = (1 << 40) | 0x3000, 0x1FFFFFFFFFF, 0
    m = 0xFFFFFFFF
    assert (sc._words(4, e & m, p & m, i & m, e >> 32 & m, p >> 32 & m, i >> 32 & m)
            == struct.pack("=6I", e & m, p & m, i & m, e >> 32 & m, p >> 32 & m, i >> 32 & m))
    assert sc._words(8, sc.MOUNT_ATTR_IDMAP, 0, 0, 7) == struct.pack("=QQQQ", sc.MOUNT_ATTR_IDMAP, 0, 0, 7)
    assert sc._words(8, 2**64 - 1) == struct.pack("=Q", 2**64 - 1)


def test_capget_roundtrip_and_sched_attr_layout():
    e, p, i = sc.capget()  # the unpacking side, against the kernel's own answer
    with open("/proc/self/status") as f:
        status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
    assert e == int(status["CapEff"], 16) and p == int(status["CapPrm"], 16) and i == int(status["CapInh"], 16)
    for policy, flags, nice, prio, rt, dl, per in ((1, 0, -5, 10, 20, 30, 40), (6, 1, 19, 0, 2**63, 1, 2**64 - 1)):
        assert (sc._sched_attr(policy, flags, nice, prio, rt, dl, per)
                == struct.pack("=IIQiIQQQ", 48, policy, flags, nice, prio, rt, dl, per))
