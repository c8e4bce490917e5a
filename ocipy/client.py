"""A Python client for any runtime with runc's command line (ocipy or runc).

The counterpart of containerd's go-runc: each method runs the CLI once, in a
child process, and turns its output into Python values and its failures into
exceptions. A host program must not run the runtime in its own process:
`create` forks a long-lived container init and changes process-wide state
(signal handlers, the child subreaper flag, file descriptors), which a
(possibly threaded) Python program cannot afford. So embedding means spawning
the CLI:

    from ocipy.client import Runtime, ContainerNotFound

    rt = Runtime(root="/run/myengine")           # or Runtime("/usr/sbin/runc", ...)
    rt.create("c1", "/path/to/bundle")           # stdio: /dev/null unless given
    rt.start("c1")
    rt.state("c1")["status"]                     # 'running'
    rt.exec("c1", ["sh", "-c", "exit 3"])        # 3
    rt.kill("c1", "KILL"); rt.delete("c1", force=True)

How a call runs:
- argv is BINARY [--root R] --log FILE --log-format FMT [--systemd-cgroup]
  [--debug] COMMAND ...; FILE is a fresh file in a private temporary
  directory, removed (with the directory) when the call returns. The runtime's
  error is the last error-level "msg" of that log (what containerd shows);
  when the log has none, the last line of stderr (if it was captured), else
  "exit status N".
- stdin is /dev/null unless given; no descriptor of the host leaks into the
  CLI (close_fds), except fds 3..3+N-1 for preserve_fds=N.
- create, run and exec start container processes, which inherit the CLI's
  stdout/stderr: those are never pipes here (a read would not end while the
  container lives). They go where the caller says, /dev/null by default.
  Other commands' output is read through pipes.
- With a timeout (Runtime(timeout=...)), a call that takes longer kills the
  CLI process (SIGKILL; only it: what it already started, e.g. a container,
  stays and can be removed with delete(force=True)) and raises
  RuntimeTimeout.

Errors: RuntimeCommandError (.command, .returncode, .message; str() is the one
line "<binary> <command>: <message>"), with subclasses when the message says
so in words both runc and ocipy use: ContainerNotFound, ContainerExists,
ContainerNotRunning. RuntimeTimeout is also a TimeoutError.

Stdlib only, no ocipy-internal import: it drives runc alone just as well. The
CLI never imports this module.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile

__all__ = [
    "Runtime",
    "RuntimeCommandError",
    "ContainerNotFound",
    "ContainerExists",
    "ContainerNotRunning",
    "RuntimeTimeout",
    "parse_log",
    "last_error",
    "error_class",
]

DEFAULT_BINARY = "/usr/local/bin/ocipy"

# logrus levels that mean the command failed
_ERROR_LEVELS = {"error", "fatal", "panic"}


# -- errors --------------------------------------------------------------------

class RuntimeCommandError(Exception):
    """A runtime command failed: str() is "<binary> <command>: <message>"."""

    def __init__(self, binary: str, command: str, returncode: int | None, message: str, *,
                 argv: list[str] | None = None, log: list[dict] | None = None,
                 stderr: str = "") -> None:
        self.binary = binary
        self.command = command          # the CLI command: "create", "state", ...
        self.returncode = returncode    # the CLI's exit status (None: it never ran)
        self.message = message          # one line: the runtime's own words
        self.argv = list(argv or [])    # the whole command line
        self.log = list(log or [])      # every entry of the call's --log
        self.stderr = stderr            # captured stderr ("" when not captured)
        super().__init__(f"{binary} {command}: {message}")


class ContainerNotFound(RuntimeCommandError):
    """The container does not exist."""


class ContainerExists(RuntimeCommandError):
    """A container with that id already exists."""


class ContainerNotRunning(RuntimeCommandError):
    """The operation needs a running container (kill, pause, exec...)."""


class RuntimeTimeout(RuntimeCommandError, TimeoutError):
    """The CLI took longer than the timeout and was killed."""


# The container-state messages, checked against runc 1.1 and ocipy:
#   runc:  container does not exist | exec failed: container does not exist
#          container with given ID already exists (runc create/run failed: ...)
#          container not running | exec failed: cannot exec in a stopped container
#   ocipy: container "ID" does not exist | container "ID" already exists
#          cannot kill container "ID": container not running (it is stopped)
#          cannot pause container "ID": it is stopped, not running or created
#          cannot exec in a stopped container "ID"
# They are anchored on the word "container" so that other failures with the
# same words ('cgroup X: does not exist', 'systemd is not running', 'a network
# device named X already exists in the container...') keep the base class.
_NOT_FOUND = re.compile(r'\bcontainer (?:"[^"]*" )?(?:does )?not exist')
_EXISTS = re.compile(r'\bcontainer (?:"[^"]*" |with given ID )?already exists')
_NOT_RUNNING = re.compile(r'\bcontainer (?:"[^"]*" )?not running'
                          r'|\bcontainer "[^"]*": it is \w+, not running'
                          r'|\bcannot exec in a stopped container')


def error_class(message: str) -> type[RuntimeCommandError]:
    """The exception class a runtime error message calls for."""
    if _NOT_FOUND.search(message):
        return ContainerNotFound
    if _EXISTS.search(message):
        return ContainerExists
    if _NOT_RUNNING.search(message):
        return ContainerNotRunning
    return RuntimeCommandError


# -- the --log file ------------------------------------------------------------

_LOGFMT = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:  # a Go escape JSON lacks (\x..): keep it raw
            return value[1:-1]
    return value


def parse_log(text: str) -> list[dict]:
    """The entries of a --log file: JSON lines (--log-format json) or logrus
    text lines (time="..." level=error msg="..."); other lines are skipped."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("msg"), str):
                entries.append(obj)
            continue
        fields = {k: _unquote(v) for k, v in _LOGFMT.findall(line)}
        if "level" in fields and "msg" in fields:
            entries.append(fields)
    return entries


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def last_error(entries: list[dict]) -> str | None:
    """The msg of the last error-level entry (one line), or None."""
    for entry in reversed(entries):
        if str(entry.get("level", "")).lower() in _ERROR_LEVELS:
            msg = _one_line(entry.get("msg", ""))
            if msg:
                return msg
    return None


