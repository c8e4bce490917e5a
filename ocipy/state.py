"""Container state: where it lives, its status machine, its lock.

Layout under --root (default /run/ocipy; for a non-root user
$XDG_RUNTIME_DIR/ocipy: default_root), one directory per container:

    <root>/<id>/state.json   written tmp-file-and-rename, never in place
    <root>/<id>/exec.fifo    exists from create until start (the init blocks
                             opening it for writing; `start` opens it to read)

The saved state records the init's pid AND its start time (field 22 of
/proc/<pid>/stat), so a pid reused by another process is never taken for the
container. The live status is derived, not trusted from disk:

    no state.json yet, or saved "creating"  -> creating
    init gone / zombie / other start time   -> stopped
    init alive and exec.fifo present        -> created
    init alive, no fifo                     -> running

Transitions allowed per command live in one table (ALLOWED) below.
Every mutation (create, start, delete, later pause/resume/update) holds the
per-container lock: flock on the container directory itself.

Hot path: imports only posix/fcntl and ocipy modules: no json, re, typing,
and not even os (importing os costs ~4.4M instructions, ~1 ms: it loads
_collections_abc, posixpath, stat; posix is its built-in core) nor
__future__ (a module import of its own).
"""
import posix

from ocipy.pathlite import isdir as _isdir, join as _join, lexists as _lexists
from ocipy import SPEC_VERSION, jsonlite
from ocipy.errors import NotFound, OcipyError, StateError, UsageError

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"

# command -> statuses in which it may act (the status machine in one place)
ALLOWED = {
    "start": (CREATED,),
    "kill": (CREATED, RUNNING, PAUSED),
    "delete": (STOPPED,),  # --force: any
    "pause": (RUNNING, CREATED),
    "resume": (PAUSED,),
    "exec": (CREATED, RUNNING),
}

DEFAULT_ROOT = "/run/ocipy"


def default_root() -> str:
    """--root when it is not given (or empty): /run/ocipy, and for a non-root
    user $XDG_RUNTIME_DIR/ocipy when that is set (runc's rule, with runc's
    /run/user/UID/runc), so that rootless containers live in the user's own
    runtime directory."""
    if posix.geteuid() != 0:
        xdg = posix.environ.get(b"XDG_RUNTIME_DIR")
        if xdg and xdg.startswith(b"/"):
            return xdg.decode("utf-8", "surrogateescape").rstrip("/") + "/ocipy"
    return DEFAULT_ROOT


def rootless_mode(value: str | None) -> bool:
    """--rootless: "true", "false" or "auto" (the default: rootless when not
    run as root). Rootless, a cgroup ocipy may not create is skipped, unless
    the config asks for resources (as runc)."""
    v = (value or "auto").lower()
    if v == "auto":
        return posix.geteuid() != 0
    if v in ("true", "1", "t"):
        return True
    if v in ("false", "0", "f"):
        return False
    raise UsageError(f'--rootless "{value}": must be true, false or auto')


def root_error(root: str, err: int) -> OcipyError:
    """A --root that cannot be used, in one line; a non-root user is told
    where its own containers live."""
    msg = f"--root {root}: {posix.strerror(err)}"
    if err in (1, 13) and posix.geteuid() != 0:
        msg += " (not run as root: give --root, or set XDG_RUNTIME_DIR for the default)"
    return OcipyError(msg)


STATE_FILE = "state.json"
FIFO = "exec.fifo"


def validate_id(cid: str) -> None:
    """runc's rule: [\\w+-\\.]+, and not '.' or '..' (ids become directory
    names under --root, so anything else could escape it)."""
    if not cid:
        raise OcipyError("container id cannot be empty")
    if cid in (".", "..") or len(cid) > 1024:
        raise OcipyError(f'invalid container id "{cid}"')
    for ch in cid:
        if not (ch.isascii() and (ch.isalnum() or ch in "_+-.")):
            raise OcipyError(f'invalid container id "{cid}": only letters, digits and _ + - . are allowed')


