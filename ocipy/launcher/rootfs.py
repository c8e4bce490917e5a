"""Stage 2 (init) rootfs setup: mounts, devices, masks, pivot_root.

Runs in the container's init, inside its new mount namespace, with full
capabilities in its user namespace and before pivot_root, so it can still
reach the host's /proc. Safety rules kept here:

* Every path inside the rootfs is resolved by the kernel with openat2
  RESOLVE_IN_ROOT (symlinks and '..' resolve as if the rootfs were '/': they
  can never lead out of it) and every mount targets /proc/self/fd/N of the
  fd so resolved: a symlink swapped in between resolve and mount cannot
  redirect it (the CVE-2021-30465 class).
* Masks bind the *host's* /dev/null, opened and checked (char 1:3) before
  anything of the container's runs, never a path the container controls
  (CVE-2025-31133 class).
* Device nodes are only ever created (mknodat) inside the rootfs; an
  existing entry is never followed: a default device replaces one of the
  wrong kind (unlinked there), a linux.devices entry refuses it (an error
  naming the entry), and nothing on the host is chowned.
"""
import posix

from ocipy.pathlite import exists as _exists, lexists as _lexists
from ocipy import syscalls as sc
from ocipy.errors import OcipyError, SysError
from ocipy.launcher.process import chdir_in_root  # noqa: F401 (there: exec needs it without this module)

# file types of st_mode (the `stat` module's S_IF*: one import fewer on create's path)
_DIR, _CHR, _BLK, _REG, _FIFO, _LNK, _SOCK = 0o040000, 0o020000, 0o060000, 0o100000, 0o010000, 0o120000, 0o140000


def _fmt(mode: int) -> int:
    return mode & 0o170000

_RES = sc.RESOLVE_IN_ROOT | sc.RESOLVE_NO_MAGICLINKS

# spec "Default Devices": (path, type, major, minor)
DEFAULT_DEVICES = (
    ("/dev/null", "c", 1, 3),
    ("/dev/zero", "c", 1, 5),
    ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8),
    ("/dev/urandom", "c", 1, 9),
    ("/dev/tty", "c", 5, 0),
)
DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)


