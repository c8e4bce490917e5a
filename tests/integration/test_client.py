"""ocipy.client.Runtime driving real containers, with ocipy and with runc.

Each test gets both runtimes (runc is skipped where absent), each with a
private --root under tmp_path; at teardown every container left is deleted
with --force (by the CLI directly, not through the client under test) and the
root must be empty.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import REPO, ocipy_argv
from test_lifecycle import alive, poll
from ocipy.client import (ContainerExists, ContainerNotFound, ContainerNotRunning, Runtime,
                          RuntimeCommandError, RuntimeTimeout)

MIB = 1024 * 1024


def status_is(rt: Runtime, cid: str, want: str, timeout: float = 10) -> str:
    """Wait for `want`; return the last status seen."""
    seen = []
    poll(lambda: seen.append(rt.state(cid)["status"]) or seen[-1] == want, timeout)
    return seen[-1]


def _binary(name: str):
    if name == "runc":
        path = shutil.which("runc")
        if not path:
            pytest.skip("runc not installed")
        return path
    argv = ocipy_argv()
    return argv[0] if len(argv) == 1 else argv


@pytest.fixture(params=["ocipy", "runc"])
def rtname(request):
    return request.param


@pytest.fixture
def make_rt(rtname, tmp_path, monkeypatch):
    """make(**kw) -> a Runtime on the parametrized binary with a private
    root under tmp_path (the same root for every Runtime of a test)."""
    binary = _binary(rtname)
    if isinstance(binary, list):  # python -m ocipy from this checkout
        pp = os.environ.get("PYTHONPATH")
        monkeypatch.setenv("PYTHONPATH", REPO + (os.pathsep + pp if pp else ""))
    root = tmp_path / f"{rtname}-root"
    root.mkdir(mode=0o700)

    def make(**kw) -> Runtime:
        kw.setdefault("timeout", 60)
        return Runtime(binary, root=str(root), **kw)

    yield make
    argv = (binary if isinstance(binary, list) else [binary]) + ["--root", str(root)]
    for cid in os.listdir(root):
        subprocess.run(argv + ["delete", "--force", cid], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    left = os.listdir(root)
    assert not left, f"containers left behind under {root}: {left}"


@pytest.fixture
def rt(make_rt):
    return make_rt()


@pytest.fixture
def outb(bundle, tmp_path):
    """make(args, name) -> (bundle, host dir bind-mounted rw at /out, mode 0777)."""
    def make(args, name="bundle"):
        out = tmp_path / f"{name}-out"
        out.mkdir()
        out.chmod(0o777)

        def edit(cfg):
            cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                                  "options": ["rbind", "rw"]})
        return bundle(args, edit, name), out
    return make


def running(rt: Runtime, bundle, cid: str, args=("sleep", "1000"), name=None) -> int:
    """create + start `cid` on a fresh bundle; return its init's pid."""
    rt.create(cid, bundle(list(args), name=name or cid))
    rt.start(cid)
    assert status_is(rt, cid, "running") == "running"
    return rt.state(cid)["pid"]


