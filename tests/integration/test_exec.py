"""`ocipy exec`, observed from inside real containers: the namespaces,
cgroup and root of the init, the process attributes from flags and from
process.json, exit statuses, --detach/--pid-file, terminals, stdin,
--preserve-fds, paused and stopped containers, fd hygiene, the
non-dumpable setup process, runc's exec side by side, and the speed.

The CLI's stdio goes to files (test_lifecycle.call): a container process
inherits it.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import threading
import time

import pytest

from conftest import REPO, _env
from test_lifecycle import call, create, outb, poll, spawn  # noqa: F401 - outb is a fixture
from test_terminal import ConsoleSocket, read_until_eof

LOOP = "touch /out/ready 2>/dev/null; while :; do sleep 1; done"
NS = ("pid", "mnt", "net", "uts", "ipc", "cgroup")


@pytest.fixture
def ctr(runtime, outb):
    """A running container "e" (sh looping), /out bind-mounted, a file
    /only-in-rootfs in its rootfs. Returns (bundle, out dir, init pid)."""
    b, out = outb(["sh", "-c", LOOP])
    with open(os.path.join(b, "rootfs", "only-in-rootfs"), "w") as f:
        f.write("rootfs-marker\n")
    create(runtime, b, "e")
    assert call(runtime, "start", "e").returncode == 0
    assert poll(lambda: (out / "ready").exists()), "the container did not start"
    return b, out, runtime.state("e")["pid"]


def ex(rt, *args, input=None, timeout=30, **kw) -> subprocess.CompletedProcess:
    """exec with stdio on pipes: the exec'd process ends with the CLI here."""
    return subprocess.run(rt.cmd("exec", *args), input=input, capture_output=True, text=True,
                          timeout=timeout, env=_env(), cwd=REPO,
                          stdin=None if input is not None else subprocess.DEVNULL, **kw)


def test_joins_every_namespace_of_the_init(runtime, ctr):
    _, _, pid = ctr
    script = "; ".join(f"readlink /proc/self/ns/{n}" for n in NS)
    r = ex(runtime, "e", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    want = [os.readlink(f"/proc/{pid}/ns/{n}") for n in NS]
    assert r.stdout.split() == want
    mine = [os.readlink(f"/proc/self/ns/{n}") for n in NS]
    assert all(a != b for a, b in zip(want[:5], mine[:5])), "the container shares the host's namespaces?"


def test_joins_the_cgroup_and_root(runtime, ctr):
    _, _, pid = ctr
    r = ex(runtime, "e", "sh", "-c", "cat /proc/self/cgroup; cat /only-in-rootfs; ls /out >/dev/null && echo out-ok")
    assert r.returncode == 0, r.stderr
    with open(f"/proc/{pid}/cgroup") as f:
        init_cg = f.read()
    assert r.stdout == init_cg + "rootfs-marker\nout-ok\n"


def test_state_dirs_equal_the_managers(runtime, ctr):
    """exec reads the cgroup dirs straight from state.json (fast path):
    equal to what the cgroup manager says."""
    from ocipy.cgroups import from_state
    from ocipy.commands.exec import state_dirs

    with open(os.path.join(runtime.root, "e", "state.json")) as f:
        s = json.load(f)["cgroup"]
    assert state_dirs(s) == from_state(s).dirs()


def test_flags_env_cwd_user_groups_caps(runtime, ctr):
    r = ex(runtime, "-e", "A=1", "-e", "A=2", "-e", "B=x y", "--cwd", "/tmp", "-u", "1000:1000", "-g", "5",
           "-g", "6", "e", "sh", "-c", "echo $A/$B/$HOME; pwd; id -u; id -g; id -G; grep CapBnd /proc/self/status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:5] == ["2/x y//home/user", "/tmp", "1000", "1000", "1000 5 6"]
    r = ex(runtime, "-c", "CAP_SYS_ADMIN", "-c", "net_admin", "e", "grep", "CapEff", "/proc/self/status")
    eff = int(r.stdout.split()[1], 16)
    assert eff >> 21 & 1 and eff >> 12 & 1, r.stdout
    r = ex(runtime, "e", "grep", "CapEff", "/proc/self/status")
    assert not int(r.stdout.split()[1], 16) >> 21 & 1  # default: the config's set
    r = ex(runtime, "--no-new-privs", "e", "grep", "NoNewPrivs", "/proc/self/status")
    assert r.stdout.split() == ["NoNewPrivs:", "1"]


def test_defaults_come_from_config(runtime, outb):
    def edit(c):
        c["process"]["env"] = ["PATH=/bin", "FROMCFG=yes"]
        c["process"]["cwd"] = "/home"
        c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [7]}
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
        c["process"]["args"] = ["sh", "-c", "while :; do sleep 1; done"]
    b, _ = outb(["true"], edit)
    create(runtime, b, "d")
    assert call(runtime, "start", "d").returncode == 0
    r = ex(runtime, "d", "sh", "-c", "echo $FROMCFG; pwd; id -u; id -G; ulimit -n; ulimit -Hn")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["yes", "/home", "1000", "1000", "7", "123", "456"]


def test_process_json(runtime, ctr, tmp_path):
    proc = {"args": ["sh", "-c", "echo $P; pwd; id -u; id -g; grep CapEff /proc/self/status"],
            "env": ["PATH=/bin", "P=from-json"], "cwd": "/etc", "user": {"uid": 1000, "gid": 100},
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}}
    pj = tmp_path / "process.json"
    pj.write_text(json.dumps(proc))
    r = ex(runtime, "--process", str(pj), "e")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:4] == ["from-json", "/etc", "1000", "100"]
    proc["user"]["uid"] = 0
    pj.write_text(json.dumps(proc))
    r = ex(runtime, "-p", str(pj), "e")
    assert int(r.stdout.split()[-1], 16) == 1 << 5  # CAP_KILL only


