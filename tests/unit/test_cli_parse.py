"""The lean parser equals typer's own parsing of the typer app.

Differential: for every command line below (the ones containerd, Docker and
Podman send, edge cases of click's parser, mistakes, and a seeded random
corpus), ocipy.cli.parse.parse gives the same command, globals and params as
typer's parser (its vendored click: make_context on the group, then on the
command), with the same types, and fails in the same cases. Where parse
hands over to typer (None) typer must show help/version or fail itself.
"""
import io
import random
import shlex
from contextlib import redirect_stderr, redirect_stdout
from typing import Annotated, Literal

import pytest
import typer
import typer.main
from typer._click.exceptions import UsageError as ClickUsageError
from typer.exceptions import Exit

from ocipy.cli import gen
from ocipy.cli.app import _int, app
from ocipy.cli.parse import Parsed, parse, to_int
from ocipy.errors import UsageError

GROUP = typer.main.get_command(app)


def reference(group, argv: list[str]) -> tuple:
    """What typer makes of argv, without running the command.

    ("ok", command, g, params) | ("exit",) for help/version | ("error", msg).
    Mirrors TyperGroup.invoke: parse the group, resolve the command, parse it.
    """
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            ctx = group.make_context("ocipy", list(argv))
            if not ctx._protected_args:
                return ("error", "Missing command.")
            args = [*ctx._protected_args, *ctx.args]
            name, cmd, rest = group.resolve_command(ctx, args)
            sub = cmd.make_context(name, rest, parent=ctx)
            return ("ok", name, ctx.params, sub.params)
    except Exit:
        return ("exit",)
    except ClickUsageError as exc:
        return ("error", exc.format_message())


def lean(argv: list[str], table=None) -> tuple:
    try:
        parsed = parse(list(argv), table)
    except UsageError as exc:
        return ("error", str(exc))
    if parsed is None:
        return ("typer",)
    assert isinstance(parsed, Parsed)
    return ("ok", parsed.command, parsed.g, parsed.params)


