"""cgroup v2: the unified hierarchy (pure v2 hosts, and the cgroup2 part of
hybrid hosts, whose writers V1Manager borrows for controllers bound to v2).

The spec's resources are cgroup v1 shaped; the conversions below are the
ones runc and crun document, each with its source:
- cpu.shares -> cpu.weight: crun's quadratic fit through (2, 1),
  (1024, 100), (262144, 10000) on a log scale, adopted by runc 1.3
  (ConvertCPUSharesToCgroupV2Value); runc <= 1.2 used the linear
  1 + (shares - 2) * 9999 / 262142, which maps the default 1024 to 39.
- cpu.quota/period -> cpu.max "QUOTA PERIOD" ("max" for -1), burst ->
  cpu.max.burst, idle -> cpu.idle (runc fs2/cpu.go).
- memory.limit -> memory.max, memory.reservation -> memory.low,
  memory.swap (memory+swap in v1) -> memory.swap.max = swap - limit
  (runc ConvertMemorySwapToCgroupV2Value; -1 stays "max"; limit -1 with
  swap unset means both unlimited).
- blockIO.weight -> io.bfq.weight as is when BFQ is there, else io.weight
  = 1 + (weight - 10) * 9999 / 990 (runc ConvertBlkIOToIOWeightValue, maps
  [10, 1000] onto [1, 10000]); per-device weights likewise; throttles ->
  io.max "MAJ:MIN rbps=N" / wbps / riops / wiops (runc fs2/io.go), rate 0
  -> "max" (v1 treats 0 as "remove the limit").
- hugepageLimits -> hugetlb.<size>.max and, where the kernel has
  reservation accounting, hugetlb.<size>.rsvd.max (runc fs2/hugetlb.go).
- pids.limit -> pids.max ("max" for -1), rdma -> rdma.max, as v1.
- devices -> an eBPF program (ocipy/cgroups/ebpf.py) attached to the cgroup.
- unified -> written as is, enabling the controller a key needs.
Not expressible on v2, hence errors: cpu realtime*, memory.swappiness,
memory.disableOOMKiller, memory.useHierarchy false, blockIO.leafWeight,
network (net_cls/net_prio are v1 only; use eBPF).
"""
import errno
import posix

from ocipy.pathlite import isdir as _isdir
from ocipy.cgroups import CgroupError, _read_words
from ocipy.cgroups.base import (
    CORE_PREFIX,
    Manager,
    check_memory_usage,
    deprecated_memory,
    exists,
    field,
    file_error,
    hugepage_sizes,
    join_one,
    mkdir,
    needs,
    not_available,
    parse_list,
    read_kv,
    read_or,
    read_uint,
    set_pids,
    undo_mkdirs,
    write,
)

MAX_U64 = (1 << 64) - 1


