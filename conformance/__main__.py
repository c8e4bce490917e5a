"""python -m conformance --runtime PATH [--runtime PATH2 ...] [--format table|json] [-k FILTER]"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

from . import report
from .extract import default_spec_dir, extract
from .registry import all_checks, level_of_check, statements_for
from .runner import run_checks, runtime_names, select_checks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Check OCI runtimes (runc's CLI) against the MUST/SHOULD statements of "
                    "runtime-spec v1.3.0 (runtime.md, runtime-linux.md, config.md, config-linux.md).")
    ap.add_argument("--runtime", action="append", default=[], metavar="[NAME=]PATH",
                    help="a runtime binary (repeatable); NAME defaults to its basename")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    ap.add_argument("-k", dest="filters", action="append", default=[], metavar="FILTER",
                    help="only checks whose id, module or requirement contains FILTER "
                         "(repeatable: any; 'not X' excludes)")
    ap.add_argument("--list", action="store_true", help="list the checks and their requirements")
    ap.add_argument("--spec", default=None, help="runtime-spec directory, for the levels and "
                    "full statements in the report (default: $OCI_RUNTIME_SPEC or ../shared/oci-runtime-spec)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (bundles, outputs)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)

    checks = select_checks(all_checks(), args.filters)
    spec_dir = args.spec or default_spec_dir()
    statements = extract(spec_dir) if os.path.isdir(spec_dir) else []
    levels = {c.id: level_of_check(c, statements) for c in checks}
    if args.list:
        for c in checks:
            print(f"{c.id}  [{levels[c.id]}]  {c.doc}")
            for r in c.reqs:
                print(f"    {r}")
        print(f"{len(checks)} checks", file=sys.stderr)
        return 0
    if not args.runtime:
        ap.error("at least one --runtime PATH is required")
    if os.geteuid() != 0:
        print("conformance: root is required (the checks run real containers)", file=sys.stderr)
        return 2
    runtimes = runtime_names(args.runtime)
    for name, path in runtimes:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)) and not shutil.which(path):
            print(f"conformance: runtime {name}: {path} is not an executable", file=sys.stderr)
            return 2
    runtimes = [(n, p if os.path.isfile(p) else shutil.which(p)) for n, p in runtimes]
    if not checks:
        print("conformance: no check matches the filters", file=sys.stderr)
        return 2

    def progress(r):
        if not args.quiet:
            print(f"{r.runtime:>8} {r.status:<5} {r.check} ({r.seconds:.2f}s)"
                  + (f": {r.reason}" if r.reason else ""), file=sys.stderr, flush=True)

    results, problems = run_checks(runtimes, checks, progress, keep=args.keep)
    names = [n for n, _ in runtimes]
    if args.format == "json":
        stm = {str(r): [s.text for s in statements_for(r, statements)] for c in checks for r in c.reqs}
        print(report.as_json(checks, names, results, levels, stm))
    else:
        print(report.table(checks, names, results, levels))
    for p in problems:
        print(f"conformance: cleanup: {p}", file=sys.stderr)
    return 1 if any(r.status in ("FAIL", "ERROR") for r in results) or problems else 0


if __name__ == "__main__":
    sys.exit(main())