def now_rfc3339() -> str:
    """UTC time like Go's RFC3339Nano (runc's `created`)."""
    import time

    ns = time.time_ns()
    t = time.gmtime(ns // 1_000_000_000)
    frac = ns % 1_000_000_000
    base = "%04d-%02d-%02dT%02d:%02d:%02d" % t[:6]
    if frac:
        return base + ("." + "%09d" % frac).rstrip("0") + "Z"
    return base + "Z"


def proc_start_time(pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks, state letter) of a process, or None."""
    try:  # (posix, not open(): a buffered file costs 5 syscalls more)
        fd = posix.open(f"/proc/{pid}/stat", posix.O_RDONLY | posix.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        data = posix.read(fd, 4096)  # the whole record (well under a page) in one read
    except ProcessLookupError:  # (ESRCH: the process went between open and read)
        return None
    finally:
        posix.close(fd)
    # comm may contain spaces and ')': split after the last ')'
    rest = data[data.rindex(b")") + 2 :].split()
    return int(rest[19]), rest[0].decode()


def _read_file(path: str) -> bytes:
    """A whole file, with posix (open() would cost 5 syscalls more)."""
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = posix.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        posix.close(fd)


def write_atomic(path: str, data: str | bytes, mode: int = 0o600, dir_fd: int | None = None) -> None:
    """tmp file + rename; with dir_fd, path is a name in that directory."""
    tmp = f"{path}.tmp{posix.getpid()}"
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, mode, dir_fd=dir_fd)
    try:
        posix.write(fd, data.encode() if isinstance(data, str) else data)
    finally:
        posix.close(fd)
    posix.rename(tmp, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


class Container:
    """A container's on-disk state and its derived live status."""

    __slots__ = ("root", "id", "dir", "state", "_lockfd")

    def __init__(self, root: str, cid: str) -> None:
        self.root = root
        self.id = cid
        self.dir = _join(root, cid)
        self.state: dict | None = None
        self._lockfd = -1

    # -- loading ----------------------------------------------------------
    @classmethod
    def load(cls, root: str, cid: str, lock: bool = False) -> "Container":
        """The container, its state read; with lock, under its lock (taken
        first: the state is read once, by lock())."""
        validate_id(cid)
        c = cls(root, cid)
        if lock:
            c.lock()
        elif not c.reload():
            raise NotFound(f'container "{cid}" does not exist')
        return c

    def reload(self) -> bool:
        """Read state.json; False if the container directory is gone."""
        try:
            self.state = jsonlite.loads(_read_file(self.dir + "/" + STATE_FILE))
        except FileNotFoundError:
            if not _isdir(self.dir):
                return False
            self.state = None  # a create in progress, or killed before writing state
        except PermissionError as e:  # another user's root: not a corrupt state
            raise root_error(self.root, e.errno) from None
        except (ValueError, OSError) as e:
            self.state = {"corrupt": str(e)}  # delete --force can still remove it
        return True

    def save(self) -> None:
        write_atomic(self.dir + "/" + STATE_FILE, self.dumps())

    def dumps(self) -> str:
        return jsonlite.dumps(self.state)

    # -- status -----------------------------------------------------------
    @property
    def pid(self) -> int:
        return (self.state or {}).get("pid") or 0

    def init_alive(self) -> bool:
        """Is the recorded init still the same, living process?"""
        pid = self.pid
        if pid <= 0:
            return False
        st = proc_start_time(pid)
        return st is not None and st[1] not in ("Z", "X") and st[0] == self.state.get("init_start")

    def status(self) -> str:
        s = self.state
        if s is None:
            return CREATING
        if "corrupt" in s:
            raise OcipyError(f"{self.dir}/{STATE_FILE}: unreadable state ({s['corrupt']}): "
                             "delete --force removes it")
        if s.get("status") == CREATING:
            return CREATING
        if not self.init_alive():
            return STOPPED
        if s.get("paused") and _frozen(s):  # before created: a created container can be paused
            return PAUSED
        if _lexists(self.dir + "/" + FIFO):
            return CREATED
        return RUNNING

    def require(self, command: str, force: bool = False, status: str = "") -> str:
        """The status (or `status`, just read by the caller), if `command` may act on it."""
        st = status or self.status()
        if force or st in ALLOWED[command]:
            return st
        allowed = " or ".join(ALLOWED[command])
        raise StateError(f'cannot {command} container "{self.id}": it is {st}, not {allowed}')

    def oci_state(self, status: str | None = None) -> dict:
        """The state as runc's `state` prints it (OCI state + created/owner)."""
        s = self.state or {}
        st = status or self.status()
        d = {
            "ociVersion": s.get("ociVersion", SPEC_VERSION),
            "id": self.id,
            "pid": self.pid if st in (CREATED, RUNNING, PAUSED, CREATING) else 0,
            "status": st,
            "bundle": s.get("bundle", ""),
            "rootfs": s.get("rootfs", ""),
            "created": s.get("created", ""),
        }
        if s.get("annotations"):
            d["annotations"] = s["annotations"]
        d["owner"] = ""
        return d

    # -- locking ----------------------------------------------------------
    def lock(self) -> None:
        """Exclusive per-container lock (flock on the directory). After
        waiting for it, re-read: the holder may have deleted the container."""
        import fcntl

        try:
            fd = posix.open(self.dir, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f'container "{self.id}" does not exist') from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._lockfd = fd
        if posix.fstat(fd).st_nlink == 0 or not self.reload():
            self.unlock()
            raise NotFound(f'container "{self.id}" does not exist')

    def unlock(self) -> None:
        if self._lockfd >= 0:
            posix.close(self._lockfd)
            self._lockfd = -1

    # -- removal ----------------------------------------------------------
    def remove_dir(self) -> None:
        """Remove the state directory (files only: it never holds mounts)."""
        try:
            names = posix.listdir(self.dir)
        except FileNotFoundError:
            return
        for n in names:
            try:
                posix.unlink(self.dir + "/" + n)
            except FileNotFoundError:
                pass
            except IsADirectoryError:  # notify/ (NOTIFY_SOCKET): its socket only
                _remove_flat_dir(self.dir + "/" + n)
        try:
            posix.rmdir(self.dir)
        except FileNotFoundError:
            pass


def _remove_flat_dir(d: str) -> None:
    """A directory of files (never a mount point: it is bound only inside
    the container's mount namespace)."""
    for n in posix.listdir(d):
        try:
            posix.unlink(d + "/" + n)
        except FileNotFoundError:
            pass
    posix.rmdir(d)


def _frozen(s: dict) -> bool:
    """Whether the container's cgroup is frozen. Only asked when `pause`
    recorded it (state of a running container stays free of cgroup code)."""
    if not s.get("cgroup"):
        return False
    from ocipy.cgroups import from_state

    try:
        return from_state(s["cgroup"]).frozen()
    except OcipyError:
        return False


def list_dirs(root: str) -> list[tuple[str, int]]:
    """(id, owner uid) of each container directory under root, sorted by id
    (one stat each: `list` shows the owner)."""
    try:
        names = posix.listdir(root)
    except FileNotFoundError:
        return []
    except OSError as e:
        raise root_error(root, e.errno) from None
    out = []
    for n in sorted(names):
        if n.startswith("."):
            continue
        try:
            s = posix.stat(_join(root, n))
        except OSError:
            continue
        if s.st_mode & 0o170000 == 0o040000:
            out.append((n, s.st_uid))
    return out
