"""ocipy.spec.opts: composable spec options, generate(), apply(), compose()."""
from __future__ import annotations

import json
import textwrap

import pytest

from ocipy.errors import ConfigError, OcipyError
from ocipy.spec import opts as o
from ocipy.spec.defaults import default_spec
from ocipy.spec.load import load_bundle
from ocipy.spec.validate import HOOK_KINDS, SpecError

DEFAULT = default_spec()
PATH = DEFAULT["process"]["env"][0]
CAPS3 = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
OPTION_NAMES = [n for n in o.__all__ if n not in ("SpecOpt", "OptionError", "generate", "apply", "compose")]


def proc(cfg):
    return cfg["process"]


def linux(cfg):
    return cfg["linux"]


def res(cfg):
    return cfg["linux"]["resources"]


def mount_at(cfg, dest):
    found = [m for m in cfg["mounts"] if m["destination"] == dest]
    assert len(found) <= 1, found
    return found[0] if found else None


# ---------------------------------------------------------------------------
# The effect of each option: (option, what to read from the generated config, expected).

EFFECTS = [
    ("set_args", lambda: o.set_args("sleep", "1"), lambda c: proc(c)["args"], ["sleep", "1"]),
    ("set_env", lambda: o.set_env("A=1"), lambda c: proc(c)["env"], [PATH, "TERM=xterm", "A=1"]),
    ("set_env-in-place", lambda: o.set_env("TERM=vt100"), lambda c: proc(c)["env"], [PATH, "TERM=vt100"]),
    ("set_env-several", lambda: o.set_env("B=2", "PATH=/x", "C=a=b"), lambda c: proc(c)["env"],
     ["PATH=/x", "TERM=xterm", "B=2", "C=a=b"]),
    ("set_env-same-twice", lambda: o.set_env("A=1", "A=2"), lambda c: proc(c)["env"], [PATH, "TERM=xterm", "A=2"]),
    ("set_env-empty-value", lambda: o.set_env("TERM="), lambda c: proc(c)["env"], [PATH, "TERM="]),
    ("unset_env", lambda: o.unset_env("TERM"), lambda c: proc(c)["env"], [PATH]),
    ("unset_env-absent", lambda: o.unset_env("NOPE", "TERMX"), lambda c: proc(c)["env"], [PATH, "TERM=xterm"]),
    ("set_cwd", lambda: o.set_cwd("/work"), lambda c: proc(c)["cwd"], "/work"),
    ("set_user", lambda: o.set_user(1000, 1001), lambda c: proc(c)["user"], {"uid": 1000, "gid": 1001}),
    ("set_user-gids", lambda: o.set_user(1, 2, [3, 4]), lambda c: proc(c)["user"],
     {"uid": 1, "gid": 2, "additionalGids": [3, 4]}),
    ("set_terminal", lambda: o.set_terminal(False), lambda c: proc(c)["terminal"], False),
    ("set_no_new_privileges", lambda: o.set_no_new_privileges(False), lambda c: proc(c)["noNewPrivileges"], False),
    ("set_oom_score_adj", lambda: o.set_oom_score_adj(-500), lambda c: proc(c)["oomScoreAdj"], -500),
    ("set_hostname", lambda: o.set_hostname("box"), lambda c: (c["hostname"], c.get("domainname")), ("box", None)),
    ("set_hostname-domain", lambda: o.set_hostname("box", "example.org"), lambda c: (c["hostname"], c["domainname"]),
     ("box", "example.org")),
    ("set_domainname", lambda: o.set_domainname("corp"), lambda c: (c["hostname"], c["domainname"]), ("runc", "corp")),
    ("set_rootfs", lambda: o.set_rootfs("/srv/root"), lambda c: c["root"], {"path": "/srv/root", "readonly": True}),
    ("set_rootfs-rw", lambda: o.set_rootfs("fs", readonly=False), lambda c: c["root"], {"path": "fs", "readonly": False}),
    ("set_readonly_rootfs", lambda: o.set_readonly_rootfs(False), lambda c: c["root"],
     {"path": "rootfs", "readonly": False}),
    ("add_mount", lambda: o.add_mount("/data", "/srv/data", "bind", ("rbind", "ro")), lambda c: c["mounts"][-1],
     {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]}),
    ("add_mount-minimal", lambda: o.add_mount("/x"), lambda c: c["mounts"][-1], {"destination": "/x"}),
    ("add_mount-replaces", lambda: o.add_mount("/dev/shm/", "shm", "tmpfs", ["size=1m"]),
     lambda c: (len(c["mounts"]), c["mounts"][3]),
     (7, {"destination": "/dev/shm/", "type": "tmpfs", "source": "shm", "options": ["size=1m"]})),
    ("remove_mount", lambda: o.remove_mount("/sys"), lambda c: [m["destination"] for m in c["mounts"]],
     ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys/fs/cgroup"]),
    ("remove_mount-normalised", lambda: o.remove_mount("/dev//mqueue/"), lambda c: mount_at(c, "/dev/mqueue"), None),
    ("remove_mount-absent", lambda: o.remove_mount("/nope"), lambda c: c["mounts"], DEFAULT["mounts"]),
    ("add_tmpfs", lambda: o.add_tmpfs("/run", size=1 << 20, mode=0o755), lambda c: c["mounts"][-1],
     {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
      "options": ["nosuid", "nodev", "noexec", "size=1048576", "mode=755"]}),
    ("add_tmpfs-options", lambda: o.add_tmpfs("/tmp", options=["rw"]), lambda c: c["mounts"][-1]["options"], ["rw"]),
    ("set_namespace", lambda: o.set_namespace("cgroup"), lambda c: linux(c)["namespaces"][-1], {"type": "cgroup"}),
    ("set_namespace-join", lambda: o.set_namespace("network", "/var/run/netns/x"), lambda c: linux(c)["namespaces"],
     [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/x"}, {"type": "ipc"}, {"type": "uts"},
      {"type": "mount"}]),
    ("remove_namespace", lambda: o.remove_namespace("ipc"), lambda c: [n["type"] for n in linux(c)["namespaces"]],
     ["pid", "network", "uts", "mount"]),
    ("host_network", lambda: o.host_network(), lambda c: [n["type"] for n in linux(c)["namespaces"]],
     ["pid", "ipc", "uts", "mount"]),
    ("set_user_namespace", lambda: o.set_user_namespace([(0, 100000, 65536)], [{"containerID": 0, "hostID": 200000,
                                                                                 "size": 1}]),
     lambda c: (linux(c)["namespaces"][-1], linux(c)["uidMappings"], linux(c)["gidMappings"]),
     ({"type": "user"}, [{"containerID": 0, "hostID": 100000, "size": 65536}],
      [{"containerID": 0, "hostID": 200000, "size": 1}])),
    ("set_capabilities", lambda: o.set_capabilities("chown", "CAP_KILL", "Cap_Chown"), lambda c: proc(c)["capabilities"],
     {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN", "CAP_KILL"],
      "permitted": ["CAP_CHOWN", "CAP_KILL"]}),
    ("set_capabilities-ambient", lambda: o.set_capabilities("net_raw", ambient=True), lambda c: proc(c)["capabilities"],
     {s: ["CAP_NET_RAW"] for s in ("bounding", "effective", "inheritable", "permitted", "ambient")}),
    ("set_capabilities-none", lambda: o.set_capabilities(), lambda c: proc(c)["capabilities"],
     {"bounding": [], "effective": [], "permitted": []}),
    ("add_capabilities", lambda: o.add_capabilities("net_admin", "CAP_KILL"), lambda c: proc(c)["capabilities"],
     {"bounding": CAPS3 + ["CAP_NET_ADMIN"], "effective": CAPS3 + ["CAP_NET_ADMIN"],
      "permitted": CAPS3 + ["CAP_NET_ADMIN"], "ambient": CAPS3}),
    ("drop_capabilities", lambda: o.drop_capabilities("kill", "SYS_ADMIN"), lambda c: proc(c)["capabilities"],
     {s: ["CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"] for s in ("bounding", "effective", "permitted", "ambient")}),
    ("set_rlimit", lambda: o.set_rlimit("nofile", 4096), lambda c: proc(c)["rlimits"],
     [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}]),
    ("set_rlimit-append", lambda: o.set_rlimit("RLIMIT_CORE", 0, 10), lambda c: proc(c)["rlimits"],
     [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}, {"type": "RLIMIT_CORE", "hard": 10, "soft": 0}]),
    ("add_annotations", lambda: o.add_annotations({"org.example/a": "1", "b": ""}), lambda c: c["annotations"],
     {"org.example/a": "1", "b": ""}),
    ("add_hook", lambda: o.add_hook("createRuntime", "/bin/hook", ["hook", "x"], ["A=1"], 5),
     lambda c: c["hooks"], {"createRuntime": [{"path": "/bin/hook", "args": ["hook", "x"], "env": ["A=1"], "timeout": 5}]}),
    ("set_memory_limit", lambda: o.set_memory_limit(64 << 20), lambda c: res(c)["memory"], {"limit": 64 << 20}),
    ("set_memory_limit-swap", lambda: o.set_memory_limit(64 << 20, swap=128 << 20), lambda c: res(c)["memory"],
     {"limit": 64 << 20, "swap": 128 << 20}),
    ("set_memory_limit-unlimited", lambda: o.set_memory_limit(-1, -1), lambda c: res(c)["memory"],
     {"limit": -1, "swap": -1}),
    ("set_pids_limit", lambda: o.set_pids_limit(100), lambda c: res(c)["pids"], {"limit": 100}),
    ("set_cpu_shares", lambda: o.set_cpu_shares(512), lambda c: res(c)["cpu"], {"shares": 512}),
    ("set_cpu_quota", lambda: o.set_cpu_quota(50000), lambda c: res(c)["cpu"], {"quota": 50000, "period": 100000}),
    ("set_cpu_quota-period", lambda: o.set_cpu_quota(-1, 250000), lambda c: res(c)["cpu"], {"quota": -1, "period": 250000}),
    ("set_cpuset", lambda: o.set_cpuset("0-1,3"), lambda c: res(c)["cpu"], {"cpus": "0-1,3"}),
    ("set_cpuset-mems", lambda: o.set_cpuset("7", "0-1"), lambda c: res(c)["cpu"], {"cpus": "7", "mems": "0-1"}),
    ("set_cgroups_path", lambda: o.set_cgroups_path("/ocipy/x"), lambda c: linux(c)["cgroupsPath"], "/ocipy/x"),
    ("set_sysctl", lambda: o.set_sysctl("kernel.shmmax", 1 << 20), lambda c: linux(c)["sysctl"],
     {"kernel.shmmax": "1048576"}),
    ("add_masked_paths", lambda: o.add_masked_paths("/proc/x", "/proc/kcore"), lambda c: linux(c)["maskedPaths"],
     DEFAULT["linux"]["maskedPaths"] + ["/proc/x"]),
    ("add_readonly_paths", lambda: o.add_readonly_paths("/proc/sys", "/etc"), lambda c: linux(c)["readonlyPaths"],
     DEFAULT["linux"]["readonlyPaths"] + ["/etc"]),
    ("set_seccomp", lambda: o.set_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}), lambda c: linux(c)["seccomp"],
     {"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}),
    ("set_seccomp-none", lambda: o.compose(o.set_seccomp({"defaultAction": "SCMP_ACT_ALLOW"}), o.set_seccomp(None)),
     lambda c: "seccomp" in linux(c), False),
    ("add_device", lambda: o.add_device("/dev/fuse", "c", 10, 229, file_mode=0o666, uid=0, gid=0),
     lambda c: (linux(c)["devices"], res(c)["devices"]),
     ([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666, "uid": 0, "gid": 0}],
      [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}])),
    ("add_device-unbuffered", lambda: o.add_device("/dev/u", "u", 4, 5, access="r"),
     lambda c: res(c)["devices"][-1], {"allow": True, "type": "c", "major": 4, "minor": 5, "access": "r"}),
    ("add_device-fifo", lambda: o.add_device("/dev/fifo", "p"), lambda c: (linux(c)["devices"], res(c)["devices"]),
     ([{"path": "/dev/fifo", "type": "p"}], [{"allow": False, "access": "rwm"}])),
]


