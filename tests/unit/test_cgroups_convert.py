"""Pure logic of the resource writers: v1 -> v2 conversions, which fields
count as set, which controllers they need, what v2 refuses, and the shape
of the stats object (runc's `events --stats` JSON)."""
from __future__ import annotations

import pytest

from ocipy.cgroups import CgroupError
from ocipy.cgroups.base import (
    check_memory_usage,
    deprecated_memory,
    field,
    needs,
    parse_list,
    size_name,
)
from ocipy.cgroups.v2 import (
    blkio_weight_to_io_weight,
    cpu_max,
    empty_stats,
    prune,
    shares_to_weight,
    swap_to_v2,
    unsupported,
)


@pytest.mark.parametrize("shares,weight", [
    (0, 0),          # unset
    (1, 1), (2, 1),  # below the v1 minimum
    (3, 2),
    (512, 59),
    (1024, 100),     # the defaults map onto each other
    (2048, 174),
    (262143, 10000),
    (262144, 10000), (10**6, 10000),
])
def test_shares_to_weight_crun_formula(shares, weight):
    assert shares_to_weight(shares) == weight


def test_shares_to_weight_is_monotonic_and_in_range():
    prev = 0
    for shares in range(2, 262145, 97):
        w = shares_to_weight(shares)
        assert 1 <= w <= 10000 and w >= prev
        prev = w


@pytest.mark.parametrize("blkio,io", [(0, 0), (10, 1), (100, 910), (500, 4950), (1000, 10000)])
def test_blkio_weight_to_io_weight(blkio, io):
    assert blkio_weight_to_io_weight(blkio) == io


G = 1 << 30


@pytest.mark.parametrize("swap,limit,out", [
    (None, None, None),
    (None, G, None),
    (None, -1, -1),     # unlimited memory, swap unset: both unlimited (runc)
    (-1, G, -1),
    (-1, None, -1),
    (2 * G, G, G),      # v1 memory+swap -> v2 swap only
    (G, G, 0),          # no swap at all
])
def test_swap_to_v2(swap, limit, out):
    assert swap_to_v2(swap, limit) == out


@pytest.mark.parametrize("swap,limit,msg", [
    (G, None, "needs a memory limit"),
    (G, -1, "needs a memory limit"),
    (G // 2, G, "below memory.limit"),
])
def test_swap_to_v2_errors(swap, limit, msg):
    with pytest.raises(CgroupError, match=msg) as e:
        swap_to_v2(swap, limit)
    assert str(e.value).startswith("linux.resources.memory.swap: ")


@pytest.mark.parametrize("quota,period,current,out", [
    (None, None, "50000 100000", None),
    (50000, 100000, None, "50000 100000"),
    (50000, None, None, "50000"),
    (-1, None, None, "max"),
    (-1, 200000, None, "max 200000"),
    (None, 200000, "50000 100000\n", "50000 200000"),   # a new period keeps the quota
    (None, 200000, "max 100000\n", "max 200000"),
    (None, 200000, None, "max 200000"),
])
def test_cpu_max(quota, period, current, out):
    assert cpu_max(quota, period, current) == out


def test_field_zero_means_unset_only_where_runc_says_so():
    res = {"memory": {"limit": 0, "swappiness": 0, "disableOOMKiller": False},
           "cpu": {"shares": 0, "quota": 0, "burst": 0, "idle": 0, "cpus": ""},
           "pids": {"limit": 0}, "blockIO": {"weight": 0}, "network": {"classID": 0}}
    assert field(res, "memory", "limit") is None
    assert field(res, "memory", "swappiness") == 0
    assert field(res, "memory", "disableOOMKiller") is False
    assert field(res, "cpu", "shares") is None and field(res, "cpu", "quota") is None
    assert field(res, "cpu", "burst") == 0 and field(res, "cpu", "idle") == 0
    assert field(res, "cpu", "cpus") is None
    assert field(res, "pids", "limit") == 0  # the spec: 0 is a valid pids limit
    assert field(res, "blockIO", "weight") is None and field(res, "network", "classID") is None
    assert field(res, "hugepageLimits", "x") is None
    assert field({"memory": None}, "memory", "limit") is None


def test_needs_maps_fields_to_controllers():
    res = {"memory": {"limit": 1 << 20, "kernel": 5}, "cpu": {"shares": 512, "cpus": "0"}, "pids": {"limit": 0},
           "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]},
           "hugepageLimits": [{"pageSize": "2MB", "limit": 0}], "network": {"classID": 7},
           "rdma": {"mlx": {"hcaHandles": 1}}, "devices": [], "unified": {"memory.high": "5"}}
    v1 = needs(res, False)
    assert v1 == {"memory": "memory.limit", "cpu": "cpu.shares", "cpuset": "cpu.cpus", "pids": "pids.limit",
                  "blkio": "blockIO.throttleReadBpsDevice", "hugetlb": "hugepageLimits",
                  "net_cls": "network.classID", "rdma": "rdma", "devices": "devices"}
    v2 = needs(res, True)
    assert v2["io"] == "blockIO.throttleReadBpsDevice" and "blkio" not in v2
    assert "devices" not in v2  # eBPF, no controller
    # deprecated kernel memory alone needs nothing; unset fields need nothing
    assert needs({"memory": {"kernel": 5, "kernelTCP": 5}, "cpu": {"shares": 0}}, False) == {}
    assert needs({"memory": {"disableOOMKiller": False}}, False) == {}
    assert needs({"memory": {"disableOOMKiller": True}}, False) == {"memory": "memory.disableOOMKiller"}


def test_deprecated_kernel_memory_gives_warnings_not_errors():
    w = deprecated_memory({"memory": {"kernel": -1, "kernelTCP": 1 << 20}})
    assert len(w) == 2 and "memory.kernel is deprecated" in w[0] and "memory.kernelTCP" in w[1]
    assert deprecated_memory({"memory": {"kernel": 0}}) == []


@pytest.mark.parametrize("res,what", [
    ({"cpu": {"realtimeRuntime": 1000}}, "cpu.realtimeRuntime"),
    ({"cpu": {"realtimePeriod": 1000}}, "cpu.realtimePeriod"),
    ({"memory": {"swappiness": 0}}, "memory.swappiness"),
    ({"memory": {"disableOOMKiller": True}}, "memory.disableOOMKiller"),
    ({"memory": {"useHierarchy": False}}, "memory.useHierarchy"),
    ({"blockIO": {"leafWeight": 10}}, "blockIO.leafWeight"),
    ({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "leafWeight": 10}]}}, "leafWeight"),
    ({"network": {"classID": 1}}, "network.classID"),
    ({"network": {"priorities": [{"name": "eth0", "priority": 1}]}}, "network.priorities"),
])
def test_v2_refuses_what_it_cannot_express(res, what):
    with pytest.raises(CgroupError, match="not supported on cgroup v2") as e:
        unsupported(res)
    assert str(e.value).startswith("linux.resources.") and what in str(e.value)


