"""Escape-proof hardening, proved by a program inside the container that
attacks (tests/integration/attack/: attack.c, fakeld.c, built here with
`gcc -static`). Every attack targets only files and directories this test
made; a write is proved by a successful open() that is closed unwritten.

(a) CVE-2019-5736 class: no file of the host reachable through
    /proc/<pid>/{exe,fd/*,cwd,root,map_files/*} of an ocipy process (open for
    writing, O_PATH + reopen, '..'), no ocipy process ptrace-able, during
    create, start and exec; the "#!/proc/self/exe" trick; hashes of the
    interpreter and of ocipy unchanged.
(b) CVE-2024-21626 class: only stdio and --preserve-fds reach the process,
    even with an extra fd inherited by ocipy; process.cwd / exec --cwd
    through /proc/self/fd/N (or a symlink to it, or ../..) never puts the
    process outside its rootfs.
(c) CVE-2021-30465 class: a mount destination flipped between a directory
    and a symlink to a host directory never mounts on the host.
(d) CVE-2025-31133 / -52565 / -52881 classes: masking with the runtime's own
    /dev/null whatever the rootfs's /dev/null is, symlinked masked paths,
    /dev/console and /proc tricks; the host's /dev/null untouched.
(e) the default spec (`ocipy spec`): the dangerous /proc and /sys entries
    are masked or read-only.

runc (the reference, 1.1.5) faces the same attacks where the test says so;
its outcome is recorded (see .bugs/hardening.md), never hidden.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import stat
import subprocess
import threading
import time

import pytest

from conftest import REPO, _env, write_config

HERE = os.path.dirname(os.path.abspath(__file__))
ATTACK = os.path.join(HERE, "attack")


def _interpreter() -> tuple[str, str]:
    """The host interpreter the CLI under test runs on, and the command
    name (comm) its processes carry."""
    import sys

    launcher = os.environ.get("OCIPY")
    if launcher:
        with open(launcher) as f:
            first = f.readline()
        if first.startswith("#!"):
            return os.path.realpath(first[2:].split()[0]), os.path.basename(launcher)[:15]
        return os.path.realpath(launcher), os.path.basename(launcher)[:15]
    return os.path.realpath(sys.executable), os.path.basename(sys.executable)[:15]


PYTHON, COMM = _interpreter()


# --- building the attackers ------------------------------------------------------
@pytest.fixture(scope="session")
def attackers(tmp_path_factory) -> dict:
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build the attack programs")
    if os.uname().machine != "x86_64":
        pytest.skip("fakeld.c is x86_64 code")
    d = tmp_path_factory.mktemp("attack")
    subprocess.run(["gcc", "-static", "-O2", "-o", str(d / "attack"), os.path.join(ATTACK, "attack.c")],
                   check=True, capture_output=True)
    subprocess.run(["gcc", "-O2", "-nostdlib", "-static", "-fno-pie", "-no-pie", "-fno-stack-protector",
                    "-fno-builtin", "-Wl,-Ttext-segment=0x20000000", "-o", str(d / "fakeld"),
                    os.path.join(ATTACK, "fakeld.c")], check=True, capture_output=True)
    return {"attack": str(d / "attack"), "fakeld": str(d / "fakeld")}


def ocipy_spec() -> dict:
    """`ocipy spec`'s default config (the default a user gets)."""
    import tempfile

    argv = [os.environ["OCIPY"]] if os.environ.get("OCIPY") else ["python3", "-m", "ocipy"]
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(argv + ["spec"], cwd=d, check=True, env=_env(), capture_output=True)
        with open(os.path.join(d, "config.json")) as f:
            return json.load(f)


@pytest.fixture
def abundle(bundle, attackers, tmp_path):
    """make(args, edit=None, name, default_spec=False) -> (bundle, out): a
    busybox bundle with /attack in its rootfs and a host dir bound rw at
    /out; with default_spec, the config is `ocipy spec`'s."""
    def make(args, edit=None, name="bundle", default_spec=False):
        out = tmp_path / f"{name}-out"
        out.mkdir()

        def ed(cfg):
            if default_spec:
                d = ocipy_spec()
                cfg.clear()
                cfg.update(d)
                cfg["process"]["args"] = list(args)
                cfg["process"]["terminal"] = False
            cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                                  "options": ["rbind", "rw"]})
            if edit:
                edit(cfg)
        b = bundle(args, ed, name)
        shutil.copy(attackers["attack"], os.path.join(b, "rootfs", "attack"))
        return b, out
    return make


