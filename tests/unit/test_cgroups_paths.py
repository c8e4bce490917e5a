"""cgroupsPath resolution (runc's rules), the systemd form, the directories
a manager uses, and the state.json record."""
from __future__ import annotations

import pytest

from ocipy.cgroups import (
    CgroupError,
    Hierarchy,
    clean_path,
    detect,
    from_state,
    new_manager,
    resolve_path,
)
from ocipy.cgroups.v1 import V1Manager
from ocipy.cgroups.v2 import V2Manager


def _samples():
    # the mountinfo samples live with the detection tests (same directory)
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_cgroups_detect.py")
    spec = importlib.util.spec_from_file_location("_cgroups_detect_samples", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_S = _samples()
CGROUPNS, HYBRID, V1_COMOUNTED, V2 = _S.CGROUPNS, _S.HYBRID, _S.V1_COMOUNTED, _S.V2

OWN = {"memory": "/process_api/abc", "cpu": "/", "cpuacct": "/", "pids": "/", "name=systemd": "/",
       "cpuset": "/", "devices": "/", "freezer": "/", "blkio": "/", "": "/user.slice/session-1.scope"}


@pytest.mark.parametrize("raw,clean", [
    ("", ""),
    ("/a/b", "/a/b"),
    ("/a//b/", "/a/b"),
    ("/../a", "/a"),
    ("/a/../../b", "/b"),
    ("//a", "/a"),
    ("a/b", "a/b"),
    ("../a", "a"),
    ("a/../../../b", "b"),
    ("./a/.", "a"),
    ("..", "."),
    ("/", "/"),
])
def test_clean_path_like_runc(raw, clean):
    assert clean_path(raw) == clean


def test_resolve_absolute_relative_default():
    assert resolve_path("/machine/c1", "c1") == "/machine/c1"
    assert resolve_path("/machine/../../c1", "c1") == "/c1"
    assert resolve_path("pods/c1", "c1") == "pods/c1"
    assert resolve_path("../../pods/c1", "c1") == "pods/c1"  # cannot climb out
    # absent: the container id, relative (as runc uses its name)
    assert resolve_path(None, "c1") == "c1"
    assert resolve_path("", "c1") == "c1"


@pytest.mark.parametrize("bad,msg", [
    ("/", "root cgroup"),
    ("/..", "root cgroup"),
    ("..", "runtime's own cgroup"),
    (".", "runtime's own cgroup"),
    ("a\0b", "NUL"),
])
def test_resolve_refuses_host_wide_paths(bad, msg):
    with pytest.raises(CgroupError, match=msg) as e:
        resolve_path(bad, "c1")
    assert str(e.value).startswith("linux.cgroupsPath: ")


def test_systemd_form_is_parsed_then_refused_without_systemd(tmp_path):
    missing = str(tmp_path / "no-systemd")
    with pytest.raises(CgroupError) as e:
        resolve_path("system.slice:docker:abc", "abc", systemd=True, systemd_dir=missing)
    msg = str(e.value)
    assert "systemd is not running" in msg and "docker-abc.scope in system.slice" in msg and missing in msg
    # absent: ocipy-<id>.scope in system.slice
    with pytest.raises(CgroupError, match="ocipy-c1.scope in system.slice"):
        resolve_path(None, "c1", systemd=True, systemd_dir=missing)
    # a slice as name: the prefix is ignored
    with pytest.raises(CgroupError, match=r"my\.slice in user\.slice"):
        resolve_path("user.slice:x:my.slice", "c1", systemd=True, systemd_dir=missing)
    with pytest.raises(CgroupError, match=r" abc\.scope in system\.slice"):
        resolve_path(":" + ":abc", "c1", systemd=True, systemd_dir=missing)


def test_systemd_with_systemd_running_is_not_implemented_yet(tmp_path):
    with pytest.raises(CgroupError, match="not implemented yet.*docker-abc.scope"):
        resolve_path("system.slice:docker:abc", "abc", systemd=True, systemd_dir=str(tmp_path))


@pytest.mark.parametrize("bad,msg", [
    ("/abc", "expected \"slice:prefix:name\""),
    ("a:b", "expected \"slice:prefix:name\""),
    ("a:b:c:d", "expected \"slice:prefix:name\""),
    ("system:docker:abc", "must be a unit name ending in \".slice\""),
    ("a/b.slice:docker:abc", "must be a unit name"),
    ("system.slice:docker:", "must be non-empty"),
    ("system.slice:docker:a/b", "must be non-empty"),
])
def test_systemd_form_errors(bad, msg, tmp_path):
    with pytest.raises(CgroupError, match=msg):
        resolve_path(bad, "c1", systemd=True, systemd_dir=str(tmp_path))


def test_v1_relative_path_is_below_our_own_cgroup_per_controller():
    h = detect(HYBRID, controllers=frozenset({"hugetlb"}))
    m = new_manager(h, "c1", "c1", own=OWN)
    assert isinstance(m, V1Manager) and m.mode == "hybrid"
    assert m.paths["memory"] == "/sys/fs/cgroup/memory/process_api/abc/c1"
    assert m.paths["cpu"] == "/sys/fs/cgroup/cpu/c1"
    assert m.paths["name=systemd"] == "/sys/fs/cgroup/systemd/c1"
    # the unified part of a hybrid host: below our own cgroup there as well
    assert m.unified == "/sys/fs/cgroup/unified/user.slice/session-1.scope/c1"


def test_v1_absolute_path_ignores_our_cgroup():
    h = detect(V1_COMOUNTED)
    m = new_manager(h, "/machine/c1", "c1", own=OWN)
    assert m.mode == "v1" and m.unified is None
    assert m.paths["memory"] == "/sys/fs/cgroup/memory/machine/c1"
    assert m.paths["cpu"] == m.paths["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/machine/c1"
    assert m.paths["net_cls"] == "/sys/fs/cgroup/net_cls,net_prio/machine/c1"
    assert len(m.dirs()) == len(set(m.paths.values()))  # co-mounted: one dir


def test_v2_relative_path_is_below_the_parent_of_our_cgroup():
    # runc fs2: our own cgroup holds processes, so it cannot hand controllers down
    m = new_manager(detect(V2), "c1", "c1", own={"": "/user.slice/session-1.scope"})
    assert isinstance(m, V2Manager)
    assert m.dir == "/sys/fs/cgroup/user.slice/c1"
    m = new_manager(detect(V2), "c1", "c1", own={"": "/"})
    assert m.dir == "/sys/fs/cgroup/c1"
    m = new_manager(detect(V2), "/a/b", "c1", own={"": "/user.slice/x"})
    assert m.dir == "/sys/fs/cgroup/a/b"


def test_cgroup_namespace_relative_path():
    # inside a cgroupns the mount shows /docker/abc as its root
    m = new_manager(detect(CGROUPNS), "sub", "x", own={"memory": "/docker/abc", "cpu": "/docker/abc/inner",
                                                       "cpuacct": "/docker/abc/inner"})
    assert m.paths["memory"] == "/sys/fs/cgroup/memory/sub"
    assert m.paths["cpu"] == "/sys/fs/cgroup/cpu,cpuacct/inner/sub"


def test_new_manager_refuses_non_container_paths():
    with pytest.raises(CgroupError):
        new_manager(detect(V2), "/", "x")


def test_state_roundtrip():
    h = Hierarchy("hybrid", {"memory": "/sys/fs/cgroup/memory"}, unified="/sys/fs/cgroup/unified",
                  controllers=frozenset({"hugetlb"}))
    m = new_manager(h, "/ocipy/c1", "c1", own=OWN)
    st = m.to_state()
    assert st == {"mode": "hybrid", "path": "/ocipy/c1", "paths": {"memory": "/sys/fs/cgroup/memory/ocipy/c1"},
                  "unified": "/sys/fs/cgroup/unified/ocipy/c1", "unifiedMount": "/sys/fs/cgroup/unified"}
    m2 = from_state(st)
    assert isinstance(m2, V1Manager) and m2.to_state() == st and m2.dirs() == m.dirs()
    v2 = new_manager(detect(V2), "/ocipy/c1", "c1")
    st = v2.to_state()
    assert st == {"mode": "v2", "path": "/ocipy/c1", "unified": "/sys/fs/cgroup/ocipy/c1",
                  "unifiedMount": "/sys/fs/cgroup"}
    assert from_state(st).dirs() == ["/sys/fs/cgroup/ocipy/c1"]


@pytest.mark.parametrize("bad", [None, {}, {"mode": "v3"}, []])
def test_from_state_rejects_garbage(bad):
    with pytest.raises(CgroupError, match="state.json"):
        from_state(bad)
