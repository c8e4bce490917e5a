"""process.rlimits: names to resource numbers, unknown and duplicate types."""
from __future__ import annotations

import resource

import pytest

from ocipy.errors import ConfigError
from ocipy.spec.rlimits import RLIM_INFINITY, RLIMITS, parse_rlimits, rlimit_number

# getrlimit(2), asm-generic numbering, written out independently of the module.
LINUX = """CPU FSIZE DATA STACK CORE RSS NPROC NOFILE MEMLOCK AS LOCKS SIGPENDING MSGQUEUE
NICE RTPRIO RTTIME""".split()


def test_table():
    assert RLIMITS == {f"RLIMIT_{n}": i for i, n in enumerate(LINUX)}
    assert len(RLIMITS) == 16


def test_matches_python_resource_module():
    """The C library's numbers on this machine (for the names Python exposes)."""
    checked = 0
    for name, num in RLIMITS.items():
        if hasattr(resource, name):
            assert getattr(resource, name) == num, name
            checked += 1
    assert checked >= 14
    assert resource.RLIM_INFINITY in (-1, RLIM_INFINITY)


def test_rlimit_number():
    assert rlimit_number("RLIMIT_NOFILE") == 7
    assert rlimit_number("RLIMIT_FOO") is None
    assert rlimit_number("NOFILE") is None


def rl(t, soft=1, hard=1):
    return {"type": t, "soft": soft, "hard": hard}


def test_parse_rlimits():
    assert parse_rlimits([]) == []
    assert parse_rlimits([rl("RLIMIT_NOFILE", 1024, 4096), rl("RLIMIT_CORE", 0, RLIM_INFINITY)]) == [
        (7, 1024, 4096),
        (4, 0, RLIM_INFINITY),
    ]
    assert parse_rlimits([rl(n) for n in RLIMITS]) == [(i, 1, 1) for i in range(16)]


@pytest.mark.parametrize(
    "rlimits,msg",
    [
        ([rl("RLIMIT_FOO")], 'config.json: process.rlimits[0].type: unknown resource "RLIMIT_FOO"'),
        # Solaris-only names cannot be mapped to a Linux kernel interface.
        ([rl("RLIMIT_NOFILE"), rl("RLIMIT_VMEM")], 'config.json: process.rlimits[1].type: unknown resource "RLIMIT_VMEM"'),
        (
            [rl("RLIMIT_NOFILE"), rl("RLIMIT_CORE"), rl("RLIMIT_NOFILE")],
            'config.json: process.rlimits[2].type: duplicate "RLIMIT_NOFILE" (also at [0])',
        ),
        ([rl("RLIMIT_NOFILE", 2048, 1024)], "config.json: process.rlimits[0]: soft limit 2048 is above hard limit 1024"),
    ],
)
def test_errors(rlimits, msg):
    with pytest.raises(ConfigError) as e:
        parse_rlimits(rlimits)
    assert str(e.value) == msg


def test_error_names_given_field_and_file():
    with pytest.raises(ConfigError, match=r"^/b/process.json: rlimits\[0\].type: "):
        parse_rlimits([rl("RLIMIT_X")], "rlimits", "/b/process.json")
