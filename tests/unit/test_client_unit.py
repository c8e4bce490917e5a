"""ocipy.client without containers: the --log parsing, the error classes on
the real messages of runc 1.1 and ocipy, and Runtime driving a fake runtime
(a shell script) to check argv, the log file's lifetime, stdio, fds and the
timeout."""
from __future__ import annotations

import json
import os
import time

import pytest

from ocipy.client import (ContainerExists, ContainerNotFound, ContainerNotRunning, Runtime,
                          RuntimeCommandError, RuntimeTimeout, error_class, last_error, parse_log)


# -- log parsing ---------------------------------------------------------------

def test_last_error_is_the_last_error_level_line():
    text = "\n".join([
        '{"level":"error","msg":"first","time":"2024-01-01T00:00:00Z"}',
        '{"level":"warning","msg":"a warning","time":"2024-01-01T00:00:00Z"}',
        '{"level":"error","msg":"the real one","time":"2024-01-01T00:00:00Z"}',
        '{"level":"info","msg":"after","time":"2024-01-01T00:00:00Z"}',
    ])
    assert last_error(parse_log(text)) == "the real one"


def test_non_json_lines_are_ignored():
    text = "\n".join([
        "garbage before",
        '{"level":"error","msg":"container does not exist","time":"t"}',
        "{not json at all",
        "[1, 2]",
        '{"level":"error"}',           # no msg
        "",
    ])
    entries = parse_log(text)
    assert [e["msg"] for e in entries] == ["container does not exist"]
    assert last_error(entries) == "container does not exist"


def test_no_error_line():
    assert last_error(parse_log('{"level":"warning","msg":"w","time":"t"}\n')) is None
    assert last_error(parse_log("")) is None


def test_text_format_lines():
    text = ('time="2024-01-01T00:00:00Z" level=warning msg="careful"\n'
            'time="2024-01-01T00:00:00Z" level=error msg="container \\"c1\\" already exists"\n'
            'time="2024-01-01T00:00:00Z" level=error msg=plain\n')
    entries = parse_log(text)
    assert [e["level"] for e in entries] == ["warning", "error", "error"]
    assert entries[1]["msg"] == 'container "c1" already exists'
    assert last_error(entries) == "plain"


def test_a_multi_line_msg_becomes_one_line():
    line = json.dumps({"level": "fatal", "msg": "first part\n  second part\n", "time": "t"})
    assert last_error(parse_log(line)) == "first part second part"


# -- classes: the messages both runtimes print (run them to see) ---------------

@pytest.mark.parametrize("msg, cls", [
    # runc 1.1
    ("container does not exist", ContainerNotFound),
    ("exec failed: container does not exist", ContainerNotFound),
    ("runc create failed: container with given ID already exists", ContainerExists),
    ("runc run failed: container with given ID already exists", ContainerExists),
    ("container not running", ContainerNotRunning),
    ("exec failed: cannot exec in a stopped container", ContainerNotRunning),
    ("runc create failed: JSON specification file config.json not found", RuntimeCommandError),
    ("container not paused", RuntimeCommandError),
    ("cannot delete container c9 that is not stopped: running", RuntimeCommandError),
    # ocipy
    ('container "nope" does not exist', ContainerNotFound),
    ('container "c1" already exists', ContainerExists),
    ('cannot kill container "c1": container not running (it is stopped)', ContainerNotRunning),
    ('cannot pause container "c1": it is stopped, not running or created', ContainerNotRunning),
    ('cannot exec in a stopped container "c1"', ContainerNotRunning),
    ('cannot delete container "c9": it is running, not stopped', RuntimeCommandError),
    ('cannot resume container "c1": it is running, not paused', RuntimeCommandError),
    # the same words about something else keep the base class
    ("cgroup /sys/fs/cgroup/memory/x: does not exist", RuntimeCommandError),
    ("--systemd-cgroup: systemd is not running on this host", RuntimeCommandError),
    ("linux.netDevices: a network device named 'eth0' already exists in the container's "
     "network namespace", RuntimeCommandError),
])
def test_error_class(msg, cls):
    assert error_class(msg) is cls


