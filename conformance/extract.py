"""Extract the MUST / SHOULD statements of the runtime spec, mechanically.

    python -m conformance.extract [--spec DIR] [--file runtime.md ...]
    python -m conformance.extract --update-coverage   # rewrite conformance/coverage.txt

A statement is one sentence (or one table row) of runtime.md, runtime-linux.md,
config.md or config-linux.md that holds an upper-case RFC 2119 keyword MUST or
SHOULD (MUST NOT, SHOULD NOT included). Its key, `file#anchor:hash8[.n]`, is
stable while its text is unchanged: anchor is the nearest preceding heading's
`<a name=...>` (or the heading's slug), hash8 the first 8 hex digits of the
SHA-1 of the normalised sentence, `.n` numbers repeats of one sentence under
one anchor (2, 3...).

Pure: reads text, returns data. No import of the rest of the suite.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass

SPEC_FILES = ("runtime.md", "runtime-linux.md", "config.md", "config-linux.md")
KEYWORD = re.compile(r"\b(MUST|SHOULD)\b")
_LEVELS = ("MUST NOT", "MUST", "SHOULD NOT", "SHOULD")

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_ANAME = re.compile(r'<a\s+name="([^"]+)"\s*/?>\s*')
_LIST_ITEM = re.compile(r"^\s*(?:[*+-]|\d+\.)\s+")
_LINK_DEF = re.compile(r"^\s*\[[^\]]+\]:\s*\S+")
_TABLE_SEP = re.compile(r"^[\s|:-]+$")
_ABBREV = ("e.g.", "i.e.", "etc.", "vs.", "cf.")


@dataclass(frozen=True)
class Statement:
    file: str
    anchor: str
    text: str        # the sentence, markdown links flattened
    level: str       # MUST, MUST NOT, SHOULD, SHOULD NOT (the strongest keyword in it)
    line: int        # 1-based line where its block starts
    key: str         # file#anchor:hash8[.n]

    @property
    def ref(self) -> str:
        return f"{self.file}#{self.anchor}"


def default_spec_dir() -> str:
    """$OCI_RUNTIME_SPEC, else ../shared/oci-runtime-spec beside the repository."""
    if os.environ.get("OCI_RUNTIME_SPEC"):
        return os.environ["OCI_RUNTIME_SPEC"]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(os.path.dirname(repo), "shared", "oci-runtime-spec")


def slug(text: str) -> str:
    s = re.sub(r"[^\w\s-]", "", text.strip().lower())
    return re.sub(r"\s+", "-", s)


def clean(text: str) -> str:
    """Flatten markdown: links to their text, emphasis markers dropped, spaces squeezed."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)      # [t](url)
    text = re.sub(r"\[([^\]^][^\]]*)\]\[[^\]]*\]", r"\1", text)   # [t][ref]
    text = text.replace("**", "").replace("__", "")
    text = re.sub(r"(?<![\w*])\*(?!\s)([^*]+?)\*(?!\w)", r"\1", text)  # *em*
    return re.sub(r"\s+", " ", text).strip()


def sentences(text: str) -> list[str]:
    protected = text
    for i, ab in enumerate(_ABBREV):
        protected = protected.replace(ab, f"\x00{i}\x00")
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z`*\[(\"])", protected)
    out = []
    for p in parts:
        for i, ab in enumerate(_ABBREV):
            p = p.replace(f"\x00{i}\x00", ab)
        p = p.strip()
        if p:
            out.append(p)
    return out


def level_of(sentence: str) -> str:
    for lv in _LEVELS:
        if re.search(r"\b" + lv.replace(" ", r"\s+") + r"\b", sentence):
            return lv
    return ""


def _blocks(lines: list[str]):
    """Yield (anchor, first_line_no, text, is_table_row)."""
    anchor = ""
    in_code = False
    cur: list[str] = []
    cur_line = 0

    def flush():
        nonlocal cur
        if cur:
            yield_ = (anchor, cur_line, " ".join(s.strip() for s in cur), False)
            cur = []
            return yield_
        return None

    for no, raw in enumerate(lines, 1):
        line = raw.rstrip("\n")
        if line.lstrip().startswith("```"):
            b = flush()
            if b:
                yield b
            in_code = not in_code
            continue
        if in_code:
            continue
        m = _HEADING.match(line)
        if m:
            b = flush()
            if b:
                yield b
            title = m.group(2)
            a = _ANAME.search(title)
            anchor = a.group(1) if a else slug(_ANAME.sub("", title))
            continue
        if not line.strip() or _LINK_DEF.match(line):
            b = flush()
            if b:
                yield b
            continue
        if line.count("|") >= 2:
            b = flush()
            if b:
                yield b
            if _TABLE_SEP.match(line):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            yield (anchor, no, " | ".join(c for c in cells), True)
            continue
        if _LIST_ITEM.match(line):
            b = flush()
            if b:
                yield b
            line = _LIST_ITEM.sub("", line, count=1)
        if not cur:
            cur_line = no
        cur.append(line)
    b = flush()
    if b:
        yield b


