"""The status machine and state file rules (pure parts, no containers)."""
import os

import pytest

from ocipy import state as st
from ocipy.errors import NotFound, OcipyError, StateError


@pytest.mark.parametrize("cid", ["a", "abc-DEF_1.2+3", "x" * 1024])
def test_valid_ids(cid):
    st.validate_id(cid)


@pytest.mark.parametrize("cid", ["", ".", "..", "a/b", "../x", "a b", "é", "a\n", "x" * 1025])
def test_invalid_ids(cid):
    with pytest.raises(OcipyError):
        st.validate_id(cid)


def _container(tmp_path, **state):
    d = tmp_path / "c1"
    d.mkdir()
    c = st.Container(str(tmp_path), "c1")
    c.state = {"id": "c1", "pid": 0, "status": "created", **state}
    c.save()
    return c


def test_status_of_our_own_process_is_running_or_created(tmp_path):
    me = os.getpid()
    c = _container(tmp_path, pid=me, init_start=st.proc_start_time(me)[0])
    assert st.Container.load(str(tmp_path), "c1").status() == st.RUNNING
    (tmp_path / "c1" / st.FIFO).touch()
    assert st.Container.load(str(tmp_path), "c1").status() == st.CREATED
    c.require("start")
    with pytest.raises(StateError):
        c.require("delete")
    assert c.require("delete", force=True) == st.CREATED


def test_reused_pid_is_stopped(tmp_path):
    me = os.getpid()
    _container(tmp_path, pid=me, init_start=st.proc_start_time(me)[0] + 1)
    c = st.Container.load(str(tmp_path), "c1")
    assert c.status() == st.STOPPED
    assert c.oci_state()["pid"] == 0
    with pytest.raises(StateError):
        c.require("start")


def test_missing_state_file_is_creating(tmp_path):
    (tmp_path / "c1").mkdir()
    c = st.Container.load(str(tmp_path), "c1")
    assert c.status() == st.CREATING


def test_unknown_container(tmp_path):
    with pytest.raises(NotFound):
        st.Container.load(str(tmp_path), "nope")


def test_write_atomic_leaves_no_tmp(tmp_path):
    p = tmp_path / "f"
    st.write_atomic(str(p), "one")
    st.write_atomic(str(p), "two")
    assert p.read_text() == "two"
    assert os.listdir(tmp_path) == ["f"]


def test_rfc3339():
    t = st.now_rfc3339()
    assert t.endswith("Z") and t[4] == "-" and t[10] == "T"


def test_lock_then_deleted(tmp_path):
    c = _container(tmp_path)
    c.lock()
    c.remove_dir()
    c.unlock()
    with pytest.raises(NotFound):
        st.Container(str(tmp_path), "c1").lock()


def test_load_locked_reads_under_the_lock(tmp_path):
    me = os.getpid()
    _container(tmp_path, pid=me, init_start=st.proc_start_time(me)[0])
    c = st.Container.load(str(tmp_path), "c1", lock=True)
    try:
        assert c._lockfd >= 0 and c.state["pid"] == me and c.status() == st.RUNNING
        c.require("kill", status=st.RUNNING)
        with pytest.raises(StateError):
            c.require("start", status=st.RUNNING)  # the status given is the one judged
    finally:
        c.unlock()
    for missing in ("nope", "file"):
        (tmp_path / "file").write_text("")  # not a container directory either
        with pytest.raises(NotFound):
            st.Container.load(str(tmp_path), missing, lock=True)
    (tmp_path / "c2").mkdir()
    (tmp_path / "c2" / st.STATE_FILE).write_text("{broken")
    c = st.Container.load(str(tmp_path), "c2", lock=True)
    c.unlock()
    assert "corrupt" in c.state  # delete --force can still remove it


def test_proc_start_time_of_a_missing_process():
    assert st.proc_start_time(2 ** 22 + 1) is None  # above pid_max's ceiling
    t, letter = st.proc_start_time(os.getpid())
    assert t > 0 and letter in "RS"


@pytest.mark.parametrize("euid,xdg,want", [
    (0, b"/run/user/0", "/run/ocipy"),                   # root: always /run/ocipy
    (1000, b"/run/user/1000", "/run/user/1000/ocipy"),   # a user: its runtime dir
    (1000, b"/run/user/1000/", "/run/user/1000/ocipy"),
    (1000, None, "/run/ocipy"),                          # no runtime dir: runc's default too
    (1000, b"relative", "/run/ocipy"),
])
def test_default_root(monkeypatch, euid, xdg, want):
    monkeypatch.setattr(st.posix, "geteuid", lambda: euid)
    env = dict(st.posix.environ)
    env.pop(b"XDG_RUNTIME_DIR", None)
    if xdg is not None:
        env[b"XDG_RUNTIME_DIR"] = xdg
    monkeypatch.setattr(st.posix, "environ", env)
    assert st.default_root() == want


@pytest.mark.parametrize("value,euid,want", [
    ("auto", 0, False), ("auto", 1000, True), (None, 1000, True), ("", 0, False),
    ("true", 0, True), ("TRUE", 0, True), ("false", 1000, False), ("0", 1000, False),
])
def test_rootless_mode(monkeypatch, value, euid, want):
    monkeypatch.setattr(st.posix, "geteuid", lambda: euid)
    assert st.rootless_mode(value) is want


def test_rootless_mode_bad_value():
    with pytest.raises(OcipyError, match='--rootless "maybe": must be true, false or auto'):
        st.rootless_mode("maybe")
