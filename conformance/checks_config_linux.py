"""Checks of config-linux.md: namespaces, user namespace mappings, time offsets, devices, cgroups,
sysctl, seccomp, rootfsPropagation, maskedPaths, readonlyPaths, personality, intelRdt."""
from __future__ import annotations

import os
import platform
import subprocess
import time

from .checks_config import R_APPLY, R_INVALID
from .checks_runtime import R_CANNOT_APPLY, expect_create_error
from .framework import Fail, Skip, check, dump, expect, find_mount, parse_mountinfo, sections

NS_FILES = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
            "cgroup": "cgroup", "user": "user", "time": "time"}
R_NS_SUPPORTED = 'config-linux.md#configLinuxNamespaces: "The following namespace types SHOULD be supported:"'
R_NS_NEW = 'config-linux.md#configLinuxNamespaces: "If `path` is not specified, the runtime MUST create a new container namespace of type `type`."'
R_NS_JOIN = 'config-linux.md#configLinuxNamespaces: "The runtime MUST place the container process in the namespace associated with that `path`."'


def host_ns(kind: str) -> str:
    return os.readlink(f"/proc/self/ns/{NS_FILES[kind]}")


def _ns_dump():
    return dump(*[(k, f"readlink /proc/self/ns/{f}") for k, f in NS_FILES.items()])


def _user_mapping(cfg):
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # what a user namespace can mount by itself: no sysfs/cgroup of the host's
    cfg["mounts"] = [m for m in cfg["mounts"] if m["type"] not in ("sysfs", "cgroup", "mqueue")]


