"""Checks of config.md: ociVersion, root, mounts and mount options, process, hostname,
hooks, annotations, extensibility and invalid values."""
from __future__ import annotations

import os
import time

from .checks_runtime import R_CANNOT_APPLY, R_LC_RUN, R_START_RUN, expect_create_error, pid_alive
from .framework import (DEFAULT_CAPS, Fail, Skip, cap_mask, cap_names, check, dump, expect, find_mount,
                        parse_limits, parse_mountinfo, parse_status, sections)

R_APPLY = 'runtime.md#runtimeCreate: "All of the properties configured in `config.json` except for `process` MUST be applied."'
R_LC_ENV = 'runtime.md#runtimeLifecycle: "The container\'s runtime environment MUST be created according to the configuration in `config.json`."'
R_INVALID = 'config.md#valid-values: "Runtimes MUST generate an error when invalid or unsupported values are encountered."'


# --- ociVersion, unknown properties, invalid values ---------------------------------------

@check("config.oci_version_invalid", R_INVALID,
       'config.md#configSpecificationVersion: "MUST be in SemVer v2.0.0 format"')
def oci_version_invalid(ctx):
    """An ociVersion that is not SemVer is an invalid value: create fails."""
    expect_create_error(ctx, lambda c: c.update(ociVersion="not-a-version"), "ociVersion 'not-a-version'")


@check("config.oci_version_unsupported", R_INVALID)
def oci_version_unsupported(ctx):
    """A config for a future major version of the spec (2.0.0) is unsupported: create fails."""
    expect_create_error(ctx, lambda c: c.update(ociVersion="2.0.0"), "ociVersion 2.0.0")


@check("config.oci_version_older", R_LC_ENV)
def oci_version_older(ctx):
    """A config of an older 1.x version (1.0.0) runs."""
    out = ctx.run("echo ok", edit=lambda c: c.update(ociVersion="1.0.0")).out
    expect(out.strip() == "ok", f"stdout {out!r}")


@check("config.unknown_properties", 'config.md#configExtensibility: "Runtimes MAY log unknown properties but MUST otherwise ignore them."')
def unknown_properties(ctx):
    """Unknown properties at the top level, in process, root, linux and a mount are ignored."""
    def edit(cfg):
        cfg["conformanceUnknown"] = {"a": [1, 2]}
        cfg["process"]["conformanceUnknown"] = True
        cfg["root"]["conformanceUnknown"] = "x"
        cfg["linux"]["conformanceUnknown"] = {"b": None}
        cfg["mounts"][0]["conformanceUnknown"] = 1
    out = ctx.run("echo ok", edit=edit).out
    expect(out.strip() == "ok", f"stdout {out!r}")


@check("config.invalid_values", R_INVALID)
def invalid_values(ctx):
    """Wrong types and unknown enumerated values are refused: uid 'root', namespace type 'bogus',
    terminal 'yes', mounts not an array."""
    cases = {
        "process.user.uid 'root'": lambda c: c["process"]["user"].update(uid="root"),
        "linux.namespaces type 'bogus'": lambda c: c["linux"]["namespaces"].append({"type": "bogus"}),
        "process.terminal 'yes'": lambda c: c["process"].update(terminal="yes"),
        "mounts {}": lambda c: c.update(mounts={}),
    }
    for what, edit in cases.items():
        expect_create_error(ctx, edit, what)


# --- root -------------------------------------------------------------------------------

@check("root.path", R_APPLY)
def root_path(ctx):
    """root.path other than 'rootfs', relative to the bundle or absolute, is the container's /."""
    b = ctx.bundle(script="cat /marker")
    os.rename(b.rootfs, os.path.join(b.path, "other-root"))
    with open(os.path.join(b.path, "other-root", "marker"), "w") as f:
        f.write("relative")
    b.cfg["root"]["path"] = "other-root"
    b.write()
    out = ctx.run(bundle=b).out
    expect(out.strip() == "relative", f"with root.path 'other-root' the container read {out.strip()!r}")
    b2 = ctx.bundle(script="cat /marker")
    with open(os.path.join(b2.rootfs, "marker"), "w") as f:
        f.write("absolute")
    b2.cfg["root"]["path"] = b2.rootfs
    b2.write()
    out = ctx.run(bundle=b2).out
    expect(out.strip() == "absolute", f"with an absolute root.path the container read {out.strip()!r}")


@check("root.missing", 'config.md#configRoot: "A directory MUST exist at the path declared by the field."', R_CANNOT_APPLY)
def root_missing(ctx):
    expect_create_error(ctx, lambda c: c["root"].update(path="no-such-rootfs"), "a root.path that does not exist")


@check("root.readonly", 'config.md#configRoot: "If true then the root filesystem MUST be read-only inside the container"')
def root_readonly(ctx):
    """readonly true: writing under / fails (and / is mounted ro); false: it works."""
    script = dump(("touch", "touch /cf-written && echo written || echo refused"),
                  ("mountinfo", "cat /proc/self/mountinfo"))
    out = sections(ctx.run(script, edit=lambda c: c["root"].update(readonly=True)).out)
    expect(out.get("touch", "").strip().endswith("refused"), f"readonly root: touch / -> {out.get('touch', '').strip()!r}")
    root = find_mount(parse_mountinfo(out.get("mountinfo", "")), "/")
    expect(root is not None and "ro" in root.opts, f"readonly root: / mounted {sorted(root.opts) if root else '?'}")
    out = sections(ctx.run(script, edit=lambda c: c["root"].update(readonly=False)).out)
    expect(out.get("touch", "").strip() == "written", f"readonly false: touch / -> {out.get('touch', '').strip()!r}")


# --- mounts -----------------------------------------------------------------------------

def _mountinfo_run(ctx, mounts, extra_script="") -> list:
    def edit(cfg):
        cfg["mounts"].extend(mounts)
    out = ctx.run(dump(("mountinfo", "cat /proc/self/mountinfo")) + extra_script, edit=edit).out
    return parse_mountinfo(sections(out).get("mountinfo", ""))


