"""state, start, kill and list import neither os nor __future__.

The interpreter itself costs ~1.8x runc's `state` here; importing os adds
~4.4M instructions (~1 ms: _collections_abc, posixpath, stat, os.environ),
__future__ is a module import of its own (~0.45M) and the utf-8-sig codec
another (encodings.utf_8_sig). posix, os's built-in core, is enough for these
commands (see ocipy/state.py). tests/integration/test_hotpath_live.py runs
the real commands.
"""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LEAN = ["ocipy.main", "ocipy.cli.parse", "ocipy.cli._table", "ocipy.log", "ocipy.state", "ocipy.jsonlite",
        "ocipy.signals", "ocipy.commands.state", "ocipy.commands.start", "ocipy.commands.kill",
        "ocipy.commands.list_", "ocipy.commands.delete"]
NOT_ON_LEAN_PATH = {"os", "__future__", "encodings.utf_8_sig", "stat", "posixpath", "_collections_abc"}


def modules_after(imports: list, then: str = "") -> set:
    """sys.modules of a fresh `-I -S` interpreter once it imported these
    modules (and ran `then`)."""
    code = (f"import sys; sys.path.insert(0, {REPO!r}); " + "; ".join(f"import {m}" for m in imports)
            + then + "; print(' '.join(sorted(sys.modules)))")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    return set(r.stdout.split())


def test_lean_modules_import_no_os():
    got = modules_after(LEAN, "; from ocipy import jsonlite; jsonlite.loads(b'\\xef\\xbb\\xbf{}')")
    assert "ocipy.commands.kill" in got
    assert not (got & NOT_ON_LEAN_PATH), sorted(got & NOT_ON_LEAN_PATH)


# exec's common path (`exec ID CMD`): these modules use posix too, so exec
# pays no `os` (~4M of its ~29M instructions); tests/integration/
# test_hotpath_live.py checks the real command
EXEC_PATH = ["ocipy.main", "ocipy.commands.exec", "ocipy.launcher.execproc", "ocipy.launcher.process",
             "ocipy.launcher.trampoline", "ocipy.syscalls", "ocipy.spec.caps",
             "ocipy.spec.env", "ocipy.spec.rlimits", "ocipy.signals", "ocipy.errors"]
NOT_ON_EXEC_PATH = {"os", "posixpath", "_collections_abc", "__future__", "struct", "stat", "ocipy.launcher.rootfs"}


def test_exec_modules_import_no_os():
    got = modules_after(EXEC_PATH, "; from ocipy.errors import SysError; str(SysError(2, 'open', 'x'))"
                                   "; from ocipy.syscalls import _enc; assert _enc('\\udcff') == b'\\xff'")
    assert "ocipy.launcher.execproc" in got
    assert not (got & NOT_ON_EXEC_PATH), sorted(got & NOT_ON_EXEC_PATH)


# create's and run's path (`run` of a runc-style bundle with memory, pids and
# cpu limits, on v1 and v2): posix too, no `os` (~0.8 ms of a ~17 ms `run`),
# no __future__, no `stat` (rootfs has the S_IF* it needs)
CREATE_PATH = ["ocipy.main", "ocipy.commands.create", "ocipy.commands.run", "ocipy.commands.start",
               "ocipy.commands.delete", "ocipy.commands.kill", "ocipy.launcher.stages", "ocipy.launcher.plan",
               "ocipy.launcher.channel", "ocipy.launcher.process", "ocipy.launcher.rootfs",
               "ocipy.launcher.trampoline", "ocipy.spec.load", "ocipy.spec.validate", "ocipy.spec.mounts",
               "ocipy.spec.defaults", "ocipy.cgroups", "ocipy.cgroups.base", "ocipy.cgroups.v1", "ocipy.cgroups.v2",
               "ocipy.cgroups.devices", "ocipy.seccomp", "ocipy.seccomp.compiler", "ocipy.seccomp.bpf",
               "ocipy.syscalls", "ocipy.syscalls.seccomp", "ocipy.pathlite"]
NOT_ON_CREATE_PATH = {"os", "posixpath", "_collections_abc", "__future__", "stat", "typing", "re", "json"}


def test_create_modules_import_no_os():
    got = modules_after(CREATE_PATH)
    assert "ocipy.cgroups.v2" in got
    assert not (got & NOT_ON_CREATE_PATH), sorted(got & NOT_ON_CREATE_PATH)