def extract_text(name: str, text: str) -> list[Statement]:
    out: list[Statement] = []
    seen: dict[tuple[str, str], int] = {}
    for anchor, line, block, _is_row in _blocks(text.splitlines()):
        for s in sentences(clean(block)):
            if not KEYWORD.search(s):
                continue
            h = hashlib.sha1(s.encode()).hexdigest()[:8]
            n = seen.get((anchor, h), 0) + 1
            seen[(anchor, h)] = n
            key = f"{name}#{anchor}:{h}" + (f".{n}" if n > 1 else "")
            out.append(Statement(name, anchor, s, level_of(s), line, key))
    return out


def extract(spec_dir: str | None = None, files=SPEC_FILES) -> list[Statement]:
    spec_dir = spec_dir or default_spec_dir()
    out: list[Statement] = []
    for name in files:
        with open(os.path.join(spec_dir, name), encoding="utf-8") as f:
            out.extend(extract_text(name, f.read()))
    return out


# --- the coverage list ------------------------------------------------------------------

COVERAGE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "coverage.txt")
_HEADER = """\
# Coverage of the MUST/SHOULD statements of runtime.md, runtime-linux.md, config.md and
# config-linux.md (runtime-spec v1.3.0) by the conformance suite. One entry per statement:
#
#   KEY
#     <the statement, as extracted>
#     check: ID[, ID...]          the checks that test it (generated from the checks' `reqs`)
#     n/a: REASON                 why no check tests it (written by hand, kept on regeneration
#                                 until a check names the statement)
#
# Regenerate with `python -m conformance.extract --update-coverage`; statements without a
# check or a reason are marked `TODO` and fail tests/unit/test_conformance_coverage.py.
"""


@dataclass
class Entry:
    key: str
    text: str
    checks: list[str]
    reason: str


def parse_coverage(text: str) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    cur: Entry | None = None
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            cur = Entry(line.strip(), "", [], "")
            if cur.key in out:
                raise ValueError(f"coverage line {no}: duplicate key {cur.key}")
            out[cur.key] = cur
            continue
        if cur is None:
            raise ValueError(f"coverage line {no}: indented line before any key")
        body = line.strip()
        if body.startswith("check:"):
            cur.checks = [c.strip() for c in body[6:].split(",") if c.strip()]
        elif body.startswith("n/a:"):
            cur.reason = body[4:].strip()
        elif body == "TODO":
            pass
        elif not cur.text:
            cur.text = body
        else:
            raise ValueError(f"coverage line {no}: unexpected {body!r}")
    return out


def render_coverage(statements: list[Statement], checks_by_key: dict[str, list[str]],
                    reasons: dict[str, str]) -> str:
    parts = [_HEADER]
    last_ref = None
    for st in statements:
        if st.ref != last_ref:
            parts.append(f"\n## {st.ref}\n")
            last_ref = st.ref
        lines = [st.key, f"    {st.text}"]
        ids = checks_by_key.get(st.key)
        if ids:
            lines.append("    check: " + ", ".join(ids))
        if reasons.get(st.key):
            lines.append("    n/a: " + reasons[st.key])
        if not ids and not reasons.get(st.key):
            lines.append("    TODO")
        parts.append("\n".join(lines) + "\n")
    return "".join(parts)


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m conformance.extract", description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=None, help="the runtime-spec directory (default: %(default)s)")
    ap.add_argument("--file", action="append", choices=SPEC_FILES, help="only this spec file")
    ap.add_argument("--update-coverage", action="store_true", help=f"rewrite {COVERAGE_FILE}")
    args = ap.parse_args(argv)
    spec_dir = args.spec or default_spec_dir()
    if not os.path.isdir(spec_dir):
        print(f"conformance: spec directory {spec_dir} not found (--spec DIR)", file=sys.stderr)
        return 2
    statements = extract(spec_dir, tuple(args.file or SPEC_FILES))
    if args.update_coverage:
        from .registry import all_checks, resolve_reqs
        old = {}
        if os.path.exists(COVERAGE_FILE):
            with open(COVERAGE_FILE, encoding="utf-8") as f:
                old = parse_coverage(f.read())
        by_key = resolve_reqs(statements, all_checks())
        # a reason explains why a statement has no check: dropped once a check names it
        reasons = {k: e.reason for k, e in old.items() if e.reason and k not in by_key}
        text = render_coverage(statements, by_key, reasons)
        with open(COVERAGE_FILE + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(COVERAGE_FILE + ".tmp", COVERAGE_FILE)
        todo = sum(1 for st in statements if st.key not in by_key and not reasons.get(st.key))
        print(f"{COVERAGE_FILE}: {len(statements)} statements, {len(by_key)} checked, {todo} TODO")
        return 0
    for st in statements:
        print(f"{st.key}\t{st.level}\t{st.text}")
    print(f"{len(statements)} statements", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
