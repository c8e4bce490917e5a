"""Signal names for `kill`, without `import signal` (it imports enum).

Linux numbers; tests/unit/test_signals.py proves the table equal to the
signal module's on this platform.
"""
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
    """'9', 'KILL', 'SIGKILL', 'sigkill', 'SIGRTMIN+3', 'RTMAX-1' -> number."""
    if s.isdigit():
        n = int(s)
        if 0 < n <= SIGRTMAX:
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
