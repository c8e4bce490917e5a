"""Lean validation of config.json (hot path: no typing, re, json or pydantic).

Two layers, both raising one-line ConfigErrors ``<file>: <json.path>: <what>``:

* ``validate`` checks the *structure* (types, required fields, ranges, enums,
  patterns) by walking ``_table``, which gen.py derives from the pydantic
  models. It is proved equal to ``models.Spec.model_validate`` by the
  differential tests: it raises iff pydantic raises, and reports pydantic's
  first error location. Like pydantic, it checks fields in declaration order
  and stops at the first error (one clear line beats a wall of them).
* ``check_rules`` checks what a type cannot express: SemVer, absolute paths,
  duplicates, "required unless", "at least one of"... Each rule quotes the
  sentence of the spec it enforces. It assumes ``validate`` passed.

Paths read like JSON: ``process.user.uid``, ``mounts[3].destination``,
``linux.sysctl["net.ipv4.ip_forward"]``.
"""
from ocipy.errors import ConfigError
from ocipy.jsonlite import dumps
from ocipy.spec import env as _env
from ocipy.spec import rlimits as _rlimits
from ocipy.spec._table import MODELS, ROOT

# ---------------------------------------------------------------------------
# Errors.


class MapKey(str):
    """A location component that is a key of a JSON map (not a field name).

    It compares equal to the plain string, so a location tuple equals
    pydantic's ``loc`` while still formatting as ``["key"]``.
    """

    __slots__ = ()


KEY_MARKER = "[key]"  # pydantic's loc suffix when a map *key* is invalid


def format_loc(loc: tuple) -> str:
    """``("mounts", 3, "destination")`` -> ``mounts[3].destination``."""
    out = []
    for c in loc:
        if type(c) is int:
            out.append(f"[{c}]")
        elif isinstance(c, MapKey):
            out.append(f"[{dumps(str(c))}]")
        elif c == KEY_MARKER:
            continue  # the reason says "key ..."
        else:
            out.append("." + c if out else c)
    return "".join(out)


class SpecError(ConfigError):
    """A config value breaking the spec.

    str() is ``<filename>: <path>: <reason>`` (``<filename>: <reason>`` for
    the document itself). ``loc`` is the location as a tuple of field names,
    list indices and MapKeys; ``kind`` is one of "type", "missing", "range",
    "enum", "pattern", "too_short" (structure) or "rule" (check_rules).
    """

    def __init__(self, filename: str, loc: tuple, reason: str, kind: str = "rule") -> None:
        self.filename, self.loc, self.reason, self.kind = filename, tuple(loc), reason, kind
        self.path = format_loc(self.loc)
        super().__init__(f"{filename}: {self.path}: {reason}" if self.path else f"{filename}: {reason}")


class _Invalid(Exception):
    """Internal: raised at the bad value, its location filled in while unwinding
    (so that a valid config never pays for building locations)."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind, self.reason, self.rloc = kind, reason, []


# ---------------------------------------------------------------------------
# Rendering values in messages.

_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "bool": "a boolean",
    "list": "an array",
    "map": "a JSON object",
    "obj": "a JSON object",
}


def show(v: object) -> str:
    """A short one-line JSON-like rendering of a config value."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return dumps(v if len(v) <= 64 else v[:61] + "...")
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


# ---------------------------------------------------------------------------
# The schema's regex patterns as predicates. Semantics are those of pydantic
# (Rust regex) and of JSON Schema (ECMA-262): `$` matches only at the very
# end of the string. (Python's re `$` would also match before a final "\n",
# so "RLIMIT_CPU\n" would pass re.search; it must not pass here.)
# tests/unit/test_spec_patterns.py proves each equal to the regex.

_DIGITS = frozenset("0123456789")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CPU_LIST_CHARS = frozenset("0123456789, -")


def _is_rlimit_name(s: str) -> bool:  # ^RLIMIT_[A-Z]+$
    return len(s) > 7 and s.startswith("RLIMIT_") and _UPPER.issuperset(s[7:])


def _is_cpu_list(s: str) -> bool:  # ^[0-9, -]*$
    return _CPU_LIST_CHARS.issuperset(s)


def _is_page_size(s: str) -> bool:  # ^[1-9][0-9]*[KMG]B$
    return (
        len(s) >= 3
        and s[-1] == "B"
        and s[-2] in "KMG"
        and s[0] in "123456789"
        and _DIGITS.issuperset(s[1:-2])
    )


