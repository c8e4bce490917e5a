"""Pure logic of the process attributes of runtime-spec 1.3: CPU and node
lists, execCPUAffinity, linux.memoryPolicy, socket activation (LISTEN_FDS),
the LSM checks and the sd_notify READY line. The kernel side is tested from
inside real containers in tests/integration/test_process_attrs.py."""
from __future__ import annotations

import os

import pytest

from ocipy.errors import ConfigError
from ocipy.launcher import lsm, notify
from ocipy.launcher import plan as planmod
from ocipy.spec.mounts import parse_mount_options


@pytest.mark.parametrize("text,cpus", [
    ("", []), ("0", [0]), ("7", [7]), ("0-3,7", [0, 1, 2, 3, 7]), ("0-3, 7", [0, 1, 2, 3, 7]),
    (" 1 - 2 ", [1, 2]), ("3,3,1", [1, 3]), (",,2,", [2]), ("5-5", [5]), ("8191", [8191]),
])
def test_cpu_list(text, cpus):
    mask = planmod.cpu_list(text, "F: x")
    assert [i for i in range(mask.bit_length()) if mask >> i & 1] == cpus


@pytest.mark.parametrize("text,why", [
    ("a", "invalid list"), ("1-", "invalid list"), ("-1", "invalid list"), ("1-2-3", "invalid list"),
    ("3-1", "invalid range '3-1'"), ("8192", "out of range"), ("0-9000", "out of range"), ("1;2", "invalid list"),
])
def test_cpu_list_errors_name_the_field(text, why):
    with pytest.raises(ConfigError) as e:
        planmod.cpu_list(text, "/b/config.json: process.execCPUAffinity.final")
    assert str(e.value).startswith("/b/config.json: process.execCPUAffinity.final: ")
    assert why in str(e.value)


def test_exec_cpu_affinity():
    assert planmod.exec_cpu_affinity(None, "F") is None
    assert planmod.exec_cpu_affinity({}, "F") is None
    assert planmod.exec_cpu_affinity({"initial": "", "final": ""}, "F") is None
    assert planmod.exec_cpu_affinity({"initial": "7", "final": "0-3,7"}, "F") == (0x80, 0x8F)
    assert planmod.exec_cpu_affinity({"final": "1"}, "F") == (0, 2)
    with pytest.raises(ConfigError, match=r"^F: execCPUAffinity\.initial: invalid range"):
        planmod.exec_cpu_affinity({"initial": "2-1"}, "F", prefix="")