@check("mounts.order", 'config.md#configMounts: "The runtime MUST mount entries in the listed order."')
def mounts_order(ctx):
    """tmpfs /cfo, then tmpfs /cfo/a, then tmpfs /cfo/a/b: each is on top of the one before."""
    ms = _mountinfo_run(ctx, [{"destination": d, "type": "tmpfs", "source": "tmpfs"}
                              for d in ("/cfo", "/cfo/a", "/cfo/a/b")])
    m0, m1, m2 = (find_mount(ms, d) for d in ("/cfo", "/cfo/a", "/cfo/a/b"))
    expect(m0 and m1 and m2, "not all of /cfo, /cfo/a, /cfo/a/b are mounted")
    expect(m1.parent == m0.mount_id and m2.parent == m1.mount_id,
           "the mounts are not stacked in the listed order (a later entry is under an earlier one)")


@check("mounts.relative_destination", 'config.md#configMounts: "it MAY be a relative path, in which case it MUST be interpreted as relative to"')
def mounts_relative_destination(ctx):
    ms = _mountinfo_run(ctx, [{"destination": "cf-rel", "type": "tmpfs", "source": "tmpfs"}])
    expect(find_mount(ms, "/cf-rel") is not None, "a mount with destination 'cf-rel' is not at /cf-rel")


@check("mounts.types", R_APPLY, R_LC_ENV, 'config-linux.md#configLinuxDefaultFilesystems: "The following filesystems SHOULD be made available"')
def mounts_types(ctx):
    """The default mounts have their types: proc, sysfs, tmpfs, devpts, mqueue, cgroup."""
    ms = _mountinfo_run(ctx, [])
    want = {"/proc": "proc", "/sys": "sysfs", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
            "/dev/mqueue": "mqueue"}
    bad = []
    for d, t in want.items():
        m = find_mount(ms, d)
        if not m or m.fstype != t:
            bad.append(f"{d}: {m.fstype if m else 'not mounted'}")
    cg = [m for m in ms if m.point == "/sys/fs/cgroup" or m.point.startswith("/sys/fs/cgroup/")]
    if not any(m.fstype in ("cgroup", "cgroup2") for m in cg):
        bad.append("/sys/fs/cgroup: no cgroup filesystem")
    expect(not bad, "; ".join(bad))


@check("mounts.bind", 'config.md#configLinuxMountOptions: "`bind` | MUST"', R_APPLY)
def mounts_bind(ctx):
    """A bind mount of a host directory shows its files; writes reach the host."""
    host = os.path.join(ctx.workdir, ctx.rt.name, f"bindsrc{ctx.new_id()}")
    os.makedirs(host)
    with open(os.path.join(host, "f"), "w") as f:
        f.write("from-host")

    def edit(cfg):
        cfg["mounts"].append({"destination": "/mnt/b", "type": "bind", "source": host, "options": ["bind"]})
    out = ctx.run("cat /mnt/b/f; echo from-ctr > /mnt/b/g", edit=edit).out
    expect(out.strip() == "from-host", f"read {out.strip()!r} through the bind mount")
    expect(os.path.exists(os.path.join(host, "g")), "a write through the bind mount did not reach the host")


@check("mounts.fs_specific_options", 'config.md#configLinuxMountOptions: "Runtimes SHOULD treat unknown options as filesystem-specific ones"',
       'config.md#configLinuxMountOptions: "If a custom option string is already recognized by `mount(8)`, the runtime SHOULD follow the behavior of `mount(8)`."')
