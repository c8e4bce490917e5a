"""ocipy.seccomp: the compiler's checks and semantics, and the compiled
programs' real effect (loaded by forked children of the test, calls made
from there), the FFI binding of libseccomp, `features`' probes."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import typing

import pytest

from ocipy import seccomp
from ocipy.errors import ConfigError
from ocipy.seccomp import compiler
from ocipy.syscalls import _syscall
from ocipy.syscalls import seccomp as sc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKER = os.path.join(REPO, "tests", "data", "docker-default-seccomp.json")
X86_64 = os.uname().machine == "x86_64"


def docker_profile() -> dict:
    with open(DOCKER) as f:
        return json.load(f)


def in_child(f: seccomp.Filter, calls) -> list:
    """Fork; the child sets no_new_privs, loads the filter, makes each call
    (a function returning a value) and reports [(result or -errno)]."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            from ocipy import syscalls

            syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
            seccomp.load(f)
            out = []
            for call in calls:
                try:
                    out.append(call())
                except OSError as e:
                    out.append(-e.errno)
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert data, f"child died: status {status:#x}"
    return json.loads(data)


def raw(nr: int, *args):
    """A raw syscall: its result, or -errno."""
    from ocipy.syscalls._ffi import get_errno

    r = _syscall(nr, *args)
    return -get_errno() if r == -1 else r


def build(sec: dict) -> seccomp.Filter:
    return seccomp.compile(sec, "config.json")


# --- the declaration and the lean tables agree ---------------------------------------------
def test_tables_equal_the_models():
    from ocipy.spec import models

    assert set(compiler.ACTIONS) == set(typing.get_args(models.SeccompAction))
    assert set(sc.CMP) == set(typing.get_args(models.SeccompOperator))
    assert set(sc.FLAGS) == set(typing.get_args(models.SeccompFlag))
    assert compiler.SPEC_ARCHS == typing.get_args(models.SeccompArch)


def test_action_values():
    v = compiler.action_value
    assert v("SCMP_ACT_ERRNO", None, "f", "w", "e") == 0x00050001  # EPERM by default
    assert v("SCMP_ACT_ERRNO", 38, "f", "w", "e") == 0x00050026
    assert v("SCMP_ACT_TRACE", 5, "f", "w", "e") == 0x7FF00005
    assert v("SCMP_ACT_KILL", None, "f", "w", "e") == 0
    assert v("SCMP_ACT_KILL_PROCESS", None, "f", "w", "e") == 0x80000000
    assert v("SCMP_ACT_NOTIFY", None, "f", "w", "e") == 0x7FC00000
    assert v("SCMP_ACT_LOG", None, "f", "w", "e") == 0x7FFC0000


# --- errors name the field -------------------------------------------------------------------
def _rule(**kw):
    r = {"names": ["kill"], "action": "SCMP_ACT_ERRNO"}
    r.update(kw)
    return r


BAD = [
    ({"defaultAction": "X"}, 'config.json: linux.seccomp.defaultAction: unknown action "X"'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_rule(), _rule(), _rule(), _rule(action="X")]},
     'config.json: linux.seccomp.syscalls[3].action: unknown action "X"'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 5},
     'config.json: linux.seccomp.defaultErrnoRet: action "SCMP_ACT_ALLOW" takes no errno'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_rule(action="SCMP_ACT_LOG", errnoRet=1)]},
     'config.json: linux.seccomp.syscalls[0].errnoRet: action "SCMP_ACT_LOG" takes no errno'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_rule(errnoRet=70000)]},
     "config.json: linux.seccomp.syscalls[0].errnoRet: 70000 out of range (0..65535)"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_rule(args=[{"index": 0, "value": 1, "op": "SCMP_CMP_X"}])]},
     'config.json: linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_X"'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_rule(args=[{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}])]},
     "config.json: linux.seccomp.syscalls[0].args[0].index: 6: a syscall has arguments 0..5"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_rule(args=[{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}])]},
     "config.json: linux.seccomp.syscalls[0].args[0].value: -1: must be a uint64"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]},
     'config.json: linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_Z80"'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_X"]},
     'config.json: linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_X"'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_rule(action="SCMP_ACT_NOTIFY")]},
     "config.json: linux.seccomp.listenerPath: required with SCMP_ACT_NOTIFY"),
    ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"},
     "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
      "syscalls": [_rule(names=["read", "write"], action="SCMP_ACT_NOTIFY")]},
     "config.json: linux.seccomp.syscalls[0].names: SCMP_ACT_NOTIFY cannot be used for write"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]},
     "config.json: linux.seccomp.syscalls[0].names: must list at least one syscall"),
]