@pytest.mark.parametrize("cfg,expect", [
    ({"mode": "MPOL_DEFAULT"}, (0, 0)),
    ({"mode": "MPOL_LOCAL"}, (4, 0)),
    ({"mode": "MPOL_PREFERRED"}, (1, 0)),  # empty nodes: local allocation (set_mempolicy(2))
    ({"mode": "MPOL_PREFERRED", "nodes": "1"}, (1, 2)),
    ({"mode": "MPOL_BIND", "nodes": "0-1"}, (2, 3)),
    ({"mode": "MPOL_INTERLEAVE", "nodes": "2-3", "flags": ["MPOL_F_STATIC_NODES"]}, (3 | 1 << 15, 12)),
    ({"mode": "MPOL_PREFERRED_MANY", "nodes": "0"}, (5, 1)),
    ({"mode": "MPOL_WEIGHTED_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]}, (6 | 1 << 14, 1)),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}, (2 | 1 << 13, 1)),
])
def test_memory_policy(cfg, expect):
    assert planmod.memory_policy(cfg, "F") == expect + ("F",)


@pytest.mark.parametrize("cfg,msg", [
    ({"mode": "MPOL_FOO"}, 'linux.memoryPolicy.mode: unknown mode "MPOL_FOO"'),
    ({"mode": "MPOL_BIND", "flags": ["MPOL_F_FOO"], "nodes": "0"}, 'linux.memoryPolicy.flags[0]: unknown flag'),
    ({"mode": "MPOL_DEFAULT", "nodes": "0"}, "linux.memoryPolicy.nodes: MPOL_DEFAULT takes no nodes"),
    ({"mode": "MPOL_LOCAL", "nodes": "1"}, "linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes"),
    ({"mode": "MPOL_BIND"}, "linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"),
    ({"mode": "MPOL_INTERLEAVE", "nodes": ""}, "MPOL_INTERLEAVE needs at least one node"),
    ({"mode": "MPOL_BIND", "nodes": "0-"}, "linux.memoryPolicy.nodes: invalid list"),
])
def test_memory_policy_errors(cfg, msg):
    with pytest.raises(ConfigError) as e:
        planmod.memory_policy(cfg, "/b/config.json")
    assert str(e.value).startswith("/b/config.json: ") and msg in str(e.value)


@pytest.mark.parametrize("env,n", [
    ({}, 0), ({"LISTEN_FDS": "2"}, 0), ({"LISTEN_FDS": "2", "LISTEN_PID": "1"}, 0),
    ({"LISTEN_FDS": "2", "LISTEN_PID": "SELF"}, 2), ({"LISTEN_FDS": "0", "LISTEN_PID": "SELF"}, 0),
    ({"LISTEN_FDS": "x", "LISTEN_PID": "SELF"}, 0), ({"LISTEN_FDS": "-1", "LISTEN_PID": "SELF"}, 0),
])
def test_listen_fds_only_when_meant_for_us(monkeypatch, env, n):
    """go-systemd's activation.Files (runc): LISTEN_PID must be our pid."""
    monkeypatch.delenv("LISTEN_FDS", raising=False)
    monkeypatch.delenv("LISTEN_PID", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, str(os.getpid()) if v == "SELF" else v)
    assert planmod.listen_fds() == n


def test_lsm_detection(tmp_path):
    param = tmp_path / "enabled"
    assert not lsm.apparmor_enabled(str(param))  # absent
    param.write_text("N\n")
    assert not lsm.apparmor_enabled(str(param))
    param.write_text("Y\n")
    assert lsm.apparmor_enabled(str(param))
    fs, cur = tmp_path / "selinux", tmp_path / "current"
    fs.mkdir()
    cur.write_text("system_u:system_r:unconfined_t:s0\0")
    assert not lsm.selinux_enabled(str(fs), str(cur))  # no selinuxfs
    (fs / "enforce").write_text("1")
    assert lsm.selinux_enabled(str(fs), str(cur))
    cur.write_text("kernel\0")
    assert not lsm.selinux_enabled(str(fs), str(cur))
    assert not lsm.selinux_enabled(str(fs), str(tmp_path / "nosuch"))


def test_lsm_check(monkeypatch):
    monkeypatch.setattr(lsm, "apparmor_enabled", lambda: False)
    monkeypatch.setattr(lsm, "selinux_enabled", lambda: False)
    assert lsm.check(None, "A", "", "S") == []  # empty strings are "not set"
    assert lsm.check_mount_label("", "M") is None
    with pytest.raises(ConfigError, match=r'^F: process\.apparmorProfile: "p": AppArmor is disabled or not supported'):
        lsm.check("p", "F: process.apparmorProfile", None, "S")
    with pytest.raises(ConfigError, match=r'^--process-label: "l": SELinux is disabled or not supported'):
        lsm.check(None, "A", "l", "--process-label")
    with pytest.raises(ConfigError, match=r'^F: linux\.mountLabel: "m": SELinux'):
        lsm.check_mount_label("m", "F: linux.mountLabel")
    monkeypatch.setattr(lsm, "apparmor_enabled", lambda: True)
    monkeypatch.setattr(lsm, "selinux_enabled", lambda: True)
    assert lsm.check("p", "A", "l", "S") == [("apparmor", "p", "A"), ("selinux", "l", "S")]
    assert lsm.check_mount_label("m", "M") == "m"


def test_mount_label_goes_to_filesystems_that_take_it():
    """runc's FormatMountLabel: tmpfs, devpts and other filesystems get
    context="LABEL"; proc, sysfs, cgroup, mqueue and bind mounts do not."""
    label = "system_u:object_r:container_file_t:s0:c1,c2"
    mounts = []
    for i, (mtype, opts, is_bind) in enumerate([("tmpfs", ["size=1m"], False), ("devpts", [], False),
                                               ("proc", [], False), ("sysfs", [], False), ("mqueue", [], False),
                                               ("cgroup", [], False), ("bind", ["rbind"], True)]):
        mounts.append((i, f"/m{i}", mtype, "src", parse_mount_options(opts), is_bind))
    planmod._label_mounts(mounts, label)
    data = [m[4].data for m in mounts]
    assert data == [f'size=1m,context="{label}"', f'context="{label}"', "", "", "", "", ""]


@pytest.mark.parametrize("datagram,line", [
    (b"READY=1", b"READY=1"), (b"READY=1\n", b"READY=1"), (b"STATUS=x\nREADY=1\nMAINPID=3", b"READY=1"),
    (b"STATUS=booting", None), (b"", None), (b"XREADY=1", None),
])
def test_ready_line(datagram, line):
    assert notify.ready_line(datagram) == line


def test_notify_setup_spec():
    cfg = {"process": {"env": ["A=1"]}, "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}
    notify.setup_spec(cfg, "/run/ocipy/c1")
    assert cfg["mounts"][-1] == {"destination": "/run/notify", "source": "/run/ocipy/c1/notify", "type": "bind",
                                 "options": ["bind", "nosuid", "noexec", "nodev", "ro"]}
    assert cfg["process"]["env"] == ["A=1", "NOTIFY_SOCKET=/run/notify/notify.sock"]