def fdpath(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


class Rootfs:
    """The container's root directory, held open; paths are container paths."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = posix.open(path, posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)

    def open(self, path: str, flags: int = posix.O_PATH, resolve: int = _RES) -> int:
        return sc.openat2(self.fd, path.lstrip("/") or ".", flags, resolve)

    def exists(self, path: str) -> bool:
        try:
            posix.close(self.open(path))
            return True
        except SysError as e:
            if e.errno in (2, 20):  # ENOENT, ENOTDIR
                return False
            raise

    def mkdir_all(self, path: str, mode: int = 0o755, _depth: int = 0) -> int:
        """Create every missing directory of `path` inside the rootfs and
        return an O_PATH fd of it. Each step is resolved in root, so an
        existing symlink component resolves inside the rootfs too; a dangling
        one is followed to its target, which is created inside the rootfs
        (what runc's securejoin does), never outside."""
        parts = [p for p in path.split("/") if p and p != "."]
        try:
            return self.open("/".join(parts), posix.O_PATH | posix.O_DIRECTORY)
        except SysError as e:
            if e.errno != 2:
                raise SysError(e.errno, "mkdir", self.path + "/" + "/".join(parts)) from None
        cur = posix.dup(self.fd)
        done: list[str] = []
        try:
            for i, comp in enumerate(parts):
                done.append(comp)
                rel = "/".join(done)
                try:
                    nfd = self.open(rel, posix.O_PATH | posix.O_DIRECTORY)
                except SysError as e:
                    if e.errno != 2:
                        raise SysError(e.errno, "mkdir", f"{self.path}/{rel}") from None
                    target = self._dangling(cur, comp, done[:-1])
                    if target is not None:
                        if _depth > 40:
                            raise SysError(40, "mkdir", f"{self.path}/{rel}") from None
                        posix.close(cur)
                        cur = -1
                        return self.mkdir_all(target + "/" + "/".join(parts[i + 1:]), mode, _depth + 1)
                    try:
                        posix.mkdir(comp, mode, dir_fd=cur)
                    except OSError as e2:
                        raise SysError(e2.errno, "mkdir", f"{self.path}/{rel}") from None
                    nfd = self.open(rel, posix.O_PATH | posix.O_DIRECTORY)
                posix.close(cur)
                cur = nfd
            return cur
        except BaseException:
            if cur >= 0:
                posix.close(cur)
            raise

    @staticmethod
    def _dangling(dirfd: int, name: str, parent: list) -> str | None:
        """If `name` in dirfd is a symlink (that did not resolve), the
        container path it points to; else None."""
        try:
            target = posix.readlink(name, dir_fd=dirfd)
        except OSError:
            return None
        if target.startswith("/"):
            return target
        return "/".join(parent + [target])

    def ensure_file(self, path: str, _depth: int = 0) -> None:
        """Make `path` exist as a regular file (a bind mount point for a
        file); a dangling symlink there is followed inside the rootfs."""
        parent, name = _split(path)
        dfd = self.mkdir_all(parent)
        try:
            try:
                fd = posix.open(name, posix.O_CREAT | posix.O_WRONLY | posix.O_NOFOLLOW | posix.O_CLOEXEC, 0o644, dir_fd=dfd)
                posix.close(fd)
            except OSError as e:
                if e.errno == 40:  # ELOOP: a symlink, which must resolve in root
                    if self.exists(path):
                        return
                    target = self._dangling(dfd, name, [p for p in parent.split("/") if p])
                    if target is None or _depth > 40:
                        raise SysError(40, "create mount point", self.path + path) from None
                    self.ensure_file(target, _depth + 1)
                elif e.errno not in (21, 26, 6):  # EISDIR, ETXTBSY, ENXIO: exists
                    raise SysError(e.errno, "create mount point", self.path + path) from None
        finally:
            posix.close(dfd)


    def console_mountpoint(self) -> int:
        """An O_PATH fd of /dev/console to bind the pty on: a regular file
        or a character device right in the rootfs's /dev. Anything else the
        image put there (a symlink to /proc/sys/kernel/core_pattern, say, on
        which the pty would otherwise be mounted: CVE-2025-52565 class) is
        unlinked, never followed, and a new empty file made."""
        dfd = self.mkdir_all("/dev")
        try:
            try:
                st = posix.stat("console", dir_fd=dfd, follow_symlinks=False)
                if _fmt(st.st_mode) not in (_REG, _CHR):
                    if _fmt(st.st_mode) == _DIR:
                        raise SysError(21, "bind pty on", self.path + "/dev/console")
                    posix.unlink("console", dir_fd=dfd)
                    raise FileNotFoundError
            except FileNotFoundError:
                try:
                    posix.close(posix.open("console", posix.O_CREAT | posix.O_EXCL | posix.O_WRONLY | posix.O_NOFOLLOW | posix.O_CLOEXEC,
                                     0o600, dir_fd=dfd))
                except OSError as e:
                    raise SysError(e.errno, "create", self.path + "/dev/console") from None
            return sc.openat2(dfd, "console", posix.O_PATH, _RES | sc.RESOLVE_NO_SYMLINKS | sc.RESOLVE_NO_XDEV)
        finally:
            posix.close(dfd)


def _split(path: str) -> tuple[str, str]:
    path = "/" + path.strip("/")
    i = path.rfind("/")
    return path[:i] or "/", path[i + 1:]


def prepare_root(plan) -> Rootfs:
    """Cut our mount namespace off from the host's, then make the rootfs a
    mount point (pivot_root needs one).

    The whole namespace is made recursively slave (private when the config
    asks for private/unbindable), whatever linux.rootfsPropagation says:
    nothing mounted for the container may ever propagate back to the host,
    even when the rootfs sits on a shared mount. The requested propagation
    is for the container's root mount and is applied after pivot_root
    (apply_root_propagation), where it cannot leak."""
    want = plan.rootfs_prop
    base = sc.MS_PRIVATE if want & (sc.MS_PRIVATE | MS_UNBINDABLE) else sc.MS_SLAVE
    sc.mount(None, "/", None, base | sc.MS_REC, context="set propagation of /")
    sc.mount(plan.rootfs, plan.rootfs, None, sc.MS_BIND | sc.MS_REC, context=f"bind rootfs {plan.rootfs}")
    return Rootfs(plan.rootfs)


MS_UNBINDABLE = 1 << 17


def apply_root_propagation(plan) -> None:
    """linux.rootfsPropagation on the container's '/' (after pivot_root)."""
    want = plan.rootfs_prop
    if want & (sc.MS_SHARED | sc.MS_SLAVE | sc.MS_PRIVATE | MS_UNBINDABLE):
        sc.mount(None, "/", None, want, context="linux.rootfsPropagation on /")


def do_mounts(plan, rfs: Rootfs) -> None:
    own = set()  # destinations of filesystems mounted here (not binds): a remount may change their superblock
    for idx, dest, mtype, source, opts, is_bind in plan.mounts:
        try:
            if opts.flags & sc.MS_REMOUNT:
                _remount_entry(rfs, dest, mtype, opts, dest in own)
            else:
                _mount_one(plan, rfs, dest, mtype, source, opts, is_bind, plan.idmap_fds.pop(idx, -1))
                if is_bind:
                    own.discard(dest)
                else:
                    own.add(dest)
        except SysError as e:
            raise OcipyError(f"{plan.where}: mounts[{idx}]: {dest}: {e}") from None
        except OSError as e:
            what = f"{e.strerror}: {e.filename}" if e.filename else str(e.strerror or e)
            raise OcipyError(f"{plan.where}: mounts[{idx}]: {dest}: {what}") from None


def _mount_one(plan, rfs: Rootfs, dest: str, mtype: str, source, opts, is_bind: bool, tree: int = -1) -> None:
    if is_bind:
        if not source:
            raise OcipyError("bind mount needs a source")
        try:
            st = posix.stat(source) if tree < 0 else posix.fstat(tree)
        except OSError as e:
            raise SysError(e.errno, "stat source", source) from None
        if _fmt(st.st_mode) == _DIR:
            posix.close(rfs.mkdir_all(dest))
        else:
            rfs.ensure_file(dest)
        fd = rfs.open(dest)
        try:
            if tree >= 0:  # idmapped: the detached tree stage 0 prepared (launcher.idmap)
                try:
                    sc.move_mount(tree, fd, context=f"idmapped bind {source}")
                finally:
                    posix.close(tree)
            else:
                flags = sc.MS_BIND | (sc.MS_REC if opts.rbind else 0)
                sc.mount(source, fdpath(fd), None, flags, context=f"bind {source}")
        finally:
            posix.close(fd)
        # bind ignores other flags: apply them by a remount of the new mount
        if opts.flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT):
            _remount(rfs, dest, opts.flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT))
    elif mtype == "cgroup" or mtype == "cgroup2":
        _mount_cgroup(plan, rfs, dest, opts)
        return
    else:
        fd = rfs.mkdir_all(dest)
        try:
            src = source or mtype or "none"
            data = opts.data or None
            if mtype == "devpts" and data and "newinstance" not in data.split(","):
                pass
            sc.mount(src, fdpath(fd), mtype, opts.flags & ~sc.MS_REMOUNT, data, context=f"{mtype} ({src})")
        finally:
            posix.close(fd)
    _propagate_and_rec(rfs, dest, opts)


