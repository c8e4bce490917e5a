"""Signal names for `kill`, without `import signal` (it imports enum).

Linux numbers; tests/unit/test_signals.py proves the table equal to the
signal module's on this platform.
"""
import posix

from ocipy.errors import UsageError

SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    "STKFLT": 16, "CHLD": 17, "CLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21,
    "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28,
    "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
}
SIGRTMIN, SIGRTMAX = 34, 64


def parse_signal(s: str) -> int:
    """'9', 'KILL', 'SIGKILL', 'sigkill', 'SIGRTMIN+3', 'RTMAX-1' -> number.
    '0' is accepted, as runc does: it delivers nothing and only checks that
    the process exists (`kill ID 0` succeeds while the container runs)."""
    if s.isdigit():
        n = int(s)
        if 0 <= n <= SIGRTMAX:
            return n
        raise UsageError(f'invalid signal "{s}"')
    name = s.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name in SIGNALS:
        return SIGNALS[name]
    for base, num, sign in (("RTMIN+", SIGRTMIN, 1), ("RTMAX-", SIGRTMAX, -1)):
        if name.startswith(base) and name[len(base):].isdigit():
            n = num + sign * int(name[len(base):])
            if SIGRTMIN <= n <= SIGRTMAX:
                return n
    if name == "RTMIN":
        return SIGRTMIN
    if name == "RTMAX":
        return SIGRTMAX
    raise UsageError(f'unknown signal "{s}"')


# signals a foreground `run` or `exec` passes on to the container's process (as runc does)
FORWARD = (1, 2, 3, 10, 12, 14, 15, 28, 20, 18, 21, 22)


def wait_forwarding(pid: int) -> int:
    """Wait for process pid (our child, or a child of ours as subreaper),
    forwarding FORWARD signals to it; its status as a shell's (128+N when
    killed by signal N). Here (posix only) rather than in commands/run.py:
    `exec` waits the same way without importing the launcher."""
    import _signal

    def forward(sig, _frame):
        try:
            posix.kill(pid, sig)
        except ProcessLookupError:
            pass

    for sig in FORWARD:
        _signal.signal(sig, forward)
    while True:
        try:
            wpid, status = posix.waitpid(-1, 0)
        except ChildProcessError:  # not our child (no subreaper): poll it
            return _wait_nonchild(pid)
        if wpid == pid:
            if posix.WIFSIGNALED(status):
                return 128 + posix.WTERMSIG(status)
            return posix.WEXITSTATUS(status)


def _wait_nonchild(pid: int) -> int:
    import select

    try:
        fd = posix.pidfd_open(pid)
    except ProcessLookupError:
        return 0
    p = select.poll()
    p.register(fd, select.POLLIN)
    p.poll()
    posix.close(fd)
    return 0