def _ns_probe(ctx, kind):
    group = {"user": "user", "time": "time"}.get(kind, "base")

    def probe():
        def edit(cfg):
            types = {"base": ["pid", "network", "mount", "ipc", "uts", "cgroup"],
                     "user": ["pid", "mount", "uts", "ipc", "network", "user"],
                     "time": ["pid", "mount", "uts", "time"]}[group]
            cfg["linux"]["namespaces"] = [{"type": t} for t in types]
            if group == "user":
                _user_mapping(cfg)
            if group == "time":
                cfg["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 1000, "nanosecs": 0}}
        return sections(ctx.run(_ns_dump() + "; " + dump(("uid_map", "cat /proc/self/uid_map"),
                                                         ("uptime", "cat /proc/uptime")), edit=edit).out)
    if kind == "time" and not os.path.exists("/proc/self/ns/time"):
        raise Skip("the kernel has no time namespaces")
    if kind == "user" and not os.path.exists("/proc/self/ns/user"):
        raise Skip("the kernel has no user namespaces")
    return ctx.once(("ns", group), probe)


def _ns_new(kind):
    def run(ctx):
        out = _ns_probe(ctx, kind)
        got = out.get(kind, "").strip()
        expect(got and got.startswith(NS_FILES[kind] + ":"), f"readlink /proc/self/ns/{NS_FILES[kind]}: {got!r}")
        expect(got != host_ns(kind), f"the container is in the runtime's {kind} namespace {got}")
    run.__doc__ = f"A {kind} namespace without path is a new one (not the runtime's)."
    return run


for _k in NS_FILES:
    check(f"namespaces.new.{_k}", R_NS_NEW, R_NS_SUPPORTED)(_ns_new(_k))


@check("namespaces.inherit", 'config-linux.md#configLinuxNamespaces: "If a namespace type is not specified in the `namespaces` array, the container MUST inherit the runtime namespace of that type."')
def ns_inherit(ctx):
    """With only mount and pid namespaces, network, ipc, uts, cgroup are the runtime's."""
    def edit(cfg):
        cfg["linux"]["namespaces"] = [{"type": "mount"}, {"type": "pid"}]
        cfg.pop("hostname", None)
        cfg["mounts"] = [m for m in cfg["mounts"] if m["type"] not in ("sysfs", "cgroup", "mqueue")]
    out = sections(ctx.run(_ns_dump(), edit=edit).out)
    bad = [f"{k} {out.get(k, '').strip()} (runtime: {host_ns(k)})" for k in ("network", "ipc", "uts", "cgroup")
           if out.get(k, "").strip() != host_ns(k)]
    expect(not bad, "not inherited: " + "; ".join(bad))


class _Holder:
    """A host process in new net, uts and ipc namespaces (util-linux unshare), for joining."""

    def __init__(self):
        if not os.path.exists("/usr/bin/unshare"):
            raise Skip("util-linux unshare not found")
        self.p = subprocess.Popen(["/usr/bin/unshare", "--net", "--uts", "--ipc", "sleep", "60"])
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                if os.readlink(f"/proc/{self.p.pid}/ns/net") != host_ns("network") and \
                        os.path.basename(os.readlink(f"/proc/{self.p.pid}/exe")) == "sleep":
                    return
            except OSError:
                pass
            time.sleep(0.01)
        self.close()
        raise Fail("could not start a process in new namespaces to join")

    def path(self, kind):
        return f"/proc/{self.p.pid}/ns/{NS_FILES[kind]}"

    def close(self):
        self.p.kill()
        self.p.wait()


@check("namespaces.join", R_NS_JOIN)
def ns_join(ctx):
    """network, uts and ipc namespaces given by path are joined."""
    h = _Holder()
    try:
        want = {k: os.readlink(h.path(k)) for k in ("network", "uts", "ipc")}

        def edit(cfg):
            cfg["linux"]["namespaces"] = [{"type": "pid"}, {"type": "mount"}] + \
                [{"type": k, "path": h.path(k)} for k in want]
            cfg["mounts"] = [m for m in cfg["mounts"] if m["type"] not in ("sysfs", "cgroup")]
        out = sections(ctx.run(_ns_dump(), edit=edit).out)
        bad = [f"{k} {out.get(k, '').strip()} (want {v})" for k, v in want.items() if out.get(k, "").strip() != v]
        expect(not bad, "not joined: " + "; ".join(bad))
    finally:
        h.close()


@check("namespaces.join_wrong_type", 'config-linux.md#configLinuxNamespaces: "The runtime MUST generate an error if `path` is not associated with a namespace of type `type`."')
def ns_join_wrong_type(ctx):
    h = _Holder()
    try:
        expect_create_error(ctx, lambda c: c["linux"]["namespaces"].__setitem__(
            slice(None), [{"type": "pid"}, {"type": "mount"}, {"type": "network"}, {"type": "ipc"},
                          {"type": "uts", "path": h.path("network")}]), "a uts namespace path that is a network namespace")
    finally:
        h.close()


@check("namespaces.path_relative", 'config-linux.md#configLinuxNamespaces: "This value MUST be an absolute path in the runtime mount namespace."', R_INVALID)
def ns_path_relative(ctx):
    def edit(cfg):
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"] + \
            [{"type": "network", "path": "proc/self/ns/net"}]
    expect_create_error(ctx, edit, "a relative namespace path")


@check("namespaces.duplicate", 'config-linux.md#configLinuxNamespaces: "If a `namespaces` field contains duplicated namespaces with same `type`, the runtime MUST generate an error."')
def ns_duplicate(ctx):
    expect_create_error(ctx, lambda c: c["linux"]["namespaces"].append({"type": "network"}), "two network namespaces")


@check("namespaces.user_mappings", R_APPLY, 'config-linux.md#configLinuxUserNamespaceMappings: "The runtime SHOULD NOT modify the ownership of referenced filesystems to realize the mapping."')
def ns_user_mappings(ctx):
    """uidMappings are the user namespace's uid_map; the rootfs keeps its host ownership."""
    out = _ns_probe(ctx, "user")
    line = out.get("uid_map", "").split()
    expect(line[:3] == ["0", "100000", "65536"], f"uid_map {line}, want 0 100000 65536")
    # the probe's bundle is gone; look at a fresh one made the same way after a run
    b = ctx.bundle(script="true")
    _user_mapping(b.cfg)
    b.cfg["linux"]["namespaces"].append({"type": "user"})
    b.write()
    ctx.run(bundle=b)
    st = os.lstat(os.path.join(b.rootfs, "bin", "busybox"))
    expect(st.st_uid == 0 and st.st_gid == 0, f"the rootfs's busybox is now owned by {st.st_uid}:{st.st_gid}")


@check("namespaces.time_offsets", R_APPLY)
def ns_time_offsets(ctx):
    """timeOffsets boottime +1000 days: /proc/uptime in the container is past 86,400,000 s."""
    out = _ns_probe(ctx, "time")
    up = float((out.get("uptime", "0").split() or ["0"])[0])
    expect(up > 86400 * 1000, f"uptime {up} s: the boottime offset is not applied")


# --- devices ----------------------------------------------------------------------------

def _stat_dump(paths):
    return dump(*[(p, f"stat -c '%F|%t|%T|%a|%u|%g' {p}") for p in paths])


@check("devices.configured", 'config-linux.md#configLinuxDevices: "lists devices that MUST be available in the container."')
def devices_configured(ctx):
    """Char (c, u), block (b) and fifo (p) devices with their numbers, mode and owner."""
    devs = [{"path": "/dev/cfnull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1000, "gid": 1001},
            {"path": "/dev/cfzero", "type": "u", "major": 1, "minor": 5, "fileMode": 0o666, "uid": 0, "gid": 0},
            {"path": "/dev/cfloop", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600, "uid": 0, "gid": 0},
            {"path": "/dev/cffifo", "type": "p", "fileMode": 0o600, "uid": 0, "gid": 0}]
    out = sections(ctx.run(_stat_dump([d["path"] for d in devs]), edit=lambda c: c["linux"].update(devices=devs)).out)
    kinds = {"c": "character special file", "u": "character special file", "b": "block special file", "p": "fifo"}
    bad = []
    for d in devs:
        got = out.get(d["path"], "").strip().split("|")
        want = [kinds[d["type"]], format(d.get("major", 0), "x"), format(d.get("minor", 0), "x"),
                format(d["fileMode"], "o"), str(d["uid"]), str(d["gid"])]
        if d["type"] == "p":
            got, want = got[:1] + got[3:], want[:1] + want[3:]
        if got != want:
            bad.append(f"{d['path']}: {'|'.join(got)} (want {'|'.join(want)})")
    expect(not bad, "; ".join(bad))


@check("devices.conflict", 'config-linux.md#configLinuxDevices: "If a file already exists at `path` that does not match the requested device, the runtime MUST generate an error."')
def devices_conflict(ctx):
    """A device whose path is an existing regular file (/etc/cf-file) is refused."""
    b = ctx.bundle(edit=lambda c: c["linux"].update(devices=[{"path": "/etc/cf-file", "type": "c", "major": 1, "minor": 3}]))
    with open(os.path.join(b.rootfs, "etc", "cf-file"), "w") as f:
        f.write("not a device")
    expect_create_error(ctx, bundle=b, what="a device over a regular file")


@check("devices.default", 'config-linux.md#configLinuxDefaultDevices: "In addition to any devices configured with this setting, the runtime MUST also supply:"')
def devices_default(ctx):
    """/dev/null, zero, full, random, urandom, tty are those devices and usable (a deny-all
    device cgroup rule in the config notwithstanding); /dev/ptmx is /dev/pts/ptmx."""
    want = {"/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7), "/dev/random": (1, 8),
            "/dev/urandom": (1, 9), "/dev/tty": (5, 0)}
    script = _stat_dump(want) + "; " + dump(
        ("ptmx", "readlink /dev/ptmx || stat -c '%t|%T' /dev/ptmx"),
        ("use", "echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c && echo ok"))
    out = sections(ctx.run(script).out)
    bad = []
    for p, (ma, mi) in want.items():
        got = out.get(p, "").strip().split("|")
        if got[:3] != ["character special file", format(ma, "x"), format(mi, "x")]:
            bad.append(f"{p}: {'|'.join(got[:3]) or 'missing'}")
    ptmx = out.get("ptmx", "").strip()
    if ptmx not in ("pts/ptmx", "/dev/pts/ptmx") and ptmx != "5|2":
        bad.append(f"/dev/ptmx: {ptmx!r}")
    if not out.get("use", "").strip().endswith("ok"):
        bad.append(f"not usable: {out.get('use', '').strip()!r}")
    expect(not bad, "; ".join(bad))


@check("devices.cgroup_order", 'config-linux.md#configLinuxDeviceAllowedlist: "The runtime MUST apply entries in the listed order."')
def devices_cgroup_order(ctx):
    """deny all; allow c 10:229 rwm; deny c 10:229 w: the node (/dev/fuse's numbers, in no
    runtime's default list) opens for reading, not for writing."""
    if not os.path.exists("/sys/dev/char/10:229"):
        raise Skip("the host has no fuse device (10:229) to open")
    b = ctx.bundle(script="(true < /cffuse) 2>/dev/null && echo r-ok || echo r-denied; (true > /cffuse) 2>/dev/null && echo w-ok || echo w-denied")
    os.mknod(os.path.join(b.rootfs, "cffuse"), 0o666 | 0o020000, os.makedev(10, 229))
    b.cfg["linux"]["resources"]["devices"] = [{"allow": False, "access": "rwm"},
                                               {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
                                               {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "w"}]
    b.write()
    out = ctx.run(bundle=b).out.split()
    expect(out == ["r-ok", "w-denied"], f"got {out}, want r-ok w-denied")


# --- cgroups ----------------------------------------------------------------------------

def cgroup_mounts() -> dict[str, str]:
    """controller -> mount point (v1); '' -> the cgroup2 mount."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for m in parse_mountinfo(f.read()):
            if m.fstype == "cgroup2":
                out.setdefault("", m.point)
            elif m.fstype == "cgroup":
                for o in m.super_opts:
                    if o not in ("rw", "ro") and "=" not in o or o.startswith("name="):
                        out.setdefault(o, m.point)
    return out


def is_v2() -> bool:
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def cgroup_of(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in (ctrls.split(",") if ctrls else [""]):
                out[c] = path
    return out


def cgroup_file(pid: int, controller: str, name: str) -> str | None:
    mounts = cgroup_mounts()
    cg = cgroup_of(pid)
    key = "" if is_v2() else controller
    if key not in mounts or key not in cg:
        return None
    p = os.path.join(mounts[key], cg[key].lstrip("/"), name)
    try:
        with open(p) as f:
            return f.read().strip()
    except OSError:
        return None


def _resources_probe(ctx):
    def probe():
        res = {"memory": {"limit": 64 << 20}, "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
               "pids": {"limit": 42}, "devices": [{"allow": False, "access": "rwm"}]}
        blk = bool(cgroup_mounts().get("blkio")) and os.path.exists(os.path.join(cgroup_mounts()["blkio"], "blkio.bfq.weight")) \
            if not is_v2() else os.path.exists("/sys/fs/cgroup/io.bfq.weight")
        if blk:
            res["blockIO"] = {"weight": 300}
        b = ctx.bundle(script="sleep 30", edit=lambda c: c["linux"].update(resources=res))
        c = ctx.container(b)
        c.create()
        pid = c.state()["pid"]
        v2 = is_v2()
        files = {
            "memory": cgroup_file(pid, "memory", "memory.max" if v2 else "memory.limit_in_bytes"),
            "cpu.shares": cgroup_file(pid, "cpu", "cpu.weight" if v2 else "cpu.shares"),
            "cpu.quota": cgroup_file(pid, "cpu", "cpu.max" if v2 else "cpu.cfs_quota_us"),
            "cpu.period": None if v2 else cgroup_file(pid, "cpu", "cpu.cfs_period_us"),
            "cpuset.cpus": cgroup_file(pid, "cpuset", "cpuset.cpus"),
            "cpuset.mems": cgroup_file(pid, "cpuset", "cpuset.mems"),
            "pids": cgroup_file(pid, "pids", "pids.max"),
            "blkio": (cgroup_file(pid, "blkio", "io.bfq.weight" if v2 else "blkio.bfq.weight") if blk else "skip"),
        }
        c.kill("KILL")
        c.wait()
        c.delete()
        return files
    return ctx.once("resources", probe)


def _res_check(name, want, fmt):
    def run(ctx):
        files = _resources_probe(ctx)
        got = [files.get(k) for k in want]
        if "skip" in got:
            raise Skip("the host's blkio/io controller has no (bfq) weight file")
        expect(fmt(got), f"read back {dict(zip(want, got))}")
    return run


_V2 = is_v2()
for _id, _keys, _ok, _doc in (
        ("memory", ["memory"], lambda g: g[0] == str(64 << 20), "memory.limit 64 MiB"),
        ("cpu", ["cpu.shares", "cpu.quota", "cpu.period"],
         (lambda g: g[1] == "50000 100000") if _V2 else (lambda g: g == ["512", "50000", "100000"]), "cpu shares 512, quota 50000, period 100000"),
        ("cpuset", ["cpuset.cpus", "cpuset.mems"], lambda g: g == ["0", "0"], "cpuset cpus 0, mems 0"),
        ("pids", ["pids"], lambda g: g[0] == "42", "pids.limit 42"),
        ("blkio", ["blkio"], lambda g: (g[0] or "").split()[-1:] == ["300"], "blockIO weight 300")):
    _f = _res_check(_id, _keys, _ok)
    _f.__doc__ = f"linux.resources {_doc}: read back from the container's cgroup at create."
    check(f"cgroups.resources.{_id}", R_APPLY)(_f)


@check("cgroups.pids_zero", 'config-linux.md#configLinuxPIDS: "is a valid limit value for the `pids` cgroup controller from the kernel\'s perspective and SHOULD be treated as such by runtimes."')
def cgroups_pids_zero(ctx):
    b = ctx.bundle(script="true", edit=lambda c: c["linux"].update(resources={"pids": {"limit": 0}}))
    c = ctx.container(b)
    c.create()
    got = cgroup_file(c.state()["pid"], "pids", "pids.max")
    expect(got == "0", f"pids.max {got!r}, want 0")


def _cg_path(ctx, path, seen):
    """The container's cgroup (pids, or v2) for `path`; every controller's path goes to `seen`."""
    b = ctx.bundle(script="sleep 30", edit=lambda c: c["linux"].update(cgroupsPath=path))
    c = ctx.container(b)
    c.create()
    cg = cgroup_of(c.state()["pid"])
    seen.append(cg)
    c.kill("KILL")
    c.wait()
    c.delete()
    return cg.get("" if is_v2() else "pids")


def _cg_cleanup(top, seen):
    """rmdir what a runtime may have left of our paths: from the leaf up to the `top` component,
    wherever (relative paths land under the runtime's own cgroup)."""
    mounts = cgroup_mounts()
    for cg in seen:
        for ctl, p in cg.items():
            parts = p.strip("/").split("/")
            if ctl not in mounts or top not in parts:
                continue
            i = parts.index(top)
            for j in range(len(parts), i, -1):
                try:
                    os.rmdir(os.path.join(mounts[ctl], *parts[:j]))
                except OSError:
                    pass
    for m in set(mounts.values()):
        try:
            os.rmdir(os.path.join(m, top))
        except OSError:
            pass


@check("cgroups.path_absolute", 'config-linux.md#configLinuxCgroupsPath: "In the case of an absolute path (starting with `/`), the runtime MUST take the path to be relative to the cgroups mount point."')
def cgroups_path_absolute(ctx):
    top = f"cf{ctx.tag}-{ctx.rt.name}"
    seen = []
    try:
        got = _cg_path(ctx, f"/{top}/abs", seen)
        expect(got == f"/{top}/abs", f"the container's cgroup is {got!r}, want /{top}/abs")
    finally:
        _cg_cleanup(top, seen)


@check("cgroups.path_consistent", 'config-linux.md#configLinuxCgroupsPath: "If the value is specified, the runtime MUST consistently attach to the same place in the cgroups hierarchy given the same value of `cgroupsPath`."')
def cgroups_path_consistent(ctx):
    """The same relative cgroupsPath, used twice, gives the same cgroup."""
    rel = f"cf{ctx.tag}-{ctx.rt.name}-rel/c"
    seen = []
    try:
        a, b = _cg_path(ctx, rel, seen), _cg_path(ctx, rel, seen)
        expect(a == b and a, f"first {a!r}, then {b!r}")
        expect(a.endswith(rel), f"cgroup {a!r} does not end with {rel}")
    finally:
        _cg_cleanup(rel.split("/")[0], seen)


@check("cgroups.unified_unknown_controller", 'config-linux.md#configLinuxUnified: "The runtime MUST generate an error when the configuration refers to a cgroup controller that is not present or that cannot be enabled."')
def cgroups_unified_unknown(ctx):
    expect_create_error(ctx, lambda c: c["linux"]["resources"].update(unified={"cfbogus.max": "1"}),
                        "linux.resources.unified of a controller that does not exist")


@check("cgroups.unified", 'config-linux.md#configLinuxUnified: "Configuration unknown to the runtime MUST still be written to the relevant file."',
       'config-linux.md#configLinuxUnified: "The OCI runtime MUST ensure that the needed cgroup controllers are enabled for the cgroup."')
def cgroups_unified(ctx):
    if not is_v2():
        raise Skip("the host is not cgroup v2 unified (linux.resources.unified needs it)")
    b = ctx.bundle(script="true", edit=lambda c: c["linux"]["resources"].update(unified={"pids.max": "77"}))
    c = ctx.container(b)
    c.create()
    got = cgroup_file(c.state()["pid"], "pids", "pids.max")
    expect(got == "77", f"pids.max {got!r}, want 77")


# --- sysctl, masked and read-only paths, propagation, personality, seccomp, rdt ----------

@check("sysctl.applied", R_APPLY)
def sysctl_applied(ctx):
    out = sections(ctx.run(dump(("fwd", "cat /proc/sys/net/ipv4/ip_forward"), ("shm", "cat /proc/sys/kernel/shmmni")),
                           edit=lambda c: c["linux"].update(sysctl={"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"})).out)
    expect(out.get("fwd", "").strip() == "1" and out.get("shm", "").strip() == "1234",
           f"ip_forward {out.get('fwd', '').strip()}, shmmni {out.get('shm', '').strip()}")


@check("sysctl.invalid", R_CANNOT_APPLY)
def sysctl_invalid(ctx):
    expect_create_error(ctx, lambda c: c["linux"].update(sysctl={"net.conformance.no_such_key": "1"}), "an unknown sysctl")


@check("masked_paths.applied", R_APPLY)
def masked_paths(ctx):
    """A masked file reads empty (/proc/timer_list if the host has it, /etc/cf-file); a masked
    directory lists empty."""
    b = ctx.bundle(script=dump(("proc", "cat /proc/timer_list | wc -c"), ("file", "cat /etc/cf-file"), ("dir", "ls /etc/cf-dir")))
    os.makedirs(os.path.join(b.rootfs, "etc", "cf-dir"))
    for p in ("etc/cf-file", "etc/cf-dir/inside"):
        with open(os.path.join(b.rootfs, p), "w") as f:
            f.write("secret")
    b.cfg["linux"]["maskedPaths"] += ["/etc/cf-file", "/etc/cf-dir"]
    b.write()
    out = sections(ctx.run(bundle=b).out)
    if os.path.exists("/proc/timer_list"):
        expect(out.get("proc", "").strip() == "0", f"/proc/timer_list has {out.get('proc', '').strip()} bytes")
    expect("secret" not in out.get("file", ""), "/etc/cf-file is readable")
    expect("inside" not in out.get("dir", ""), "/etc/cf-dir is not empty")


@check("masked_paths.relative", 'config-linux.md#configLinuxMaskedPaths: "The values MUST be absolute paths in the container namespace."', R_INVALID)
def masked_relative(ctx):
    expect_create_error(ctx, lambda c: c["linux"].update(maskedPaths=["proc/kcore"]), "a relative maskedPaths entry")


@check("readonly_paths.applied", R_APPLY)
def readonly_paths(ctx):
    b = ctx.bundle(script=dump(("sys", "echo 1 > /proc/sys/kernel/shmmni && echo written || echo refused"),
                               ("dir", "touch /etc/cf-ro/new && echo written || echo refused"),
                               ("other", "touch /etc/cf-rw && echo written || echo refused")))
    os.makedirs(os.path.join(b.rootfs, "etc", "cf-ro"))
    b.cfg["linux"]["readonlyPaths"] += ["/etc/cf-ro"]
    b.write()
    out = {k: v.strip().split("\n")[-1] for k, v in sections(ctx.run(bundle=b).out).items()}
    expect(out.get("sys") == "refused", f"/proc/sys: {out.get('sys')}")
    expect(out.get("dir") == "refused", f"/etc/cf-ro: {out.get('dir')}")
    expect(out.get("other") == "written", f"/etc (not read-only): {out.get('other')}")


@check("readonly_paths.relative", 'config-linux.md#configLinuxReadonlyPaths: "The values MUST be absolute paths in the container namespace."', R_INVALID)
def readonly_relative(ctx):
    expect_create_error(ctx, lambda c: c["linux"].update(readonlyPaths=["proc/sys"]), "a relative readonlyPaths entry")


def _root_mount(ctx, prop):
    """The container's / under rootfsPropagation `prop`. For slave, the bundle directory is
    made a shared mount of its own first (bind on itself, make-shared), so that / has a master
    to be the slave of; it is unmounted after the container is deleted."""
    b = ctx.bundle(script=dump(("mi", "cat /proc/self/mountinfo")), edit=lambda c: c["linux"].update(rootfsPropagation=prop))
    shared_bind = prop == "slave" and not _host_mount_shared(b.path)
    if shared_bind:
        r = subprocess.run(["mount", "--bind", b.path, b.path], capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip(f"cannot make a shared mount for the bundle: {r.stderr.strip()}")
    try:
        if shared_bind:
            subprocess.run(["mount", "--make-shared", b.path], check=True)
        out = ctx.run(bundle=b).out
    finally:
        if shared_bind:
            ctx.cleanup()
            subprocess.run(["umount", b.path], capture_output=True)
    m = find_mount(parse_mountinfo(sections(out).get("mi", "")), "/")
    if m is None:
        raise Fail("no / in the container's mountinfo")
    return m


def _host_mount_shared(path) -> bool:
    with open("/proc/self/mountinfo") as f:
        ms = parse_mountinfo(f.read())
    best = None
    for m in ms:
        if path == m.point or path.startswith(m.point.rstrip("/") + "/"):
            if best is None or len(m.point) >= len(best.point):
                best = m
    return bool(best and best.peer("shared"))


for _prop, _pred, _desc in (("shared", lambda m: m.peer("shared"), "shared:N"),
                            ("private", lambda m: not m.optional, "no propagation"),
                            ("unbindable", lambda m: m.peer("unbindable"), "unbindable"),
                            ("slave", lambda m: m.peer("master") and not m.peer("shared"), "master:N")):
    def _run(ctx, _prop=_prop, _pred=_pred, _desc=_desc):
        m = _root_mount(ctx, _prop)
        expect(_pred(m), f"rootfsPropagation {_prop}: / has {' '.join(m.optional) or 'no propagation'}, want {_desc}")
    _run.__doc__ = f"rootfsPropagation {_prop}: the container's / is {_desc}."
    check(f"rootfs_propagation.{_prop}", R_APPLY)(_run)


@check("personality.linux32", R_APPLY)
def personality(ctx):
    want = {"x86_64": "i686", "aarch64": "armv8l"}.get(platform.machine())
    if not want:
        raise Skip(f"no 32-bit personality known for {platform.machine()}")
    out = ctx.run("uname -m", edit=lambda c: c["linux"].update(personality={"domain": "LINUX32"})).out
    expect(out.strip() == want, f"uname -m {out.strip()!r}, want {want}")


def _seccomp(action="SCMP_ACT_ERRNO", errno=1):
    rule = {"names": ["mkdir", "mkdirat"], "action": action}
    if errno is not None:
        rule["errnoRet"] = errno
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
            "syscalls": [rule]}


@check("seccomp.errno", R_APPLY)
def seccomp_errno(ctx):
    """mkdir/mkdirat -> ERRNO(EPERM): mkdir fails with 'Operation not permitted'; other calls work."""
    out = ctx.run("mkdir /tmp/cf 2>&1; echo rc=$?; touch /tmp/cf-file && echo touched",
                  edit=lambda c: c["linux"].update(seccomp=_seccomp())).out
    expect("Operation not permitted" in out and "rc=1" in out, f"mkdir: {out.strip()!r}")
    expect("touched" in out, "a syscall outside the filter failed")


@check("seccomp.errno_unsupported", 'config-linux.md#configLinuxSeccomp: "When the action doesn\'t support an errno, the runtime MUST print and error and fail."')
def seccomp_errno_unsupported(ctx):
    expect_create_error(ctx, lambda c: c["linux"].update(seccomp=_seccomp("SCMP_ACT_KILL", 1)),
                        "errnoRet on an SCMP_ACT_KILL rule")


@check("seccomp.names_empty", 'config-linux.md#configLinuxSeccomp: "`names` MUST contain at least one entry."', R_INVALID)
def seccomp_names_empty(ctx):
    def edit(c):
        s = _seccomp()
        s["syscalls"][0]["names"] = []
        c["linux"]["seccomp"] = s
    expect_create_error(ctx, edit, "a seccomp rule with no names")


@check("seccomp.metadata_without_listener", 'config-linux.md#configLinuxSeccomp: "This field MUST NOT be set if `listenerPath` is not set."', R_INVALID)
def seccomp_metadata(ctx):
    def edit(c):
        s = _seccomp()
        s["listenerMetadata"] = "cf"
        c["linux"]["seccomp"] = s
    expect_create_error(ctx, edit, "seccomp.listenerMetadata without listenerPath")


@check("intel_rdt.no_resctrl", 'config-linux.md#configLinuxIntelRdt: "If no mounted `resctrl` pseudo-filesystem is available in the runtime mount namespace, the runtime MUST generate an error."')
def intel_rdt_no_resctrl(ctx):
    with open("/proc/self/mountinfo") as f:
        if any(m.fstype == "resctrl" for m in parse_mountinfo(f.read())):
            raise Skip("resctrl is mounted on this host")
    expect_create_error(ctx, lambda c: c["linux"].update(intelRdt={"closID": "cf"}), "intelRdt without a mounted resctrl")


@check("cgroups.invalid_entries", 'config-linux.md#configLinuxBlockIO: "You MUST specify at least one of `weight` or `leafWeight` in a given entry"',
       'config-linux.md#configLinuxRDMA: "You MUST specify at least one of the `hcaHandles` or `hcaObjects` in a given entry"', R_INVALID)
def cgroups_invalid_entries(ctx):
    expect_create_error(ctx, lambda c: c["linux"]["resources"].update(blockIO={"weightDevice": [{"major": 8, "minor": 0}]}),
                        "a blockIO.weightDevice entry with neither weight nor leafWeight")
    expect_create_error(ctx, lambda c: c["linux"]["resources"].update(rdma={"mlx5_1": {}}),
                        "an rdma entry with neither hcaHandles nor hcaObjects")


@check("cgroups.ownership_v1", 'config-linux.md#cgroup-ownership: "Runtimes SHOULD NOT change the ownership of container cgroups when cgroups v1 is in use."')
def cgroups_ownership_v1(ctx):
    """A user-namespaced container (root = host uid 100000) on cgroup v1: its cgroup stays root's."""
    if is_v2():
        raise Skip("the host uses cgroup v2")
    b = ctx.bundle(script="sleep 30")
    _user_mapping(b.cfg)
    b.cfg["linux"]["namespaces"] = [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network", "user", "cgroup")]
    b.write()
    c = ctx.container(b)
    c.create()
    pid = c.state()["pid"]
    mounts = cgroup_mounts()
    cg = cgroup_of(pid)
    owners = {}
    for ctl in ("pids", "memory", "cpu"):
        if ctl in mounts and ctl in cg:
            st = os.stat(os.path.join(mounts[ctl], cg[ctl].lstrip("/")))
            owners[ctl] = (st.st_uid, st.st_gid)
    expect(owners, "no v1 cgroup of the container found")
    bad = {k: v for k, v in owners.items() if v != (0, 0)}
    expect(not bad, f"cgroup directories chowned: {bad}")


@check("mounts.idmap", 'config.md#configLinuxMountOptions: "If `uidMappings` or `gidMappings` are specified for the mount, the runtime MUST use those values for the mount\'s mapping."',
       'config.md#configLinuxMountOptions: "This option SHOULD NOT be passed to the underlying `mount(2)` call."',
       'config.md#configLinuxMountOptions: "`idmap` | SHOULD"')
def mounts_idmap(ctx):
    """A bind with idmap and mappings 0 -> 1000 (size 1) over host files of 0:0 and 1000:1000:
    the ids seen through it are mapped (either direction of the mapping is accepted: 0 shows
    as 1000 and 1000 as unmapped, or 1000 shows as 0 and 0 as unmapped)."""
    host = os.path.join(ctx.workdir, ctx.rt.name, f"idmap{ctx.new_id()}")
    os.makedirs(host)
    for name, ids in (("f0", 0), ("f1000", 1000)):
        with open(os.path.join(host, name), "w") as f:
            f.write("x")
        os.chown(os.path.join(host, name), ids, ids)
    m = {"destination": "/mnt/i", "type": "bind", "source": host, "options": ["bind", "idmap"],
         "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
         "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}
    out = ctx.run("stat -c '%u:%g' /mnt/i/f0 /mnt/i/f1000", edit=lambda c: c["mounts"].append(m)).out.split()
    ok = (["1000:1000", "65534:65534"], ["65534:65534", "0:0"])
    expect(out in [list(o) for o in ok], f"through the idmapped mount 0:0 shows as {out[:1]} and 1000:1000 as {out[1:2]}: "
           "no mapping applied" if out == ["0:0", "1000:1000"] else f"unexpected ids {out}")


@check("mounts.ridmap", 'config.md#configLinuxMountOptions: "`ridmap` | SHOULD"')
def mounts_ridmap(ctx):
    """An rbind with ridmap over a host directory with a tmpfs mounted inside it: the ids are
    mapped in the submount too (idmap alone would map the top mount only). The host tmpfs
    is unmounted before anything is removed."""
    import subprocess as sp
    host = os.path.join(ctx.workdir, ctx.rt.name, f"ridmap{ctx.new_id()}")
    sub = os.path.join(host, "sub")
    os.makedirs(sub)
    if sp.run(["mount", "-t", "tmpfs", "-o", "size=64k", "cfridmap", sub], capture_output=True).returncode != 0:
        raise Skip("cannot mount a tmpfs on the host")
    try:
        for d in (host, sub):
            with open(os.path.join(d, "f0"), "w") as f:
                f.write("x")
        m = {"destination": "/mnt/r", "type": "bind", "source": host, "options": ["rbind", "ridmap"],
             "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
             "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}
        out = ctx.run("stat -c '%u:%g' /mnt/r/f0 /mnt/r/sub/f0", edit=lambda c: c["mounts"].append(m)).out.split()
    finally:
        sp.run(["umount", "-l", sub], capture_output=True)
    expect(len(out) == 2 and out[0] == out[1] and out[0] != "0:0",
           f"0:0 files show as {out} through the top mount and the submount (both must be mapped alike)")


@check("mounts.mappings_pair", 'config.md#configPOSIXMounts: "If specified, it MUST be specified along with `gidMappings`."',
       'config.md#configPOSIXMounts: "If specified, it MUST be specified along with `uidMappings`."', R_INVALID)
def mounts_mappings_pair(ctx):
    host = os.path.join(ctx.workdir, ctx.rt.name, f"idmap{ctx.new_id()}")
    os.makedirs(host)
    mp = [{"containerID": 0, "hostID": 1000, "size": 1}]
    for have in ("uidMappings", "gidMappings"):
        expect_create_error(ctx, lambda c: c["mounts"].append(
            {"destination": "/mnt/i", "type": "bind", "source": host, "options": ["bind", "idmap"], have: mp}),
            f"a mount with {have} only")


# --- network devices --------------------------------------------------------------------

class _Veth:
    """A veth pair on the host (cfvA<tag> moves into the container, cfvB<tag> stays)."""

    def __init__(self, ctx):
        n = ctx.new_id().split("-")[-1]
        self.a, self.b = f"cfa{ctx.tag}{n}"[:15], f"cfb{ctx.tag}{n}"[:15]
        r = subprocess.run(["ip", "link", "add", self.a, "type", "veth", "peer", "name", self.b], capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip(f"cannot make a veth pair on the host: {r.stderr.strip()}")
        subprocess.run(["ip", "addr", "add", "10.254.13.1/30", "dev", self.a], check=True)

    def on_host(self) -> bool:
        return subprocess.run(["ip", "link", "show", self.a], capture_output=True).returncode == 0

    def close(self):
        for n in (self.a, self.b):
            subprocess.run(["ip", "link", "del", n], capture_output=True)


def _netdev_probe(ctx):
    def probe():
        v = _Veth(ctx)
        try:
            b = ctx.bundle(script="ip -o addr show dev cfeth0; ip -o link show dev cfeth0")
            b.cfg["linux"]["netDevices"] = {v.a: {"name": "cfeth0"}}
            b.write()
            c = ctx.container(b)
            c.create()
            res = {"on_host_created": v.on_host()}
            c.start()
            c.wait()
            res["out"] = c.stdout()
            c.delete()
            res["on_host_deleted"] = v.on_host()
            return res
        finally:
            v.close()
    return ctx.once("netdev", probe)


@check("netdevices.moved", 'config-linux.md#configLinuxNetworkDevices: "A set of network devices that MUST be made available in the container."')
def netdev_moved(ctx):
    r = _netdev_probe(ctx)
    expect("cfeth0" in r["out"], f"no cfeth0 in the container: {r['out'].strip()[:100]!r}")
    expect(not r["on_host_created"], "the interface is still on the host after create")


@check("netdevices.up", 'config-linux.md#configLinuxNetworkDevices: "The runtime MUST set the network device state to \\"up\\" after moving it"')
def netdev_up(ctx):
    out = _netdev_probe(ctx)["out"]
    link = [ln for ln in out.splitlines() if "link/" in ln or "mtu" in ln]
    expect(link and ",UP" in link[0] or "<UP" in (link[0] if link else ""), f"link: {link[0][:100] if link else 'missing'}")


@check("netdevices.addresses", 'config-linux.md#configLinuxNetworkDevices: "The runtime MUST preserve existing network interface attributes, including all permanent IP addresses"')
def netdev_addresses(ctx):
    out = _netdev_probe(ctx)["out"]
    expect("10.254.13.1/30" in out, f"the address 10.254.13.1/30 is gone: {out.strip()[:120]!r}")


@check("netdevices.not_moved_back", 'config-linux.md#namespace-lifecycle-and-container-termination: "The runtime MUST NOT attempt to move the interface out of the namespace before deletion."')
def netdev_not_back(ctx):
    r = _netdev_probe(ctx)
    expect("cfeth0" in r["out"], "the interface was not moved in the first place")
    expect(not r["on_host_deleted"], "the (virtual) interface came back to the host at delete")


@check("netdevices.name_exists", 'config-linux.md#configLinuxNetworkDevices: "If a network device with the specified name already exists in the container namespace, the runtime MUST generate an error"')
def netdev_name_exists(ctx):
    """Moving an interface in under the name 'lo' fails, and the interface stays on the host."""
    v = _Veth(ctx)
    try:
        expect_create_error(ctx, lambda c: c["linux"].update(netDevices={v.a: {"name": "lo"}}), "a network device named lo")
        expect(v.on_host(), "the interface left the host although create failed")
    finally:
        v.close()


@check("netdevices.template", 'config-linux.md#configLinuxNetworkDevices: "In that case, the runtime MUST allow the move, and the kernel will generate a unique name for the interface within the container\'s network namespace."')
def netdev_template(ctx):
    """A new name with a `%d` template: the move is allowed and the kernel names it (cft0...)."""
    v = _Veth(ctx)
    try:
        r = ctx.run("ip -o link show", edit=lambda c: c["linux"].update(netDevices={v.a: {"name": "cft%d"}}))
        names = [ln.split(":")[1].strip().split("@")[0] for ln in r.out.splitlines() if ln.count(":") >= 2]
        expect(any(n.startswith("cft") and n[3:].isdigit() for n in names), f"no cft<N> in the container: {names}")
    finally:
        v.close()


# --- the seccomp notify listener (listenerPath) -------------------------------------------

class _Listener:
    """A SOCK_STREAM unix socket that records every connection: the bytes, and which recvmsg
    calls carried SCM_RIGHTS file descriptors (closed at once)."""

    def __init__(self, path: str):
        import socket
        import threading
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.conns: list[dict] = []
        self.stop = False
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        import array
        import socket
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            rec = {"data": b"", "fd_calls": [], "nfds": 0, "closed": False}
            conn.settimeout(5)
            n = 0
            try:
                while True:
                    data, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
                    for level, typ, payload in anc:
                        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                            fds = array.array("i")
                            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                            rec["nfds"] += len(fds)
                            rec["fd_calls"].append(n)
                            for fd in fds:
                                os.close(fd)
                    if not data and not anc:
                        rec["closed"] = True
                        break
                    rec["data"] += data
                    n += 1
            except OSError:
                pass
            conn.close()
            self.conns.append(rec)

    def close(self):
        self.stop = True
        self.t.join(2)
        self.sock.close()


def _notify_seccomp(listener: str | None):
    s = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
         "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_NOTIFY"}], "listenerMetadata": "cf-meta"}
    if listener:
        s["listenerPath"] = listener
    return s


def _listener_probe(ctx):
    def probe():
        import json
        path = os.path.join(ctx.workdir, ctx.rt.name, f"seccomp-{ctx.new_id()}.sock")
        ls = _Listener(path)
        try:
            b = ctx.bundle(script="echo ran", edit=lambda c: c["linux"].update(seccomp=_notify_seccomp(path)))
            c = ctx.container(b)
            c.create()
            cid = c.id
            c.start()
            c.wait()
            out = c.stdout()
            c.delete()
            time.sleep(0.3)
        finally:
            ls.close()
        conns = list(ls.conns)
        states = []
        for rec in conns:
            try:
                states.append(json.loads(rec["data"].decode()))
            except ValueError:
                states.append(None)
        return {"conns": conns, "states": states, "id": cid, "out": out}
    return ctx.once("listener", probe)


@check("seccomp.listener_state", 'config-linux.md#configLinuxSeccomp: "This socket MUST use `AF_UNIX` domain and `SOCK_STREAM` type."',
       'config-linux.md#containerprocessstate: "The container runtime MUST send the container process state over the UNIX socket as regular payload serialized in JSON"')
def seccomp_listener_state(ctx):
    """The runtime connects to the SOCK_STREAM listener and sends the container process state:
    JSON with ociVersion, fds ["seccompFd"], pid, metadata and the container's state."""
    r = _listener_probe(ctx)
    expect(r["conns"], "no connection to the seccomp listener (listenerPath)")
    s = r["states"][0]
    expect(isinstance(s, dict), f"the payload is not JSON: {r['conns'][0]['data'][:60]!r}")
    bad = []
    if "seccompFd" not in (s.get("fds") or []):
        bad.append(f"fds {s.get('fds')!r}")
    if not isinstance(s.get("pid"), int) or s["pid"] <= 0:
        bad.append(f"pid {s.get('pid')!r}")
    if s.get("metadata") != "cf-meta":
        bad.append(f"metadata {s.get('metadata')!r}")
    st = s.get("state") or {}
    if st.get("id") != r["id"]:
        bad.append(f"state.id {st.get('id')!r}")
    expect(not bad, "container process state: " + ", ".join(bad))
    expect("ran" in r["out"], "the container did not run")


@check("seccomp.listener_fds", 'config-linux.md#containerprocessstate: "file descriptors MUST be sent using `SCM_RIGHTS`."',
       'config-linux.md#containerprocessstate: "If more than one `sendmsg(2)` is used, the file descriptors MUST be sent only in the first call."')
def seccomp_listener_fds(ctx):
    r = _listener_probe(ctx)
    expect(r["conns"], "no connection to the seccomp listener")
    rec, s = r["conns"][0], r["states"][0] or {}
    want = len(s.get("fds") or [])
    expect(rec["nfds"] == want and want > 0, f"{rec['nfds']} fds by SCM_RIGHTS for fds {s.get('fds')!r}")
    expect(rec["fd_calls"] == [0], f"fds came with the messages {rec['fd_calls']}, want only the first")


@check("seccomp.listener_connection", 'config-linux.md#configLinuxSeccomp: "The runtime MUST send exactly one container process state per connection."',
       'config-linux.md#configLinuxSeccomp: "The connection MUST NOT be reused and it MUST be closed after sending a seccomp state."')
def seccomp_listener_connection(ctx):
    r = _listener_probe(ctx)
    expect(len(r["conns"]) == 1, f"{len(r['conns'])} connections for one container, want 1")
    expect(r["conns"][0]["closed"], "the runtime did not close the connection")
    expect(r["states"][0] is not None, "the connection held more than one JSON document (or none)")


@check("seccomp.listener_unreachable", 'config-linux.md#configLinuxSeccomp: "If sending to this socket fails, the runtime MUST generate an error."')
def seccomp_listener_unreachable(ctx):
    path = os.path.join(ctx.workdir, ctx.rt.name, "no-such-listener.sock")
    expect_create_error(ctx, lambda c: c["linux"].update(seccomp=_notify_seccomp(path)), "a listenerPath nobody listens on")


@check("memory_policy.applied", R_APPLY)
def memory_policy(ctx):
    """linux.memoryPolicy MPOL_INTERLEAVE on node 0: the container's mappings are interleaved."""
    if not os.path.exists("/proc/self/numa_maps"):
        raise Skip("the kernel has no NUMA support (/proc/self/numa_maps)")
    out = ctx.run("grep -c interleave /proc/self/numa_maps",
                  edit=lambda c: c["linux"].update(memoryPolicy={"mode": "MPOL_INTERLEAVE", "nodes": "0"})).out.strip()
    expect(out.isdigit() and int(out) > 0, f"no interleaved mapping in numa_maps ({out!r})")


def _lsm_enabled(name: str) -> bool:
    if name == "apparmor":
        try:
            with open("/sys/module/apparmor/parameters/enabled") as f:
                return f.read().strip() == "Y"
        except OSError:
            return False
    return os.path.exists("/sys/fs/selinux/enforce")


@check("lsm.apparmor_unavailable", R_CANNOT_APPLY)
def lsm_apparmor(ctx):
    """process.apparmorProfile on a host without AppArmor cannot be applied: create fails."""
    if _lsm_enabled("apparmor"):
        raise Skip("AppArmor is enabled on this host")
    expect_create_error(ctx, lambda c: c["process"].update(apparmorProfile="cf-profile"), "apparmorProfile without AppArmor")


@check("lsm.selinux_unavailable", R_CANNOT_APPLY)
def lsm_selinux(ctx):
    """process.selinuxLabel on a host without SELinux cannot be applied: create fails."""
    if _lsm_enabled("selinux"):
        raise Skip("SELinux is enabled on this host")
    expect_create_error(ctx, lambda c: c["process"].update(selinuxLabel="system_u:system_r:container_t:s0:c1,c2"),
                        "selinuxLabel without SELinux")
