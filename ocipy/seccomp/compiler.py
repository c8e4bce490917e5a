"""linux.seccomp -> a classic-BPF program, through libseccomp (stage 0).

Compiling here, in the CLI process, before anything is created, means every
mistake in the profile (an action that takes no errno, an operator on
argument 7, a flag or action this kernel lacks, a missing library) is one
line naming the field, and nothing is left behind. The init and exec'd
processes then only call seccomp(2) with the bytes (ocipy.seccomp.load):
no libseccomp in the container's process, no dlopen after pivot_root.

Semantics follow runc (libcontainer/seccomp, specconv):
  - syscall names unknown to libseccomp are skipped (debug log); names of
    calls that exist on another architecture only get libseccomp's pseudo
    numbers and are handled per architecture by libseccomp;
  - a rule whose action equals the default action is skipped (libseccomp
    refuses it; it changes nothing);
  - args: all conditions of an entry are ANDed in one rule, unless two
    conditions name the same argument: then each becomes a rule of its own
    (runc's "old behaviour", which Docker's profiles rely on);
  - SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo;
  - errnoRet / defaultErrnoRet: only with SCMP_ACT_ERRNO / SCMP_ACT_TRACE
    (config-linux.md: otherwise MUST fail), default EPERM;
  - as runc's patchbpf: unless the default action lets calls through (ALLOW,
    LOG) or already is ERRNO(ENOSYS), a -ENOSYS stub goes before the program
    for calls numbered above the highest one the profile names on each
    architecture (ocipy.seccomp.bpf): a kernel newer than the profile then
    looks like an older kernel to the container's libc, not like a denial;
  - SCMP_ACT_NOTIFY needs listenerPath, is refused as the default action and
    for write(2) (the runtime's own hand-off of the listener fd writes after
    the filter is loaded: it would wait for an agent that has no fd yet).
Flags are passed to seccomp(2) by ocipy itself (not through libseccomp
attributes), each checked against the kernel.
"""
import posix

from ocipy.errors import ConfigError, SysError
from ocipy.pathlite import dirname as _dirname, join as _join
from ocipy.syscalls import seccomp as sc

ACTIONS = {
    "SCMP_ACT_KILL": sc.RET_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": sc.RET_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": sc.RET_KILL_PROCESS,
    "SCMP_ACT_TRAP": sc.RET_TRAP,
    "SCMP_ACT_ERRNO": sc.RET_ERRNO,
    "SCMP_ACT_TRACE": sc.RET_TRACE,
    "SCMP_ACT_ALLOW": sc.RET_ALLOW,
    "SCMP_ACT_LOG": sc.RET_LOG,
    "SCMP_ACT_NOTIFY": sc.RET_USER_NOTIF,
}
# the spec's architectures (models.SeccompArch; tests/unit/test_seccomp.py keeps them equal)
SPEC_ARCHS = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
              "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
              "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
              "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
              "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64")
_WITH_ERRNO = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
EPERM = 1
MAX_INSNS = 4096  # BPF_MAXINSNS: the kernel refuses longer programs


def arch_name(spec_name: str) -> str:
    """SCMP_ARCH_X86_64 -> libseccomp's "x86_64"."""
    return spec_name[len("SCMP_ARCH_"):].lower() if spec_name.startswith("SCMP_ARCH_") else ""


def action_value(name, errno_ret, field: str, where: str, errno_field: str) -> int:
    """The SECCOMP_RET_* value of a spec action (+ errno); ConfigError naming the field."""
    base = ACTIONS.get(name)
    if base is None:
        raise ConfigError(f'{where}: {field}: unknown action "{name}"')
    if name in _WITH_ERRNO:
        e = EPERM if errno_ret is None else errno_ret
        if not isinstance(e, int) or isinstance(e, bool) or not 0 <= e <= 0xFFFF:
            raise ConfigError(f"{where}: {errno_field}: {e!r} out of range (0..65535)")
        return base | e
    if errno_ret is not None:
        raise ConfigError(f'{where}: {errno_field}: action "{name}" takes no errno')
    return base


