"""Devices (config-linux.md "Devices", "Default Devices", "/dev symbolic
links"), observed from inside the container with stat, and the host's
device nodes checked untouched after every test of this module.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile

import pytest

HOST_DEVS = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx")
DEFAULTS = {  # spec "Default Devices": path -> (major, minor)
    "/dev/null": (1, 3),
    "/dev/zero": (1, 5),
    "/dev/full": (1, 7),
    "/dev/random": (1, 8),
    "/dev/urandom": (1, 9),
    "/dev/tty": (5, 0),
}
# busybox stat: name, type, major (hex), minor (hex), mode (octal), uid, gid
STAT = "stat -c '%n|%F|%t|%T|%a|%u|%g'"
USER_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def host_snapshot() -> dict:
    out = {}
    for p in HOST_DEVS:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        out[p] = (st.st_ino, st.st_mode, st.st_uid, st.st_gid, st.st_rdev, st.st_ctime_ns)
    return out


@pytest.fixture(scope="module", autouse=True)
def host_devices_untouched():
    """The host's device nodes keep their inode, owner, mode, rdev and ctime
    (a chmod/chown to the same values would still move ctime) across every
    test of this module."""
    before = host_snapshot()
    yield
    assert host_snapshot() == before, "a host device node was changed"


@pytest.fixture(autouse=True)
def host_devices_untouched_per_test():
    before = host_snapshot()
    yield
    assert host_snapshot() == before, "a host device node was changed"


def run_ok(runtime, b: str, cid: str = "dev") -> str:
    r = runtime("run", "--bundle", b, cid)
    assert r.returncode == 0, f"rc={r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r.stdout


def parse_stat(out: str) -> dict:
    res = {}
    for line in out.splitlines():
        if line.count("|") != 6:
            continue
        name, ftype, ma, mi, mode, uid, gid = line.split("|")
        res[name] = {"type": ftype, "rdev": (int(ma, 16), int(mi, 16)), "mode": int(mode, 8),
                     "uid": int(uid), "gid": int(gid)}
    return res


@pytest.fixture
def userns_bundle(bundle):
    """A bundle with a new user namespace, moved where the container's
    (unmapped) root can reach it: pytest's tmp dirs are 0700."""
    dirs = []

    def make(args, edit=None, name="bundle"):
        def full(c):
            c["linux"]["namespaces"].append({"type": "user"})
            c["linux"]["uidMappings"] = list(USER_MAP)
            c["linux"]["gidMappings"] = list(USER_MAP)
            if edit:
                edit(c)

        src = bundle(args, edit=full, name=name)
        d = tempfile.mkdtemp(prefix="ocipy-dev-", dir="/tmp")
        os.chmod(d, 0o711)
        dirs.append(d)
        dst = os.path.join(d, name)
        os.rename(src, dst)
        return dst

    yield make
    for d in dirs:
        with open("/proc/self/mountinfo") as f:
            assert not any(line.split()[4].startswith(d) for line in f), f"mount left under {d}"
        shutil.rmtree(d)


# --- default devices -------------------------------------------------------------------
def test_default_devices_type_number_mode(runtime, bundle):
    out = run_ok(runtime, bundle(["sh", "-c", f"{STAT} {' '.join(DEFAULTS)}"]))
    got = parse_stat(out)
    assert set(got) == set(DEFAULTS), out
    for path, rdev in DEFAULTS.items():
        d = got[path]
        assert d["type"] == "character special file", (path, d)
        assert d["rdev"] == rdev, (path, d)
        assert d["mode"] == 0o666, (path, oct(d["mode"]))  # not reduced by the umask
        assert (d["uid"], d["gid"]) == (0, 0), (path, d)


def test_default_devices_work(runtime, bundle):
    script = ("echo gone > /dev/null && echo null-ok; head -c 4 /dev/zero | od -An -tx1; "
              "head -c 16 /dev/urandom | wc -c; echo x > /dev/full || echo full-ENOSPC")
    r = runtime("run", "--bundle", bundle(["sh", "-c", script]), "devwork")
    lines = [ln.strip() for ln in r.stdout.splitlines()]
    assert lines == ["null-ok", "00 00 00 00", "16", "full-ENOSPC"], r.stdout + r.stderr
    assert "No space left on device" in r.stderr


def test_dev_is_a_fresh_tmpfs_without_host_nodes(runtime, bundle):
    """Only what the spec asks for is in /dev: none of the host's disks."""
    out = run_ok(runtime, bundle(["ls", "-A", "/dev"])).split()
    host_only = {"vda", "sda", "nvme0n1", "kmsg", "mem", "kmem", "port"} & set(os.listdir("/dev"))
    assert host_only, "the host has none of the nodes this test looks for"
    assert not host_only & set(out), out
    for n in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx",
              "fd", "stdin", "stdout", "stderr"):
        assert n in out, (n, out)