NO_CHANGE = {"unset_env-absent", "remove_mount-absent", "set_seccomp-none"}


@pytest.mark.parametrize("name, make, get, want", EFFECTS, ids=[e[0] for e in EFFECTS])
def test_effect(name, make, get, want):
    cfg = o.generate(make())
    assert get(cfg) == want
    try:
        before = get(default_spec())
    except KeyError:
        before = KeyError
    assert (before == want) == (name in NO_CHANGE)  # the option changed something, or had nothing to do


def test_every_option_has_an_effect_test():
    tested = {e[0].split("-")[0] for e in EFFECTS}
    assert tested == set(OPTION_NAMES)


@pytest.mark.parametrize("name", OPTION_NAMES)
def test_every_option_is_documented_in_one_line(name):
    doc = getattr(o, name).__doc__
    assert doc and "\n" not in doc.strip(), name


def test_each_option_touches_only_its_part():
    """set_cwd changes process.cwd and nothing else (a sample of the rule)."""
    cfg = o.generate(o.set_cwd("/w"))
    cfg["process"]["cwd"] = "/"
    assert cfg == DEFAULT


@pytest.mark.parametrize("kind", HOOK_KINDS)
def test_every_hook_kind(kind):
    cfg = o.generate(o.add_hook(kind, "/usr/bin/true"), o.add_hook(kind, "/usr/bin/false", timeout=1))
    assert cfg["hooks"] == {kind: [{"path": "/usr/bin/true"}, {"path": "/usr/bin/false", "timeout": 1}]}