def _is_device_type(s: str) -> bool:  # ^[cbup]$
    return s in ("c", "b", "u", "p")


def _is_mem_bw_schema(s: str) -> bool:  # ^MB:[^\n]*$
    return s.startswith("MB:") and "\n" not in s


PREDICATES = {
    "^RLIMIT_[A-Z]+$": _is_rlimit_name,
    "^[0-9, -]*$": _is_cpu_list,
    "^[1-9][0-9]*[KMG]B$": _is_page_size,
    "^[cbup]$": _is_device_type,
    "^MB:[^\\n]*$": _is_mem_bw_schema,
}


# ---------------------------------------------------------------------------
# Structural validation.

_MISSING = object()


def _check(v: object, t: tuple) -> None:
    """Raise _Invalid if value `v` does not have table type `t`."""
    k = t[0]
    if k == "obj":
        if not isinstance(v, dict):
            raise _Invalid("type", f"must be a JSON object (got {show(v)})")
        _check_fields(v, MODELS[t[1]])
    elif k == "str":
        if not isinstance(v, str):
            raise _Invalid("type", f"must be a string (got {show(v)})")
        if t[1] is not None and not PREDICATES[t[1]](v):
            raise _Invalid("pattern", f"must match {t[1]} (got {show(v)})")
        if len(v) < t[2]:
            raise _Invalid("too_short", "must not be empty" if t[2] == 1 else f"must have at least {t[2]} characters")
    elif k == "int":
        if not isinstance(v, int) or v.__class__ is bool:
            raise _Invalid("type", f"must be an integer (got {show(v)})")
        if t[1] is not None and v < t[1]:
            raise _Invalid("range", f"must be >= {t[1]} (got {v})")
        if t[2] is not None and v > t[2]:
            raise _Invalid("range", f"must be <= {t[2]} (got {v})")
    elif k == "list":
        if not isinstance(v, list):
            raise _Invalid("type", f"must be an array (got {show(v)})")
        item = t[1]
        for i, x in enumerate(v):
            try:
                _check(x, item)
            except _Invalid as e:
                e.rloc.append(i)
                raise
        if len(v) < t[2]:
            raise _Invalid("too_short", "must not be empty" if t[2] == 1 else f"must have at least {t[2]} items")
    elif k == "bool":
        if v is not True and v is not False:
            raise _Invalid("type", f"must be a boolean (got {show(v)})")
    elif k == "enum":
        if not isinstance(v, str) or v not in t[1]:
            choices = ", ".join(dumps(c) for c in t[1])
            raise _Invalid("enum", f"must be one of {choices} (got {show(v)})")
    elif k == "map":
        if not isinstance(v, dict):
            raise _Invalid("type", f"must be a JSON object (got {show(v)})")
        kt, vt = t[1], t[2]
        if vt[0] == "any" and kt == ("str", None, 0):
            return  # opaque object: JSON keys are always strings
        for key, x in v.items():
            try:
                _check(key, kt)
            except _Invalid as e:
                e.reason = "key " + e.reason
                e.rloc += [KEY_MARKER, MapKey(key)]
                raise
            try:
                _check(x, vt)
            except _Invalid as e:
                e.rloc.append(MapKey(key))
                raise
    elif k == "any":
        pass
    else:  # pragma: no cover - gen.py only emits the kinds above
        raise AssertionError(f"unknown table type {t!r}")


def _check_fields(obj: dict, fields: tuple) -> None:
    for name, t, required in fields:
        v = obj.get(name, _MISSING)
        if v is _MISSING:
            if required:
                e = _Invalid("missing", "required field is missing")
                e.rloc.append(name)
                raise e
            continue
        try:
            _check(v, t)
        except _Invalid as e:
            e.rloc.append(name)
            raise


def validate(cfg: object, filename: str = "config.json", *, model: str = ROOT) -> None:
    """Check the structure of a parsed config.json (or, with `model`, of any
    spec object, e.g. model="Process" for `exec --process`).

    Raises SpecError naming `filename` and the JSON path of the first error.
    """
    try:
        _check(cfg, ("obj", model))
    except _Invalid as e:
        raise SpecError(filename, tuple(reversed(e.rloc)), e.reason, e.kind) from None


# ---------------------------------------------------------------------------
# Rules beyond structure (run after validate).


