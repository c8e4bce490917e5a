"""process.rlimits: names to Linux resource numbers, checked (hot path, pure).

config.md, rlimits[].type: "Linux: valid values are defined in the
getrlimit(2) man page ... The runtime MUST generate an error for any values
which cannot be mapped to a relevant kernel interface." and "If rlimits
contains duplicated entries with same type, the runtime MUST generate an
error."
"""
from ocipy.errors import ConfigError

# include/uapi/asm-generic/resource.h: the numbering of x86, arm, arm64,
# riscv, powerpc, s390 and loongarch. (alpha, mips and sparc renumber a few:
# ocipy does not support those architectures.)
RLIMITS = {
    "RLIMIT_CPU": 0,
    "RLIMIT_FSIZE": 1,
    "RLIMIT_DATA": 2,
    "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6,
    "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8,
    "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12,
    "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15,
}

# "unlimited": the uint64 all-ones value, as in the config and the kernel ABI.
RLIM_INFINITY = 2**64 - 1


def rlimit_number(name: str) -> int | None:
    """The resource number of `name` (e.g. "RLIMIT_NOFILE" -> 7), None if unknown."""
    return RLIMITS.get(name)


def parse_rlimits(
    rlimits: list[dict], field: str = "process.rlimits", filename: str = "config.json"
) -> list[tuple[int, int, int]]:
    """[(resource, soft, hard), ...] in config order, for setrlimit/prlimit.

    Expects entries already structurally valid (validate.validate). Raises a
    ConfigError naming the entry for an unknown type, a duplicate type, or a
    soft limit above the hard one (setrlimit(2) would fail with EINVAL; we
    say why before creating anything).
    """
    out: list[tuple[int, int, int]] = []
    first: dict[str, int] = {}
    for i, rl in enumerate(rlimits):
        name = rl["type"]
        num = RLIMITS.get(name)
        if num is None:
            raise ConfigError(f'{filename}: {field}[{i}].type: unknown resource "{name}"')
        if name in first:
            raise ConfigError(f'{filename}: {field}[{i}].type: duplicate "{name}" (also at [{first[name]}])')
        first[name] = i
        soft, hard = rl["soft"], rl["hard"]
        if soft > hard:
            raise ConfigError(f"{filename}: {field}[{i}]: soft limit {soft} is above hard limit {hard}")
        out.append((num, soft, hard))
    return out