def test_error_str_is_one_line_with_binary_and_command():
    e = ContainerNotFound("/usr/sbin/runc", "state", 1, "container does not exist")
    assert str(e) == "/usr/sbin/runc state: container does not exist"
    assert (e.command, e.returncode, e.message) == ("state", 1, "container does not exist")
    assert isinstance(e, RuntimeCommandError)
    t = RuntimeTimeout("ocipy", "run", -9, "timed out")
    assert isinstance(t, TimeoutError) and isinstance(t, RuntimeCommandError)


# -- Runtime on a fake runtime ---------------------------------------------------

PRELUDE = r"""#!/bin/sh
printf '%s\n' "$@" > "$REC/argv"
log=""
while [ $# -gt 0 ]; do
  case "$1" in
    --log) log="$2"; shift 2;;
    --root|--log-format) shift 2;;
    --debug|--systemd-cgroup) shift;;
    *) break;;
  esac
done
echo "$log" > "$REC/logpath"
"""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """fake(body) -> Runtime on a shell script; $log is the --log path, $REC a
    directory for what the script records, "$@" the command and its args."""
    rec = tmp_path / "rec"
    rec.mkdir()
    monkeypatch.setenv("REC", str(rec))

    def make(body: str, **kw) -> Runtime:
        path = tmp_path / "fake-runtime"
        path.write_text(PRELUDE + body + "\n")
        path.chmod(0o755)
        return Runtime(str(path), **kw)
    make.rec = rec
    return make


def argv_of(fake) -> list[str]:
    return (fake.rec / "argv").read_text().splitlines()


def test_message_from_the_log_and_the_log_is_removed(fake):
    rt = fake("""echo '{"level":"warning","msg":"w","time":"t"}' >> "$log"
echo 'ocipy: noise on stderr' >&2
echo '{"level":"error","msg":"container \\"x\\" does not exist","time":"t"}' >> "$log"
exit 1""", root="/tmp/some-root")
    with pytest.raises(ContainerNotFound) as e:
        rt.state("x")
    assert e.value.message == 'container "x" does not exist'
    assert e.value.returncode == 1 and e.value.command == "state"
    assert str(e.value) == f'{rt.binary} state: container "x" does not exist'
    assert [x.get("level") for x in e.value.log] == ["warning", "error"]
    log = (fake.rec / "logpath").read_text().strip()
    assert log and not os.path.exists(log) and not os.path.exists(os.path.dirname(log))
    assert argv_of(fake) == ["--root", "/tmp/some-root", "--log", log, "--log-format", "json",
                             "state", "x"]


def test_fallback_to_stderr_then_to_the_status(fake):
    rt = fake("""echo 'some warning line' >&2
echo 'fake-runtime: flag provided but not defined: -bogus' >&2
exit 3""")
    with pytest.raises(RuntimeCommandError) as e:
        rt.list()
    assert e.value.message == "flag provided but not defined: -bogus"
    assert e.value.returncode == 3
    rt = fake("exit 4")
    with pytest.raises(RuntimeCommandError) as e:
        rt.pause("x")
    assert e.value.message == "exit status 4"


def test_global_flags_and_create_flags(fake, tmp_path):
    rt = fake("exit 0", root="/r", systemd_cgroup=True, debug=True)
    rt.create("c1", "/b", pid_file="/p", console_socket="/s", no_pivot=True,
              no_new_keyring=True)
    a = argv_of(fake)
    assert a[:2] == ["--root", "/r"] and a[4:6] == ["--log-format", "json"]
    assert a[6:] == ["--systemd-cgroup", "--debug", "create", "--bundle", "/b", "--pid-file", "/p",
                     "--console-socket", "/s", "--no-pivot", "--no-new-keyring", "c1"]
    rt = fake("exit 0")
    rt.kill("c1", 9, all=True)
    assert argv_of(fake)[4:] == ["kill", "--all", "c1", "9"]
    rt.delete("c1", force=True)
    assert argv_of(fake)[4:] == ["delete", "--force", "c1"]
    rt.exec("c1", ["sh", "-c", "x"], env={"A": "1"}, cwd="/tmp", user=1000, detach=True)
    assert argv_of(fake)[4:] == ["exec", "--cwd", "/tmp", "--user", "1000", "--env", "A=1",
                                 "--detach", "c1", "sh", "-c", "x"]


def test_create_never_pipes_the_stdio_a_container_inherits(fake):
    # like an init: a background process keeps create's stdout/stderr open
    rt = fake("(sleep 5 &) ; exit 0", timeout=4)
    t = time.monotonic()
    rt.create("c1", "/b")
    rt.run("c2", "/b", detach=True)
    rt.exec("c1", ["x"], detach=True)
    assert time.monotonic() - t < 3


