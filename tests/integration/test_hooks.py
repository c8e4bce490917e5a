"""Lifecycle hooks as config.md ("POSIX-platform Hooks") and runtime.md
("Lifecycle", v1.3.0) state them, observed for real: each hook is a small
/bin/sh script that records its name (order), its stdin (the state JSON),
args, env and namespaces into a directory; the startContainer hook lives in
the rootfs (its path resolves in the container) and writes to /out.

Failure rules (runtime.md 1.3.0): a failing prestart, createRuntime,
createContainer, startContainer or poststart hook is an error, the container
is stopped and destroyed (nothing left), poststop hooks still run; a failing
poststop hook is a warning and the remaining hooks run.
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile
import time

import pytest
from test_lifecycle import alive, call, create, poll
from test_namespaces import safe_rmtree

HOST_SCRIPT = r"""#!/bin/sh
# $1 name, $2 out dir, $3 exit status (default 0), $4 seconds to sleep first
name=$1; out=$2; umask 0
cat > "$out/$name.json"
echo "$name" >> "$out/order"
readlink /proc/self/ns/mnt > "$out/$name.mnt"
readlink /proc/self/ns/pid > "$out/$name.pidns"
readlink /proc/self/ns/net > "$out/$name.netns"
env > "$out/$name.env"
echo "$@" > "$out/$name.args"
ls /proc/self/fd > "$out/$name.fds"
if [ -n "$4" ]; then sleep "$4"; echo "$name" >> "$out/slept"; fi
if [ "${3:-0}" != 0 ]; then echo "hook $name says no" >&2; exit "$3"; fi
exit 0
"""

ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOOKVAR=hello world"]


@pytest.fixture
def hb(bundle, tmp_path):
    """make(args, hooks: {kind: [(name, status, sleep, timeout)]}) -> (bundle, out dir).
    Host hooks run tmp/hook.sh; startContainer runs /hook.sh inside the rootfs
    writing to /out (a bind of the out dir)."""
    dirs = []

    def make(args=("sh", "-c", "touch /out/ran; sleep 1000"), hooks=None, edit=None, base=None):
        """base: a directory for the out dir, the script and the bundle (a
        user namespace's root cannot traverse pytest's 0700 tmp dirs)."""
        base = pathlib.Path(base or tmp_path)
        out = base / "out"
        out.mkdir()
        script = base / "hook.sh"
        script.write_text(HOST_SCRIPT)
        script.chmod(0o755)

        def ed(cfg):
            cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                                  "options": ["rbind", "rw"]})
            cfg["annotations"] = {"org.test.k": "v"}
            h = {}
            for kind, entries in (hooks or {}).items():
                lst = []
                for name, status, sleep, timeout in entries:
                    inside = kind == "startContainer"
                    e = {"path": "/hook.sh" if inside else str(script),
                         "args": ["hook-argv0", name, "/out" if inside else str(out), str(status)]
                         + ([str(sleep)] if sleep else []),
                         "env": ENV}
                    if timeout:
                        e["timeout"] = timeout
                    lst.append(e)
                h[kind] = lst
            cfg["hooks"] = h
            if edit:
                edit(cfg)
        b = bundle(list(args), ed)
        if base != tmp_path:
            os.rename(b, str(base / "bundle"))
            b = str(base / "bundle")
            dirs.append(base)
        os.makedirs(os.path.join(b, "rootfs", "out"), exist_ok=True)
        inner = os.path.join(b, "rootfs", "hook.sh")
        with open(inner, "w") as f:
            f.write(HOST_SCRIPT)
        os.chmod(inner, 0o755)
        return b, out
    yield make
    for d in dirs:
        safe_rmtree(str(d))


def order(out) -> list[str]:
    p = out / "order"
    return p.read_text().split() if p.exists() else []


def js(out, name) -> dict:
    return json.loads((out / f"{name}.json").read_text())


def ns(kind: str, pid="self") -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


ALL = {k: [(k, 0, 0, 0)] for k in ("prestart", "createRuntime", "createContainer", "startContainer",
                                     "poststart", "poststop")}


def test_features_lists_hooks(runtime):
    r = runtime("features", check=True)
    assert json.loads(r.stdout)["hooks"] == ["prestart", "createRuntime", "createContainer",
                                            "startContainer", "poststart", "poststop"]


def test_each_hook_runs_at_its_point_with_state_args_env_namespaces(runtime, hb):
    b, out = hb(hooks=ALL)
    create(runtime, b, "h1")
    pid = runtime.state("h1")["pid"]
    assert order(out) == ["prestart", "createRuntime", "createContainer"]
    assert not (out / "ran").exists()
    # runtime-namespace hooks: the host's namespaces, the pid as the host sees it
    for k in ("prestart", "createRuntime"):
        s = js(out, k)
        assert s == {"ociVersion": s["ociVersion"], "id": "h1", "status": "creating", "pid": pid,
                     "bundle": b, "annotations": {"org.test.k": "v"}}
        assert (out / f"{k}.mnt").read_text().strip() == ns("mnt")
        assert (out / f"{k}.pidns").read_text().strip() == ns("pid")
    # createContainer: the container's namespaces, its pid as the container sees it
    s = js(out, "createContainer")
    assert s["status"] == "creating" and s["pid"] == 1 and s["id"] == "h1" and s["bundle"] == b
    for kind, f in (("mnt", "mnt"), ("pid", "pidns"), ("net", "netns")):
        assert (out / f"createContainer.{f}").read_text().strip() == ns(kind, pid)
    assert ns("mnt", pid) != ns("mnt")
    # args exactly as given (args[0] is argv[0]: the shell shows the rest), env exactly as given
    assert (out / "createRuntime.args").read_text().split() == ["createRuntime", str(out), "0"]
    env = (out / "prestart.env").read_text()
    assert "HOOKVAR=hello world" in env.splitlines()
    assert "PYTHONPATH" not in env and "OCIPY" not in env
    # no fd of the runtime but stdio (ls itself opens one for the listing)
    assert len((out / "prestart.fds").read_text().split()) <= 4

    r = call(runtime, "start", "h1")
    assert r.returncode == 0, r.stderr
    assert poll(lambda: (out / "ran").exists())
    assert order(out) == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart"]
    s = js(out, "startContainer")
    assert s["status"] == "created" and s["pid"] == 1 and s["id"] == "h1"
    for kind, f in (("mnt", "mnt"), ("pid", "pidns"), ("net", "netns")):
        assert (out / f"startContainer.{f}").read_text().strip() == ns(kind, pid)
    s = js(out, "poststart")
    assert s["status"] == "running" and s["pid"] == pid
    assert (out / "poststart.mnt").read_text().strip() == ns("mnt")

    r = call(runtime, "delete", "--force", "h1")
    assert r.returncode == 0, r.stderr
    assert order(out)[-1] == "poststop"
    s = js(out, "poststop")
    assert s["status"] == "stopped" and s["id"] == "h1" and s["bundle"] == b and "pid" not in s
    assert runtime.ids() == []


def test_poststop_uses_hooks_recorded_at_create(runtime, hb):
    b, out = hb(hooks={"poststop": [("poststop", 0, 0, 0)]})
    create(runtime, b, "h1")
    with open(os.path.join(b, "config.json")) as f:
        cfg = json.load(f)
    cfg["hooks"] = {}  # an edit after create changes nothing (runtime.md step 2)
    with open(os.path.join(b, "config.json"), "w") as f:
        json.dump(cfg, f)
    assert call(runtime, "delete", "--force", "h1").returncode == 0
    assert order(out) == ["poststop"]


def test_run_runs_every_hook(runtime, hb):
    b, out = hb(args=["sh", "-c", "touch /out/ran"], hooks=ALL)
    r = call(runtime, "run", "--bundle", b, "h1")
    assert r.returncode == 0, r.stderr
    assert (out / "ran").exists()
    assert order(out) == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                          "poststop"]
    assert (out / "poststart.pidns").read_text().strip() == ns("pid")
    assert (out / "poststop.pidns").read_text().strip() == ns("pid")
    assert runtime.ids() == []


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_create_hook_failure_fails_create_and_leaves_nothing(runtime, hb, kind, no_leaks):
    hooks = {k: [(k, 0, 0, 0)] for k in ("prestart", "createRuntime", "createContainer")}
    hooks[kind] = [(kind, 3, 0, 0), (kind + "2", 0, 0, 0)]
    hooks["poststop"] = [("poststop", 0, 0, 0)]
    b, out = hb(hooks=hooks)
    r = call(runtime, "create", "--bundle", b, "h1")
    assert r.returncode != 0
    line = r.stderr.strip().splitlines()[-1]
    assert f"hooks.{kind}[0]" in line and "hook.sh" in line and "exit status 3" in line, r.stderr
    assert f"hook {kind} says no" in line
    assert "Traceback" not in r.stderr
    assert kind + "2" not in order(out)  # the next hook never runs
    assert order(out)[-1] == "poststop"  # runtime.md: continue at step 12, then 13
    assert runtime.ids() == []
    assert not (out / "ran").exists()


def test_start_container_failure_program_never_runs(runtime, hb, no_leaks):
    b, out = hb(hooks={"startContainer": [("startContainer", 4, 0, 0), ("sc2", 0, 0, 0)],
                       "poststart": [("poststart", 0, 0, 0)], "poststop": [("poststop", 0, 0, 0)]})
    create(runtime, b, "h1")
    pid = runtime.state("h1")["pid"]
    r = call(runtime, "start", "h1")
    assert r.returncode != 0
    assert "hooks.startContainer[0] /hook.sh: exit status 4" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    time.sleep(0.2)
    assert not (out / "ran").exists()
    assert not alive(pid)
    assert order(out) == ["startContainer", "poststop"]
    assert runtime.ids() == []


def test_start_container_hook_path_resolves_in_the_container(runtime, hb, tmp_path):
    # a path that exists only on the host is not found in the container
    def ed(cfg):
        cfg["hooks"]["startContainer"][0]["path"] = str(tmp_path / "hook.sh")
    b, out = hb(hooks={"startContainer": [("startContainer", 0, 0, 0)]}, edit=ed)
    create(runtime, b, "h1")
    r = call(runtime, "start", "h1")
    assert r.returncode != 0
    assert "hooks.startContainer[0]" in r.stderr and "No such file" in r.stderr, r.stderr
    assert not (out / "ran").exists()
    assert runtime.ids() == []


def test_poststart_failure_stops_and_destroys(runtime, hb, no_leaks):
    # runtime.md v1.3.0 step 9: error, stop the container, steps 12 and 13
    b, out = hb(hooks={"poststart": [("poststart", 5, 0, 0), ("ps2", 0, 0, 0)],
                       "poststop": [("poststop", 0, 0, 0)]})
    create(runtime, b, "h1")
    pid = runtime.state("h1")["pid"]
    r = call(runtime, "start", "h1")
    assert r.returncode != 0
    assert "hooks.poststart[0]" in r.stderr and "exit status 5" in r.stderr, r.stderr
    assert poll(lambda: not alive(pid))
    assert order(out) == ["poststart", "poststop"]
    assert runtime.ids() == []


def test_poststop_failure_is_a_warning_and_the_rest_run(runtime, hb):
    b, out = hb(hooks={"poststop": [("p1", 6, 0, 0), ("p2", 0, 0, 0)]})
    create(runtime, b, "h1")
    r = call(runtime, "delete", "--force", "h1")
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "hooks.poststop[0]" in r.stderr and "exit status 6" in r.stderr
    assert order(out) == ["p1", "p2"]
    assert runtime.ids() == []


def test_timeout_kills_the_hook_and_fails(runtime, hb, no_leaks):
    b, out = hb(hooks={"createRuntime": [("createRuntime", 0, 30, 1)]})
    t = time.monotonic()
    r = call(runtime, "create", "--bundle", b, "h1", timeout=60)
    took = time.monotonic() - t
    assert r.returncode != 0
    assert "hooks.createRuntime[0]" in r.stderr and "timed out after 1s" in r.stderr, r.stderr
    assert took < 10
    time.sleep(0.3)
    assert not (out / "slept").exists()  # killed, not left sleeping
    assert runtime.ids() == []


def test_timeout_not_reached_succeeds(runtime, hb):
    b, out = hb(hooks={"createContainer": [("createContainer", 0, 0.2, 5)]})
    create(runtime, b, "h1")
    assert order(out) == ["createContainer"]
    assert call(runtime, "delete", "--force", "h1").returncode == 0


def test_hooks_with_user_namespace(runtime, hb):
    def ed(cfg):
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    base = tempfile.mkdtemp(prefix="ocipy-hooks-", dir="/tmp")
    os.chmod(base, 0o711)
    b, out = hb(hooks=ALL, edit=ed, base=base)
    os.chmod(out, 0o777)
    create(runtime, b, "h1")
    pid = runtime.state("h1")["pid"]
    assert order(out) == ["prestart", "createRuntime", "createContainer"]
    assert (out / "createContainer.mnt").read_text().strip() == ns("mnt", pid)
    assert (out / "prestart.mnt").read_text().strip() == ns("mnt")
    assert call(runtime, "start", "h1").returncode == 0
    assert poll(lambda: (out / "ran").exists())
    assert order(out)[3:] == ["startContainer", "poststart"]
    assert (out / "startContainer.mnt").read_text().strip() == ns("mnt", pid)
    assert call(runtime, "delete", "--force", "h1").returncode == 0
    assert order(out)[-1] == "poststop"


def test_no_env_means_empty_env_and_no_args_means_argv0_is_path(runtime, hb, tmp_path):
    script = tmp_path / "bare.sh"
    o = tmp_path / "out"
    script.write_text(f"#!/bin/sh\necho \"$0 $#\" > {o}/bare.args\nexport -p > {o}/bare.env\n")
    script.chmod(0o755)

    def ed(cfg):
        cfg["hooks"] = {"createRuntime": [{"path": str(script)}]}
    b, out = hb(edit=ed)
    create(runtime, b, "h1")
    assert (out / "bare.args").read_text().split() == [str(script), "0"]
    env = (out / "bare.env").read_text()
    assert "HOME" not in env and "PYTHONPATH" not in env and "HOOKVAR" not in env
    assert call(runtime, "delete", "--force", "h1").returncode == 0


def test_missing_hook_binary_is_a_clear_error(runtime, hb, tmp_path, no_leaks):
    def ed(cfg):
        cfg["hooks"] = {"prestart": [{"path": str(tmp_path / "nope")}]}
    b, _ = hb(edit=ed)
    r = call(runtime, "create", "--bundle", b, "h1")
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1] == (
        f"ocipy: {b}/config.json: hooks.prestart[0] {tmp_path}/nope: cannot run it: No such file or directory")
    assert runtime.ids() == []
