"""The container lifecycle as runtime.md states it, observed for real: the
state JSON, /proc, and files the container writes into a bind-mounted host
directory (/out).

The CLI's stdio goes to files, never pipes: a container inherits create's
stdio (like runc), so a pipe would stay open for the container's lifetime.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import REPO, Runtime, _env

# pid 1 of the container: traps the catchable signals (recording their names
# in /out/sig, without exiting), says it is ready, then loops.
TRAPPER = ("for s in TERM INT HUP USR1 USR2 QUIT; do trap \"echo $s >> /out/sig\" $s; done; "
           "touch /out/ready; while :; do sleep 0.05; done")


def poll(fn, timeout: float = 10, interval: float = 0.02):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


def call(rt: Runtime, *args, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    """Run the CLI with stdout/stderr on files (see the module docstring)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(rt.cmd(*args), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                           env=_env(), cwd=REPO, timeout=timeout, **kw)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())


def spawn(rt: Runtime, *args, out=None) -> subprocess.Popen:
    return subprocess.Popen(rt.cmd(*args), stdin=subprocess.DEVNULL, stdout=out or subprocess.DEVNULL,
                            stderr=out or subprocess.DEVNULL, env=_env(), cwd=REPO)


def err_lines(r: subprocess.CompletedProcess) -> list[str]:
    """stderr lines that are not warnings."""
    return [ln for ln in r.stderr.splitlines() if ln.strip() and "warning" not in ln.lower()]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def status(rt: Runtime, cid: str) -> str:
    r = rt("state", cid)
    return json.loads(r.stdout)["status"] if r.returncode == 0 else f"<state failed: {r.stderr.strip()}>"


def wait_status(rt: Runtime, cid: str, want: str, timeout: float = 10) -> str:
    got = poll(lambda: (s := status(rt, cid)) == want and s, timeout)
    return got or status(rt, cid)


@pytest.fixture
def outb(bundle, tmp_path):
    """make(args, edit=None, name) -> (bundle, out dir on the host, bind-mounted rw at /out)."""
    def make(args, edit=None, name="bundle"):
        out = tmp_path / f"{name}-out"
        out.mkdir()

        def ed(cfg):
            cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                                  "options": ["rbind", "rw"]})
            if edit:
                edit(cfg)
        return bundle(args, ed, name), out
    return make


def create(rt: Runtime, b: str, cid: str, *extra) -> subprocess.CompletedProcess:
    r = call(rt, "create", "--bundle", b, *extra, cid)
    assert r.returncode == 0, f"create failed: {r.stderr}"
    return r


# -- create / start / stopped ------------------------------------------------

def test_create_returns_created_without_running_the_program(runtime, outb, tmp_path):
    b, out = outb(["sh", "-c", "touch /out/ran; sleep 1000"])
    pidfile = tmp_path / "pid"
    create(runtime, b, "c1", "--pid-file", str(pidfile))
    st = runtime.state("c1")
    assert st["status"] == "created"
    assert st["id"] == "c1" and st["bundle"] == b
    assert int(pidfile.read_text()) == st["pid"] > 0
    assert alive(st["pid"])
    time.sleep(0.2)  # give a wrongly started program a chance to show itself
    assert not (out / "ran").exists(), "the user's program ran before start"
    assert runtime.state("c1")["status"] == "created"


def test_start_returns_at_once_and_runs_the_program(runtime, outb):
    b, out = outb(["sh", "-c", "touch /out/ran; sleep 1000"])
    create(runtime, b, "c1")
    pid = runtime.state("c1")["pid"]
    t = time.monotonic()
    r = call(runtime, "start", "c1", timeout=20)
    took = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    assert took < 5, f"start took {took:.1f}s: it must not wait for the program"
    assert poll(lambda: (out / "ran").exists()), "the program did not run after start"
    st = runtime.state("c1")
    assert st["status"] == "running" and st["pid"] == pid


def test_program_exit_makes_it_stopped_with_pid_0(runtime, outb, wait_gone):
    b, out = outb(["sh", "-c", "touch /out/ran"])
    create(runtime, b, "c1")
    pid = runtime.state("c1")["pid"]
    assert call(runtime, "start", "c1").returncode == 0
    assert wait_gone(pid)
    assert wait_status(runtime, "c1", "stopped") == "stopped"
    st = runtime.state("c1")
    assert st["pid"] == 0, st  # runc reports pid 0 for a stopped container
    assert (out / "ran").exists()


