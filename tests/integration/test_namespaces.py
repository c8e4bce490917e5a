"""Namespaces, observed from inside the container.

Each test compares what the container sees with what the host sees, so it
fails if the namespace was not applied (a namespace inode equal to the
host's, the host's interfaces, the host's pids...).
"""
from __future__ import annotations

import os
import subprocess
import uuid

import pytest

ALL_NS = ("pid", "mnt", "ipc", "uts", "net", "user", "cgroup", "time")
# config.json type -> /proc/self/ns/<name>
NS_FILE = {"pid": "pid", "mount": "mnt", "ipc": "ipc", "uts": "uts", "network": "net",
           "user": "user", "cgroup": "cgroup", "time": "time"}
USER_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def host_ns(name: str) -> str:
    return os.readlink(f"/proc/self/ns/{name}")


def add_ns(cfg, t: str, path: str | None = None) -> None:
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != t]
    ns = {"type": t}
    if path:
        ns["path"] = path
    cfg["linux"]["namespaces"].append(ns)
    if t == "user" and not path:
        cfg["linux"]["uidMappings"] = list(USER_MAP)
        cfg["linux"]["gidMappings"] = list(USER_MAP)


def drop_ns(cfg, t: str) -> None:
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != t]
    if t == "uts":
        cfg.pop("hostname", None)
        cfg.pop("domainname", None)


def mounted_under(path: str) -> list[str]:
    path = os.path.realpath(path).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        mps = [line.split()[4] for line in f]
    return [m for m in mps if (m.rstrip("/") + "/").startswith(path)]


def safe_rmtree(path: str) -> None:
    """Remove a test tree, but never across a mount point."""
    import shutil

    if not os.path.lexists(path):
        return
    left = mounted_under(path)
    assert not left, f"refusing to remove {path}: mounts under it: {left}"
    shutil.rmtree(path)


@pytest.fixture
def userns_bundle(bundle):
    """bundle() for a container with a user namespace: the container's root
    (an unmapped host uid) must be able to reach the rootfs, which pytest's
    0700 tmp dirs forbid (runc fails the same way), so the bundle is moved
    to a traversable directory of its own."""
    import tempfile

    dirs = []

    def make(args=("true",), edit=None, name="bundle"):
        def full_edit(c):
            add_ns(c, "user")
            if edit:
                edit(c)

        src = bundle(args, edit=full_edit, name=name)
        d = tempfile.mkdtemp(prefix="ocipy-userns-", dir="/tmp")
        dirs.append(d)
        os.chmod(d, 0o711)
        dst = os.path.join(d, name)
        os.rename(src, dst)
        return dst

    yield make
    for d in dirs:
        safe_rmtree(d)


def create(runtime, b: str, cid: str, tmp_dir) -> None:
    """`create` with the container's stdio on files: the init keeps its stdio
    open until it execs, so a captured pipe would never reach EOF."""
    env = dict(os.environ)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = os.path.join(str(tmp_dir), f"{cid}.out")
    with open(out, "w") as o:
        r = subprocess.run(runtime.cmd("create", "--bundle", b, cid), stdin=subprocess.DEVNULL, stdout=o,
                           stderr=subprocess.STDOUT, env=env, cwd=repo, timeout=30, check=False)
    with open(out) as f:
        assert r.returncode == 0, f.read()


def run_ok(runtime, b: str, cid: str, **kw) -> str:
    r = runtime("run", "--bundle", b, cid, **kw)
    assert r.returncode == 0, f"rc={r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r.stdout


NS_SCRIPT = "for n in " + " ".join(ALL_NS) + '; do echo "$n $(readlink /proc/self/ns/$n)"; done'


def inside_ns(runtime, make, edit, cid="ns") -> dict:
    """readlink of every /proc/self/ns/* inside a container made by `make`
    (bundle or userns_bundle) with `edit`."""
    out = run_ok(runtime, make(["sh", "-c", NS_SCRIPT], edit=edit), cid)
    return dict(line.split(" ", 1) for line in out.splitlines())


def one_error_line(r) -> str:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and "warning" not in ln]
    assert len(lines) == 1, r.stderr
    return lines[0]


