"""The lean command-line parser: what every ocipy call runs.

containerd starts the runtime once per operation, so this module imports
nothing but ocipy.errors and the generated table (no typer, click, typing, re,
json, enum, dataclasses, argparse). It is not a second declaration of the
CLI: it runs on ocipy/cli/_table.py, generated from the typer app in
ocipy/cli/app.py, and it follows typer's parser (a vendored click) token for
token; tests/unit/test_cli_parse.py proves the results equal.

The semantics it reproduces:
- global options only before the command name; `--` ends them;
- in a command, options and positionals interleave, except where the table
  says otherwise (exec, ps: everything after the first positional is theirs);
- `--opt=value` and `--opt value`; `-abc` clusters short flags and a short
  option takes the rest of its cluster as value (`-b/x`, even `-b=x` means
  "=x"); a value option takes the next token, whatever it looks like;
- a repeated option: last wins, or appends for list options;
- values are converted (int, choice) after the whole command line is read, so
  only the final value of a repeated option counts;
- `-h`/`--help`, `-v`/`--version`: parse() returns None and the caller runs the
  typer app, which prints help or version.
"""
from ocipy.errors import UsageError


class Parsed:
    """A parsed command line.

    command: the command name ("create"...). g: the global options by python
    name. params: the command's options and arguments by python name. Both
    dicts are filled with defaults, exactly like click's ctx.params.
    """

    __slots__ = ("command", "g", "params")

    def __init__(self, command: str, g: dict, params: dict) -> None:
        self.command = command
        self.g = g
        self.params = params

    def __repr__(self) -> str:
        return f"Parsed({self.command!r}, g={self.g!r}, params={self.params!r})"


def to_int(text: str) -> int:
    """Convert an int option's value: an optional sign and ASCII digits.

    Stricter than int() (no spaces, underscores or non-ASCII digits), which
    is right for fd counts, gids and limits. The typer app converts with this
    same function, so both paths accept the same spellings.
    """
    digits = text[1:] if text[:1] in ("+", "-") else text
    if digits.isascii() and digits.isdigit():
        return int(text)
    raise ValueError(f'"{text}" is not an integer')


def parse(argv: list[str], table: tuple | None = None) -> Parsed | None:
    """Parse argv (without the program name).

    Returns None when typer must run instead (help, version, empty argv).
    Raises UsageError with one line for a mistake on the command line.
    table: (GLOBAL, COMMANDS), by default the generated one; tests pass others.
    """
    if table is None:
        # Imported here, not at the top, so that the typer app (which shares
        # to_int) and gen.py can import this module while the table is being
        # (re)generated. After the first call this is a dict lookup.
        from ocipy.cli._table import COMMANDS, GLOBAL

        table = GLOBAL, COMMANDS
    glob, commands = table
    if not argv:
        return None
    scanned = _scan(argv, glob, "")
    if scanned is None:
        return None
    g, rest = scanned
    if not rest:
        raise UsageError("missing command")
    name = rest[0]
    spec = commands.get(name)
    if spec is None:
        # Like click: a "command" that looks like an option (only reachable
        # after `--` or as "-") is read again as global options, so that
        # `ocipy -- --help` still shows help.
        if name[:1] and not name[:1].isalnum() and _scan(rest, glob, "") is None:
            return None
        raise UsageError(f'unknown command "{name}"')
    scanned = _scan(rest[1:], spec, name + ": ")
    if scanned is None:
        return None
    params, positionals = scanned
    _bind_arguments(params, positionals, spec[4], name + ": ")
    return Parsed(name, g, params)


# Option kinds (see gen.py) that read a value.
_TAKES_VALUE = ("value", "append", "ignore")