# -- kill ----------------------------------------------------------------------

@pytest.fixture
def trapper(runtime, outb):
    """A running container whose pid 1 records catchable signals in /out/sig."""
    b, out = outb(["sh", "-c", TRAPPER])
    create(runtime, b, "k")
    assert call(runtime, "start", "k").returncode == 0
    assert poll(lambda: (out / "ready").exists()), "the trapper did not start"
    return out, runtime.state("k")["pid"]


def sigs(out) -> list[str]:
    p = out / "sig"
    return p.read_text().split() if p.exists() else []


def test_kill_default_is_sigterm(runtime, trapper):
    out, pid = trapper
    r = call(runtime, "kill", "k")
    assert r.returncode == 0, r.stderr
    assert poll(lambda: sigs(out)) == ["TERM"]
    assert alive(pid) and runtime.state("k")["status"] == "running"


@pytest.mark.parametrize("spec", ["USR1", "SIGUSR1", "10"])
def test_kill_catchable_signal_by_name_or_number(runtime, trapper, spec):
    out, pid = trapper
    r = call(runtime, "kill", "k", spec)
    assert r.returncode == 0, r.stderr
    assert poll(lambda: sigs(out)) == ["USR1"]
    assert alive(pid)


@pytest.mark.parametrize("spec", ["KILL", "9", "SIGKILL"])
def test_kill_sigkill_by_name_or_number(runtime, trapper, wait_gone, spec):
    out, pid = trapper
    r = call(runtime, "kill", "k", spec)
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid), "init survived"
    assert wait_status(runtime, "k", "stopped") == "stopped"
    assert sigs(out) == [], "a catchable signal was sent instead of SIGKILL"


@pytest.mark.parametrize("all_", [False, True], ids=["init", "all"])
def test_kill_signal_0_probes_without_delivering(runtime, trapper, wait_gone, all_):
    """runc accepts signal 0: nothing is delivered, the exit status says
    whether the container still runs (with --all: nothing is frozen)."""
    out, pid = trapper
    flags = ["--all"] if all_ else []
    r = call(runtime, "kill", *flags, "k", "0")
    assert r.returncode == 0, r.stderr
    assert call(runtime, "kill", "k", "USR1").returncode == 0
    assert poll(lambda: sigs(out)) == ["USR1"], "signal 0 was delivered as something"
    assert alive(pid) and runtime.state("k")["status"] == "running"
    assert call(runtime, "kill", "k", "KILL").returncode == 0
    assert wait_gone(pid)
    r = call(runtime, "kill", "k", "0")
    assert r.returncode != 0 and "not running" in r.stderr, r.stderr


def test_kill_stopped_container_fails(runtime, trapper, wait_gone):
    out, pid = trapper
    assert call(runtime, "kill", "k", "KILL").returncode == 0
    assert wait_gone(pid)
    r = call(runtime, "kill", "k", "KILL")
    assert r.returncode != 0
    assert len(err_lines(r)) == 1 and '"k"' in r.stderr, r.stderr


def test_kill_all_signals_every_process(runtime, outb, wait_gone):
    child = "trap \"echo child >> /out/sig\" USR1; touch /out/child; while :; do sleep 0.05; done"
    script = ("trap \"echo init >> /out/sig\" USR1; sh -c '%s' & "
              "while :; do sleep 0.05; done" % child)
    b, out = outb(["sh", "-c", script])
    create(runtime, b, "k")
    assert call(runtime, "start", "k").returncode == 0
    assert poll(lambda: (out / "child").exists())
    r = call(runtime, "kill", "--all", "k", "USR1")
    assert r.returncode == 0, r.stderr
    assert poll(lambda: sorted(sigs(out)) == ["child", "init"]), sigs(out)
    pid = runtime.state("k")["pid"]
    ns = os.stat(f"/proc/{pid}/ns/pid").st_ino
    r = call(runtime, "kill", "--all", "k", "KILL")
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid)

    def left():
        pids = []
        for n in os.listdir("/proc"):
            try:
                if n.isdigit() and os.stat(f"/proc/{n}/ns/pid").st_ino == ns and alive(int(n)):
                    pids.append(n)
            except OSError:
                pass
        return pids
    assert poll(lambda: not left()), f"processes of the container survive kill --all: {left()}"