def test_stdio_given_and_stdin_is_devnull_by_default(fake, tmp_path):
    rt = fake("""cat > "$REC/stdin"; echo out; echo err >&2""")
    src = tmp_path / "in"
    src.write_text("fed\n")
    out, err = tmp_path / "out", tmp_path / "err"
    with open(src) as i, open(out, "w") as o, open(err, "w") as e:
        rt.create("c1", "/b", stdin=i, stdout=o, stderr=e.fileno())
    assert (fake.rec / "stdin").read_text() == "fed\n"
    assert out.read_text() == "out\n" and err.read_text() == "err\n"
    rt.create("c1", "/b")  # cat ends at once on /dev/null
    assert (fake.rec / "stdin").read_text() == ""


def test_no_fd_of_the_host_leaks_into_the_cli(fake):
    r, w = os.pipe()
    os.set_inheritable(r, True)
    os.set_inheritable(w, True)
    try:
        rt = fake("""for f in /proc/$$/fd/*; do readlink "$f" || true; done > "$REC/fds" """)
        rt.start("c1")
        pipe = os.readlink(f"/proc/self/fd/{r}")
        assert pipe.startswith("pipe:")
        assert pipe not in (fake.rec / "fds").read_text().split()
    finally:
        os.close(r)
        os.close(w)


def test_run_and_exec_return_the_process_status_unless_the_log_has_an_error(fake):
    rt = fake("exit 7")
    assert rt.run("c1", "/b") == 7
    assert rt.exec("c1", ["x"]) == 7
    rt = fake("""echo '{"level":"error","msg":"exec failed: container does not exist","time":"t"}' >> "$log"
exit 255""")
    with pytest.raises(ContainerNotFound):
        rt.exec("c1", ["x"])
    with pytest.raises(ContainerNotFound):
        rt.run("c1", "/b")


def test_exec_process_dict_goes_through_a_file(fake):
    rt = fake("""shift; while [ "$1" != "--process" ]; do shift; done; cat "$2" > "$REC/process" """)
    proc = {"args": ["true"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}
    assert rt.exec("c1", proc) == 0
    assert json.loads((fake.rec / "process").read_text()) == proc
    a = argv_of(fake)
    assert a[4:6] == ["exec", "--process"] and a[-1] == "c1"
    assert not os.path.exists(a[6])  # removed with the call's directory
    with pytest.raises(ValueError):
        rt.exec("c1", proc, env={"A": "1"})
    with pytest.raises(TypeError):
        rt.exec("c1", "sh -c true")


def test_update_sends_the_resources_as_a_file(fake):
    rt = fake("""cat "$3" > "$REC/resources" """)
    rt.update("c1", {"memory": {"limit": 1234}})
    assert json.loads((fake.rec / "resources").read_text()) == {"memory": {"limit": 1234}}
    assert argv_of(fake)[4:6] == ["update", "--resources"] and argv_of(fake)[-1] == "c1"


def test_json_outputs(fake):
    assert fake("echo null").list() == []
    assert fake("echo '[{\"id\":\"a\"}]'").list() == [{"id": "a"}]
    assert fake("echo '[12,34]'").ps("c1") == [12, 34]
    assert fake("echo '{\"type\":\"stats\",\"id\":\"c\",\"data\":{\"pids\":{\"current\":2}}}'"
                ).stats("c1") == {"pids": {"current": 2}}
    assert fake("printf 'runc version 1.1.5+ds1\\ncommit: x\\n'").version() == "1.1.5+ds1"
    with pytest.raises(RuntimeCommandError) as e:
        fake("echo 'not json'").state("c1")
    assert "not JSON" in e.value.message and "\n" not in str(e.value)


def test_timeout_kills_the_cli(fake):
    rt = fake("""echo $$ > "$REC/pid"; exec sleep 30""", timeout=0.5)
    t = time.monotonic()
    with pytest.raises(RuntimeTimeout) as e:
        rt.state("c1")
    assert time.monotonic() - t < 5
    assert e.value.command == "state" and "timed out after 0.5s" in e.value.message
    pid = int((fake.rec / "pid").read_text())
    assert not os.path.exists(f"/proc/{pid}")  # killed and reaped