def same(a, b) -> bool:
    """Equal with equal types all the way down (True != 1, [] != ())."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def looks_like_help_or_version(argv: list[str]) -> bool:
    return not argv or any(
        t[:1] == "-" and ("h" in t or "v" in t) for t in argv
    )


def check(argv: list[str], group=GROUP, table=None) -> tuple:
    ref = reference(group, argv)
    got = lean(argv, table)
    if got[0] == "ok":
        assert ref[0] == "ok", (argv, got, ref)
        assert same(got[1:], ref[1:]), (argv, got, ref)
    elif got[0] == "error":
        assert ref[0] == "error", (argv, got, ref)
        assert got[1] and "\n" not in got[1], got
    else:
        # Handed over to typer: it must show help/version, or fail itself.
        assert ref[0] in ("exit", "error"), (argv, got, ref)
        assert looks_like_help_or_version(argv), argv
    if ref[0] == "exit":
        assert got == ("typer",), (argv, got)
    return got


# What containerd (runc shim, go-runc), Docker, Podman/conmon and people send.
CALLERS = [
    "--root /run/containerd/runc/k8s.io --log /x/log.json --log-format json create --bundle /b --pid-file /b/init.pid --console-socket /tmp/s id",
    "--root /run/containerd/runc/k8s.io --log /x/log.json --log-format json create --bundle /b --pid-file /b/init.pid id",
    "--root /run/containerd/runc/moby --log /x/log.json --log-format json --systemd-cgroup create --bundle /b --pid-file /b/init.pid --no-pivot --no-new-keyring id",
    "--root /r --log /x --log-format json start id",
    "--root /r --log /x --log-format json state id",
    "--root /r --log /x --log-format json kill id 15",
    "--root /r --log /x --log-format json kill --all id 9",
    "--log-format=json --log /x kill --all id 9",
    "--root /r --log /x --log-format json delete id",
    "--root /r --log /x --log-format json delete --force id",
    "delete --force id",
    "delete -f id",
    "--root /r --log /x --log-format json pause id",
    "--root /r --log /x --log-format json resume id",
    "--root /r --log /x --log-format json ps --format json id",
    "ps --format json id",
    "ps id",
    "ps id -ef",
    "ps -f table id aux",
    "ps id -- -o pid",
    "--root /r --log /x --log-format json update --resources - id",
    "update --resources - id",
    "update -r /tmp/res.json id",
    "update --memory 1g --memory-swap -1 --pids-limit 100 --blkio-weight 500 id",
    "update --cpu-period 100000 --cpu-quota 50000 --cpu-share 512 --cpuset-cpus 0-1 --cpuset-mems 0 id",
    "update --cpu-rt-period 1 --cpu-rt-runtime 2 --memory-reservation 3 --l3-cache-schema L3:0=f --mem-bw-schema MB:0=70 id",
    "update --pids-limit=-1 id",
    "--root /r --log /x --log-format json exec --process /tmp/p.json --detach --pid-file /p --tty --console-socket /s id",
    "exec --process /tmp/p.json --detach --pid-file /p --tty --console-socket /s id",
    "exec --process /tmp/p.json --detach --pid-file /p id",
    "exec -p /tmp/p.json -d id",
    "exec id sh -c 'echo hi'",
    "exec -t id sh",
    "exec -e A=1 -e B=2 --env C=3 --cwd /tmp --user 1000:1000 -g 10 -g 20 --additional-gids=30 id id",
    "exec --cap CAP_SYS_ADMIN -c CAP_NET_ADMIN --cgroup cpu:/x --cgroup /y --no-new-privs --ignore-paused id true",
    "exec --apparmor unconfined --process-label system_u --preserve-fds 2 --pidfd-socket /s id ls",
    "exec id ls -l --color=never",
    "exec id -- ls",
    "exec id ls --help",
    "exec -tu 0 id sh",
    "run -d --keep -b /b id",
    "run --bundle /b --detach --pid-file /p --console-socket /s --no-subreaper --preserve-fds 3 id",
    "run -db /b id",
    "run -db/b id",
    "run id -d",
    "--rootless true run id",
    "--rootless=false --debug --criu /usr/sbin/criu run id",
    "list",
    "list --format json",
    "list -f json",
    "list -qfjson",
    "list --quiet",
    "--root /r list -q",
    "spec",
    "spec --rootless",
    "spec -b /tmp/bundle",
    "spec --bundle=/tmp/bundle --rootless",
    "features",
    "events id",
    "events --stats id",
    "events --interval 1s id",
    "events --interval=10ms --stats id",
    "state id",
    "start id",
    "kill id",
    "kill id KILL",
    "kill id SIGKILL -a",
    "kill -a id 9",
    "create id",
    "create -b . id",
    "create id --bundle /b",
    "create --preserve-fds 0 id",
    "create --preserve-fds=+3 id",
    "create --preserve-fds 1 --preserve-fds 2 id",
    "create --pid-file --bundle id",
    "create --bundle= id",
    "create -b=x id",
    "create -- -weird-id",
    "create -",
    "--debug create id",
    "--systemd-cgroup --debug create id",
    "-- create id",
    "--root=/x create id",
    "--log-format text create id",
]

# Mistakes: each must be an error on both paths.
MISTAKES = [
    "foo",
    "crate id",
    "--bogus create id",
    "--root",
    "--log-format xml create id",
    "--log-format JSON list",
    "--debug=1 create id",
    "create",
    "create --bundel x id",
    "create --bundle",
    "create -x id",
    "create --preserve-fds x id",
    "create --preserve-fds '' id",
    "create --preserve-fds ' 1' id",
    "create --preserve-fds 1_0 id",
    "create --preserve-fds 1.0 id",
    "create --preserve-fds 0x10 id",
    "create --preserve-fds ١ id",
    "create a b",
    "kill",
    "kill a b c",
    "state",
    "state a b",
    "start a b",
    "list extra",
    "list --format xml",
    "list -f",
    "ps --format yaml id",
    "ps",
    "exec",
    "exec -g x id sh",
    "exec --additional-gids 1 -g two id sh",
    "exec --tty=yes id sh",
    "features extra",
    "spec extra",
    "update --blkio-weight heavy id",
    "update --pids-limit 1e3 id",
    "update",
    "events",
    "--debug",
    "--root /r",
    "-- -x",
    "-",
    "run -dx id",
    "run --d id",
    "delete --force=1 id",
    "--version=1",
]

# Help and version go to typer.
TYPER = [
    "",
    "--help",
    "-h",
    "--version",
    "-v",
    "--root /r --help",
    "--root /r -v create id",
    "-hv",
    "create --help",
    "create -h",
    "kill -ah",
    "exec --help",
    "exec -th id",
    "--debug -- --help",
    "-- -h",
    "list -qh",
    "create --help --bundel",
]


def split(line: str) -> list[str]:
    return shlex.split(line) if line else []


@pytest.mark.parametrize("line", CALLERS)
def test_callers_parse_like_typer(line):
    assert check(split(line))[0] == "ok"


@pytest.mark.parametrize("line", MISTAKES)
def test_mistakes_fail_like_typer(line):
    assert check(split(line))[0] == "error"


@pytest.mark.parametrize("line", TYPER)
def test_help_and_version_go_to_typer(line):
    assert check(split(line)) == ("typer",)


def _random_argvs(count: int, seed: int) -> list[list[str]]:
    """Command lines from the table's own spellings, values and odd tokens."""
    from ocipy.cli._table import COMMANDS, GLOBAL

    rng = random.Random(seed)
    global_opts = list(GLOBAL[0]) + list(GLOBAL[1])
    values = ["x", "/b", "1", "-1", "+2", "json", "table", "text", "", "-", "--", "id", "9"]
    out = []
    for _ in range(count):
        argv = []
        for _ in range(rng.randrange(3)):
            opt = rng.choice(global_opts)
            if opt in ("--help", "-h", "--version", "-v") and rng.random() < 0.8:
                continue
            argv.append(opt)
            if rng.random() < 0.7:
                argv.append(rng.choice(values))
        argv.append(rng.choice(list(COMMANDS) + ["nope", "--", "-"]))
        spec = COMMANDS.get(argv[-1])
        opts = [o for o in (*spec[0], *spec[1]) if o not in ("--help", "-h")] if spec else []
        for _ in range(rng.randrange(6)):
            r = rng.random()
            if opts and r < 0.45:
                opt = rng.choice(opts)
                if rng.random() < 0.2:
                    opt += "=" + rng.choice(values)
                elif opt[1] != "-" and rng.random() < 0.3:
                    opt += rng.choice(["d", "t", "q", "a", "f", "x", "1", "/x", "=v"])
                argv.append(opt)
            elif r < 0.55:
                argv.append(rng.choice(["--", "-", "-z", "--zz", "--help"]))
            else:
                argv.append(rng.choice(values))
        out.append(argv)
    return out


