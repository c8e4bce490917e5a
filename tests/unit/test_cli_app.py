"""The typer app (rich path): help, version, and dispatch with lean-equal values."""
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from ocipy import SPEC_VERSION, __version__
from ocipy.cli.app import run_typer
from ocipy.cli.parse import parse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dispatched(monkeypatch):
    """Stand in for ocipy.main.dispatch; record its calls, exit with .status."""
    calls = []
    fake = types.ModuleType("ocipy.main")

    def dispatch(command, g, params):
        calls.append((command, g, params))
        return fake.status

    fake.dispatch = dispatch
    fake.status = 0
    fake.calls = calls
    monkeypatch.setitem(sys.modules, "ocipy.main", fake)
    return fake


@pytest.mark.parametrize(
    "argv",
    [
        "--root /run/containerd/runc/k8s.io --log /x/log.json --log-format json create --bundle /b --pid-file /b/init.pid --console-socket /tmp/s id",
        "--log-format=json --log /x kill --all id 9",
        "exec --process /tmp/p.json --detach --pid-file /p --tty --console-socket /s id",
        "exec -e A=1 -g 5 id sh -c ls",
        "update --resources - --pids-limit 10 id",
        "ps --format json id",
        "run -d --keep -b /b id",
        "list -q",
        "features",
    ],
)
def test_rich_path_dispatches_what_the_lean_path_parses(dispatched, argv):
    argv = argv.split()
    assert run_typer(argv) == 0
    [(command, g, params)] = dispatched.calls
    lean = parse(argv)
    assert (command, g, params) == (lean.command, lean.g, lean.params)
    assert {k: type(v) for k, v in params.items()} == {
        k: type(v) for k, v in lean.params.items()
    }


def test_rich_path_exit_status_is_dispatch_status(dispatched):
    dispatched.status = 3
    assert run_typer(["state", "id"]) == 3


def test_usage_error_on_rich_path(dispatched, capsys):
    assert run_typer(["kill"]) == 2
    assert "Missing argument" in capsys.readouterr().err
    assert dispatched.calls == []


def test_version(capsys):
    assert run_typer(["--version"]) == 0
    out = capsys.readouterr().out
    # Docker reads "<runtime> version <version>" from the first line.
    assert out.splitlines()[0] == f"ocipy version {__version__}"
    assert f"spec: {SPEC_VERSION}" in out
    assert run_typer(["-v"]) == 0


def test_bare_version_is_answered_without_typer(capsys):
    """`ocipy --version` (Docker's and Podman's question) prints the app's
    text from ocipy.main, without importing typer (~50 ms)."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.argv = ['ocipy', '--version']\n"
            "from ocipy.main import main\n"
            "try:\n    main()\nfinally:\n    sys.stderr.write(' '.join(sorted(sys.modules)))")
    for flag in ("--version", "-v"):
        r = subprocess.run([sys.executable, "-I", "-S", "-c", code.replace("--version", flag)], cwd=ROOT,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "typer" not in r.stderr.split() and "click" not in r.stderr.split()
        assert r.stdout.splitlines()[0] == f"ocipy version {__version__}"
    assert run_typer(["--version"]) == 0  # the typer app prints the same text
    assert capsys.readouterr().out == r.stdout


@pytest.mark.parametrize("argv,version", [
    (["--root", "/x", "--version"], True),
    (["--log", "/tmp/l", "--log-format", "json", "-v"], True),
    (["--debug", "--version", "list"], True),
    (["--root", "--version"], False),          # "--version" is --root's value: help/usage, typer's
    (["--version", "--help"], False),
    (["-h"], False),
    (["list", "--version"], False),            # a command's option, not the global one
])
def test_version_with_global_options_is_answered_without_typer(argv, version, capsys):
    from ocipy.main import _asks_version

    assert _asks_version(argv) is version
    if not version:
        return
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.argv = ['ocipy'] + {argv!r}\n"
            "from ocipy.main import main\n"
            "try:\n    main()\nfinally:\n    sys.stderr.write(' '.join(sorted(sys.modules)))")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "typer" not in r.stderr.split() and "click" not in r.stderr.split()
    assert r.stdout.splitlines()[0] == f"ocipy version {__version__}"
    assert run_typer(list(argv)) == 0
    assert capsys.readouterr().out == r.stdout, "the typer app answers differently"


def test_help_lists_every_command_and_hides_criu(capsys):
    assert run_typer(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("create", "run", "start", "state", "kill", "delete", "list",
                    "spec", "features", "exec", "pause", "resume", "update", "ps", "events"):
        assert f"\n  {command} " in out, command
    for flag in ("--root", "--log", "--log-format", "--debug", "--systemd-cgroup",
                 "--rootless", "--version", "--help", "-h", "-v"):
        assert flag in out
    assert "--criu" not in out


def test_no_arguments_shows_help_successfully(capsys):
    assert run_typer([]) == 0
    assert "Usage: ocipy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command, flags",
    [
        ("create", ["--bundle", "-b", "--console-socket", "--pid-file", "--no-pivot",
                    "--no-new-keyring", "--preserve-fds", "--pidfd-socket"]),
        ("exec", ["--env", "-e", "--tty", "-t", "--user", "-u", "--additional-gids",
                  "-g", "--process", "-p", "--detach", "-d", "--cap", "-c", "--cgroup",
                  "--ignore-paused", "--no-new-privs", "--apparmor", "--process-label"]),
        ("update", ["--resources", "-r", "--blkio-weight", "--memory-swap", "--pids-limit",
                    "--l3-cache-schema", "--mem-bw-schema", '"memory"']),
        ("kill", ["--all", "-a", "SIGTERM"]),
    ],
)
def test_command_help(capsys, command, flags):
    assert run_typer([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: ocipy {command} ")
    for flag in flags:
        assert flag in out, flag


def test_module_entry_point():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "ocipy.cli.app", "--version"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ocipy version ")
