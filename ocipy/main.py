"""The CLI's entry point and dispatcher: the hot path of every operation.

`main()` parses argv with the lean parser generated from the typer app
(ocipy.cli.parse), then `dispatch()` imports only the one command module it
needs. --help goes to the typer app itself (ocipy.cli.app): slow, rich, and
never on a client's path; a bare `--version` (Docker and Podman ask for it)
is answered here, with the text the app prints too (version_text). Nothing here may import typer, pydantic,
typing, re or json (tests/unit/test_hotpath_imports.py checks), nor os or
__future__ (see ocipy/state.py).
"""
import sys


def main(argv: list[str] | None = None) -> None:
    import gc

    # A CLI call lives for milliseconds and makes no garbage cycles worth
    # collecting; a collection in a forked child would also write to every
    # object's header and copy the whole heap (copy-on-write).
    gc.disable()
    from ocipy.errors import OcipyError

    if argv is None:
        argv = sys.argv[1:]
    if argv == ["--version"] or argv == ["-v"]:
        sys.stdout.write(version_text() + "\n")
        _exit(0)
    from ocipy.cli.parse import parse

    try:
        p = parse(argv)
    except OcipyError as e:
        from ocipy import log

        _early_log_config(argv)
        log.error(str(e))
        sys.exit(e.exit_code)
    if p is None:
        if _asks_version(argv):  # `--root R --log L --version` (a client's probe): no typer either
            sys.stdout.write(version_text() + "\n")
            _exit(0)
        from ocipy.cli.app import run_typer

        run_typer(argv)
        return
    _exit(dispatch(p.command, p.g, p.params))


def _asks_version(argv: list[str]) -> bool:
    """--version/-v among the global options (before the command), without
    --help/-h: what the typer app would answer with version_text (its
    --version is eager, as click's)."""
    from ocipy.cli._table import GLOBAL

    long, short = GLOBAL[0], GLOBAL[1]
    asked = False
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in ("--help", "-h"):
            return False
        if a in ("--version", "-v"):
            asked = True
        elif a[:1] != "-" or a == "--":
            break  # the command (or the end of options)
        else:
            opt = long.get(a) or short.get(a)
            if opt is not None and opt[1] in ("value", "ignore"):
                i += 1  # its value
    return asked


def version_text() -> str:
    """What --version prints (here and in the typer app): runc's shape,
    "<name> version <v>" first (Docker reads it), then the spec's version."""
    from ocipy import SPEC_VERSION, __version__

    return f"ocipy version {__version__}\nspec: {SPEC_VERSION}\npython: {sys.version.split()[0]}"


def _exit(code: int) -> None:
    """Flush and leave without interpreter finalization: tearing the
    interpreter down touches every object, which after a fork copies every
    page still shared with the waiting container process (measured: +1.7 MB
    peak for `create`) and costs a millisecond or two on every call."""
    import posix

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    posix._exit(code)


def _early_log_config(argv: list[str]) -> None:
    """Best effort: honour --log/--log-format even when parsing failed."""
    from ocipy import log

    path, fmt = "", "text"
    for i, a in enumerate(argv):
        if a in ("--log", "--log-format") and i + 1 < len(argv):
            if a == "--log":
                path = argv[i + 1]
            else:
                fmt = argv[i + 1]
        elif a.startswith("--log="):
            path = a[6:]
        elif a.startswith("--log-format="):
            fmt = a[13:]
    log.configure(path, fmt, False)


def dispatch(command: str, g: dict, params: dict) -> int:
    """Run one command; every user-facing failure is one line, never a traceback."""
    from ocipy import log
    from ocipy.errors import OcipyError

    log.configure(g.get("log") or "", g.get("log_format") or "text", bool(g.get("debug")))
    name = "list_" if command == "list" else command
    try:
        if not g.get("root"):  # not given: /run/ocipy, or the user's runtime dir
            from ocipy.state import default_root

            g["root"] = default_root()
        mod = __import__(f"ocipy.commands.{name}", fromlist=["run"])
        return mod.run(g, params)
    except OcipyError as e:
        log.error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # a bug of ours: still one line, traceback only with --debug
        log.error(f"internal error: {type(e).__name__}: {e}")
        if g.get("debug"):
            import traceback

            traceback.print_exc()
        return 1


if __name__ == "__main__":
    main()
