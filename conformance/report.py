"""The table and the JSON report (pure)."""
from __future__ import annotations

import json


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def table(checks: list, runtimes: list[str], results: list, levels: dict[str, str] | None = None,
          width: int = 200) -> str:
    """Rows: requirement (check id, level, spec reference) x runtime; then the reasons."""
    by = {(r.check, r.runtime): r for r in results}
    levels = levels or {}
    idw = max([len("check")] + [len(c.id) for c in checks])
    refw = max([len("requirement")] + [len(f"{c.reqs[0].file}#{c.reqs[0].anchor}") for c in checks])
    colw = max([5] + [len(n) for n in runtimes])
    lines = []
    head = f"{'check':<{idw}}  {'level':<6}  {'requirement':<{refw}}  " + "  ".join(f"{n:<{colw}}" for n in runtimes)
    lines.append(head)
    lines.append("-" * len(head))
    for c in checks:
        ref = f"{c.reqs[0].file}#{c.reqs[0].anchor}"
        cells = []
        for n in runtimes:
            r = by.get((c.id, n))
            cells.append(f"{(r.status if r else '-'):<{colw}}")
        lines.append(f"{c.id:<{idw}}  {levels.get(c.id, ''):<6}  {ref:<{refw}}  " + "  ".join(cells))
    notes = [r for r in results if r.status != "PASS"]
    if notes:
        lines.append("")
        lines.append("Not passed (FAIL: the runtime breaks the requirement; SKIP: the host cannot support it):")
        for r in sorted(notes, key=lambda r: (r.runtime, r.status, r.check)):
            lines.append(_short(f"  {r.runtime:<{colw}} {r.status:<5} {r.check}: {r.reason}", width))
    lines.append("")
    for n in runtimes:
        counts = {}
        for r in results:
            if r.runtime == n:
                counts[r.status] = counts.get(r.status, 0) + 1
        secs = sum(r.seconds for r in results if r.runtime == n)
        lines.append(f"{n}: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("PASS", "FAIL", "SKIP", "ERROR"))
                     + f" of {sum(counts.values())} checks in {secs:.1f} s")
    return "\n".join(lines)


def failures(results: list, runtime: str) -> list:
    return [r for r in results if r.runtime == runtime and r.status in ("FAIL", "ERROR")]


def as_json(checks: list, runtimes: list[str], results: list, levels: dict[str, str] | None = None,
            statements: dict | None = None) -> str:
    by = {(r.check, r.runtime): r for r in results}
    rows = []
    for c in checks:
        reqs = []
        for q in c.reqs:
            d = {"file": q.file, "anchor": q.anchor, "quote": q.quote}
            if statements and str(q) in statements:
                d["statements"] = statements[str(q)]
            reqs.append(d)
        rows.append({
            "id": c.id, "level": (levels or {}).get(c.id, ""), "doc": c.doc, "requirements": reqs,
            "results": {n: {"status": by[(c.id, n)].status, "reason": by[(c.id, n)].reason,
                            "seconds": round(by[(c.id, n)].seconds, 3)}
                        for n in runtimes if (c.id, n) in by},
        })
    return json.dumps({"runtimes": runtimes, "checks": rows}, indent=1)