# --- conversions (pure) ---------------------------------------------------------
def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000] (crun, runc >= 1.3)."""
    import math

    if shares == 0:
        return 0
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    l2 = math.log2(shares)
    exponent = (l2 * l2 + 125 * l2) / 612.0 - 7.0 / 34.0
    return math.ceil(10 ** exponent)


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] -> io.weight [1, 10000] (runc)."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(swap, limit):
    """memory.swap (v1: memory+swap) -> memory.swap.max; None: leave it.
    -1 means "max". Raises for combinations v2 cannot express."""
    if limit == -1 and swap is None:
        return -1
    if swap is None:
        return None
    if swap == -1:
        return -1
    if limit is None or limit == -1:
        raise CgroupError("linux.resources.memory.swap: a swap limit needs a memory limit on cgroup v2 "
                          "(memory.swap.max = swap - limit)")
    if swap < limit:
        raise CgroupError(f"linux.resources.memory.swap: {swap} is below memory.limit {limit} "
                          "(swap is the memory+swap limit)")
    return swap - limit


def cpu_max(quota, period, current: str | None) -> str | None:
    """cpu.max content for quota/period; None if neither is set. Only a new
    period keeps the current quota (runc would reset it to "max")."""
    if quota is None and period is None:
        return None
    if quota is None:
        cur = (current or "max").split()
        q = cur[0] if cur else "max"
    else:
        q = "max" if quota < 0 else str(quota)
    return q if period is None else f"{q} {period}"


def _num(v) -> str:
    return "max" if v == -1 else str(v)


# --- writers for one cgroup2 directory ------------------------------------------
def unsupported(res: dict) -> None:
    """Fields cgroup v2 cannot express: one clear error each."""
    def no(what: str, why: str) -> CgroupError:
        return CgroupError(f"linux.resources.{what}: not supported on cgroup v2 ({why})")

    for key in ("realtimeRuntime", "realtimePeriod"):
        if field(res, "cpu", key) is not None:
            raise no("cpu." + key, "no realtime CPU bandwidth control")
    if field(res, "memory", "swappiness") is not None:
        raise no("memory.swappiness", "no per-cgroup swappiness")
    if field(res, "memory", "disableOOMKiller"):
        raise no("memory.disableOOMKiller", "the OOM killer cannot be disabled per cgroup")
    if field(res, "memory", "useHierarchy") is False:
        raise no("memory.useHierarchy", "accounting is always hierarchical")
    if field(res, "blockIO", "leafWeight") is not None:
        raise no("blockIO.leafWeight", "no leaf weights")
    for wd in field(res, "blockIO", "weightDevice") or ():
        if wd.get("leafWeight"):
            raise no("blockIO.weightDevice[].leafWeight", "no leaf weights")
    if field(res, "network", "classID") is not None:
        raise no("network.classID", "net_cls is a cgroup v1 controller")
    if field(res, "network", "priorities"):
        raise no("network.priorities", "net_prio is a cgroup v1 controller")


def set_memory(d: str, res: dict) -> None:
    limit = field(res, "memory", "limit")
    resv = field(res, "memory", "reservation")
    swap = field(res, "memory", "swap")
    if (res.get("memory") or {}).get("checkBeforeUpdate"):  # the read only when it matters
        check_memory_usage(res, read_uint(d + "/memory.current"))
    if swap is not None and swap != -1 and limit is None:
        # an update of swap alone: relative to the memory limit in force
        cur = read_uint(d + "/memory.max")
        s2 = swap_to_v2(swap, None if cur is None or cur == MAX_U64 else cur)
    else:
        s2 = swap_to_v2(swap, limit)
    if s2 is not None:
        if exists(d, "memory.swap.max"):
            write(d, "memory.swap.max", _num(s2), "memory.swap")
        elif s2 != -1:
            raise CgroupError(f"linux.resources.memory.swap: swap accounting is not available "
                              f"(no memory.swap.max in {d}; kernel booted with swapaccount=0?)")
    if limit is not None:
        write(d, "memory.max", _num(limit), "memory.limit")
    if resv is not None:
        write(d, "memory.low", _num(resv), "memory.reservation")


def set_cpu(d: str, res: dict) -> None:
    shares = field(res, "cpu", "shares")
    if shares is not None:
        write(d, "cpu.weight", shares_to_weight(shares), "cpu.shares")
    quota, period, burst = field(res, "cpu", "quota"), field(res, "cpu", "period"), field(res, "cpu", "burst")
    retry_burst = False
    if burst is not None:
        if not exists(d, "cpu.max.burst"):
            raise CgroupError("linux.resources.cpu.burst: not supported by this kernel (no cpu.max.burst, "
                              "needs Linux >= 5.14)")
        try:
            write(d, "cpu.max.burst", burst, "cpu.burst")
        except CgroupError:
            # a burst above the old quota is refused (EINVAL): retry once the
            # new quota is in (runc fs2/cpu.go)
            if quota is None:
                raise
            retry_burst = True
    content = cpu_max(quota, period, read_or(d + "/cpu.max") if quota is None else None)
    if content is not None:
        write(d, "cpu.max", content, "cpu.quota" if quota is not None else "cpu.period")
    if retry_burst:
        write(d, "cpu.max.burst", burst, "cpu.burst")
    idle = field(res, "cpu", "idle")
    if idle is not None:
        if not exists(d, "cpu.idle"):
            raise CgroupError("linux.resources.cpu.idle: not supported by this kernel (no cpu.idle, "
                              "needs Linux >= 5.15)")
        write(d, "cpu.idle", idle, "cpu.idle")


def set_cpuset(d: str, res: dict) -> None:
    for key in ("cpus", "mems"):
        v = field(res, "cpu", key)
        if v is not None:
            write(d, "cpuset." + key, v, "cpu." + key)


def set_io(d: str, res: dict) -> None:
    bio = res.get("blockIO") or {}
    weight = field(res, "blockIO", "weight")
    bfq = exists(d, "io.bfq.weight")
    if weight is not None:
        if bfq:
            write(d, "io.bfq.weight", weight, "blockIO.weight")
        elif exists(d, "io.weight"):
            write(d, "io.weight", blkio_weight_to_io_weight(weight), "blockIO.weight")
        else:
            raise CgroupError(f"linux.resources.blockIO.weight: no io.bfq.weight or io.weight in {d} "
                              "(no proportional-weight I/O scheduler or io cost model on this host)")
    for wd in bio.get("weightDevice") or ():
        w = wd.get("weight")
        if not w:
            continue
        key = f"{wd['major']}:{wd['minor']}"
        if bfq:
            write(d, "io.bfq.weight", f"{key} {w}", "blockIO.weightDevice")
        elif exists(d, "io.weight"):
            write(d, "io.weight", f"{key} {blkio_weight_to_io_weight(w)}", "blockIO.weightDevice")
        else:
            raise CgroupError(f"linux.resources.blockIO.weightDevice: no io.bfq.weight or io.weight in {d}")
    for key, op in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                    ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
        for td in bio.get(key) or ():
            rate = td.get("rate") or 0
            write(d, "io.max", f"{td['major']}:{td['minor']} {op}={rate if rate else 'max'}",
                  "blockIO." + key)


def set_hugetlb(d: str, res: dict, suffix: str = ".max", rsvd: str = ".rsvd.max") -> None:
    """hugetlb.<size><suffix> and, where present, the reservation limit."""
    for i, h in enumerate(res.get("hugepageLimits") or ()):
        size, limit = h.get("pageSize"), h.get("limit")
        name = f"hugetlb.{size}{suffix}"
        what = f"hugepageLimits[{i}]"
        if not exists(d, name):
            sizes = ", ".join(hugepage_sizes()) or "none"
            raise CgroupError(f"linux.resources.{what}.pageSize: no {size} huge pages on this host "
                              f"(no {name}; sizes: {sizes})")
        write(d, name, limit, what)
        if exists(d, f"hugetlb.{size}{rsvd}"):
            write(d, f"hugetlb.{size}{rsvd}", limit, what)


def set_rdma(d: str, res: dict) -> None:
    for dev, lim in (res.get("rdma") or {}).items():
        parts = [dev]
        if lim.get("hcaHandles") is not None:
            parts.append(f"hca_handle={lim['hcaHandles']}")
        if lim.get("hcaObjects") is not None:
            parts.append(f"hca_object={lim['hcaObjects']}")
        if len(parts) > 1:
            write(d, "rdma.max", " ".join(parts), f"rdma.{dev}")


def set_unified(d: str, res: dict, ensure, where: str = "") -> None:
    """linux.resources.unified: every key written as is. A key whose file is
    missing gets its controller enabled first (`ensure({ctrl: what})`),
    which raises clearly when the controller is not available."""
    for key, value in (res.get("unified") or {}).items():
        what = f"unified.{key}"
        if not key or "/" in key or key in (".", ".."):
            raise CgroupError(f"linux.resources.{what}: not a cgroup file name")
        if not exists(d, key):
            ctrl = key.split(".", 1)[0]
            if "." in key and not key.startswith(CORE_PREFIX):
                ensure({ctrl: what})
            if not exists(d, key):
                raise CgroupError(f"linux.resources.{what}: no such file in cgroup {d}{where}")
        write(d, key, value, what)


def set_devices(d: str, res: dict) -> None:
    rules = res.get("devices")
    if rules is None:
        return
    from ocipy.cgroups import ebpf

    ebpf.apply_device_rules(d, rules)


# --- stats ---------------------------------------------------------------------------
# One reader per controller, filling runc's stats object (empty_stats()) from
# one cgroup2 directory; V1Manager uses the ones for controllers a hybrid host
# bound to v2.
def _cpu_stats(s: dict, d: str) -> None:
    cpu = read_kv(d + "/cpu.stat")
    if not cpu:
        return
    u = s["cpu"]["usage"]
    u["total"] = cpu.get("usage_usec", 0) * 1000
    u["kernel"] = cpu.get("system_usec", 0) * 1000
    u["user"] = cpu.get("user_usec", 0) * 1000
    t = s["cpu"]["throttling"]
    t["periods"] = cpu.get("nr_periods", 0)
    t["throttledPeriods"] = cpu.get("nr_throttled", 0)
    t["throttledTime"] = cpu.get("throttled_usec", 0) * 1000


def _cpuset_stats(s: dict, d: str) -> None:
    cpus = read_or(d + "/cpuset.cpus.effective")
    if cpus is not None:
        s["cpuset"]["cpus"] = parse_list(cpus)
        s["cpuset"]["mems"] = parse_list(read_or(d + "/cpuset.mems.effective") or "")


def _memory_stats(s: dict, d: str) -> None:
    if not exists(d, "memory.current"):
        return
    m = s["memory"]
    raw = read_kv(d + "/memory.stat")
    m["raw"] = raw
    m["cache"] = raw.get("file", 0)
    usage = _entry(read_uint(d + "/memory.current", 0), read_uint(d + "/memory.max", MAX_U64),
                   read_uint(d + "/memory.peak", 0), read_kv(d + "/memory.events").get("max", 0))
    m["usage"] = usage
    if exists(d, "memory.swap.current"):
        # v1 reports memory+swap: add memory for compatibility (runc fs2)
        swap_limit = read_uint(d + "/memory.swap.max", MAX_U64)
        if swap_limit != MAX_U64 and usage["limit"] != MAX_U64:
            swap_limit += usage["limit"]
        m["swap"] = _entry(read_uint(d + "/memory.swap.current", 0) + usage["usage"], swap_limit,
                           0, read_kv(d + "/memory.swap.events").get("max", 0))


def pids_stats(s: dict, d: str) -> None:
    """pids.current / pids.max: the same files on v1 and v2."""
    if not exists(d, "pids.current"):
        return
    s["pids"]["current"] = read_uint(d + "/pids.current", 0)
    lim = read_uint(d + "/pids.max", 0)
    s["pids"]["limit"] = 0 if lim == MAX_U64 else lim


_IO_KEYS = {"rbytes": (0, "Read"), "wbytes": (0, "Write"), "dbytes": (0, "Discard"),
            "rios": (1, "Read"), "wios": (1, "Write"), "dios": (1, "Discard")}


def _io_stats(s: dict, d: str) -> None:
    io = read_or(d + "/io.stat")
    if not io:
        return
    tables = ([], [])  # ioServiceBytesRecursive, ioServicedRecursive
    for line in io.splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        for item in parts[1:]:
            k, _, v = item.partition("=")
            if k in _IO_KEYS:
                i, op = _IO_KEYS[k]
                tables[i].append({"major": int(major), "minor": int(minor), "op": op, "value": int(v)})
    if tables[0]:
        s["blkio"]["ioServiceBytesRecursive"] = tables[0]
    if tables[1]:
        s["blkio"]["ioServicedRecursive"] = tables[1]


def _hugetlb_stats(s: dict, d: str) -> None:
    for size in hugepage_sizes():
        cur = read_uint(f"{d}/hugetlb.{size}.current")
        if cur is None:
            continue
        s["hugetlb"][size] = {"usage": cur, "max": 0,
                              "failcnt": read_kv(f"{d}/hugetlb.{size}.events").get("max", 0)}


STATS = {"cpu": _cpu_stats, "cpuset": _cpuset_stats, "memory": _memory_stats, "pids": pids_stats,
         "io": _io_stats, "hugetlb": _hugetlb_stats}


def stats_into(s: dict, d: str, controllers=None) -> None:
    for ctrl, fn in STATS.items():
        if controllers is None or ctrl in controllers:
            fn(s, d)


def _entry(usage, limit, peak, failcnt) -> dict:
    return {"limit": limit, "usage": usage, "max": peak, "failcnt": failcnt}


def empty_stats() -> dict:
    """runc's types.Stats with every field present (prune() drops the ones
    Go's omitempty would)."""
    return {
        "cpu": {"usage": {"total": 0, "percpu": [], "percpu_kernel": [], "percpu_user": [], "kernel": 0, "user": 0},
                "throttling": {"periods": 0, "throttledPeriods": 0, "throttledTime": 0}},
        "cpuset": {"cpus": [], "cpu_exclusive": 0, "mems": [], "mem_hardwall": 0, "mem_exclusive": 0,
                   "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0,
                   "sched_load_balance": 0, "sched_relax_domain_level": 0},
        "memory": {"cache": 0, "usage": _entry(0, 0, 0, 0), "swap": _entry(0, 0, 0, 0),
                   "kernel": _entry(0, 0, 0, 0), "kernelTCP": _entry(0, 0, 0, 0), "raw": {}},
        "pids": {"current": 0, "limit": 0},
        "blkio": {},
        "hugetlb": {},
        "intel_rdt": {},
        "network_interfaces": None,
    }