# -- delete ----------------------------------------------------------------------

def test_delete_stopped_removes_state_dir(runtime, outb, wait_gone):
    b, out = outb(["true"])
    create(runtime, b, "d")
    pid = runtime.state("d")["pid"]
    assert call(runtime, "start", "d").returncode == 0
    assert wait_gone(pid)
    assert wait_status(runtime, "d", "stopped") == "stopped"
    assert os.path.isdir(os.path.join(runtime.root, "d"))
    r = call(runtime, "delete", "d")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(runtime.root, "d"))
    assert runtime("state", "d").returncode != 0


def test_delete_running_fails_and_leaves_it_intact(runtime, outb):
    b, out = outb(["sh", "-c", "touch /out/ran; sleep 1000"])
    create(runtime, b, "d")
    pid = runtime.state("d")["pid"]
    assert call(runtime, "start", "d").returncode == 0
    assert poll(lambda: (out / "ran").exists())
    r = call(runtime, "delete", "d")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and '"d"' in lines[0] and "running" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert alive(pid)
    st = runtime.state("d")
    assert st["status"] == "running" and st["pid"] == pid


def test_delete_created_fails_and_leaves_it_intact(runtime, outb):
    """runtime.md: delete of a container that is not stopped MUST have no
    effect (runc deletes a created one: here the spec wins)."""
    b, out = outb(["sh", "-c", "touch /out/ran; sleep 1000"])
    create(runtime, b, "d")
    pid = runtime.state("d")["pid"]
    r = call(runtime, "delete", "d")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and '"d"' in lines[0] and "created" in lines[0], r.stderr
    assert alive(pid)
    assert runtime.state("d")["status"] == "created"
    # still startable: the failed delete had no effect
    assert call(runtime, "start", "d").returncode == 0
    assert poll(lambda: (out / "ran").exists())


@pytest.mark.parametrize("start", [True, False], ids=["running", "created"])
def test_delete_force(runtime, outb, wait_gone, start):
    b, out = outb(["sh", "-c", "touch /out/ran; sleep 1000"])
    create(runtime, b, "d")
    pid = runtime.state("d")["pid"]
    if start:
        assert call(runtime, "start", "d").returncode == 0
        assert poll(lambda: (out / "ran").exists())
    r = call(runtime, "delete", "--force", "d")
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid, 5), "delete --force left the init alive"
    assert not os.path.exists(os.path.join(runtime.root, "d"))
    if not start:
        assert not (out / "ran").exists(), "delete --force of a created container ran the program"


# -- run ---------------------------------------------------------------------

@pytest.mark.parametrize("code", [0, 3])
def test_run_exits_with_program_status(runtime, outb, code):
    b, out = outb(["sh", "-c", f"touch /out/ran; exit {code}"])
    r = call(runtime, "run", "--bundle", b, "r")
    assert r.returncode == code, r.stderr
    assert (out / "ran").exists()
    assert runtime.ids() == []


@pytest.mark.parametrize("how", ["os.kill", "runtime-kill"])
def test_run_killed_by_sigkill_exits_137(runtime, outb, how):
    b, out = outb(["sh", "-c", "touch /out/ready; sleep 1000"])
    p = spawn(runtime, "run", "--bundle", b, "r")
    try:
        assert poll(lambda: (out / "ready").exists()), "the program did not start"
        if how == "os.kill":
            os.kill(runtime.state("r")["pid"], signal.SIGKILL)  # from outside the runtime
        else:
            r = call(runtime, "kill", "r", "KILL")  # another ocipy process
            assert r.returncode == 0, r.stderr
        assert p.wait(timeout=10) == 128 + 9
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert poll(lambda: runtime.ids() == [])


def test_run_detach_returns_0_and_leaves_it_running(runtime, outb, tmp_path):
    b, out = outb(["sh", "-c", "touch /out/ran; sleep 1000"])
    t = time.monotonic()
    r = call(runtime, "run", "-d", "--bundle", b, "r", timeout=20)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t < 10
    assert poll(lambda: (out / "ran").exists())
    st = runtime.state("r")
    assert st["status"] == "running" and alive(st["pid"])


