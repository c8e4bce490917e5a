"""Process environment: validation, de-duplication, PATH lookup (hot path, pure).

process.env has "the same semantics as IEEE Std 1003.1-2008's environ": a
list of NAME=VALUE strings. The spec says nothing about duplicates; we do
what runc (>= 1.2, libcontainer/env.go) does, which is Go's os/exec
dedupEnv: the LAST occurrence of a name wins, and the result lists each
surviving entry in the order of those last occurrences:

    ["A=1", "B=2", "A=3"]  ->  ["B=2", "A=3"]

(Docker's ReplaceOrAppendEnvValues would give ["A=3", "B=2"], keeping the
first position; runc is the reference for a runtime, and for a program
reading its environment the order does not matter, the value does.)
"""
from ocipy.errors import ConfigError
from ocipy.jsonlite import dumps

# runc's and Docker's default when the config sets no PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _q(s: str) -> str:
    """A quoted, one-line rendering of an env entry for messages."""
    return dumps(s if len(s) <= 64 else s[:61] + "...")


def resolve_env(env: list[str], field: str = "process.env", filename: str = "config.json") -> list[str]:
    """Validate `env` and return it de-duplicated (last occurrence wins, see above).

    Each entry must be NAME=VALUE with a non-empty NAME and no NUL byte
    (execve cannot pass one); otherwise ConfigError names the entry, e.g.
    ``config.json: process.env[2]: "FOO" is not NAME=VALUE``.
    The input list is not modified.
    """
    for i, kv in enumerate(env):
        eq = kv.find("=")
        if eq < 0:
            raise ConfigError(f"{filename}: {field}[{i}]: {_q(kv)} is not NAME=VALUE")
        if eq == 0:
            raise ConfigError(f"{filename}: {field}[{i}]: {_q(kv)} has an empty name")
        if "\x00" in kv:
            raise ConfigError(f"{filename}: {field}[{i}]: must not contain a NUL byte")
    seen: set[str] = set()
    out: list[str] = []
    for kv in reversed(env):
        name = kv[: kv.find("=")]
        if name not in seen:
            seen.add(name)
            out.append(kv)
    out.reverse()
    return out


def lookup_env(env: list[str], name: str) -> str | None:
    """The value of `name` in `env` (last occurrence wins), None if unset."""
    prefix = name + "="
    for kv in reversed(env):
        if kv.startswith(prefix):
            return kv[len(prefix) :]
    return None


def lookup_path(env: list[str]) -> str:
    """PATH as the container process will see it, for resolving args[0] like
    execvp: the config's value (even if empty), else DEFAULT_PATH."""
    path = lookup_env(env, "PATH")
    return DEFAULT_PATH if path is None else path