# Keys Go's encoding/json omits when zero/empty (`omitempty` in runc's
# types/events.go); the others are always printed.
_OMITEMPTY = {
    "usage": ("total", "percpu", "percpu_kernel", "percpu_user"),
    "throttling": ("periods", "throttledPeriods", "throttledTime"),
    "cpuset": ("cpus", "mems"),
    "memory": ("cache", "raw"),
    "entry": ("usage", "max"),
    "pids": ("current", "limit"),
    "hugetlb": ("usage", "max"),
    "blkio": ("major", "minor", "op", "value"),
}


def prune(s: dict) -> dict:
    """Drop what runc's JSON omits (zero values of omitempty fields)."""
    def drop(d: dict, keys) -> None:
        for k in keys:
            if k in d and not d[k]:
                del d[k]

    drop(s["cpu"]["usage"], _OMITEMPTY["usage"])
    drop(s["cpu"]["throttling"], _OMITEMPTY["throttling"])
    drop(s["cpuset"], _OMITEMPTY["cpuset"])
    drop(s["memory"], _OMITEMPTY["memory"])
    for k in ("usage", "swap", "kernel", "kernelTCP"):
        drop(s["memory"][k], _OMITEMPTY["entry"])
    drop(s["pids"], _OMITEMPTY["pids"])
    for h in s["hugetlb"].values():
        drop(h, _OMITEMPTY["hugetlb"])
    for table in s["blkio"].values():
        for e in table:
            drop(e, _OMITEMPTY["blkio"])
    return s