def test_run_detach_is_running_when_it_returns(runtime, outb):
    """`run` starts the program with the init's acknowledgement ("go", no
    exec.fifo round trip): once `run -d` returns, the state says "running"
    (no poll), exec.fifo is gone and the program is the container's process."""
    b, out = outb(["sh", "-c", "touch /out/ran; exec sleep 1000"])
    r = call(runtime, "run", "-d", "--bundle", b, "r", timeout=20)
    assert r.returncode == 0, r.stderr
    st = runtime.state("r")
    assert st["status"] == "running" and alive(st["pid"])
    assert not os.path.lexists(os.path.join(runtime.root, "r", "exec.fifo"))
    assert poll(lambda: (out / "ran").exists())
    assert poll(lambda: open(f"/proc/{st['pid']}/comm").read().strip() == "sleep")
    assert call(runtime, "start", "r").returncode != 0  # started already


def test_run_keep_leaves_a_stopped_container(runtime, outb):
    b, out = outb(["sh", "-c", "exit 4"])
    r = call(runtime, "run", "--keep", "--bundle", b, "r")
    assert r.returncode == 4, r.stderr
    st = runtime.state("r")
    assert st["status"] == "stopped" and st["pid"] == 0
    r = call(runtime, "delete", "r")
    assert r.returncode == 0, r.stderr
    assert runtime.ids() == []


# -- list ------------------------------------------------------------------------

def test_list_empty(runtime):
    r = call(runtime, "list", "-f", "json")
    assert r.returncode == 0 and r.stdout.strip() == "null", r  # like runc
    r = call(runtime, "list", "-q")
    assert r.returncode == 0 and r.stdout == ""
    r = call(runtime, "list")
    assert r.returncode == 0
    assert r.stdout.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]


def test_list_formats(runtime, outb):
    b1, _ = outb(["sleep", "1000"], name="b1")
    b2, _ = outb(["sleep", "1000"], name="b2")
    create(runtime, b1, "one")
    create(runtime, b2, "two")
    assert call(runtime, "start", "two").returncode == 0
    pids = {c: runtime.state(c)["pid"] for c in ("one", "two")}

    r = call(runtime, "list", "-q")
    assert r.stdout.split() == ["one", "two"]

    r = call(runtime, "list", "-f", "json")
    rows = {c["id"]: c for c in json.loads(r.stdout)}
    assert set(rows) == {"one", "two"}
    assert rows["one"]["status"] == "created" and rows["two"]["status"] == "running"
    assert rows["one"]["pid"] == pids["one"] and rows["two"]["pid"] == pids["two"]
    assert rows["one"]["bundle"] == b1 and rows["two"]["bundle"] == b2

    r = call(runtime, "list")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    table = {ln.split()[0]: ln.split() for ln in lines[1:]}
    assert table["one"][1:4] == [str(pids["one"]), "created", b1]
    assert table["two"][1:4] == [str(pids["two"]), "running", b2]
    # columns aligned like Go's tabwriter: every row's STATUS starts at the header's
    col = lines[0].index("STATUS")
    assert all(ln[col:].split()[0] in ("created", "running") for ln in lines[1:])


# -- roots, pid reuse, ids -----------------------------------------------------

def test_same_id_in_two_roots(runtime, outb, tmp_path_factory):
    other = Runtime(runtime.argv, str(tmp_path_factory.mktemp("ocipy-root2")), "ocipy2")
    try:
        b1, out1 = outb(["sh", "-c", "touch /out/ran; sleep 1000"], name="b1")
        b2, out2 = outb(["sh", "-c", "touch /out/ran; sleep 1000"], name="b2")
        create(runtime, b1, "same")
        create(other, b2, "same")
        s1, s2 = runtime.state("same"), other.state("same")
        assert s1["pid"] != s2["pid"] and s1["bundle"] == b1 and s2["bundle"] == b2
        assert call(other, "start", "same").returncode == 0
        assert poll(lambda: (out2 / "ran").exists())
        assert runtime.state("same")["status"] == "created" and not (out1 / "ran").exists()
        assert call(other, "delete", "--force", "same").returncode == 0
        assert other.ids() == []
        assert runtime.state("same")["status"] == "created" and alive(s1["pid"])
    finally:
        assert other.cleanup() == []


