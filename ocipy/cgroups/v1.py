"""cgroup v1 (and hybrid) hosts: one directory per mounted hierarchy.

The container gets a directory in every mounted v1 hierarchy (co-mounted
controllers such as "cpu,cpuacct" share one) and joins them all, as runc's
fs driver, so that the runtime's own cgroups are never charged for it. On a
hybrid host it also gets one in the unified hierarchy (runc does the same):
that gives it cgroup.kill, and the controllers the host bound to cgroup v2
(on this project's CI host: hugetlb) are driven there with the v2 writers.

Files written per resource (runc libcontainer/cgroups/fs/*.go):
  memory   memory.limit_in_bytes, memory.memsw.limit_in_bytes (spec swap is
           memory+swap, as the file), memory.soft_limit_in_bytes,
           memory.swappiness, memory.oom_control, memory.use_hierarchy
  cpu      cpu.shares (read back: the kernel clamps), cpu.cfs_period_us,
           cpu.cfs_quota_us, cpu.cfs_burst_us, cpu.idle, cpu.rt_period_us,
           cpu.rt_runtime_us;   cpuset: cpuset.cpus, cpuset.mems
  pids     pids.max
  blkio    blkio.weight or blkio.bfq.weight (+ _device), blkio.leaf_weight
           (+ _device, CFQ only), blkio.throttle.{read,write}_{bps,iops}_device
  hugetlb  hugetlb.<size>.limit_in_bytes (+ .rsvd.limit_in_bytes)
  net_cls  net_cls.classid;   net_prio: net_prio.ifpriomap
  rdma     rdma.max
  devices  devices.deny / devices.allow: the minimal transition (devices.py)
"""
import errno
import posix

from ocipy.pathlite import dirname as _dirname, isdir as _isdir
from ocipy.cgroups import V1_CONTROLLERS, CgroupError, _read_words
from ocipy.cgroups.base import (
    Manager,
    check_memory_usage,
    deprecated_memory,
    exists,
    field,
    hugepage_sizes,
    join_one,
    mkdir,
    needs,
    not_available,
    parse_list,
    read,
    read_kv,
    read_or,
    read_uint,
    set_pids,
    undo_mkdirs,
    write,
    write_each,
)


def _v2():
    """ocipy.cgroups.v2, imported when a hybrid host's unified hierarchy is
    used (most v1 creates never need it: ~0.3 ms saved per call)."""
    from ocipy.cgroups import v2

    return v2