def _remount_entry(rfs: Rootfs, dest: str, mtype: str, opts, own_sb: bool) -> None:
    """A mount with the `remount` option changes the mount already at
    `dest` (e.g. an earlier entry of the config) instead of stacking a new
    one. Its flags (ro, nosuid, noexec, atime...) are applied per mount
    (MS_BIND|MS_REMOUNT), which never reaches a superblock the host shares;
    filesystem data options (tmpfs size=...) need a superblock remount,
    done only for a filesystem an earlier entry mounted for this container
    (never for a bind of a host directory)."""
    fd = rfs.open(dest)
    try:
        p = fdpath(fd)
        flags = opts.flags & ~(sc.MS_REMOUNT | sc.MS_BIND | sc.MS_REC)
        if opts.data:
            if not own_sb:
                raise OcipyError(f"remount with filesystem options ({opts.data}) of a mount this config did not create")
            sc.mount(None, p, mtype or None, sc.MS_REMOUNT | flags, opts.data, context=f"remount {dest}")
        keep = _locked_flags(p) & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
        sc.mount(None, p, None, sc.MS_BIND | sc.MS_REMOUNT | flags | keep, context=f"remount {dest}")
    finally:
        posix.close(fd)
    _propagate_and_rec(rfs, dest, opts)


def _propagate_and_rec(rfs: Rootfs, dest: str, opts) -> None:
    if not (opts.propagation or opts.rec_set or opts.rec_clr):
        return
    fd = rfs.open(dest)
    try:
        for pf in opts.propagation:
            sc.mount(None, fdpath(fd), None, pf, context=f"propagation of {dest}")
        if opts.rec_set or opts.rec_clr:
            sc.mount_setattr(fd, opts.rec_set, opts.rec_clr, True, context=dest)
    finally:
        posix.close(fd)


