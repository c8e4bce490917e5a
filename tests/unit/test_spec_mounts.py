"""Mount option parsing, table-driven. Expected values are written as plain
numbers (from include/uapi/linux/mount.h), not taken from the module."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from ocipy.errors import ConfigError
from ocipy.spec import mounts
from ocipy.spec.mounts import KNOWN_OPTIONS, MountOpts, is_bind_mount, parse_mount_options, propagation_flags

REPO = Path(__file__).resolve().parents[2]
CONFIG_MD = REPO.parent / "shared" / "oci-runtime-spec" / "config.md"

LINUX_CONSTANTS = {
    "MS_RDONLY": 1,
    "MS_NOSUID": 2,
    "MS_NODEV": 4,
    "MS_NOEXEC": 8,
    "MS_SYNCHRONOUS": 16,
    "MS_REMOUNT": 32,
    "MS_MANDLOCK": 64,
    "MS_DIRSYNC": 128,
    "MS_NOSYMFOLLOW": 256,
    "MS_NOATIME": 1024,
    "MS_NODIRATIME": 2048,
    "MS_BIND": 4096,
    "MS_MOVE": 8192,
    "MS_REC": 16384,
    "MS_SILENT": 32768,
    "MS_POSIXACL": 1 << 16,
    "MS_UNBINDABLE": 1 << 17,
    "MS_PRIVATE": 1 << 18,
    "MS_SLAVE": 1 << 19,
    "MS_SHARED": 1 << 20,
    "MS_RELATIME": 1 << 21,
    "MS_I_VERSION": 1 << 23,
    "MS_STRICTATIME": 1 << 24,
    "MS_LAZYTIME": 1 << 25,
    "MOUNT_ATTR_RDONLY": 0x1,
    "MOUNT_ATTR_NOSUID": 0x2,
    "MOUNT_ATTR_NODEV": 0x4,
    "MOUNT_ATTR_NOEXEC": 0x8,
    "MOUNT_ATTR__ATIME": 0x70,
    "MOUNT_ATTR_RELATIME": 0x0,
    "MOUNT_ATTR_NOATIME": 0x10,
    "MOUNT_ATTR_STRICTATIME": 0x20,
    "MOUNT_ATTR_NODIRATIME": 0x80,
    "MOUNT_ATTR_IDMAP": 0x100000,
    "MOUNT_ATTR_NOSYMFOLLOW": 0x200000,
}


@pytest.mark.parametrize("name", sorted(LINUX_CONSTANTS))
def test_constants(name):
    assert getattr(mounts, name) == LINUX_CONSTANTS[name]


def opts(**kw) -> MountOpts:
    m = MountOpts()
    for k, v in kw.items():
        setattr(m, k, v)
    return m


REC = 0x4000
ATIME = 0x70
CASES = [
    # (options, expected)
    ([], opts()),
    (["defaults"], opts()),
    ([""], opts()),
    # Each MS_* option alone: (set or clear, flag).
    (["ro"], opts(flags=0x1)),
    (["rw"], opts(clear=0x1)),
    (["nosuid"], opts(flags=0x2)),
    (["suid"], opts(clear=0x2)),
    (["nodev"], opts(flags=0x4)),
    (["dev"], opts(clear=0x4)),
    (["noexec"], opts(flags=0x8)),
    (["exec"], opts(clear=0x8)),
    (["sync"], opts(flags=0x10)),
    (["async"], opts(clear=0x10)),
    (["remount"], opts(flags=0x20)),
    (["mand"], opts(flags=0x40)),
    (["nomand"], opts(clear=0x40)),
    (["dirsync"], opts(flags=0x80)),
    (["nosymfollow"], opts(flags=0x100)),
    (["symfollow"], opts(clear=0x100)),
    (["noatime"], opts(flags=0x400)),
    (["atime"], opts(clear=0x400)),
    (["nodiratime"], opts(flags=0x800)),
    (["diratime"], opts(clear=0x800)),
    (["silent"], opts(flags=0x8000)),
    (["loud"], opts(clear=0x8000)),
    (["relatime"], opts(flags=1 << 21)),
    (["norelatime"], opts(clear=1 << 21)),
    (["iversion"], opts(flags=1 << 23)),
    (["noiversion"], opts(clear=1 << 23)),
    (["strictatime"], opts(flags=1 << 24)),
    (["nostrictatime"], opts(clear=1 << 24)),
    (["lazytime"], opts(flags=1 << 25)),
    (["nolazytime"], opts(clear=1 << 25)),
    # Last one wins.
    (["ro", "rw"], opts(clear=0x1)),
    (["rw", "ro"], opts(flags=0x1)),
    (["nosuid", "suid", "nosuid"], opts(flags=0x2)),
    (["ro", "nosuid", "nodev", "noexec"], opts(flags=0xF)),
    # Bind mounts.
    (["bind"], opts(flags=0x1000, bind=True)),
    (["rbind"], opts(flags=0x1000 | REC, bind=True, rbind=True)),
    (["rbind", "ro"], opts(flags=0x1000 | REC | 0x1, bind=True, rbind=True)),
    (["bind", "remount", "ro"], opts(flags=0x1000 | 0x20 | 0x1, bind=True)),
    # Propagation, in order, r* forms with MS_REC.
    (["private"], opts(propagation=[1 << 18])),
    (["rprivate"], opts(propagation=[1 << 18 | REC])),
    (["shared"], opts(propagation=[1 << 20])),
    (["rshared"], opts(propagation=[1 << 20 | REC])),
    (["slave"], opts(propagation=[1 << 19])),
    (["rslave"], opts(propagation=[1 << 19 | REC])),
    (["unbindable"], opts(propagation=[1 << 17])),
    (["runbindable"], opts(propagation=[1 << 17 | REC])),
    (["shared", "rslave"], opts(propagation=[1 << 20, 1 << 19 | REC])),
    # Recursive flags (mount_setattr).
    (["rro"], opts(rec_set=0x1)),
    (["rrw"], opts(rec_clr=0x1)),
    (["rro", "rrw"], opts(rec_clr=0x1)),
    (["rrw", "rro"], opts(rec_set=0x1)),
    (["rnosuid"], opts(rec_set=0x2)),
    (["rsuid"], opts(rec_clr=0x2)),
    (["rnodev"], opts(rec_set=0x4)),
    (["rdev"], opts(rec_clr=0x4)),
    (["rnoexec"], opts(rec_set=0x8)),
    (["rexec"], opts(rec_clr=0x8)),
    (["rnodiratime"], opts(rec_set=0x80)),
    (["rdiratime"], opts(rec_clr=0x80)),
    (["rnosymfollow"], opts(rec_set=0x200000)),
    (["rsymfollow"], opts(rec_clr=0x200000)),
    (["rro", "rnosuid", "rnodev", "rnoexec"], opts(rec_set=0xF)),
    # Recursive access time: one mode, always with MOUNT_ATTR__ATIME in attr_clr.
    (["rrelatime"], opts(rec_set=0x0, rec_clr=ATIME)),
    (["rnoatime"], opts(rec_set=0x10, rec_clr=ATIME)),
    (["rstrictatime"], opts(rec_set=0x20, rec_clr=ATIME)),
    (["ratime"], opts(rec_clr=ATIME)),  # back to the kernel default, relatime
    (["rnostrictatime"], opts(rec_clr=ATIME)),
    (["rnorelatime"], opts(rec_clr=ATIME)),
    (["rnoatime", "rstrictatime"], opts(rec_set=0x20, rec_clr=ATIME)),
    (["rstrictatime", "rnoatime"], opts(rec_set=0x10, rec_clr=ATIME)),
    (["rnoatime", "ratime"], opts(rec_clr=ATIME)),
    (["ratime", "rnoatime"], opts(rec_set=0x10, rec_clr=ATIME)),
    (["rstrictatime", "ratime"], opts(rec_set=0x20, rec_clr=ATIME)),  # clears noatime only
    (["rnoatime", "rnostrictatime"], opts(rec_set=0x10, rec_clr=ATIME)),
    (["rstrictatime", "rnostrictatime"], opts(rec_clr=ATIME)),
    (["rnoatime", "rnorelatime"], opts(rec_set=0x10, rec_clr=ATIME)),
    (["rnoatime", "rnodiratime", "rro"], opts(rec_set=0x91, rec_clr=ATIME)),
    (["rnodiratime", "rdiratime", "rnoatime"], opts(rec_set=0x10, rec_clr=ATIME | 0x80)),
    # Filesystem data, in order; runtime-only options never reach it.
    (["mode=755", "size=65536k"], opts(data="mode=755,size=65536k")),
    (["nosuid", "mode=755", "ro", "uid=0"], opts(flags=0x3, data="mode=755,uid=0")),
    (["acl"], opts(data="acl")),  # runc too: MS_POSIXACL cannot be set from userspace
    (["RO"], opts(data="RO")),  # case matters, as in mount(8)
    (["newinstance", "ptmxmode=0666", "mode=0620", "gid=5"], opts(data="newinstance,ptmxmode=0666,mode=0620,gid=5")),
    (["upperdir=/a,workdir=/b"], opts(data="upperdir=/a,workdir=/b")),
    (["idmap"], opts(idmap=True)),
    (["ridmap"], opts(idmap=True, ridmap=True)),
    (["ridmap", "idmap"], opts(idmap=True)),
    (["rbind", "ridmap"], opts(flags=0x1000 | REC, bind=True, rbind=True, idmap=True, ridmap=True)),
    (["tmpcopyup", "mode=755"], opts(tmpcopyup=True, data="mode=755")),
    # runc spec's mounts.
    (["nosuid", "strictatime", "mode=755", "size=65536k"], opts(flags=0x2 | 1 << 24, data="mode=755,size=65536k")),
    (["nosuid", "noexec", "nodev", "relatime", "ro"], opts(flags=0xF | 1 << 21)),
    (["rbind", "nosuid", "noexec", "nodev", "ro"], opts(flags=0x1000 | REC | 0xF, bind=True, rbind=True)),
]


@pytest.mark.parametrize("options,want", CASES, ids=lambda c: ",".join(c) if isinstance(c, list) else "")
def test_parse_mount_options(options, want):
    assert parse_mount_options(options) == want


def test_input_not_modified():
    o = ["ro", "mode=1", "rbind"]
    parse_mount_options(o)
    assert o == ["ro", "mode=1", "rbind"]


def test_every_spec_option_is_known():
    """Every option of config.md's "Linux mount options" table is interpreted
    (none leaks into the filesystem data string)."""
    spec = [
        "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion",
        "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
        "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private",
        "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec", "rnoatime",
        "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro",
        "rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid",
        "rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
        "symfollow", "sync", "tmpcopyup", "unbindable", "idmap", "ridmap",
    ]  # fmt: skip
    if CONFIG_MD.is_file():
        text = CONFIG_MD.read_text()
        table = text[text.index('name="configLinuxMountOptions"') :]
        table = table[: table.index("[^1]:")]
        from_doc = [m.strip() for m in re.findall(r"^\s*`([a-z ]+)`\s*\|", table, re.M)]
        assert sorted(from_doc) == sorted(spec)
    # The spec's table lists rdev but forgets its opposite rnodev, which runc
    # (and ocipy) support; nothing else is extra.
    assert sorted(set(KNOWN_OPTIONS) - set(spec)) == ["rnodev"]
    assert set(spec) <= set(KNOWN_OPTIONS)
    for o in spec:
        assert parse_mount_options([o]).data == "", o


def test_repr_is_readable():
    r = repr(parse_mount_options(["rbind", "rshared", "x=1"]))
    assert "flags=0x5000" in r and "propagation=[0x104000]" in r and "data='x=1'" in r


@pytest.mark.parametrize(
    "mount,want",
    [
        ({"destination": "/a", "source": "/b", "options": ["bind"]}, True),
        ({"destination": "/a", "source": "/b", "options": ["ro", "rbind"]}, True),
        ({"destination": "/a", "source": "/b", "type": "bind"}, True),
        ({"destination": "/a", "source": "/b", "type": "none", "options": ["rbind"]}, True),
        ({"destination": "/a", "source": "tmpfs", "type": "tmpfs"}, False),
        ({"destination": "/a", "source": "tmpfs", "type": "tmpfs", "options": []}, False),
        ({"destination": "/a", "source": "x", "options": ["bind=1", "rbinds"]}, False),
    ],
)
def test_is_bind_mount(mount, want):
    assert is_bind_mount(mount) is want


@pytest.mark.parametrize(
    "name,want",
    [
        ("private", 1 << 18),
        ("rprivate", 1 << 18 | REC),
        ("shared", 1 << 20),
        ("rshared", 1 << 20 | REC),
        ("slave", 1 << 19),
        ("rslave", 1 << 19 | REC),
        ("unbindable", 1 << 17),
        ("runbindable", 1 << 17 | REC),
    ],
)
def test_propagation_flags(name, want):
    assert propagation_flags(name) == want


@pytest.mark.parametrize("name", ["", "Shared", "recursive", "rro", "bind"])
def test_propagation_flags_unknown(name):
    with pytest.raises(ConfigError, match=r'^config.json: linux.rootfsPropagation: unknown propagation "'):
        propagation_flags(name)


def test_rootfs_propagation_values_of_models_are_all_supported():
    from ocipy.spec import _table

    (t,) = [f[1] for f in _table.MODELS["Linux"] if f[0] == "rootfsPropagation"]
    for name in t[1]:
        propagation_flags(name)
