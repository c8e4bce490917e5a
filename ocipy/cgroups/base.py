"""The Manager interface and what its v1 and v2 implementations share.

A Manager owns one container's cgroup (one directory per v1 hierarchy, or
one directory in the unified tree) and offers the operations the commands
need: create, apply (create and update), join, procs, freeze/thaw, kill_all,
stats, oom_events, destroy and to_state/from_state for state.json.

Conventions for linux.resources (values are assumed structurally valid: the
spec layer validates them):
- A field that is absent or null is not touched.
- As runc (and its `update` JSON, where 0 means "unchanged"), 0 also means
  unset for memory limit/reservation/swap, cpu shares/quota/period/
  realtimeRuntime/realtimePeriod, blockIO weight/leafWeight and
  network.classID, for which 0 is not a usable value. 0 is written as is
  where the kernel gives it a meaning: pids.limit (the spec says so),
  swappiness, cpu burst/idle, hugepage limits, throttle rates.
- A set field the host cannot honour is an error naming it; deprecated ones
  (memory.kernel, memory.kernelTCP) come back from apply() as warnings.
"""
import errno
import posix

from ocipy.pathlite import exists as _exists, isdir as _isdir
from ocipy.cgroups import CgroupError

# cgroup2 core files (cgroup.procs, cgroup.freeze...): in every v2 cgroup,
# whatever controllers are enabled
CORE_PREFIX = "cgroup."

# Fields for which 0 means "unset" (see the module docstring).
_ZERO_UNSET = frozenset((
    "memory.limit", "memory.reservation", "memory.swap", "memory.kernel", "memory.kernelTCP",
    "cpu.shares", "cpu.quota", "cpu.period", "cpu.realtimeRuntime", "cpu.realtimePeriod",
    "blockIO.weight", "blockIO.leafWeight", "network.classID",
))


def field(res: dict, group: str, key: str):
    """linux.resources.<group>.<key> if set, else None (see _ZERO_UNSET)."""
    g = res.get(group)
    if not g:
        return None
    v = g.get(key)
    if v is None or v == "" or (f"{group}.{key}" in _ZERO_UNSET and v == 0):
        return None
    return v


def needs(res: dict, v2: bool) -> dict:
    """Controllers the resources need -> the first field needing each (for
    error messages), e.g. {"memory": "memory.limit", "pids": "pids.limit"}.
    On v2 blockIO needs "io"."""
    out = {}

    def need(ctrl: str, what: str) -> None:
        out.setdefault(ctrl, what)

    for key in ("limit", "reservation", "swap", "swappiness", "useHierarchy"):
        if field(res, "memory", key) is not None:
            need("memory", "memory." + key)
    if field(res, "memory", "disableOOMKiller"):
        need("memory", "memory.disableOOMKiller")
    for key in ("shares", "quota", "period", "burst", "realtimeRuntime", "realtimePeriod", "idle"):
        if field(res, "cpu", key) is not None:
            need("cpu", "cpu." + key)
    for key in ("cpus", "mems"):
        if field(res, "cpu", key) is not None:
            need("cpuset", "cpu." + key)
    if field(res, "pids", "limit") is not None:
        need("pids", "pids.limit")
    for key in ("weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
                "throttleReadIOPSDevice", "throttleWriteIOPSDevice"):
        if field(res, "blockIO", key):
            need("io" if v2 else "blkio", "blockIO." + key)
    if res.get("hugepageLimits"):
        need("hugetlb", "hugepageLimits")
    if field(res, "network", "classID") is not None:
        need("net_cls", "network.classID")
    if field(res, "network", "priorities"):
        need("net_prio", "network.priorities")
    if res.get("rdma"):
        need("rdma", "rdma")
    if res.get("devices") is not None and not v2:
        need("devices", "devices")
    # unified keys: their controller is enabled when the file is missing
    # (set_unified), as some (cpu.stat, memory.pressure...) need none
    return out


def not_available(what: str, ctrl: str, where: str = "on this host") -> CgroupError:
    return CgroupError(f"linux.resources.{what}: the {ctrl} controller is not available {where}")


# --- cgroupfs I/O -------------------------------------------------------------
def write(d: str, name: str, value, what: str = "") -> None:
    """Write one value to a cgroup file: one write(2), as the kernel parses
    each write as a whole. Errors name the file and the value."""
    write_each(d, name, (value,), what)