def run_cli(rt, *args, out_dir=None, timeout=30, pass_fds=(), input=None):
    """The CLI with stdin /dev/null and stdout/stderr in files of out_dir (a
    container inherits them: nothing of the host's is reachable that way)."""
    d = str(out_dir) if out_dir else None
    if d:
        so, se = open(os.path.join(d, "cli.out"), "w+"), open(os.path.join(d, "cli.err"), "w+")
    else:
        import tempfile

        so, se = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    with so, se:
        p = subprocess.run(rt.cmd(*args), stdin=subprocess.DEVNULL, stdout=so, stderr=se, env=_env(), cwd=REPO,
                           timeout=timeout, pass_fds=pass_fds)
        so.seek(0)
        se.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, so.read(), se.read())


def poll(fn, timeout=10.0, interval=0.02):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)


def read(path) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def inodes(*trees) -> set:
    """(st_dev, st_ino) of every entry of the trees (not following symlinks)."""
    out = set()
    for t in trees:
        t = str(t)
        s = os.lstat(t)
        out.add((s.st_dev, s.st_ino))
        for dirpath, dirs, files in os.walk(t):
            for n in dirs + files:
                try:
                    s = os.lstat(os.path.join(dirpath, n))
                except FileNotFoundError:
                    continue
                out.add((s.st_dev, s.st_ino))
    return out


def host_devs(*extra) -> set:
    """The host filesystems a container must never reach beyond its own
    rootfs and mounts: the root fs, /tmp, /run, the checkout, the host /proc."""
    paths = ["/", PYTHON, "/tmp", "/run", REPO, "/proc", "/sys", *map(str, extra)]
    return {os.stat(p).st_dev for p in paths if os.path.exists(p)}


def ocipy_files() -> dict:
    """sha256 of the interpreter ocipy runs on, its launcher, the stdlib
    modules beside it and ocipy's own files that are committed unmodified
    (other work may edit the checkout meanwhile: compare with same_files)."""
    files = [PYTHON, "/usr/local/bin/ocipy"]
    lib = "/usr/lib/python3.11"  # (the stdlib of Debian's python3.11, the launcher's)
    files += [os.path.join(lib, n) for n in os.listdir(lib) if n.endswith(".py")]
    try:
        tracked = subprocess.run(["git", "ls-files", "ocipy"], cwd=REPO, capture_output=True, text=True).stdout.split()
        dirty = set(subprocess.run(["git", "diff", "--name-only", "HEAD"], cwd=REPO, capture_output=True,
                                   text=True).stdout.split())
        files += [os.path.join(REPO, f) for f in tracked if f not in dirty]
    except OSError:
        pass
    out = {}
    for p in files:
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[p] = hashlib.sha256(f.read()).hexdigest()
    return out


def same_files(before: dict, after: dict) -> list:
    """Files hashed both times whose content changed."""
    return [p for p in before if p in after and before[p] != after[p]]


# the programs the attacks run in their containers (comm names)
CONTAINER_COMMS = ("attack", "sh", "sleep", "true", "cat", "busybox")


def leaks(log: str, allowed: set, devs: set, forbidden: set) -> list:
    """Lines of an attack log that reached the host: a target on a host
    filesystem that is neither in the container's trees nor stdio it was
    given, or any forbidden file (the interpreter, ocipy, the state dir)."""
    bad = []
    for line in log.splitlines():
        f = line.split()
        if f[:1] == ["OPEN"]:
            _, how, pid, comm, link, typ, dev, ino = f[:8]
            key = (int(dev), int(ino))
            if key in forbidden:
                bad.append(line)
            elif int(dev) in devs and key not in allowed and typ not in ("fifo", "sock"):
                bad.append(line)
        elif f[:1] == ["TRACE"]:
            key = (int(f[3]), int(f[4]))
            if key == (0, 0) and f[2] in CONTAINER_COMMS:
                # traced, then gone before its exe could be read: a program of the
                # container by its name (set by the execve that made it one; ocipy's
                # stages are named after the interpreter or the memfd)
                continue
            if key not in allowed:  # a traced process that is not the container's own busybox
                bad.append(line)
    return bad


def forbidden_keys(rt) -> set:
    keys = set()
    for p in [PYTHON, "/usr/local/bin/ocipy", os.path.join(REPO, "ocipy"), rt.root]:
        s = os.stat(p)
        keys.add((s.st_dev, s.st_ino))
    keys |= inodes(rt.root)
    return keys


# === (a) CVE-2019-5736 class ========================================================
SCAN_SECS = 5