def _locked_flags(path: str) -> int:
    """Flags of the mount at `path` a remount must keep (in a user namespace
    the kernel refuses to clear nosuid/nodev/noexec/ro/atime locked by the
    parent namespace)."""
    sv = posix.statvfs(path)
    keep = 0
    for st_flag, ms_flag in ((1, sc.MS_RDONLY), (2, sc.MS_NOSUID), (4, sc.MS_NODEV), (8, sc.MS_NOEXEC),
                             (1024, sc.MS_NOATIME), (2048, sc.MS_NODIRATIME), (4096, sc.MS_RELATIME)):
        if sv.f_flag & st_flag:
            keep |= ms_flag
    return keep


def _remount(rfs: Rootfs, dest: str, flags: int) -> None:
    fd = rfs.open(dest)
    try:
        p = fdpath(fd)
        keep = _locked_flags(p) & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
        sc.mount(None, p, None, sc.MS_BIND | sc.MS_REMOUNT | flags | keep, context=f"remount {dest}")
    finally:
        posix.close(fd)


def _mount_cgroup(plan, rfs: Rootfs, dest: str, opts) -> None:
    """Give the container a view of its own cgroups, read-only unless the
    mount says rw: on v1/hybrid hosts a tmpfs at dest with one bind per host
    hierarchy of the container's cgroup dir (runc's approach), on a pure v2
    host a bind of its cgroup2 dir. Binds do not depend on the cgroup
    namespace, which is unshared later (after the late cgroup join)."""
    dirs = plan.cgroup_dirs
    hier = []  # (mountpoint, fstype, super options)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = pre.split()
            fstype, _src, sopts = post.split()[:3]
            if fstype in ("cgroup", "cgroup2") and fields[4].startswith("/sys/fs/cgroup"):
                hier.append((fields[4], fstype, sopts.split(",")))
    flags = opts.flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
    if len(hier) == 1 and hier[0][1] == "cgroup2" and hier[0][0] == "/sys/fs/cgroup":
        _bind_cgroup(rfs, dirs.get(""), dest, flags)
        return
    fd = rfs.mkdir_all(dest)
    try:
        sc.mount("tmpfs", fdpath(fd), "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, "mode=755",
                 context="tmpfs for cgroups")
    finally:
        posix.close(fd)
    tmp = rfs.open(dest, posix.O_PATH | posix.O_DIRECTORY)  # the new tmpfs
    try:
        for mp, fstype, sopts in hier:
            name = mp[len("/sys/fs/cgroup"):].strip("/")
            if not name:
                continue
            if fstype == "cgroup2":
                src = dirs.get("")
            else:
                src = next((dirs[o] for o in sopts if o in dirs), None)  # a controller, or "name=systemd"
            if not src:
                continue
            if "/" in name:  # (a nested hierarchy: resolved step by step in the rootfs)
                _bind_cgroup(rfs, src, dest.rstrip("/") + "/" + name, 0)
                continue
            # the tmpfs is ours, new and empty, in our mount namespace, and no
            # process of the container runs yet: its entries are made and
            # opened by name below its fd, without a walk from the root
            posix.mkdir(name, 0o755, dir_fd=tmp)
            sub = posix.open(name, posix.O_PATH | posix.O_DIRECTORY | posix.O_NOFOLLOW | posix.O_CLOEXEC, dir_fd=tmp)
            try:
                sc.mount(src, fdpath(sub), None, sc.MS_BIND | sc.MS_REC, context=f"bind cgroup {src}")
            finally:
                posix.close(sub)
        # one recursive mount_setattr for the tmpfs and every bind below it,
        # instead of a remount per hierarchy
        attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | (MOUNT_ATTR_RDONLY if flags & sc.MS_RDONLY else 0)
        sc.mount_setattr(tmp, attrs, 0, True, context=f"cgroup mounts at {dest}")
    finally:
        posix.close(tmp)


MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC = 0x1, 0x2, 0x4, 0x8