@pytest.mark.parametrize("sec,msg", BAD, ids=[m.split(": ")[1] for _, m in BAD])
def test_errors_name_the_field(sec, msg):
    with pytest.raises(ConfigError) as ei:
        build(sec)
    assert str(ei.value).startswith(msg), str(ei.value)
    assert "\n" not in str(ei.value)


# --- semantics (runc's) ------------------------------------------------------------------
def test_unknown_names_are_skipped_with_a_debug_line():
    seen = []
    c = compiler.compile_seccomp({"defaultAction": "SCMP_ACT_ALLOW",
                                  "syscalls": [_rule(names=["no_such_call", "kill", "nor_this"])]},
                                 "config.json", debug=seen.append)
    assert c.rules == 1 and c.skipped == ["no_such_call", "nor_this"]
    assert seen == ["linux.seccomp: skipping syscalls unknown to libseccomp: no_such_call, nor_this"]


def test_rules_equal_to_the_default_are_dropped():
    c = compiler.compile_seccomp({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        _rule(names=["kill", "getpid"]),                    # == default (EPERM): dropped
        _rule(names=["kill"], errnoRet=5),                  # another errno: kept
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]}, "config.json")
    assert c.rules == 2


def test_same_argument_twice_makes_separate_rules():
    args = [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]
    c = compiler.compile_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [_rule(args=args)]},
                                 "config.json")
    assert c.rules == 2


def test_flags():
    f = build({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG",
                                                            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                                            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]})
    assert f.flags == sc.FLAG_LOG | sc.FLAG_SPEC_ALLOW  # WAIT_KILLABLE_RECV needs a listener
    f = build({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
               "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
               "syscalls": [_rule(action="SCMP_ACT_NOTIFY")]})
    assert f.notify and f.flags == sc.FLAG_NEW_LISTENER | sc.FLAG_WAIT_KILLABLE_RECV


# --- real effect: the compiled program loaded in a child ---------------------------------
def test_errno_and_custom_errno(tmp_path):
    f = build({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV}]})
    (tmp_path / "d").mkdir()
    got = in_child(f, [lambda: os.mkdir(tmp_path / "x"), lambda: os.rmdir(tmp_path / "d"), lambda: os.getpid() > 0])
    assert got == [-errno.EPERM, -errno.EXDEV, True]
    assert (tmp_path / "d").is_dir() and not (tmp_path / "x").exists()


@pytest.mark.parametrize("op,value,two,denied", [
    ("SCMP_CMP_NE", 5, 0, {3, 4, 6}), ("SCMP_CMP_LT", 5, 0, {3, 4}), ("SCMP_CMP_LE", 5, 0, {3, 4, 5}),
    ("SCMP_CMP_EQ", 5, 0, {5}), ("SCMP_CMP_GE", 5, 0, {5, 6}), ("SCMP_CMP_GT", 5, 0, {6}),
    ("SCMP_CMP_MASKED_EQ", 0b110, 0b100, {4, 5}),  # (x & 6) == 4
])
def test_operators(op, value, two, denied):
    """getpriority(which, who): which 3..6 are invalid (EINVAL) unless the
    filter answers first with EXDEV."""
    f = build({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{
        "names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV,
        "args": [{"index": 0, "value": value, "valueTwo": two, "op": op}]}]})
    nr = 140 if X86_64 else 141
    got = in_child(f, [lambda w=w: raw(nr, w, 0) for w in (3, 4, 5, 6)])
    assert {w for w, r in zip((3, 4, 5, 6), got) if r == -errno.EXDEV} == denied
    assert all(r == -errno.EINVAL for w, r in zip((3, 4, 5, 6), got) if w not in denied)


