"""conformance/extract.py: MUST/SHOULD statements from markdown, stable keys."""
from __future__ import annotations

from conformance.extract import clean, extract_text, level_of, parse_coverage, render_coverage, sentences

DOC = '''# <a name="top" />Title

Intro without keywords.

## <a name="first" />First

The runtime MUST do A. It MAY do B.
This one SHOULD NOT be split (e.g. `com.example.key`) wrongly.
* **`field`** (string, OPTIONAL) the [thing][ref] which
    MUST be absolute.
    * nested item that SHOULD work.

```json
{"MUST": "never in code"}
```

[ref]: https://example.com/MUST

## Plain heading

 `opt`   | MUST   | [^1]
 ------- | ------ | ----
 `other` | SHOULD | see [here](http://x)

The runtime MUST do A.
The runtime must not count (lower case).
'''


def test_statements_and_anchors():
    st = extract_text("x.md", DOC)
    got = [(s.anchor, s.level, s.text) for s in st]
    assert got == [
        ("first", "MUST", "The runtime MUST do A."),
        ("first", "SHOULD NOT", "This one SHOULD NOT be split (e.g. `com.example.key`) wrongly."),
        ("first", "MUST", "`field` (string, OPTIONAL) the thing which MUST be absolute."),
        ("first", "SHOULD", "nested item that SHOULD work."),
        ("plain-heading", "MUST", "`opt` | MUST | [^1]"),
        ("plain-heading", "SHOULD", "`other` | SHOULD | see here"),
        ("plain-heading", "MUST", "The runtime MUST do A."),
    ]


def test_keys_are_stable_and_unique():
    st = extract_text("x.md", DOC)
    keys = [s.key for s in st]
    assert len(set(keys)) == len(keys)
    assert keys == [s.key for s in extract_text("x.md", DOC)]
    # the same sentence under another anchor: same hash, other anchor
    assert keys[0].split(":")[1] == keys[-1].split(":")[1]
    # a repeat under one anchor gets .2
    twice = extract_text("x.md", "## <a name=\"a\" />A\n\nX MUST y.\n\nX MUST y.\n")
    assert [s.key.rsplit(":", 1)[1][8:] for s in twice] == ["", ".2"]
    # editing the sentence changes the key
    edited = extract_text("x.md", DOC.replace("MUST do A. It", "MUST do A2. It"))
    assert edited[0].key != keys[0]


def test_clean_and_sentences():
    assert clean("a [b](http://c) [d][e] **`f`** *g*") == "a b d `f` g"
    assert sentences("One MUST x. Two, i.e. three. `Four` too.") == ["One MUST x.", "Two, i.e. three.", "`Four` too."]
    assert level_of("x MUST NOT y") == "MUST NOT" and level_of("x SHOULD y") == "SHOULD"


def test_coverage_round_trip():
    st = extract_text("x.md", DOC)
    text = render_coverage(st, {st[0].key: ["a.b", "c.d"]}, {st[1].key: "why not"})
    cov = parse_coverage(text)
    assert list(cov) == [s.key for s in st]
    assert cov[st[0].key].checks == ["a.b", "c.d"] and cov[st[0].key].text == st[0].text
    assert cov[st[1].key].reason == "why not"
    assert not cov[st[2].key].checks and not cov[st[2].key].reason
    assert "    TODO" in text