def test_no_ocipy_file_reachable_during_create_start_exec(runtime, abundle, tmp_path):
    """A scanner exec'd into a *created* container (its pid 1 is still the
    ocipy init, waiting for `start`) loops over every process's exe, fds,
    cwd, root and map_files while the test runs `ocipy exec` and full
    create/start/delete cycles of a second container joined to the same pid
    namespace: nothing of ocipy or of the host may be opened, walked or
    traced."""
    before = ocipy_files()
    b, out = abundle(["sh", "-c", "sleep 1000"], name="a")
    r = run_cli(runtime, "create", "--bundle", b, "a", out_dir=out)
    assert r.returncode == 0, r.stderr
    init = runtime.state("a")["pid"]
    r = run_cli(runtime, "exec", "-d", "a", "/attack", "scan", str(SCAN_SECS), "/out/scan.log", out_dir=out)
    assert r.returncode == 0, r.stderr

    def join_a(cfg):
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
        cfg["linux"]["namespaces"].append({"type": "pid", "path": f"/proc/{init}/ns/pid"})
    bb, bout = abundle(["true"], join_a, name="b")
    end = time.monotonic() + SCAN_SECS - 1
    cycles = execs = 0
    failed = []  # the attacker may have broken ocipy (reported after the leaks)
    while time.monotonic() < end and not failed:
        r = run_cli(runtime, "exec", "a", "/attack", "fds", "/out/exec.fds", out_dir=out)
        if r.returncode != 0:
            failed.append(("exec", r.stderr))
            break
        execs += 1
        r = run_cli(runtime, "create", "--bundle", bb, "b", out_dir=bout)
        if r.returncode != 0:
            failed.append(("create", r.stderr))
            break
        r = run_cli(runtime, "start", "b", out_dir=bout)
        if r.returncode != 0:
            failed.append(("start", r.stderr))
        run_cli(runtime, "delete", "--force", "b", out_dir=bout)
        cycles += 1
    poll(lambda: "DONE" in read(out / "scan.log"), SCAN_SECS + 10)
    log = read(out / "scan.log")
    allowed = inodes(os.path.join(b, "rootfs"), out, os.path.join(bb, "rootfs"), bout)
    bad = leaks(log, allowed, host_devs(runtime.root, tmp_path), forbidden_keys(runtime))
    assert not bad, "reached from the container:\n" + "\n".join(bad[:40])
    assert not failed, f"ocipy failed under attack: {failed}"
    assert "DONE" in log, "the scanner did not finish"
    rounds = int(log.split("DONE ")[1].split()[0])
    assert rounds > 0 and cycles > 0 and execs > 0
    assert f"SEEN {COMM}" in log, "the scanner never saw an ocipy process: the attack did not run"
    run_cli(runtime, "delete", "--force", "a")
    assert not same_files(before, ocipy_files()), "a file of ocipy or its interpreter changed"


def _evil(b: str, attackers) -> None:
    """/evil: a script run by the interpreter /proc/self/exe; the fake
    dynamic loader that the host's interpreter would load inside the
    container (it logs what /proc/self/exe is)."""
    root = os.path.join(b, "rootfs")
    with open(os.path.join(root, "evil"), "w") as f:
        f.write("#!/proc/self/exe\n")
    os.chmod(os.path.join(root, "evil"), 0o755)
    os.makedirs(os.path.join(root, "lib64"), exist_ok=True)
    shutil.copy(attackers["fakeld"], os.path.join(root, "lib64", "ld-linux-x86-64.so.2"))


def _interpreter_reached(out, binary: str = PYTHON) -> list:
    """ld.log lines proving the container ran and held the runtime's binary."""
    bs = os.stat(binary)
    log = read(out / "ld.log")
    return [ln for ln in log.splitlines() if ln == f"LD {bs.st_dev} {bs.st_ino}" or ln.startswith("REOPEN")
            and ln.endswith(" ok")]


def _shebang_exec(rt, abundle, attackers, binary: str) -> tuple[list, str]:
    b, out = abundle(["sh", "-c", "sleep 1000"], name="a")
    _evil(b, attackers)
    r = run_cli(rt, "run", "-d", "--bundle", b, "a", out_dir=out)
    assert r.returncode == 0, r.stderr
    try:
        run_cli(rt, "exec", "a", "/evil", out_dir=out)
        run_cli(rt, "exec", "a", "/proc/self/exe", "-c", "pass", out_dir=out)
        # the attacker's child retries reopening for 1.5 s
        poll(lambda: read(out / "ld.log").count("REOPEN rdwr") >= read(out / "ld.log").count("LD "), 5)
    finally:
        run_cli(rt, "delete", "--force", "a")
    return _interpreter_reached(out, binary), read(out / "ld.log")


def test_proc_self_exe_script_on_exec(runtime, abundle, attackers):
    """`ocipy exec` of a "#!/proc/self/exe" script (and of /proc/self/exe
    itself): the kernel resolves the interpreter through the exec'ing
    process's own exe. It must never be the host's python3.11: ocipy's
    last execve goes through its sealed memfd trampoline."""
    before = ocipy_files()
    bad, log = _shebang_exec(runtime, abundle, attackers, PYTHON)
    assert not bad, f"the container ran and held the host's interpreter: {bad} ({log})"
    assert not same_files(before, ocipy_files())