def _bind_cgroup(rfs: Rootfs, src, dest: str, flags: int) -> None:
    if not src:
        return
    posix.close(rfs.mkdir_all(dest))
    fd = rfs.open(dest)
    try:
        sc.mount(src, fdpath(fd), None, sc.MS_BIND | sc.MS_REC, context=f"bind cgroup {src}")
    finally:
        posix.close(fd)
    if flags:
        _remount(rfs, dest, flags)


# --- devices -------------------------------------------------------------------
def _dev_num(t: str) -> int:
    return {"c": _CHR, "u": _CHR, "b": _BLK, "p": _FIFO}[t]


def _kind(st) -> str:
    m = st.st_mode
    if _fmt(m) in (_CHR, _BLK):
        return f"{'character' if _fmt(m) == _CHR else 'block'} device {posix.major(st.st_rdev)}:{posix.minor(st.st_rdev)}"
    return ("directory" if _fmt(m) == _DIR else "symbolic link" if _fmt(m) == _LNK else
            "fifo" if _fmt(m) == _FIFO else "socket" if _fmt(m) == _SOCK else "regular file")


def create_device(rfs: Rootfs, path: str, t: str, major: int, minor: int, mode: int, uid: int, gid: int,
                  bind_host: bool, where: str = "") -> None:
    """Make `path` the device (t, major, minor) with mode/uid/gid. `where`
    (set for linux.devices entries, empty for the default devices): an
    existing entry that is not that very device is an error naming it
    (config-linux.md: "If a file already exists at `path` that does not
    match the requested device, the runtime MUST generate an error"); a
    matching one is kept and given the requested mode and owner. A default
    device replaces whatever the image put there (a rootfs shipping its own
    /dev/null, or a regular file, is common)."""
    parent, name = _split(path)
    dfd = rfs.mkdir_all(parent)
    try:
        want = _dev_num(t)
        dev = posix.makedev(major, minor) if t != "p" else 0
        try:
            st = posix.stat(name, dir_fd=dfd, follow_symlinks=False)
            match = _fmt(st.st_mode) == want and (t == "p" or st.st_rdev == dev)
            if where and not match:
                kinds = {"c": "character device", "u": "character device", "b": "block device", "p": "fifo"}
                req = kinds[t] + ("" if t == "p" else f" {major}:{minor}")
                raise OcipyError(f"{where}: {path}: a {_kind(st)} already exists there, not the requested {req}")
            if match and not bind_host:
                _fix(dfd, name, mode, uid, gid)
                return
            if _fmt(st.st_mode) == _DIR:
                raise SysError(21, "create device", path)
            if not bind_host or _fmt(st.st_mode) != _REG:
                posix.unlink(name, dir_fd=dfd)  # inside the rootfs only; never followed
        except FileNotFoundError:
            pass
        if bind_host:
            # in a user namespace mknod is refused: bind the host's node
            if not _lexists(f"{fdpath(dfd)}/{name}"):
                posix.close(posix.open(name, posix.O_CREAT | posix.O_WRONLY | posix.O_NOFOLLOW | posix.O_CLOEXEC, 0o644, dir_fd=dfd))
            fd = sc.openat2(dfd, name, posix.O_PATH, _RES)
            try:
                sc.mount(path, fdpath(fd), None, sc.MS_BIND, context=f"bind device {path}")
            finally:
                posix.close(fd)
            return
        try:
            posix.mknod(name, want | (mode & 0o7777), dev, dir_fd=dfd)
        except OSError as e:
            raise SysError(e.errno, "mknod", path) from None
        _fix(dfd, name, mode, uid, gid)
    finally:
        posix.close(dfd)


def _fix(dfd: int, name: str, mode: int, uid: int, gid: int) -> None:
    # mknod's mode went through the umask, and it is owned by us: fix both,
    # on this very entry (no symlink following)
    fd = posix.open(name, posix.O_PATH | posix.O_NOFOLLOW | posix.O_CLOEXEC, dir_fd=dfd)
    try:
        posix.chmod(fdpath(fd), mode & 0o7777)
        posix.chown(fdpath(fd), uid, gid)
    finally:
        posix.close(fd)


