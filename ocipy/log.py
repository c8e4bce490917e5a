"""Logging for the CLI: stderr plus runc's --log / --log-format.

containerd and Docker run `ocipy --log FILE --log-format json ...` and, when
a command fails, read the last error line of FILE and show its "msg"; Podman
uses the same flags. Their parsers are strict: one JSON object per line with
"level", "msg" and "time" (RFC 3339), exactly what runc's logrus writes. The
text format is logrus's too: time="..." level=error msg="...".

Hot path: imports nothing beyond posix/_json (not os: see ocipy/state.py).
"""
import posix
import sys

_path = ""
_json_fmt = False
_debug = False


def configure(path: str, fmt: str, debug: bool) -> None:
    global _path, _json_fmt, _debug
    _path, _json_fmt, _debug = path, fmt == "json", debug


def _now() -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _line(level: str, msg: str) -> str:
    if _json_fmt:
        from _json import encode_basestring

        return '{"level":%s,"msg":%s,"time":%s}\n' % (
            encode_basestring(level),
            encode_basestring(msg),
            encode_basestring(_now()),
        )
    from _json import encode_basestring

    return "time=%s level=%s msg=%s\n" % (encode_basestring(_now()), level, encode_basestring(msg))


def _write_log(level: str, msg: str) -> None:
    if not _path:
        return
    try:
        fd = posix.open(_path, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_CLOEXEC, 0o644)
    except OSError:
        return
    try:
        posix.write(fd, _line(level, msg).encode())
    finally:
        posix.close(fd)


def error(msg: str) -> None:
    """The one line a user sees for a failure: on stderr and in --log."""
    msg = " ".join(msg.split("\n"))
    _write_log("error", msg)
    try:
        sys.stderr.write(f"ocipy: {msg}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def warn(msg: str, quiet: bool = False) -> None:
    """A warning (runtime.md: how it is exposed is ours to choose): in --log
    when there is one, and then only there (runc's logrus writes to the log
    file instead of stderr): under a shim or conmon, create's stderr is the
    container's own stderr, so a warning there would land in the container's
    output (`docker logs`). Without --log: on stderr, unless `quiet` (a known,
    harmless condition that runc's own default spec triggers on every run)
    and --debug is off."""
    if _path:
        _write_log("warning", msg)
        return
    if quiet and not _debug:
        return
    try:
        sys.stderr.write(f"ocipy: warning: {msg}\n")
    except (OSError, ValueError):
        pass


def debug(msg: str) -> None:
    if _debug:
        _write_log("debug", msg)
        if not _path:
            try:
                sys.stderr.write(f"ocipy: debug: {msg}\n")
            except (OSError, ValueError):
                pass