def test_proc_self_exe_script_as_init(runtime, abundle, attackers):
    """The same trick as the container's own program (the init execs it):
    refused by the trampoline (exit 126), the host's interpreter never runs."""
    b, out = abundle(["/evil"], name="a")
    _evil(b, attackers)
    r = run_cli(runtime, "run", "--bundle", b, "a", out_dir=out)
    bad = _interpreter_reached(out)
    assert not bad, f"the init ran the host's interpreter in the container: {bad} (exit {r.returncode})"
    assert r.returncode == 126, (r.returncode, r.stderr)


def _created_init_reachable(rt, abundle, comm: str) -> list:
    b, out = abundle(["sh", "-c", "echo started > /out/started"], name="a")
    assert run_cli(rt, "create", "--bundle", b, "a", out_dir=out).returncode == 0
    try:
        r = run_cli(rt, "exec", "a", "/attack", "scan", "0.5", "/out/scan.log", out_dir=out)
        log = read(out / "scan.log")
        assert f"SEEN {comm}" in log, log
        ours = [ln for ln in log.splitlines() if ln.startswith(("OPEN", "TRACE")) and f" 1 {comm}" in ln]
        print(f"{rt.name}: the created init as seen by the attacker (exec exit {r.returncode}):\n" + "\n".join(ours))
        if (out / "started").exists():
            ours.append("the container started before `start`")
        if not ours:
            assert r.returncode == 0, r.stderr
            assert run_cli(rt, "start", "a", out_dir=out).returncode == 0
            assert poll(lambda: (out / "started").exists())
    finally:
        run_cli(rt, "delete", "--force", "a")
    return ours


def test_init_is_not_dumpable_while_created(runtime, abundle):
    """The init waits for `start` as the trampoline in its wait mode (x86_64:
    comm "memfd:ocipy-exe", non-dumpable again right after its execve), or
    else as the ocipy interpreter: an exec'd process must not ptrace it,
    open its exe/fds (a host /proc fd, the exec.fifo) or start it early
    through its fifo."""
    import platform

    comm = "memfd:ocipy-exe" if platform.machine() == "x86_64" else COMM
    ours = _created_init_reachable(runtime, abundle, comm)
    assert not ours, "the waiting init was reachable:\n" + "\n".join(ours)


def test_userns_init_non_dumpable_keeps_oom_score_adj(runtime, abundle):
    """Non-dumpable, an init in a user namespace cannot write its own
    /proc/self/oom_score_adj (the file is then host root's): stage 1 sets it
    before entering the user namespace."""
    def ed(cfg):
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["process"]["oomScoreAdj"] = 123
    b, out = abundle(["sh", "-c", "cat /proc/self/oom_score_adj > /out/oom"], ed, name="u")
    subprocess.run(["chown", "-R", "100000:100000", os.path.join(b, "rootfs"), str(out)], check=True)
    d = b
    while d not in ("/", "/tmp"):  # the user namespace's root must reach the rootfs
        os.chmod(d, os.stat(d).st_mode | 0o005)
        d = os.path.dirname(d)
    r = run_cli(runtime, "run", "--bundle", b, "u", out_dir=out)
    assert r.returncode == 0, r.stderr
    assert read(out / "oom").strip() == "123"


def test_runc_proc_self_exe_script_on_exec(runc, abundle, attackers):
    """runc 1.1.5 against the same trick: the container does run and hold
    the host's /usr/sbin/runc (the fake loader logs its inode), but through
    a read-only bind mount (runc's "bindfd" protection): it can never be
    reopened for writing."""
    reached, log = _shebang_exec(runc, abundle, attackers, shutil.which("runc"))
    print(f"runc: {log}")
    assert reached, "the attack did not reach runc's binary at all (the test is broken?)"
    held = [ln for ln in log.splitlines() if ln.startswith("HELD ")]
    assert held and all(ln.endswith(" ro-mount") for ln in held), log
    assert not [ln for ln in log.splitlines() if ln.startswith("REOPEN") and ln.endswith(" ok")], log


@pytest.mark.xfail(strict=True, reason="runc 1.1.5: its init waiting for `start` is dumpable: an exec'd process "
                   "opens its exe (host runc, ro mount), its exec.fifo (starting the container early) and "
                   "ptraces it (see .bugs/hardening.md)")
def test_runc_init_is_not_dumpable_while_created(runc, abundle):
    ours = _created_init_reachable(runc, abundle, "runc:[2:INIT]")
    assert not ours, "runc: the waiting init was reachable:\n" + "\n".join(ours)


# === (b) CVE-2024-21626 class ========================================================
def fd_lines(text: str) -> list:
    return [ln for ln in text.splitlines() if ln.startswith("FD ")]


