"""Idmapped mounts (config.md mounts: uidMappings/gidMappings, `idmap`,
`ridmap`), prepared by stage 0 before it forks.

Stage 0 runs as root in the host's user and mount namespaces, which the
kernel requires to idmap a mount of a host filesystem (CAP_SYS_ADMIN over
the filesystem's user namespace: an init inside a new user namespace is
refused). For each such mount it makes a detached copy of the bind source
(open_tree OPEN_TREE_CLONE, with AT_RECURSIVE for rbind/ridmap), and marks
it idmapped with the mount's mappings (mount_setattr MOUNT_ATTR_IDMAP,
recursive for ridmap) through a user namespace that carries exactly those
mappings: a short-lived helper process unshares it, stage 0 writes its
uid_map/gid_map, opens /proc/<pid>/ns/user and lets the helper exit (the
fd keeps the namespace). The detached mounts' fds are inherited by the
init, which attaches each at its destination with move_mount (rootfs.py)
in the container's mount namespace, in the order of `mounts`.

The mappings are written as given: an on-disk id `containerID` shows as
`hostID` through the mount. Only imported when a mount is idmapped.
"""
from __future__ import annotations

import os

from ocipy import syscalls as sc
from ocipy.errors import OcipyError, SysError


def prepare(plan) -> None:
    """Fill plan.idmap_fds: mount index -> fd of the detached idmapped tree.
    Errors name mounts[i]; every fd made is closed on failure."""
    userns: dict = {}
    try:
        for idx, dest, _mtype, source, opts, _is_bind in plan.mounts:
            if idx not in plan.idmaps:
                continue
            um, gm, rec = plan.idmaps[idx]
            where = f"{plan.where}: mounts[{idx}]: {dest}"
            if (um, gm) not in userns:
                userns[(um, gm)] = _userns_fd(um, gm, where)
            src = source if os.path.isabs(source or "") else os.path.join(plan.bundle, source or "")
            try:
                tree = sc.open_tree(src, True, rec or opts.rbind, context=f"bind source {src}")
            except SysError as e:
                raise OcipyError(f"{where}: {e}") from None
            plan.idmap_fds[idx] = tree
            try:
                sc.mount_setattr_idmap(tree, userns[(um, gm)], rec, context=src)
            except SysError as e:
                if e.errno in (22, 1, 38, 95):  # EINVAL, EPERM, ENOSYS, EOPNOTSUPP
                    raise OcipyError(f"{where}: idmapped mounts are not supported for {src} "
                                     f"on this kernel/filesystem ({os.strerror(e.errno)})") from None
                raise OcipyError(f"{where}: {e}") from None
    except BaseException:
        close(plan)
        raise
    finally:
        for fd in userns.values():
            os.close(fd)


def close(plan) -> None:
    for fd in plan.idmap_fds.values():
        try:
            os.close(fd)
        except OSError:
            pass
    plan.idmap_fds.clear()


def _userns_fd(uid_map: str, gid_map: str, where: str) -> int:
    """An fd of a new user namespace with these mappings (see the module
    docstring)."""
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper: unshare, say so, wait for the pipe to close
        code = 1
        try:
            os.close(ready_r)
            os.close(hold_w)
            sc.unshare(sc.CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(hold_r, 1)
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(hold_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise OcipyError(f"{where}: idmap: could not create a user namespace for the mount's mappings")
        for name, text in (("uid_map", uid_map), ("gid_map", gid_map)):
            try:
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write(text)
            except OSError as e:
                field = "uidMappings" if name == "uid_map" else "gidMappings"
                raise OcipyError(f"{where}: {field}: {os.strerror(e.errno)} (writing {name})") from None
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(hold_w)  # the helper's read returns: it exits
        os.waitpid(pid, 0)