def _stderr_message(stderr: str, names: set[str]) -> str:
    """The last non-empty line of stderr, without a "<program>: " prefix."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[-1]
    for name in names:
        if name and line.startswith(name + ": "):
            return line[len(name) + 2:].strip()
    return line


# -- the client ----------------------------------------------------------------

class _Tmp(str):
    """An argument naming a file of the call's private temporary directory."""


def _default_binary() -> str:
    if os.access(DEFAULT_BINARY, os.X_OK):
        return DEFAULT_BINARY
    return shutil.which("ocipy") or DEFAULT_BINARY


class Runtime:
    """One runtime binary (a path, or an argv list such as
    [sys.executable, "-m", "ocipy"]) with its global options."""

    def __init__(self, binary: str | os.PathLike | list[str] | tuple[str, ...] | None = None, *,
                 root: str | os.PathLike | None = None, log_format: str = "json",
                 systemd_cgroup: bool = False, debug: bool = False,
                 timeout: float | None = None) -> None:
        if binary is None:
            binary = _default_binary()
        if isinstance(binary, (list, tuple)):
            if not binary:
                raise ValueError("binary: empty argv")
            self.argv = [os.fspath(a) for a in binary]
        else:
            self.argv = [os.fspath(binary)]
        if log_format not in ("json", "text"):
            raise ValueError(f"log_format: {log_format!r} is not 'json' or 'text'")
        self.binary = " ".join(self.argv)  # as errors name it
        self.root = os.fspath(root) if root is not None else None
        self.log_format = log_format
        self.systemd_cgroup = systemd_cgroup
        self.debug = debug
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Runtime({self.binary!r}, root={self.root!r})"

    # -- the one way to run the CLI ----------------------------------------

    def _call(self, command: str, args: list, *, capture: bool = True, stdin=None, stdout=None,
              stderr=None, pass_fds=(), files: dict[str, bytes] | None = None,
              status_ok: bool = False) -> tuple[int, str]:
        """Run `BINARY <globals> *args`; return (exit status, stdout).

        capture: read stdout/stderr through pipes (never for commands that
        start container processes). status_ok: a non-zero exit status without
        an error in the log is the container process's own status (run,
        exec), returned rather than raised.
        """
        tmp = tempfile.mkdtemp(prefix="ocipy-client-")
        try:
            log = os.path.join(tmp, "log")
            for name, data in (files or {}).items():
                with open(os.path.join(tmp, name), "wb") as f:
                    f.write(data)
            argv = list(self.argv)
            if self.root is not None:
                argv += ["--root", self.root]
            argv += ["--log", log, "--log-format", self.log_format]
            if self.systemd_cgroup:
                argv.append("--systemd-cgroup")
            if self.debug:
                argv.append("--debug")
            argv += [os.path.join(tmp, a) if isinstance(a, _Tmp) else os.fspath(a) for a in args]
            returncode, out, err = self._spawn(command, argv, capture, stdin, stdout, stderr,
                                               pass_fds)
            try:
                with open(log, encoding="utf-8", errors="replace") as f:
                    entries = parse_log(f.read())
            except FileNotFoundError:
                entries = []
        finally:
            # Never a mount in there: a plain tree of our own files. Once the
            # directory is gone, a container process that still knows the
            # --log path cannot recreate the file (O_CREAT fails: ENOENT).
            shutil.rmtree(tmp, ignore_errors=True)
        if self.debug and entries:
            self._forward(entries)
        msg = last_error(entries)
        if returncode == 0 or (status_ok and msg is None and returncode > 0):
            return returncode, out
        if msg is None:
            msg = _stderr_message(err, {os.path.basename(a) for a in (self.argv[0], self.argv[-1])})
        if not msg:
            msg = (f"killed by signal {-returncode}" if returncode < 0
                   else f"exit status {returncode}")
        raise error_class(msg)(self.binary, command, returncode, msg, argv=argv, log=entries,
                               stderr=err)

    def _spawn(self, command, argv, capture, stdin, stdout, stderr, pass_fds):
        out_to = subprocess.PIPE if capture else (subprocess.DEVNULL if stdout is None else stdout)
        err_to = subprocess.PIPE if capture else (subprocess.DEVNULL if stderr is None else stderr)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL if stdin is None else stdin,
                                    stdout=out_to, stderr=err_to, close_fds=True,
                                    pass_fds=tuple(pass_fds))
        except OSError as e:
            msg = f"cannot run {argv[0]}: {e.strerror or e}"
            raise RuntimeCommandError(self.binary, command, None, msg, argv=argv) from None
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            msg = f"timed out after {self.timeout:g}s (the CLI process was killed)"
            raise RuntimeTimeout(self.binary, command, proc.returncode, msg, argv=argv) from None
        except BaseException:  # KeyboardInterrupt...: never leave the CLI behind
            proc.kill()
            proc.wait()
            raise
        decode = (lambda b: b.decode("utf-8", "replace") if b else "")
        return proc.returncode, decode(out), decode(err)

    def _forward(self, entries: list[dict]) -> None:
        import logging

        logger = logging.getLogger(__name__)
        levels = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                  "warn": logging.WARNING}
        for e in entries:
            logger.log(levels.get(str(e.get("level")).lower(), logging.ERROR), "%s: %s",
                       self.binary, e.get("msg"))

    def _json(self, command: str, args: list):
        _, out = self._call(command, args)
        try:
            return json.loads(out)
        except ValueError:
            text = _one_line(out)[:200] or "(nothing)"
            msg = f"unexpected output, not JSON: {text}"
            raise RuntimeCommandError(self.binary, command, 0, msg) from None

    @staticmethod
    def _container_opts(pid_file, console_socket, pidfd_socket, no_pivot, no_new_keyring,
                        preserve_fds) -> list:
        opts = []
        if pid_file is not None:
            opts += ["--pid-file", pid_file]
        if console_socket is not None:
            opts += ["--console-socket", console_socket]
        if pidfd_socket is not None:
            opts += ["--pidfd-socket", pidfd_socket]
        if no_pivot:
            opts.append("--no-pivot")
        if no_new_keyring:
            opts.append("--no-new-keyring")
        if preserve_fds:
            opts += ["--preserve-fds", str(int(preserve_fds))]
        return opts

    @staticmethod
    def _extra_fds(preserve_fds: int) -> tuple[int, ...]:
        if preserve_fds < 0:
            raise ValueError("preserve_fds must be >= 0")
        return tuple(range(3, 3 + preserve_fds))

    # -- commands ------------------------------------------------------------

    def create(self, id: str, bundle: str | os.PathLike, *, pid_file=None, console_socket=None,
               pidfd_socket=None, no_pivot: bool = False, no_new_keyring: bool = False,
               preserve_fds: int = 0, stdin=None, stdout=None, stderr=None) -> None:
        """Create container `id` from `bundle` (its process waits for start); stdio: fds or files, default /dev/null; preserve_fds=N passes this process's fds 3..3+N-1."""
        args = ["create", "--bundle", bundle]
        args += self._container_opts(pid_file, console_socket, pidfd_socket, no_pivot,
                                     no_new_keyring, preserve_fds)
        self._call("create", args + [id], capture=False, stdin=stdin, stdout=stdout,
                   stderr=stderr, pass_fds=self._extra_fds(preserve_fds))

    def start(self, id: str) -> None:
        """Start the user process of created container `id`."""
        self._call("start", ["start", id])

    def run(self, id: str, bundle: str | os.PathLike, *, detach: bool = False, keep: bool = False,
            no_subreaper: bool = False, pid_file=None, console_socket=None, pidfd_socket=None,
            no_pivot: bool = False, no_new_keyring: bool = False, preserve_fds: int = 0,
            stdin=None, stdout=None, stderr=None) -> int | None:
        """Create and start `id`; unless detach, wait and return its exit status (None when detached)."""
        args = ["run", "--bundle", bundle]
        if detach:
            args.append("--detach")
        if keep:
            args.append("--keep")
        if no_subreaper:
            args.append("--no-subreaper")
        args += self._container_opts(pid_file, console_socket, pidfd_socket, no_pivot,
                                     no_new_keyring, preserve_fds)
        status, _ = self._call("run", args + [id], capture=False, stdin=stdin, stdout=stdout,
                               stderr=stderr, pass_fds=self._extra_fds(preserve_fds),
                               status_ok=not detach)
        return None if detach else status

    def state(self, id: str) -> dict:
        """The OCI state of `id` (ociVersion, id, status, pid, bundle, ...)."""
        return self._json("state", ["state", id])

    def list(self) -> list[dict]:
        """The state of every container under the root ([] when none)."""
        return self._json("list", ["list", "--format", "json"]) or []

    def kill(self, id: str, signal: str | int = "TERM", *, all: bool = False) -> None:
        """Send `signal` (a name such as "KILL" or "SIGKILL", or a number) to the init of `id`, or to all its processes."""
        sig = str(int(signal)) if isinstance(signal, int) else str(signal)
        self._call("kill", ["kill"] + (["--all"] if all else []) + [id, sig])

    def delete(self, id: str, *, force: bool = False) -> None:
        """Delete stopped container `id` (force: kill it first if it still runs)."""
        self._call("delete", ["delete"] + (["--force"] if force else []) + [id])

    def pause(self, id: str) -> None:
        """Freeze every process of `id`."""
        self._call("pause", ["pause", id])

    def resume(self, id: str) -> None:
        """Thaw every process of paused container `id`."""
        self._call("resume", ["resume", id])

    def ps(self, id: str) -> list[int]:
        """The host PIDs of the processes of `id`."""
        return [int(p) for p in self._json("ps", ["ps", "--format", "json", id]) or []]

    def exec(self, id: str, process: list[str] | tuple[str, ...] | dict, *, detach: bool = False,
             tty: bool = False, env: dict | list[str] | None = None, cwd: str | None = None,
             user: str | int | None = None, pid_file=None, console_socket=None,
             preserve_fds: int = 0, stdin=None, stdout=None, stderr=None) -> int:
        """Run args (a list) or a process (an OCI process dict, via --process FILE) in `id`; return its exit status (0 when detached)."""
        args: list = ["exec"]
        files = None
        if isinstance(process, dict):
            given = [n for n, v in (("env", env), ("cwd", cwd), ("user", user), ("tty", tty)) if v]
            if given:
                raise ValueError(f"exec with a process dict: put {', '.join(given)} in the dict "
                                 "(the runtime ignores those flags with --process)")
            files = {"process.json": json.dumps(process).encode()}
            args += ["--process", _Tmp("process.json")]
            rest = []
        elif isinstance(process, (str, bytes)):
            raise TypeError("exec: give the command as a list of arguments, or a process dict")
        else:
            rest = [os.fspath(a) for a in process]
            if not rest:
                raise ValueError("exec: empty command")
        if tty:
            args.append("--tty")
        if cwd is not None:
            args += ["--cwd", cwd]
        if user is not None:
            args += ["--user", str(user)]
        if env:
            pairs = [f"{k}={v}" for k, v in env.items()] if isinstance(env, dict) else list(env)
            for pair in pairs:
                args += ["--env", pair]
        if detach:
            args.append("--detach")
        if pid_file is not None:
            args += ["--pid-file", pid_file]
        if console_socket is not None:
            args += ["--console-socket", console_socket]
        if preserve_fds:
            args += ["--preserve-fds", str(int(preserve_fds))]
        status, _ = self._call("exec", args + [id] + rest, capture=False, stdin=stdin,
                               stdout=stdout, stderr=stderr, files=files,
                               pass_fds=self._extra_fds(preserve_fds), status_ok=not detach)
        return status

    def update(self, id: str, resources: dict) -> None:
        """Change the resources of `id` (a linux.resources dict, e.g. {"memory": {"limit": N}})."""
        files = {"resources.json": json.dumps(resources).encode()}
        self._call("update", ["update", "--resources", _Tmp("resources.json"), id], files=files)

    def stats(self, id: str) -> dict:
        """The cgroup statistics of `id` (the "data" of `events --stats`: cpu, memory, pids...)."""
        _, out = self._call("events", ["events", "--stats", id])
        for line in out.splitlines():
            if line.strip():
                try:
                    event = json.loads(line)
                except ValueError:
                    break
                if isinstance(event, dict) and isinstance(event.get("data"), dict):
                    return event["data"]
                break
        msg = f"unexpected output, no stats event: {_one_line(out)[:200] or '(nothing)'}"
        raise RuntimeCommandError(self.binary, "events", 0, msg)

    def version(self) -> str:
        """The runtime's version number (the first line of --version: "runc version 1.1.5" -> "1.1.5")."""
        _, out = self._call("--version", ["--version"])
        first = out.strip().splitlines()[0] if out.strip() else ""
        words = first.split()
        if len(words) >= 3 and words[1] == "version":
            return words[2]
        return first

    def features(self) -> dict:
        """What the runtime implements (the `features` JSON: ociVersionMax, hooks, mountOptions, linux...)."""
        return self._json("features", ["features"])
