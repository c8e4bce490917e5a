"""The typer app: the one declaration of ocipy's command line.

Every option, argument, default and help text is declared here and nowhere
else. The hot path never imports this module: `python3 -m ocipy.cli.gen`
derives ocipy/cli/_table.py from it, ocipy/cli/parse.py parses argv on that
table, and tests prove the two agree (tests/unit/test_cli_*.py). This module
runs only for help, version and `python3 -m ocipy.cli.app ...` (the rich
path), where each command hands exactly what typer parsed to
ocipy.main.dispatch, so both paths run the same code with the same values.

Conventions the generator relies on (it rejects anything else):
- options are plain str, int, bool flags, Literal choices, or lists of them;
- ints convert with `_int` (the lean parser's own `to_int`), so both paths
  accept exactly the same spellings;
- an option with a callback is eager and exposes no value (help, version):
  the lean parser hands such a command line to typer;
- list-valued parameters default to a fresh empty list.

The flags are runc 1.1's; `runc <command> --help` is the reference.
"""
from typing import Annotated, Literal

import typer

from ocipy.cli.parse import to_int

PROG = "ocipy"


def _int(value: str | int) -> int:
    """Convert an int option's value as the lean parser does.

    typer also passes the declared default (already an int) through the
    parser, hence the pass-through.
    """
    return value if isinstance(value, int) else to_int(value)


def _show_version(value: bool) -> None:
    if not value:
        return
    from ocipy.main import version_text

    typer.echo(version_text())  # (main answers a bare --version itself, with the same text)
    raise typer.Exit()


app = typer.Typer(
    name=PROG,
    add_completion=False,  # no --install-completion: the table stays runc's
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help like runc's; no markup in the texts
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Commands whose trailing arguments belong to another program (`exec id sh
# -c ...`, `ps id -ef`): options end at the first positional, as in runc
# (urfave/cli SkipArgReorder).
_PASS_THROUGH = {"allow_interspersed_args": False}


@app.callback()
def main(
    root: Annotated[
        str,
        typer.Option(
            "--root",
            help="root directory for storage of container state "
            "(this should be located in tmpfs)  [default: /run/ocipy; for a non-root "
            "user $XDG_RUNTIME_DIR/ocipy]",
            show_default=False,
        ),
    ] = "",
    log: Annotated[
        str,
        typer.Option(
            "--log",
            help="set the log file to write ocipy logs to (default is '/dev/stderr')",
            show_default=False,
        ),
    ] = "",
    log_format: Annotated[
        Literal["text", "json"],
        typer.Option("--log-format", help="set the log format ('text' or 'json')"),
    ] = "text",
    debug: Annotated[
        bool, typer.Option("--debug", help="enable debug logging")
    ] = False,
    systemd_cgroup: Annotated[
        bool,
        typer.Option(
            "--systemd-cgroup",
            help="enable systemd cgroup support, expects cgroupsPath to be of form "
            '"slice:prefix:name" for e.g. "system.slice:ocipy:434234"',
        ),
    ] = False,
    rootless: Annotated[
        str,
        typer.Option(
            "--rootless",
            help="ignore cgroup permission errors ('true', 'false', or 'auto')",
        ),
    ] = "auto",
    criu: Annotated[
        str | None,
        # Accepted for runc compatibility (callers pass it blindly); ocipy has
        # no checkpoint/restore, so the value is dropped.
        typer.Option("--criu", hidden=True, expose_value=False),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-v",
            help="print the version",
            callback=_show_version,
            is_eager=True,
            expose_value=False,
        ),
    ] = False,
) -> None:
    """Open Container Initiative runtime.

    ocipy is a command line client for running applications packaged according
    to the Open Container Initiative (OCI) format and is a compliant
    implementation of the Open Container Initiative specification, with the
    command line of runc.

    Containers are configured using bundles. A bundle for a container is a
    directory that includes a specification file named "config.json" and a
    root filesystem. The root filesystem contains the contents of the
    container.

    To start a new instance of a container:

        # ocipy run [ -b bundle ] <container-id>

    Where "<container-id>" is your name for the instance of the container that
    you are starting. The name you provide for the container instance must be
    unique on your host. Providing the bundle directory using "-b" is
    optional. The default value for "bundle" is the current directory.
    """