# --- controllers along the path -------------------------------------------------------
def chain(mount: str, leaf: str) -> list:
    """Directories from the mountpoint down to the leaf."""
    rel = leaf[len(mount):].strip("/") if leaf.startswith(mount) else ""
    out, cur = [mount], mount.rstrip("/")
    for part in rel.split("/") if rel else ():
        cur += "/" + part
        out.append(cur)
    return out


def check_offered(mount: str, needed: dict) -> None:
    """Every controller in `needed` exists in this unified hierarchy."""
    avail = set(_read_words(mount, "cgroup.controllers"))
    for c, w in needed.items():
        if c not in avail:
            offers = " ".join(sorted(avail)) or "none"
            raise not_available(w, c, f"on this host (cgroup v2 at {mount} offers: {offers})")


def ensure_controllers(mount: str, leaf: str, needed: dict) -> None:
    """Make the controllers in `needed` ({ctrl: field}) available in `leaf`:
    "+ctrl" in cgroup.subtree_control of every ancestor lacking it, top-down
    (controllers are only offered to a cgroup its parent enabled them for).
    An ancestor that does not offer one is an error naming the field."""
    if not needed:
        return
    have = set(_read_words(leaf, "cgroup.controllers"))
    missing = {c: w for c, w in needed.items() if c not in have}
    if not missing:
        return
    dirs = chain(mount, leaf)
    for anc in dirs[:-1]:
        avail = set(_read_words(anc, "cgroup.controllers"))
        for c, w in missing.items():
            if c not in avail:
                if anc == dirs[0]:
                    offers = " ".join(sorted(avail)) or "none"
                    raise not_available(w, c, f"on this host (cgroup v2 at {anc} offers: {offers})")
                raise not_available(w, c, f"in cgroup {anc} (its parent does not delegate it)")
        enabled = set(_read_words(anc, "cgroup.subtree_control"))
        todo = [c for c in missing if c not in enabled]
        if not todo:
            continue
        try:
            write(anc, "cgroup.subtree_control", " ".join("+" + c for c in todo))
        except CgroupError as e:
            what = missing[todo[0]]
            if anc != dirs[0] and (read_or(anc + "/cgroup.procs") or "").strip():
                raise CgroupError(f"linux.resources.{what}: cannot enable {' '.join(todo)} in {anc}: it holds "
                                  "processes (cgroup v2 enables controllers only below cgroups without "
                                  "processes)") from None
            raise CgroupError(f"linux.resources.{what}: {e}") from None


