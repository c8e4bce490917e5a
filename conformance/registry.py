"""All checks, and their link to the extracted statements."""
from __future__ import annotations

from .framework import CHECKS, Check

CHECK_MODULES = ("checks_runtime", "checks_runtime_linux", "checks_config", "checks_config_linux")


def all_checks() -> dict[str, Check]:
    import importlib
    for m in CHECK_MODULES:
        importlib.import_module(f"{__package__}.{m}")
    return dict(sorted(CHECKS.items()))


def statements_for(req, statements) -> list:
    """The statements a requirement's quote names: in its file and anchor, containing the quote."""
    return [s for s in statements if s.file == req.file and s.anchor == req.anchor and req.quote in s.text]


def resolve_reqs(statements, checks: dict[str, Check]) -> dict[str, list[str]]:
    """statement key -> check ids; a requirement matching no statement is an error."""
    by_key: dict[str, list[str]] = {}
    for c in checks.values():
        for r in c.reqs:
            found = statements_for(r, statements)
            if not found:
                raise LookupError(f"check {c.id}: {r} matches no MUST/SHOULD statement")
            for s in found:
                by_key.setdefault(s.key, [])
                if c.id not in by_key[s.key]:
                    by_key[s.key].append(c.id)
    return by_key


def level_of_check(c: Check, statements=None) -> str:
    """MUST if any requirement is a MUST statement (by its quote), else SHOULD."""
    text = " ".join(r.quote for r in c.reqs)
    if statements:
        found = [s for r in c.reqs for s in statements_for(r, statements)]
        if found:
            text = " ".join(s.text for s in found)
    return "MUST" if "MUST" in text else "SHOULD"
