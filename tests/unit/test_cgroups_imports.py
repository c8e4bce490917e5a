"""ocipy.cgroups is on the hot path (create/start/kill/delete/pause): it must
not pull in typing, re, json, ctypes & co. Checked in a fresh interpreter
with -X importtime, as tests/unit/test_hotpath_imports.py does."""
from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORBIDDEN = {"typer", "click", "pydantic", "typing", "re", "json", "enum", "dataclasses", "argparse",
             "inspect", "signal", "subprocess", "pathlib", "datetime", "logging", "ctypes"}
MODULES = ["ocipy.cgroups", "ocipy.cgroups.base", "ocipy.cgroups.v1", "ocipy.cgroups.v2",
           "ocipy.cgroups.devices", "ocipy.cgroups.ebpf"]


def test_cgroups_modules_import_nothing_heavy():
    code = (f"import sys; sys.path.insert(0, {REPO!r}); " + "; ".join(f"import {m}" for m in MODULES)
            # the lazily imported helpers too: what apply/freeze/stats use
            + "; import math, select, time, struct; import ocipy.syscalls._ffi")
    r = subprocess.run([sys.executable, "-X", "importtime", "-I", "-S", "-c", code],
                       capture_output=True, text=True, check=True)
    names = {line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    assert "ocipy.cgroups.ebpf" in names
    assert not names & FORBIDDEN, sorted(names & FORBIDDEN)
