"""Real CLI calls never import what the hot path must not.

Runs the installed lean launcher (or python -m ocipy's modules through the
same main()) under `python -X importtime -I -S` for a whole lifecycle and
checks no forbidden module was imported by any of the calls, the container
process included (its stderr is the CLI's until it execs).
"""
import os
import subprocess
import sys

from conftest import REPO

FORBIDDEN = {"typer", "click", "pydantic", "typing", "re", "json", "enum", "dataclasses", "argparse",
             "inspect", "signal", "subprocess", "pathlib", "datetime", "logging", "ctypes"}


def _imported(stderr: str) -> set:
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def importtime_argv() -> list:
    """The CLI under test run with -X importtime: its launcher's interpreter
    and flags when $OCIPY is a launcher, else this checkout's ocipy.main."""
    launcher = os.environ.get("OCIPY")
    if launcher:
        with open(launcher) as f:
            interp = f.readline()[2:].split()[0]
        return [interp, "-X", "importtime", "-I", "-S", launcher]
    code = f"import sys; sys.path.insert(0, {REPO!r}); from ocipy.main import main; main()"
    return [sys.executable, "-X", "importtime", "-I", "-S", "-c", code]


def imports_of(argv: list, tmp_path) -> set:
    """Run one CLI call under -X importtime (its stderr to a file: a
    container may inherit it); the modules it imported. It must succeed."""
    err = tmp_path / "err"
    with open(err, "w") as ef:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=ef, timeout=60)
    text = err.read_text()
    assert r.returncode == 0, text[-2000:]
    return _imported(text)


def test_lifecycle_imports_nothing_forbidden(runtime, bundle, tmp_path):
    b = bundle(["sleep", "100"])
    base = importtime_argv()
    base += ["--root", runtime.root]
    seen = {}
    for args in (["create", "--bundle", b, "hot"], ["state", "hot"], ["start", "hot"], ["list"],
                 ["kill", "hot", "KILL"], ["delete", "--force", "hot"]):
        got = imports_of(base + args, tmp_path)
        assert "ocipy.main" in got, "the probe did not see ocipy's imports"
        seen[args[0]] = sorted(got & FORBIDDEN)
    assert all(not v for v in seen.values()), seen


# exec's common path (`exec ID CMD...`) needs neither the create-time plan
# (launcher.plan, spec.mounts: ~1.5M instructions) nor `run`'s module
# nor os (~4M instructions: exec's modules use posix, as state's do) nor __future__;
# its stage 1 is the C exec stage, so neither ctypes (syscalls, _ffi, _ctypes: ~1 ms)
# nor the Python stage 1's modules (launcher.process, resource)
EXEC_NOT = FORBIDDEN | {"ocipy.launcher.plan", "ocipy.spec.mounts", "ocipy.commands.run", "ocipy.cgroups",
                         "os", "posixpath", "_collections_abc", "__future__", "struct", "stat",
                         "ocipy.launcher.rootfs", "ocipy.syscalls", "ocipy.syscalls._ffi", "_ctypes",
                         "ocipy.launcher.process", "resource"}


def test_exec_imports_only_what_it_uses(runtime, bundle, tmp_path):
    b = bundle(["sleep", "100"])
    for args in (["create", "--bundle", b, "hx"], ["start", "hx"]):
        r = subprocess.run(runtime.cmd(*args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
        assert r.returncode == 0, args
    got = imports_of(importtime_argv() + ["--root", runtime.root, "exec", "hx", "/bin/true"], tmp_path)
    assert "ocipy.launcher.execproc" in got, "the probe did not see exec's imports"
    assert not (got & EXEC_NOT), sorted(got & EXEC_NOT)


# create's and run's path: posix only (no os: ~0.8 ms of a ~17 ms `run`), no
# __future__, no `stat`; a `run` with limits (the benchmark's: memory, pids,
# cpu) imports the cgroup managers, the spec loader and the launcher, and a
# default runc bundle needs no `select` (run starts the program with the
# init's acknowledgement: no exec.fifo to watch) nor `struct` (no terminal)
CREATE_NOT = FORBIDDEN | {"os", "posixpath", "_collections_abc", "__future__", "stat", "struct", "select"}


def _limits(cfg):
    res = cfg.setdefault("linux", {}).setdefault("resources", {})
    res.update({"memory": {"limit": 256 << 20}, "pids": {"limit": 512},
                "cpu": {"shares": 512, "quota": 100000, "period": 100000}})


def test_run_and_create_import_no_os(runtime, bundle, tmp_path):
    b = bundle(["true"], edit=_limits)
    base = importtime_argv() + ["--root", runtime.root]
    for args in (["run", "--bundle", b, "hr"], ["create", "--bundle", b, "hc"]):
        got = imports_of(base + args, tmp_path)
        assert {"ocipy.launcher.stages", "ocipy.cgroups", "ocipy.launcher.rootfs"} <= got, sorted(got)
        assert not (got & CREATE_NOT), (args[0], sorted(got & CREATE_NOT))
    subprocess.run(runtime.cmd("delete", "--force", "hc"), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)