def _scan(argv: list[str], spec: tuple, where: str) -> tuple[dict, list[str]] | None:
    """Read the options of one command (or the global ones) from argv.

    Returns (params: defaults updated with the converted option values,
    positionals), or None if an option hands over to typer (help, version).
    """
    long, short, defaults, lists, _arguments, interspersed = spec
    params = defaults.copy()
    for name in lists:  # fresh lists: the table's literals must stay unshared
        params[name] = []
    typed = {}  # python name -> type of the options given that need converting
    positionals = []
    n = len(argv)
    i = 0
    while i < n:
        arg = argv[i]
        i += 1
        if arg[:1] != "-" or arg == "-":
            if interspersed:
                positionals.append(arg)
                continue
            i -= 1  # options end here: this and the rest are positionals
            break
        if arg == "--":
            break
        # The long form first, with an optional "=value": click tries it even
        # for "-x=...", before falling back to a cluster of short options.
        head, eq, explicit = arg.partition("=")
        opt = long.get(head)
        if opt is not None:
            if opt[1] in _TAKES_VALUE:
                if eq:
                    value = explicit
                elif i < n:
                    value = argv[i]
                    i += 1
                else:
                    raise UsageError(f"{where}flag {head} needs a value")
            elif eq:
                raise UsageError(f"{where}flag {head} does not take a value")
            else:
                value = None
            if not _record(params, typed, opt, value):
                return None
            continue
        if arg[1] == "-":  # "--x" never falls back to short options
            raise UsageError(f"{where}unknown flag {head}")
        # A cluster of short options: -dt, -b/x, -tb x.
        for k in range(1, len(arg)):
            head = "-" + arg[k]
            opt = short.get(head)
            if opt is None:
                raise UsageError(f"{where}unknown flag {head}")
            if opt[1] not in _TAKES_VALUE:
                if not _record(params, typed, opt, None):
                    return None
                continue
            # A value: the rest of the cluster, else the next token.
            if k + 1 < len(arg):
                value = arg[k + 1 :]
            elif i < n:
                value = argv[i]
                i += 1
            else:
                raise UsageError(f"{where}flag {head} needs a value")
            _record(params, typed, opt, value)
            break
    positionals.extend(argv[i:])
    if typed:
        _convert(params, typed, spec, where)
    return params, positionals


def _record(params: dict, typed: dict, opt: tuple, value: str | None) -> bool:
    """Record one occurrence of an option; False means "hand over to typer"."""
    dest, kind, extra = opt
    if kind == "value":
        params[dest] = value
    elif kind == "flag":
        params[dest] = extra  # the flag's constant: True, or False for --no-x
        return True
    elif kind == "append":
        params[dest].append(value)
    elif kind == "count":
        params[dest] += 1
        return True
    elif kind == "defer":
        return False
    else:  # "ignore": accepted and dropped (--criu)
        return True
    if extra is not None:  # a value to convert once all options are read
        typed[dest] = extra
    return True


def _convert(params: dict, typed: dict, spec: tuple, where: str) -> None:
    """Convert the final values of the typed options given (int, choice)."""
    for dest, typ in typed.items():
        value = params[dest]
        if type(value) is list:
            params[dest] = [_convert_one(v, typ, dest, spec, where) for v in value]
        else:
            params[dest] = _convert_one(value, typ, dest, spec, where)


def _convert_one(value: str, typ: object, dest: str, spec: tuple, where: str) -> object:
    if typ == "int":
        try:
            return to_int(value)
        except ValueError as exc:
            raise UsageError(f"{where}{_spelling(spec, dest)}: {exc}") from None
    if value in typ:  # a tuple of choices, matched exactly as typer does
        return value
    choices = ", ".join(typ)
    raise UsageError(f"{where}{_spelling(spec, dest)} {value}: must be one of {choices}")


def _spelling(spec: tuple, dest: str) -> str:
    """The first spelling of an option, to name it in an error."""
    return next(s for s, o in (*spec[0].items(), *spec[1].items()) if o[0] == dest)


def _bind_arguments(params: dict, positionals: list[str], args: tuple, where: str) -> None:
    """Assign positionals to the command's arguments, in order.

    A list argument (nargs -1) is always last and takes the rest.
    """
    n = len(positionals)
    for k, (dest, nargs, required) in enumerate(args):
        if nargs == 1:
            if k < n:
                params[dest] = positionals[k]
                continue
        elif k < n:
            params[dest] = positionals[k:]
            return
        if required:
            raise UsageError(f"{where}missing argument {dest.upper()}")
    if n > len(args):
        extra = " ".join(positionals[len(args) :])
        raise UsageError(f"{where}too many arguments: {extra}")