def test_hooks_of_kinds_merge():
    cfg = o.generate(o.add_hook("prestart", "/a"), o.add_hook("poststop", "/b"))
    assert cfg["hooks"] == {"prestart": [{"path": "/a"}], "poststop": [{"path": "/b"}]}


def test_add_capabilities_with_an_inheritable_set_adds_ambient():
    cfg = o.generate(o.set_capabilities("chown", ambient=True), o.add_capabilities("kill"))
    caps = cfg["process"]["capabilities"]
    assert caps["ambient"] == ["CAP_CHOWN", "CAP_KILL"]
    assert caps["inheritable"] == ["CAP_CHOWN"]  # as exec --cap: inheritable untouched
    assert caps["bounding"] == ["CAP_CHOWN", "CAP_KILL"]


def test_drop_wins_over_every_set():
    cfg = o.generate(o.set_capabilities("chown", "kill", ambient=True), o.drop_capabilities("CHOWN"))
    assert all(v == ["CAP_KILL"] for v in cfg["process"]["capabilities"].values())
    assert len(cfg["process"]["capabilities"]) == 5


def test_remove_user_namespace_drops_the_mappings():
    cfg = o.generate(o.remove_namespace("user"), rootless=True)
    assert "uidMappings" not in cfg["linux"] and "gidMappings" not in cfg["linux"]
    assert "user" not in [n["type"] for n in cfg["linux"]["namespaces"]]
    assert "uidMappings" in default_spec(rootless=True)["linux"]


def test_set_user_keeps_umask_and_clears_gids():
    cfg = default_spec()
    cfg["process"]["user"] = {"uid": 5, "gid": 5, "umask": 0o77, "additionalGids": [9]}
    o.apply(cfg, o.set_user(7, 8))
    assert cfg["process"]["user"] == {"uid": 7, "gid": 8, "umask": 0o77}


def test_set_env_dedups_an_existing_env_as_runc_reads_it():
    cfg = default_spec()
    cfg["process"]["env"] = ["A=1", "B=2", "A=3"]  # runc: the last A wins, at its place
    o.apply(cfg, o.set_env("A=4", "C=5"))
    assert cfg["process"]["env"] == ["B=2", "A=4", "C=5"]


def test_unset_env_removes_every_entry_of_the_name():
    cfg = default_spec()
    cfg["process"]["env"] = ["A=1", "AB=2", "A=3", "A"[:0] + "B=4"]
    o.apply(cfg, o.unset_env("A"))
    assert cfg["process"]["env"] == ["AB=2", "B=4"]


def test_add_mount_replaces_stacked_mounts_at_one_place():
    cfg = default_spec()
    cfg["mounts"].insert(1, {"destination": "/sys", "type": "tmpfs", "source": "x"})
    o.apply(cfg, o.add_mount("/sys", "none", "tmpfs"))
    dests = [m["destination"] for m in cfg["mounts"]]
    assert dests.count("/sys") == 1 and dests.index("/sys") == 1
    assert cfg["mounts"][1] == {"destination": "/sys", "type": "tmpfs", "source": "none"}


def test_add_device_replaces_the_node_at_its_path():
    cfg = o.generate(o.add_device("/dev/x", "c", 1, 2), o.add_device("/dev/y", "b", 8, 0),
                     o.add_device("/dev/x", "c", 1, 3))
    assert [(d["path"], d["minor"]) for d in cfg["linux"]["devices"]] == [("/dev/x", 3), ("/dev/y", 0)]