def test_default_errno_with_allow_list_and_defaulterrnoret():
    f = build({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOTTY, "syscalls": [
        {"names": ["getpid", "write", "exit_group", "exit", "rt_sigprocmask", "close", "munmap", "mmap",
                   "brk", "madvise"], "action": "SCMP_ACT_ALLOW"}]})
    got = in_child(f, [lambda: os.getpid() > 0, lambda: os.getppid()])
    assert got == [True, -errno.ENOTTY]


def test_docker_profile_compiles_and_denies():
    f = build(docker_profile())
    assert f.flags == 0 and not f.notify and 100 < len(f.bpf) // 8 <= compiler.MAX_INSNS
    nr_unshare, nr_keyctl = (272, 250) if X86_64 else (97, 219)
    got = in_child(f, [lambda: raw(nr_unshare, 0x10000000), lambda: raw(nr_keyctl, 0, 0, 0, 0, 0),
                       lambda: os.getpid() > 0])
    assert got == [-errno.EPERM, -errno.EPERM, True]


def test_load_failure_is_one_line():
    f = seccomp.Filter(b"\0" * 8 * 5000, 0, False, where="/b/config.json")  # longer than BPF_MAXINSNS
    got = []
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            from ocipy import syscalls

            syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
            seccomp.load(f)
        except Exception as e:  # noqa: BLE001
            os.write(w, str(e).encode())
        os._exit(0)
    os.close(w)
    got = os.read(r, 4096).decode()
    os.close(r)
    os.waitpid(pid, 0)
    assert got.startswith("/b/config.json: linux.seccomp: seccomp load filter (5000 instructions"), got
    assert got.endswith("Invalid argument"), got


# --- features, FFI, imports ----------------------------------------------------------------
def test_features_report_what_works():
    s = compiler.supported()
    assert s["enabled"] is True
    assert s["operators"] == sorted(sc.CMP)
    assert set(s["supportedFlags"]) <= set(s["knownFlags"]) == set(sc.FLAGS)
    assert {"SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", "SCMP_ACT_KILL"} <= set(s["actions"])
    for a in s["actions"]:
        assert sc.action_available(compiler.ACTIONS[a])
    assert ("SCMP_ARCH_X86_64" if X86_64 else "SCMP_ARCH_AARCH64") in s["archs"]
    assert compiler.libseccomp_version().count(".") == 2


def test_kernel_probes_reject_what_does_not_exist():
    assert not sc.action_available(0x12340000)
    assert not sc.flag_supported(1 << 20)


def test_int_returning_foreign_functions_are_negative():
    """seccomp_arch_add returns -EEXIST as a C int: read as int, not long."""
    ctx = sc.Libseccomp(sc.RET_ALLOW)
    try:
        native = sc.Libseccomp.resolve_arch("x86_64" if X86_64 else "aarch64")
        assert ctx.arch_add(native) is False  # EEXIST: the native arch is there
    finally:
        ctx.release()
    assert sc.Libseccomp.resolve_syscall("no_such_call") == -1


def test_create_path_imports_no_seccomp_module():
    code = (f"import sys; sys.path.insert(0, {REPO!r}); import ocipy.commands.create, ocipy.commands.run, "
            "ocipy.launcher.stages, ocipy.launcher.plan, ocipy.launcher.process, ocipy.commands.exec, "
            "ocipy.launcher.execproc")
    r = subprocess.run([sys.executable, "-X", "importtime", "-I", "-S", "-c", code], capture_output=True,
                       text=True, check=True)
    names = {ln.rsplit("|", 1)[1].strip() for ln in r.stderr.splitlines() if ln.startswith("import time:")}
    assert "ocipy.launcher.stages" in names
    assert not {n for n in names if "seccomp" in n}