def setup_dev(plan, rfs: Rootfs) -> None:
    bind_host = plan.userns_new or plan.userns_join  # mknod is refused in a user namespace
    declared = {d["path"] for d in plan.devices}
    for path, t, ma, mi in DEFAULT_DEVICES:
        if path in declared:
            continue
        create_device(rfs, path, t, ma, mi, 0o666, 0, 0, bind_host)
    for i, d in enumerate(plan.devices):
        create_device(rfs, d["path"], d["type"], d.get("major", 0), d.get("minor", 0),
                      d.get("fileMode", 0o666), d.get("uid", 0), d.get("gid", 0), bind_host,
                      f"{plan.where}: linux.devices[{i}]")
    dfd = rfs.mkdir_all("/dev")
    try:
        links = list(DEV_SYMLINKS)
        if _exists("/proc/kcore"):
            links.append(("/proc/kcore", "/dev/core"))
        if rfs.exists("/dev/pts/ptmx"):
            links.append(("pts/ptmx", "/dev/ptmx"))
        for target, link in links:
            name = link[len("/dev/"):]
            try:
                st = posix.stat(name, dir_fd=dfd, follow_symlinks=False)
                if _fmt(st.st_mode) != _DIR:  # (a symlink too)
                    posix.unlink(name, dir_fd=dfd)
                else:
                    continue
            except FileNotFoundError:
                pass
            posix.symlink(target, name, dir_fd=dfd)
    finally:
        posix.close(dfd)


# --- masks and read-only paths ---------------------------------------------------
def open_host_devnull() -> int:
    fd = posix.open("/dev/null", posix.O_PATH | posix.O_NOFOLLOW | posix.O_CLOEXEC)
    st = posix.fstat(fd)
    if _fmt(st.st_mode) != _CHR or st.st_rdev != posix.makedev(1, 3):
        posix.close(fd)
        raise OcipyError("/dev/null on the host is not the null device: refusing to mask with it")
    return fd


def mask_paths(plan, rfs: Rootfs, devnull_fd: int) -> None:
    for path in plan.masked:
        try:
            fd = rfs.open(path)
        except SysError as e:
            if e.errno in (2, 20):
                continue
            raise OcipyError(f"{plan.where}: linux.maskedPaths: {path}: {e}") from None
        try:
            st = posix.fstat(fd)
            if _fmt(st.st_mode) == _DIR:
                sc.mount("tmpfs", fdpath(fd), "tmpfs", sc.MS_RDONLY, None, context=f"mask {path}")
            else:
                sc.mount(fdpath(devnull_fd), fdpath(fd), None, sc.MS_BIND, context=f"mask {path}")
        except SysError as e:
            raise OcipyError(f"{plan.where}: linux.maskedPaths: {path}: {e}") from None
        finally:
            posix.close(fd)


def readonly_paths(plan, rfs: Rootfs) -> None:
    for path in plan.readonly_paths:
        try:
            fd = rfs.open(path)
        except SysError as e:
            if e.errno in (2, 20):
                continue
            raise OcipyError(f"{plan.where}: linux.readonlyPaths: {path}: {e}") from None
        try:
            sc.mount(fdpath(fd), fdpath(fd), None, sc.MS_BIND | sc.MS_REC, context=f"bind {path}")
        except SysError as e:
            raise OcipyError(f"{plan.where}: linux.readonlyPaths: {path}: {e}") from None
        finally:
            posix.close(fd)
        try:
            _remount(rfs, path, sc.MS_RDONLY | sc.MS_REC)
        except SysError as e:
            raise OcipyError(f"{plan.where}: linux.readonlyPaths: {path}: {e}") from None


def remount_root_readonly(rfs: Rootfs) -> None:
    keep = _locked_flags(rfs.path) & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    sc.mount(None, rfs.path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | keep,
             context="remount root read-only")


def pivot(plan) -> None:
    """Make the rootfs '/', leaving nothing of the host mounted inside."""
    if plan.no_pivot:
        posix.chdir(plan.rootfs)
        sc.mount(plan.rootfs, "/", None, sc.MS_MOVE, context="move rootfs to /")
        posix.chroot(".")
        posix.chdir("/")
        return
    new = posix.open(plan.rootfs, posix.O_DIRECTORY | posix.O_RDONLY | posix.O_CLOEXEC)
    old = posix.open("/", posix.O_DIRECTORY | posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        posix.fchdir(new)
        sc.pivot_root(".", ".")
        # the old root is now stacked under '.': detach it, slave first so
        # the unmount cannot propagate to the host
        posix.fchdir(old)
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC, context="old root")
        sc.umount2(".", sc.MNT_DETACH)
        posix.chdir("/")
    finally:
        posix.close(new)
        posix.close(old)
