"""Mounts (config.md "Mounts", config-linux.md rootfs fields), observed from
inside the container: /proc/self/mountinfo, stat, and what writes do.

Host-side safety: every test that mounts on the host unmounts in a finally
before anything is removed, and the symlink/`..` tests check that the host's
/etc and /tmp were not touched.
"""
from __future__ import annotations

import os
import subprocess
import uuid

import pytest


# --- helpers ---------------------------------------------------------------------------
def run(runtime, b: str, cid: str = "m", **kw):
    return runtime("run", "--bundle", b, cid, **kw)


def run_ok(runtime, b: str, cid: str = "m", **kw) -> str:
    r = run(runtime, b, cid, **kw)
    assert r.returncode == 0, f"rc={r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r.stdout


def parse_mountinfo(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if " - " not in line:
            continue
        pre, post = line.split(" - ", 1)
        f = pre.split()
        p = post.split()
        out.append({"id": f[0], "parent": f[1], "root": f[3], "mp": f[4], "opts": f[5].split(","),
                    "optional": f[6:], "fstype": p[0], "source": p[1],
                    "super": p[2].split(",") if len(p) > 2 else []})
    return out


def top(mounts: list[dict], mp: str) -> dict:
    """The mount visible at `mp` (the last one mounted there)."""
    found = [m for m in mounts if m["mp"] == mp]
    assert found, f"nothing mounted at {mp}: {[m['mp'] for m in mounts]}"
    return found[-1]


MOUNTINFO = "cat /proc/self/mountinfo; echo ==="


def split_mi(out: str) -> tuple[list[dict], str]:
    mi, rest = out.split("===\n", 1)
    return parse_mountinfo(mi), rest


def host_mountpoints() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def mounted_under(path: str) -> list[str]:
    path = os.path.realpath(path).rstrip("/") + "/"
    return [m for m in host_mountpoints() if (m.rstrip("/") + "/").startswith(path)]


def add_mount(cfg, dest, mtype=None, source=None, options=None, first=False):
    m = {"destination": dest}
    if mtype:
        m["type"] = mtype
    if source is not None:
        m["source"] = source
    if options is not None:
        m["options"] = options
    if first:
        cfg["mounts"].insert(0, m)
    else:
        cfg["mounts"].append(m)


def rw_root(cfg):
    cfg["root"]["readonly"] = False


@pytest.fixture(autouse=True)
def nothing_left_mounted(tmp_path):
    """After each test, no mount remains on the host under its tmp dir (the
    bundle, the host dirs): a container mount that propagated back to the
    host, or a bind left behind, fails the test."""
    yield
    left = mounted_under(str(tmp_path))
    for _ in range(100):
        if not mounted_under(str(tmp_path)):
            break
        subprocess.run(["umount", "-R", "-l", left[0]], check=False, capture_output=True)
        left2 = mounted_under(str(tmp_path))
        if left2:
            left = left + [m for m in left2 if m not in left]
    assert not left, f"mounts left on the host: {left}"


@pytest.fixture
def hostdir(tmp_path):
    """A host directory with a marker file."""
    d = tmp_path / "hostdir"
    d.mkdir()
    (d / "marker").write_text("from-host\n")
    yield d
    assert not mounted_under(str(d)), "a mount was left on the host"


@pytest.fixture
def host_mount():
    """mount(args, target) on the host, unmounted (lazily, in reverse) at teardown."""
    done = []

    def mount(args, target):
        subprocess.run(["mount", *args, str(target)], check=True)
        done.append(str(target))

    yield mount
    # everything at or under what we mounted goes, even what a buggy runtime
    # propagated there (detach: lazily, innermost first, never across into
    # a removal)
    for t in reversed(done):
        for _ in range(100):
            if not mounted_under(t):
                break
            subprocess.run(["umount", "-R", "-l", t], check=False, capture_output=True)
    for t in done:
        assert not mounted_under(t), f"could not unmount {t}"


# --- bind mounts -----------------------------------------------------------------------
def test_bind_host_dir_rw(runtime, bundle, hostdir):
    def edit(c):
        add_mount(c, "/mnt/data", "bind", str(hostdir), ["bind", "rw"])

    b = bundle(["sh", "-c", "cat /mnt/data/marker; echo from-ctr > /mnt/data/new"], edit=edit)
    assert run_ok(runtime, b) == "from-host\n"
    assert (hostdir / "new").read_text() == "from-ctr\n"


def test_bind_ro_write_fails_with_erofs(runtime, bundle, hostdir):
    def edit(c):
        add_mount(c, "/mnt/ro", "bind", str(hostdir), ["rbind", "ro"])

    b = bundle(["sh", "-c", "cat /mnt/ro/marker; echo changed > /mnt/ro/marker; echo rc=$?"], edit=edit)
    r = run(runtime, b)
    assert r.stdout.splitlines()[0] == "from-host"
    assert r.stdout.splitlines()[-1] != "rc=0"
    assert "Read-only file system" in r.stderr
    assert (hostdir / "marker").read_text() == "from-host\n"


def test_bind_file(runtime, bundle, tmp_path):
    f = tmp_path / "hostfile"
    f.write_text("one file\n")

    def edit(c):
        add_mount(c, "/etc/bound.conf", "bind", str(f), ["bind", "ro"])

    b = bundle(["sh", "-c", "cat /etc/bound.conf; stat -c %F /etc/bound.conf"], edit=edit)
    assert run_ok(runtime, b) == "one file\nregular file\n"


def test_bind_relative_source_is_resolved_against_the_bundle(runtime, bundle):
    def edit(c):
        add_mount(c, "/mnt/rel", "bind", "reldata", ["bind", "ro"])

    b = bundle(["cat", "/mnt/rel/marker"], edit=edit)
    os.mkdir(os.path.join(b, "reldata"))
    with open(os.path.join(b, "reldata", "marker"), "w") as f:
        f.write("relative to the bundle\n")
    assert run_ok(runtime, b) == "relative to the bundle\n"


def test_bind_flags_nosuid_nodev_noexec_visible_and_enforced(runtime, bundle, hostdir):
    def edit(c):
        add_mount(c, "/mnt/nx", "bind", str(hostdir), ["bind", "nosuid", "nodev", "noexec"])

    script = MOUNTINFO + "; cp /bin/busybox /mnt/nx/bb && /mnt/nx/bb true; echo exec=$?"
    b = bundle(["sh", "-c", script], edit=edit)
    r = run(runtime, b)
    mounts, rest = split_mi(r.stdout)
    m = top(mounts, "/mnt/nx")
    assert {"nosuid", "nodev", "noexec"} <= set(m["opts"]), m
    assert "rw" in m["opts"]
    assert rest.strip().splitlines()[-1] != "exec=0", r.stdout + r.stderr
    assert "Permission denied" in r.stderr


def test_rbind_brings_submounts_bind_does_not(runtime, bundle, hostdir, host_mount):
    sub = hostdir / "sub"
    sub.mkdir()
    host_mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs"], sub)
    (sub / "inner").write_text("in submount\n")

    def edit(c):
        add_mount(c, "/mnt/r", "bind", str(hostdir), ["rbind"])
        add_mount(c, "/mnt/b", "bind", str(hostdir), ["bind"])

    b = bundle(["sh", "-c", "cat /mnt/r/sub/inner; ls -A /mnt/b/sub | wc -l"], edit=edit)
    assert run_ok(runtime, b) == "in submount\n0\n"


def test_rro_makes_submounts_read_only_too(runtime, bundle, hostdir, host_mount):
    sub = hostdir / "sub"
    sub.mkdir()
    host_mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs"], sub)

    def edit(c):
        add_mount(c, "/mnt/rro", "bind", str(hostdir), ["rbind", "rro"])

    script = (MOUNTINFO + "; touch /mnt/rro/top && echo top-written; "
              "touch /mnt/rro/sub/x && echo sub-written; echo end")
    r = run(runtime, bundle(["sh", "-c", script], edit=edit))
    mounts, rest = split_mi(r.stdout)
    assert "ro" in top(mounts, "/mnt/rro")["opts"]
    assert "ro" in top(mounts, "/mnt/rro/sub")["opts"]
    assert "top-written" not in rest and "sub-written" not in rest, r.stdout + r.stderr
    assert rest.endswith("end\n")
    assert r.stderr.count("Read-only file system") == 2, r.stderr
    assert not (sub / "x").exists()


def test_ro_on_rbind_leaves_submount_writable(runtime, bundle, hostdir, host_mount):
    """The counterpart of rro: plain `ro` is not recursive (mount(2) semantics),
    so the rro test above can tell the two apart."""
    sub = hostdir / "sub"
    sub.mkdir()
    host_mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs"], sub)

    def edit(c):
        add_mount(c, "/mnt/ro", "bind", str(hostdir), ["rbind", "ro"])

    b = bundle(["sh", "-c", "touch /mnt/ro/sub/x && echo sub-written"], edit=edit)
    assert run_ok(runtime, b) == "sub-written\n"
    assert (sub / "x").exists()


def test_recursive_nosuid_noexec_on_submount(runtime, bundle, hostdir, host_mount):
    sub = hostdir / "sub"
    sub.mkdir()
    host_mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs"], sub)

    def edit(c):
        add_mount(c, "/mnt/rx", "bind", str(hostdir), ["rbind", "rnoexec", "rnosuid"])

    mounts, _ = split_mi(run_ok(runtime, bundle(["sh", "-c", MOUNTINFO], edit=edit)))
    for mp in ("/mnt/rx", "/mnt/rx/sub"):
        assert {"noexec", "nosuid"} <= set(top(mounts, mp)["opts"]), top(mounts, mp)


# --- filesystems -----------------------------------------------------------------------
def test_tmpfs_size_mode_and_flags(runtime, bundle):
    def edit(c):
        add_mount(c, "/scratch", "tmpfs", "tmpfs", ["nosuid", "nodev", "noexec", "size=2m", "mode=0710"])

    script = MOUNTINFO + "; stat -c %a /scratch; df -k /scratch | tail -1"
    mounts, rest = split_mi(run_ok(runtime, bundle(["sh", "-c", script], edit=edit)))
    m = top(mounts, "/scratch")
    assert m["fstype"] == "tmpfs"
    assert {"nosuid", "nodev", "noexec"} <= set(m["opts"])
    assert "size=2048k" in m["super"] and "mode=710" in m["super"], m
    mode, df = rest.splitlines()
    assert mode == "710"
    assert df.split()[1] == "2048"


def test_proc_is_the_containers(runtime, bundle):
    script = MOUNTINFO + "; cat /proc/1/comm; readlink /proc/self/ns/pid"
    mounts, rest = split_mi(run_ok(runtime, bundle(["sh", "-c", script])))
    assert top(mounts, "/proc")["fstype"] == "proc"
    comm, ns = rest.splitlines()
    assert comm == "sh"  # the host's pid 1 is something else
    assert ns != os.readlink("/proc/self/ns/pid")


def test_sysfs_read_only_and_of_the_containers_netns(runtime, bundle):
    script = MOUNTINFO + "; ls /sys/class/net; touch /sys/kernel/x 2>&1; mkdir /sys/fs/x && echo made"
    r = run(runtime, bundle(["sh", "-c", script]))
    mounts, rest = split_mi(r.stdout)
    m = top(mounts, "/sys")
    assert m["fstype"] == "sysfs"
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(m["opts"]), m
    assert rest.splitlines()[0] == "lo"  # the host has more interfaces
    assert "made" not in rest
    assert "Read-only file system" in r.stdout + r.stderr


def test_devpts_newinstance_ptmxmode(runtime, bundle):
    def edit(c):
        for m in c["mounts"]:
            if m["destination"] == "/dev/pts":
                m["options"] = ["nosuid", "noexec", "newinstance", "ptmxmode=0640", "mode=0620", "gid=5"]

    script = MOUNTINFO + "; stat -c '%a %d' /dev/pts/ptmx; ls /dev/pts; readlink /dev/ptmx"
    mounts, rest = split_mi(run_ok(runtime, bundle(["sh", "-c", script], edit=edit)))
    m = top(mounts, "/dev/pts")
    assert m["fstype"] == "devpts"
    assert {"ptmxmode=640", "mode=620", "gid=5"} <= set(m["super"]), m
    lines = rest.splitlines()
    mode, dev = lines[0].split()
    assert mode == "640"
    assert int(dev) != os.stat("/dev/pts").st_dev  # a new devpts instance, not the host's
    assert lines[1:-1] == ["ptmx"]  # none of the host's ptys
    assert lines[-1] == "pts/ptmx"


def test_mqueue_mounted(runtime, bundle):
    mounts, _ = split_mi(run_ok(runtime, bundle(["sh", "-c", MOUNTINFO])))
    m = top(mounts, "/dev/mqueue")
    assert m["fstype"] == "mqueue"
    assert {"nosuid", "nodev", "noexec"} <= set(m["opts"])


def test_shm_tmpfs(runtime, bundle):
    script = MOUNTINFO + "; stat -c %a /dev/shm"
    mounts, rest = split_mi(run_ok(runtime, bundle(["sh", "-c", script])))
    m = top(mounts, "/dev/shm")
    assert m["fstype"] == "tmpfs" and "size=65536k" in m["super"]
    assert rest.strip() == "1777"


V1_CTRLS = ("memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio")


def _host_v1_controllers() -> set[str]:
    ctrls = set()
    with open("/proc/self/cgroup") as f:
        for line in f:
            ctrls.update(c for c in line.split(":")[1].split(",") if c in V1_CTRLS)
    return ctrls


CGROUP_SCRIPT = (MOUNTINFO + "; for d in /sys/fs/cgroup/*/; do n=${d%/}; n=${n##*/}; "
                 "if grep -qx 1 $d/cgroup.procs; then echo \"$n member\"; else echo \"$n other\"; fi; done; "
                 "mkdir /sys/fs/cgroup/pids/x && echo made; echo end")


def _check_cgroup_mount(r, cgroupns: bool):
    mounts, rest = split_mi(r.stdout)
    m = top(mounts, "/sys/fs/cgroup")
    assert "ro" in m["opts"], m
    seen = dict(ln.split() for ln in rest.splitlines() if ln.endswith((" member", " other")))
    for ctl in _host_v1_controllers():
        sub = top(mounts, f"/sys/fs/cgroup/{ctl}")
        assert sub["fstype"] == "cgroup" and "ro" in sub["opts"], sub
        # the directory bound is the container's own cgroup: its pid 1 is a
        # member (the hierarchy's root, or another cgroup, would not list it)
        assert seen.get(ctl) == "member", (ctl, seen)
        if cgroupns:
            assert sub["root"] == "/", sub  # its own cgroup is its root
    assert "made" not in rest and rest.endswith("end\n")
    assert "Read-only file system" in r.stderr


def test_cgroup_mount_read_only_with_own_controllers(runtime, bundle):
    r = run(runtime, bundle(["sh", "-c", CGROUP_SCRIPT]))
    _check_cgroup_mount(r, cgroupns=False)


def test_cgroup_mount_in_cgroup_namespace(runtime, bundle):
    """With a cgroup namespace the mount shows the container's own cgroups
    (runc: mountinfo root "/"), never the hierarchy root above them."""
    def edit(c):
        c["linux"]["namespaces"].append({"type": "cgroup"})

    r = run(runtime, bundle(["sh", "-c", CGROUP_SCRIPT], edit=edit))
    _check_cgroup_mount(r, cgroupns=True)


# --- order -----------------------------------------------------------------------------
def test_mounts_are_applied_in_config_order(runtime, bundle, hostdir):
    """tmpfs at /m then a bind at /m/sub: both visible. The reverse order:
    the later tmpfs hides the bind."""
    def first_tmpfs(c):
        add_mount(c, "/m", "tmpfs", "tmpfs", ["size=1m"])
        add_mount(c, "/m/sub", "bind", str(hostdir), ["bind"])

    def first_bind(c):
        add_mount(c, "/m/sub", "bind", str(hostdir), ["bind"])
        add_mount(c, "/m", "tmpfs", "tmpfs", ["size=1m"])

    script = "cat /m/sub/marker 2>/dev/null || echo hidden"
    assert run_ok(runtime, bundle(["sh", "-c", script], edit=first_tmpfs, name="b1"), "o1") == "from-host\n"
    assert run_ok(runtime, bundle(["sh", "-c", script], edit=first_bind, name="b2"), "o2") == "hidden\n"


# --- symlinks and `..` in destinations must stay inside the rootfs ---------------------
def test_destination_symlink_to_absolute_path_resolves_in_rootfs(runtime, bundle, tmp_path):
    name = "ocipy-sentinel-" + uuid.uuid4().hex[:8]
    host_sentinel = f"/etc/{name}"
    src = tmp_path / "mounted"
    src.write_text("mounted\n")
    with open(host_sentinel, "w") as f:
        f.write("host\n")
    try:
        before = os.stat(host_sentinel)
        etc_mounts = [m for m in host_mountpoints() if m.startswith("/etc")]

        def edit(c):
            add_mount(c, "/evil", "bind", str(src), ["bind"])

        b = bundle(["sh", "-c", f"cat /etc/{name}; readlink /evil"], edit=edit)
        rootfs = os.path.join(b, "rootfs")
        with open(os.path.join(rootfs, "etc", name), "w") as f:
            f.write("rootfs\n")
        os.symlink(host_sentinel, os.path.join(rootfs, "evil"))
        # the bind lands on the rootfs's /etc/<name> (resolved as if the
        # rootfs were /), never on the host's
        assert run_ok(runtime, b) == f"mounted\n{host_sentinel}\n"
        with open(host_sentinel) as f:
            assert f.read() == "host\n"
        after = os.stat(host_sentinel)
        assert (after.st_ino, after.st_mtime_ns, after.st_ctime_ns) == \
            (before.st_ino, before.st_mtime_ns, before.st_ctime_ns)
        assert [m for m in host_mountpoints() if m.startswith("/etc")] == etc_mounts
        with open(os.path.join(rootfs, "etc", name)) as f:
            assert f.read() == "rootfs\n"  # a bind, not a write
    finally:
        os.unlink(host_sentinel)


def test_destination_symlink_to_etc_dir_resolves_in_rootfs(runtime, bundle, hostdir):
    """/evil -> /etc in the rootfs, a tmpfs mounted at /evil: the rootfs's
    /etc gets it, the host's /etc is untouched."""
    etc_before = sorted(os.listdir("/etc"))
    etc_mounts = [m for m in host_mountpoints() if m.startswith("/etc")]

    def edit(c):
        add_mount(c, "/evil", "bind", str(hostdir), ["bind"])

    b = bundle(["sh", "-c", "cat /etc/marker; ls /etc | wc -l"], edit=edit)
    os.symlink("/etc", os.path.join(b, "rootfs", "evil"))
    out = run_ok(runtime, b).splitlines()
    assert out[0] == "from-host"
    assert out[1] == "1"  # the rootfs's /etc is covered by hostdir (only `marker`)
    assert sorted(os.listdir("/etc")) == etc_before
    assert [m for m in host_mountpoints() if m.startswith("/etc")] == etc_mounts


def test_destination_dangling_symlink_creates_inside_rootfs(runtime, bundle, tmp_path):
    """A destination that is a dangling absolute symlink: the mount point is
    made inside the rootfs (what runc does, via securejoin), and nothing is
    created on the host."""
    name = "ocipy-dangling-" + uuid.uuid4().hex[:8]
    src = tmp_path / "f"
    src.write_text("bound\n")

    def edit(c):
        add_mount(c, "/dangling", "bind", str(src), ["bind"])

    b = bundle(["cat", f"/etc/{name}"], edit=edit)
    os.symlink(f"/etc/{name}", os.path.join(b, "rootfs", "dangling"))
    try:
        r = run(runtime, b)
        assert not os.path.lexists(f"/etc/{name}"), "created on the host!"
        assert r.returncode == 0, r.stderr
        assert r.stdout == "bound\n"
        assert os.path.exists(os.path.join(b, "rootfs", "etc", name))
    finally:
        if os.path.lexists(f"/etc/{name}"):
            os.unlink(f"/etc/{name}")


def test_destination_with_dotdot_does_not_escape(runtime, bundle, hostdir):
    name = "ocipy-dotdot-" + uuid.uuid4().hex[:8]

    def edit(c):
        add_mount(c, f"/../../../../../../tmp/{name}", "bind", str(hostdir), ["bind"])
        add_mount(c, f"/mnt/../../../tmp/{name}-2", "tmpfs", "tmpfs", ["size=1m"])

    b = bundle(["sh", "-c", f"cat /tmp/{name}/marker; stat -f -c %T /tmp/{name}-2"], edit=edit)
    try:
        out = run_ok(runtime, b).splitlines()
        assert out[0] == "from-host"
        assert out[1] == "tmpfs"
        assert os.path.isdir(os.path.join(b, "rootfs", "tmp", name))
    finally:
        escaped = [p for p in (f"/tmp/{name}", f"/tmp/{name}-2") if os.path.lexists(p)]
        for p in escaped:
            if p not in host_mountpoints():
                os.rmdir(p)
        assert not escaped, f"created on the host: {escaped}"


def test_destination_through_relative_symlink_with_dotdot(runtime, bundle, hostdir):
    """rootfs/up -> ../../../../.. ; a mount at /up/tmp/<name> stays in the rootfs."""
    name = "ocipy-up-" + uuid.uuid4().hex[:8]

    def edit(c):
        add_mount(c, f"/up/tmp/{name}", "bind", str(hostdir), ["bind"])

    b = bundle(["cat", f"/tmp/{name}/marker"], edit=edit)
    os.symlink("../../../../../../../..", os.path.join(b, "rootfs", "up"))
    try:
        assert run_ok(runtime, b) == "from-host\n"
    finally:
        escaped = os.path.lexists(f"/tmp/{name}")
        if escaped and f"/tmp/{name}" not in host_mountpoints():
            os.rmdir(f"/tmp/{name}")
        assert not escaped, "created on the host"


# --- rootfs propagation ----------------------------------------------------------------
def _root_entry(runtime, bundle, prop, cid):
    def edit(c):
        if prop:
            c["linux"]["rootfsPropagation"] = prop

    mounts, _ = split_mi(run_ok(runtime, bundle(["sh", "-c", MOUNTINFO], edit=edit, name=cid), cid))
    return top(mounts, "/")


def test_rootfs_propagation_shared(runtime, bundle):
    """config-linux.md: shared: "the rootfs mount belongs to a new peer group"."""
    root = _root_entry(runtime, bundle, "shared", "pshared")
    assert any(o.startswith("shared:") for o in root["optional"]), root


def test_rootfs_propagation_default_and_private_not_shared(runtime, bundle):
    for prop, cid in ((None, "pdefault"), ("private", "pprivate")):
        root = _root_entry(runtime, bundle, prop, cid)
        assert not any(o.startswith("shared:") for o in root["optional"]), (prop, root)


def test_rootfs_propagation_unbindable(runtime, bundle):
    """unbindable: "the rootfs mount is a private mount that cannot be bind-mounted"."""
    root = _root_entry(runtime, bundle, "unbindable", "punbind")
    assert "unbindable" in root["optional"], root


@pytest.mark.parametrize("prop,propagates", [("slave", True), ("private", False), (None, True)])
def test_rootfs_propagation_host_mount_events(runtime, bundle, host_mount, tmp_path, prop, propagates):
    """With the rootfs a shared mount on the host, a tmpfs mounted on the host
    under it after the container started shows inside for slave (and the
    default, rslave), not for private."""
    def edit(c):
        if prop:
            c["linux"]["rootfsPropagation"] = prop

    script = ("i=0; while [ ! -e /go ] && [ $i -lt 300 ]; do sleep 0.02; i=$((i+1)); done; "
              "cat /mnt/prop/marker 2>/dev/null || echo none; "
              "awk '$5==\"/\"' /proc/self/mountinfo")
    b = bundle(["sh", "-c", script], edit=edit)
    rootfs = os.path.join(b, "rootfs")
    os.makedirs(os.path.join(rootfs, "mnt", "prop"))
    host_mount(["--bind", rootfs], rootfs)
    subprocess.run(["mount", "--make-shared", rootfs], check=True)
    out_path = tmp_path / "out"
    err_path = tmp_path / "err"
    env = dict(os.environ)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = repo
    with open(out_path, "w") as out, open(err_path, "w") as err:
        p = subprocess.Popen(runtime.cmd("run", "--bundle", b, "prop"), stdin=subprocess.DEVNULL,
                             stdout=out, stderr=err, env=env, cwd=repo)
        try:
            # wait for the container's sh (pid 1 of a new pid ns) to be running
            import time

            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and p.poll() is None:
                try:
                    if runtime.state("prop")["status"] == "running":
                        break
                except AssertionError:
                    pass
                time.sleep(0.02)
            host_mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs"], os.path.join(rootfs, "mnt", "prop"))
            with open(os.path.join(rootfs, "mnt", "prop", "marker"), "w") as f:
                f.write("propagated\n")
            with open(os.path.join(rootfs, "go"), "w"):
                pass
            rc = p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        # nothing the container mounted may have propagated back to the host:
        # under the rootfs there are exactly the two mounts this test made
        leaked = sorted(mounted_under(rootfs))
        for ours in (rootfs, os.path.join(rootfs, "mnt", "prop")):
            leaked.remove(ours)
        assert not leaked, (f"{len(leaked)} container mounts leaked into the host, e.g. "
                            f"{sorted({os.path.relpath(m, rootfs) for m in leaked})[:6]}")
        assert rc == 0, err_path.read_text()
    out = out_path.read_text().splitlines()
    assert out[0] == ("propagated" if propagates else "none"), out
    root = parse_mountinfo(out[-1])[0]
    assert any(o.startswith("master:") for o in root["optional"]) == propagates, root


# --- --no-pivot, readonly root ---------------------------------------------------------
def test_no_pivot_still_confines_to_rootfs(runtime, bundle):
    b = bundle(["sh", "-c", "ls /; cat /proc/1/comm; touch /tmp/ok && echo tmp-ok"], edit=rw_root)
    r = runtime("run", "--no-pivot", "--bundle", b, "nopivot")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert set(lines[:-2]) == set(os.listdir(os.path.join(b, "rootfs")))
    assert lines[-2:] == ["sh", "tmp-ok"]


def test_root_readonly(runtime, bundle):
    def edit(c):
        c["root"]["readonly"] = True
        add_mount(c, "/tmp", "tmpfs", "tmpfs", ["size=1m"])

    script = MOUNTINFO + "; touch /x && echo root-written; touch /tmp/y && echo tmp-written"
    r = run(runtime, bundle(["sh", "-c", script], edit=edit))
    mounts, rest = split_mi(r.stdout)
    assert "ro" in top(mounts, "/")["opts"]
    assert "root-written" not in rest
    assert "tmp-written" in rest
    assert "Read-only file system" in r.stderr


def test_root_not_readonly_is_writable(runtime, bundle):
    """The counterpart of test_root_readonly: with readonly false the same
    write works."""
    b = bundle(["sh", "-c", "touch /x && echo root-written"], edit=rw_root)
    assert run_ok(runtime, b) == "root-written\n"
    assert os.path.exists(os.path.join(b, "rootfs", "x"))


# --- maskedPaths, readonlyPaths --------------------------------------------------------
def test_masked_paths_file_and_dir(runtime, bundle):
    def edit(c):
        rw_root(c)
        c["linux"]["maskedPaths"] = ["/etc/secret", "/etc/secretdir", "/proc/timer_list", "/does/not/exist"]

    script = ("cat /etc/secret | wc -c; ls -A /etc/secretdir | wc -l; "
              "touch /etc/secretdir/x && echo dir-written; cat /proc/timer_list | wc -c; "
              "echo x > /etc/secret; stat -f -c %T /etc/secretdir; echo end")
    b = bundle(["sh", "-c", script], edit=edit)
    rootfs = os.path.join(b, "rootfs")
    with open(os.path.join(rootfs, "etc", "secret"), "w") as f:
        f.write("password\n")
    os.mkdir(os.path.join(rootfs, "etc", "secretdir"))
    with open(os.path.join(rootfs, "etc", "secretdir", "key"), "w") as f:
        f.write("key\n")
    r = run(runtime, b)
    out = r.stdout.split()
    assert out[0] == "0", r.stdout  # file reads empty
    assert out[1] == "0", r.stdout  # dir is empty
    assert "dir-written" not in out  # ... and read-only
    assert out[2] == "0", r.stdout  # /proc/timer_list has content on the host
    with open("/proc/timer_list") as f:
        assert f.read(1)
    with open(os.path.join(rootfs, "etc", "secret")) as f:
        assert f.read() == "password\n"  # the write went to /dev/null
    assert out[-2] == "tmpfs"  # the dir is covered by a tmpfs
    assert out[-1] == "end"


def test_readonly_paths(runtime, bundle):
    def edit(c):
        rw_root(c)
        c["linux"]["readonlyPaths"] = ["/data", "/proc/sys", "/nope"]

    script = ("cat /data/f; echo new > /data/f; touch /data/g && echo data-written; "
              "echo 1 > /proc/sys/kernel/ns_last_pid; touch /etc/other && echo other-written; "
              "awk '$5==\"/data\" || $5==\"/proc/sys\" {print $5, $6}' /proc/self/mountinfo")
    b = bundle(["sh", "-c", script], edit=edit)
    os.mkdir(os.path.join(b, "rootfs", "data"))
    with open(os.path.join(b, "rootfs", "data", "f"), "w") as f:
        f.write("orig\n")
    r = run(runtime, b)
    lines = r.stdout.splitlines()
    assert lines[0] == "orig"
    assert "data-written" not in lines
    assert "other-written" in lines  # the rest of the rootfs is writable
    ro = {ln.split()[0]: ln.split()[1].split(",") for ln in lines if ln.startswith("/")}
    assert "ro" in ro["/data"] and "ro" in ro["/proc/sys"], ro
    assert r.stderr.count("Read-only file system") >= 3, r.stderr
    with open(os.path.join(b, "rootfs", "data", "f")) as f:
        assert f.read() == "orig\n"


# --- errors ----------------------------------------------------------------------------
def test_mount_point_creation_failure_names_the_mount(runtime, bundle, hostdir):
    """A mount point that cannot be made (its parent is a read-only tmpfs
    mounted just before) fails with one line naming the mount and its
    destination, and leaves nothing behind."""
    def edit(c):
        add_mount(c, "/ro", "tmpfs", "tmpfs", ["ro", "size=1m"])
        add_mount(c, "/ro/sub", "bind", str(hostdir), ["bind"])

    r = run(runtime, bundle(["true"], edit=edit))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and "warning" not in ln]
    assert len(lines) == 1, r.stderr
    assert "mounts[" in lines[0] and "/ro/sub" in lines[0], lines[0]
    assert "read-only" in lines[0].lower(), lines[0]
    assert runtime.ids() == []


@pytest.mark.parametrize("mount,needle", [
    ({"destination": "/x", "type": "bind", "source": "/nonexistent/ocipy-src", "options": ["bind"]},
     "/nonexistent/ocipy-src"),
    ({"destination": "/x", "type": "nosuchfs", "source": "none"}, "nosuchfs"),
])
def test_bad_mount_fails_clearly(runtime, bundle, mount, needle):
    idx = []

    def edit(c):
        idx.append(len(c["mounts"]))
        c["mounts"].append(mount)

    r = run(runtime, bundle(["true"], edit=edit))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and "warning" not in ln]
    assert len(lines) == 1, r.stderr
    assert f"mounts[{idx[0]}]" in lines[0] and "/x" in lines[0] and needle in lines[0], lines[0]
    assert runtime.ids() == []