def test_random_command_lines_parse_like_typer():
    outcomes = {"ok": 0, "error": 0, "typer": 0}
    for argv in _random_argvs(3000, seed=20240601):
        outcomes[check(argv)[0]] += 1
    # The corpus must exercise every outcome, or it proves little.
    assert min(outcomes.values()) > 100, outcomes


# Messages: one clear line, naming the command and the flag.
@pytest.mark.parametrize(
    "line, message",
    [
        ("foo", 'unknown command "foo"'),
        ("create --bundel x id", "create: unknown flag --bundel"),
        ("create --bundel=x id", "create: unknown flag --bundel"),
        ("create -x id", "create: unknown flag -x"),
        ("--bogus create id", "unknown flag --bogus"),
        ("create --bundle", "create: flag --bundle needs a value"),
        ("list -f", "list: flag -f needs a value"),
        ("create --preserve-fds x id", 'create: --preserve-fds: "x" is not an integer'),
        ("exec -g x id sh", 'exec: --additional-gids: "x" is not an integer'),
        ("kill", "kill: missing argument CONTAINER_ID"),
        ("kill a b c", "kill: too many arguments: c"),
        ("--log-format xml create id", "--log-format xml: must be one of text, json"),
        ("list --format yaml", "list: --format yaml: must be one of table, json"),
        ("--debug=1 create id", "flag --debug does not take a value"),
        ("--root /r", "missing command"),
    ],
)
def test_error_messages(line, message):
    with pytest.raises(UsageError) as info:
        parse(split(line))
    assert str(info.value) == message


def test_defaults_and_types():
    p = parse(["exec", "id"])
    assert p.command == "exec"
    assert p.g == {
        "root": "",
        "log": "",
        "log_format": "text",
        "debug": False,
        "systemd_cgroup": False,
        "rootless": "auto",
    }
    assert p.params["command"] == [] and p.params["env"] == []
    assert p.params["preserve_fds"] == 0 and p.params["cwd"] is None
    k = parse(["kill", "id"])
    assert k.params == {"container_id": "id", "signal": "SIGTERM", "all": False}


def test_lists_are_fresh_per_call():
    first = parse(["exec", "-e", "A=1", "id"])
    first.params["cap"].append("leak")
    assert parse(["exec", "id"]).params["cap"] == []
    assert parse(["exec", "id"]).params["env"] == []


def test_exec_command_keeps_its_options():
    p = parse(split("exec -t id sh -c 'echo hi' -e X --help"))
    assert p.params["command"] == ["sh", "-c", "echo hi", "-e", "X", "--help"]
    assert p.params["tty"] is True and p.params["env"] == []


@pytest.mark.parametrize(
    "text, value",
    [("0", 0), ("7", 7), ("+3", 3), ("-1", -1), ("007", 7), ("9" * 30, int("9" * 30))],
)
def test_to_int_accepts(text, value):
    assert to_int(text) == value and _int(text) == value