# --- every namespace is new, and differs from the host's ----------------------------
@pytest.mark.parametrize("t", list(NS_FILE))
def test_new_namespace_differs_from_host(runtime, bundle, userns_bundle, t):
    ns = inside_ns(runtime, userns_bundle if t == "user" else bundle, lambda c: add_ns(c, t))
    name = NS_FILE[t]
    assert ns[name].startswith(name + ":["), ns
    assert ns[name] != host_ns(name), f"{t}: container shares the host's namespace {ns[name]}"


def test_all_namespaces_at_once_differ_from_host(runtime, userns_bundle):
    def edit(c):
        for t in NS_FILE:
            add_ns(c, t)

    ns = inside_ns(runtime, userns_bundle, edit)
    assert set(ns) == set(ALL_NS)
    for name in ALL_NS:
        assert ns[name] != host_ns(name), f"{name} shared with the host: {ns[name]}"


@pytest.mark.parametrize("t", ["ipc", "uts", "network", "cgroup", "pid"])
def test_namespace_not_in_config_is_the_hosts(runtime, bundle, t):
    """A namespace type absent from linux.namespaces is the runtime's (the
    host's): config.md "If a namespace type is not specified ... the
    container MUST inherit the runtime namespace of that type"."""
    def edit(c):
        drop_ns(c, t)
        add_ns(c, "ipc" if t != "ipc" else "uts")  # something else stays new

    ns = inside_ns(runtime, bundle, edit)
    name = NS_FILE[t]
    assert ns[name] == host_ns(name)
    # and what stayed in the config is still new
    assert ns["mnt"] != host_ns("mnt")


# --- pid -----------------------------------------------------------------------------
def test_pid_namespace_program_is_pid1_and_host_pids_invisible(runtime, bundle):
    script = 'echo "self $$"; echo "comm $(cat /proc/1/comm)"; ls /proc | grep -c "^[0-9][0-9]*$"'
    out = run_ok(runtime, bundle(["sh", "-c", script]), "pid").splitlines()
    assert out[0] == "self 1"
    assert out[1] == "comm sh"
    host_pids = sum(1 for n in os.listdir("/proc") if n.isdigit())
    # sh, and the two commands of the pipeline: nothing of the host
    assert int(out[2]) <= 3 < host_pids, out


# --- uts -------------------------------------------------------------------------------
def test_uts_namespace_hostname_private(runtime, bundle):
    host = os.uname().nodename
    name = "ctr-" + uuid.uuid4().hex[:8]

    def edit(c):
        c["hostname"] = name

    out = run_ok(runtime, bundle(["sh", "-c", "hostname; readlink /proc/self/ns/uts"], edit=edit), "uts")
    got_name, ns = out.splitlines()
    assert got_name == name != host
    assert ns != host_ns("uts")
    assert os.uname().nodename == host


