"""Exceptions of ocipy. Hot path: imports nothing.

Every error a user can cause is an OcipyError whose str() is one clear line
(naming the file / field / container) that the CLI prints and logs as is.
"""


class OcipyError(Exception):
    """A failure to report to the user as one line; exit status 1."""

    exit_code = 1


class ConfigError(OcipyError):
    """The bundle or its config.json is missing or invalid."""


class UsageError(OcipyError):
    """Bad command line (unknown flag, missing argument...)."""

    exit_code = 1


class NotFound(OcipyError):
    """No container with this id."""


class StateError(OcipyError):
    """The container is in the wrong state for the command, or busy."""


class SysError(OcipyError):
    """A syscall failed: carries errno, the operation and its context.

    str() reads like "mount proc on /rootfs/proc: Operation not permitted".
    """

    def __init__(self, err: int, op: str, context: str = "") -> None:
        self.errno = err
        self.op = op
        self.context = context
        import posix

        what = op + (" " + context if context else "")
        super().__init__(f"{what}: {posix.strerror(err)}")


def go_strerror(err: int) -> str:
    """strerror(err) as runc (Go's syscall.Errno) spells it, lower case:
    "no such file or directory", "permission denied". Engines match these
    texts in the runtime's error: Docker's CLI exits 127 for "no such file or
    directory" and 126 for "permission denied", case-sensitively."""
    import posix

    s = posix.strerror(err)
    return s[:1].lower() + s[1:]