def test_add_device_rule_comes_after_a_deny_all():
    cfg = o.generate(o.add_device("/dev/x", "c", 1, 2),
                     lambda c: c["linux"]["resources"]["devices"].append({"allow": False, "access": "rwm"}),
                     o.add_device("/dev/x", "c", 1, 2))
    rules = cfg["linux"]["resources"]["devices"]
    assert rules[-1] == {"allow": True, "type": "c", "major": 1, "minor": 2, "access": "rwm"}
    assert len(rules) == 3  # the earlier identical rule moved, not copied


def test_options_create_missing_sections():
    cfg = {"ociVersion": "1.3.0", "root": {"path": "rootfs"}}
    o.apply(cfg, o.set_memory_limit(1 << 20), o.set_sysctl("net.core.somaxconn", "10"), o.add_masked_paths("/x"),
            o.add_annotations({"a": "b"}), o.add_hook("poststop", "/x"))
    assert cfg["linux"] == {"resources": {"memory": {"limit": 1 << 20}}, "sysctl": {"net.core.somaxconn": "10"},
                            "maskedPaths": ["/x"]}
    assert cfg["annotations"] == {"a": "b"} and cfg["hooks"] == {"poststop": [{"path": "/x"}]}


def test_process_options_without_a_process_leave_validation_to_name_the_field():
    cfg = {"ociVersion": "1.3.0", "root": {"path": "rootfs"}}
    with pytest.raises(SpecError) as e:
        o.apply(cfg, o.set_env("A=1"))
    assert e.value.path == "process.cwd" and e.value.kind == "missing"
    assert cfg["process"] == {"env": ["A=1"]}


# ---------------------------------------------------------------------------
# Argument checks: OptionError, a ValueError and an OcipyError, one line naming the option.