# --- ipc -------------------------------------------------------------------------------
def test_ipc_namespace_has_its_own_sysv_objects(runtime, bundle):
    """A SysV shm segment made on the host is invisible in a new ipc namespace."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    key = 0x0C1B0000 | (os.getpid() & 0xFFFF)
    shmid = libc.shmget(key, 4096, 0o1600)  # IPC_CREAT | 0600
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    try:
        with open("/proc/sysvipc/shm") as f:
            assert any(line.split()[1] == str(shmid) for line in f.readlines()[1:])
        out = run_ok(runtime, bundle(["sh", "-c", "cat /proc/sysvipc/shm"]), "ipc")
        rows = out.splitlines()[1:]
        assert not any(r.split()[1] == str(shmid) for r in rows if r.split()), out
    finally:
        libc.shmctl(shmid, 0, None)  # IPC_RMID


# --- network ---------------------------------------------------------------------------
def test_network_namespace_only_lo_and_it_is_up(runtime, bundle):
    out = run_ok(runtime, bundle(["ip", "-o", "link"]), "net")
    links = [ln.split(":")[1].strip() for ln in out.splitlines()]
    assert links == ["lo"], out
    flags = out.split("<", 1)[1].split(">", 1)[0].split(",")
    assert "UP" in flags and "LOWER_UP" in flags, out  # a new netns's lo starts DOWN
    host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert len(host_links.splitlines()) > 1, "host has only lo: this test cannot tell"


def test_network_namespace_loopback_works(runtime, bundle):
    def edit(c):
        for k in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][k].append("CAP_NET_RAW")

    script = "ip -o -4 addr show lo; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo pong"
    out = run_ok(runtime, bundle(["sh", "-c", script], edit=edit), "netlo")
    assert "127.0.0.1/8" in out
    assert "pong" in out


def test_no_network_namespace_sees_host_interfaces(runtime, bundle):
    b = bundle(["ip", "-o", "link"], edit=lambda c: drop_ns(c, "network"))
    out = run_ok(runtime, b, "hostnet")
    inside = sorted(ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines())
    host_out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    host = sorted(ln.split(":")[1].strip().split("@")[0] for ln in host_out.splitlines())
    assert inside == host
    assert len(host) > 1


# --- user ------------------------------------------------------------------------------
def test_user_namespace_maps_equal_config(runtime, userns_bundle):
    uid_map = [{"containerID": 0, "hostID": 200000, "size": 1000},
               {"containerID": 1000, "hostID": 300000, "size": 10}]
    gid_map = [{"containerID": 0, "hostID": 400000, "size": 65536}]

    def edit(c):
        c["linux"]["uidMappings"] = uid_map
        c["linux"]["gidMappings"] = gid_map

    script = ("cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; "
              "echo --; readlink /proc/self/ns/user; id -u; id -g")
    out = run_ok(runtime, userns_bundle(["sh", "-c", script], edit=edit), "userns")
    uids, gids, rest = out.split("--\n")
    assert [tuple(map(int, ln.split())) for ln in uids.splitlines()] == \
        [(m["containerID"], m["hostID"], m["size"]) for m in uid_map]
    assert [tuple(map(int, ln.split())) for ln in gids.splitlines()] == \
        [(m["containerID"], m["hostID"], m["size"]) for m in gid_map]
    ns, uid, gid = rest.split()
    assert ns != host_ns("user")
    assert (uid, gid) == ("0", "0")


@pytest.mark.parametrize("uid,gid", [(0, 0), (1000, 1000)])
def test_user_namespace_files_owned_by_mapped_host_ids(runtime, userns_bundle, uid, gid):
    """A file created in a bind-mounted host directory belongs to the host
    ids the container's ids map to."""
    import tempfile

    share = tempfile.mkdtemp(prefix="ocipy-userns-", dir="/tmp")
    try:
        os.chmod(share, 0o777)

        def edit(c):
            c["process"]["user"] = {"uid": uid, "gid": gid}
            c["mounts"].append({"destination": "/tmp/share", "type": "bind", "source": share,
                                "options": ["rbind", "rw"]})

        b = userns_bundle(["sh", "-c", "touch /tmp/share/made && stat -c '%u %g' /tmp/share/made"], edit=edit)
        out = run_ok(runtime, b, "userfiles")
        assert out.split() == [str(uid), str(gid)]  # inside: the container's ids
        st = os.stat(os.path.join(share, "made"))
        assert (st.st_uid, st.st_gid) == (100000 + uid, 100000 + gid)  # host: the mapped ids
    finally:
        for n in os.listdir(share):
            os.unlink(os.path.join(share, n))
        os.rmdir(share)


def test_user_namespace_root_is_not_host_root(runtime, userns_bundle):
    """Container root in a user namespace has no rights on a host-root-owned
    0644 file bind-mounted in (host root would)."""
    import pathlib
    import tempfile

    d = tempfile.mkdtemp(prefix="ocipy-userns-", dir="/tmp")
    os.chmod(d, 0o755)
    host_file = pathlib.Path(d) / "rootonly"
    host_file.write_text("host\n")
    os.chmod(host_file, 0o644)

    def edit(c):
        c["mounts"].append({"destination": "/tmp/rootonly", "type": "bind", "source": str(host_file),
                            "options": ["bind", "rw"]})

    try:
        script = "stat -c '%u' /tmp/rootonly; echo owned > /tmp/rootonly && echo wrote"
        b = userns_bundle(["sh", "-c", script], edit=edit)
        r = runtime("run", "--bundle", b, "userroot")
        # unmapped host uid 0 shows as the overflow uid, and root inside has no rights on it
        assert r.stdout.split()[0] == "65534", r.stdout + r.stderr
        assert "wrote" not in r.stdout
        assert "Permission denied" in r.stderr
        assert host_file.read_text() == "host\n"
    finally:
        host_file.unlink()
        os.rmdir(d)