def _dispatch(ctx: typer.Context) -> None:
    """Run the command with exactly what typer parsed (see module doc)."""
    # Imported here: the runtime is not needed for help, nor at import time.
    from ocipy.main import dispatch

    status = dispatch(ctx.command.name, ctx.parent.params, ctx.params)
    if status:
        raise typer.Exit(status)


# Parameters shared by several commands, declared once.
ContainerId = Annotated[
    str,
    typer.Argument(
        metavar="CONTAINER_ID",
        help="your name for the instance of the container",
        show_default=False,
    ),
]
Bundle = Annotated[
    str,
    typer.Option(
        "--bundle",
        "-b",
        help="path to the root of the bundle directory, "
        "defaults to the current directory",
    ),
]
ConsoleSocket = Annotated[
    str | None,
    typer.Option(
        "--console-socket",
        help="path to an AF_UNIX socket which will receive a file descriptor "
        "referencing the master end of the console's pseudoterminal",
    ),
]
PidfdSocket = Annotated[
    str | None,
    typer.Option(
        "--pidfd-socket",
        help="path to an AF_UNIX socket which will receive a file descriptor "
        "referencing the init process",
    ),
]
PidFile = Annotated[
    str | None,
    typer.Option("--pid-file", help="specify the file to write the process id to"),
]
NoPivot = Annotated[
    bool,
    typer.Option(
        "--no-pivot",
        help="do not use pivot root to jail process inside rootfs. This should "
        "be used whenever the rootfs is on top of a ramdisk",
    ),
]
NoNewKeyring = Annotated[
    bool,
    typer.Option(
        "--no-new-keyring",
        help="do not create a new session keyring for the container. This will "
        "cause the container to inherit the calling processes session key",
    ),
]
PreserveFds = Annotated[
    int,
    typer.Option(
        "--preserve-fds",
        parser=_int,
        help="Pass N additional file descriptors to the container "
        "(stdio + $LISTEN_FDS + N in total)",
    ),
]
Detach = Annotated[
    bool, typer.Option("--detach", "-d", help="detach from the container's process")
]
Format = Annotated[
    Literal["table", "json"],
    typer.Option("--format", "-f", help="select one of: table or json"),
]

_CREATE_EPILOG = (
    'Where "<container-id>" is your name for the instance of the container '
    "that you are starting. The name you provide for the container instance "
    "must be unique on your host."
)


@app.command(epilog=_CREATE_EPILOG)
def create(
    ctx: typer.Context,
    container_id: ContainerId,
    bundle: Bundle = ".",
    console_socket: ConsoleSocket = None,
    pidfd_socket: PidfdSocket = None,
    pid_file: PidFile = None,
    no_pivot: NoPivot = False,
    no_new_keyring: NoNewKeyring = False,
    preserve_fds: PreserveFds = 0,
) -> None:
    """create a container

    The create command creates an instance of a container for a bundle. The
    bundle is a directory with a specification file named "config.json" and a
    root filesystem.

    The specification file includes an args parameter. The args parameter is
    used to specify command(s) that get run when the container is started. To
    change the command(s) that get executed on start, edit the args parameter
    of the spec. See "ocipy spec --help" for more explanation.
    """
    _dispatch(ctx)


@app.command()
def delete(
    ctx: typer.Context,
    container_id: ContainerId,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            "-f",
            help="Forcibly deletes the container if it is still running "
            "(uses SIGKILL)",
        ),
    ] = False,
) -> None:
    """delete any resources held by the container often used with detached container

    For example, if the container id is "ubuntu01" and ocipy list currently
    shows the status of "ubuntu01" as "stopped" the following will delete
    resources held for "ubuntu01" removing "ubuntu01" from the ocipy list of
    containers:

        # ocipy delete ubuntu01
    """
    _dispatch(ctx)


@app.command()
def events(
    ctx: typer.Context,
    container_id: ContainerId,
    interval: Annotated[
        str, typer.Option("--interval", help="set the stats collection interval")
    ] = "5s",
    stats: Annotated[
        bool,
        typer.Option("--stats", help="display the container's stats then exit"),
    ] = False,
) -> None:
    """display container events such as OOM notifications, cpu, memory, and IO usage statistics

    The events command displays information about the container. By default
    the information is displayed once every 5 seconds.
    """
    _dispatch(ctx)