class Compiled:
    """What compile() found out, besides the program itself."""

    __slots__ = ("bpf", "flags", "notify", "skipped", "rules")


def compile_seccomp(sec: dict, where: str, debug=None, cache_dir: str = "") -> Compiled:
    """Compile linux.seccomp. `where` names the config file in errors;
    `debug(msg)` receives the names skipped. With cache_dir, a program
    compiled before from the very same profile (and libseccomp, and
    architecture) is reused: every check still runs, only libseccomp's
    rule database and export (~12 ms for Docker's profile) are skipped."""
    P = "linux.seccomp"
    if not isinstance(sec, dict):
        raise ConfigError(f"{where}: {P}: must be an object")
    if "defaultAction" not in sec:
        raise ConfigError(f"{where}: {P}.defaultAction: required")
    default = action_value(sec["defaultAction"], sec.get("defaultErrnoRet"), f"{P}.defaultAction", where,
                           f"{P}.defaultErrnoRet")
    if sec["defaultAction"] == "SCMP_ACT_NOTIFY":
        raise ConfigError(f"{where}: {P}.defaultAction: SCMP_ACT_NOTIFY cannot be the default action "
                          "(every call of the runtime itself would wait for the agent)")
    actions_used = {sec["defaultAction"]: f"{P}.defaultAction"}

    # -- rules: checked and resolved before libseccomp sees anything -------------
    rules = []  # (action value, syscall nr, conds, context)
    skipped = []
    notify = False
    known: dict = {}
    all_names: dict = {}  # every name the profile mentions, for the -ENOSYS stub
    for i, call in enumerate(sec.get("syscalls") or []):
        f = f"{P}.syscalls[{i}]"
        if not isinstance(call, dict):
            raise ConfigError(f"{where}: {f}: must be an object")
        names = call.get("names")
        if not names or not isinstance(names, list):
            raise ConfigError(f"{where}: {f}.names: must list at least one syscall")
        aname = call.get("action")
        if aname is None:
            raise ConfigError(f"{where}: {f}.action: required")
        act = action_value(aname, call.get("errnoRet"), f"{f}.action", where, f"{f}.errnoRet")
        actions_used.setdefault(aname, f"{f}.action")
        if aname == "SCMP_ACT_NOTIFY":
            notify = True
            if "write" in names:
                raise ConfigError(f"{where}: {f}.names: SCMP_ACT_NOTIFY cannot be used for write "
                                  "(the runtime writes to hand the listener fd over after loading)")
        conds = []
        for j, a in enumerate(call.get("args") or []):
            af = f"{f}.args[{j}]"
            if not isinstance(a, dict):
                raise ConfigError(f"{where}: {af}: must be an object")
            op = sc.CMP.get(a.get("op"))
            if op is None:
                raise ConfigError(f'{where}: {af}.op: unknown operator "{a.get("op")}"')
            idx = a.get("index")
            if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx <= 5:
                raise ConfigError(f"{where}: {af}.index: {idx!r}: a syscall has arguments 0..5")
            vals = []
            for k in ("value", "valueTwo"):
                v = a.get(k, 0)
                if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFFFFFFFFFFFFFF:
                    raise ConfigError(f"{where}: {af}.{k}: {v!r}: must be a uint64")
                vals.append(v)
            if "value" not in a:
                raise ConfigError(f"{where}: {af}.value: required")
            conds.append((idx, op, vals[0], vals[1] if op == sc.CMP["SCMP_CMP_MASKED_EQ"] else 0))
        if act == default:
            all_names.update(dict.fromkeys(n for n in names if isinstance(n, str)))
            continue  # runc: the default action covers it
        # runc: conditions on one argument twice cannot be ANDed by libseccomp:
        # each condition becomes a rule of its own
        indexes = [c[0] for c in conds]
        groups = [[c] for c in conds] if len(set(indexes)) < len(indexes) else [conds]
        for name in names:
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{where}: {f}.names: {name!r} is not a syscall name")
            all_names[name] = None
            nr = known.get(name)
            if nr is None:
                nr = known[name] = sc.Libseccomp.resolve_syscall(name)
            if nr == sc.NR_SCMP_ERROR:
                skipped.append(name)
                continue
            for g in groups:
                rules.append((act, nr, g, f"{f}: {name}"))
    if notify and not sec.get("listenerPath"):
        raise ConfigError(f"{where}: {P}.listenerPath: required with SCMP_ACT_NOTIFY")

    # -- what this kernel can do -------------------------------------------------
    for aname, field in actions_used.items():
        if not sc.action_available(ACTIONS[aname]):
            raise ConfigError(f'{where}: {field}: action "{aname}" is not supported by this kernel')
    flags = 0
    for i, name in enumerate(sec.get("flags") or []):
        bit = sc.FLAGS.get(name)
        if bit is None:
            raise ConfigError(f'{where}: {P}.flags[{i}]: unknown flag "{name}"')
        if not sc.flag_supported(bit):
            raise ConfigError(f'{where}: {P}.flags[{i}]: "{name}" is not supported by this kernel')
        flags |= bit
    if notify:
        flags |= sc.FLAG_NEW_LISTENER
        # the kernel refuses TSYNC with a listener; ocipy's processes load
        # the filter single-threaded, so thread sync has nothing to do
        flags &= ~sc.FLAG_TSYNC
    else:
        flags &= ~sc.FLAG_WAIT_KILLABLE_RECV  # only meaningful (and valid) with a listener

    key = cached = b""
    if cache_dir:
        key = ("%s\n%s\n%d\n%r" % (CACHE_FORMAT, ".".join(map(str, sc.Libseccomp.version())),
                                      sc.Libseccomp.native_arch(), sec)).encode()
        cached = _cache_get(cache_dir, key)
    if cached:
        bpf = cached
    else:
        bpf = _libseccomp(sec, where, default, rules, all_names)
        if cache_dir:
            _cache_put(cache_dir, key, bpf)
    if skipped and debug is not None:
        debug(f"{P}: skipping syscalls unknown to libseccomp: {', '.join(dict.fromkeys(skipped))}")
    out = Compiled()
    out.bpf, out.flags, out.notify, out.skipped, out.rules = bpf, flags, notify, skipped, len(rules)
    return out