# --- cgroup ----------------------------------------------------------------------------
def test_cgroup_namespace_paths_are_root(runtime, bundle):
    b = bundle(["sh", "-c", "cat /proc/self/cgroup; readlink /proc/self/ns/cgroup"],
               edit=lambda c: add_ns(c, "cgroup"))
    out = run_ok(runtime, b, "cgns").splitlines()
    ns = out.pop()
    assert ns != host_ns("cgroup")
    assert out, "no cgroup lines"
    for line in out:
        assert line.split(":", 2)[2] == "/", line


def test_without_cgroup_namespace_paths_are_the_hosts(runtime, bundle):
    """The counterpart: without a cgroup namespace, a hierarchy in which the
    container is not in the root cgroup shows its full path."""
    b = bundle(["cat", "/proc/self/cgroup"], edit=lambda c: drop_ns(c, "cgroup"))
    out = run_ok(runtime, b, "nocgns").splitlines()
    paths = [line.split(":", 2)[2] for line in out]
    if all(p == "/" for p in paths):
        pytest.skip("the container sits in every hierarchy's root cgroup: nothing to tell apart")
    assert any(p != "/" for p in paths)


# --- time ------------------------------------------------------------------------------
def test_time_namespace_offsets(runtime, bundle):
    boot = 10 * 86400
    mono = 3 * 86400

    def edit(c):
        add_ns(c, "time")
        c["linux"]["timeOffsets"] = {"boottime": {"secs": boot, "nanosecs": 0},
                                     "monotonic": {"secs": mono, "nanosecs": 500}}

    b = bundle(["sh", "-c", "cat /proc/uptime; cat /proc/self/timens_offsets; readlink /proc/self/ns/time"],
               edit=edit)
    with open("/proc/uptime") as f:
        before = float(f.read().split()[0])
    out = run_ok(runtime, b, "timens").splitlines()
    with open("/proc/uptime") as f:
        after = float(f.read().split()[0])
    inside = float(out[0].split()[0])
    assert before + boot <= inside <= after + boot + 1, (before, inside, after)
    offsets = {ln.split()[0]: (int(ln.split()[1]), int(ln.split()[2])) for ln in out[1:3]}
    assert offsets == {"monotonic": (mono, 500), "boottime": (boot, 0)}
    assert out[3] != host_ns("time")


def test_time_namespace_without_offsets_keeps_host_clock(runtime, bundle):
    b = bundle(["cat", "/proc/uptime"], edit=lambda c: add_ns(c, "time"))
    with open("/proc/uptime") as f:
        before = float(f.read().split()[0])
    inside = float(run_ok(runtime, b, "timens0").split()[0])
    assert before <= inside < before + 60


# --- joining namespaces by path --------------------------------------------------------
@pytest.fixture
def netns():
    name = "ocipy-test-" + uuid.uuid4().hex[:8]
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        pytest.skip(f"ip netns add: {r.stderr.strip()}")
    try:
        yield name, f"/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def test_join_network_namespace_by_path(runtime, bundle, netns):
    _name, path = netns
    want = os.stat(path).st_ino
    b = bundle(["sh", "-c", "stat -L -c %i /proc/self/ns/net; ip -o link"],
               edit=lambda c: add_ns(c, "network", path))
    out = run_ok(runtime, b, "joinnet").splitlines()
    assert int(out[0]) == want
    assert want != os.stat("/proc/self/ns/net").st_ino


def test_join_namespaces_of_another_container(runtime, bundle, wait_gone, tmp_path):
    """Container B joins container A's network, ipc and uts namespaces
    through /proc/<A's pid>/ns/*, and sees A's hostname and namespaces."""
    a = bundle(["sleep", "60"], edit=lambda c: c.update(hostname="ctr-a"), name="a")
    create(runtime, a, "nsa", tmp_path)
    pid = runtime.state("nsa")["pid"]
    want = {n: os.readlink(f"/proc/{pid}/ns/{n}") for n in ("net", "ipc", "uts")}

    def edit(c):
        c.pop("hostname", None)
        add_ns(c, "network", f"/proc/{pid}/ns/net")
        add_ns(c, "ipc", f"/proc/{pid}/ns/ipc")
        add_ns(c, "uts", f"/proc/{pid}/ns/uts")

    b = bundle(["sh", "-c", "for n in net ipc uts; do readlink /proc/self/ns/$n; done; hostname"],
               edit=edit, name="b")
    out = run_ok(runtime, b, "nsb").splitlines()
    assert out[:3] == [want["net"], want["ipc"], want["uts"]]
    assert out[3] == "ctr-a"
    assert want["net"] != host_ns("net")
    runtime("delete", "--force", "nsa", check=True)
    assert wait_gone(pid)