def _edit_state(runtime, cid, **changes) -> str:
    path = os.path.join(runtime.root, cid, "state.json")
    with open(path) as f:
        orig = f.read()
    d = json.loads(orig)
    d.update(changes)
    with open(path, "w") as f:
        json.dump(d, f)
    return orig


def _restore_state(runtime, cid, orig):
    with open(os.path.join(runtime.root, cid, "state.json"), "w") as f:
        f.write(orig)


def test_reused_pid_is_not_the_container(runtime, outb, wait_gone):
    """state.json points at another live process (as after pid reuse):
    the container is stopped and neither kill nor delete --force touch it."""
    b, out = outb(["sleep", "1000"])
    create(runtime, b, "p")
    assert call(runtime, "start", "p").returncode == 0
    real = runtime.state("p")["pid"]
    victim = subprocess.Popen(["sleep", "1000"])
    orig = _edit_state(runtime, "p", pid=victim.pid)
    try:
        st = runtime.state("p")
        assert st["status"] == "stopped", st
        r = call(runtime, "kill", "p", "KILL")
        assert r.returncode != 0, "kill of a stopped container must fail"
        time.sleep(0.1)
        assert victim.poll() is None, "kill signalled an unrelated process"
        call(runtime, "delete", "--force", "p")
        time.sleep(0.1)
        assert victim.poll() is None, "delete --force signalled an unrelated process"
    finally:
        victim.kill()
        victim.wait()
        if os.path.isdir(os.path.join(runtime.root, "p")):
            _restore_state(runtime, "p", orig)
        else:
            os.kill(real, signal.SIGKILL)
    assert wait_gone(real)


def test_changed_start_time_is_not_the_container(runtime, outb, wait_gone):
    """Same pid, another start time (the pid was recycled): stopped, not signalled."""
    b, out = outb(["sleep", "1000"])
    create(runtime, b, "p")
    assert call(runtime, "start", "p").returncode == 0
    real = runtime.state("p")["pid"]
    path = os.path.join(runtime.root, "p", "state.json")
    with open(path) as f:
        d = json.load(f)
    keys = [k for k, v in d.items() if isinstance(v, int) and k != "pid" and "start" in k.lower()]
    assert keys, f"state.json records no start time of the init: {sorted(d)}"
    orig = _edit_state(runtime, "p", **{k: d[k] + 12345 for k in keys})
    try:
        assert runtime.state("p")["status"] == "stopped"
        assert call(runtime, "kill", "p", "KILL").returncode != 0
        time.sleep(0.1)
        assert alive(real), "kill signalled a process whose start time does not match"
    finally:
        _restore_state(runtime, "p", orig)
    assert runtime.state("p")["status"] == "running"
    assert call(runtime, "delete", "--force", "p").returncode == 0
    assert wait_gone(real)


@pytest.mark.parametrize("cid", ["../x", "a/b", "", ".", ".."])
def test_invalid_ids_are_refused(runtime, outb, tmp_path, cid):
    b, out = outb(["sh", "-c", "touch /out/ran"])
    parent = os.path.dirname(runtime.root)
    before = set(os.listdir(parent))
    r = call(runtime, "create", "--bundle", b, cid)
    assert r.returncode != 0
    assert len(err_lines(r)) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "id" in r.stderr.lower()
    assert set(os.listdir(parent)) == before
    assert runtime.ids() == []
    assert not (out / "ran").exists()
    for cmd in (["state", cid], ["kill", cid, "KILL"], ["delete", cid], ["start", cid]):
        r = call(runtime, *cmd)
        assert r.returncode != 0 and "Traceback" not in r.stderr, (cmd, r.stderr)


# -- serialization ----------------------------------------------------------

def test_concurrent_creates_of_one_id(runtime, outb, tmp_path):
    b, out = outb(["sh", "-c", "touch /out/ran; sleep 1000"])
    logs = [open(tmp_path / f"create{i}.log", "w+") for i in range(2)]
    procs = [spawn(runtime, "create", "--bundle", b, "same", out=logs[i]) for i in range(2)]
    codes = [p.wait(timeout=30) for p in procs]
    texts = []
    for f in logs:
        f.seek(0)
        texts.append(f.read())
        f.close()
    assert codes.count(0) == 1, (codes, texts)
    loser = texts[codes.index(0) ^ 1]
    lines = [ln for ln in loser.splitlines() if "warning" not in ln.lower()]
    assert len(lines) == 1 and "same" in lines[0] and "Traceback" not in loser, loser
    st = runtime.state("same")
    assert st["status"] == "created" and alive(st["pid"])
    assert call(runtime, "start", "same").returncode == 0
    assert poll(lambda: (out / "ran").exists())
    assert runtime.state("same")["status"] == "running"