def test_process_json_from_a_pipe(runtime, ctr):
    """runc reads --process from a pipe too (`--process <(...)`, /dev/stdin)."""
    proc = {"args": ["sh", "-c", "echo piped"], "cwd": "/", "user": {"uid": 0, "gid": 0}}
    r = ex(runtime, "--process", "/dev/stdin", "e", input=json.dumps(proc))
    assert (r.returncode, r.stdout.strip()) == (0, "piped"), r.stderr


@pytest.mark.parametrize("body, where", [
    ('{"args": ["true"], "cwd": "/", "user": {"uid": -1, "gid": 0}}', "user.uid"),
    ('{"args": ["true"], "cwd": 3}', "cwd"),
    ('{"args": ["true"], "cwd": "/",', "invalid JSON"),
])
def test_bad_process_json(runtime, ctr, tmp_path, body, where):
    pj = tmp_path / "p.json"
    pj.write_text(body)
    r = ex(runtime, "-p", str(pj), "e")
    assert r.returncode == 255
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(pj) in lines[0] and where in lines[0], r.stderr


@pytest.mark.parametrize("code", [0, 3, 137])
def test_exit_status(runtime, ctr, code):
    script = "kill -9 $$" if code == 137 else f"exit {code}"
    r = ex(runtime, "e", "sh", "-c", script)
    assert r.returncode == code, r.stderr


def test_errors(runtime, ctr):
    r = ex(runtime, "e", "nosuch")
    assert r.returncode == 255
    assert 'exec: "nosuch": executable file not found in $PATH' in r.stderr
    r = ex(runtime, "nope", "true")
    assert r.returncode == 255 and '"nope"' in r.stderr and "does not exist" in r.stderr
    r = ex(runtime, "--cwd", "/nonexist", "e", "true")
    assert r.returncode == 255 and "/nonexist" in r.stderr
    r = ex(runtime, "e")
    assert r.returncode == 255 and "command" in r.stderr
    for flag in ("--apparmor", "--process-label"):
        r = ex(runtime, flag, "x", "e", "true")
        assert r.returncode == 255 and flag in r.stderr and "not supported" in r.stderr
    r = ex(runtime, "-u", "bob", "e", "true")
    assert r.returncode == 255 and "--user" in r.stderr
    r = ex(runtime, "-d", "-t", "e", "true")
    assert r.returncode == 255 and "console-socket" in r.stderr


def test_detach_and_pid_file(runtime, ctr, tmp_path):
    _, out, pid = ctr
    pf = tmp_path / "exec.pid"
    r = call(runtime, "exec", "-d", "--pid-file", str(pf), "e", "sh", "-c", "echo $$ > /out/inner; sleep 30")
    assert r.returncode == 0, r.stderr
    xpid = int(pf.read_text())
    assert os.readlink(f"/proc/{xpid}/ns/pid") == os.readlink(f"/proc/{pid}/ns/pid")
    assert poll(lambda: (out / "inner").exists())
    # no fd of the runtime in the exec'd process: stdio only
    assert sorted(os.listdir(f"/proc/{xpid}/fd")) == ["0", "1", "2"]
    # busybox's sh execs the sleep applet through /proc/self/exe: the name is
    # "exe" until the applet names itself "sleep" (a window CI once hit)
    def name() -> str:
        with open(f"/proc/{xpid}/status") as f:
            return f.readline()
    assert poll(lambda: "sleep" in name()), name()