BAD = [
    (lambda: o.set_args(), "set_args: needs at least the program to run"),
    (lambda: o.set_args(""), "set_args: args[0] must not be empty"),
    (lambda: o.set_args(["sh"]), "set_args: args[0] must be a string (got an array)"),
    (lambda: o.set_args("sh", "a\x00b"), "set_args: args[1] must not contain a NUL byte"),
    (lambda: o.set_env("NOEQUALS"), 'set_env: env[0]: "NOEQUALS" is not NAME=VALUE'),
    (lambda: o.set_env("A=1", "=x"), 'set_env: env[1]: "=x" has an empty name'),
    (lambda: o.set_env(1), "set_env: env[0] must be a string (got 1)"),
    (lambda: o.unset_env("A=1"), 'unset_env: "A=1" is a name, not NAME=VALUE'),
    (lambda: o.unset_env(""), "unset_env: names[0] must not be empty"),
    (lambda: o.set_cwd("work"), 'set_cwd: path must be an absolute path (got "work")'),
    (lambda: o.set_cwd(""), "set_cwd: path must not be empty"),
    (lambda: o.set_user(-1, 0), "set_user: uid must be between 0 and 4294967294 (got -1)"),
    (lambda: o.set_user(0, 2**32 - 1), "set_user: gid must be between 0 and 4294967294 (got 4294967295)"),
    (lambda: o.set_user(True, 0), "set_user: uid must be an integer (got true)"),
    (lambda: o.set_user(0, "0"), 'set_user: gid must be an integer (got "0")'),
    (lambda: o.set_user(0, 0, [1, -1]), "set_user: additional_gids[1] must be between 0 and 4294967294 (got -1)"),
    (lambda: o.set_user(0, 0, "5"), 'set_user: additional_gids must be a list of gids (got "5")'),
    (lambda: o.set_terminal(1), "set_terminal: on must be True or False (got 1)"),
    (lambda: o.set_no_new_privileges(None), "set_no_new_privileges: on must be True or False (got null)"),
    (lambda: o.set_oom_score_adj(1001), "set_oom_score_adj: score must be between -1000 and 1000 (got 1001)"),
    (lambda: o.set_hostname("h" * 65), "set_hostname: hostname must be at most 64 bytes (got 65)"),
    (lambda: o.set_hostname(""), "set_hostname: hostname must not be empty"),
    (lambda: o.set_hostname("a", "é" * 33), "set_hostname: domainname must be at most 64 bytes (got 66)"),
    (lambda: o.set_domainname(5), "set_domainname: domainname must be a string (got 5)"),
    (lambda: o.set_rootfs(""), "set_rootfs: path must not be empty"),
    (lambda: o.set_rootfs("r", readonly="no"), 'set_rootfs: readonly must be True or False (got "no")'),
    (lambda: o.set_readonly_rootfs(0), "set_readonly_rootfs: readonly must be True or False (got 0)"),
    (lambda: o.add_mount("data"), 'add_mount: destination must be an absolute path (got "data")'),
    (lambda: o.add_mount("/x", options="ro"), 'add_mount: options must be a list of strings (got "ro")'),
    (lambda: o.add_mount("/x", options=["ro", ""]), "add_mount: options[1] must not be empty"),
    (lambda: o.add_mount("/x", source=5), "add_mount: source must be a string (got 5)"),
    (lambda: o.add_tmpfs("/x", size=0), "add_tmpfs: size must be between 1 and 9223372036854775807 (got 0)"),
    (lambda: o.add_tmpfs("/x", mode=0o10000), "add_tmpfs: mode must be between 0 and 4095 (got 4096)"),
    (lambda: o.add_tmpfs("tmp"), 'add_tmpfs: destination must be an absolute path (got "tmp")'),
    (lambda: o.remove_mount("x"), 'remove_mount: destination must be an absolute path (got "x")'),
    (lambda: o.set_namespace("net"),
     'set_namespace: unknown namespace type "net" (one of mount, pid, network, uts, ipc, user, cgroup, time)'),
    (lambda: o.set_namespace("pid", "proc/1/ns/pid"), 'set_namespace: path must be an absolute path (got "proc/1/ns/pid")'),
    (lambda: o.remove_namespace("NETWORK"), 'remove_namespace: unknown namespace type "NETWORK" (one of mount, pid, '
     'network, uts, ipc, user, cgroup, time)'),
    (lambda: o.remove_namespace("mount"), 'remove_namespace: ocipy create needs a mount namespace: "mount" cannot be removed'),
    (lambda: o.set_user_namespace([], [(0, 0, 1)]),
     "set_user_namespace: uid_mappings must be a non-empty list of (containerID, hostID, size) (got an array)"),
    (lambda: o.set_user_namespace([(0, 0, 1)], [(0, 0, 0)]),
     "set_user_namespace: gid_mappings[0] size must be between 1 and 4294967295 (got 0)"),
    (lambda: o.set_user_namespace([(0, 0)], [(0, 0, 1)]),
     "set_user_namespace: uid_mappings[0] must be (containerID, hostID, size) (got an array)"),
    (lambda: o.set_user_namespace([{"containerID": 0, "hostID": 0, "sise": 1}], [(0, 0, 1)]),
     "set_user_namespace: uid_mappings[0] must have exactly containerID, hostID and size"),
    (lambda: o.set_user_namespace([(0, -1, 1)], [(0, 0, 1)]),
     "set_user_namespace: uid_mappings[0] hostID must be between 0 and 4294967295 (got -1)"),
    (lambda: o.set_capabilities("CAP_FOO"), 'set_capabilities: unknown capability "CAP_FOO"'),
    (lambda: o.set_capabilities("chown", ambient="yes"), 'set_capabilities: ambient must be True or False (got "yes")'),
    (lambda: o.add_capabilities("admin"), 'add_capabilities: unknown capability "admin"'),
    (lambda: o.drop_capabilities(""), "drop_capabilities: capabilities[0] must not be empty"),
    (lambda: o.drop_capabilities(["kill"]), "drop_capabilities: capabilities[0] must be a string (got an array)"),
    (lambda: o.set_rlimit("FOO", 1), 'set_rlimit: unknown resource "FOO"'),
    (lambda: o.set_rlimit("NOFILE", 10, 5), "set_rlimit: soft limit 10 is above hard limit 5"),
    (lambda: o.set_rlimit("NOFILE", -1), "set_rlimit: soft must be between 0 and 18446744073709551615 (got -1)"),
    (lambda: o.set_rlimit("NOFILE", 1, 2**64),
     "set_rlimit: hard must be between 0 and 18446744073709551615 (got 18446744073709551616)"),
    (lambda: o.add_annotations({"": "x"}), "add_annotations: a key must not be empty"),
    (lambda: o.add_annotations({"a": 1}), 'add_annotations: annotation "a" must be a string (got 1)'),
    (lambda: o.add_annotations([("a", "b")]), "add_annotations: annotations must be a dict (got an array)"),
    (lambda: o.add_hook("prestop", "/x"), 'add_hook: unknown hook kind "prestop" (one of prestart, createRuntime, '
     'createContainer, startContainer, poststart, poststop)'),
    (lambda: o.add_hook("poststop", "hook.sh"), 'add_hook: path must be an absolute path (got "hook.sh")'),
    (lambda: o.add_hook("poststop", "/x", timeout=0), "add_hook: timeout must be between 1 and 9223372036854775807 (got 0)"),
    (lambda: o.add_hook("poststop", "/x", env=["X"]), 'add_hook: env[0]: "X" is not NAME=VALUE'),
    (lambda: o.add_hook("poststop", "/x", args="x"), 'add_hook: args must be a list of strings (got "x")'),
    (lambda: o.set_memory_limit(-5), "set_memory_limit: limit must be a positive integer or -1 for unlimited (got -5)"),
    (lambda: o.set_memory_limit(0), "set_memory_limit: limit must be a positive integer or -1 for unlimited (got 0)"),
    (lambda: o.set_memory_limit(1.5), "set_memory_limit: limit must be an integer (got 1.5)"),
    (lambda: o.set_memory_limit(100, swap=50),
     "set_memory_limit: swap (memory+swap) must be at least the limit or -1 (got 50 with limit 100)"),
    (lambda: o.set_memory_limit(-1, swap=50),
     "set_memory_limit: swap (memory+swap) must be at least the limit or -1 (got 50 with limit -1)"),
    (lambda: o.set_pids_limit(0), "set_pids_limit: limit must be a positive integer or -1 for unlimited (got 0)"),
    (lambda: o.set_pids_limit(-2), "set_pids_limit: limit must be a positive integer or -1 for unlimited (got -2)"),
    (lambda: o.set_cpu_shares(1), "set_cpu_shares: shares must be between 2 and 262144 (got 1)"),
    (lambda: o.set_cpu_shares(262145), "set_cpu_shares: shares must be between 2 and 262144 (got 262145)"),
    (lambda: o.set_cpu_quota(999), "set_cpu_quota: quota must be at least 1000 (µs) or -1 for unlimited (got 999)"),
    (lambda: o.set_cpu_quota(5000, 999), "set_cpu_quota: period must be between 1000 and 1000000 (got 999)"),
    (lambda: o.set_cpuset("3-1"), 'set_cpuset: cpus: invalid list "3-1" (numbers and ranges, e.g. "0-3,7")'),
    (lambda: o.set_cpuset("0,,1"), 'set_cpuset: cpus: invalid list "0,,1" (numbers and ranges, e.g. "0-3,7")'),
    (lambda: o.set_cpuset(""), "set_cpuset: cpus must not be empty"),
    (lambda: o.set_cpuset("0", "x"), 'set_cpuset: mems: invalid list "x" (numbers and ranges, e.g. "0-3,7")'),
    (lambda: o.set_cpuset("٣"), 'set_cpuset: cpus: invalid list "٣" (numbers and ranges, e.g. "0-3,7")'),
    (lambda: o.set_cgroups_path(""), "set_cgroups_path: path must not be empty"),
    (lambda: o.set_sysctl(".net.x", "1"), 'set_sysctl: invalid key ".net.x"'),
    (lambda: o.set_sysctl("net..x", "1"), 'set_sysctl: invalid key "net..x"'),
    (lambda: o.set_sysctl("net.x", True), "set_sysctl: value must be a string (got true)"),
    (lambda: o.add_masked_paths("/a", "proc/x"), 'add_masked_paths: paths[1] must be an absolute path (got "proc/x")'),
    (lambda: o.add_readonly_paths(""), "add_readonly_paths: paths[0] must not be empty"),
    (lambda: o.set_seccomp({}), "set_seccomp: profile.defaultAction: required field is missing"),
    (lambda: o.set_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "NOPE"}]}),
     'set_seccomp: profile.syscalls[0].action: must be one of "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", '
     '"SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", '
     '"SCMP_ACT_LOG", "SCMP_ACT_NOTIFY" (got "NOPE")'),
    (lambda: o.set_seccomp("default"), 'set_seccomp: profile must be a dict (got "default")'),
    (lambda: o.add_device("dev/x", "c", 1, 1), 'add_device: path must be an absolute path (got "dev/x")'),
    (lambda: o.add_device("/dev/x", "x", 1, 1), 'add_device: dev_type must be "c", "b", "u" or "p" (got "x")'),
    (lambda: o.add_device("/dev/x", "c", None, 1), 'add_device: major is required for a device of type "c"'),
    (lambda: o.add_device("/dev/x", "b", 1, -1), "add_device: minor must be between 0 and 9223372036854775807 (got -1)"),
    (lambda: o.add_device("/dev/x", "c", 1, 1, access="rwx"), 'add_device: access must be letters of "rwm", each once (got "rwx")'),
    (lambda: o.add_device("/dev/x", "c", 1, 1, access="rr"), 'add_device: access must be letters of "rwm", each once (got "rr")'),
    (lambda: o.add_device("/dev/x", "c", 1, 1, file_mode=0o10000), "add_device: file_mode must be between 0 and 4095 (got 4096)"),
    (lambda: o.compose(o.set_cwd("/"), "x"), "compose: option 1 is not callable (got str)"),
    (lambda: o.generate(None), "generate: option 0 is not callable (got NoneType)"),
    (lambda: o.apply(default_spec(), o.set_cwd("/"), 3), "apply: option 1 is not callable (got int)"),
]