def test_dev_symlinks(runtime, bundle):
    names = ("fd", "stdin", "stdout", "stderr", "ptmx")
    script = "; ".join(f'echo "{n} $(readlink /dev/{n}) $(stat -c %F /dev/{n})"' for n in names)
    out = run_ok(runtime, bundle(["sh", "-c", script]))
    got = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in out.splitlines()}
    assert got["fd"] == "/proc/self/fd symbolic link"
    assert got["stdin"] == "/proc/self/fd/0 symbolic link"
    assert got["stdout"] == "/proc/self/fd/1 symbolic link"
    assert got["stderr"] == "/proc/self/fd/2 symbolic link"
    assert got["ptmx"] == "pts/ptmx symbolic link"


def test_dev_stdout_reaches_the_output(runtime, bundle):
    out = run_ok(runtime, bundle(["sh", "-c", "echo via-link > /dev/stdout; ls /dev/fd/ | head -3"]))
    assert out.splitlines() == ["via-link", "0", "1", "2"]


def test_default_devices_in_user_namespace(runtime, userns_bundle):
    """With a user namespace mknod is refused: the devices must still be
    there, with the right numbers (bind mounts of the host's, say)."""
    out = run_ok(runtime, userns_bundle(["sh", "-c", f"{STAT} {' '.join(DEFAULTS)}; echo x > /dev/null && echo ok"]),
                 "devuser")
    got = parse_stat(out)
    assert set(got) == set(DEFAULTS)
    for path, rdev in DEFAULTS.items():
        assert got[path]["type"] == "character special file"
        assert got[path]["rdev"] == rdev
        assert got[path]["mode"] == 0o666
    assert out.splitlines()[-1] == "ok"


# --- linux.devices ---------------------------------------------------------------------
def test_linux_devices_created_with_exact_attributes(runtime, bundle):
    devices = [
        # a mode the default umask (022) would cut down to 0640
        {"path": "/dev/mychar", "type": "c", "major": 1, "minor": 5, "fileMode": 0o662, "uid": 1234, "gid": 5678},
        {"path": "/dev/myfifo", "type": "p", "fileMode": 0o600, "uid": 42, "gid": 43},
        {"path": "/dev/myblock", "type": "b", "major": 7, "minor": 200, "fileMode": 0o640, "uid": 0, "gid": 6},
        {"path": "/dev/sub/dir/myu", "type": "u", "major": 1, "minor": 9, "fileMode": 0o604, "uid": 7, "gid": 8},
    ]

    def edit(c):
        c["linux"]["devices"] = devices
        c["process"]["user"]["umask"] = 0o077

    out = run_ok(runtime, bundle(["sh", "-c", f"{STAT} " + " ".join(d["path"] for d in devices)], edit=edit))
    got = parse_stat(out)
    types = {"c": "character special file", "u": "character special file", "b": "block special file", "p": "fifo"}
    for d in devices:
        g = got[d["path"]]
        assert g["type"] == types[d["type"]], (d, g)
        assert g["mode"] == d["fileMode"], (d["path"], oct(g["mode"]))
        assert (g["uid"], g["gid"]) == (d["uid"], d["gid"]), (d, g)
        if d["type"] != "p":
            assert g["rdev"] == (d["major"], d["minor"]), (d, g)


def test_linux_devices_default_mode_owner(runtime, bundle):
    """Without fileMode/uid/gid: a usable node owned by root (runc: 0666... the
    spec leaves mode to the runtime; ownership defaults to 0:0)."""
    def edit(c):
        c["linux"]["devices"] = [{"path": "/dev/plain", "type": "c", "major": 1, "minor": 3}]

    out = run_ok(runtime, bundle(["sh", "-c", f"{STAT} /dev/plain; echo x > /dev/plain && echo ok"], edit=edit))
    g = parse_stat(out)["/dev/plain"]
    assert g["rdev"] == (1, 3) and (g["uid"], g["gid"]) == (0, 0)
    assert out.splitlines()[-1] == "ok"


def test_linux_devices_redefine_dev_null_does_not_touch_host(runtime, bundle):
    """A config entry for /dev/null with another owner and mode changes the
    container's node only; the host's /dev/null is checked by the fixtures."""
    def edit(c):
        c["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3,
                                  "fileMode": 0o600, "uid": 1000, "gid": 1000}]

    out = run_ok(runtime, bundle(["sh", "-c", f"{STAT} /dev/null"], edit=edit))
    g = parse_stat(out)["/dev/null"]
    assert (g["mode"], g["uid"], g["gid"], g["rdev"]) == (0o600, 1000, 1000, (1, 3))