# --- the pure BPF evaluator and the -ENOSYS stub -------------------------------------------
@pytest.mark.skipif(not X86_64, reason="x86_64 syscall numbers")
def test_evaluator_agrees_with_the_kernel_on_dockers_profile():
    """For calls whose effect is harmless or never reached, the verdict
    bpf.run computes equals what the kernel answers with the filter loaded."""
    from ocipy.seccomp import bpf

    f = build(docker_profile())
    probes = [(39, ()), (272, (0x10000000,)), (250, (0,)), (435, ()), (452, ()), (460, ()), (470, ()),
              (135, (0xFFFFFFFF,)), (135, (0x12345,))]  # getpid, unshare, keyctl, clone3,
    # fchmodat2, above the last, personality(query), personality(other)
    got = in_child(f, [lambda nr=nr, a=a: raw(nr, *a) for nr, a in probes])
    for (nr, a), res in zip(probes, got):
        v = bpf.run(f.bpf, nr, a)
        if v == sc.RET_ALLOW:
            assert res >= 0 or res not in (-errno.EPERM, -errno.ENOSYS), (nr, a, res)
        else:
            assert v & 0xFFFF0000 == sc.RET_ERRNO and res == -(v & 0xFFFF), (nr, a, hex(v), res)


@pytest.mark.skipif(not X86_64, reason="x86_64 syscall numbers")
def test_enosys_stub_for_calls_newer_than_the_profile():
    """Docker's profile names nothing above futex_waitv (449): newer calls
    get ENOSYS (a libc falls back), listed-but-denied ones keep EPERM, and
    with defaultAction ALLOW or ERRNO(ENOSYS) there is no stub."""
    from ocipy.seccomp import bpf

    f = build(docker_profile())
    assert bpf.run(f.bpf, 450) == sc.RET_ERRNO | errno.ENOSYS
    assert bpf.run(f.bpf, 0x1000) == sc.RET_ERRNO | errno.ENOSYS
    assert bpf.run(f.bpf, 449) == sc.RET_ALLOW                      # futex_waitv
    assert bpf.run(f.bpf, 435) == sc.RET_ERRNO | errno.ENOSYS      # clone3: the profile's own errnoRet
    assert bpf.run(f.bpf, 250) == sc.RET_ERRNO | errno.EPERM       # keyctl: listed nowhere, below the last
    assert bpf.run(f.bpf, 3, arch=0x40000003) == sc.RET_ALLOW      # i386 close
    assert bpf.run(f.bpf, 600, arch=0x40000003) == sc.RET_ERRNO | errno.ENOSYS
    assert bpf.run(f.bpf, 0x40000000 | 600) == sc.RET_ERRNO | errno.ENOSYS  # x32
    assert bpf.run(f.bpf, 0x40000000 | 0) == sc.RET_ALLOW           # x32 read
    assert bpf.run(f.bpf, 3, arch=0x40000028) == sc.RET_KILL_THREAD  # an arch not in the profile
    for sec in ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO"}]},
                {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                 "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ALLOW"}]}):
        g = build(sec)
        assert bpf.run(g.bpf, 500) in (sc.RET_ALLOW, sc.RET_ERRNO | 38)
        assert bpf.decode(g.bpf)[0] == (0x20, 0, 0, 4)  # libseccomp's own first instruction


def test_stub_shapes_for_other_arches():
    from ocipy.seccomp import bpf

    stub = bpf.enosys_stub({0x40000003: 400, 0xC00000B7: 300})
    prog = bpf.encode(stub + [(0x06, 0, 0, sc.RET_ALLOW)])
    assert bpf.run(prog, 401, arch=0x40000003) == sc.RET_ERRNO | 38
    assert bpf.run(prog, 400, arch=0x40000003) == sc.RET_ALLOW
    assert bpf.run(prog, 301, arch=0xC00000B7) == sc.RET_ERRNO | 38
    assert bpf.run(prog, 5000, arch=0xC000003E) == sc.RET_ALLOW  # not in the stub
    assert bpf.enosys_stub({}) == []