def mounts_fs_specific(ctx):
    """Options that are not flags (size=, mode=) reach the filesystem as data."""
    ms = _mountinfo_run(ctx, [{"destination": "/cfd", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=0700", "nosuid"]}])
    m = find_mount(ms, "/cfd")
    expect(m is not None, "/cfd is not mounted")
    expect("size=1024k" in m.super_opts and "mode=700" in m.super_opts, f"tmpfs options {sorted(m.super_opts)}, want size=1024k, mode=700")
    expect("nosuid" in m.opts, f"flags {sorted(m.opts)}, want nosuid")


@check("mounts.idmap_without_userns", 'config.md#configLinuxMountOptions: "If there are no `uidMappings` and `gidMappings` specified and the container isn\'t using user namespaces, an error MUST be returned."')
def mounts_idmap_without_userns(ctx):
    host = os.path.join(ctx.workdir, ctx.rt.name, f"idmap{ctx.new_id()}")
    os.makedirs(host)
    for opt in ("idmap", "ridmap"):
        expect_create_error(ctx, lambda c: c["mounts"].append(
            {"destination": "/mnt/i", "type": "bind", "source": host, "options": ["bind", opt]}),
            f"an `{opt}` mount without mappings nor user namespace")


# The option probes: each case mounts under /cfm/<case>; one container for all cases of a
# group (falling back to one container per case when the group's create fails, so one
# unsupported option does not hide the others).

def _has(flag, where="opts"):
    return (lambda m: flag in getattr(m, where)), f"{flag} set"


def _lacks(flag, where="opts"):
    return (lambda m: flag not in getattr(m, where)), f"{flag} not set"


def _accepted():
    return (lambda m: m.fstype == "tmpfs"), "mounted"


def _strict():
    return (lambda m: not ({"noatime", "relatime"} & m.opts)), "neither noatime nor relatime"


def _tmpfs(dest, opts):
    return {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": list(opts)}


BASIC = {
    "ro": (["ro"], _has("ro")), "rw": (["ro", "rw"], _has("rw")),
    "nosuid": (["nosuid"], _has("nosuid")), "suid": (["nosuid", "suid"], _lacks("nosuid")),
    "nodev": (["nodev"], _has("nodev")), "dev": (["nodev", "dev"], _lacks("nodev")),
    "noexec": (["noexec"], _has("noexec")), "exec": (["noexec", "exec"], _lacks("noexec")),
    "noatime": (["noatime"], _has("noatime")), "atime": (["noatime", "atime"], _lacks("noatime")),
    "relatime": (["relatime"], _has("relatime")), "strictatime": (["noatime", "strictatime"], _strict()),
    "nodiratime": (["nodiratime"], _has("nodiratime")), "diratime": (["nodiratime", "diratime"], _lacks("nodiratime")),
    "nosymfollow": (["nosymfollow"], _has("nosymfollow")), "symfollow": (["nosymfollow", "symfollow"], _lacks("nosymfollow")),
    "sync": (["sync"], _has("sync", "super_opts")), "async": (["sync", "async"], _lacks("sync", "super_opts")),
    "dirsync": (["dirsync"], _has("dirsync", "super_opts")),
    "lazytime": (["lazytime"], _has("lazytime", "super_opts")),
    "nolazytime": (["lazytime", "nolazytime"], _lacks("lazytime", "super_opts")),
    "iversion": (["iversion"], _accepted()), "noiversion": (["noiversion"], _accepted()),
    "loud": (["loud"], _accepted()), "silent": (["silent"], _accepted()), "defaults": (["defaults"], _accepted()),
    "norelatime": (["norelatime"], _accepted()), "nostrictatime": (["nostrictatime"], _accepted()),
}

# recursive options: applied to an rbind of a tree whose submount "sub" has every flag set
# (clearing options) or none (setting options); the check looks at the copy of "sub"
_FLAGGED = ["nodev", "noexec", "nosuid", "nosymfollow", "ro", "nodiratime", "noatime"]
RECURSIVE = {
    "rdev": ("flagged", _lacks("nodev")), "rexec": ("flagged", _lacks("noexec")),
    "rsuid": ("flagged", _lacks("nosuid")), "rsymfollow": ("flagged", _lacks("nosymfollow")),
    "rrw": ("flagged", _has("rw")), "rdiratime": ("flagged", _lacks("nodiratime")),
    "ratime": ("flagged", _lacks("noatime")), "rrelatime": ("flagged", _has("relatime")),
    "rstrictatime": ("flagged", _strict()),
    "rro": ("plain", _has("ro")), "rnosuid": ("plain", _has("nosuid")),
    "rnoexec": ("plain", _has("noexec")), "rnosymfollow": ("plain", _has("nosymfollow")),
    "rnodiratime": ("plain", _has("nodiratime")), "rnoatime": ("plain", _has("noatime")),
    "rnorelatime": ("plain", _accepted()), "rnostrictatime": ("plain", _accepted()),
}

PROPAGATION = {
    "shared": ("tmpfs", ["shared"], (lambda m: m.peer("shared")), "a peer group (shared:N)"),
    "rshared": ("tmpfs", ["rshared"], (lambda m: m.peer("shared")), "a peer group (shared:N)"),
    "unbindable": ("tmpfs", ["unbindable"], (lambda m: m.peer("unbindable")), "unbindable"),
    "runbindable": ("tmpfs", ["runbindable"], (lambda m: m.peer("unbindable")), "unbindable"),
    "private": ("bind", ["bind", "private"], (lambda m: not m.optional), "no propagation (a bind of a shared mount)"),
    "rprivate": ("bind", ["rbind", "rprivate"], (lambda m: not m.optional), "no propagation (a bind of a shared mount)"),
    "slave": ("bind", ["bind", "slave"], (lambda m: m.peer("master") and not m.peer("shared")), "master:N only"),
    "rslave": ("bind", ["rbind", "rslave"], (lambda m: m.peer("master") and not m.peer("shared")), "master:N only"),
}


def _case_mounts(group, name, rootfs):
    """(mounts, the path to look at) of one option case."""
    if group == "basic":
        return [_tmpfs(f"/cfm/{name}", BASIC[name][0])], f"/cfm/{name}"
    if group == "recursive":
        src = RECURSIVE[name][0]
        base = [_tmpfs(f"/cfsrc/{src}", []), _tmpfs(f"/cfsrc/{src}/sub", _FLAGGED if src == "flagged" else [])]
        return base + [{"destination": f"/cfm/{name}", "type": "bind", "source": f"{rootfs}/cfsrc/{src}",
                        "options": ["rbind", name]}], f"/cfm/{name}/sub"
    kind, opts, _, _ = PROPAGATION[name]
    if kind == "tmpfs":
        return [_tmpfs(f"/cfm/{name}", opts)], f"/cfm/{name}"
    return [_tmpfs("/cfsrc/shared", ["shared"]),
            {"destination": f"/cfm/{name}", "type": "bind", "source": f"{rootfs}/cfsrc/shared", "options": opts}], f"/cfm/{name}"


def _probe_mounts(ctx, group, names):
    b = ctx.bundle(script=dump(("mountinfo", "cat /proc/self/mountinfo")))
    seen = set()
    for n in names:
        for m in _case_mounts(group, n, b.rootfs)[0]:
            if m["destination"] not in seen:
                seen.add(m["destination"])
                b.cfg["mounts"].append(m)
    b.write()
    return parse_mountinfo(sections(ctx.run(bundle=b).out).get("mountinfo", ""))


def _option_mount(ctx, group, name, names):
    try:
        ms = ctx.once(("mountopts", group), lambda: _probe_mounts(ctx, group, names))
    except Fail:
        ms = ctx.once(("mountopt", group, name), lambda: _probe_mounts(ctx, group, [name]))
    path = _case_mounts(group, name, "")[1]
    m = find_mount(ms, path)
    if m is None:
        raise Fail(f"nothing is mounted at {path}")
    return m


def _option_check(group, name, names, level):
    quote = f"`{name}` | {level}" if name != "rrelatime" else "`rrelatime"
    opts = {"basic": lambda: BASIC[name][0], "recursive": lambda: ["rbind", name],
            "propagation": lambda: PROPAGATION[name][1]}[group]()

    def run(ctx):
        m = _option_mount(ctx, group, name, names)
        if group == "propagation":
            pred, desc = PROPAGATION[name][2], PROPAGATION[name][3]
        else:
            pred, desc = (BASIC[name][1] if group == "basic" else RECURSIVE[name][1])
        expect(pred(m), f"options {opts}: want {desc}; mountinfo has {','.join(sorted(m.opts))}"
               f" {' '.join(m.optional)} - {','.join(sorted(m.super_opts))}")
    run.__doc__ = f"mount option {name} (options {opts})"
    check(f"mounts.option.{name}", f'config.md#configLinuxMountOptions: "{quote}"')(run)


for _n in BASIC:
    _option_check("basic", _n, list(BASIC), "SHOULD" if "symfollow" in _n else "MUST")
for _n in RECURSIVE:
    _option_check("recursive", _n, list(RECURSIVE), "SHOULD")
for _n in PROPAGATION:
    _option_check("propagation", _n, list(PROPAGATION), "MUST")


@check("mounts.option.rbind", 'config.md#configLinuxMountOptions: "`rbind` | MUST"')
def mounts_rbind(ctx):
    """rbind copies submounts; bind does not."""
    b = ctx.bundle(script=dump(("mountinfo", "cat /proc/self/mountinfo")))
    b.cfg["mounts"] += [_tmpfs("/cfsrc/t", []), _tmpfs("/cfsrc/t/sub", []),
                        {"destination": "/cfm/rbind", "type": "bind", "source": f"{b.rootfs}/cfsrc/t", "options": ["rbind"]},
                        {"destination": "/cfm/bind", "type": "bind", "source": f"{b.rootfs}/cfsrc/t", "options": ["bind"]}]
    b.write()
    ms = parse_mountinfo(sections(ctx.run(bundle=b).out).get("mountinfo", ""))
    expect(find_mount(ms, "/cfm/rbind/sub") is not None, "rbind did not copy the submount")
    expect(find_mount(ms, "/cfm/bind/sub") is None, "bind copied a submount (should be rbind only)")


@check("mounts.option.remount", 'config.md#configLinuxMountOptions: "`remount` | MUST"')
def mounts_remount(ctx):
    """A second entry with remount,ro on a mount point makes that mount read-only."""
    ms = _mountinfo_run(ctx, [_tmpfs("/cfm/remount", []), _tmpfs("/cfm/remount", ["remount", "ro"])])
    found = [m for m in ms if m.point == "/cfm/remount"]
    expect(len(found) == 1, f"{len(found)} mounts at /cfm/remount, want 1 (remounted, not stacked)")
    expect("ro" in found[0].opts or "ro" in found[0].super_opts, f"after remount,ro: {sorted(found[0].opts)}")


# --- process ----------------------------------------------------------------------------

def _proc(ctx, script, edit=None):
    return ctx.run(script, edit=edit).out


@check("process.args", R_START_RUN, R_LC_RUN)
def process_args(ctx):
    """args reach the program verbatim (spaces, empty strings, quotes)."""
    args = ["sh", "-c", 'printf "[%s]" "$0" "$@"', "a b", "", "'q'", "$HOME"]
    out = ctx.run(args=args).out
    expect(out == "[a b][]['q'][$HOME]", f"printed {out!r}")


@check("process.args_path_lookup", R_START_RUN)
def process_args_path(ctx):
    """args[0] without a slash is looked up in the PATH of process.env (execvp)."""
    out = ctx.run(args=["echo", "found"], edit=lambda c: c["process"].update(env=["PATH=/bin"])).out
    expect(out.strip() == "found", f"printed {out.strip()!r}")


@check("process.env", R_START_RUN)
def process_env(ctx):
    """The environment holds the configured entries."""
    env = ["PATH=/bin:/usr/bin", "CF_A=1", "CF_SPACE=a b", "CF_EQ=x=y", "CF_EMPTY="]
    out = ctx.run(args=["sh", "-c", "tr '\\0' '\\n' < /proc/$$/environ; echo"],
                  edit=lambda c: c["process"].update(env=env)).out
    got = set(out.splitlines())
    missing = [e for e in env if e not in got]
    expect(not missing, f"missing from the environment: {missing}")


@check("process.cwd", R_START_RUN)
def process_cwd(ctx):
    out = ctx.run("pwd", edit=lambda c: c["process"].update(cwd="/tmp")).out
    expect(out.strip() == "/tmp", f"pwd printed {out.strip()!r}, want /tmp")


@check("process.cwd_relative", 'config.md#configProcess: "This value MUST be an absolute path."', R_INVALID)
def process_cwd_relative(ctx):
    expect_create_error(ctx, lambda c: c["process"].update(cwd="tmp"), "a relative process.cwd")


@check("process.user", R_START_RUN)
def process_user(ctx):
    """uid, gid and additionalGids are the process's ids."""
    out = parse_status(ctx.run("cat /proc/self/status", edit=lambda c: c["process"].update(
        user={"uid": 1000, "gid": 1001, "additionalGids": [10, 20]})).out)
    uid, gid, groups = out.get("Uid", "").split(), out.get("Gid", "").split(), out.get("Groups", "").split()
    expect(uid[:4] == ["1000"] * 4, f"Uid {uid}, want 1000")
    expect(gid[:4] == ["1001"] * 4, f"Gid {gid}, want 1001")
    expect({"10", "20"} <= set(groups), f"Groups {groups}, want 10 and 20")


@check("process.umask", R_START_RUN)
def process_umask(ctx):
    out = parse_status(ctx.run("cat /proc/self/status", edit=lambda c: c["process"]["user"].update(umask=0o027)).out)
    expect(out.get("Umask") == "0027", f"Umask {out.get('Umask')}, want 0027")


def _caps(status):
    return {k: int(status.get(k, "0"), 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


@check("process.capabilities", R_START_RUN)
def process_capabilities(ctx):
    """root with bounding = effective = permitted = {CHOWN, KILL}: those and only those."""
    caps = ["CAP_CHOWN", "CAP_KILL"]
    out = parse_status(ctx.run("cat /proc/self/status", edit=lambda c: c["process"].update(
        capabilities={k: caps for k in ("bounding", "effective", "permitted")})).out)
    got = _caps(out)
    want = cap_mask(caps)
    bad = [f"{k} {cap_names(v)}" for k, v in got.items() if k in ("CapPrm", "CapEff", "CapBnd") and v != want]
    expect(not bad, f"want {caps}: " + "; ".join(bad))
    expect(got["CapInh"] == 0 and got["CapAmb"] == 0, f"CapInh {cap_names(got['CapInh'])}, CapAmb {cap_names(got['CapAmb'])}, want none")


@check("process.capabilities_ambient", R_START_RUN)
def process_capabilities_ambient(ctx):
    """uid 1000 with an ambient NET_BIND_SERVICE keeps it across exec; the other sets as configured."""
    bnd = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    inh = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]
    amb = ["CAP_NET_BIND_SERVICE"]

    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["capabilities"] = {"bounding": bnd, "permitted": bnd, "effective": bnd,
                                        "inheritable": inh, "ambient": amb}
    got = _caps(parse_status(ctx.run("cat /proc/self/status", edit=edit).out))
    want = {"CapBnd": bnd, "CapInh": inh, "CapAmb": amb, "CapPrm": amb, "CapEff": amb}
    bad = [f"{k} {cap_names(got[k])} (want {v})" for k, v in want.items() if got[k] != cap_mask(v)]
    expect(not bad, "; ".join(bad))


R_CAP_WARN = 'config.md#configLinuxProcess: "Any value which cannot be mapped to a relevant kernel interface, or cannot be granted otherwise MUST be logged as a warning by the runtime."'
R_CAP_NOFAIL = 'config.md#configLinuxProcess: "Runtimes SHOULD NOT fail if the container configuration requests capabilities that cannot be granted"'


def _unknown_cap_run(ctx):
    def probe():
        b = ctx.bundle(script="grep CapBnd /proc/self/status", edit=lambda c: c["process"]["capabilities"]["bounding"].append("CAP_CONFORMANCE_BOGUS"))
        c = ctx.container(b)
        log = b.file("runtime.log")
        r = c.create(check=False, global_args=["--log", log])
        created = r.rc == 0
        if created:
            c.start()
            c.wait()
        text = r.err + b.read("runtime.log", "")
        return created, text, c.stdout(), r.why
    return ctx.once("unknown_cap", probe)


@check("process.capabilities_unknown_warns", R_CAP_WARN, 'runtime.md#runtimeWarnings: "it MUST continue as if the warning had not been logged."')
def process_caps_unknown_warns(ctx):
    """An unknown capability name is logged as a warning (stderr or --log) and the container runs."""
    created, text, out, why = _unknown_cap_run(ctx)
    expect(created, f"create failed instead of warning: {why}")
    expect("CAP_CONFORMANCE_BOGUS" in text, "no warning naming CAP_CONFORMANCE_BOGUS on stderr or in --log")
    expect("CapBnd" in out, "the container did not run after the warning")


@check("process.capabilities_unknown_no_fail", R_CAP_NOFAIL)
def process_caps_unknown_nofail(ctx):
    created, _, _, why = _unknown_cap_run(ctx)
    expect(created, f"create failed: {why}")


@check("process.rlimits", 'config.md#configPOSIXProcess: "`rlim.rlim_cur` MUST match the configured value."',
       'config.md#configPOSIXProcess: "`rlim.rlim_max` MUST match the configured value."',
       'config.md#configPOSIXProcess: "For each entry in `rlimits`, a `getrlimit(3)` on `type` MUST succeed."')
def process_rlimits(ctx):
    rl = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000}, {"type": "RLIMIT_CORE", "soft": 4096, "hard": 8192},
          {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}]
    lim = parse_limits(ctx.run("cat /proc/self/limits", edit=lambda c: c["process"].update(rlimits=rl)).out)
    want = {"Max open files": ("512", "1000"), "Max core file size": ("4096", "8192"), "Max processes": ("300", "400")}
    bad = [f"{k} {lim.get(k)} (want {v})" for k, v in want.items() if lim.get(k) != v]
    expect(not bad, "; ".join(bad))


@check("process.rlimits_invalid", 'config.md#configPOSIXProcess: "The runtime MUST generate an error for any values which cannot be mapped to a relevant kernel interface."')
def process_rlimits_invalid(ctx):
    expect_create_error(ctx, lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_CONFORMANCE", "soft": 1, "hard": 1}]),
                        "rlimit type RLIMIT_CONFORMANCE")


@check("process.rlimits_duplicate", 'config.md#configPOSIXProcess: "If `rlimits` contains duplicated entries with same `type`, the runtime MUST generate an error."')
def process_rlimits_duplicate(ctx):
    expect_create_error(ctx, lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
                                                                    {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200}]),
                        "two RLIMIT_NOFILE entries")


@check("process.no_new_privileges", R_START_RUN)
def process_nnp(ctx):
    for val, want in ((True, "1"), (False, "0")):
        out = parse_status(ctx.run("cat /proc/self/status", edit=lambda c: c["process"].update(noNewPrivileges=val)).out)
        expect(out.get("NoNewPrivs") == want, f"noNewPrivileges {val}: NoNewPrivs {out.get('NoNewPrivs')}")


@check("process.oom_score_adj", 'config.md#configLinuxProcess: "If `oomScoreAdj` is set, the runtime MUST set `oom_score_adj` to the given value."')
def process_oom(ctx):
    out = ctx.run("cat /proc/self/oom_score_adj", edit=lambda c: c["process"].update(oomScoreAdj=345)).out
    expect(out.strip() == "345", f"oom_score_adj {out.strip()}, want 345")


@check("process.oom_score_adj_unset", 'config.md#configLinuxProcess: "If `oomScoreAdj` is not set, the runtime MUST NOT change the value of `oom_score_adj`."')
def process_oom_unset(ctx):
    """Without oomScoreAdj the container keeps the runtime's value (123 here, set on the runtime process)."""
    b = ctx.bundle(script="cat /proc/self/oom_score_adj")
    c = ctx.container(b)
    c.create(oom_score_adj=123)
    c.start()
    c.wait()
    out = c.stdout().strip()
    expect(out == "123", f"oom_score_adj {out}, want the runtime's 123")


@check("process.terminal_false", 'config.md#configProcess: "Runtimes MUST ignore `consoleSize` if `terminal` is `false` or unset."', R_START_RUN)
def process_terminal_false(ctx):
    """terminal false (with a consoleSize, ignored): no terminal on stdio, stdout is the runtime's."""
    out = ctx.run("for fd in 0 1 2; do [ -t $fd ] && echo tty$fd; done; echo done",
                  edit=lambda c: c["process"].update(terminal=False, consoleSize={"height": 11, "width": 33})).out
    expect(out.strip() == "done", f"printed {out.strip()!r}: a terminal is attached")


@check("process.scheduler", R_START_RUN)
def process_scheduler(ctx):
    """scheduler SCHED_BATCH with nice 7: /proc/self/stat policy 3, nice 7."""
    out = ctx.run("cat /proc/self/stat", edit=lambda c: c["process"].update(scheduler={"policy": "SCHED_BATCH", "nice": 7})).out
    f = out.rsplit(")", 1)[1].split()
    nice, policy = f[16], f[38]
    expect(policy == "3" and nice == "7", f"policy {policy}, nice {nice}; want 3 (SCHED_BATCH), 7")


@check("process.io_priority", R_START_RUN)
def process_io_priority(ctx):
    out = ctx.run("ionice -p $$", edit=lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 6})).out
    expect("best-effort" in out and "prio 6" in out, f"ionice: {out.strip()!r}, want best-effort prio 6")