def test_linux_devices_refuse_existing_rootfs_entry(runtime, bundle):
    """A regular file, or a symlink to the host's /dev/null, in the rootfs at a
    device's path is an error naming the entry (config-linux.md: "If a file
    already exists at `path` that does not match the requested device, the
    runtime MUST generate an error"); neither is replaced nor followed (the
    host node keeps its owner: checked by the fixtures). More cases in
    test_spec_gaps.py."""
    for i, (name, make) in enumerate((("wasfile", "file"), ("waslink", "link"))):
        def edit(c):
            # no tmpfs on /dev: the rootfs's own /dev is used
            c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/dev"]
            c["mounts"] = [m for m in c["mounts"] if not m["destination"].startswith("/dev/")]
            c["root"]["readonly"] = False
            c["linux"]["devices"] = [
                {"path": f"/dev/{name}", "type": "c", "major": 1, "minor": 7, "fileMode": 0o600, "uid": 5, "gid": 6},
            ]

        b = bundle(["true"], edit=edit, name=f"b{i}")
        p = os.path.join(b, "rootfs", "dev", name)
        if make == "file":
            with open(p, "w") as f:
                f.write("regular\n")
        else:
            os.symlink("/dev/null", p)
        r = runtime("run", "--bundle", b, f"devrefuse{i}")
        assert r.returncode != 0
        assert "linux.devices[0]" in r.stderr and f"/dev/{name}" in r.stderr, r.stderr
        assert stat.S_ISREG(os.lstat(p).st_mode) if make == "file" else os.readlink(p) == "/dev/null"


def test_linux_devices_fifo_works(runtime, bundle):
    def edit(c):
        c["linux"]["devices"] = [{"path": "/dev/myfifo", "type": "p", "fileMode": 0o666}]

    out = run_ok(runtime, bundle(["sh", "-c", "(echo through-fifo > /dev/myfifo &); cat /dev/myfifo"], edit=edit))
    assert out == "through-fifo\n"


def test_host_dev_null_untouched_after_everything(runtime, bundle, userns_bundle):
    """Run the configurations most likely to chown/chmod/replace a host node
    (masks, redefined /dev/null, user namespace) and compare a full stat."""
    before = {p: os.lstat(p) for p in ("/dev/null", "/dev/zero", "/dev/tty")}

    def masked(c):
        c["linux"]["maskedPaths"] = ["/etc/passwd", "/proc/timer_list"]
        c["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3,
                                  "fileMode": 0o600, "uid": 1000, "gid": 1000},
                                 {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5,
                                  "fileMode": 0o600, "uid": 1000, "gid": 1000}]

    run_ok(runtime, bundle(["cat", "/etc/passwd"], edit=masked, name="b1"), "everything1")
    run_ok(runtime, userns_bundle(["cat", "/etc/passwd"], edit=masked, name="b2"), "everything2")
    for p, st in before.items():
        now = os.lstat(p)
        for field in ("st_ino", "st_mode", "st_uid", "st_gid", "st_rdev", "st_ctime_ns", "st_mtime_ns"):
            assert getattr(now, field) == getattr(st, field), (p, field)


def test_linux_devices_path_through_symlink_stays_in_rootfs(runtime, bundle):
    """rootfs/dev/evil -> /tmp (absolute): a device at /dev/evil/<name> is made
    in the rootfs's /tmp, never in the host's."""
    name = "ocipy-dev-" + os.urandom(4).hex()

    def edit(c):
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/dev" and not m["destination"].startswith("/dev/")]
        c["root"]["readonly"] = False
        c["linux"]["devices"] = [{"path": f"/dev/evil/{name}", "type": "c", "major": 1, "minor": 3,
                                  "fileMode": 0o600, "uid": 7, "gid": 7}]

    b = bundle(["sh", "-c", f"{STAT} /tmp/{name}"], edit=edit)
    os.symlink("/tmp", os.path.join(b, "rootfs", "dev", "evil"))
    try:
        r = runtime("run", "--bundle", b, "devlink")
        assert not os.path.lexists(f"/tmp/{name}"), "device node created on the host"
        assert r.returncode == 0, r.stderr
        g = parse_stat(r.stdout)[f"/tmp/{name}"]
        assert (g["type"], g["rdev"], g["uid"]) == ("character special file", (1, 3), 7)
        assert stat.S_ISCHR(os.lstat(os.path.join(b, "rootfs", "tmp", name)).st_mode)
    finally:
        if os.path.lexists(f"/tmp/{name}"):
            os.unlink(f"/tmp/{name}")
