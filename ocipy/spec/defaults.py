"""The config `ocipy spec` writes: runc's `runc spec` (1.1), ociVersion 1.3.0.

Copied structurally from the output of runc 1.1's ``runc spec`` and ``runc
spec --rootless`` (libcontainer/specconv/example.go), so that a bundle made
for one runtime works with the other; tests/unit/test_spec_defaults.py
compares with the live runc when it is installed.
"""
import posix

SPEC_VERSION = "1.3.0"

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_spec(rootless: bool = False, host_uid: int | None = None, host_gid: int | None = None) -> dict:
    """A fresh config dict (the caller may modify it).

    With `rootless`, as ``runc spec --rootless``: no network namespace and no
    cgroup device rules, a user namespace mapping container root to
    `host_uid`/`host_gid` (default: the caller's effective ids), /sys bound
    from the host (sysfs cannot be mounted without the network namespace's
    owner), and no gid=5 for devpts (that group is not mapped).
    """
    cfg = {
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": list(_CAPS),
                "effective": list(_CAPS),
                "permitted": list(_CAPS),
                "ambient": list(_CAPS),
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
            },
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
            },
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"},
                {"type": "network"},
                {"type": "ipc"},
                {"type": "uts"},
                {"type": "mount"},
            ],
            "maskedPaths": [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ],
        },
    }
    if rootless:
        _to_rootless(cfg, posix.geteuid() if host_uid is None else host_uid, posix.getegid() if host_gid is None else host_gid)
    return cfg


def _to_rootless(cfg: dict, uid: int, gid: int) -> None:
    """runc's specconv.ToRootless, applied to the default config."""
    linux = cfg["linux"]
    # Keep the key order of runc's output (uidMappings first).
    namespaces = [ns for ns in linux["namespaces"] if ns["type"] != "network"]
    namespaces.append({"type": "user"})
    cfg["linux"] = {
        "uidMappings": [{"containerID": 0, "hostID": uid, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": gid, "size": 1}],
        "namespaces": namespaces,
        "maskedPaths": linux["maskedPaths"],
        "readonlyPaths": linux["readonlyPaths"],
    }
    mounts = []
    for m in cfg["mounts"]:
        if m["destination"] == "/sys":
            m = {
                "destination": "/sys",
                "type": "none",
                "source": "/sys",
                "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
            }
        elif m["destination"] == "/dev/pts":
            m = {**m, "options": [o for o in m["options"] if o != "gid=5"]}
        mounts.append(m)
    cfg["mounts"] = mounts
