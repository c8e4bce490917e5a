"""Linux security modules: AppArmor profiles and SELinux labels, for
`create` (process.apparmorProfile, process.selinuxLabel, linux.mountLabel)
and `exec` (the same fields of --process or config.json, --apparmor,
--process-label): one implementation for both.

Checked before anything exists: a profile or label on a host whose kernel
does not run that module is one error naming the field (runc refuses the
same: "apparmor profile is specified in config, but apparmor is disabled or
not supported"); an empty string means "not set". Applied by the process
itself, still privileged, before it changes credentials: the profile or
label goes to its "exec" attribute in /proc/self/attr, which the kernel
applies at the next execve, the user's program (runc: apparmor.ApplyProfile,
selinux.SetExecLabel). Imported only when one of these is set.
"""
from __future__ import annotations

import os

from ocipy.errors import ConfigError, OcipyError

APPARMOR_PARAM = "/sys/module/apparmor/parameters/enabled"
SELINUXFS = "/sys/fs/selinux"


def apparmor_enabled(param: str = APPARMOR_PARAM) -> bool:
    """The AppArmor module is loaded and enabled (its parameter reads "Y"),
    as runc's apparmor.IsEnabled asks."""
    try:
        with open(param, "rb") as f:
            return f.read(1) == b"Y"
    except OSError:
        return False


def selinux_enabled(fs: str = SELINUXFS, current: str = "/proc/self/attr/current") -> bool:
    """SELinux is enforcing or permissive: selinuxfs is there and our own
    context is a real one (go-selinux's GetEnabled asks the same)."""
    if not os.path.exists(os.path.join(fs, "enforce")):
        return False
    try:
        with open(current, "rb") as f:
            con = f.read().rstrip(b"\0\n")
    except OSError:
        return False
    return bool(con) and con != b"kernel"


def check(apparmor: str | None, apparmor_what: str, label: str | None, label_what: str) -> list:
    """The attributes to apply as [(kind, value, what)], [] when none is set.
    `*_what` names the field in errors ("FILE: process.apparmorProfile",
    "--apparmor"). Raises ConfigError when the host lacks the module."""
    out = []
    if apparmor:
        if not apparmor_enabled():
            raise ConfigError(f'{apparmor_what}: "{apparmor}": AppArmor is disabled or not supported on this host '
                              "(the profile cannot be applied)")
        out.append(("apparmor", apparmor, apparmor_what))
    if label:
        if not selinux_enabled():
            raise ConfigError(f'{label_what}: "{label}": SELinux is disabled or not supported on this host '
                              "(the label cannot be applied)")
        out.append(("selinux", label, label_what))
    return out


def check_mount_label(label: str | None, what: str) -> str | None:
    if not label:
        return None
    if not selinux_enabled():
        raise ConfigError(f'{what}: "{label}": SELinux is disabled or not supported on this host (the label cannot be applied)')
    return label


def mount_label_data(data: str, label: str) -> str:
    """mount(2) data with the SELinux context option (runc's
    label.FormatMountLabel)."""
    ctx = f'context="{label}"'
    return f"{data},{ctx}" if data else ctx


def apply(attrs: list) -> None:
    """Write each exec attribute (the calling process, before execve)."""
    for kind, value, what in attrs:
        if kind == "apparmor":
            data = f"exec {value}".encode()
            names = ("apparmor/exec", "exec")
        else:
            data = value.encode()
            names = ("exec",)
        for i, name in enumerate(names):
            path = "/proc/thread-self/attr/" + name
            try:
                fd = open_proc_attr(name)
            except FileNotFoundError:
                if i + 1 < len(names):
                    continue  # kernels before 5.8 have no per-module directory
                raise OcipyError(f'{what}: "{value}": {path}: no such file') from None
            except OSError as e:
                raise OcipyError(f'{what}: "{value}": {path}: {os.strerror(e.errno)}') from None
            try:
                os.write(fd, data)
            except OSError as e:
                raise OcipyError(f'{what}: "{value}": writing {path}: {os.strerror(e.errno)}') from None
            finally:
                os.close(fd)
            break


def open_proc_attr(name: str) -> int:
    """Open /proc/thread-self/attr/<name> for writing, proved to be that file
    of a real procfs (CVE-2025-52881: after pivot_root /proc is the
    container's, and a bind mount over the attribute, e.g. of
    /proc/sys/kernel/core_pattern, would take the write): /proc must be the
    root of a procfs (f_type, inode 1) and the path must not cross a mount
    (RESOLVE_NO_XDEV) or a magic link. OSError otherwise (EXDEV: redirected)."""
    from ocipy import syscalls as sc

    proc = os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if sc.fstatfs_type(proc) != sc.PROC_SUPER_MAGIC or os.fstat(proc).st_ino != 1:
            raise OSError(18, "/proc is not the root of a procfs")  # EXDEV
        try:
            return sc.openat2(proc, "thread-self/attr/" + name, os.O_WRONLY,
                              sc.RESOLVE_NO_XDEV | sc.RESOLVE_NO_MAGICLINKS)
        except sc.SysError as e:  # as an OSError (ENOENT: FileNotFoundError)
            raise OSError(e.errno, os.strerror(e.errno)) from None
    finally:
        os.close(proc)