def test_memfd_exec_check():
    ok = build({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    assert seccomp.allows_memfd_exec(ok)
    assert seccomp.allows_memfd_exec(build(docker_profile()))
    for name in ("memfd_create", "execveat"):
        for action in ("SCMP_ACT_KILL_PROCESS", "SCMP_ACT_ERRNO", "SCMP_ACT_NOTIFY"):
            sec = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
                   "syscalls": [{"names": [name], "action": action}]}
            assert not seccomp.allows_memfd_exec(build(sec)), (name, action)


def test_trampoline_wait_check():
    assert seccomp.allows_trampoline_wait(build(docker_profile()))
    assert seccomp.allows_trampoline_wait(build({"defaultAction": "SCMP_ACT_ALLOW"}))
    for name in ("sched_yield", "rt_sigaction", "openat", "setresgid", "prctl", "fstat"):
        sec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [name], "action": "SCMP_ACT_KILL_PROCESS"}]}
        assert not seccomp.allows_trampoline_wait(build(sec)), name
        assert seccomp.allows_memfd_exec(build(sec)) or name == "fstat", name


def test_cache_reuses_exactly_the_same_profile(tmp_path):
    d = str(tmp_path / "cache")
    os.mkdir(d)
    sec = docker_profile()
    a = compiler.compile_seccomp(sec, "config.json", cache_dir=d)
    (name,) = os.listdir(d)
    b = compiler.compile_seccomp(sec, "config.json", cache_dir=d)
    assert a.bpf == b.bpf == compiler.compile_seccomp(sec, "config.json").bpf
    # a hit is the very program (a changed file is what comes back): proves the read path
    path = os.path.join(d, name)
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:-8] + bytes(8))
    assert compiler.compile_seccomp(sec, "config.json", cache_dir=d).bpf == a.bpf[:-8] + bytes(8)
    # any change of the profile is another key; a torn file is a miss
    sec2 = docker_profile()
    sec2["syscalls"][0]["names"] = sec2["syscalls"][0]["names"][1:]
    c = compiler.compile_seccomp(sec2, "config.json", cache_dir=d)
    assert c.bpf != a.bpf and len(os.listdir(d)) == 2
    with open(path, "wb") as f:
        f.write(data[:100])
    assert compiler.compile_seccomp(sec, "config.json", cache_dir=d).bpf == a.bpf
    # checks still run on a hit: errors are not cached away
    bad = docker_profile()
    bad["syscalls"][3]["action"] = "X"
    with pytest.raises(ConfigError, match=r"linux.seccomp.syscalls\[3\].action"):
        compiler.compile_seccomp(bad, "config.json", cache_dir=d)


def test_cache_dir_missing_is_no_cache(tmp_path):
    d = str(tmp_path / "no" / "such" / "cache")  # only the last two levels are made
    compiler.compile_seccomp(docker_profile(), "config.json", cache_dir=d)
    assert not os.path.exists(tmp_path / "no")


def test_cache_dir_writable_by_others_is_not_used(tmp_path):
    """A program planted in a directory another user can write would be a
    filter bypass: such a cache is neither read nor written."""
    parent = tmp_path / "ocipy"
    parent.mkdir(mode=0o700)
    d = parent / "seccomp"
    d.mkdir(mode=0o700)
    compiler.compile_seccomp(docker_profile(), "config.json", cache_dir=str(d))
    assert len(os.listdir(d)) == 1  # the sane directory is used
    for n in os.listdir(d):
        os.unlink(d / n)
    os.chmod(d, 0o777)
    compiler.compile_seccomp(docker_profile(), "config.json", cache_dir=str(d))
    assert os.listdir(d) == []
    os.chmod(d, 0o700)
    os.chmod(parent, 0o757)
    compiler.compile_seccomp(docker_profile(), "config.json", cache_dir=str(d))
    assert os.listdir(d) == []
