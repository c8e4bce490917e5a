"""Fixtures for tests that run real containers (root required).

- `runtime`: an ocipy CLI bound to a private --root; at teardown every
  container left is deleted with --force and the root must be empty (a
  leftover is a test failure: it is a cleanup bug of ocipy or the test).
- `bundle`: a factory making a busybox bundle (hack/mkbundle's cached rootfs,
  copied) whose config.json is runc's default spec edited by the test.
- `runc`: the same interface on the reference runtime (skipped if absent).

The CLI under test is $OCIPY if set (e.g. the lean launcher /usr/local/bin/ocipy
that hack/setup installs), else `python -m ocipy` from this checkout.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if os.geteuid() != 0:
    pytest.skip("integration tests run real containers: root required", allow_module_level=True)


def ocipy_argv() -> list[str]:
    if os.environ.get("OCIPY"):
        return [os.environ["OCIPY"]]
    return [sys.executable, "-m", "ocipy"]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class Runtime:
    """One runtime binary with its own --root."""

    def __init__(self, argv: list[str], root: str, name: str) -> None:
        self.argv = argv
        self.root = root
        self.name = name

    def cmd(self, *args: str, root: bool = True) -> list[str]:
        return self.argv + (["--root", self.root] if root else []) + [str(a) for a in args]

    def __call__(self, *args, input=None, timeout: float = 60, root: bool = True, stdin=None,
                 pass_fds=(), check: bool = False) -> subprocess.CompletedProcess:
        kw = {}
        if input is None and stdin is None:
            kw["stdin"] = subprocess.DEVNULL
        elif stdin is not None:
            kw["stdin"] = stdin
        r = subprocess.run(self.cmd(*args, root=root), input=input, capture_output=True, text=True,
                           timeout=timeout, env=_env(), cwd=REPO, pass_fds=pass_fds, **kw)
        if check and r.returncode != 0:
            raise AssertionError(f"{self.name} {' '.join(map(str, args))} -> {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def state(self, cid: str) -> dict:
        r = self("state", cid, check=True)
        return json.loads(r.stdout)

    def ids(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.root) if not n.startswith("."))
        except FileNotFoundError:
            return []

    def cleanup(self) -> list[str]:
        """Delete everything; returns what could not be removed."""
        left = []
        for cid in self.ids():
            self("delete", "--force", cid)
        for cid in self.ids():
            left.append(cid)
        return left


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def runtime(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("ocipy-root"))
    rt = Runtime(ocipy_argv(), root, "ocipy")
    yield rt
    left = rt.cleanup()
    assert not left, f"containers left behind under {root}: {left}"


@pytest.fixture
def runc(tmp_path_factory):
    path = shutil.which("runc")
    if not path:
        pytest.skip("runc not installed")
    root = str(tmp_path_factory.mktemp("runc-root"))
    rt = Runtime([path], root, "runc")
    yield rt
    rt.cleanup()


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> tuple[str, dict]:
    """A bundle built once by hack/mkbundle (runc's default spec)."""
    d = tmp_path_factory.mktemp("template")
    env = dict(os.environ, MKBUNDLE_SPEC="runc")
    subprocess.run([os.path.join(REPO, "hack", "mkbundle"), str(d / "b"), "--", "true"], check=True, env=env)
    with open(d / "b" / "config.json") as f:
        cfg = json.load(f)
    return str(d / "b" / "rootfs"), cfg


@pytest.fixture
def bundle(template, tmp_path):
    """make(args, edit=None, name="bundle") -> bundle dir. `edit(cfg)` mutates
    the config dict (runc's default spec with the given args, terminal off)."""
    rootfs_src, base = template
    made = []

    def make(args=("true",), edit=None, name: str = "bundle") -> str:
        b = tmp_path / name
        b.mkdir()
        subprocess.run(["cp", "-a", rootfs_src, str(b / "rootfs")], check=True)
        cfg = copy.deepcopy(base)
        cfg["process"]["args"] = list(args)
        cfg["process"]["terminal"] = False
        if edit:
            edit(cfg)
        write_config(str(b), cfg)
        made.append(str(b))
        return str(b)

    yield make


def write_config(bundle_dir: str, cfg) -> None:
    with open(os.path.join(bundle_dir, "config.json"), "w") as f:
        if isinstance(cfg, str):
            f.write(cfg)
        else:
            json.dump(cfg, f, indent=2)


@pytest.fixture
def wait_gone():
    return _wait_gone


def host_mount_count() -> int:
    with open("/proc/self/mountinfo") as f:
        return sum(1 for _ in f)


@pytest.fixture
def no_leaks(runtime):
    """Assert a test leaves no mount in the host namespace and no process
    whose command line mentions its bundle."""
    before = host_mount_count()
    yield
    assert host_mount_count() == before, "a mount leaked into the host mount namespace"
