"""delete's fast path (ocipy/commands/delete.py) removes exactly the
directories the cgroup manager would, and only empty ones."""
import os

import pytest

from ocipy.cgroups import from_state
from ocipy.commands.delete import cgroup_dirs, remove_empty_cgroup

STATES = [
    {"mode": "v2", "path": "/x/c1", "unified": "/sys/fs/cgroup/x/c1", "unifiedMount": "/sys/fs/cgroup"},
    {"mode": "v1", "path": "c1", "paths": {"cpu": "/sys/fs/cgroup/cpu,cpuacct/c1",
                                            "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/c1",
                                            "memory": "/sys/fs/cgroup/memory/a/c1", "pids": "/sys/fs/cgroup/pids/c1"}},
    {"mode": "hybrid", "path": "c1", "paths": {"cpu": "/sys/fs/cgroup/cpu/c1", "name=systemd": "/sys/fs/cgroup/systemd/c1"},
     "unified": "/sys/fs/cgroup/unified/c1", "unifiedMount": "/sys/fs/cgroup/unified"},
    {"mode": "hybrid", "path": "c1", "paths": {"cpu": "/sys/fs/cgroup/cpu/c1"}},
    {"mode": "v1", "path": "c1", "paths": {}},
]


@pytest.mark.parametrize("state", STATES)
def test_dirs_equal_the_managers(state):
    assert cgroup_dirs(state) == from_state(state).dirs()


@pytest.mark.parametrize("state", [None, {}, {"mode": "v3"}, {"mode": "v1"}, {"mode": "v2"},
                                   {"mode": "v1", "paths": {"cpu": "relative/c1"}},
                                   {"mode": "v1", "paths": {"cpu": 3}}])
def test_unknown_records_go_to_the_manager(state):
    assert cgroup_dirs(state) is None
    assert remove_empty_cgroup(state) is False


def test_removes_empty_dirs_only(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    (c / "child").mkdir()  # like a child cgroup (or a busy one): rmdir refuses
    st = {"mode": "v1", "paths": {"cpu": str(a), "memory": str(b), "pids": str(tmp_path / "gone")}}
    assert remove_empty_cgroup(st) is True
    assert not a.exists() and not b.exists()
    st = {"mode": "hybrid", "paths": {"cpu": str(tmp_path / "gone")}, "unified": str(c)}
    assert remove_empty_cgroup(st) is False
    assert (c / "child").is_dir()
    assert sorted(os.listdir(tmp_path)) == ["c"]
