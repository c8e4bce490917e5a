"""jsonlite (the hot path's JSON on _json) must equal the json module."""
import json

import pytest

from ocipy import jsonlite

DOCS = [
    {},
    [],
    {"a": [1, 2.5, {"b": None, "c": True, "d": False}], "e": {}, "f": []},
    {"unicode": "é ü 中文 \u2028", "esc": "quote\" back\\ nl\n tab\t ctl\x01"},
    [1, -1, 0, 1e300, -2.5e-7, 123456789012345678901234567890],
    {"nested": [[[[{"x": [{}]}]]]]},
    "just a string",
    42,
    None,
]


@pytest.mark.parametrize("doc", DOCS)
def test_roundtrip_equals_json(doc):
    s = json.dumps(doc)
    assert jsonlite.loads(s) == json.loads(s)
    assert jsonlite.loads(s.encode()) == doc
    assert jsonlite.dumps(doc) == json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    assert jsonlite.dumps(doc, indent=2) == json.dumps(doc, indent=2, ensure_ascii=False)
    assert jsonlite.dumps(doc, indent="\t") == json.dumps(doc, indent="\t", ensure_ascii=False)


@pytest.mark.parametrize("bad", ["", "{", '{"a":}', "[1,2", '{"a":1} x', "nul", '{"a" 1}', "{'a':1}",
                                 '{"a":1,}', "\x00"])
def test_errors_like_json(bad):
    with pytest.raises(json.JSONDecodeError) as ref:
        json.loads(bad)
    with pytest.raises(jsonlite.JSONError) as got:
        jsonlite.loads(bad)
    assert (got.value.lineno, got.value.colno) == (ref.value.lineno, ref.value.colno)


def test_nan_refused():
    """json accepts NaN/Infinity by default; they are not JSON, and a config
    with them is refused."""
    with pytest.raises(jsonlite.JSONError):
        jsonlite.loads("[NaN]")


def test_line_and_column():
    with pytest.raises(jsonlite.JSONError) as e:
        jsonlite.loads('{\n  "a": 1,\n  "b": ]\n}')
    assert (e.value.lineno, e.value.colno) == (3, 8)
    assert "line 3 column 8" in str(e.value)


def test_utf8_bom_and_invalid_bytes():
    assert jsonlite.loads(b"\xef\xbb\xbf{}") == {}
    with pytest.raises(jsonlite.JSONError):
        jsonlite.loads(b'{"a": "\xff"}')


def test_unserializable():
    with pytest.raises(TypeError):
        jsonlite.dumps({"a": object()})
