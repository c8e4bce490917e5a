"""The conformance suite's coverage list (conformance/coverage.txt) accounts for every MUST and
SHOULD statement of runtime.md, runtime-linux.md, config.md and config-linux.md: new spec
text cannot be silently missed, and no check names a sentence the spec does not have."""
from __future__ import annotations

import os

import pytest

from conformance.extract import COVERAGE_FILE, SPEC_FILES, default_spec_dir, extract, parse_coverage, render_coverage
from conformance.registry import all_checks, resolve_reqs, statements_for

SPEC = default_spec_dir()
pytestmark = pytest.mark.skipif(not all(os.path.exists(os.path.join(SPEC, f)) for f in SPEC_FILES),
                                reason=f"runtime spec not found at {SPEC}")


@pytest.fixture(scope="module")
def statements():
    return extract(SPEC)


@pytest.fixture(scope="module")
def coverage():
    with open(COVERAGE_FILE, encoding="utf-8") as f:
        return parse_coverage(f.read())


def test_every_statement_is_in_the_list(statements, coverage):
    missing = [f"{s.key}: {s.text}" for s in statements if s.key not in coverage]
    assert not missing, ("MUST/SHOULD statements missing from conformance/coverage.txt (run "
                         "`python -m conformance.extract --update-coverage`, then give each a check or an n/a reason):\n"
                         + "\n".join(missing))


def test_no_stale_entries(statements, coverage):
    keys = {s.key for s in statements}
    stale = [k for k in coverage if k not in keys]
    assert not stale, f"coverage.txt names statements the spec no longer has: {stale}"


def test_every_statement_has_a_check_or_a_reason(coverage):
    todo = [k for k, e in coverage.items() if not e.checks and not e.reason]
    assert not todo, f"statements with neither a check nor an n/a reason: {todo}"
    both = [k for k, e in coverage.items() if e.checks and e.reason]
    assert not both, f"statements with a check and an n/a reason: {both}"


def test_text_matches_the_spec(statements, coverage):
    bad = [s.key for s in statements if s.key in coverage and coverage[s.key].text != s.text]
    assert not bad, f"coverage.txt quotes these statements differently from the spec: {bad}"


def test_checks_listed_are_the_checks_that_name_the_statement(statements, coverage):
    by_key = resolve_reqs(statements, all_checks())
    wrong = {k: (e.checks, by_key.get(k, [])) for k, e in coverage.items() if e.checks != by_key.get(k, [])}
    assert not wrong, f"coverage.txt is stale (regenerate it): {wrong}"


def test_file_is_what_the_generator_writes(statements, coverage):
    by_key = resolve_reqs(statements, all_checks())
    reasons = {k: e.reason for k, e in coverage.items() if e.reason}
    with open(COVERAGE_FILE, encoding="utf-8") as f:
        assert f.read() == render_coverage(statements, by_key, reasons)


def test_every_requirement_quote_names_a_statement(statements):
    for c in all_checks().values():
        for r in c.reqs:
            assert statements_for(r, statements), f"{c.id}: {r} is no MUST/SHOULD sentence of the spec"


def test_each_spec_file_is_covered(statements, coverage):
    for f in SPEC_FILES:
        assert any(s.file == f for s in statements), f"no statement extracted from {f}"
    checked = sum(1 for e in coverage.values() if e.checks)
    assert checked >= 150, f"only {checked} statements are checked"


def test_a_new_statement_would_be_caught(statements, coverage, tmp_path):
    """The test above really fails on new spec text: add a sentence to a copy of the spec."""
    for f in SPEC_FILES:
        with open(os.path.join(SPEC, f), encoding="utf-8") as src:
            text = src.read()
        if f == "runtime.md":
            text += "\n\nThe runtime MUST do something new in a future version.\n"
        (tmp_path / f).write_text(text, encoding="utf-8")
    new = [s for s in extract(str(tmp_path)) if s.key not in coverage]
    assert [s.text for s in new] == ["The runtime MUST do something new in a future version."]