def test_join_pid_namespace_of_another_container(runtime, bundle, wait_gone, tmp_path):
    """B joins A's pid namespace: A's program is pid 1 there, B's is not."""
    a = bundle(["sleep", "60"], name="a")
    create(runtime, a, "pida", tmp_path)
    runtime("start", "pida", check=True)
    pid = runtime.state("pida")["pid"]
    want = os.readlink(f"/proc/{pid}/ns/pid")

    b = bundle(["sh", "-c", "readlink /proc/self/ns/pid; echo $$; cat /proc/1/comm"],
               edit=lambda c: add_ns(c, "pid", f"/proc/{pid}/ns/pid"), name="b")
    out = run_ok(runtime, b, "pidb").splitlines()
    assert out[0] == want != host_ns("pid")
    assert out[1] != "1"
    assert out[2] == "sleep"
    runtime("delete", "--force", "pida", check=True)
    assert wait_gone(pid)


def test_join_user_namespace_by_path(runtime, userns_bundle, wait_gone, tmp_path):
    """Joining another container's user namespace: the same ns inode, and its
    id maps."""
    a = userns_bundle(["sleep", "60"], name="a")
    create(runtime, a, "usera", tmp_path)
    pid = runtime.state("usera")["pid"]
    want = os.readlink(f"/proc/{pid}/ns/user")

    def edit_b(c):
        add_ns(c, "user", f"/proc/{pid}/ns/user")
        c["linux"].pop("uidMappings", None)
        c["linux"].pop("gidMappings", None)

    b = userns_bundle(["sh", "-c", "readlink /proc/self/ns/user; cat /proc/self/uid_map"], edit=edit_b, name="b")
    out = run_ok(runtime, b, "userb").splitlines()
    assert out[0] == want != host_ns("user")
    assert out[1].split() == ["0", "100000", "65536"]
    runtime("delete", "--force", "usera", check=True)
    assert wait_gone(pid)


@pytest.mark.parametrize("t,wrong", [("network", "ipc"), ("ipc", "uts"), ("uts", "net"), ("pid", "mnt")])
def test_join_namespace_of_wrong_type_fails_clearly(runtime, bundle, t, wrong):
    path = f"/proc/{os.getpid()}/ns/{wrong}"
    b = bundle(["true"], edit=lambda c: add_ns(c, t, path))
    r = runtime("run", "--bundle", b, "wrongns")
    line = one_error_line(r)
    assert path in line and t in line, line
    assert "linux.namespaces" in line, line
    assert runtime.ids() == []


def test_join_namespace_path_not_a_namespace_fails_clearly(runtime, bundle, tmp_path):
    f = tmp_path / "notns"
    f.write_text("")
    b = bundle(["true"], edit=lambda c: add_ns(c, "network", str(f)))
    line = one_error_line(runtime("run", "--bundle", b, "notns"))
    assert str(f) in line and "namespace" in line, line
    assert runtime.ids() == []


def test_join_namespace_path_missing_fails_clearly(runtime, bundle, tmp_path):
    missing = str(tmp_path / "nope")
    b = bundle(["true"], edit=lambda c: add_ns(c, "ipc", missing))
    line = one_error_line(runtime("run", "--bundle", b, "missingns"))
    assert missing in line, line
    assert runtime.ids() == []


def _zombies() -> set[int]:
    out = set()
    for n in os.listdir("/proc"):
        if n.isdigit():
            try:
                with open(f"/proc/{n}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        out.add(int(n))
            except (FileNotFoundError, IndexError):
                pass
    return out


def test_failed_create_with_a_user_namespace_reaps_its_init(runtime, userns_bundle):
    """With a user namespace the init is forked by a stage 1 of its own and
    reparented: a create that fails in the init must still reap it (stage 0
    is its subreaper), not leave a zombie for the host's init."""
    def edit(c):
        c["mounts"].append({"destination": "/data", "type": "bind", "source": "/nonexistent-ocipy",
                            "options": ["rbind"]})
    b = userns_bundle(["true"], edit=edit)
    before = _zombies()
    r = runtime("create", "--bundle", b, "uz")
    assert "/nonexistent-ocipy" in one_error_line(r)
    assert _zombies() - before == set(), "a zombie of the failed create is left"
    assert not os.path.exists(os.path.join(runtime.root, "uz"))