def write_each(d: str, name: str, values, what: str = "") -> None:
    """Write values to one cgroup file in order through one fd, one write(2)
    each (v1's devices.allow takes one rule per write). Errors name the file
    and the value that failed; the ones after it are not written."""
    path = d + "/" + name
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
    except OSError as e:
        raise file_error(e, path, "open", what) from None
    try:
        for value in values:
            data = str(value)
            try:
                posix.write(fd, data.encode())
            except OSError as e:
                raise file_error(e, path, "write " + _show(data), what) from None
    finally:
        posix.close(fd)


def join_one(d: str, pid: int, name: str = "cgroup.procs") -> None:
    """Write a pid (0: the caller) to d/cgroup.procs (or v1's `tasks`)."""
    try:
        fd = posix.open(d + "/" + name, posix.O_WRONLY | posix.O_CLOEXEC)
    except OSError as e:
        raise CgroupError(f"join cgroup {d}: {posix.strerror(e.errno)}") from None
    try:
        posix.write(fd, str(pid).encode())
    except OSError as e:
        who = "this process" if pid == 0 else f"pid {pid}"
        hint = ""
        if e.errno == errno.ENOSPC:
            hint = " (empty cpuset.cpus or cpuset.mems)"
        elif e.errno == errno.EBUSY:
            hint = " (cgroup v2: it has controllers enabled for children; processes only go in leaves)"
        raise CgroupError(f"join cgroup {d} ({who}): {posix.strerror(e.errno)}{hint}") from None
    finally:
        posix.close(fd)


def file_error(e: OSError, path: str, op: str, what: str = "") -> CgroupError:
    """The one-line error for a failed cgroupfs access; .errno is kept."""
    msg = f"cgroup {path}: {op}: {posix.strerror(e.errno) if e.errno else e}"
    err = CgroupError(f"linux.resources.{what}: {msg}" if what else msg)
    err.errno = e.errno
    return err


def _show(data: str) -> str:
    return data if "\n" not in data and len(data) <= 80 else repr(data[:80])