def test_stdin_passthrough(runtime, ctr):
    r = ex(runtime, "e", "sh", "-c", "read x; echo got:$x; cat", input="line1\nrest\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "got:line1\nrest\n"


def test_preserve_fds(runtime, ctr, tmp_path):
    r0, w0 = os.pipe()
    rfd, wfd = os.dup2(r0, 50), os.dup2(w0, 51)
    os.close(r0)
    os.close(w0)
    try:
        # fd 5 of the CLI is our pipe: made in the child only (fd 5 of this
        # process may be pytest's own), fds 3 and 4 are whatever it has
        r = subprocess.run(runtime.cmd("exec", "--preserve-fds", "3", "e", "sh", "-c",
                                       "echo via-fd5 >&5; ls /proc/self/fd"),
                           capture_output=True, text=True, timeout=30, env=_env(), cwd=REPO,
                           stdin=subprocess.DEVNULL, pass_fds=(wfd, 5),
                           preexec_fn=lambda: os.dup2(wfd, 5))
        os.close(wfd)
        wfd = -1
        assert r.returncode == 0, r.stderr
        assert os.read(rfd, 100) == b"via-fd5\n"
        fds = set(r.stdout.split())
        assert "5" in fds and not fds - {"0", "1", "2", "3", "4", "5"}, fds
    finally:
        os.close(rfd)
        if wfd >= 0:
            os.close(wfd)


def test_tty_with_console_socket(runtime, ctr, tmp_path):
    cs = ConsoleSocket(str(tmp_path / "c.sock"))
    try:
        got = {}

        def accept():
            got["fd"], got["name"] = cs.accept_master()

        t = threading.Thread(target=accept)
        t.start()
        r = call(runtime, "exec", "-d", "-t", "--console-socket", cs.path, "e", "sh", "-c",
                 "tty; read x; echo in:$x; [ -t 0 ] && echo isatty")
        t.join(20)
        assert r.returncode == 0, r.stderr
        out = read_until_eof(got["fd"], send=b"typed\n", send_after=b"/dev/pts/")
        os.close(got["fd"])
        assert "/dev/pts/" in out and "in:typed" in out and "isatty" in out, out
    finally:
        cs.close()


def test_tty_foreground_proxy(runtime, ctr):
    r = ex(runtime, "-t", "e", "sh", "-c", "tty; exit 4")
    assert r.returncode == 4, r.stderr
    assert "/dev/pts/" in r.stdout


def test_paused_container(runtime, ctr, tmp_path):
    _, out, _ = ctr
    assert call(runtime, "pause", "e").returncode == 0
    try:
        r = ex(runtime, "e", "true")
        assert r.returncode == 255 and "cannot exec in a paused container" in r.stderr, r.stderr
        # --ignore-paused: accepted; the process joins the frozen cgroup and
        # runs once the container is resumed (as runc)
        log = tmp_path / "ign.log"
        with open(log, "w") as f:
            p = spawn(runtime, "exec", "--ignore-paused", "e", "sh", "-c", "touch /out/ign", out=f)
            # the setup process is frozen before execve: while it is, a root
            # without CAP_SYS_PTRACE (a container's) cannot open its exe
            # (CVE-2019-5736 class). NB: this holds by the capability subset
            # rule too (it holds CAP_SYS_PTRACE); it does not isolate
            # PR_SET_DUMPABLE, which no /proc file exposes
            setup = poll(lambda: _frozen_setup_pid(runtime))
            if setup:
                assert _exe_open_without_ptrace(setup) == "EACCES"
            time.sleep(0.2)
            assert not (out / "ign").exists()
    finally:
        assert call(runtime, "resume", "e").returncode == 0
    assert p.wait(20) == 0, log.read_text()
    assert (out / "ign").exists()
    if not setup:
        pytest.skip("could not catch the frozen setup process (checked the rest)")


def _frozen_setup_pid(runtime) -> int:
    """The ocipy process waiting, frozen, in the container's cgroup before its
    execve: the C exec stage (a sealed memfd) or the Python stage 1."""
    from ocipy.commands.exec import state_dirs

    with open(os.path.join(runtime.root, "e", "state.json")) as f:
        dirs = state_dirs(json.load(f)["cgroup"])
    for d in dirs:
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            continue
        for pid in pids:
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
                if "python" in exe or "ocipy-exec" in exe:
                    return pid
            except OSError:
                continue
    return 0


def _exe_open_without_ptrace(pid: int) -> str:
    """Open /proc/<pid>/exe as root without CAP_SYS_PTRACE (a container's
    root): "EACCES" when the process is non-dumpable."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            from ocipy import syscalls as sc

            eff, perm, inh = sc.capget()
            m = ~(1 << 19)  # CAP_SYS_PTRACE
            sc.capset(eff & m, perm & m, inh & m)
            try:
                os.close(os.open(f"/proc/{pid}/exe", os.O_RDONLY))
                os.write(w, b"opened")
            except PermissionError:
                os.write(w, b"EACCES")
            except OSError as e:
                os.write(w, str(e).encode())
        finally:
            os._exit(0)
    os.close(w)
    res = os.read(r, 200).decode()
    os.close(r)
    os.waitpid(child, 0)
    return res


def test_stopped_container(runtime, ctr, wait_gone):
    _, _, pid = ctr
    assert call(runtime, "kill", "e", "KILL").returncode == 0
    assert wait_gone(pid)
    r = ex(runtime, "e", "true")
    assert r.returncode == 255 and "stopped" in r.stderr, r.stderr


def test_created_container(runtime, outb):
    b, _ = outb(["sh", "-c", "sleep 100"])
    create(runtime, b, "c")
    r = ex(runtime, "c", "sh", "-c", "echo in-created")
    assert r.returncode == 0 and r.stdout == "in-created\n", r.stderr


def test_same_as_runc(runtime, runc, bundle, tmp_path):
    b = bundle(["sh", "-c", "while :; do sleep 1; done"])
    outs = {}
    for rt in (runtime, runc):
        with open(tmp_path / f"{rt.name}.log", "w") as f:
            r = subprocess.run(rt.cmd("run", "-d", "x"), cwd=b, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                               env=_env(), timeout=30)
        assert r.returncode == 0, (tmp_path / f"{rt.name}.log").read_text()
        script = ("id; pwd; env | sort; grep -E '^(Cap|NoNewPrivs|Groups|Sig(Blk|Ign))' /proc/self/status; "
                  "ulimit -n; umask; ls /proc/self/fd | wc -l; readlink /proc/self/ns/pid")
        res = []
        for extra in ([], ["-u", "1000:1000", "-g", "5", "-e", "X=1", "--cwd", "/tmp", "-c", "CAP_NET_ADMIN"]):
            r = ex(rt, *extra, "x", "sh", "-c", script)
            assert r.returncode == 0, (rt.name, r.stderr)
            res.append(r.stdout.splitlines()[:-1])  # the pid namespace differs, not its presence
        res.append(ex(rt, "x", "sh", "-c", "exit 7").returncode)
        res.append(ex(rt, "x", "nosuch").returncode)
        outs[rt.name] = res
        rt("delete", "--force", "x")
    assert outs["ocipy"] == outs["runc"]


def test_speed_vs_runc(runtime, runc, bundle, tmp_path):
    """exec of /bin/true, 30 runs each, interleaved, medians (issue 4's
    budget is 0.6x runc; the ratio is printed, and must stay below 1.2)."""
    lean = os.environ.get("OCIPY") or "/usr/local/bin/ocipy"
    if not os.access(lean, os.X_OK):
        pytest.skip("the lean launcher (hack/setup installs /usr/local/bin/ocipy) is not installed")
    runtime = type(runtime)([lean], runtime.root, "ocipy")
    b = bundle(["sleep", "1000"])
    for rt in (runtime, runc):
        r = subprocess.run(rt.cmd("run", "-d", "s"), cwd=b, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=_env(), timeout=30)
        assert r.returncode == 0
    times = {"ocipy": [], "runc": []}
    env = _env()

    def once(rt):
        t = time.perf_counter()
        r = subprocess.run(rt.cmd("exec", "s", "/bin/true"), stdin=subprocess.DEVNULL, env=env)
        times[rt.name].append(time.perf_counter() - t)
        assert r.returncode == 0

    for _ in range(3):
        once(runtime), once(runc)
    times = {"ocipy": [], "runc": []}
    for i in range(30):
        for rt in ((runtime, runc) if i % 2 else (runc, runtime)):
            once(rt)
    o, rr = statistics.median(times["ocipy"]), statistics.median(times["runc"])
    print(f"\nexec /bin/true: ocipy {o * 1e3:.1f} ms, runc {rr * 1e3:.1f} ms, ratio {o / rr:.2f}")
    for rt in (runtime, runc):
        rt("delete", "--force", "s")
    assert o / rr < 1.2