# --- hostname, domainname ---------------------------------------------------------------

def _uts(ctx):
    return ctx.once("uts", lambda: sections(ctx.run(
        dump(("h", "cat /proc/sys/kernel/hostname"), ("d", "cat /proc/sys/kernel/domainname")),
        edit=lambda c: c.update(hostname="cf-host", domainname="cf.example")).out))


@check("config.hostname", R_APPLY)
def hostname(ctx):
    out = _uts(ctx)
    expect(out.get("h", "").strip() == "cf-host", f"hostname {out.get('h', '').strip()!r}, want cf-host")


@check("config.domainname", R_APPLY)
def domainname(ctx):
    out = _uts(ctx)
    expect(out.get("d", "").strip() == "cf.example", f"domainname {out.get('d', '').strip()!r}, want cf.example")


# --- annotations ------------------------------------------------------------------------

@check("config.annotations", 'config.md#configAnnotations: "Runtimes MUST handle unknown annotation keys like any other unknown property."',
       'runtime.md#runtimeQueryState: "This operation MUST return the state of a container as specified in the State section."')
def annotations(ctx):
    """Annotations (unknown keys included) are accepted and reported by state."""
    ann = {"org.example.conformance": "yes", "com.example.unknown-key": "a b", "org.opencontainers.image.os": "linux"}
    b = ctx.bundle(edit=lambda c: c.update(annotations=ann))
    c = ctx.container(b)
    c.create()
    got = c.state().get("annotations")
    expect(got == ann, f"state annotations {got}, want {ann}")


