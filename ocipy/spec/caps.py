"""Capabilities: names, masks and set arithmetic (hot path, pure but for read_last_cap).

What the spec says about names we cannot honour (config.md, Linux process,
capabilities):

    "Any value which cannot be mapped to a relevant kernel interface, or
    cannot be granted otherwise MUST be logged as a warning by the runtime.
    Runtimes SHOULD NOT fail if the container configuration requests
    capabilities that cannot be granted, for example, if the runtime
    operates in a restricted environment with a limited set of
    capabilities."

So for config.json, ``caps_to_mask`` is called with a ``warn`` callback: an
unknown name (``CAP_FOO``) or one the running kernel lacks (above
/proc/sys/kernel/cap_last_cap, e.g. CAP_CHECKPOINT_RESTORE before 5.9) is
reported through it, naming the field, and skipped — as runc does
("ignoring unknown or unavailable capabilities"). Without a callback the
same condition is a ConfigError: for names a user typed on a command line
(``exec --cap``), where a typo should not pass silently.

Names are matched exactly, as runc does: "CAP_CHOWN", not "chown".
"""
import errno

from ocipy.errors import ConfigError, SysError
from ocipy.jsonlite import dumps

# include/uapi/linux/capability.h
CAPS = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26,
    "CAP_MKNOD": 27,
    "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}
CAP_LAST_KNOWN = 40
_NAMES = {v: k for k, v in CAPS.items()}

# The five sets of process.capabilities, in the order the kernel applies them.
SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")

CAP_LAST_CAP_FILE = "/proc/sys/kernel/cap_last_cap"


def read_last_cap(path: str = CAP_LAST_CAP_FILE) -> int:
    """The highest capability number the running kernel knows (impure: reads /proc)."""
    try:
        with open(path, "rb") as f:
            return int(f.read())
    except OSError as e:
        raise SysError(e.errno or 0, "read", path) from None
    except ValueError:
        raise SysError(errno.EINVAL, "parse", path) from None


def cap_number(name: str) -> int | None:
    """CAP_xxx -> number, None if the name is unknown."""
    return CAPS.get(name)


def caps_to_mask(
    names: list[str],
    last_cap: int,
    field: str = "process.capabilities",
    filename: str = "config.json",
    warn=None,
) -> int:
    """The bit mask of capability `names` (bit n = capability n).

    A name that is unknown or above `last_cap` (see read_last_cap) is passed
    to ``warn(message)`` and skipped when `warn` is given (config.json: the
    spec says warn, not fail), and raises ConfigError otherwise. Messages
    name the field: ``config.json: process.capabilities.bounding: unknown
    capability "CAP_FOO"``.
    """
    mask = 0
    for name in names:
        num = CAPS.get(name)
        if num is None:
            problem = f"unknown capability {dumps(name)}"
        elif num > last_cap:
            problem = f"capability {name} ({num}) is not supported by this kernel (last is {last_cap})"
        else:
            mask |= 1 << num
            continue
        msg = f"{filename}: {field}: {problem}"
        if warn is None:
            raise ConfigError(msg)
        warn(msg + ": ignored")
    return mask


def mask_to_names(mask: int) -> list[str]:
    """Names of the bits of `mask`, by number. A bit without a name (a newer
    kernel's capability) is rendered as its number, as libcap's cap_to_name does."""
    out = []
    n = 0
    while mask >> n:
        if mask >> n & 1:
            out.append(_NAMES.get(n, str(n)))
        n += 1
    return out


def all_caps_mask(last_cap: int) -> int:
    """Every capability of the running kernel: bits 0..last_cap."""
    return (1 << (last_cap + 1)) - 1


def merge_mask(base: int, add: int = 0, drop: int = 0) -> int:
    """(base | add) & ~drop: a drop wins over an add of the same capability."""
    return (base | add) & ~drop


def merge(base: dict | None, add=(), drop=(), sets: tuple = SETS) -> dict:
    """A new process.capabilities object: each set of `sets` becomes its list
    in `base` plus `add` minus `drop` (order kept, duplicates removed; a drop
    wins over an add). Sets not in `sets` are copied as they are; a set
    absent from `base` that gains nothing stays absent. `base` is not modified.

    This is the building block for `exec --cap` (runc adds to bounding,
    effective and permitted, and to ambient only if inheritable is set) and
    for Docker-style cap-add/cap-drop.
    """
    base = base or {}
    add = list(add)  # may be an iterator: it is used once per set
    out = {}
    dropped = set(drop)
    for s in SETS:
        cur = base.get(s)
        if s in sets:
            names = [*(cur or ()), *add]
            if cur is None and not add:
                continue
            seen: set[str] = set()
            kept = []
            for n in names:
                if n not in seen and n not in dropped:
                    seen.add(n)
                    kept.append(n)
            out[s] = kept
        elif cur is not None:
            out[s] = list(cur)
    return out


def grantable_caps(cfg: dict, last_cap: int, where: str, prefix: str) -> dict:
    """The five capability masks of a process (init or exec) as they can
    really be granted. config.md: a capability that cannot be mapped or
    granted MUST be logged as a warning, and runtimes SHOULD NOT fail; so
    unknown names, capabilities outside ocipy's own bounding set, and ambient
    ones not also bounding+permitted+inheritable are warned about and
    dropped. The last is what runc's own default spec asks for on every run
    (runc drops them silently): that warning goes to --log only.
    (Here, not in launcher.plan: `exec` needs it without the plan module.)"""
    from ocipy import log

    caps = {k: caps_to_mask(cfg.get(k) or [], last_cap, f"{prefix}capabilities.{k}", filename=where, warn=log.warn)
            for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    own = own_bounding(last_cap)
    for k in caps:
        missing = caps[k] & ~own
        if missing:
            log.warn(f"{where}: {prefix}capabilities.{k}: not granted (not in ocipy's own bounding set): "
                     + ", ".join(mask_to_names(missing)))
            caps[k] &= own
    lost = caps["ambient"] & ~(caps["permitted"] & caps["inheritable"] & caps["bounding"])
    if lost:
        log.warn(f"{prefix}capabilities.ambient: not granted (an ambient capability must also be "
                 "bounding, permitted and inheritable): " + ", ".join(mask_to_names(lost)), quiet=True)
        caps["ambient"] &= ~lost
    return caps


def own_bounding(last_cap: int) -> int:
    """The capabilities this process may still hand on (its bounding set):
    CapBnd of /proc/self/status (one read instead of a prctl per capability
    through ctypes, which exec's path does not load), else PR_CAPBSET_READ."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"CapBnd:"):
                    return int(line[7:].strip(), 16) & ((1 << (last_cap + 1)) - 1)
    except (OSError, ValueError):
        pass
    return bounding_by_prctl(last_cap)


def bounding_by_prctl(last_cap: int) -> int:
    """own_bounding through PR_CAPBSET_READ (a unit test proves both equal)."""
    from ocipy.syscalls import PR_CAPBSET_READ, prctl

    mask = 0
    for cap in range(last_cap + 1):
        if prctl(PR_CAPBSET_READ, cap):
            mask |= 1 << cap
    return mask