def memory_cgroup_dir(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "memory" in controllers.split(","):
                return "/sys/fs/cgroup/memory" + path
    raise AssertionError(f"no memory cgroup (v1) for pid {pid}")


# -- lifecycle -----------------------------------------------------------------

def test_lifecycle(rt, bundle, tmp_path, wait_gone):
    b = bundle(["sleep", "1000"])
    pidfile = tmp_path / "pid"
    t = time.monotonic()
    rt.create("c1", b, pid_file=str(pidfile))
    # create returns although the init it forked keeps its stdio open
    assert time.monotonic() - t < 30
    st = rt.state("c1")
    assert st["status"] == "created" and st["id"] == "c1" and st["bundle"] == b
    pid = st["pid"]
    assert int(pidfile.read_text()) == pid and alive(pid)

    rt.start("c1")
    assert status_is(rt, "c1", "running") == "running"
    assert rt.state("c1")["pid"] == pid and alive(pid)

    rt.kill("c1", "KILL")
    assert status_is(rt, "c1", "stopped") == "stopped"
    assert wait_gone(pid)
    rt.delete("c1")
    assert rt.list() == []
    with pytest.raises(ContainerNotFound):
        rt.state("c1")


def test_kill_takes_a_signal_number_and_delete_force(rt, bundle, wait_gone):
    pid = running(rt, bundle, "c1")
    rt.kill("c1", 9)
    assert status_is(rt, "c1", "stopped") == "stopped"
    assert wait_gone(pid)
    pid2 = running(rt, bundle, "c2")
    rt.delete("c2", force=True)
    assert wait_gone(pid2)
    assert [s["id"] for s in rt.list()] == ["c1"]


def test_run_returns_the_exit_status(rt, bundle, tmp_path):
    out = tmp_path / "stdout"
    with open(out, "w") as f:
        assert rt.run("r1", bundle(["sh", "-c", "echo hello; exit 7"]), stdout=f) == 7
    assert out.read_text() == "hello\n"
    assert rt.run("r2", bundle(["true"], name="b2")) == 0
    assert rt.list() == []  # run deletes the container it made


def test_run_detached_and_list(rt, bundle):
    assert rt.list() == []  # runc prints null: still a list
    assert rt.run("d1", bundle(["sleep", "1000"], name="b1"), detach=True) is None
    assert rt.run("d2", bundle(["sleep", "1000"], name="b2"), detach=True) is None
    listed = {s["id"]: s for s in rt.list()}
    assert set(listed) == {"d1", "d2"}
    assert all(s["status"] == "running" and alive(s["pid"]) for s in listed.values())


def test_preserve_fds(rt, bundle):
    r, w = os.pipe()
    saved = os.dup(3)  # fd 3 of this process must be the one to pass
    try:
        os.dup2(w, 3)
        status = rt.run("p1", bundle(["sh", "-c", "echo through-fd3 >&3"]), preserve_fds=1)
    finally:
        os.dup2(saved, 3)
        os.close(saved)
        os.close(w)
    try:
        assert status == 0
        assert os.read(r, 100) == b"through-fd3\n"
    finally:
        os.close(r)


def test_ps(rt, bundle):
    pid = running(rt, bundle, "c1", ["sh", "-c", "sleep 1001 & wait"])

    def sleeper():
        for p in rt.ps("c1"):
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[:2] == [b"sleep", b"1001"]:
                        return p
            except FileNotFoundError:
                pass
        return None
    child = poll(sleeper)
    assert child and child != pid
    pids = rt.ps("c1")
    assert all(isinstance(p, int) for p in pids) and pid in pids


# -- exec ----------------------------------------------------------------------

def test_exec_returns_the_status_and_runs_inside(rt, outb):
    b, out = outb(["sleep", "1000"])
    rt.create("c1", b)
    rt.start("c1")
    assert rt.exec("c1", ["sh", "-c", "echo inside > /out/f; exit 3"]) == 3
    assert (out / "f").read_text() == "inside\n"
    assert rt.exec("c1", ["true"]) == 0
    # the runtime's own failure is an error, not the process's status 255
    with pytest.raises(RuntimeCommandError) as e:
        rt.exec("c1", ["/no/such/program"])
    assert "/no/such/program" in e.value.message and e.value.command == "exec"


def test_exec_options(rt, outb):
    b, out = outb(["sleep", "1000"])
    rt.create("c1", b)
    rt.start("c1")
    script = 'echo "$FOO $(pwd) $(id -u):$(id -g)" > /out/opts'
    assert rt.exec("c1", ["sh", "-c", script], env={"FOO": "bar"}, cwd="/tmp",
                   user="1000:1000") == 0
    assert (out / "opts").read_text() == "bar /tmp 1000:1000\n"
    assert rt.exec("c1", ["sh", "-c", "sleep 0.2; echo bg > /out/bg; exit 4"], detach=True) == 0
    assert poll(lambda: (out / "bg").exists() and (out / "bg").read_text() == "bg\n")


def test_exec_a_process_dict(rt, outb):
    b, out = outb(["sleep", "1000"])
    rt.create("c1", b)
    rt.start("c1")
    proc = {"args": ["sh", "-c", 'echo "$X $(pwd)" > /out/p; exit 5'], "cwd": "/etc",
            "env": ["PATH=/bin", "X=from-dict"], "user": {"uid": 0, "gid": 0},
            "terminal": False}
    assert rt.exec("c1", proc) == 5
    assert (out / "p").read_text() == "from-dict /etc\n"


# -- pause, update, stats ------------------------------------------------------

def test_pause_resume(rt, bundle):
    running(rt, bundle, "c1")
    rt.pause("c1")
    assert rt.state("c1")["status"] == "paused"
    rt.resume("c1")
    assert rt.state("c1")["status"] == "running"


def test_update_memory_limit(rt, bundle):
    pid = running(rt, bundle, "c1")
    limit_file = os.path.join(memory_cgroup_dir(pid), "memory.limit_in_bytes")
    for limit in (96 * MIB, 160 * MIB):
        rt.update("c1", {"memory": {"limit": limit}})
        with open(limit_file) as f:
            assert int(f.read()) == limit


def test_stats(rt, bundle):
    running(rt, bundle, "c1", ["sh", "-c", "sleep 1001 & wait"])
    data = rt.stats("c1")
    assert data["memory"]["usage"]["usage"] > 0
    assert data["pids"]["current"] >= 1


def test_version_and_features(rt):
    v = rt.version()
    assert v and v[0].isdigit() and "." in v and "\n" not in v
    f = rt.features()
    assert f["ociVersionMax"].startswith("1.")


# -- errors --------------------------------------------------------------------

def _one_line_error(e: RuntimeCommandError, rt: Runtime, command: str) -> None:
    assert e.command == command and e.returncode not in (0, None)
    assert e.message and "\n" not in e.message
    assert str(e) == f"{rt.binary} {command}: {e.message}"
    assert "\n" not in str(e)


def test_state_of_an_unknown_container(rt):
    with pytest.raises(ContainerNotFound) as e:
        rt.state("nope")
    assert "exist" in e.value.message
    _one_line_error(e.value, rt, "state")
    for call in (lambda: rt.kill("nope"), lambda: rt.delete("nope"), lambda: rt.pause("nope"),
                 lambda: rt.exec("nope", ["true"]), lambda: rt.ps("nope")):
        with pytest.raises(ContainerNotFound):
            call()


def test_create_of_an_existing_id(rt, bundle):
    running(rt, bundle, "c1")
    with pytest.raises(ContainerExists) as e:
        rt.create("c1", bundle(["true"], name="other"))
    _one_line_error(e.value, rt, "create")
    assert rt.state("c1")["status"] == "running"


def test_kill_of_a_stopped_container(rt, bundle):
    running(rt, bundle, "c1")
    rt.kill("c1", "KILL")
    assert status_is(rt, "c1", "stopped") == "stopped"
    with pytest.raises(ContainerNotRunning) as e:
        rt.kill("c1", "TERM")
    _one_line_error(e.value, rt, "kill")


def test_bad_bundle(rt, tmp_path):
    empty = tmp_path / "no-config"
    empty.mkdir()
    with pytest.raises(RuntimeCommandError) as e:
        rt.create("c1", str(empty))
    assert type(e.value) is RuntimeCommandError
    assert "config.json" in e.value.message
    _one_line_error(e.value, rt, "create")


def test_timeout_kills_the_cli_and_delete_force_cleans_up(make_rt, bundle, wait_gone):
    quick = make_rt(timeout=1)
    rt = make_rt()
    b = bundle(["sleep", "100"])
    t = time.monotonic()
    with pytest.raises(RuntimeTimeout) as e:
        quick.run("t1", b)
    assert time.monotonic() - t < 10
    assert isinstance(e.value, TimeoutError) and isinstance(e.value, RuntimeCommandError)
    assert e.value.command == "run" and "timed out" in str(e.value)
    assert "\n" not in str(e.value)
    try:
        pid = rt.state("t1")["pid"]
    except ContainerNotFound:
        pid = None
    rt.delete("t1", force=True)
    if pid:
        assert wait_gone(pid), "the container's process survived delete --force"
    assert rt.list() == []


def test_a_missing_binary_is_a_command_error(tmp_path):
    rt = Runtime(str(tmp_path / "no-such-runtime"), root=str(tmp_path))
    with pytest.raises(RuntimeCommandError) as e:
        rt.state("x")
    assert e.value.returncode is None and "no-such-runtime" in str(e.value)


def test_argv_binary_runs(tmp_path, monkeypatch):
    """binary may be an argv list: the `python -m ocipy` fallback."""
    pp = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", REPO + (os.pathsep + pp if pp else ""))
    rt = Runtime([sys.executable, "-m", "ocipy"], root=str(tmp_path), timeout=60)
    assert rt.list() == []
    with pytest.raises(ContainerNotFound) as e:
        rt.state("nope")
    assert str(e.value).startswith(f"{sys.executable} -m ocipy state: ")


# -- a config built with ocipy.spec.opts, run through the client ----------------

def test_generated_config_runs_as_declared(rt, template, tmp_path):
    """The two embedding pieces together: a config from spec.opts.generate(),
    run by the client; each option is observed from inside the container."""
    from ocipy.spec import opts

    out = tmp_path / "out"
    out.mkdir()
    script = ("echo $GREETING > /out/env; pwd > /out/cwd; hostname > /out/host; "
              "grep CapEff /proc/self/status > /out/caps; "
              "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
              " > /out/limits; "
              "grep ' /scratch ' /proc/mounts > /out/scratch; "
              "if touch /rootfs-is-ro 2>/dev/null; then echo rw; else echo ro; fi > /out/ro; exit 3")
    cfg = opts.generate(
        opts.set_args("sh", "-c", script), opts.set_terminal(False),
        opts.set_env("GREETING=hello from opts"), opts.set_cwd("/tmp"),
        opts.set_hostname("opts-host"), opts.set_capabilities("CAP_KILL"),
        opts.add_tmpfs("/scratch", size=MIB),
        opts.add_mount("/out", str(out), "bind", ["rbind", "rw"]),
        opts.set_memory_limit(64 * MIB), opts.set_pids_limit(20))
    b = tmp_path / "gen"
    b.mkdir()
    subprocess.run(["cp", "-a", template[0], str(b / "rootfs")], check=True)
    (b / "config.json").write_text(__import__("json").dumps(cfg))
    assert rt.run("gen", b) == 3  # run without keep: deleted once it exits
    assert rt.list() == []
    assert (out / "env").read_text() == "hello from opts\n"
    assert (out / "cwd").read_text() == "/tmp\n"
    assert (out / "host").read_text() == "opts-host\n"
    assert int((out / "caps").read_text().split()[1], 16) == 1 << 5  # CAP_KILL only
    assert "size=1024k" in (out / "scratch").read_text()
    assert (out / "limits").read_text().split() == [str(64 * MIB), "20"]
    assert (out / "ro").read_text() == "ro\n"  # default_spec: readonly rootfs