@pytest.mark.parametrize("call, msg", BAD, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(BAD)])
def test_bad_argument(call, msg):
    with pytest.raises(o.OptionError) as e:
        call()
    assert str(e.value) == msg
    assert isinstance(e.value, ValueError) and isinstance(e.value, OcipyError)


def test_arguments_are_checked_when_the_option_is_made():
    """Not later, when applied: the error points at the line that made it."""
    with pytest.raises(ValueError):
        o.set_memory_limit(-5)
    assert issubclass(o.OptionError, ConfigError)


# ---------------------------------------------------------------------------
# generate(), apply(), compose().


def test_default_is_default_spec():
    assert o.generate() == default_spec()
    assert o.generate(rootless=True) == default_spec(rootless=True)
    assert o.generate(rootless=True) != o.generate()


def test_rootless_base_gets_the_options():
    cfg = o.generate(o.set_args("id"), rootless=True)
    assert cfg["process"]["args"] == ["id"] and "uidMappings" in cfg["linux"]


def test_order_of_application():
    assert o.generate(o.set_cwd("/a"), o.set_cwd("/b"))["process"]["cwd"] == "/b"
    assert o.generate(o.set_cwd("/b"), o.set_cwd("/a"))["process"]["cwd"] == "/a"
    add, rm = o.add_mount("/data", "/srv", "bind", ["rbind"]), o.remove_mount("/data")
    assert mount_at(o.generate(add, rm), "/data") is None
    assert mount_at(o.generate(rm, add), "/data") is not None
    caps = o.generate(o.set_capabilities("chown"), o.add_capabilities("kill"))["process"]["capabilities"]
    assert caps["bounding"] == ["CAP_CHOWN", "CAP_KILL"]
    caps = o.generate(o.add_capabilities("kill"), o.set_capabilities("chown"))["process"]["capabilities"]
    assert caps["bounding"] == ["CAP_CHOWN"]
    ns = o.generate(o.host_network(), o.set_namespace("network"))["linux"]["namespaces"]
    assert [n["type"] for n in ns] == ["pid", "ipc", "uts", "mount", "network"]


def test_compose():
    both = o.compose(o.set_env("A=1"), o.set_env("A=2", "B=3"))
    assert o.generate(both) == o.generate(o.set_env("A=1"), o.set_env("A=2", "B=3"))
    assert o.generate(both)["process"]["env"][-2:] == ["A=2", "B=3"]
    nested = o.compose(o.compose(o.set_cwd("/x"), o.set_terminal(False)), o.set_cwd("/y"))
    cfg = o.generate(nested)
    assert (cfg["process"]["cwd"], cfg["process"]["terminal"]) == ("/y", False)
    assert o.generate(o.compose()) == DEFAULT


def test_compose_does_not_validate_but_generate_does():
    bad = o.compose(lambda c: c["process"].__setitem__("cwd", "rel"))
    cfg = default_spec()
    bad(cfg)  # a SpecOpt only edits
    assert cfg["process"]["cwd"] == "rel"
    with pytest.raises(SpecError):
        o.generate(bad)


def test_apply_is_in_place_and_validates():
    cfg = default_spec()
    out = o.apply(cfg, o.set_hostname("h"), o.set_pids_limit(5))
    assert out is cfg and cfg["hostname"] == "h" and cfg["linux"]["resources"]["pids"] == {"limit": 5}
    with pytest.raises(SpecError) as e:
        o.apply(cfg, lambda c: c["process"]["user"].__setitem__("uid", -1))
    assert str(e.value) == "config.json: process.user.uid: must be >= 0 (got -1)"