@pytest.mark.parametrize("text", ["", "+", "-", " 1", "1 ", "1_0", "1.0", "0x1", "١", "1e3", "--1"])
def test_to_int_rejects(text):
    with pytest.raises(ValueError):
        to_int(text)


# The parser is generic over the table: prove it on an app that uses what ours
# does not (counts, --x/--no-x, single-dash long options,
# a list argument with interspersed options, optional arguments).
generic = typer.Typer(add_completion=False, context_settings={"help_option_names": ["-h", "--help"]})


@generic.callback()
def _generic_main(
    verbose: Annotated[int, typer.Option("--verbose", "-V", count=True)] = 0,
    color: Annotated[bool, typer.Option("--color/--no-color")] = True,
) -> None:
    pass


@generic.command()
def alpha(
    first: Annotated[str, typer.Argument()],
    rest: Annotated[list[str], typer.Argument(default_factory=list)],
    level: Annotated[list[str], typer.Option("--level", "-l", default_factory=list)],
    num: Annotated[list[int], typer.Option("-num", "-n", parser=_int, default_factory=list)],
    quiet: Annotated[int, typer.Option("--quiet", "-q", count=True)] = 0,
    force: Annotated[bool, typer.Option("--force/--no-force", "-F")] = False,
    name: Annotated[str, typer.Option("--name")] = "n",
) -> None:
    pass


@generic.command()
def beta(
    one: Annotated[str, typer.Argument()] = "1",
    two: Annotated[str | None, typer.Argument()] = None,
    mode: Annotated[Literal["a", "b"], typer.Option("--mode", "-m")] = "a",
) -> None:
    pass


GENERIC_GROUP = typer.main.get_command(generic)
GENERIC_TABLE = gen.build(generic, prog="ocipy")


def test_generic_table_shape():
    glob, commands = GENERIC_TABLE
    assert glob[0]["--no-color"] == ("color", "flag", False)
    assert glob[1]["-V"] == ("verbose", "count", None)
    assert commands["alpha"][0]["-num"] == ("num", "append", "int")
    assert commands["alpha"][1]["-n"] == ("num", "append", "int")
    assert commands["alpha"][0]["--level"] == ("level", "append", None)
    assert commands["alpha"][4] == (("first", 1, True), ("rest", -1, False))
    assert commands["beta"][2] == {"one": "1", "two": None, "mode": "a"}


GENERIC_LINES = [
    "alpha x",
    "-VV --no-color alpha x",
    "--color -V --verbose alpha x",
    "alpha x y z -q -qq --quiet",
    "alpha -F x --no-force",
    "alpha -Fq x",
    "alpha -l hi x --level lo -llo",
    "alpha -num 3 -n4 x -num=5",
    "alpha -num x x",
    "alpha -nu x",
    "alpha -n",
    "alpha --name=a --name b x",
    "alpha x -- -q --name",
    "alpha",
    "alpha --force=1 x",
    "alpha -x x",
    "beta",
    "beta p",
    "beta p q",
    "beta p q r",
    "beta -m b p",
    "beta -mb",
    "beta -mc",
    "beta --mode",
    "-V beta",
    "gamma",
    "-- beta",
    "-- -V",
    "-V",
    "beta -h",
    "-Vh",
]


@pytest.mark.parametrize("line", GENERIC_LINES)
def test_generic_app_parses_like_typer(line):
    check(split(line), GENERIC_GROUP, GENERIC_TABLE)


def test_generic_random_command_lines():
    rng = random.Random(7)
    before = ["-V", "-VV", "--verbose", "--color", "--no-color", "--", "-x"]
    after = [
        "-q", "-qF", "-Fq", "--quiet", "-F", "--force", "--no-force", "-l", "--level",
        "-lhi", "-num", "-n", "-n7", "--name", "--name=z", "-m", "-ma", "--mode",
        "lo", "hi", "a", "b", "3", "x", "--", "-", "", "--mode=b", "-num=2", "-V",
    ]
    outcomes = {"ok": 0, "error": 0, "typer": 0}
    for _ in range(2000):
        argv = [rng.choice(before) for _ in range(rng.randrange(3))]
        argv.append(rng.choice(["alpha", "alpha", "beta", "beta", "gamma"]))
        argv += [rng.choice(after) for _ in range(rng.randrange(6))]
        outcomes[check(argv, GENERIC_GROUP, GENERIC_TABLE)[0]] += 1
    assert outcomes["ok"] > 100 and outcomes["error"] > 100, outcomes