@app.command("exec", context_settings=_PASS_THROUGH)
def exec_(
    ctx: typer.Context,
    container_id: ContainerId,
    command: Annotated[
        list[str],
        typer.Argument(
            default_factory=list,
            metavar="COMMAND",
            help="the command to run and its arguments; can't be empty unless "
            "-p is given",
            show_default=False,
        ),
    ],
    # Lists take a fresh [] per call (default_factory), so they come before
    # the parameters with a Python default.
    env: Annotated[
        list[str],
        typer.Option(
            "--env",
            "-e",
            default_factory=list,
            show_default=False,
            metavar="<str>",
            help="set environment variables",
        ),
    ],
    additional_gids: Annotated[
        list[int],
        typer.Option(
            "--additional-gids",
            "-g",
            parser=_int,
            default_factory=list,
            show_default=False,
            metavar="<int>",
            help="additional gids",
        ),
    ],
    cap: Annotated[
        list[str],
        typer.Option(
            "--cap",
            "-c",
            default_factory=list,
            show_default=False,
            metavar="<str>",
            help="add a capability to the bounding set for the process",
        ),
    ],
    cgroup: Annotated[
        list[str],
        typer.Option(
            "--cgroup",
            default_factory=list,
            show_default=False,
            metavar="<str>",
            help="run the process in an (existing) sub-cgroup(s). "
            "Format is [<controller>:]<cgroup>.",
        ),
    ],
    console_socket: ConsoleSocket = None,
    pidfd_socket: PidfdSocket = None,
    cwd: Annotated[
        str | None,
        typer.Option("--cwd", help="current working directory in the container"),
    ] = None,
    tty: Annotated[
        bool, typer.Option("--tty", "-t", help="allocate a pseudo-TTY")
    ] = False,
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="UID (format: <uid>[:<gid>])"),
    ] = None,
    process: Annotated[
        str | None,
        typer.Option("--process", "-p", help="path to the process.json"),
    ] = None,
    detach: Detach = False,
    pid_file: PidFile = None,
    process_label: Annotated[
        str | None,
        typer.Option(
            "--process-label",
            help="set the asm process label for the process commonly used with "
            "selinux",
        ),
    ] = None,
    apparmor: Annotated[
        str | None,
        typer.Option("--apparmor", help="set the apparmor profile for the process"),
    ] = None,
    no_new_privs: Annotated[
        bool,
        typer.Option(
            "--no-new-privs", help="set the no new privileges value for the process"
        ),
    ] = False,
    preserve_fds: PreserveFds = 0,
    ignore_paused: Annotated[
        bool,
        typer.Option("--ignore-paused", help="allow exec in a paused container"),
    ] = False,
) -> None:
    """execute new process inside the container

    Where "<container-id>" is the name for the instance of the container and
    "<command>" is the command to be executed in the container. "<command>"
    can't be empty unless a "-p" flag provided. Options must come before
    "<container-id>": everything after it belongs to "<command>".

    For example, if the container is configured to run the linux ps command
    the following will output a list of processes running in the container:

        # ocipy exec <container-id> ps
    """
    _dispatch(ctx)


@app.command()
def kill(
    ctx: typer.Context,
    container_id: ContainerId,
    signal: Annotated[
        str,
        typer.Argument(
            help="the signal to send to the init process, by name or number"
        ),
    ] = "SIGTERM",
    all: Annotated[
        bool,
        typer.Option(
            "--all",
            "-a",
            help="send the specified signal to all processes inside the container",
        ),
    ] = False,
) -> None:
    """kill sends the specified signal (default: SIGTERM) to the container's init process

    For example, if the container id is "ubuntu01" the following will send a
    "KILL" signal to the init process of the "ubuntu01" container:

        # ocipy kill ubuntu01 KILL
    """
    _dispatch(ctx)


