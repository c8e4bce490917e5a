"""The signal table used by `kill` equals the platform's signal module."""
import signal

import pytest

from ocipy.errors import UsageError
from ocipy.signals import SIGNALS, parse_signal


def test_table_matches_signal_module():
    for name, num in SIGNALS.items():
        assert getattr(signal, "SIG" + name) == num, name
    for s in signal.Signals:
        if s.name.startswith("SIGRT"):
            continue
        assert SIGNALS[s.name[3:]] == s.value


@pytest.mark.parametrize("text,num", [
    ("9", 9), ("KILL", 9), ("SIGKILL", 9), ("sigkill", 9), ("term", 15), ("SIGUSR1", 10),
    ("RTMIN", signal.SIGRTMIN), ("SIGRTMIN+3", signal.SIGRTMIN + 3), ("RTMAX-1", signal.SIGRTMAX - 1),
    ("64", 64), ("0", 0),
])
def test_parse(text, num):
    assert parse_signal(text) == num


@pytest.mark.parametrize("text", ["65", "00x", "SIG0", "-1", "FOO", "SIG", "", "RTMIN+40", "9x"])
def test_parse_bad(text):
    with pytest.raises(UsageError):
        parse_signal(text)
