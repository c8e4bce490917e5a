"""ocipy.cgroups on `posix` alone (create/run import it: no os, posixpath,
_collections_abc, stat nor __future__), and v1's device rules written in
order through one fd per run of rules for the same file."""
import os
import subprocess
import sys

import pytest

from ocipy.cgroups import CgroupError, v1
from ocipy.cgroups.base import write_each

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = ["ocipy.cgroups", "ocipy.cgroups.base", "ocipy.cgroups.v1", "ocipy.cgroups.v2",
           "ocipy.cgroups.devices", "ocipy.cgroups.ebpf"]
NOT_IMPORTED = {"os", "posixpath", "_collections_abc", "__future__", "stat"}


@pytest.mark.parametrize("module", MODULES)
def test_cgroups_module_imports_no_os(module):
    code = f"import sys; sys.path.insert(0, {REPO!r}); import {module}; print(' '.join(sorted(sys.modules)))"
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    got = set(r.stdout.split())
    assert module in got
    assert not (got & NOT_IMPORTED), sorted(got & NOT_IMPORTED)


def test_write_each_writes_in_order(tmp_path):
    (tmp_path / "f").write_text("")
    write_each(str(tmp_path), "f", ["a *:* rwm", "c 1:3 rwm", 5])
    assert (tmp_path / "f").read_text() == "a *:* rwm" + "c 1:3 rwm" + "5"


def test_write_each_names_the_value_that_failed():
    # /dev/full: every write(2) fails with ENOSPC
    with pytest.raises(CgroupError) as ei:
        write_each("/dev", "full", ["c 1:3 rwm", "c 1:5 rwm"], "devices")
    assert str(ei.value) == ("linux.resources.devices: cgroup /dev/full: write c 1:3 rwm: "
                             + os.strerror(28))
    assert ei.value.errno == 28


def test_write_each_open_error(tmp_path):
    with pytest.raises(CgroupError) as ei:
        write_each(str(tmp_path), "missing", ["x"], "devices")
    assert str(ei.value) == (f"linux.resources.devices: cgroup {tmp_path}/missing: open: "
                             + os.strerror(2))


def _record(monkeypatch, lists):
    calls = []
    monkeypatch.setattr(v1, "write_each", lambda d, name, values, what="": calls.append((name, list(values), what)))
    monkeypatch.setattr(v1, "write", lambda *a, **k: pytest.fail(f"write() called: {a}"))
    it = iter(lists)
    monkeypatch.setattr(v1, "read", lambda path: next(it))
    return calls


def test_set_devices_new_cgroup_opens_each_file_once(monkeypatch):
    calls = _record(monkeypatch, ["a *:* rwm\n", "c 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\n"])
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
             {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
             {"allow": True, "type": "c", "major": 136, "access": "rwm"}]
    v1.set_devices("/cg", {"devices": rules})
    assert calls == [("devices.deny", ["a *:* rwm"], "devices"),
                     ("devices.allow", ["c 1:3 rwm", "c 1:5 rwm", "c 136:* rwm"], "devices")]


def test_set_devices_keeps_the_order_across_files(monkeypatch):
    # an allow-list losing part of an exception and gaining another: deny
    # (dropped access) first, then allow (gained access), as transition()
    calls = _record(monkeypatch, ["c 1:3 rwm\nc 1:5 rw\n", "c 1:3 r\nc 1:5 rw\nc 1:7 rwm\n"])
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
             {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rw"},
             {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"}]
    v1.set_devices("/cg", {"devices": rules})
    assert calls == [("devices.deny", ["c 1:3 wm"], "devices"), ("devices.allow", ["c 1:7 rwm"], "devices")]