@check("config.annotations_invalid", 'config.md#configAnnotations: "Keys MUST NOT be an empty string."',
       'config.md#configAnnotations: "Annotations MUST be a key-value map."',
       'config.md#configAnnotations: "Values MUST be strings."', R_INVALID)
def annotations_invalid(ctx):
    expect_create_error(ctx, lambda c: c.update(annotations={"": "x"}), "an empty annotation key")
    expect_create_error(ctx, lambda c: c.update(annotations={"org.example.n": 1}), "an annotation value 1 (not a string)")
    expect_create_error(ctx, lambda c: c.update(annotations=[["org.example.k", "v"]]), "annotations that are a list, not a map")


# --- hooks ------------------------------------------------------------------------------

def _hook(log, name, outdir, extra=""):
    """A host hook: appends 'name mntns' to log, saves its stdin to outdir/name.json."""
    return {"path": "/bin/sh", "args": ["sh", "-c", f'{extra}echo "{name} $(readlink /proc/self/ns/mnt)" >> {log}; cat > {outdir}/{name}.json']}


def _hooks_run(ctx):
    def probe():
        b = ctx.bundle()
        out = b.file("out")
        os.makedirs(out)
        log = f"{out}/log"
        # a path only the host has (createContainer resolves in the runtime namespace), one only
        # the container has (startContainer resolves in the container namespace)
        hostsh = b.file("host-only-sh")
        os.symlink("/bin/sh", hostsh)
        os.makedirs(os.path.join(b.rootfs, "cfbin"))
        os.symlink("/bin/busybox", os.path.join(b.rootfs, "cfbin", "sh"))
        probe_mounted = f'[ -e {b.rootfs}/proc/self/status ] && echo mounted > {out}/cc-proc; '
        b.cfg["mounts"].append({"destination": "/out", "type": "bind", "source": out, "options": ["bind"]})
        b.cfg["process"]["args"] = ["sh", "-c", 'echo "program $(readlink /proc/self/ns/mnt)" >> /out/log; sleep 1']
        poststart_probe = f'p=$(sed "s/.*\\"pid\\": *\\([0-9]*\\).*/\\1/" {out}/poststart.json); tr "\\0" " " < /proc/$p/cmdline > {out}/poststart-cmdline; '
        b.cfg["hooks"] = {
            "prestart": [_hook(log, "prestart1", out), _hook(log, "prestart2", out)],
            "createRuntime": [_hook(log, "createRuntime", out)],
            "createContainer": [dict(_hook(log, "createContainer", out, probe_mounted), path=hostsh)],
            "startContainer": [{"path": "/cfbin/sh", "args": ["sh", "-c", 'echo "startContainer $(readlink /proc/self/ns/mnt)" >> /out/log; cat > /out/startContainer.json']}],
            "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", f'echo "poststart $(readlink /proc/self/ns/mnt)" >> {log}; cat > {out}/poststart.json; {poststart_probe}']}],
            "poststop": [_hook(log, "poststop", out)],
        }
        b.write()
        c = ctx.container(b)
        res = {"out": out, "id": c.id, "bundle": b.path}
        c.create()
        res["after_create"] = b.read("out/log", "")
        res["ctr_pid"] = c.state().get("pid")
        try:
            res["ctr_mntns"] = os.readlink(f"/proc/{res['ctr_pid']}/ns/mnt")
        except OSError:
            res["ctr_mntns"] = "?"
        c.start()
        res["after_start"] = b.read("out/log", "")
        c.wait()
        r = c.delete()
        res["delete_rc"] = r.rc
        res["after_delete"] = b.read("out/log", "")
        res["host_mntns"] = os.readlink("/proc/self/ns/mnt")
        res["cc_proc"] = b.read("out/cc-proc", "")
        res["poststart_cmdline"] = b.read("out/poststart-cmdline", "")
        import json
        res["states"] = {}
        for n in ("prestart1", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"):
            try:
                res["states"][n] = json.loads(b.read(f"out/{n}.json"))
            except (FileNotFoundError, ValueError):
                res["states"][n] = None
        return res
    return ctx.once("hooks", probe)


def _events(text):
    return [ln.split()[0] for ln in text.splitlines() if ln.strip()]


R_HOOK_ORDER = 'config.md#configHooks: "Hooks MUST be called in the listed order."'


@check("hooks.order", R_HOOK_ORDER,
       'config.md#configHooksPrestart: "The `prestart` hooks MUST be called before the `createRuntime` hooks."',
       'config.md#configHooksCreateContainer: "The `createContainer` hooks MUST be called after the `createRuntime` hooks."',
       'runtime.md#runtimeLifecycle: "The `prestart` hooks MUST be invoked by the runtime."',
       'runtime.md#runtimeLifecycle: "The `createRuntime` hooks MUST be invoked by the runtime."',
       'runtime.md#runtimeLifecycle: "The `createContainer` hooks MUST be invoked by the runtime."',
       'runtime.md#runtimeLifecycle: "The `startContainer` hooks MUST be invoked by the runtime."',
       'runtime.md#runtimeLifecycle: "The `poststart` hooks MUST be invoked by the runtime."',
       'runtime.md#runtimeLifecycle: "The `poststop` hooks MUST be invoked by the runtime."')
def hooks_order(ctx):
    """All six kinds run, each list in order: prestart1, prestart2, createRuntime,
    createContainer (at create), startContainer, the program (at start), poststart, poststop."""
    r = _hooks_run(ctx)
    ev = _events(r["after_delete"])
    want = ["prestart1", "prestart2", "createRuntime", "createContainer", "startContainer", "program"]
    got = [e for e in ev if e in want]
    expect(got == want, f"order {got}, want {want}")
    expect("poststart" in ev and "poststop" in ev and ev.index("poststop") == len(ev) - 1,
           f"events {ev}: want poststart, and poststop last")


@check("hooks.timing", 'config.md#configHooksCreateContainer: "The `createContainer` hooks MUST be called as part of the `create` operation after the runtime environment has been created"',
       'config.md#configHooksPrestart: "The `prestart` hooks MUST be called as part of the `create` operation"',
       'config.md#configHooksCreateRuntime: "The `createRuntime` hooks MUST be called as part of the `create` operation"',
       'config.md#configHooksStartContainer: "The `startContainer` hooks MUST be called before the user-specified process is executed as part of the `start` operation."',
       'config.md#configHooksPoststart: "The `poststart` hooks MUST be called after the user-specified process is executed but before the `start` operation returns."',
       'config.md#configHooksPoststop: "The `poststop` hooks MUST be called after the container is deleted but before the `delete` operation returns."')
def hooks_timing(ctx):
    """Which operation runs each hook; createContainer sees the container's mounts (rootfs/proc)
    before pivot_root; poststart sees the program already executed."""
    r = _hooks_run(ctx)
    at_create = _events(r["after_create"])
    expect(at_create == ["prestart1", "prestart2", "createRuntime", "createContainer"],
           f"after create: {at_create}, want the prestart, createRuntime, createContainer hooks")
    at_start = _events(r["after_start"])
    expect("startContainer" in at_start and "poststart" in at_start, f"after start returned: {at_start}")
    expect("poststop" not in at_start, "poststop ran before delete")
    expect("poststop" in _events(r["after_delete"]), "poststop had not run when delete returned")
    expect(r["cc_proc"].strip() == "mounted", "createContainer: <rootfs>/proc not mounted yet (or rootfs already pivoted)")
    cmd = r["poststart_cmdline"]
    expect("/out/log" in cmd or cmd.startswith("sleep 1"), f"poststart: the container process runs {cmd!r}, not the program")


@check("hooks.namespaces",
       'config.md#configHooksPrestart: "The `prestart` hooks MUST be executed in the runtime namespace."',
       'config.md#configHooksCreateRuntime: "The `createRuntime` hooks MUST be executed in the runtime namespace."',
       'config.md#configHooksCreateContainer: "The `createContainer` hooks MUST be executed in the container namespace."',
       'config.md#configHooksStartContainer: "The `startContainer` hooks MUST be executed in the container namespace."',
       'config.md#configHooksPoststart: "The `poststart` hooks MUST be executed in the runtime namespace."',
       'config.md#configHooksPoststop: "The `poststop` hooks MUST be executed in the runtime namespace."',
       'config.md#configHooks: "hooks MUST be executed in the"')
def hooks_namespaces(ctx):
    """prestart, createRuntime, poststart, poststop in the runtime's mount namespace;
    createContainer and startContainer in the container's."""
    r = _hooks_run(ctx)
    ns = {}
    for ln in r["after_delete"].splitlines():
        p = ln.split()
        if len(p) == 2:
            ns.setdefault(p[0], p[1])
    bad = []
    for n in ("prestart1", "createRuntime", "poststart", "poststop"):
        if ns.get(n) != r["host_mntns"]:
            bad.append(f"{n} in {ns.get(n)} (runtime: {r['host_mntns']})")
    for n in ("createContainer", "startContainer"):
        if ns.get(n) != r["ctr_mntns"]:
            bad.append(f"{n} in {ns.get(n)} (container: {r['ctr_mntns']})")
    expect(not bad, "; ".join(bad))


@check("hooks.paths",
       'config.md#configHooksCreateContainer: "The `createContainer` hooks\' path MUST resolve in the runtime namespace."',
       'config.md#configHooksStartContainer: "The `startContainer` hooks\' path MUST resolve in the container namespace."',
       'config.md#configHooksPrestart: "The `prestart` hooks\' path MUST resolve in the runtime namespace."',
       'config.md#configHooksCreateRuntime: "The `createRuntime` hooks\' path MUST resolve in the runtime namespace."',
       'config.md#configHooksPoststart: "The `poststart` hooks\' path MUST resolve in the runtime namespace."',
       'config.md#configHooksPoststop: "The `poststop` hooks\' path MUST resolve in the runtime namespace."',
       'config.md#configHooks: "MUST resolve in the"')
def hooks_paths(ctx):
    """A createContainer hook whose path exists only on the host and a startContainer hook whose
    path exists only in the container both run."""
    ev = _events(_hooks_run(ctx)["after_delete"])
    expect("createContainer" in ev, "the createContainer hook (a host-only path) did not run")
    expect("startContainer" in ev, "the startContainer hook (a container-only path) did not run")


@check("hooks.state_stdin", 'config.md#configHooks: "The state of the container MUST be passed to hooks over stdin"')
def hooks_state(ctx):
    """Each hook reads the state: id, bundle, the status of its step (creating at create,
    created for startContainer, running for poststart, stopped for poststop) and the pid as
    seen from the hook's namespace (1 in the container's)."""
    r = _hooks_run(ctx)
    want = {"prestart1": "creating", "createRuntime": "creating", "createContainer": "creating",
            "startContainer": "created", "poststart": "running", "poststop": "stopped"}
    bad = []
    for n, status in want.items():
        s = r["states"].get(n)
        if not isinstance(s, dict):
            bad.append(f"{n}: no state JSON on stdin")
            continue
        if s.get("id") != r["id"] or os.path.realpath(s.get("bundle", "")) != os.path.realpath(r["bundle"]):
            bad.append(f"{n}: id {s.get('id')!r} bundle {s.get('bundle')!r}")
        if s.get("status") != status:
            bad.append(f"{n}: status {s.get('status')!r} (want {status})")
        # runtime.md#runtimeState: the pid as seen by the runtime for hooks in the runtime
        # namespace, as seen by the container for hooks in the container namespace
        want_pid = 1 if n in ("createContainer", "startContainer") else r["ctr_pid"]
        if n != "poststop" and s.get("pid") != want_pid:
            bad.append(f"{n}: pid {s.get('pid')!r} (want {want_pid})")
    expect(not bad, "; ".join(bad))


@check("hooks.args_env", 'runtime.md#runtimeLifecycle: "The `prestart` hooks MUST be invoked by the runtime."')
def hooks_args_env(ctx):
    """A hook gets its args (argv[0] included) and exactly its env."""
    b = ctx.bundle()
    out = b.file("hook-out")
    script = f'printf "%s\\n" "$(tr "\\0" " " < /proc/$$/cmdline)|$0|$1|$CF_HOOK|${{HOME:-nohome}}" > {out}'
    b.cfg["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["cf-zero", "-c", script, "zero", "one"],
                                         "env": ["CF_HOOK=v a", "PATH=/bin"]}]}
    b.write()
    c = ctx.container(b)
    c.create()
    got = b.read("hook-out", "").strip()
    want = f"cf-zero -c {script} zero one |zero|one|v a|nohome"
    expect(got == want, f"hook printed {got!r}, want {want!r}")