@app.command("list")
def list_(
    ctx: typer.Context,
    format: Format = "table",
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="display only container IDs")
    ] = False,
) -> None:
    """lists containers started by ocipy with the given root

    Where the given root is specified via the global option "--root" (default:
    "/run/ocipy", for a non-root user "$XDG_RUNTIME_DIR/ocipy").

    To list containers created using a non-default value for "--root":

        # ocipy --root value list
    """
    _dispatch(ctx)


@app.command()
def pause(ctx: typer.Context, container_id: ContainerId) -> None:
    """pause suspends all processes inside the container

    The pause command suspends all processes in the instance of the container.
    Use ocipy list to identify instances of containers and their current
    status.
    """
    _dispatch(ctx)


@app.command(context_settings=_PASS_THROUGH)
def ps(
    ctx: typer.Context,
    container_id: ContainerId,
    ps_args: Annotated[
        list[str],
        typer.Argument(
            default_factory=list,
            metavar="PS_OPTIONS",
            help="options for ps(1) in table format (default: -ef)",
            show_default=False,
        ),
    ],
    format: Format = "table",
) -> None:
    """ps displays the processes running inside a container

    Options must come before "<container-id>": everything after it is passed
    to ps(1).
    """
    _dispatch(ctx)


@app.command()
def resume(ctx: typer.Context, container_id: ContainerId) -> None:
    """resumes all processes that have been previously paused

    The resume command resumes all processes in the instance of the container.
    Use ocipy list to identify instances of containers and their current
    status.
    """
    _dispatch(ctx)


@app.command(epilog=_CREATE_EPILOG)
def run(
    ctx: typer.Context,
    container_id: ContainerId,
    bundle: Bundle = ".",
    console_socket: ConsoleSocket = None,
    pidfd_socket: PidfdSocket = None,
    detach: Detach = False,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="do not delete the container after it exits"),
    ] = False,
    pid_file: PidFile = None,
    no_subreaper: Annotated[
        bool,
        typer.Option(
            "--no-subreaper",
            help="disable the use of the subreaper used to reap reparented "
            "processes",
        ),
    ] = False,
    no_pivot: NoPivot = False,
    no_new_keyring: NoNewKeyring = False,
    preserve_fds: PreserveFds = 0,
) -> None:
    """create and run a container

    The run command creates an instance of a container for a bundle. The
    bundle is a directory with a specification file named "config.json" and a
    root filesystem.

    The specification file includes an args parameter. The args parameter is
    used to specify command(s) that get run when the container is started. To
    change the command(s) that get executed on start, edit the args parameter
    of the spec. See "ocipy spec --help" for more explanation.
    """
    _dispatch(ctx)


@app.command()
def spec(
    ctx: typer.Context,
    bundle: Annotated[
        str,
        typer.Option(
            "--bundle", "-b", help="path to the root of the bundle directory"
        ),
    ] = ".",
    rootless: Annotated[
        bool,
        typer.Option(
            "--rootless", help="generate a configuration for a rootless container"
        ),
    ] = False,
) -> None:
    """create a new specification file

    The spec command creates the new specification file named "config.json"
    for the bundle.

    The spec generated is just a starter file. Editing of the spec is required
    to achieve desired results. For example, the newly generated spec includes
    an args parameter that is initially set to call the "sh" command when the
    container is started.

    A bundle for hello-world, with the args changed from "sh" to "/hello":

        mkdir -p hello/rootfs && cd hello
        tar -C rootfs -xf hello-world.tar
        ocipy spec
        sed -i 's;"sh";"/hello";' config.json
        ocipy run container1

    Pass --rootless to generate a spec suitable for a rootless container.
    """
    _dispatch(ctx)


@app.command()
def start(ctx: typer.Context, container_id: ContainerId) -> None:
    """executes the user defined process in a created container

    The start command executes the user defined process in a created
    container.
    """
    _dispatch(ctx)


@app.command()
def state(ctx: typer.Context, container_id: ContainerId) -> None:
    """output the state of a container

    The state command outputs current state information for the instance of a
    container.
    """
    _dispatch(ctx)