def test_only_stdio_reaches_init_and_exec(runtime, abundle, tmp_path):
    """An extra fd that ocipy's caller left open (a host directory, not
    CLOEXEC, as conmon's fd 3 would be) must not reach the init or an exec'd
    process; with --preserve-fds it does (that is the flag's job)."""
    hostdir = tmp_path / "host-secret-dir"
    hostdir.mkdir()
    b, out = abundle(["sh", "-c", "/attack fds /out/init.fds; sleep 1000"], name="a")
    fd = os.open(hostdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.set_inheritable(fd, True)
        r = run_cli(runtime, "run", "-d", "--bundle", b, "a", out_dir=out, pass_fds=(fd,))
        assert r.returncode == 0, r.stderr
        assert poll(lambda: "ROOT" in read(out / "init.fds"))
        r = run_cli(runtime, "exec", "a", "/attack", "fds", "/out/exec.fds", out_dir=out, pass_fds=(fd,))
        assert r.returncode == 0, r.stderr
        os.dup2(fd, 3)
        r = run_cli(runtime, "exec", "--preserve-fds", "1", "a", "/attack", "fds", "/out/pres.fds", out_dir=out,
                    pass_fds=(3, fd))
        assert r.returncode == 0, r.stderr
    finally:
        os.close(fd)
    for name in ("init.fds", "exec.fds"):
        got = [ln.split()[1] for ln in fd_lines(read(out / name))]
        assert got == ["0", "1", "2"], f"{name}: {read(out / name)}"
    got = [ln.split()[1] for ln in fd_lines(read(out / "pres.fds"))]
    assert got == ["0", "1", "2", "3"], read(out / "pres.fds")
    run_cli(runtime, "delete", "--force", "a")


def _cwd_inside(log: str, rootfs_keys: set) -> bool:
    for ln in log.splitlines():
        if ln.startswith("CWD "):
            f = ln.split()
            return f[1] != "-" and (int(f[1]), int(f[2])) in rootfs_keys
    return False


CWD_TRICKS = [f"/proc/self/fd/{n}" for n in range(3, 16)] + [
    "/proc/self/fd/5/../../..", "/proc/self/fd/7/../../../..", "/proc/self/cwd", "/proc/1/cwd", "/proc/self/root/..",
    "/linkfd"]


def test_create_cwd_tricks_stay_inside(runtime, abundle, tmp_path):
    """process.cwd through /proc/self/fd/N (every N the init could hold),
    with ../.. after it, or a rootfs symlink to it: create fails or the
    program runs with its cwd inside the rootfs (checked from inside and
    from the host's /proc/<pid>/cwd)."""
    hostdir = tmp_path / "host-secret-dir"
    hostdir.mkdir()
    (hostdir / "marker").write_text("host\n")
    fd = os.open(hostdir, os.O_RDONLY | os.O_DIRECTORY)
    outside = []
    try:
        os.set_inheritable(fd, True)
        for i, cwd in enumerate(CWD_TRICKS):
            def ed(cfg, cwd=cwd):
                cfg["process"]["cwd"] = cwd
            b, out = abundle(["sh", "-c", "/attack fds /out/fds; ls /proc/$$/cwd/ > /out/ls; cat marker >> /out/ls"],
                             ed, name=f"c{i}")
            os.symlink("/proc/self/fd/7", os.path.join(b, "rootfs", "linkfd"))
            r = run_cli(runtime, "run", "--bundle", b, f"c{i}", out_dir=out, pass_fds=(fd,))
            log = read(out / "fds")
            keys = inodes(os.path.join(b, "rootfs"))
            if r.returncode == 0 or log:
                if not _cwd_inside(log, keys) or "host" in read(out / "ls"):
                    outside.append((cwd, log, read(out / "ls")))
    finally:
        os.close(fd)
    assert not outside, f"cwd outside the rootfs: {outside}"


def test_exec_cwd_tricks_stay_inside(runtime, abundle, tmp_path):
    """`ocipy exec --cwd` with the same tricks, ocipy's caller holding a
    host directory open (inherited, not CLOEXEC)."""
    hostdir = tmp_path / "host-secret-dir"
    hostdir.mkdir()
    (hostdir / "marker").write_text("host\n")
    b, out = abundle(["sh", "-c", "sleep 1000"], name="a")
    os.symlink("/proc/self/fd/7", os.path.join(b, "rootfs", "linkfd"))
    assert run_cli(runtime, "run", "-d", "--bundle", b, "a", out_dir=out).returncode == 0
    keys = inodes(os.path.join(b, "rootfs"))
    fd = os.open(hostdir, os.O_RDONLY | os.O_DIRECTORY)
    outside = []
    try:
        os.set_inheritable(fd, True)
        for cwd in CWD_TRICKS:
            for f in ("fds", "ls"):
                if (out / f).exists():
                    (out / f).unlink()
            r = run_cli(runtime, "exec", "--cwd", cwd, "a", "sh", "-c",
                        "/attack fds /out/fds; cat marker > /out/ls 2>/dev/null", out_dir=out, pass_fds=(fd,))
            log = read(out / "fds")
            if r.returncode == 0 or log:
                if not _cwd_inside(log, keys) or "host" in read(out / "ls"):
                    outside.append((cwd, log))
        # from the host: a detached process's /proc/<pid>/cwd is in the rootfs, or exec failed
        for cwd in ("/proc/self/fd/5", "/linkfd", "/proc/1/cwd"):
            pidf = out / "pid"
            r = run_cli(runtime, "exec", "-d", "--pid-file", str(pidf), "--cwd", cwd, "a", "sleep", "30",
                        out_dir=out, pass_fds=(fd,))
            if r.returncode == 0:
                s = os.stat(f"/proc/{int(pidf.read_text())}/cwd")  # the magic link, followed by the host
                if (s.st_dev, s.st_ino) not in keys:
                    outside.append((cwd, "host view", s.st_dev, s.st_ino))
    finally:
        os.close(fd)
        run_cli(runtime, "delete", "--force", "a")
    assert not outside, f"exec --cwd outside the rootfs: {outside}"


# === (c) CVE-2021-30465 class ========================================================
def _mounts_under(path: str) -> list:
    with open("/proc/self/mountinfo") as f:
        return [ln for ln in f if ln.split()[4].startswith(path)]


@pytest.mark.parametrize("link", ["abs", "rel"])
def test_mount_destination_symlink_race(runtime, abundle, tmp_path, link):
    """The host flips rootfs/mnt/{t,b} between a directory and a symlink to
    a host temp directory while containers with a tmpfs at /mnt/t and a bind
    at /mnt/b are run in a loop: the host directory never gets a mount or a
    file; each container either fails cleanly or has its mounts inside."""
    target = tmp_path / "host-target"
    target.mkdir()
    src = tmp_path / "bind-src"
    src.mkdir()
    (src / "from-bind").write_text("x")

    def ed(cfg):
        cfg["mounts"] += [{"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
                          {"destination": "/mnt/b", "type": "bind", "source": str(src), "options": ["rbind"]}]
    script = "grep -c ' /mnt/t ' /proc/self/mountinfo > /out/m; touch /mnt/t/written /mnt/b/../t/w2 2>/dev/null; true"
    b, out = abundle(["sh", "-c", script], ed, name="r")
    mnt = os.path.join(b, "rootfs", "mnt")
    os.makedirs(mnt, exist_ok=True)
    dest = str(target) if link == "abs" else os.path.relpath(str(target), mnt)
    stop = threading.Event()
    flips = [0]

    def flipper():
        while not stop.is_set():
            for n in ("t", "b"):
                p = os.path.join(mnt, n)
                try:
                    if os.path.islink(p):
                        os.unlink(p)
                        os.mkdir(p)
                    else:
                        os.rmdir(p)
                        os.symlink(dest, p)
                    flips[0] += 1
                except OSError:
                    pass
    t = threading.Thread(target=flipper, daemon=True)
    t.start()
    runs = ok = 0
    try:
        end = time.monotonic() + 3
        while time.monotonic() < end:
            r = run_cli(runtime, "run", "--bundle", b, f"r{runs}", out_dir=out)
            runs += 1
            ok += r.returncode == 0
            if r.returncode != 0:
                assert "Traceback" not in r.stderr, r.stderr
            assert not os.listdir(target), f"a file appeared in the host directory: {os.listdir(target)}"
            assert not _mounts_under(str(target)), "a mount appeared on the host directory"
    finally:
        stop.set()
        t.join()
    print(f"race ({link}): {runs} runs, {ok} succeeded, {flips[0]} flips")
    assert runs >= 5 and flips[0] > 0, (runs, flips)
    assert runtime.ids() == []


# === (d) masking: CVE-2025-31133 / -52565 / -52881 classes ============================
def _no_dev_tmpfs(cfg):
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/dev"]


def _host_devnull():
    s = os.stat("/dev/null")
    return (stat.S_ISCHR(s.st_mode), os.major(s.st_rdev), os.minor(s.st_rdev), s.st_uid, s.st_gid,
            stat.S_IMODE(s.st_mode))


def test_masks_use_the_runtimes_devnull(runtime, abundle, tmp_path):
    """The rootfs ships /dev/null as a symlink to core_pattern (no /dev
    tmpfs, so ocipy sees the image's /dev): masked paths must still be the
    null device, core_pattern and sysrq-trigger not writable, and the
    host's /dev/null untouched."""
    host_before = _host_devnull()
    assert host_before == (True, 1, 3, 0, 0, 0o666)

    def ed(cfg):
        _no_dev_tmpfs(cfg)
        cfg["linux"]["maskedPaths"] = ["/proc/timer_list", "/proc/keys", "/etc/masklink", "/etc/maskhost"]
    script = ("stat -L -c '%t:%T' /proc/timer_list /proc/keys /etc/masklink > /out/stat; "
              "/attack canwrite /proc/sys/kernel/core_pattern /proc/sysrq-trigger > /out/w; "
              "cat /etc/maskhost > /out/hostfile 2>&1; true")
    b, out = abundle(["sh", "-c", script], ed, name="m")
    root = os.path.join(b, "rootfs")
    os.makedirs(os.path.join(root, "dev"), exist_ok=True)
    if os.path.lexists(os.path.join(root, "dev", "null")):
        os.unlink(os.path.join(root, "dev", "null"))
    os.symlink("/proc/sys/kernel/core_pattern", os.path.join(root, "dev", "null"))
    secret = tmp_path / "host-secret"
    secret.write_text("secret\n")
    os.symlink("/proc/sys/kernel/core_pattern", os.path.join(root, "etc", "masklink"))
    os.symlink("../../../../../../.." + str(secret), os.path.join(root, "etc", "maskhost"))
    r = run_cli(runtime, "run", "--bundle", b, "m", out_dir=out)
    assert r.returncode == 0, r.stderr
    st = read(out / "stat").splitlines()
    assert st == ["1:3"] * 3, st  # masked, the symlinked one where it resolves in the rootfs
    w = dict(ln.split() for ln in read(out / "w").splitlines())
    assert w["/proc/sys/kernel/core_pattern"] in ("EROFS", "EACCES", "EPERM", "null"), w  # null: /etc/masklink masked it
    assert w["/proc/sysrq-trigger"] in ("EROFS", "EACCES", "EPERM", "ENOENT"), w  # (no sysrq on some kernels)
    assert "secret" not in read(out / "hostfile")
    assert secret.read_text() == "secret\n"
    assert not _mounts_under(str(secret))
    assert _host_devnull() == host_before


def test_dev_console_symlink_is_not_followed(runtime, abundle, tmp_path):
    """CVE-2025-52565 class: the image's /dev/console is a symlink to
    /proc/sys/kernel/core_pattern (no /dev tmpfs): the pty must be bound on
    a /dev/console of ocipy's making, never where the symlink points (the
    container would then see a "writable core_pattern", and a runtime mount
    would land where the image chose)."""
    from test_terminal import ConsoleSocket

    def ed(cfg):
        _no_dev_tmpfs(cfg)
        cfg["process"]["terminal"] = True
    script = ("stat -L -c '%t' /dev/console > /out/console; "
              "/attack canwrite /proc/sys/kernel/core_pattern > /out/w; grep -c ' /proc/sys/kernel' "
              "/proc/self/mountinfo >> /out/console; true")
    b, out = abundle(["sh", "-c", script], ed, name="t")
    console = os.path.join(b, "rootfs", "dev", "console")
    if os.path.lexists(console):
        os.unlink(console)
    os.symlink("/proc/sys/kernel/core_pattern", console)
    cs = ConsoleSocket(str(tmp_path / "cs.sock"))
    master = -1
    try:
        p = subprocess.Popen(runtime.cmd("create", "--bundle", b, "--console-socket", cs.path, "t"),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_env(), cwd=REPO)
        try:
            master, _ = cs.accept_master()
        except (OSError, AssertionError):
            pass
        so, se = p.communicate(timeout=30)
        assert p.returncode == 0, se
        assert run_cli(runtime, "start", "t", out_dir=out).returncode == 0
        assert poll(lambda: read(out / "w"))
    finally:
        cs.close()
        if master >= 0:
            os.close(master)
        run_cli(runtime, "delete", "--force", "t")
    assert read(out / "w").split() == ["/proc/sys/kernel/core_pattern", "EROFS"], read(out / "w")
    assert read(out / "console").split() == ["88", "0"], read(out / "console")  # a pty slave; nothing on /proc/sys/kernel
    assert not os.path.islink(console)


def test_proc_symlink_in_image_gets_masked_procfs(runtime, abundle):
    """The image's /proc is a symlink (CVE-2025-52881 class: redirect where
    procfs lands): wherever procfs is mounted, it is the masked and
    read-only one; no procfs in the container has a writable sys or
    sysrq-trigger."""
    script = ("grep ' proc ' /proc/self/mountinfo | cut -d' ' -f5 > /out/procs; "
              "for p in $(cat /out/procs); do /attack canwrite $p/sysrq-trigger $p/sys/kernel/core_pattern; "
              "stat -c '%t:%T' $p/kcore; done > /out/w; true")
    b, out = abundle(["sh", "-c", script], name="p", default_spec=True)
    root = os.path.join(b, "rootfs")
    os.rmdir(os.path.join(root, "proc"))
    os.makedirs(os.path.join(root, "tmp", "fakeproc"), exist_ok=True)
    os.symlink("tmp/fakeproc", os.path.join(root, "proc"))
    r = run_cli(runtime, "run", "--bundle", b, "p", out_dir=out)
    if r.returncode != 0:
        assert "Traceback" not in r.stderr and r.stderr.strip()
        return
    lines = read(out / "w").split("\n")
    assert read(out / "procs").strip(), read(out / "w")
    for ln in lines:
        f = ln.split()
        if len(f) == 2 and f[0].startswith("/"):
            assert f[1] != "ok", f"writable: {ln}"
        elif len(f) == 1:
            assert f[0] == "1:3", f"kcore not masked: {ln}"


# === (e) the default spec ============================================================
PROC_WRITE = ["/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe",
              "/proc/sys/vm/drop_caches", "/proc/sys/fs/file-max", "/proc/irq/default_smp_affinity",
              "/proc/bus/pci/devices", "/proc/fs/nfsd/threads", "/proc/kcore", "/proc/kmsg", "/proc/timer_list",
              "/proc/keys", "/proc/latency_stats", "/proc/sched_debug", "/sys/kernel/uevent_helper",
              "/sys/kernel/profiling", "/sys/firmware/acpi/tables/DSDT", "/sys/power/state"]
PROC_READ = ["/proc/kcore", "/proc/kmsg", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
             "/proc/latency_stats", "/sys/firmware/acpi/tables/DSDT"]
MASKED_DIRS = ["/proc/acpi", "/proc/scsi", "/proc/asound", "/sys/firmware"]


def _default_spec_probe(rt, abundle, name: str) -> tuple[dict, dict, str]:
    script = (f"/attack canwrite {' '.join(PROC_WRITE)} > /out/w; /attack canread {' '.join(PROC_READ)} > /out/r; "
              f"for d in {' '.join(MASKED_DIRS)}; do echo $d $(ls -A $d 2>/dev/null | wc -l); done > /out/dirs; true")
    b, out = abundle(["sh", "-c", script], name=name, default_spec=True)
    r = run_cli(rt, "run", "--bundle", b, name, out_dir=out)
    assert r.returncode == 0, r.stderr
    w = dict(ln.split() for ln in read(out / "w").splitlines())
    rd = dict(ln.split() for ln in read(out / "r").splitlines())
    return w, rd, read(out / "dirs")


def _check_default(w: dict, rd: dict, dirs: str) -> list:
    bad = [f"write {p}: ok" for p, res in w.items() if res == "ok"]  # "null": masked
    # reading: the masked ones read as /dev/null (ok, 0 bytes) or are refused; kcore/kmsg must never give data
    bad += [f"read {p}: {res}" for p, res in rd.items() if res not in ("null", "empty", "ENOENT", "EPERM", "EACCES")]
    for ln in dirs.splitlines():
        d, n = ln.split()
        if n != "0":
            bad.append(f"{d} has {n} entries (not masked)")
    return bad


def test_default_spec_dangerous_proc_sys_entries(runtime, abundle, tmp_path):
    w, rd, dirs = _default_spec_probe(runtime, abundle, "e")
    bad = _check_default(w, rd, dirs)
    assert not bad, bad
    assert len(w) == len(PROC_WRITE)


def test_default_spec_kcore_reads_nothing(runtime, abundle):
    if not os.path.exists("/proc/kcore"):
        pytest.skip("this kernel has no /proc/kcore")
    script = "head -c 16 /proc/kcore | wc -c > /out/kcore; stat -c '%t:%T' /proc/kcore >> /out/kcore"
    b, out = abundle(["sh", "-c", script], name="k", default_spec=True)
    assert run_cli(runtime, "run", "--bundle", b, "k", out_dir=out).returncode == 0
    assert read(out / "kcore").split() == ["0", "1:3"]


# === runc 1.1.5, the same attacks (outcomes recorded in .bugs/hardening.md) ==========
def test_runc_default_spec_dangerous_entries(runc, abundle):
    w, rd, dirs = _default_spec_probe(runc, abundle, "e")
    assert not _check_default(w, rd, dirs)


def test_runc_exec_cwd_tricks(runc, abundle, tmp_path):
    """CVE-2024-21626 against the reference: which outcome Debian's 1.1.5
    has is recorded in .bugs/hardening.md."""
    test_exec_cwd_tricks_stay_inside(runc, abundle, tmp_path)