def _failing_hook_run(ctx, kind):
    b = ctx.bundle(script="echo ran > /tmp/ran; sleep 30")
    out = b.file("out")
    os.makedirs(out)
    fail = {"path": "/bin/sh", "args": ["sh", "-c", "cat > /dev/null; echo cf-hook-failed >&2; exit 3"]}
    if kind == "startContainer":
        fail = {"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}
    b.cfg["hooks"] = {kind: [fail], "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}/poststop.json"]}]}
    b.write()
    c = ctx.container(b)
    return b, c, out


def _failing_create_hook(kind):
    def run(ctx):
        b, c, out = _failing_hook_run(ctx, kind)
        r = c.create(check=False)
        expect(r.rc != 0, f"create exited 0 although a {kind} hook failed")
        status = c.status()
        expect(status in (None, "stopped"), f"after the failed {kind} hook the container is {status!r}")
        if status == "stopped":
            c.delete()
        expect(not os.path.exists(os.path.join(b.rootfs, "tmp", "ran")), "the program ran")
        expect(os.path.exists(os.path.join(out, "poststop.json")), "the poststop hooks did not run (step 12, 13)")
    run.__doc__ = f"A failing {kind} hook: create fails, the container is stopped/destroyed, poststop runs."
    return run


for _kind, _quote in (("prestart", "If any `prestart` hook fails"), ("createRuntime", "If any `createRuntime` hook fails"),
                      ("createContainer", "If any `createContainer` hook fails")):
    check(f"hooks.{_kind.lower()}_failure", f'runtime.md#runtimeLifecycle: "{_quote}, the runtime MUST generate an error, stop the container, and continue the lifecycle at step 12."')(_failing_create_hook(_kind))