def _libseccomp(sec: dict, where: str, default: int, rules: list, all_names: dict) -> bytes:
    P = "linux.seccomp"
    try:
        ctx = sc.Libseccomp(default)
    except OSError as e:
        raise ConfigError(f"{where}: {P}: cannot load {sc.SONAME} ({e}): install libseccomp2") from None
    except SysError as e:
        raise ConfigError(f"{where}: {P}.defaultAction: {e}") from None
    tokens = [sc.Libseccomp.native_arch()]
    try:
        for i, a in enumerate(sec.get("architectures") or []):
            token = sc.Libseccomp.resolve_arch(arch_name(a)) if isinstance(a, str) else 0
            if not token:
                raise ConfigError(f'{where}: {P}.architectures[{i}]: unknown architecture "{a}" '
                                  f"(not known to libseccomp {'.'.join(map(str, sc.Libseccomp.version()))})")
            try:
                if ctx.arch_add(token):
                    tokens.append(token)
            except SysError as e:
                raise ConfigError(f"{where}: {P}.architectures[{i}]: {a}: {e}") from None
        for act, nr, conds, context in rules:
            try:
                ctx.rule_add(act, nr, conds, context)
            except SysError as e:
                raise ConfigError(f"{where}: {e}") from None
        try:
            bpf = ctx.export_bpf()
        except SysError as e:
            raise ConfigError(f"{where}: {P}: {e}") from None
    finally:
        ctx.release()
    if sec["defaultAction"] not in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG") and default != sc.RET_ERRNO | 38:
        bpf = _enosys_stub(tokens, all_names) + bpf
    if len(bpf) // 8 > MAX_INSNS:
        raise ConfigError(f"{where}: {P}: the filter compiles to {len(bpf) // 8} BPF instructions, "
                          f"more than the kernel's limit of {MAX_INSNS}")
    return bpf