# --- the manager ------------------------------------------------------------------------
class V2Manager(Manager):
    """A container's cgroup in the unified hierarchy: one directory."""

    mode = "v2"

    def __init__(self, path: str, dir: str, mount: str, cid: str = "") -> None:
        super().__init__(path, cid)
        self.dir = dir
        self.mount = mount

    def dirs(self) -> list:
        return [self.dir]

    def procs_dir(self) -> str:
        return self.dir

    def kill_dir(self) -> str:
        return self.dir

    def to_state(self) -> dict:
        return {"mode": "v2", "path": self.path, "unified": self.dir, "unifiedMount": self.mount}

    @classmethod
    def from_state(cls, state: dict) -> "V2Manager":
        return cls(state.get("path", ""), state["unified"], state.get("unifiedMount") or "/sys/fs/cgroup")

    # create / apply ------------------------------------------------------------------
    def create(self, resources: dict | None = None) -> None:
        needed = needs(resources or {}, True)
        if resources:
            unsupported(resources)
            check_offered(self.mount, needed)  # before any mkdir: nothing to undo
        created = []
        try:
            for d in chain(self.mount, self.dir)[1:]:
                if mkdir(d):
                    created.append(d)
            self.ensure(needed)
        except BaseException:
            undo_mkdirs(created)
            raise

    def ensure(self, needed: dict) -> None:
        ensure_controllers(self.mount, self.dir, needed)

    def apply(self, resources: dict) -> list:
        res = resources or {}
        warnings = deprecated_memory(res)
        unsupported(res)
        needed = needs(res, True)
        check_offered(self.mount, needed)
        if not _isdir(self.dir):
            raise CgroupError(f"cgroup {self.dir}: does not exist")
        self.ensure(needed)
        d = self.dir
        # runc fs2.Set order: pids, memory, io, cpu, devices, cpuset, hugetlb, rdma, unified
        set_pids(d, res)
        set_memory(d, res)
        set_io(d, res)
        set_cpu(d, res)
        set_devices(d, res)
        set_cpuset(d, res)
        set_hugetlb(d, res)
        set_rdma(d, res)
        set_unified(d, res, self.ensure)
        return warnings

    # processes ----------------------------------------------------------------------
    def join(self, pid: int = 0) -> None:
        join_one(self.dir, pid)

    def freeze(self) -> None:
        freeze_v2(self.dir)

    def thaw(self) -> None:
        thaw_v2(self.dir)

    def frozen(self) -> bool:
        return frozen_v2(self.dir)

    def oom_events(self) -> dict:
        return read_kv(self.dir + "/memory.events")

    def stats(self) -> dict:
        s = empty_stats()
        stats_into(s, self.dir)
        return prune(s)


