"""JSON for the hot path, on the C accelerator `_json` only.

`import json` pulls in `re` (and json.decoder/encoder/scanner): ~8 ms per CLI
call. The C scanner and encoder inside `_json` do the real work in both cases;
this module wires them up without the pure-Python wrappers. It is proved equal
to the json module by tests/unit/test_jsonlite.py.
"""
import _json


class JSONError(ValueError):
    """Malformed JSON; .lineno/.colno locate the error (1-based)."""

    def __init__(self, msg: str, doc: str, pos: int) -> None:
        lineno = doc.count("\n", 0, pos) + 1
        colno = pos - doc.rfind("\n", 0, pos)
        self.msg, self.pos, self.lineno, self.colno = msg, pos, lineno, colno
        super().__init__(f"{msg}: line {lineno} column {colno} (char {pos})")


def _constant(name: str) -> float:
    raise ValueError(f"invalid constant {name}")


class _Ctx:
    """The attributes _json.make_scanner reads from json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)
    memo: dict = {}


_scan = _json.make_scanner(_Ctx())
_WS = " \t\n\r"


def _skip(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in _WS:
        i += 1
    return i


def loads(s: str | bytes):
    """Parse a JSON document; raises JSONError with line/column."""
    if isinstance(s, (bytes, bytearray)):
        # utf-8-sig by hand: that codec is a module (encodings.utf_8_sig) to
        # import, utf-8 is built in
        if s[:3] == b"\xef\xbb\xbf":
            s = s[3:]
        try:
            s = s.decode("utf-8")
        except UnicodeDecodeError as e:
            raise JSONError("invalid UTF-8", "", 0) from e
    i = _skip(s, 0)
    try:
        obj, end = _scan(s, i)
    except StopIteration as e:
        raise JSONError("Expecting value", s, e.value) from None
    except Exception:  # noqa: BLE001
        # _json builds its error from json.decoder, which the hot path never
        # imports: without it the C scanner fails with a bare SystemError.
        # Malformed input is the slow path: let the json module say where.
        raise _precise_error(s) from None
    end = _skip(s, end)
    if end != len(s):
        raise JSONError("Extra data", s, end)
    return obj


def _precise_error(s: str) -> JSONError:
    import json

    try:
        json.loads(s, parse_constant=_constant)
    except json.JSONDecodeError as e:
        return JSONError(e.msg, s, e.pos)
    except ValueError as e:  # NaN/Infinity: find where
        pos = min((p for p in (s.find("NaN"), s.find("Infinity"), s.find("-Infinity")) if p >= 0), default=0)
        return JSONError(str(e), s, pos)
    return JSONError("invalid JSON", s, 0)


def _dflt(o):
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


_compact = _json.make_encoder(
    None, _dflt, _json.encode_basestring, None, ":", ",", False, False, False
)


def dumps(obj, indent: int | str | None = None) -> str:
    """Serialize; compact (Go's json.Marshal style) or indented like
    json.MarshalIndent / json.dumps(indent=N) (keys in insertion order)."""
    if indent is None:
        return "".join(_compact(obj, 0))
    out: list[str] = []
    _pretty(obj, out, indent if isinstance(indent, str) else " " * indent, "\n")
    return "".join(out)


def _pretty(o, out: list, step: str, nl: str) -> None:
    if isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = nl + step
        out.append("{")
        first = True
        for k, v in o.items():
            out.append(inner if first else "," + inner)
            first = False
            out.append(_json.encode_basestring(str(k)))
            out.append(": ")
            _pretty(v, out, step, inner)
        out.append(nl + "}")
    elif isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        inner = nl + step
        out.append("[")
        first = True
        for v in o:
            out.append(inner if first else "," + inner)
            first = False
            _pretty(v, out, step, inner)
        out.append(nl + "]")
    else:
        out.append("".join(_compact(o, 0)))