def read(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def read_or(path: str, default=None):
    try:
        return read(path)
    except OSError:
        return default


def read_uint(path: str, default=None):
    """An integer file ("max" -> 2**64-1, as runc's GetCgroupParamUint)."""
    s = read_or(path)
    if s is None:
        return default
    s = s.strip()
    if s == "max":
        return (1 << 64) - 1
    try:
        return int(s)
    except ValueError:
        return default


def read_kv(path: str) -> dict:
    """A flat keyed file ("key value" per line: memory.stat, cpu.stat...)."""
    out = {}
    for line in (read_or(path) or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def exists(d: str, name: str) -> bool:
    return _exists(d + "/" + name)


def subdirs_bottom_up(d: str) -> list:
    """d and every cgroup below it, children before parents (for rmdir and
    for collecting processes of nested cgroups). Never follows symlinks."""
    out = []

    def walk(p: str) -> None:
        try:
            with posix.scandir(p) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        walk(e.path)
        except FileNotFoundError:
            return
        out.append(p)

    walk(d)
    return out


def pids_in(d: str, recursive: bool = True) -> list:
    pids = []
    for sub in (subdirs_bottom_up(d) if recursive else [d]):
        for line in (read_or(sub + "/cgroup.procs") or "").split():
            try:
                pids.append(int(line))
            except ValueError:
                pass
    return sorted(set(pids))


def rmdir_all(dirs: list, retries: int = 6) -> None:
    """Remove cgroup dirs (each with its sub-cgroups, leaf first); never
    anything but directories: cgroupfs refuses rm of its files anyway, and
    rmdir of a populated cgroup fails with EBUSY, so nothing is destroyed
    by mistake. Processes that just got killed can hold a cgroup busy for a
    moment: retry with backoff (10..160 ms, ~0.3 s in all; runc's
    RemovePaths does the same). Missing dirs are fine (idempotent)."""
    import time

    pending = list(dict.fromkeys(dirs))
    delay = 0.01
    for attempt in range(retries):
        left, last = [], None
        for d in pending:
            for sub in subdirs_bottom_up(d):
                try:
                    posix.rmdir(sub)
                except FileNotFoundError:
                    pass
                except OSError as e:
                    last = (sub, e)
            if _isdir(d):
                left.append(d)
        if not left:
            return
        pending = left
        if attempt < retries - 1:
            time.sleep(delay)
            delay *= 2
    sub, e = last if last else (pending[0], OSError(errno.EBUSY, ""))
    busy = pids_in(pending[0])
    extra = f" (processes still in it: {' '.join(map(str, busy[:10]))})" if busy else ""
    raise CgroupError(f"cgroup {sub}: rmdir: {posix.strerror(e.errno or errno.EBUSY)}{extra}")


def mkdir(d: str) -> bool:
    """mkdir; True if it was created by this call."""
    try:
        posix.mkdir(d, 0o755)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        err = CgroupError(f"cgroup {d}: mkdir: {posix.strerror(e.errno)}")
        err.errno = e.errno  # (a rootless create skips a cgroup it may not make)
        raise err from None


def undo_mkdirs(created: list) -> None:
    """rmdir what a failed create() made, deepest first; best effort (the
    original error is what the user needs to see)."""
    for d in reversed(created):
        try:
            posix.rmdir(d)
        except OSError:
            pass


# --- the interface --------------------------------------------------------------
class Manager:
    """One container's cgroup. Subclasses: V1Manager (v1 and hybrid hosts),
    V2Manager (unified). Attributes: mode ("v1" | "hybrid" | "v2"), path
    (the resolved cgroupsPath), cid."""

    mode = ""

    def __init__(self, path: str, cid: str = "") -> None:
        self.path = path
        self.cid = cid

    # implemented by the subclasses
    def dirs(self) -> list:
        """Every cgroup directory of the container (deduplicated)."""
        raise NotImplementedError

    def create(self, resources: dict | None = None) -> None:
        """mkdir the cgroup (v1: in every hierarchy; v2: along the path,
        enabling the controllers `resources` need in cgroup.subtree_control;
        a controller that cannot be had is an error naming the resource)."""
        raise NotImplementedError

    def apply(self, resources: dict) -> list:
        """Write every resource of linux.resources (create and update);
        returns warnings (strings) for what was accepted but ignored."""
        raise NotImplementedError

    def join(self, pid: int = 0) -> None:
        """Move a process (0: the caller) into the cgroup in every hierarchy."""
        raise NotImplementedError

    def freeze(self) -> None:
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def frozen(self) -> bool:
        raise NotImplementedError

    def stats(self) -> dict:
        """runc's `events --stats` "data" object, from what the files offer."""
        raise NotImplementedError

    def oom_events(self) -> dict:
        """OOM counters of the cgroup ({"oom": n, "oom_kill": n...}; {} when
        the memory controller is absent): compare two readings to notice OOM."""
        raise NotImplementedError

    def to_state(self) -> dict:
        raise NotImplementedError

    # shared
    def procs_dir(self) -> str | None:
        """The directory whose cgroup.procs lists the container's processes."""
        raise NotImplementedError

    def exists(self) -> bool:
        d = self.procs_dir()
        return bool(d) and _isdir(d)

    def check_new(self) -> None:
        """For create: refuse a cgroup that already holds processes or is
        frozen (the spec lets runtimes refuse a cgroup unfit for purpose; runc
        >= 1.2 refuses both): the new container would share its limits,
        freezes and kills with whatever is there."""
        if not self.exists():
            return
        pids = self.procs()
        if pids:
            shown = " ".join(map(str, pids[:5])) + (" ..." if len(pids) > 5 else "")
            raise CgroupError(f"cgroup {self.procs_dir()}: already has processes ({shown}): a new container "
                              "needs a cgroup of its own (linux.cgroupsPath)")
        if self.frozen():
            raise CgroupError(f"cgroup {self.procs_dir()}: is frozen: a new container cannot start in it")

    def procs(self) -> list:
        """Pids in the cgroup and the cgroups below it (sorted, unique)."""
        d = self.procs_dir()
        return pids_in(d) if d else []

    def kill_all(self, sig: int = 9) -> list:
        """Signal every process of the cgroup; returns the pids signalled
        (empty when cgroup.kill did it).

        SIGKILL goes through cgroup.kill where the container is in a cgroup2
        cgroup that has it (kernel >= 5.14): atomic, no pid races (a frozen
        cgroup is thawed after, so that the processes can die). Otherwise,
        as runc's signalAllProcesses: freeze, list, signal each, thaw, so
        that nothing forks away between listing and signalling. A container
        that was already frozen (paused) stays frozen for other signals (they
        are delivered on resume); for SIGKILL it is thawed so that the
        processes can die."""
        if sig == 9 and self._cgroup_kill():
            # v1 frozen tasks (a hybrid host's freezer) only die once thawed
            try:
                if self.frozen():
                    self.thaw()
            except CgroupError:
                pass
            return []
        try:
            was_frozen = self.frozen()
        except CgroupError:
            was_frozen = False
        froze = False
        if not was_frozen and sig:  # signal 0 delivers nothing: no need to freeze
            try:
                self.freeze()
                froze = True
            except CgroupError:
                pass  # no freezer (or it failed and thawed back): signal anyway, as runc
        sent = []
        try:
            for pid in self.procs():
                try:
                    posix.kill(pid, sig)
                    sent.append(pid)
                except ProcessLookupError:
                    pass
        finally:
            if froze or (was_frozen and sig == 9):
                self.thaw()
        return sent

    def _cgroup_kill(self) -> bool:
        d = self.kill_dir()
        if not d or not exists(d, "cgroup.kill"):
            return False
        write(d, "cgroup.kill", "1")
        return True

    def kill_dir(self) -> str | None:
        """The cgroup2 directory holding the container's processes, if any."""
        return None

    def destroy(self) -> None:
        """Remove every cgroup dir of the container (and cgroups below them);
        parents are left, as runc. Idempotent."""
        rmdir_all(self.dirs())

    @staticmethod
    def from_state(state: dict) -> "Manager":
        from ocipy.cgroups import from_state

        return from_state(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r}, mode={self.mode!r})"


# --- helpers shared by the implementations ----------------------------------------
def parse_list(s: str) -> list:
    """A cpuset list "0-3,7" -> [0, 1, 2, 3, 7]."""
    out = []
    for part in s.strip().split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        try:
            lo = int(a)
            hi = int(b) if b else lo
        except ValueError:
            continue
        out.extend(range(lo, hi + 1))
    return out


def hugepage_sizes(sysdir: str = "/sys/kernel/mm/hugepages") -> list:
    """Huge page sizes of this host in the spec's notation ("2MB", "1GB"):
    hugepages-2048kB -> 2MB (as runc's HugePageSizes: 1024-based units)."""
    out = []
    try:
        names = sorted(posix.listdir(sysdir))
    except OSError:
        return out
    for n in names:
        if n.startswith("hugepages-") and n.endswith("kB"):
            try:
                out.append(size_name(int(n[10:-2]) * 1024))
            except ValueError:
                pass
    return out


def size_name(nbytes: int) -> str:
    units = ("B", "KB", "MB", "GB", "TB", "PB")
    i = 0
    while nbytes >= 1024 and nbytes % 1024 == 0 and i < len(units) - 1:
        nbytes //= 1024
        i += 1
    return f"{nbytes}{units[i]}"


def device_key(d: dict) -> str:
    return f"{d['major']}:{d['minor']}"


def set_pids(d: str, res: dict) -> None:
    """pids.max: the same file and format on v1 and v2."""
    limit = field(res, "pids", "limit")
    if limit is not None:
        # the spec: 0 is a valid limit; negative means unlimited
        write(d, "pids.max", "max" if limit < 0 else limit, "pids.limit")


def check_memory_usage(res: dict, usage) -> None:
    """memory.checkBeforeUpdate (runc's CheckMemoryUsage): refuse a limit at
    or below the current usage instead of letting v2 OOM-kill to get there
    (v1 refuses with EBUSY by itself). Best effort when usage is unknown."""
    m = res.get("memory") or {}
    if not m.get("checkBeforeUpdate") or usage is None:
        return
    for key, name in (("swap", "memory+swap limit"), ("limit", "memory limit")):
        v = field(res, "memory", key)
        if v is not None and v > 0 and v <= usage:
            raise CgroupError(f"linux.resources.memory.{key}: rejecting {name} {v} <= current usage {usage} "
                              "(memory.checkBeforeUpdate)")


def deprecated_memory(res: dict) -> list:
    warn = []
    for key in ("kernel", "kernelTCP"):
        if field(res, "memory", key) is not None:
            warn.append(f"linux.resources.memory.{key} is deprecated and ignored "
                        "(kernel memory is accounted with the memory limit)")
    return warn