MAX_U64 = (1 << 64) - 1
# the order runc's fs driver sets controllers in (cpuset first: the others
# may need the cpus/mems in place; devices early: most security relevant)
_ORDER = ("cpuset", "devices", "memory", "cpu", "pids", "blkio", "hugetlb", "net_cls", "net_prio", "rdma")
# v1 controller -> its cgroup v2 name, for hybrid hosts
_V2_NAME = {"blkio": "io"}
# where the container's processes are listed: any joined hierarchy will do
_PROCS_FROM = ("freezer", "devices", "memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "name=systemd")


# --- writers -----------------------------------------------------------------------
def set_memory(d: str, res: dict) -> None:
    limit = field(res, "memory", "limit")
    swap = field(res, "memory", "swap")
    if (res.get("memory") or {}).get("checkBeforeUpdate"):  # the read only when it matters
        check_memory_usage(res, read_uint(d + "/memory.usage_in_bytes"))
    memsw = exists(d, "memory.memsw.limit_in_bytes")
    if limit == -1 and swap is None and memsw:
        swap = -1  # unlimited memory: unlimited memory+swap too (runc)
    if swap is not None and not memsw:
        if swap != -1:
            raise CgroupError("linux.resources.memory.swap: swap accounting is not enabled on this host "
                              f"(no memory.memsw.limit_in_bytes in {d}; boot with swapaccount=1)")
        swap = None  # unlimited is what there is
    if limit is not None and swap is not None:
        # memsw must stay >= the memory limit at every step: raise swap
        # first when growing, lower memory first when shrinking (runc)
        cur = read_uint(d + "/memory.limit_in_bytes")
        if swap == -1 or (cur is not None and cur < swap):
            _set_swap(d, swap)
            _set_limit(d, limit)
        else:
            _set_limit(d, limit)
            _set_swap(d, swap)
    else:
        if limit is not None:
            _set_limit(d, limit)
        if swap is not None:
            _set_swap(d, swap)
    resv = field(res, "memory", "reservation")
    if resv is not None:
        write(d, "memory.soft_limit_in_bytes", resv, "memory.reservation")
    if field(res, "memory", "disableOOMKiller"):
        write(d, "memory.oom_control", "1", "memory.disableOOMKiller")
    swappiness = field(res, "memory", "swappiness")
    if swappiness is not None:
        write(d, "memory.swappiness", swappiness, "memory.swappiness")
    hier = field(res, "memory", "useHierarchy")
    if hier is not None:
        write(d, "memory.use_hierarchy", "1" if hier else "0", "memory.useHierarchy")


def _set_limit(d: str, limit: int) -> None:
    try:
        write(d, "memory.limit_in_bytes", limit, "memory.limit")
    except CgroupError:
        usage = read_uint(d + "/memory.usage_in_bytes")
        if usage is not None and limit != -1 and limit <= usage:
            # EBUSY: the kernel could not reclaim down to the new limit
            peak = read_uint(d + "/memory.max_usage_in_bytes")
            raise CgroupError(f"linux.resources.memory.limit: cannot set {limit}: below the current usage "
                              f"{usage} (peak {peak}) of cgroup {d}") from None
        raise


def _set_swap(d: str, swap: int) -> None:
    write(d, "memory.memsw.limit_in_bytes", swap, "memory.swap")


def set_cpu(d: str, res: dict) -> None:
    shares = field(res, "cpu", "shares")
    if shares is not None:
        write(d, "cpu.shares", shares, "cpu.shares")
        got = read_uint(d + "/cpu.shares")
        if got is not None and got != shares:
            # the kernel clamps to [2, 262144] silently: say so (runc)
            bound = "maximum" if shares > got else "minimum"
            raise CgroupError(f"linux.resources.cpu.shares: {shares} is out of range: the {bound} allowed "
                              f"cpu-shares is {got}")
    quota, period, burst = field(res, "cpu", "quota"), field(res, "cpu", "period"), field(res, "cpu", "burst")
    # period, burst and quota depend on each other (quota/period may not
    # exceed the parent's; burst <= quota): when the kernel refuses one with
    # EINVAL and a quota is coming, retry it after the quota (runc)
    retry = []
    if period is not None and not _try(d, "cpu.cfs_period_us", period, "cpu.period", quota is not None):
        retry.append(("cpu.cfs_period_us", period, "cpu.period"))
    if burst is not None:
        if not exists(d, "cpu.cfs_burst_us"):
            raise CgroupError("linux.resources.cpu.burst: not supported by this kernel (no cpu.cfs_burst_us, "
                              "needs Linux >= 5.14)")
        if not _try(d, "cpu.cfs_burst_us", burst, "cpu.burst", quota is not None):
            retry.append(("cpu.cfs_burst_us", burst, "cpu.burst"))
    if quota is not None:
        write(d, "cpu.cfs_quota_us", quota, "cpu.quota")
        for name, value, what in retry:
            write(d, name, value, what)
    idle = field(res, "cpu", "idle")
    if idle is not None:
        if not exists(d, "cpu.idle"):
            raise CgroupError("linux.resources.cpu.idle: not supported by this kernel (no cpu.idle, "
                              "needs Linux >= 5.15)")
        write(d, "cpu.idle", idle, "cpu.idle")
    set_rt(d, res)


def set_rt(d: str, res: dict) -> None:
    """Realtime bandwidth, before the first process joins: a SCHED_RR/FIFO
    process cannot enter a cgroup without RT runtime (runc's SetRtSched)."""
    period, runtime = field(res, "cpu", "realtimePeriod"), field(res, "cpu", "realtimeRuntime")
    if period is None and runtime is None:
        return
    if not exists(d, "cpu.rt_runtime_us"):
        what = "realtimeRuntime" if runtime is not None else "realtimePeriod"
        raise CgroupError(f"linux.resources.cpu.{what}: not supported by this kernel (no cpu.rt_runtime_us: "
                          "CONFIG_RT_GROUP_SCHED is off)")
    retry = False
    if period is not None:
        retry = not _try(d, "cpu.rt_period_us", period, "cpu.realtimePeriod", runtime is not None)
    if runtime is not None:
        try:
            write(d, "cpu.rt_runtime_us", runtime, "cpu.realtimeRuntime")
        except CgroupError as e:
            parent = _dirname(d)
            avail = read_uint(parent + "/cpu.rt_runtime_us")
            if getattr(e, "errno", None) != errno.EINVAL or avail is None:
                raise
            # the kernel only says EINVAL: RT time is handed down the tree,
            # so a child never gets more than its parent (minus siblings)
            raise CgroupError(f"linux.resources.cpu.realtimeRuntime: {runtime} us is more than the parent "
                              f"cgroup {parent} can give (its cpu.rt_runtime_us is {avail}, shared by its "
                              "children): raise the parent's first") from None
        if retry:
            write(d, "cpu.rt_period_us", period, "cpu.realtimePeriod")


def _try(d: str, name: str, value, what: str, may_retry: bool) -> bool:
    """write; False (instead of raising) on EINVAL when a retry will come."""
    try:
        write(d, name, value, what)
        return True
    except CgroupError as e:
        if may_retry and getattr(e, "errno", None) == errno.EINVAL:
            return False
        raise


def set_cpuset(d: str, res: dict) -> None:
    for key in ("cpus", "mems"):
        v = field(res, "cpu", key)
        if v is not None:
            write(d, "cpuset." + key, v, "cpu." + key)


def set_blkio(d: str, res: dict) -> None:
    bio = res.get("blockIO") or {}
    if exists(d, "blkio.weight"):
        wfile, wdfile = "blkio.weight", "blkio.weight_device"
    elif exists(d, "blkio.bfq.weight"):
        wfile, wdfile = "blkio.bfq.weight", "blkio.bfq.weight_device"
    else:
        wfile = wdfile = None
    weight = field(res, "blockIO", "weight")
    devices = bio.get("weightDevice") or ()
    if wfile is None and (weight is not None or any(wd.get("weight") for wd in devices)):
        raise CgroupError(f"linux.resources.blockIO.weight: not supported on this host (no blkio.weight or "
                          f"blkio.bfq.weight in {d}: no proportional-weight I/O scheduler)")
    if weight is not None:
        write(d, wfile, weight, "blockIO.weight")
    leaf = field(res, "blockIO", "leafWeight")
    if (leaf is not None or any(wd.get("leafWeight") for wd in devices)) and not exists(d, "blkio.leaf_weight"):
        raise CgroupError("linux.resources.blockIO.leafWeight: not supported by this kernel (no "
                          "blkio.leaf_weight: leaf weights were a CFQ feature, removed in Linux 5.0)")
    if leaf is not None:
        write(d, "blkio.leaf_weight", leaf, "blockIO.leafWeight")
    for wd in devices:
        key = f"{wd['major']}:{wd['minor']}"
        if wd.get("weight"):
            write(d, wdfile, f"{key} {wd['weight']}", "blockIO.weightDevice")
        if wd.get("leafWeight"):
            write(d, "blkio.leaf_weight_device", f"{key} {wd['leafWeight']}", "blockIO.weightDevice")
    for key, name in (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
                      ("throttleReadIOPSDevice", "read_iops_device"),
                      ("throttleWriteIOPSDevice", "write_iops_device")):
        for td in bio.get(key) or ():
            if not exists(d, "blkio.throttle." + name):
                raise CgroupError(f"linux.resources.blockIO.{key}: not supported by this kernel (no "
                                  f"blkio.throttle.{name}: CONFIG_BLK_DEV_THROTTLING is off)")
            write(d, "blkio.throttle." + name, f"{td['major']}:{td['minor']} {td.get('rate') or 0}",
                  "blockIO." + key)


def set_hugetlb(d: str, res: dict) -> None:
    _v2().set_hugetlb(d, res, ".limit_in_bytes", ".rsvd.limit_in_bytes")


def set_net_cls(d: str, res: dict) -> None:
    classid = field(res, "network", "classID")
    if classid is not None:
        write(d, "net_cls.classid", classid, "network.classID")


def set_net_prio(d: str, res: dict) -> None:
    for p in field(res, "network", "priorities") or ():
        write(d, "net_prio.ifpriomap", f"{p['name']} {p['priority']}", "network.priorities")


def set_devices(d: str, res: dict) -> None:
    """Bring devices.list to the rules with the fewest writes, then check
    the kernel agrees (runc's final safety check): a parent that denies a
    device makes the allow fail, never silently."""
    rules = res.get("devices")
    if rules is None:
        return
    from ocipy.cgroups.devices import Emulator, normalize, transition

    target = Emulator.of(normalize(rules), default_allow=False)
    current = Emulator.from_list(read(d + "/devices.list"))
    # in order, one rule per write(2); a run of rules for the same file
    # (the "deny a" and the allows of a new cgroup) shares one open fd
    rules = transition(current, target)
    i = 0
    while i < len(rules):
        j = i + 1
        while j < len(rules) and rules[j].allow == rules[i].allow:
            j += 1
        write_each(d, "devices.allow" if rules[i].allow else "devices.deny", [r.v1() for r in rules[i:j]],
                   "devices")
        i = j
    after = Emulator.from_list(read(d + "/devices.list"))
    if after.default_allow != target.default_allow or \
            (not target.default_allow and after.exceptions != target.exceptions):
        raise CgroupError(f"linux.resources.devices: {d}/devices.list does not match the rules after writing "
                          "them (does a parent cgroup deny some of these devices?)")


_WRITERS = {"cpuset": set_cpuset, "devices": set_devices, "memory": set_memory, "cpu": set_cpu,
            "pids": set_pids, "blkio": set_blkio, "hugetlb": set_hugetlb, "net_cls": set_net_cls,
            "net_prio": set_net_prio, "rdma": lambda d, res: _v2().set_rdma(d, res)}
# the same resources written to a cgroup2 directory (hybrid hosts)
# (names, resolved in ocipy.cgroups.v2 when used: importing it is skipped otherwise)
_V2_WRITERS = {"cpuset": "set_cpuset", "devices": "set_devices", "memory": "set_memory", "cpu": "set_cpu",
               "pids": "set_pids", "blkio": "set_io", "hugetlb": "set_hugetlb", "rdma": "set_rdma"}
# the spec's resource groups each v1 controller reads (to check v2 limits)
_GROUPS = {"memory": ("memory",), "cpu": ("cpu",), "blkio": ("blockIO",)}


# --- freezer ---------------------------------------------------------------------------
def freeze_v1(d: str) -> None:
    """freezer.state = FROZEN until it reads FROZEN.

    As runc's FreezerGroup.Set: a v1 cgroup can stay FREEZING while new
    processes keep appearing (fork, exec joining), so write FROZEN again and
    again, with an occasional THAWED + 10 ms pause, up to 1000 times; on
    failure thaw back (a half-frozen container is the worst state)."""
    import time

    try:
        for i in range(1000):
            if i % 50 == 49:
                write(d, "freezer.state", "THAWED")
                time.sleep(0.01)
            write(d, "freezer.state", "FROZEN")
            if i % 25 == 24:
                time.sleep(0.00001)
            state = read(d + "/freezer.state").strip()
            if state == "FROZEN":
                return
            if state != "FREEZING":
                raise CgroupError(f"cgroup {d}: unexpected freezer.state {state!r} while freezing")
        raise CgroupError(f"cgroup {d}: unable to freeze (stuck in FREEZING)")
    except BaseException:
        try:
            write(d, "freezer.state", "THAWED")
        except CgroupError:
            pass
        raise


def frozen_v1(d: str) -> bool:
    """FROZEN by its own freezer.state (FREEZING is waited for; a cgroup
    frozen only through a parent, freezer.self_freezing 0, is not paused)."""
    import time

    for _ in range(1000):
        state = (read_or(d + "/freezer.state") or "THAWED").strip()
        if state == "FREEZING":
            time.sleep(0.001)
            continue
        if state != "FROZEN":
            return False
        return (read_or(d + "/freezer.self_freezing") or "1").strip() != "0"
    return True


# --- the manager ------------------------------------------------------------------------
class V1Manager(Manager):
    """paths: controller -> directory (co-mounted controllers share one);
    unified: the directory in the hybrid host's cgroup2 hierarchy, or None;
    unified_mount: that hierarchy's mountpoint."""

    def __init__(self, path: str, paths: dict, unified: str | None = None, unified_mount: str | None = None,
                 cid: str = "", mode: str = "v1", v2_controllers: frozenset | None = None) -> None:
        super().__init__(path, cid)
        self.paths = dict(paths)
        self.unified = unified
        self.unified_mount = unified_mount
        self.mode = mode
        self._v2c = v2_controllers

    @property
    def v2_controllers(self) -> frozenset:
        """Controllers the host bound to the unified hierarchy (hybrid)."""
        if self._v2c is None:
            self._v2c = frozenset(_read_words(self.unified_mount, "cgroup.controllers")) \
                if self.unified_mount else frozenset()
        return self._v2c

    def dirs(self) -> list:
        out = list(dict.fromkeys(self.paths.values()))
        if self.unified:
            out.append(self.unified)
        return out

    def procs_dir(self) -> str | None:
        for c in _PROCS_FROM:
            if c in self.paths:
                return self.paths[c]
        return self.unified

    def kill_dir(self) -> str | None:
        return self.unified

    def to_state(self) -> dict:
        st = {"mode": self.mode, "path": self.path, "paths": dict(self.paths)}
        if self.unified:
            st["unified"] = self.unified
            st["unifiedMount"] = self.unified_mount
        return st

    @classmethod
    def from_state(cls, state: dict) -> "V1Manager":
        return cls(state.get("path", ""), state.get("paths") or {}, state.get("unified"),
                   state.get("unifiedMount"), mode=state.get("mode", "v1"))

    # where each controller lives -----------------------------------------------------
    def _locate(self, res: dict) -> tuple:
        """({v1 ctrl: dir}, {v1 ctrl: v2 name} for those in the unified
        hierarchy) for what `res` needs; raises for an unavailable one."""
        v1, v2 = {}, {}
        for ctrl, what in needs(res, False).items():
            if ctrl in self.paths:
                v1[ctrl] = self.paths[ctrl]
                continue
            name = _V2_NAME.get(ctrl, ctrl)
            if self.unified and (name in self.v2_controllers or ctrl == "devices"):
                v2[ctrl] = name  # devices: the eBPF filter works on any cgroup2 cgroup
                continue
            raise not_available(what, ctrl)
        if res.get("unified") and not self.unified:
            raise CgroupError("linux.resources.unified: needs cgroup v2, and this host has only cgroup v1")
        if v2:
            sub = {g: res[g] for c in v2 for g in _GROUPS.get(c, ()) if g in res}
            _v2().unsupported(sub)
        return v1, v2

    def _v2_needed(self, res: dict, v2: dict) -> dict:
        n2 = needs(res, True)
        return {name: n2.get(name, c) for c, name in v2.items() if c != "devices"}

    # create / apply ------------------------------------------------------------------
    def create(self, resources: dict | None = None) -> None:
        res = resources or {}
        _, v2 = self._locate(res)  # before any mkdir: nothing to undo
        created = []
        try:
            done = set()
            for ctrl, d in self.paths.items():
                if d in done:
                    continue
                done.add(d)
                created += _mkdirs(d, cpuset=(ctrl == "cpuset" or self.paths.get("cpuset") == d))
            if self.unified:
                for d in _v2().chain(self.unified_mount, self.unified)[1:]:
                    if mkdir(d):
                        created.append(d)
                _v2().ensure_controllers(self.unified_mount, self.unified, self._v2_needed(res, v2))
        except BaseException:
            undo_mkdirs(created)
            raise

    def apply(self, resources: dict) -> list:
        res = resources or {}
        warnings = deprecated_memory(res)
        v1, v2 = self._locate(res)
        for d in set(v1.values()):
            if not _isdir(d):
                raise CgroupError(f"cgroup {d}: does not exist")
        if v2 or res.get("unified"):
            _v2().ensure_controllers(self.unified_mount, self.unified, self._v2_needed(res, v2))
        for ctrl in _ORDER:
            if ctrl in v1:
                _WRITERS[ctrl](v1[ctrl], res)
            elif ctrl in v2:
                getattr(_v2(), _V2_WRITERS[ctrl])(self.unified, res)
        if res.get("unified"):
            # raw cgroup2 files of a hybrid host: only its v2 controllers (and
            # core cgroup.* files) live there
            _v2().set_unified(self.unified, res,
                            lambda n: _v2().ensure_controllers(self.unified_mount, self.unified, n),
                            f" (hybrid host: cgroup v2 offers only {' '.join(sorted(self.v2_controllers)) or 'core files'})")
        return warnings

    # processes ----------------------------------------------------------------------
    def join(self, pid: int = 0) -> None:
        """Move a process into every hierarchy (0: the caller).

        A single-threaded caller moves through v1's `tasks` file: migrating
        one thread skips the global threadgroup rwsem that cgroup.procs
        takes, and with it an RCU grace period (measured on the CI host:
        0.4 ms for 9 hierarchies against 6-17 ms). Only for the caller: it
        knows no thread can appear meanwhile; another process could start
        one between the check and the write and leave it behind. cgroup2
        has no such file (cgroup.threads needs threaded mode)."""
        single = pid == 0 and len(posix.listdir("/proc/self/task")) == 1
        for d in self.dirs():
            if single and d != self.unified:
                join_one(d, pid, "tasks")
            else:
                join_one(d, pid)

    def freeze(self) -> None:
        if "freezer" in self.paths:
            freeze_v1(self.paths["freezer"])
        elif self.unified:
            _v2().freeze_v2(self.unified)
        else:
            raise CgroupError("cgroups: no freezer on this host (the v1 freezer hierarchy is not mounted)")

    def thaw(self) -> None:
        if "freezer" in self.paths:
            write(self.paths["freezer"], "freezer.state", "THAWED")
        elif self.unified:
            _v2().thaw_v2(self.unified)
        else:
            raise CgroupError("cgroups: no freezer on this host (the v1 freezer hierarchy is not mounted)")

    def frozen(self) -> bool:
        if "freezer" in self.paths:
            return frozen_v1(self.paths["freezer"])
        if self.unified:
            return _v2().frozen_v2(self.unified)
        return False

    def oom_events(self) -> dict:
        if "memory" in self.paths:
            return read_kv(self.paths["memory"] + "/memory.oom_control")
        if self.unified and "memory" in self.v2_controllers:
            return read_kv(self.unified + "/memory.events")
        return {}

    def stats(self) -> dict:
        s = _v2().empty_stats()
        p = self.paths
        if "cpuacct" in p:
            _cpuacct_stats(s, p["cpuacct"])
        if "cpu" in p:
            cs = read_kv(p["cpu"] + "/cpu.stat")
            t = s["cpu"]["throttling"]
            t["periods"] = cs.get("nr_periods", 0)
            t["throttledPeriods"] = cs.get("nr_throttled", 0)
            t["throttledTime"] = cs.get("throttled_time", 0)
        if "cpuset" in p:
            _cpuset_stats(s, p["cpuset"])
        if "memory" in p:
            _memory_stats(s, p["memory"])
        if "pids" in p:
            _v2().pids_stats(s, p["pids"])
        if "blkio" in p:
            _blkio_stats(s, p["blkio"])
        if "hugetlb" in p:
            _hugetlb_stats(s, p["hugetlb"])
        if self.unified:
            # controllers of the hybrid host's cgroup2 part (never cpu.stat
            # there: that is core accounting, the v1 cpuacct numbers win)
            bound = {_V2_NAME.get(c, c) for c in ("memory", "pids", "blkio", "hugetlb", "cpuset")
                     if c not in p} & self.v2_controllers
            _v2().stats_into(s, self.unified, bound)
        return _v2().prune(s)


def _mkdirs(d: str, cpuset: bool) -> list:
    """mkdir -p; for cpuset, every new level gets its parent's cpus and mems
    (a new cpuset cgroup starts empty, and joining it fails with ENOSPC;
    runc's cpuset ensureParent does the same)."""
    created = []
    parts = d.rstrip("/").split("/")
    cur = ""
    for part in parts[1:]:
        parent = cur or "/"
        cur += "/" + part
        if _isdir(cur):
            if cpuset and exists(cur, "cpuset.cpus"):
                _inherit_cpuset(parent, cur)
            continue
        if mkdir(cur):
            created.append(cur)
        if cpuset:
            _inherit_cpuset(parent, cur)
    return created


def _inherit_cpuset(parent: str, d: str) -> None:
    for name in ("cpuset.cpus", "cpuset.mems"):
        if not (read_or(f"{d}/{name}") or "").strip():
            v = (read_or(f"{parent}/{name}") or "").strip()
            if v:
                write(d, name, v)


# --- stats (runc fs/*.go GetStats) ---------------------------------------------------------
def _cpuacct_stats(s: dict, d: str) -> None:
    u = s["cpu"]["usage"]
    u["total"] = read_uint(d + "/cpuacct.usage", 0)
    u["percpu"] = [int(x) for x in (read_or(d + "/cpuacct.usage_percpu") or "").split()]
    rows = (read_or(d + "/cpuacct.usage_all") or "").splitlines()[1:]  # "cpu user system"
    u["percpu_user"] = [int(r.split()[1]) for r in rows if len(r.split()) == 3]
    u["percpu_kernel"] = [int(r.split()[2]) for r in rows if len(r.split()) == 3]
    st = read_kv(d + "/cpuacct.stat")  # USER_HZ ticks
    ns_per_tick = 1_000_000_000 // (posix.sysconf("SC_CLK_TCK") or 100)
    u["user"] = st.get("user", 0) * ns_per_tick
    u["kernel"] = st.get("system", 0) * ns_per_tick


def _cpuset_stats(s: dict, d: str) -> None:
    c = s["cpuset"]
    c["cpus"] = parse_list(read_or(d + "/cpuset.cpus") or "")
    c["mems"] = parse_list(read_or(d + "/cpuset.mems") or "")
    for key in ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
                "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level"):
        v = read_or(f"{d}/cpuset.{key}")
        if v is not None:
            try:
                c[key] = int(v.strip())
            except ValueError:
                pass