def test_concurrent_delete_force(runtime, outb, wait_gone, tmp_path):
    b, out = outb(["sleep", "1000"])
    create(runtime, b, "same")
    assert call(runtime, "start", "same").returncode == 0
    pid = runtime.state("same")["pid"]
    results = [None, None]

    def go(i):
        results[i] = call(runtime, "delete", "--force", "same", timeout=20)
    ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for r in results:
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
    assert wait_gone(pid)
    assert runtime.ids() == []


def test_concurrent_starts_run_the_program_once(runtime, outb):
    b, out = outb(["sh", "-c", "echo ran >> /out/runs; sleep 1000"])
    create(runtime, b, "s")
    results = [None, None]

    def go(i):
        results[i] = call(runtime, "start", "s", timeout=20)
    ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    codes = sorted(r.returncode for r in results)
    assert codes[0] == 0 and codes[1] != 0, [(r.returncode, r.stderr) for r in results]
    loser = [r for r in results if r.returncode][0]
    assert len(err_lines(loser)) == 1 and "Traceback" not in loser.stderr, loser.stderr
    assert poll(lambda: (out / "runs").exists())
    time.sleep(0.2)
    assert (out / "runs").read_text() == "ran\n"
    assert runtime.state("s")["status"] == "running"


# -- more of the contract ----------------------------------------------------------

def test_kill_created_container(runtime, outb, wait_gone):
    """kill is allowed on a created container: the init dies, the program never runs."""
    b, out = outb(["sh", "-c", "touch /out/ran; sleep 1000"])
    create(runtime, b, "c")
    pid = runtime.state("c")["pid"]
    r = call(runtime, "kill", "c", "KILL")
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid)
    assert wait_status(runtime, "c", "stopped") == "stopped"
    assert not (out / "ran").exists()
    assert call(runtime, "delete", "c").returncode == 0


