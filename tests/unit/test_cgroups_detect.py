"""Host detection from mountinfo samples: v1, v2, hybrid, co-mounted
controllers, shadowed mounts, cgroup namespaces; /proc/self/cgroup parsing."""
from __future__ import annotations

import pytest

from ocipy.cgroups import CgroupError, detect, own_cgroup

# This project's CI host: hybrid, cpu and cpuacct apart, no net_cls/net_prio/perf_event.
HYBRID = """\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:5 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""

# A classic systemd v1 host (Debian 10 / CentOS 7 style): co-mounted pairs,
# optional fields before the separator, release_agent and xattr options.
V1_COMOUNTED = """\
24 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755
26 24 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 24 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
30 24 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,net_cls,net_prio
31 24 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
32 24 0:29 / /sys/fs/cgroup/perf_event rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,perf_event
33 24 0:30 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,hugetlb
34 24 0:31 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset,clone_children
35 24 0:32 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,devices
36 24 0:33 / /sys/fs/cgroup/rdma rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,rdma
"""

V2 = """\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
26 23 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""

# `unshare -m; mount -t cgroup2 none /sys/fs/cgroup` on the hybrid host: the
# v1 mounts are still listed but hidden under the new mount.
SHADOWED = HYBRID + "65 31 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 none rw\n"

# Inside a container with a cgroup namespace on a v1 host: the mounts show
# the container's own cgroup as their root.
CGROUPNS = """\
500 400 0:60 / /sys/fs/cgroup rw - tmpfs tmpfs rw
501 500 0:29 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory
502 500 0:30 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct
"""


def test_hybrid_host():
    h = detect(HYBRID, controllers=frozenset({"hugetlb"}))
    assert h.mode == "hybrid"
    assert h.unified == "/sys/fs/cgroup/unified"
    assert h.v1["cpu"] == "/sys/fs/cgroup/cpu"
    assert h.v1["cpuacct"] == "/sys/fs/cgroup/cpuacct"  # mounted apart here
    assert h.v1["name=systemd"] == "/sys/fs/cgroup/systemd"
    assert set(h.v1) == {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                         "name=systemd"}
    assert h.controllers == {"hugetlb"}
    assert all(r == "/" for r in h.v1_roots.values())


def test_v1_comounted_controllers_share_a_directory():
    h = detect(V1_COMOUNTED)
    assert h.mode == "v1"
    assert h.unified is None and h.controllers == frozenset()
    assert h.v1["cpu"] == h.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert h.v1["net_cls"] == h.v1["net_prio"] == "/sys/fs/cgroup/net_cls,net_prio"
    assert h.v1["name=systemd"] == "/sys/fs/cgroup/systemd"
    # mount options that are not controllers are not taken for ones
    for opt in ("rw", "xattr", "clone_children", "release_agent=/lib/systemd/systemd-cgroups-agent"):
        assert opt not in h.v1
    assert {"hugetlb", "rdma", "perf_event", "cpuset", "devices", "memory"} <= set(h.v1)


def test_pure_v2():
    h = detect(V2, controllers=frozenset({"memory", "pids"}))
    assert h.mode == "v2"
    assert h.v1 == {}
    assert h.unified == "/sys/fs/cgroup"
    assert h.controllers == {"memory", "pids"}


def test_mounts_hidden_by_a_later_mount_are_ignored():
    h = detect(SHADOWED)
    assert h.mode == "v2"
    assert h.v1 == {}
    assert h.unified == "/sys/fs/cgroup"


def test_cgroup_namespace_mount_roots():
    h = detect(CGROUPNS)
    assert h.v1["memory"] == "/sys/fs/cgroup/memory"
    assert h.v1_roots["memory"] == "/docker/abc"
    assert h.v1["cpu"] == h.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"


def test_sys_fs_cgroup_wins_over_other_mounts_of_a_hierarchy():
    extra = "90 22 0:32 / /mnt/memcg rw - cgroup cgroup rw,memory\n91 22 0:38 / /mnt/v2 rw - cgroup2 cgroup2 rw\n"
    h = detect(extra + HYBRID)
    assert h.v1["memory"] == "/sys/fs/cgroup/memory"
    assert h.unified == "/sys/fs/cgroup/unified"
    h = detect(V2 + "91 22 0:24 / /mnt/v2 rw - cgroup2 cgroup2 rw\n")
    assert h.unified == "/sys/fs/cgroup"


def test_escaped_mountpoint():
    h = detect("40 31 0:37 / /sys/fs/cgroup/my\\040dir rw - cgroup cgroup rw,pids\n")
    assert h.v1["pids"] == "/sys/fs/cgroup/my dir"


def test_no_cgroup_mounted_is_a_clear_error():
    with pytest.raises(CgroupError, match="no cgroup filesystem is mounted"):
        detect("22 1 254:0 / / rw - ext4 /dev/vda rw\n")


def test_this_host_parses():
    h = detect()
    assert h.mode in ("v1", "v2", "hybrid")
    assert h.v1 or h.unified


def test_own_cgroup(tmp_path):
    f = tmp_path / "cgroup"
    f.write_text("9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n12:net_cls,net_prio:/\n"
                 "0::/user.slice/session-1.scope\n")
    own = own_cgroup(str(f))
    assert own["memory"] == "/process_api/abc"
    assert own["cpu"] == own["cpuacct"] == "/x"
    assert own["net_prio"] == "/"
    assert own["name=systemd"] == "/"
    assert own[""] == "/user.slice/session-1.scope"


def test_own_cgroup_of_this_process():
    own = own_cgroup()
    assert "" in own or own  # v2 line or v1 lines
    assert all(p.startswith("/") for p in own.values())