def _failing_start_hook(kind):
    def run(ctx):
        b, c, out = _failing_hook_run(ctx, kind)
        c.create()
        pid = c.state().get("pid")
        r = c.start(check=False)
        expect(r.rc != 0, f"start exited 0 although a {kind} hook failed")
        time.sleep(0.1)
        status = c.status()
        alive = pid_alive(pid) if pid else False
        if kind == "startContainer":
            expect(not os.path.exists(os.path.join(b.rootfs, "tmp", "ran")), "the program ran")
        expect(status in (None, "stopped") and not alive, f"after the failed {kind} hook the container is {status!r}"
               + (" and its process alive" if alive else ""))
        if status is not None:
            c.delete()
        expect(os.path.exists(os.path.join(out, "poststop.json")), "the poststop hooks did not run (step 12, 13)")
    run.__doc__ = f"A failing {kind} hook: start fails, the container is stopped, poststop runs."
    return run


for _kind, _quote in (("startContainer", "If any `startContainer` hook fails"), ("poststart", "If any `poststart` hook fails")):
    check(f"hooks.{_kind.lower()}_failure", f'runtime.md#runtimeLifecycle: "{_quote}, the runtime MUST generate an error, stop the container, and continue the lifecycle at step 12."')(_failing_start_hook(_kind))