def test_start_after_the_init_died_fails_at_once(runtime, outb, wait_gone):
    b, out = outb(["sh", "-c", "touch /out/ran; sleep 1000"])
    create(runtime, b, "c")
    pid = runtime.state("c")["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    t = time.monotonic()
    r = call(runtime, "start", "c", timeout=20)
    assert r.returncode != 0 and time.monotonic() - t < 5
    assert len(err_lines(r)) == 1 and '"c"' in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (out / "ran").exists()
    assert runtime.state("c")["status"] == "stopped"


def test_relative_bundle_and_pid_file(runtime, outb, tmp_path):
    """Both relative to the caller's cwd; the state records the bundle's
    absolute path (runtime.md: "the absolute path to the container's bundle")."""
    b, out = outb(["sleep", "1000"])
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(runtime.cmd("create", "--bundle", os.path.basename(b), "--pid-file", "rel.pid", "r"),
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=_env(),
                           cwd=os.path.dirname(b), timeout=30)
        err.seek(0)
        assert p.returncode == 0, err.read()
    st = runtime.state("r")
    assert st["bundle"] == b
    assert int((tmp_path / "rel.pid").read_text()) == st["pid"]


def test_bundle_defaults_to_the_current_directory(runtime, outb):
    b, out = outb(["sh", "-c", "touch /out/ran"])
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(runtime.cmd("run", "dot"), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=err, env=_env(), cwd=b, timeout=30)
        err.seek(0)
        assert p.returncode == 0, err.read()
    assert (out / "ran").exists()


SPEC = os.path.join(os.path.dirname(REPO), "shared", "oci-runtime-spec", "schema")


def _state_validator():
    if not os.path.isdir(SPEC):
        pytest.skip(f"runtime spec not found at {SPEC}")
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    reg = Registry()
    for name in os.listdir(SPEC):
        if name.endswith(".json"):
            with open(os.path.join(SPEC, name)) as f:
                reg = reg.with_resource(name, Resource.from_contents(json.load(f), default_specification=DRAFT4))
    with open(os.path.join(SPEC, "state-schema.json")) as f:
        return jsonschema.Draft4Validator(json.load(f), registry=reg)


def test_state_follows_the_schema_in_every_status(runtime, outb, wait_gone):
    v = _state_validator()
    b, out = outb(["sh", "-c", "until [ -e /out/go ]; do sleep 0.02; done"])
    create(runtime, b, "s")
    seen = []
    for step in ("created", "running", "stopped"):
        if step == "running":
            assert call(runtime, "start", "s").returncode == 0
        if step == "stopped":
            (out / "go").touch()
            assert wait_status(runtime, "s", "stopped") == "stopped"
        st = runtime.state("s")
        assert st["status"] == step
        errors = [e.message for e in v.iter_errors(st)]
        assert not errors, (st, errors)
        seen.append(st)
    assert seen[0]["pid"] == seen[1]["pid"] > 0 and seen[2]["pid"] == 0


def test_state_ociVersion_is_the_runtimes(runtime, outb):
    """runtime.md: the state's ociVersion is the spec version "with which the
    state complies": ocipy's (features' ociVersionMax), whatever version the
    config was written for (runc too reports its own, not the config's)."""
    def old(cfg):
        cfg["ociVersion"] = "1.0.0"
    b, out = outb(["sleep", "1000"], edit=old)
    create(runtime, b, "v")
    mine = json.loads(call(runtime, "features").stdout)["ociVersionMax"]
    assert runtime.state("v")["ociVersion"] == mine


def test_run_forwards_signals_to_the_container(runtime, outb):
    b, out = outb(["sh", "-c", TRAPPER])
    p = spawn(runtime, "run", "--bundle", b, "f")
    try:
        assert poll(lambda: (out / "ready").exists()), "the program did not start"
        for sig, name in ((signal.SIGUSR1, "USR1"), (signal.SIGHUP, "HUP"), (signal.SIGTERM, "TERM")):
            p.send_signal(sig)
            assert poll(lambda: sigs(out) and sigs(out)[-1] == name), (name, sigs(out))
        assert p.poll() is None, "run exited on a signal its container handled"
        assert sigs(out) == ["USR1", "HUP", "TERM"]
    finally:
        p.kill()
        p.wait()


def test_run_passes_stdin_and_stdout(runtime, bundle):
    b = bundle(["sh", "-c", "read x; echo got $x; echo err >&2"])
    r = runtime("run", "--bundle", b, "io", input="hello\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "got hello\n"
    assert r.stderr.splitlines()[-1] == "err"


# -- without a pid namespace: the container's processes are still all found ------------

def _in_mnt_ns(ino: int) -> list[int]:
    pids = []
    for n in os.listdir("/proc"):
        try:
            if n.isdigit() and os.stat(f"/proc/{n}/ns/mnt").st_ino == ino and alive(int(n)):
                pids.append(int(n))
        except OSError:
            pass
    return pids


def _no_pidns(cfg):
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]


@pytest.mark.parametrize("how", [["kill", "--all", "np", "KILL"], ["delete", "--force", "np"]],
                         ids=["kill-all", "delete-force"])
def test_no_pid_namespace_every_process_is_killed(runtime, outb, wait_gone, how):
    """runc finds them through the cgroup; the init's children (here two
    background sleeps in the container's mount namespace) must not survive."""
    b, out = outb(["sh", "-c", "sleep 1000 & sleep 1000 & touch /out/ready; wait"], edit=_no_pidns)
    create(runtime, b, "np")
    assert call(runtime, "start", "np").returncode == 0
    assert poll(lambda: (out / "ready").exists())
    pid = runtime.state("np")["pid"]
    ino = os.stat(f"/proc/{pid}/ns/mnt").st_ino
    assert poll(lambda: len(_in_mnt_ns(ino)) >= 3), _in_mnt_ns(ino)
    r = call(runtime, *how)
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid)
    left = poll(lambda: not _in_mnt_ns(ino), timeout=3) or _in_mnt_ns(ino)
    if left is not True:
        for p in left:
            os.kill(p, signal.SIGKILL)
    assert left is True, f"processes of the container survive {' '.join(how)}: {left}"
