"""process.env resolution (runc >= 1.2 / Go os/exec dedupEnv semantics)."""
from __future__ import annotations

import pytest

from ocipy.errors import ConfigError
from ocipy.spec.env import DEFAULT_PATH, lookup_env, lookup_path, resolve_env


@pytest.mark.parametrize(
    "env,want",
    [
        ([], []),
        (["A=1"], ["A=1"]),
        (["A=1", "B=2"], ["A=1", "B=2"]),
        (["A=1", "B=2", "A=3"], ["B=2", "A=3"]),  # last wins, at its position
        (["A=1", "A=2", "A=3"], ["A=3"]),
        (["A=1", "B=2", "A=3", "B=4", "C=5"], ["A=3", "B=4", "C=5"]),
        (["A=", "A=x"], ["A=x"]),
        (["A=x", "A="], ["A="]),  # an empty value is a value
        (["A=b=c"], ["A=b=c"]),  # only the first "=" separates
        (["a=1", "A=2"], ["a=1", "A=2"]),  # names are case-sensitive
        (["PATH=/bin", "HOME=/root", "PATH=/usr/bin"], ["HOME=/root", "PATH=/usr/bin"]),
        (["Ü=ü", " =space"], ["Ü=ü", " =space"]),
    ],
)
def test_resolve_env(env, want):
    before = list(env)
    assert resolve_env(env) == want
    assert env == before


def test_matches_go_dedup_env():
    """Reference implementation: Go 1.22 os/exec dedupEnvCase, transcribed."""

    def go(env):
        out, saw = [], set()
        for kv in reversed(env):
            k = kv[: kv.index("=")]
            if k in saw:
                continue
            saw.add(k)
            out.append(kv)
        out.reverse()
        return out

    import itertools

    pool = ["A=1", "B=2", "A=3", "C=", "B=4"]
    for n in range(len(pool) + 1):
        for env in itertools.permutations(pool, n):
            assert resolve_env(list(env)) == go(env)


@pytest.mark.parametrize(
    "env,msg",
    [
        (["A=1", "B"], 'config.json: process.env[1]: "B" is not NAME=VALUE'),
        (["=1"], 'config.json: process.env[0]: "=1" has an empty name'),
        ([""], 'config.json: process.env[0]: "" is not NAME=VALUE'),
        (["A=\x00"], "config.json: process.env[0]: must not contain a NUL byte"),
        (["A=1", "B\nC"], 'config.json: process.env[1]: "B\\nC" is not NAME=VALUE'),
    ],
)
def test_invalid_entries(env, msg):
    with pytest.raises(ConfigError) as e:
        resolve_env(env)
    assert str(e.value) == msg


def test_error_names_given_field_and_file():
    with pytest.raises(ConfigError, match=r"^/b/config.json: hooks.prestart\[0\].env\[2\]: "):
        resolve_env(["A=1", "B=2", "C"], "hooks.prestart[0].env", "/b/config.json")


def test_long_entries_are_shortened_in_messages():
    with pytest.raises(ConfigError) as e:
        resolve_env(["X" * 1000])
    assert len(str(e.value)) < 150


@pytest.mark.parametrize(
    "env,path",
    [
        ([], DEFAULT_PATH),
        (["HOME=/"], DEFAULT_PATH),
        (["PATH=/bin"], "/bin"),
        (["PATH=/bin", "PATH=/sbin"], "/sbin"),
        (["PATH="], ""),  # set but empty is not unset
        (["MYPATH=/x", "PATH2=/y"], DEFAULT_PATH),
    ],
)
def test_lookup_path(env, path):
    assert lookup_path(env) == path


def test_default_path_is_runcs():
    assert DEFAULT_PATH == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def test_lookup_env():
    assert lookup_env(["A=1", "AB=2", "A=3"], "A") == "3"
    assert lookup_env(["AB=2"], "A") is None