@check("hooks.poststop_failure", 'runtime.md#runtimeLifecycle: "If any `poststop` hook fails, the runtime MUST log a warning, but the remaining hooks and lifecycle continue as if the hook had succeeded."')
def hooks_poststop_failure(ctx):
    b = ctx.bundle()
    out = b.file("after")
    b.cfg["hooks"] = {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]},
                                   {"path": "/bin/sh", "args": ["sh", "-c", f"echo ran > {out}"]}]}
    b.write()
    c = ctx.container(b)
    c.create()
    c.start()
    c.wait()
    r = c.delete()
    expect(r.rc == 0, f"delete failed because a poststop hook failed: {r.why}")
    expect(os.path.exists(out), "the poststop hook after the failing one did not run")
    expect(c.state(check=False) is None, "the container still exists")


@check("hooks.path_relative", 'config.md#configHooks: "This specification extends the IEEE standard in that `path` MUST be absolute."', R_INVALID)
def hooks_path_relative(ctx):
    expect_create_error(ctx, lambda c: c.update(hooks={"createRuntime": [{"path": "bin/sh", "args": ["sh", "-c", "true"]}]}),
                        "a relative hook path")


@check("hooks.timeout_zero", 'config.md#configHooks: "If set, `timeout` MUST be greater than zero."', R_INVALID)
def hooks_timeout_zero(ctx):
    expect_create_error(ctx, lambda c: c.update(hooks={"createRuntime": [{"path": "/bin/true", "timeout": 0}]}),
                        "a hook timeout of 0")
