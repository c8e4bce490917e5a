"""`create`'s hand-over (launcher/stages.py): where stage 0 has nothing left
to do after the fork, it execs the create-wait program (trampoline.c) and
the init writes the state itself. Compared with the Python stage 0
(OCIPY_CREATE_HAND_OVER=0): the same state, pid file and errors, nothing
left behind on failure, a forged report refused, and the memory it saves.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

import pytest

from conftest import REPO, _env
from test_lifecycle import call, poll  # noqa: F401

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the create-wait program is x86_64 code")


def _create(rt, b, cid, *extra, hand_over=True, env_extra=None, glob=()):
    """create with its stdio on files: the container's process inherits them
    (pipes would stay open as long as it runs)."""
    env = _env()
    env.pop("OCIPY_CREATE_HAND_OVER", None)
    if not hand_over:
        env["OCIPY_CREATE_HAND_OVER"] = "0"
    env.update(env_extra or {})
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(rt.cmd(*glob, "create", "--bundle", b, *extra, cid), stdout=out, stderr=err,
                           timeout=60, env=env, cwd=REPO, stdin=subprocess.DEVNULL)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())


def _state_file(rt, cid) -> dict:
    with open(os.path.join(rt.root, cid, "state.json")) as f:
        return json.load(f)


def _start_time(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[19])


def test_same_state_and_pid_file_both_ways(runtime, bundle, tmp_path):
    b = bundle(["sleep", "100"])
    got = {}
    for ho in (True, False):
        cid = f"h{int(ho)}"
        pf = tmp_path / f"{cid}.pid"
        r = _create(runtime, b, cid, "--pid-file", str(pf), hand_over=ho)
        assert r.returncode == 0, r.stderr
        s = _state_file(runtime, cid)
        pid = s["pid"]
        assert s["status"] == "created" and pid > 0
        assert pf.read_text() == str(pid)
        assert s["init_start"] == _start_time(pid)
        assert s["mnt_ino"] == os.stat(f"/proc/{pid}/ns/mnt").st_ino
        assert runtime.state(cid)["status"] == "created"
        got[ho] = {k: v for k, v in s.items() if k not in ("id", "pid", "init_start", "created", "mnt_ino", "cgroup")}
        assert call(runtime, "start", cid).returncode == 0
        assert runtime.state(cid)["status"] == "running"
        assert call(runtime, "delete", "--force", cid).returncode == 0
    assert got[True] == got[False]


def test_a_non_root_process(runtime, bundle, tmp_path):
    """The init saves the state before it drops to the container's user."""
    def ed(cfg):
        cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
        cfg["process"]["noNewPrivileges"] = True
    b = bundle(["sleep", "100"], ed)
    pf = tmp_path / "pid"
    r = _create(runtime, b, "n1", "--pid-file", str(pf))
    assert r.returncode == 0, r.stderr
    assert runtime.state("n1")["status"] == "created"
    assert pf.read_text() == str(runtime.state("n1")["pid"])
    assert call(runtime, "start", "n1").returncode == 0
    assert poll(lambda: runtime.state("n1")["status"] == "running")
    call(runtime, "delete", "--force", "n1")


def test_the_hand_over_is_what_runs(runtime, bundle):
    b = bundle(["sleep", "100"])
    r = _create(runtime, b, "d1", glob=("--debug",))
    assert r.returncode == 0, r.stderr
    assert "stage 0 hands over to the create-wait program" in r.stderr
    call(runtime, "delete", "--force", "d1")


def test_failure_after_the_hand_over_same_line_nothing_left(runtime, bundle, tmp_path):
    """The program is missing: the init finds out after the hand-over; the
    waiter runs the command again to report: one line, in --log as JSON,
    exit 1, no state, no cgroup, no process."""
    b = bundle(["/nonexistent"])
    outs = []
    for ho in (True, False):
        logf = tmp_path / f"log{int(ho)}"
        r = _create(runtime, b, "f1", hand_over=ho, glob=("--log", str(logf), "--log-format", "json"))
        assert r.returncode == 1
        lines = [json.loads(x) for x in logf.read_text().splitlines()]
        err = [x for x in lines if x["level"] == "error"]
        assert len(err) == 1 and err[0]["msg"] == 'exec: "/nonexistent": stat /nonexistent: no such file or directory'
        outs.append((r.stdout, r.stderr))
        assert not os.path.exists(os.path.join(runtime.root, "f1"))
        left = subprocess.run(["find", "/sys/fs/cgroup", "-maxdepth", "3", "-name", "*f1*"], capture_output=True,
                              text=True).stdout
        assert not left.strip(), left
    assert outs[0] == outs[1]


def test_a_forged_report_is_refused(runtime, bundle):
    """OCIPY_CREATE_REPORT from a caller's environment cannot make create
    remove a container it did not start."""
    b = bundle(["sleep", "100"])
    assert _create(runtime, b, "v1").returncode == 0
    pid = runtime.state("v1")["pid"]
    r = _create(runtime, b, "v1", env_extra={"OCIPY_CREATE_REPORT": f"{pid}\nerror boom\n"})
    assert r.returncode == 1
    assert "not the report of this create" in r.stderr
    assert runtime.state("v1")["status"] == "created"
    call(runtime, "delete", "--force", "v1")


def test_the_hand_over_saves_memory(runtime, bundle):
    """Peak memory of create in a fresh memory cgroup (the CLI in it, the
    container's cgroup that one): the hand-over keeps the interpreter from
    being charged twice (~6.3 MiB without it on this host)."""
    mem = "/sys/fs/cgroup/memory"
    if not os.path.exists(os.path.join(mem, "memory.max_usage_in_bytes")):
        pytest.skip("needs the cgroup v1 memory controller")
    peaks = {}
    for ho in (True, False):
        name = f"ocipy-test-handover-{os.getpid()}-{int(ho)}"
        cg = os.path.join(mem, name)
        os.mkdir(cg)
        try:
            def ed(cfg):
                cfg["linux"]["cgroupsPath"] = "/" + name
            b = bundle(["sleep", "100"], ed, name=f"m{int(ho)}")
            env = _env()
            if not ho:
                env["OCIPY_CREATE_HAND_OVER"] = "0"
            r = subprocess.run(["/bin/sh", "-c", 'echo 0 > "$0/cgroup.procs" && exec "$@"', cg,
                                *runtime.cmd("create", "--bundle", b, f"m{int(ho)}")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, env=env,
                               cwd=REPO, stdin=subprocess.DEVNULL)
            assert r.returncode == 0
            with open(os.path.join(cg, "memory.max_usage_in_bytes")) as f:
                peaks[ho] = int(f.read())
            assert call(runtime, "delete", "--force", f"m{int(ho)}").returncode == 0
        finally:
            if os.path.isdir(cg):
                os.rmdir(cg)
    assert peaks[True] < peaks[False] - (1 << 20), peaks  # at least 1 MiB less