def test_v2_accepts_what_is_a_no_op_there():
    unsupported({"memory": {"useHierarchy": True, "disableOOMKiller": False}, "cpu": {"realtimeRuntime": 0}})


def test_check_before_update():
    res = {"memory": {"limit": 100, "checkBeforeUpdate": True}}
    with pytest.raises(CgroupError, match="rejecting memory limit 100 <= current usage 100"):
        check_memory_usage(res, 100)
    check_memory_usage(res, 99)
    check_memory_usage(res, None)  # usage unknown: best effort
    check_memory_usage({"memory": {"limit": 100}}, 10**9)  # not asked for
    with pytest.raises(CgroupError, match="memory.swap: rejecting memory\\+swap limit"):
        check_memory_usage({"memory": {"swap": 100, "checkBeforeUpdate": True}}, 200)


def test_parse_list_and_size_names():
    assert parse_list("0-3,7\n") == [0, 1, 2, 3, 7]
    assert parse_list("") == []
    assert parse_list("5") == [5]
    assert size_name(2 << 20) == "2MB" and size_name(1 << 30) == "1GB" and size_name(64 << 10) == "64KB"


# `runc events --stats` of a busybox `sleep` under runc 1.1.5 on the CI host
# (memory.raw trimmed): prune() must drop exactly what Go's omitempty drops.
RUNC_STATS = {
    "cpu": {"usage": {"total": 14764641, "percpu": [13135396, 1629245], "percpu_kernel": [8000000, 4000000],
                      "percpu_user": [8000000, 0], "kernel": 0, "user": 0}, "throttling": {"periods": 2}},
    "cpuset": {"cpus": [0, 1], "cpu_exclusive": 0, "mems": [0], "mem_hardwall": 0, "mem_exclusive": 0,
               "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0,
               "sched_load_balance": 1, "sched_relax_domain_level": -1},
    "memory": {"usage": {"limit": 67108864, "usage": 577536, "max": 2240512, "failcnt": 0},
               "swap": {"limit": 134217728, "usage": 577536, "max": 2240512, "failcnt": 0},
               "kernel": {"limit": 9223372036854771712, "usage": 249856, "max": 598016, "failcnt": 0},
               "kernelTCP": {"limit": 9223372036854771712, "failcnt": 0},
               "raw": {"active_anon": 4096, "cache": 0}},
    "pids": {"current": 1, "limit": 50}, "blkio": {}, "hugetlb": {}, "intel_rdt": {}, "network_interfaces": None,
}


def test_prune_matches_runc_omitempty():
    s = empty_stats()
    s["cpu"]["usage"].update(total=14764641, percpu=[13135396, 1629245], percpu_kernel=[8000000, 4000000],
                             percpu_user=[8000000, 0])
    s["cpu"]["throttling"]["periods"] = 2
    s["cpuset"].update(cpus=[0, 1], mems=[0], sched_load_balance=1, sched_relax_domain_level=-1)
    m = s["memory"]
    m["usage"] = {"limit": 67108864, "usage": 577536, "max": 2240512, "failcnt": 0}
    m["swap"] = {"limit": 134217728, "usage": 577536, "max": 2240512, "failcnt": 0}
    m["kernel"] = {"limit": 9223372036854771712, "usage": 249856, "max": 598016, "failcnt": 0}
    m["kernelTCP"] = {"limit": 9223372036854771712, "usage": 0, "max": 0, "failcnt": 0}
    m["raw"] = {"active_anon": 4096, "cache": 0}
    s["pids"].update(current=1, limit=50)
    assert prune(s) == RUNC_STATS


def test_prune_of_nothing_keeps_the_always_present_keys():
    s = prune(empty_stats())
    assert s["cpu"] == {"usage": {"kernel": 0, "user": 0}, "throttling": {}}
    assert s["memory"]["usage"] == {"limit": 0, "failcnt": 0}
    assert s["pids"] == {} and s["blkio"] == {} and s["network_interfaces"] is None
