"""The hot path never imports heavy or regex-based modules.

containerd starts the CLI for every operation; typer (61 ms), pydantic
(80+ ms), typing (12), json (8, pulls in re) would dominate. Every module on
the path of create/start/run/state/kill/delete/list/spec is imported here in
a fresh `python -I -S` with -X importtime, and the forbidden ones must not
appear. tests/integration/test_hotpath_live.py checks real invocations too.
"""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FORBIDDEN = {"typer", "click", "pydantic", "typing", "re", "json", "enum", "dataclasses", "argparse",
             "inspect", "signal", "subprocess", "pathlib", "datetime", "logging", "ctypes"}

HOT_MODULES = [
    "ocipy.main", "ocipy.cli.parse", "ocipy.state", "ocipy.log", "ocipy.jsonlite", "ocipy.signals",
    "ocipy.commands.start", "ocipy.commands.state", "ocipy.commands.kill", "ocipy.commands.delete",
    "ocipy.commands.list_", "ocipy.spec.load", "ocipy.spec.validate",
]
# create/run need foreign calls (no os.unshare/mount in 3.11): through
# ocipy.syscalls._ffi on `_ctypes`, never the ~6 ms `ctypes` package
CREATE_MODULES = [
    "ocipy.commands.create", "ocipy.commands.run", "ocipy.launcher.stages", "ocipy.launcher.plan",
    "ocipy.launcher.rootfs", "ocipy.launcher.process", "ocipy.launcher.channel", "ocipy.syscalls",
    "ocipy.spec.mounts", "ocipy.spec.caps", "ocipy.spec.env", "ocipy.spec.rlimits",
    "ocipy.commands.exec", "ocipy.launcher.execproc",
]


def imported_modules(mods):
    code = f"import sys; sys.path.insert(0, {REPO!r}); " + "; ".join(f"import {m}" for m in mods)
    r = subprocess.run([sys.executable, "-X", "importtime", "-I", "-S", "-c", code],
                       capture_output=True, text=True, check=True)
    names = set()
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_state_start_kill_delete_list_path():
    got = imported_modules(HOT_MODULES)
    assert "ocipy.main" in got  # the probe really ran
    assert not (got & FORBIDDEN), sorted(got & FORBIDDEN)


def test_create_path():
    got = imported_modules(HOT_MODULES + CREATE_MODULES)
    assert "ocipy.launcher.stages" in got
    assert "_ctypes" in got
    assert not (got & FORBIDDEN), sorted(got & FORBIDDEN)