# -- the cache of compiled programs (/var/cache/ocipy/seccomp, root only) ---------------
# Not under --root: a cache is no container state (a root with no container
# stays empty), and every root shares it (the key is the exact profile).
# A file per profile, named by a CRC of its key and holding the whole key:
# a hit is an exact match of the profile's text, libseccomp's version and
# the architecture, never a mere CRC match. Bump CACHE_FORMAT when what is
# compiled changes (the stub, the rules' semantics).
CACHE_FORMAT = "ocipy-seccomp-1"
CACHE_MAX = 32  # files; beyond it the directory is emptied (profiles seldom vary)
CACHE_DIR = "/var/cache/ocipy/seccomp"


def _cache_dir_ok(cache_dir: str) -> bool:
    """The directory and its parent are ours and writable by nobody else
    (a program planted by another user would be a filter bypass)."""
    for d in (cache_dir, _dirname(cache_dir)):
        try:
            st = posix.lstat(d)
        except OSError:
            return False
        if st.st_mode & 0o170000 != 0o040000 or st.st_uid != posix.geteuid() or st.st_mode & 0o022:  # S_ISDIR
            return False
    return True


def _cache_path(cache_dir: str, key: bytes) -> str:
    from zlib import crc32

    return _join(cache_dir, "%08x-%d.bpf" % (crc32(key), len(key)))


def _cache_get(cache_dir: str, key: bytes) -> bytes:
    if not _cache_dir_ok(cache_dir):
        return b""
    try:
        with open(_cache_path(cache_dir, key), "rb") as f:
            data = f.read()
    except OSError:
        return b""
    n = len(key)
    if data[:8] != n.to_bytes(8, "little") or data[8:8 + n] != key or (len(data) - 8 - n) % 8:
        return b""
    return data[8 + n:]


def _cache_put(cache_dir: str, key: bytes, bpf: bytes) -> None:
    """Best effort (tmp file + rename): a failure only costs the next compile."""
    try:
        for d in (_dirname(cache_dir), cache_dir):  # (/var/cache itself must exist)
            try:
                posix.mkdir(d, 0o700)
            except FileExistsError:
                pass
        if not _cache_dir_ok(cache_dir):
            return
        names = posix.listdir(cache_dir)
        if len(names) >= CACHE_MAX:
            for n in names:
                try:
                    posix.unlink(_join(cache_dir, n))
                except OSError:
                    pass
        path = _cache_path(cache_dir, key)
        tmp = "%s.%d.tmp" % (path, posix.getpid())
        fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC, 0o600)
        try:
            posix.write(fd, len(key).to_bytes(8, "little") + key + bpf)
        finally:
            posix.close(fd)
        posix.rename(tmp, path)
    except OSError:
        pass


X32_TOKEN = 0x4000003E  # libseccomp's own token for x32 (the kernel reports x86_64's)


def _enosys_stub(tokens: list, names) -> bytes:
    from ocipy.seccomp import bpf

    last, x32 = {}, None
    for token in tokens:
        nums = [n for n in (sc.Libseccomp.resolve_syscall_arch(token, name) for name in names) if n >= 0]
        if not nums:
            continue
        if token == X32_TOKEN:
            x32 = max(nums)
        else:
            last[token] = max(nums)
    return bpf.encode(bpf.enosys_stub(last, x32))


def supported() -> dict:
    """`ocipy features`' linux.seccomp: the actions and flags that really
    work here (kernel probes), every operator, the architectures this
    libseccomp knows; {"enabled": False} without libseccomp."""
    try:
        sc.Libseccomp.version()
    except OSError:
        return {"enabled": False}
    return {
        "enabled": True,
        "actions": sorted(a for a, v in ACTIONS.items() if sc.action_available(v)),
        "operators": sorted(sc.CMP),
        "archs": sorted(a for a in SPEC_ARCHS if sc.Libseccomp.resolve_arch(arch_name(a))),
        "knownFlags": sorted(sc.FLAGS),
        "supportedFlags": sorted(f for f, bit in sc.FLAGS.items() if sc.flag_supported(bit)),
    }


def libseccomp_version() -> str:
    """"2.5.4", or "" without the library."""
    try:
        return ".".join(map(str, sc.Libseccomp.version()))
    except OSError:
        return ""