# --- freezer (shared with hybrid hosts) ---------------------------------------------------
def freeze_v2(d: str, timeout: float = 10.0) -> None:
    """cgroup.freeze = 1, then wait for "frozen 1" in cgroup.events (the
    kernel notifies changes with POLLPRI); thaw back and fail after timeout."""
    if not exists(d, "cgroup.freeze"):
        raise CgroupError(f"cgroup {d}: no cgroup.freeze (the v2 freezer needs Linux >= 5.2)")
    write(d, "cgroup.freeze", "1")
    try:
        _wait_events(d, "frozen", "1", timeout)
    except CgroupError:
        write(d, "cgroup.freeze", "0")
        raise


def thaw_v2(d: str) -> None:
    if exists(d, "cgroup.freeze"):
        write(d, "cgroup.freeze", "0")


def frozen_v2(d: str) -> bool:
    """The requested state (cgroup.freeze), settled: a cgroup being frozen
    is waited for, as runc's getFreezer."""
    state = (read_or(d + "/cgroup.freeze") or "0").strip()
    if state != "1":
        return False
    _wait_events(d, "frozen", "1", 10.0)
    return True


def _wait_events(d: str, key: str, want: str, timeout: float) -> None:
    import select
    import time

    path = d + "/cgroup.events"
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError as e:
        raise file_error(e, path, "open") from None
    try:
        poller = select.poll()
        poller.register(fd, select.POLLPRI | select.POLLERR)
        deadline = time.monotonic() + timeout
        while True:
            posix.lseek(fd, 0, 0)  # SEEK_SET
            for line in posix.read(fd, 4096).decode().splitlines():
                k, _, v = line.partition(" ")
                if k == key and v.strip() == want:
                    return
            left = deadline - time.monotonic()
            if left <= 0:
                raise CgroupError(f"cgroup {d}: timed out after {timeout:g}s waiting for \"{key} {want}\" "
                                  "in cgroup.events")
            poller.poll(min(left, 0.05) * 1000)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise CgroupError(f"cgroup {d}: removed while waiting for \"{key} {want}\"") from None
        raise file_error(e, path, "read") from None
    finally:
        posix.close(fd)