def _memory_stats(s: dict, d: str) -> None:
    m = s["memory"]
    for key, prefix in (("usage", "memory."), ("swap", "memory.memsw."), ("kernel", "memory.kmem."),
                        ("kernelTCP", "memory.kmem.tcp.")):
        if not exists(d, prefix + "usage_in_bytes"):
            continue
        m[key] = {"limit": read_uint(d + "/" + prefix + "limit_in_bytes", 0),
                  "usage": read_uint(d + "/" + prefix + "usage_in_bytes", 0),
                  "max": read_uint(d + "/" + prefix + "max_usage_in_bytes", 0),
                  "failcnt": read_uint(d + "/" + prefix + "failcnt", 0)}
    raw = read_kv(d + "/memory.stat")
    m["raw"] = raw
    m["cache"] = raw.get("cache", 0)


def _blkio_stats(s: dict, d: str) -> None:
    """The BFQ files if present, else CFQ's, else the throttling layer's
    (runc tries them in this order)."""
    names = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queued_recursive",
             "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive", "time_recursive",
             "sectors_recursive")
    keys = ("ioServiceBytesRecursive", "ioServicedRecursive", "ioQueueRecursive", "ioServiceTimeRecursive",
            "ioWaitTimeRecursive", "ioMergedRecursive", "ioTimeRecursive", "sectorsRecursive")
    if exists(d, "blkio.bfq.io_service_bytes_recursive"):
        prefix = "blkio.bfq."
    elif exists(d, "blkio.io_service_bytes_recursive"):
        prefix = "blkio."
    else:
        prefix, names, keys = "blkio.throttle.", names[:2], keys[:2]
    for name, key in zip(names, keys):
        entries = []
        for line in (read_or(d + "/" + prefix + name) or "").splitlines():
            parts = line.split()
            if len(parts) < 2 or ":" not in parts[0]:
                continue  # "Total N"
            major, _, minor = parts[0].partition(":")
            try:
                if len(parts) == 3:
                    entries.append({"major": int(major), "minor": int(minor), "op": parts[1],
                                    "value": int(parts[2])})
                else:
                    entries.append({"major": int(major), "minor": int(minor), "op": "", "value": int(parts[1])})
            except ValueError:
                continue
        if entries:
            s["blkio"][key] = entries


def _hugetlb_stats(s: dict, d: str) -> None:
    for size in hugepage_sizes():
        usage = read_uint(f"{d}/hugetlb.{size}.usage_in_bytes")
        if usage is None:
            continue
        s["hugetlb"][size] = {"usage": usage, "max": read_uint(f"{d}/hugetlb.{size}.max_usage_in_bytes", 0),
                              "failcnt": read_uint(f"{d}/hugetlb.{size}.failcnt", 0)}


__all__ = ["V1_CONTROLLERS", "V1Manager", "freeze_v1", "frozen_v1"]