def parse_semver(s: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a SemVer 2.0.0 string, None if it is not one."""
    rest, plus, build = s.partition("+")
    if plus and not _semver_idents(build, numeric_leading_zero_ok=True):
        return None
    core, dash, pre = rest.partition("-")
    if dash and not _semver_idents(pre, numeric_leading_zero_ok=False):
        return None
    parts = core.split(".")
    if len(parts) != 3:
        return None
    for p in parts:
        if not p or not _DIGITS.issuperset(p) or (len(p) > 1 and p[0] == "0"):
            return None
    return int(parts[0]), int(parts[1]), int(parts[2])


_IDENT_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")


def _semver_idents(s: str, numeric_leading_zero_ok: bool) -> bool:
    for ident in s.split("."):
        if not ident or not _IDENT_CHARS.issuperset(ident):
            return False
        if not numeric_leading_zero_ok and len(ident) > 1 and ident[0] == "0" and _DIGITS.issuperset(ident):
            return False
    return True


def check_version(cfg: dict, filename: str = "config.json") -> None:
    """ociVersion "MUST be in SemVer v2.0.0 format" and the spec "retains
    forward and backward compatibility within major versions": accept 1.x.y."""
    v = cfg["ociVersion"]
    ver = parse_semver(v)
    if ver is None:
        raise SpecError(filename, ("ociVersion",), f"{show(v)} is not a SemVer 2.0.0 version")
    if ver[0] != 1:
        raise SpecError(filename, ("ociVersion",), f"unsupported version {show(v)} (ocipy implements 1.x)")


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
BIND_OPTIONS = ("bind", "rbind")


def _fail(filename: str, loc: tuple, reason: str) -> None:
    raise SpecError(filename, loc, reason)


def _absolute(filename: str, loc: tuple, path: str) -> None:
    if not path.startswith("/"):
        _fail(filename, loc, f"must be an absolute path (got {show(path)})")


def check_rules(cfg: dict, filename: str = "config.json") -> None:
    """Enforce the spec's rules that the models cannot express.

    Assumes ``validate(cfg)`` passed. Raises SpecError (kind "rule").
    """
    check_version(cfg, filename)
    _check_no_nul(cfg, filename)

    proc = cfg.get("process")
    if proc is not None:
        # config.md, process.cwd: "This value MUST be an absolute path."
        _absolute(filename, ("process", "cwd"), proc["cwd"])
        # process.env "with the same semantics as ... environ": NAME=VALUE.
        if "env" in proc:
            _env.resolve_env(proc["env"], "process.env", filename)
        # "If rlimits contains duplicated entries with same type, the runtime
        # MUST generate an error", and "for any values which cannot be
        # mapped to a relevant kernel interface".
        if "rlimits" in proc:
            _rlimits.parse_rlimits(proc["rlimits"], "process.rlimits", filename)
        # ioPriority.priority: "an integer ranging from 0 (highest) to 7
        # (lowest)"; the kernel (ioprio_set) and runc reject anything else.
        iop = proc.get("ioPriority")
        if iop is not None and not 0 <= iop["priority"] <= 7:
            _fail(filename, ("process", "ioPriority", "priority"), f"must be between 0 and 7 (got {iop['priority']})")

    hooks = cfg.get("hooks") or {}
    for kind in HOOK_KINDS:
        for i, hook in enumerate(hooks.get(kind) or ()):
            # "This specification extends the IEEE standard in that path MUST
            # be absolute."
            _absolute(filename, ("hooks", kind, i, "path"), hook["path"])
            if "env" in hook:
                _env.resolve_env(hook["env"], f"hooks.{kind}[{i}].env", filename)

    linux = cfg.get("linux") or {}
    userns = False
    seen_ns: dict[str, int] = {}
    for i, ns in enumerate(linux.get("namespaces") or ()):
        t = ns["type"]
        # "If a namespaces field contains duplicated namespaces with same
        # type, the runtime MUST generate an error."
        if t in seen_ns:
            _fail(filename, ("linux", "namespaces", i, "type"), f"duplicate namespace {show(t)} (also at [{seen_ns[t]}])")
        seen_ns[t] = i
        userns = userns or t == "user"
        # path: "This value MUST be an absolute path in the runtime mount
        # namespace."
        if "path" in ns:
            _absolute(filename, ("linux", "namespaces", i, "path"), ns["path"])

    for i, m in enumerate(cfg.get("mounts") or ()):
        has_uid, has_gid = "uidMappings" in m, "gidMappings" in m
        # uidMappings: "If specified, it MUST be specified along with
        # gidMappings" (and vice versa).
        if has_uid != has_gid:
            present, absent = ("uidMappings", "gidMappings") if has_uid else ("gidMappings", "uidMappings")
            _fail(filename, ("mounts", i, absent), f"required when {present} is set")
        # idmap/ridmap: "If there are no uidMappings and gidMappings specified
        # and the container isn't using user namespaces, an error MUST be
        # returned."
        opts = m.get("options") or ()
        if not has_uid and not userns and ("idmap" in opts or "ridmap" in opts):
            _fail(filename, ("mounts", i, "options"), "idmap needs uidMappings/gidMappings or a user namespace")

    for field in ("maskedPaths", "readonlyPaths"):
        # "The values MUST be absolute paths in the container namespace."
        for i, p in enumerate(linux.get(field) or ()):
            _absolute(filename, ("linux", field, i), p)

    for i, dev in enumerate(linux.get("devices") or ()):
        # "major, minor (int64, REQUIRED unless type is p)".
        if dev["type"] != "p":
            for f in ("major", "minor"):
                if f not in dev:
                    _fail(filename, ("linux", "devices", i, f), f"required for a device of type {show(dev['type'])}")

    res = linux.get("resources") or {}
    for i, wd in enumerate((res.get("blockIO") or {}).get("weightDevice") or ()):
        # "You MUST specify at least one of weight or leafWeight in a given entry."
        if "weight" not in wd and "leafWeight" not in wd:
            _fail(filename, ("linux", "resources", "blockIO", "weightDevice", i), "needs weight or leafWeight")
    for name, limits in (res.get("rdma") or {}).items():
        # "You MUST specify at least one of the hcaHandles or hcaObjects in a given entry."
        if "hcaHandles" not in limits and "hcaObjects" not in limits:
            _fail(filename, ("linux", "resources", "rdma", MapKey(name)), "needs hcaHandles or hcaObjects")

    sec = linux.get("seccomp")
    # listenerMetadata: "This field MUST NOT be set if listenerPath is not set."
    if sec is not None and "listenerMetadata" in sec and "listenerPath" not in sec:
        _fail(filename, ("linux", "seccomp", "listenerMetadata"), "set without listenerPath")

    rdt = linux.get("intelRdt")
    # schemata: "Each element represents one line ... The value MUST NOT contain newlines."
    for i, line in enumerate((rdt or {}).get("schemata") or ()):
        if "\n" in line:
            _fail(filename, ("linux", "intelRdt", "schemata", i), "must not contain a newline")


# Top-level sections whose strings never reach a syscall: free-form metadata.
# (Other platforms' sections are "any" in the table and are skipped anyway.)
_NUL_EXEMPT = frozenset(("annotations",))


def _check_no_nul(cfg: dict, filename: str) -> None:
    """No string that reaches a syscall may contain a NUL byte: the kernel would
    silently truncate it (a path, an argv entry) and Python refuses it with a
    ValueError deep in the launcher. runc rejects these early too. The walk
    follows the table, so map keys and field names format correctly."""
    try:
        for name, t, _ in MODELS[ROOT]:
            if name in cfg and name not in _NUL_EXEMPT:
                try:
                    _nul_walk(cfg[name], t)
                except _Invalid as e:
                    e.rloc.append(name)
                    raise
    except _Invalid as e:
        raise SpecError(filename, tuple(reversed(e.rloc)), e.reason, e.kind) from None


def _nul_walk(v: object, t: tuple) -> None:
    k = t[0]
    if k == "str":
        if "\x00" in v:
            raise _Invalid("rule", "must not contain a NUL byte")
    elif k == "obj":
        for name, ft, _ in MODELS[t[1]]:
            if name in v:
                try:
                    _nul_walk(v[name], ft)
                except _Invalid as e:
                    e.rloc.append(name)
                    raise
    elif k == "list":
        for i, x in enumerate(v):
            try:
                _nul_walk(x, t[1])
            except _Invalid as e:
                e.rloc.append(i)
                raise
    elif k == "map":
        for key, x in v.items():
            try:
                if "\x00" in key:
                    raise _Invalid("rule", "key must not contain a NUL byte")
                _nul_walk(x, t[2])
            except _Invalid as e:
                e.rloc.append(MapKey(key))
                raise
