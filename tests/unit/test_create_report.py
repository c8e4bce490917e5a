"""finish_report (launcher/stages.py): what the create-wait program hands
back after the hand-over. Warnings are logged and "ok" is success; anything
else removes the container and raises the init's error; a report about a
process that is not this process's child is refused."""
from __future__ import annotations

import os
import subprocess

import pytest

from ocipy import log
from ocipy.errors import OcipyError
from ocipy.launcher.stages import finish_report


@pytest.fixture
def child():
    p = subprocess.Popen(["sleep", "30"])
    yield p
    if p.poll() is None:
        p.kill()
        p.wait()


@pytest.fixture
def logfile(tmp_path):
    path = tmp_path / "log"
    log.configure(str(path), "json", False)
    yield path
    log.configure("", "text", False)


def _container(root, cid="c1"):
    d = root / cid
    d.mkdir(parents=True)
    (d / "state.json").write_text('{"id": "c1", "pid": 1, "status": "creating"}')
    return d


def test_ok_with_warnings_logs_them_and_succeeds(tmp_path, child, logfile):
    d = _container(tmp_path)
    rep = f"{child.pid}\nwarn cannot raise capability 7\nok\n".encode()
    assert finish_report(str(tmp_path), "c1", rep) == 0
    assert d.exists() and child.poll() is None
    text = logfile.read_text()
    assert '"level":"warning","msg":"cannot raise capability 7"' in text


def test_error_removes_the_container_and_raises(tmp_path, child):
    d = _container(tmp_path)
    with pytest.raises(OcipyError, match="^exec: no such thing$"):
        finish_report(str(tmp_path), "c1", f"{child.pid}\nerror exec: no such thing\n".encode())
    assert not d.exists()
    assert not os.path.exists(f"/proc/{child.pid}"), "the init was not killed and reaped"


def test_silence_is_the_inits_exit(tmp_path, child):
    d = _container(tmp_path)
    child.kill()
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # a zombie: finish_report reaps it
    with pytest.raises(OcipyError, match=r"container init exited unexpectedly \(killed by signal 9\)"):
        finish_report(str(tmp_path), "c1", f"{child.pid}\n".encode())
    assert not d.exists()


def test_a_report_about_a_stranger_is_refused(tmp_path):
    d = _container(tmp_path)
    for rep in (b"1\nok\n", b"garbage", f"{os.getpid()}\nerror x\n".encode()):
        with pytest.raises(OcipyError, match="not the report of this create"):
            finish_report(str(tmp_path), "c1", rep)
    assert d.exists()
