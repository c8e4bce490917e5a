"""Capability names, masks and merging."""
from __future__ import annotations

import pytest

from ocipy.errors import ConfigError, SysError
from ocipy.spec.caps import (
    CAP_LAST_KNOWN,
    CAPS,
    SETS,
    all_caps_mask,
    cap_number,
    caps_to_mask,
    mask_to_names,
    merge,
    merge_mask,
    read_last_cap,
)

# include/uapi/linux/capability.h, written out independently of the module.
KERNEL = """CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF
CHECKPOINT_RESTORE""".split()


def test_table_is_the_kernels():
    assert CAPS == {f"CAP_{n}": i for i, n in enumerate(KERNEL)}
    assert CAP_LAST_KNOWN == 40 == max(CAPS.values())


def test_names_match_libcap_when_present():
    """Cross-check with capsh (libcap2-bin), if installed."""
    import shutil
    import subprocess

    capsh = shutil.which("capsh")
    if capsh is None:
        pytest.skip("capsh is not installed")
    for name, num in CAPS.items():
        r = subprocess.run([capsh, f"--decode={1 << num:x}"], capture_output=True, text=True)
        if "=" in r.stdout and name.lower() in r.stdout:
            continue
        # Older libcap prints numbers for capabilities it does not know.
        assert r.stdout.strip().endswith(f"={num}") or str(num) in r.stdout, (name, r.stdout)


def test_cap_number():
    assert cap_number("CAP_SYS_ADMIN") == 21
    assert cap_number("CAP_sys_admin") is None
    assert cap_number("SYS_ADMIN") is None


@pytest.mark.parametrize(
    "names,last,mask",
    [
        ([], 40, 0),
        (["CAP_CHOWN"], 40, 1),
        (["CAP_KILL", "CAP_KILL"], 40, 1 << 5),
        (["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"], 40, 1 << 29 | 1 << 5 | 1 << 10),
        (["CAP_CHECKPOINT_RESTORE"], 40, 1 << 40),
        (list(CAPS), 40, (1 << 41) - 1),
    ],
)
def test_caps_to_mask(names, last, mask):
    assert caps_to_mask(names, last) == mask


def test_unknown_capability_is_an_error_without_warn():
    with pytest.raises(ConfigError) as e:
        caps_to_mask(["CAP_KILL", "CAP_FOO"], 40, "process.capabilities.bounding")
    assert str(e.value) == 'config.json: process.capabilities.bounding: unknown capability "CAP_FOO"'


def test_capability_above_last_cap_is_an_error_without_warn():
    with pytest.raises(ConfigError) as e:
        caps_to_mask(["CAP_BPF"], 37, "process.capabilities.effective", "/b/config.json")
    assert str(e.value) == (
        "/b/config.json: process.capabilities.effective: capability CAP_BPF (39) "
        "is not supported by this kernel (last is 37)"
    )


def test_unmappable_capabilities_are_warned_and_skipped_with_warn():
    """config.md: "MUST be logged as a warning ... SHOULD NOT fail"."""
    warnings: list[str] = []
    mask = caps_to_mask(["CAP_FOO", "CAP_KILL", "CAP_PERFMON", "cap_chown"], 37, "process.capabilities.bounding", warn=warnings.append)
    assert mask == 1 << 5
    assert warnings == [
        'config.json: process.capabilities.bounding: unknown capability "CAP_FOO": ignored',
        "config.json: process.capabilities.bounding: capability CAP_PERFMON (38) is not supported by this kernel (last is 37): ignored",
        'config.json: process.capabilities.bounding: unknown capability "cap_chown": ignored',
    ]


def test_messages_stay_on_one_line():
    with pytest.raises(ConfigError) as e:
        caps_to_mask(["CAP_\nFOO"], 40, "process.capabilities.ambient")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "mask,names",
    [
        (0, []),
        (1, ["CAP_CHOWN"]),
        (1 << 5 | 1 << 10 | 1 << 29, ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]),
        (1 << 40, ["CAP_CHECKPOINT_RESTORE"]),
        (1 << 41 | 1 << 63, ["41", "63"]),
    ],
)
def test_mask_to_names(mask, names):
    assert mask_to_names(mask) == names


def test_round_trip():
    for n in range(41):
        mask = (1 << (n + 1)) - 1
        assert caps_to_mask(mask_to_names(mask), 40) == mask


def test_all_caps_mask():
    assert all_caps_mask(40) == (1 << 41) - 1
    assert all_caps_mask(37) == (1 << 38) - 1


def test_merge_mask():
    assert merge_mask(0b0011, add=0b0100) == 0b0111
    assert merge_mask(0b0011, drop=0b0001) == 0b0010
    assert merge_mask(0b0011, add=0b0100, drop=0b0100) == 0b0011  # drop wins


def test_merge():
    base = {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "ambient": []}
    out = merge(base, add=iter(["CAP_SYS_ADMIN", "CAP_KILL"]), drop=["CAP_CHOWN"])
    assert out == {
        "bounding": ["CAP_KILL", "CAP_SYS_ADMIN"],
        "effective": ["CAP_KILL", "CAP_SYS_ADMIN"],
        "inheritable": ["CAP_SYS_ADMIN", "CAP_KILL"],
        "permitted": ["CAP_SYS_ADMIN", "CAP_KILL"],
        "ambient": ["CAP_SYS_ADMIN", "CAP_KILL"],
    }
    assert base == {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "ambient": []}


def test_merge_selected_sets_like_runc_exec_cap():
    base = {"bounding": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "effective": ["CAP_KILL"]}
    out = merge(base, add=["CAP_NET_RAW"], sets=("bounding", "effective", "permitted"))
    assert out == {
        "bounding": ["CAP_KILL", "CAP_NET_RAW"],
        "effective": ["CAP_KILL", "CAP_NET_RAW"],
        "inheritable": ["CAP_KILL"],
        "permitted": ["CAP_NET_RAW"],
    }
    assert out["inheritable"] is not base["inheritable"]


def test_merge_nothing():
    assert merge(None) == {}
    assert merge({"bounding": []}) == {"bounding": []}
    assert merge({}, drop=["CAP_KILL"]) == {}
    assert SETS == ("bounding", "effective", "inheritable", "permitted", "ambient")


def test_read_last_cap(tmp_path):
    assert read_last_cap() >= 36  # any kernel ocipy can run on
    p = tmp_path / "cap_last_cap"
    p.write_text("40\n")
    assert read_last_cap(str(p)) == 40
    with pytest.raises(SysError, match="read .*/nope: No such file"):
        read_last_cap(str(tmp_path / "nope"))
    p.write_text("x")
    with pytest.raises(SysError, match="parse"):
        read_last_cap(str(p))


def test_own_bounding_from_proc_equals_prctl():
    """own_bounding reads CapBnd (one file read, no ctypes on exec's path):
    the same mask PR_CAPBSET_READ gives, capability by capability."""
    from ocipy.spec.caps import bounding_by_prctl, own_bounding, read_last_cap

    last = read_last_cap()
    assert own_bounding(last) == bounding_by_prctl(last)
    assert own_bounding(5) == bounding_by_prctl(5)