def _raw(path, value):
    """A SpecOpt setting a raw value at a JSON path: what a user's own option might do."""
    def opt(cfg):
        d = cfg
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return opt


# Raw results that create refuses; the line generate() raises.
REJECTED = [
    (_raw(("process", "cwd"), "rel"), 'process.cwd: must be an absolute path (got "rel")'),
    (_raw(("process", "user", "uid"), -1), "process.user.uid: must be >= 0 (got -1)"),
    (_raw(("process", "args"), []), "process.args: must not be empty"),
    (_raw(("process", "args"), ["a\x00b"]), "process.args[0]: must not contain a NUL byte"),
    (_raw(("process", "env"), ["PATH"]), 'process.env[0]: "PATH" is not NAME=VALUE'),
    (_raw(("process", "rlimits"), [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}] * 2),
     'process.rlimits[1].type: duplicate "RLIMIT_CORE" (also at [0])'),
    (_raw(("linux", "resources", "memory"), {"limit": 2**63}),
     "linux.resources.memory.limit: must be <= 9223372036854775807 (got 9223372036854775808)"),
    (_raw(("linux", "maskedPaths"), ["proc"]), 'linux.maskedPaths[0]: must be an absolute path (got "proc")'),
    (_raw(("linux", "namespaces"), [{"type": "pid"}, {"type": "pid"}]),
     'linux.namespaces[1].type: duplicate namespace "pid" (also at [0])'),
    (_raw(("hooks",), {"poststop": [{"path": "x"}]}), 'hooks.poststop[0].path: must be an absolute path (got "x")'),
    (_raw(("ociVersion",), "2.0.0"), 'ociVersion: unsupported version "2.0.0" (ocipy implements 1.x)'),
    (_raw(("root", "path"), ""), "root.path: must not be empty"),
    (_raw(("root", "readonly"), "yes"), 'root.readonly: must be a boolean (got "yes")'),
    (_raw(("annotations",), {"": "x"}), 'annotations[""]: key must not be empty'),
    # passes set_seccomp's structural check; check_rules catches it
    (o.set_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"}),
     "linux.seccomp.listenerMetadata: set without listenerPath"),
]


@pytest.mark.parametrize("opt, why", REJECTED, ids=[w.split(":")[0] for _, w in REJECTED])
def test_generate_rejects_as_create_does(opt, why, tmp_path):
    with pytest.raises(ConfigError) as e:
        o.generate(opt)
    assert str(e.value) == "config.json: " + why
    # ... exactly the line load_bundle (create's first step) gives for the same config
    bundle = tmp_path / "b"
    (bundle / "rootfs").mkdir(parents=True)
    cfg = default_spec()
    opt(cfg)
    (bundle / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError) as e2:
        load_bundle(str(bundle))
    config_path = str(bundle / "config.json")
    assert str(e2.value) == f"{config_path}: {why}"
    with pytest.raises(ConfigError) as e3:
        o.generate(opt, filename=config_path)
    assert str(e3.value) == str(e2.value)


def test_spec_errors_name_the_field():
    with pytest.raises(SpecError) as e:
        o.generate(_raw(("process", "cwd"), "rel"))
    assert e.value.path == "process.cwd" and e.value.kind == "rule" and "\n" not in str(e.value)
    with pytest.raises(SpecError) as e:
        o.generate(_raw(("linux", "resources", "pids"), {"limit": "5"}))
    assert e.value.path == "linux.resources.pids.limit" and e.value.kind == "type"


def test_relative_mount_destination():
    """create accepts a (deprecated) relative destination as under /, so generate
    does too; add_mount itself only makes absolute ones."""
    cfg = o.generate(lambda c: c["mounts"].append({"destination": "data", "type": "tmpfs", "source": "t"}))
    assert cfg["mounts"][-1]["destination"] == "data"
    assert mount_at(o.generate(lambda c: c["mounts"].append({"destination": "data"}), o.remove_mount("/data")),
                    "data") is None
    with pytest.raises(o.OptionError):
        o.add_mount("data")


def everything(rootless=False):
    """Every option, once (a config that create must accept)."""
    return [
        o.set_args("sh", "-c", "true"), o.set_env("A=1", "TERM=dumb"), o.unset_env("A"), o.set_cwd("/tmp"),
        o.set_user(1000, 1000, [10, 20]), o.set_terminal(False), o.set_hostname("box", "example.org"),
        o.set_domainname("corp"), o.set_rootfs("rootfs", readonly=True), o.set_readonly_rootfs(False),
        o.add_mount("/data", "/srv/data", "bind", ["rbind", "ro"]), o.remove_mount("/sys/fs/cgroup"),
        o.add_tmpfs("/run", size=1 << 20), o.set_namespace("cgroup"), o.remove_namespace("pid"),
        o.host_network(),
        *(() if rootless else (o.set_user_namespace([(0, 100000, 65536)], [(0, 100000, 65536)]),)),
        o.set_capabilities("chown", "kill", ambient=True), o.add_capabilities("net_bind_service"),
        o.drop_capabilities("kill"), o.set_no_new_privileges(True), o.set_rlimit("nproc", 100, 200),
        o.add_annotations({"org.example": "x"}), o.add_hook("poststop", "/usr/bin/true", ["true"], ["A=1"], 3),
        o.add_hook("prestart", "/usr/bin/true"), o.set_memory_limit(64 << 20, 128 << 20), o.set_pids_limit(64),
        o.set_cpu_shares(512), o.set_cpu_quota(50000), o.set_cpuset("0"), o.set_cgroups_path("/ocipy-test/x"),
        o.set_sysctl("kernel.shmmax", "65536"), o.add_masked_paths("/proc/x"), o.add_readonly_paths("/proc/y"),
        o.set_oom_score_adj(100), o.add_device("/dev/fuse", "c", 10, 229, file_mode=0o666),
    ]


SECCOMP = o.set_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                         "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})