_UPDATE_EPILOG = """\
The accepted format is as follow (unchanged values can be omitted):

\b
{
  "memory": {"limit": 0, "reservation": 0, "swap": 0},
  "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0,
          "realtimePeriod": 0, "cpus": "", "mems": ""},
  "blockIO": {"weight": 0}
}

Note: if data is to be read from a file or the standard input, all other
options are ignored."""

# update's values stay None when not given: only the given ones change. The
# sizes and CPU values are strings as in runc (--memory-swap -1); the command
# converts them and names the flag on error.


@app.command(epilog=_UPDATE_EPILOG)
def update(
    ctx: typer.Context,
    container_id: ContainerId,
    resources: Annotated[
        str | None,
        typer.Option(
            "--resources",
            "-r",
            help="path to the file containing the resources to update or '-' to "
            "read from the standard input",
        ),
    ] = None,
    blkio_weight: Annotated[
        int | None,
        typer.Option(
            "--blkio-weight",
            parser=_int,
            help="Specifies per cgroup weight, range is from 10 to 1000",
        ),
    ] = None,
    cpu_period: Annotated[
        str | None,
        typer.Option(
            "--cpu-period",
            help="CPU CFS period to be used for hardcapping (in usecs). "
            "0 to use system default",
        ),
    ] = None,
    cpu_quota: Annotated[
        str | None,
        typer.Option(
            "--cpu-quota",
            help="CPU CFS hardcap limit (in usecs). "
            "Allowed cpu time in a given period",
        ),
    ] = None,
    cpu_share: Annotated[
        str | None,
        typer.Option(
            "--cpu-share", help="CPU shares (relative weight vs. other containers)"
        ),
    ] = None,
    cpu_rt_period: Annotated[
        str | None,
        typer.Option(
            "--cpu-rt-period",
            help="CPU realtime period to be used for hardcapping (in usecs). "
            "0 to use system default",
        ),
    ] = None,
    cpu_rt_runtime: Annotated[
        str | None,
        typer.Option(
            "--cpu-rt-runtime",
            help="CPU realtime hardcap limit (in usecs). "
            "Allowed cpu time in a given period",
        ),
    ] = None,
    cpuset_cpus: Annotated[
        str | None, typer.Option("--cpuset-cpus", help="CPU(s) to use")
    ] = None,
    cpuset_mems: Annotated[
        str | None, typer.Option("--cpuset-mems", help="Memory node(s) to use")
    ] = None,
    memory: Annotated[
        str | None, typer.Option("--memory", help="Memory limit (in bytes)")
    ] = None,
    memory_reservation: Annotated[
        str | None,
        typer.Option(
            "--memory-reservation",
            help="Memory reservation or soft_limit (in bytes)",
        ),
    ] = None,
    memory_swap: Annotated[
        str | None,
        typer.Option(
            "--memory-swap",
            help="Total memory usage (memory + swap); "
            "set '-1' to enable unlimited swap",
        ),
    ] = None,
    pids_limit: Annotated[
        int | None,
        typer.Option(
            "--pids-limit",
            parser=_int,
            help="Maximum number of pids allowed in the container",
        ),
    ] = None,
    l3_cache_schema: Annotated[
        str | None,
        typer.Option(
            "--l3-cache-schema", help="The string of Intel RDT/CAT L3 cache schema"
        ),
    ] = None,
    mem_bw_schema: Annotated[
        str | None,
        typer.Option(
            "--mem-bw-schema",
            help="The string of Intel RDT/MBA memory bandwidth schema",
        ),
    ] = None,
) -> None:
    """update container resource constraints"""
    _dispatch(ctx)


@app.command()
def features(ctx: typer.Context) -> None:
    """show the enabled features

    Show the enabled features. The result is parsable as a JSON.
    """
    _dispatch(ctx)


def run_typer(argv: list[str]) -> int:
    """Run the typer app on argv (help, version, errors); return the exit status.

    The lean path (ocipy.cli.parse) hands over here whenever it sees -h/--help,
    -v/--version or an empty command line. Usage errors exit 2 (click's).
    """
    # No arguments: the help, successfully, as runc does (click would exit 2).
    args = list(argv) or ["--help"]
    try:
        app(args=args, prog_name=PROG)
    except SystemExit as exc:  # typer's standalone mode always ends this way
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(run_typer(sys.argv[1:]))
