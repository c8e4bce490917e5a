"""The conformance suite (python -m conformance) against ocipy and runc, side by side.

Prints the requirement x runtime table to the terminal (also without -s), then:
- ocipy must fail no requirement the host can support (SKIP = the host cannot). The only
  exceptions are KNOWN_OCIPY_FAILURES, bugs reported in .bugs/conformance.md, each printed
  as such; one that starts passing fails the test too, so that the list only shrinks.
- runc's failures are printed (table and list), never a test failure: runc is the reference
  for behaviour the spec leaves open, not a judge of the spec.
- neither runtime may leave a container, mount or temporary directory behind.
"""
from __future__ import annotations

import os
import shutil
import sys

import pytest

from conformance import report
from conformance.extract import default_spec_dir, extract
from conformance.registry import all_checks, level_of_check
from conformance.runner import run_checks

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# check id -> the bug (see .bugs/conformance.md). Remove an entry when the bug is fixed.
KNOWN_OCIPY_FAILURES: dict = {}


def _out(text: str) -> None:
    """To the real terminal, whatever pytest's capture mode."""
    sys.__stdout__.write(text + "\n")
    sys.__stdout__.flush()


def _ocipy(tmp_path) -> str:
    if os.environ.get("OCIPY"):
        return os.environ["OCIPY"]
    if os.access("/usr/local/bin/ocipy", os.X_OK):
        return "/usr/local/bin/ocipy"
    wrapper = tmp_path / "ocipy"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m ocipy "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_conformance(tmp_path, capsys):
    if os.geteuid() != 0:
        pytest.skip("the conformance suite runs real containers: root required")
    runtimes = [("ocipy", _ocipy(tmp_path))]
    runc = shutil.which("runc")
    if runc:
        runtimes.append(("runc", runc))
    checks = list(all_checks().values())
    spec = default_spec_dir()
    statements = extract(spec) if os.path.isdir(spec) else []
    levels = {c.id: level_of_check(c, statements) for c in checks}

    results, problems = run_checks(runtimes, checks)
    names = [n for n, _ in runtimes]
    with capsys.disabled():
        _out("\n==== OCI runtime-spec conformance (python -m conformance) ====")
        _out(report.table(checks, names, results, levels, width=400))
        if runc:
            rf = report.failures(results, "runc")
            _out(f"\nrunc: {len(rf)} requirement(s) failed (reported, not a test failure):")
            for r in rf:
                _out(f"  {r.check}: {r.reason}")
        of = report.failures(results, "ocipy")
        known = [r for r in of if r.check in KNOWN_OCIPY_FAILURES]
        if known:
            _out(f"\nocipy: {len(known)} known failure(s), bugs reported in .bugs/conformance.md:")
            for r in known:
                _out(f"  {r.check}: {KNOWN_OCIPY_FAILURES[r.check]}")

    assert not problems, f"left behind: {problems}"
    new = [f"{r.check}: {r.status}: {r.reason}" for r in of if r.check not in KNOWN_OCIPY_FAILURES]
    assert not new, "ocipy fails requirements the host supports:\n" + "\n".join(new)
    fixed = sorted(set(KNOWN_OCIPY_FAILURES) - {r.check for r in of})
    assert not fixed, f"known ocipy failures that now pass (remove them from KNOWN_OCIPY_FAILURES): {fixed}"


# A runtime that breaks one thing per check: runc behind a wrapper that edits config.json on
# create. Each mutation must turn its check to FAIL: the checks can fail.
MUTATIONS = {
    "config.hostname": 'cfg.pop("hostname", None)',
    "process.rlimits": 'cfg["process"]["rlimits"] = []',
    "sysctl.applied": 'cfg["linux"].pop("sysctl", None)',
    "masked_paths.applied": 'cfg["linux"]["maskedPaths"] = []',
    "process.umask": 'cfg["process"]["user"].pop("umask", None)',
    "process.env": 'cfg["process"]["env"] = [e for e in cfg["process"].get("env", []) if not e.startswith("CF_")]',
    "mounts.option.ro": '[m.__setitem__("options", [o for o in m.get("options", []) if o != "ro"]) for m in cfg["mounts"]]',
    "root.readonly": 'cfg["root"]["readonly"] = False',
    "process.capabilities_ambient": 'cfg["process"]["capabilities"].pop("ambient", None)',
    "namespaces.new.ipc": 'cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "ipc"]',
    "cgroups.resources.pids": 'cfg["linux"]["resources"].pop("pids", None)',
    "hooks.order": 'cfg.get("hooks", {}).pop("prestart", None)',
    "config.annotations": 'cfg.pop("annotations", None)',
    "devices.configured": 'cfg["linux"]["devices"] = []',
    "mounts.order": 'cfg["mounts"].reverse() if any(m["destination"] == "/cfo" for m in cfg["mounts"]) else None',
}


def test_conformance_catches_a_broken_runtime(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("root required")
    runc = shutil.which("runc")
    if not runc:
        pytest.skip("runc not installed")
    edits = "\n".join(f"    if CHECK == {cid!r}:\n        {code}" for cid, code in MUTATIONS.items())
    checks = all_checks()
    failed = {}
    for cid in list(MUTATIONS) + ["state.created"]:
        wrapper = tmp_path / f"broken-{cid}"
        wrapper.write_text(f"""#!{sys.executable} -I
import json, os, sys
CHECK = {cid!r}
argv = sys.argv[1:]
if "create" in argv and "--bundle" in argv:
    path = os.path.join(argv[argv.index("--bundle") + 1], "config.json")
    with open(path) as f:
        cfg = json.load(f)
{edits}
    with open(path, "w") as f:
        json.dump(cfg, f)
os.execv({runc!r}, [{runc!r}] + argv)
""")
        wrapper.chmod(0o755)
        results, problems = run_checks([("broken", str(wrapper))], [checks[cid]])
        assert not problems, problems
        failed[cid] = results[0]
    not_caught = [cid for cid in MUTATIONS if failed[cid].status != "FAIL"]
    assert not not_caught, f"checks that did not notice their mutation: {[(c, failed[c].status, failed[c].reason) for c in not_caught]}"
    assert failed["state.created"].status == "PASS", f"the unmutated wrapper fails state.created: {failed['state.created'].reason}"