@pytest.mark.parametrize("rootless", [False, True])
def test_everything_passes_the_pydantic_model(rootless):
    from ocipy.spec.models import Spec

    cfg = o.generate(*everything(rootless), SECCOMP, rootless=rootless)
    spec = Spec.model_validate(cfg)
    assert spec.process.user.additionalGids == [10, 20]
    assert spec.linux.resources.memory.swap == 128 << 20


def test_everything_is_accepted_by_create(tmp_path):
    """load_bundle, then launcher.plan.build (create's checks before any side
    effect; nothing here needs root: no namespace path, no seccomp to compile)."""
    from ocipy.launcher import plan

    cfg = o.generate(*everything())
    bundle = tmp_path / "b"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps(cfg))
    loaded, bdir, rootfs = load_bundle(str(bundle))
    p = plan.build(loaded, bdir, rootfs, "opts-test")
    assert p.args == ["sh", "-c", "true"] and p.hostname == "box" and p.userns_new and not p.net_new
    assert p.uid_map == "0 100000 65536\n" and p.gids == [10, 20] and p.sysctl == [("kernel/shmmax", "65536")]


def _containers(v, out=None):
    """id() of every dict and list inside a JSON-like value."""
    out = set() if out is None else out
    if isinstance(v, (dict, list)):
        out.add(id(v))
        for x in (v.values() if isinstance(v, dict) else v):
            _containers(x, out)
    return out


def test_no_shared_state_between_generate_calls():
    opts = [*everything(), SECCOMP]
    a, b = o.generate(*opts), o.generate(*opts)
    assert a == b and a is not b
    assert not _containers(a) & _containers(b)  # not one list or dict in common
    a["mounts"][-1]["options"].append("x")
    a["linux"]["seccomp"]["syscalls"][0]["names"].append("reboot")
    a["process"]["capabilities"]["bounding"].clear()
    a["hooks"]["poststop"][0]["args"].append("y")
    assert o.generate(*opts) == b
    assert o.generate() == default_spec()


def test_arguments_are_copied_when_the_option_is_made():
    options, profile, ann = ["rbind"], {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}, {"a": "b"}
    gids, maps = [1], [[0, 1000, 1]]
    made = [o.add_mount("/d", "/s", None, options), o.set_seccomp(profile), o.add_annotations(ann),
            o.set_user(0, 0, gids), o.set_user_namespace(maps, maps)]
    options.append("ro")
    profile["defaultAction"] = "SCMP_ACT_KILL"
    ann["c"] = "d"
    gids.append(2)
    maps[0][2] = 5
    cfg = o.generate(*made)
    assert cfg["mounts"][-1]["options"] == ["rbind"]
    assert cfg["linux"]["seccomp"] == {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}
    assert cfg["annotations"] == {"a": "b"}
    assert cfg["process"]["user"]["additionalGids"] == [1]
    assert cfg["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]


def test_a_failed_generate_leaves_no_trace():
    with pytest.raises(SpecError):
        o.generate(o.set_env("A=1"), _raw(("process", "cwd"), "x"))
    assert o.generate() == DEFAULT == default_spec()


IDEMPOTENT = [
    o.set_env("A=1", "TERM=x"), o.unset_env("TERM"), o.add_mount("/d", "/s", "bind", ["rbind"]), o.add_tmpfs("/t"),
    o.remove_mount("/sys"), o.set_namespace("cgroup"), o.set_namespace("pid", "/proc/1/ns/pid"), o.host_network(),
    o.set_user_namespace([(0, 1, 2)], [(0, 1, 2)]), o.set_capabilities("chown"), o.add_capabilities("sys_admin"),
    o.drop_capabilities("kill"), o.set_rlimit("nofile", 10), o.add_annotations({"a": "b"}),
    o.add_masked_paths("/m"), o.add_readonly_paths("/r"), o.set_sysctl("net.core.somaxconn", "5"),
    o.set_memory_limit(1 << 20, 2 << 20), o.set_cpu_quota(2000), o.add_device("/dev/x", "b", 8, 1),
    o.set_seccomp({"defaultAction": "SCMP_ACT_ALLOW"}), o.set_user(1, 1, [2]),
]


@pytest.mark.parametrize("opt", IDEMPOTENT, ids=[f"{i}" for i in range(len(IDEMPOTENT))])
def test_idempotent(opt):
    once, twice = o.generate(opt), o.generate(opt, opt)
    assert once == twice
    assert once != DEFAULT


def test_set_env_twice_keeps_one_entry():
    env = o.generate(o.set_env("A=1"), o.set_env("A=1"), o.set_env("A=2"))["process"]["env"]
    assert [e for e in env if e.startswith("A=")] == ["A=2"] and len(env) == 3


def test_add_hook_is_not_idempotent():
    h = o.add_hook("poststart", "/x")
    assert o.generate(h, h)["hooks"]["poststart"] == [{"path": "/x"}, {"path": "/x"}]


def test_docstring_example_runs():
    doc = o.__doc__
    start = doc.index("    from ocipy.spec import opts")
    example = textwrap.dedent(doc[start:doc.index("\n\n", start)])
    assert len(example.splitlines()) == 5
    ns: dict = {}
    exec(example, ns)
    cfg = ns["cfg"]
    assert cfg["process"]["args"] == ["sleep", "60"]
    assert "network" not in [n["type"] for n in cfg["linux"]["namespaces"]]
    assert "CAP_NET_ADMIN" in cfg["process"]["capabilities"]["bounding"]


def test_module_is_light():
    """A program importing it pays for no pydantic, typing, re or json."""
    import subprocess
    import sys
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[2])
    code = (f"import sys; sys.path.insert(0, {repo!r}); import ocipy.spec.opts; "
            "print(' '.join(m for m in ('pydantic', 'typing', 're', 'json', 'ocipy.launcher', 'ctypes') "
            "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""
