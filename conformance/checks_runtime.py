"""Checks of runtime.md: state, lifecycle, errors, the operations (create/start/state/kill/delete)."""
from __future__ import annotations

import json
import os
import time

from .framework import Fail, Skip, check, expect

R_SCOPE = 'runtime.md#runtimeScopeContainer: "MUST be able to use the operations defined in this specification against that same container."'
R_OPERATIONS = 'runtime.md#runtimeOperations: "Unless otherwise stated, runtimes MUST support the following operations."'
R_STATE_RETURN = 'runtime.md#runtimeQueryState: "This operation MUST return the state of a container as specified in the State section."'
R_STATE_SCHEMA = 'runtime.md#runtimeState: "the format MUST adhere to the JSON Schema"'
R_STATE_VALUES = 'runtime.md#runtimeState: "they MUST be used to represent new runtime states not defined above."'
R_ID_UNIQUE = 'runtime.md#runtimeState: "This MUST be unique across all containers on this host."'
R_CREATE_NEW = 'runtime.md#runtimeCreate: "This operation MUST create a new container."'
R_NOT_RUN = 'runtime.md#runtimeLifecycle: "the user-specified program (from `process`) MUST NOT be run at this time."'
R_ARGS_LATER = 'runtime.md#runtimeCreate: "`process.args` MUST NOT be applied until triggered by the `start` operation."'
R_START_RUN = 'runtime.md#runtimeStart: "This operation MUST run the user-specified program as specified by `process`."'
R_LC_RUN = 'runtime.md#runtimeLifecycle: "The runtime MUST run the user-specified program, as specified by `process`."'
R_UPDATES = 'runtime.md#runtimeLifecycle: "Any updates to `config.json` after this step MUST NOT affect the container."'
R_LC_ERROR = 'runtime.md#runtimeLifecycle: "If the runtime is unable to create the environment specified in the `config.json`, it MUST generate an error."'
R_CANNOT_APPLY = 'runtime.md#runtimeCreate: "If the runtime cannot apply a property as specified in the configuration, it MUST generate an error and a new container MUST NOT be created."'
R_ERRORS = 'runtime.md#runtimeErrors: "generating an error MUST leave the state of the environment as if the operation were never attempted"'
R_DESTROY = 'runtime.md#runtimeLifecycle: "The container MUST be destroyed by undoing the steps performed during create phase (step 2)."'


def expect_create_error(ctx, edit=None, what: str = "the configuration", bundle=None):
    """create must fail and leave no container behind (runtime.md#runtimeCreate)."""
    b = bundle or ctx.bundle(edit=edit)
    c = ctx.container(b)
    before = set(os.listdir(ctx.rt.root))
    r = c.create(check=False)
    if r.rc == 0:
        raise Fail(f"create accepted {what} (exit 0)")
    if c.state(check=False) is not None:
        raise Fail(f"create failed ({r.why}) but the container exists: status {c.status()!r}")
    after = set(os.listdir(ctx.rt.root))
    if after - before:
        raise Fail(f"create failed but left {sorted(after - before)} in --root")
    return r


def created(ctx, script="sleep 30", edit=None):
    b = ctx.bundle(script=script, edit=edit)
    c = ctx.container(b)
    c.create()
    return c


def running(ctx, script="sleep 30", edit=None):
    c = created(ctx, script, edit)
    c.start()
    return c


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _states(ctx) -> dict:
    def probe():
        b = ctx.bundle(script="read x < /dev/null; sleep 0.3",
                       edit=lambda c: c.update(annotations={"org.example.conformance": "yes"}))
        c = ctx.container(b)
        c.create()
        st = {"created": c.state()}
        c.start()
        st["running"] = c.state()
        c.wait()
        st["stopped"] = c.state()
        c.delete()
        st["bundle"] = b.path
        st["id"] = c.id
        return st
    return ctx.once("states", probe)


@check("lifecycle.operations", R_OPERATIONS, R_SCOPE, R_CREATE_NEW)
def lifecycle_operations(ctx):
    """create, state, start, kill, delete all work on the container the caller created."""
    c = created(ctx)
    expect(c.status() == "created", f"status after create is {c.status()!r}")
    c.start()
    expect(c.status() == "running", f"status after start is {c.status()!r}")
    r = c.kill("KILL")
    expect(r.rc == 0, f"kill failed: {r.why}")
    c.wait()
    r = c.delete()
    expect(r.rc == 0, f"delete of a stopped container failed: {r.why}")
    expect(c.state(check=False) is None, "state still answers after delete")


@check("state.created", R_STATE_RETURN)
def state_created(ctx):
    """After create: ociVersion, id, status created, pid of a live process, absolute bundle path."""
    st = _states(ctx)
    s = st["created"]
    expect(isinstance(s.get("ociVersion"), str) and s["ociVersion"], f"ociVersion {s.get('ociVersion')!r}")
    expect(s.get("id") == st["id"], f"id {s.get('id')!r}, want {st['id']!r}")
    expect(s.get("status") == "created", f"status {s.get('status')!r}, want 'created'")
    expect(isinstance(s.get("pid"), int) and s["pid"] > 0, f"pid {s.get('pid')!r}, want the container process")
    b = s.get("bundle")
    expect(isinstance(b, str) and os.path.isabs(b), f"bundle {b!r} is not an absolute path")
    expect(os.path.realpath(b) == os.path.realpath(st["bundle"]), f"bundle {b!r}, want {st['bundle']!r}")


@check("state.running", R_STATE_RETURN)
def state_running(ctx):
    """After start: status running, the same pid as after create."""
    st = _states(ctx)
    s = st["running"]
    expect(s.get("status") == "running", f"status {s.get('status')!r}, want 'running'")
    expect(s.get("pid") == st["created"].get("pid"), f"pid {s.get('pid')} changed from {st['created'].get('pid')}")


@check("state.stopped", R_STATE_RETURN)
def state_stopped(ctx):
    """After the container process exited: status stopped."""
    s = _states(ctx)["stopped"]
    expect(s.get("status") == "stopped", f"status {s.get('status')!r}, want 'stopped'")


@check("state.status_values", R_STATE_VALUES)
def state_status_values(ctx):
    """The statuses of created, running and stopped containers are the spec's names for them."""
    st = _states(ctx)
    got = [st[k].get("status") for k in ("created", "running", "stopped")]
    expect(got == ["created", "running", "stopped"], f"statuses {got}, want created, running, stopped")


@check("state.schema", R_STATE_SCHEMA)
def state_schema(ctx):
    """The created, running and stopped states validate against schema/state-schema.json."""
    from .extract import default_spec_dir
    path = os.path.join(default_spec_dir(), "schema", "state-schema.json")
    try:
        import jsonschema
    except ImportError:
        raise Skip("the jsonschema package is not installed")
    if not os.path.exists(path):
        raise Skip(f"{path} not found ($OCI_RUNTIME_SPEC)")
    with open(path) as f:
        schema = json.load(f)
    with open(os.path.join(os.path.dirname(path), "defs.json")) as f:
        defs = json.load(f)
    base = "file://" + os.path.dirname(path) + "/"
    schema = dict(schema, id=base + "state-schema.json")  # draft-04: "id"
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4
    except ImportError:  # jsonschema < 4.18
        resolver = jsonschema.RefResolver(base, schema, store={base + "defs.json": defs})
        validator = jsonschema.Draft4Validator(schema, resolver=resolver)
    else:
        registry = Registry().with_resource(base + "defs.json", Resource.from_contents(defs, default_specification=DRAFT4))
        validator = jsonschema.Draft4Validator(schema, registry=registry)
    st = _states(ctx)
    for k in ("created", "running", "stopped"):
        err = next(iter(validator.iter_errors(st[k])), None)
        if err is not None:
            raise Fail(f"{k} state: {err.message}")


@check("state.unknown_id", 'runtime.md#runtimeQueryState: "Attempting to query a container that does not exist MUST generate an error."')
def state_unknown_id(ctx):
    r = ctx.rt("state", f"cf{ctx.tag}-does-not-exist")
    expect(r.rc != 0, "state of an unknown id exited 0")


@check("state.no_id", 'runtime.md#runtimeQueryState: "This operation MUST generate an error if it is not provided the ID of a container."')
def state_no_id(ctx):
    r = ctx.rt("state")
    expect(r.rc != 0, "state without an id exited 0")


@check("create.no_bundle", 'runtime.md#runtimeCreate: "This operation MUST generate an error if it is not provided a path to the bundle and the container ID"')
def create_no_bundle(ctx):
    """create with a bundle path that holds no bundle, and create without an id, fail."""
    missing = os.path.join(ctx.workdir, "no-such-bundle")
    cid = ctx.new_id()
    ctx.created.append(cid)
    r = ctx.rt("create", "--bundle", missing, cid)
    expect(r.rc != 0, "create with a missing bundle exited 0")
    expect(ctx.rt("state", cid).rc != 0, "create with a missing bundle failed but the container exists")
    b = ctx.bundle()
    r = ctx.rt("create", "--bundle", b.path)
    expect(r.rc != 0, "create without a container id exited 0")


@check("create.duplicate_id", R_ID_UNIQUE,
       'runtime.md#runtimeCreate: "If the ID provided is not unique across all containers within the scope of the runtime"')
def create_duplicate_id(ctx):
    """A second create with the id of an existing container fails and leaves the first untouched."""
    c = created(ctx)
    pid = c.state()["pid"]
    b2 = ctx.bundle()
    r = ctx.rt("create", "--bundle", b2.path, c.id)
    expect(r.rc != 0, "a second create with the same id exited 0")
    s = c.state()
    expect(s.get("status") == "created" and s.get("pid") == pid and pid_alive(pid),
           f"the first container changed: {s.get('status')}, pid {s.get('pid')} (was {pid})")
    expect(os.path.realpath(s.get("bundle", "")) == os.path.realpath(c.bundle.path), "the first container's bundle changed")


@check("create.invalid_id", 'runtime.md#runtimeCreate: "or is not valid in any other way, the implementation MUST generate an error and a new container MUST NOT be created."')
def create_invalid_id(ctx):
    """Ids that are paths ('../x', 'a/b', '') are refused, and nothing is made for them."""
    b = ctx.bundle()
    parent = os.path.dirname(ctx.rt.root)
    for bad in ("../cf-escape", "a/b", ""):
        before = set(os.listdir(parent))
        r = ctx.rt("create", "--bundle", b.path, bad)
        if r.rc == 0:
            ctx.rt("delete", "--force", bad)
            raise Fail(f"create accepted the id {bad!r}")
        expect(set(os.listdir(parent)) == before, f"create with id {bad!r} made {set(os.listdir(parent)) - before}")
    expect(not [n for n in os.listdir(ctx.rt.root) if not n.startswith(".")],
           f"--root holds {os.listdir(ctx.rt.root)} after refused ids")


def _mounts_under(path: str) -> list[str]:
    """Host mount points under `path` (other processes may mount elsewhere meanwhile)."""
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4].startswith(path.rstrip("/") + "/")]


@check("create.error_leaves_nothing", R_CANNOT_APPLY, R_LC_ERROR, R_ERRORS)
def create_error_leaves_nothing(ctx):
    """A create that cannot apply a mount (missing bind source) fails; no container, mount or
    state is left, and the id can be used at once."""
    before = _mounts_under(ctx.workdir)

    def edit(cfg):
        cfg["mounts"].append({"destination": "/mnt/x", "type": "bind", "options": ["bind"],
                              "source": os.path.join(ctx.workdir, "no-such-source")})
    b = ctx.bundle(edit=edit)
    c = ctx.container(b)
    r = c.create(check=False)
    expect(r.rc != 0, "create with a missing bind-mount source exited 0")
    expect(c.state(check=False) is None, "create failed but the container exists")
    left = sorted(set(_mounts_under(ctx.workdir)) - set(before))
    expect(not left, f"mounts left in the host's mount namespace: {left[:3]}")
    b.cfg["mounts"].pop()
    b.write()
    r = c.create(check=False)
    expect(r.rc == 0, f"the id of a failed create cannot be used again: {r.why}")


@check("create.does_not_run_program", R_NOT_RUN, R_ARGS_LATER, R_START_RUN, R_LC_RUN)
def create_does_not_run_program(ctx):
    """The program runs on start, not on create."""
    b = ctx.bundle(script="echo ran > /tmp/ran")
    c = ctx.container(b)
    c.create()
    time.sleep(0.2)
    marker = os.path.join(b.rootfs, "tmp", "ran")
    expect(not os.path.exists(marker), "the program ran at create")
    c.start()
    c.wait()
    expect(os.path.exists(marker), "the program did not run at start")


@check("create.config_changes_ignored", R_UPDATES)
def create_config_changes_ignored(ctx):
    """Editing config.json between create and start changes nothing."""
    b = ctx.bundle(script="echo original")
    c = ctx.container(b)
    c.create()
    b.cfg["process"]["args"] = ["sh", "-c", "echo edited"]
    b.cfg["process"]["env"].append("EDITED=1")
    b.write()
    c.start()
    c.wait()
    out = c.stdout().strip()
    expect(out == "original", f"the container printed {out!r}, want 'original'")


@check("start.no_id", 'runtime.md#runtimeStart: "This operation MUST generate an error if it is not provided the container ID."')
def start_no_id(ctx):
    expect(ctx.rt("start").rc != 0, "start without an id exited 0")


@check("start.not_created", 'runtime.md#runtimeStart: "Attempting to `start` a container that is not `created` MUST have no effect on the container and MUST generate an error."')
def start_not_created(ctx):
    """start of a running container fails and leaves it running; start of a stopped one fails."""
    c = running(ctx)
    pid = c.state()["pid"]
    r = c.start(check=False)
    expect(r.rc != 0, "a second start of a running container exited 0")
    s = c.state()
    expect(s.get("status") == "running" and s.get("pid") == pid and pid_alive(pid),
           f"a second start changed the container: {s.get('status')}, pid {s.get('pid')}")
    c.kill("KILL")
    c.wait()
    r = c.start(check=False)
    expect(r.rc != 0, "start of a stopped container exited 0")
    expect(c.status() == "stopped", f"start of a stopped container left it {c.status()!r}")
    r = ctx.rt("start", f"cf{ctx.tag}-does-not-exist")
    expect(r.rc != 0, "start of an unknown id exited 0")


@check("start.no_process", 'runtime.md#runtimeStart: "This operation MUST generate an error if `process` was not set."')
def start_no_process(ctx):
    """A config without `process`: create or start fails (the spec allows either)."""
    b = ctx.bundle(edit=lambda cfg: cfg.pop("process"))
    c = ctx.container(b)
    r = c.create(check=False)
    if r.rc != 0:
        expect(c.state(check=False) is None, "create failed but the container exists")
        return
    r = c.start(check=False)
    expect(r.rc != 0, "start of a container without `process` exited 0")


@check("kill.no_id", 'runtime.md#runtimeKill: "This operation MUST generate an error if it is not provided the container ID."')
def kill_no_id(ctx):
    expect(ctx.rt("kill").rc != 0, "kill without an id exited 0")


@check("kill.signal", 'runtime.md#runtimeKill: "This operation MUST send the specified signal to the container process."')
def kill_signal(ctx):
    """kill TERM reaches the container process (which traps it); kill KILL stops a created one."""
    b = ctx.bundle(script="trap 'echo got-TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done")
    c = ctx.container(b)
    c.create()
    c.start()
    end = time.monotonic() + 5
    while "ready" not in c.stdout() and time.monotonic() < end:
        time.sleep(0.02)
    r = c.kill("TERM")
    expect(r.rc == 0, f"kill TERM failed: {r.why}")
    c.wait(5)
    expect("got-TERM" in c.stdout(), f"the container did not see SIGTERM (stdout {c.stdout()!r})")
    c2 = created(ctx)
    r = c2.kill("KILL")
    expect(r.rc == 0, f"kill KILL of a created container failed: {r.why}")
    c2.wait(5)
    expect(c2.status() == "stopped", f"after kill KILL a created container is {c2.status()!r}")


@check("kill.not_running", 'runtime.md#runtimeKill: "Attempting to send a signal to a container that is neither `created` nor `running` MUST have no effect on the container and MUST generate an error."')
def kill_not_running(ctx):
    c = running(ctx, script="true")
    c.wait()
    r = c.kill("KILL")
    expect(r.rc != 0, "kill of a stopped container exited 0")
    expect(c.status() == "stopped", f"kill of a stopped container left it {c.status()!r}")
    r = ctx.rt("kill", f"cf{ctx.tag}-does-not-exist", "KILL")
    expect(r.rc != 0, "kill of an unknown id exited 0")


@check("delete.no_id", 'runtime.md#runtimeDelete: "This operation MUST generate an error if it is not provided the container ID."')
def delete_no_id(ctx):
    expect(ctx.rt("delete").rc != 0, "delete without an id exited 0")


R_DELETE_NOT_STOPPED = 'runtime.md#runtimeDelete: "Attempting to `delete` a container that is not `stopped` MUST have no effect on the container and MUST generate an error."'


@check("delete.running", R_DELETE_NOT_STOPPED)
def delete_running(ctx):
    """delete (without --force) of a running container fails and leaves it running."""
    c = running(ctx)
    pid = c.state()["pid"]
    r = c.delete()
    expect(r.rc != 0, "delete of a running container exited 0")
    expect(c.status() == "running" and pid_alive(pid), f"delete of a running container left it {c.status()!r}")


@check("delete.created", R_DELETE_NOT_STOPPED)
def delete_created(ctx):
    """delete (without --force) of a created container fails and leaves it created."""
    c = created(ctx)
    pid = c.state()["pid"]
    r = c.delete()
    expect(r.rc != 0, "delete of a created container exited 0 (the container is not stopped)")
    expect(c.status() == "created" and pid_alive(pid), f"delete of a created container left it {c.status()!r}")


def _cgroup_dirs(pid: int) -> list[str]:
    """The host directories of a process's cgroups (v1 controllers and v2)."""
    from .checks_config_linux import cgroup_mounts
    mounts = cgroup_mounts()
    out = []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for ctl in (ctrls.split(",") if ctrls else [""]):
                base = mounts.get(ctl)
                if base and path != "/":
                    out.append(os.path.join(base, path.lstrip("/")))
    return sorted(set(out))


@check("delete.resources", 'runtime.md#runtimeDelete: "Deleting a container MUST delete the resources that were created during the `create` step."', R_DESTROY)
def delete_resources(ctx):
    """After delete: no state, no process, no cgroup directory of the container; the id is free."""
    c = running(ctx)
    pid = c.state()["pid"]
    # the container's own cgroups: not ours, nor an ancestor of ours (names are the runtime's choice)
    own = _cgroup_dirs(os.getpid())
    dirs = [d for d in _cgroup_dirs(pid) if not any(o == d or o.startswith(d + "/") for o in own)]
    expect(dirs, "found no cgroup of the container (its config has linux.resources)")
    c.kill("KILL")
    c.wait()
    r = c.delete()
    expect(r.rc == 0, f"delete of a stopped container failed: {r.why}")
    expect(c.state(check=False) is None, "state still answers after delete")
    left = [d for d in dirs if os.path.isdir(d)]
    expect(not left, f"cgroup directories left after delete: {left[:3]}")
    r = c.create(check=False)
    expect(r.rc == 0, f"the id of a deleted container cannot be used again: {r.why}")


@check("delete.keeps_foreign", 'runtime.md#runtimeDelete: "resources associated with the container, but not created by this container, MUST NOT be deleted."')
def delete_keeps_foreign(ctx):
    """A bind-mounted host directory and its files, and a parent cgroup made beforehand, survive delete."""
    from .checks_config_linux import cgroup_mounts
    mounts = cgroup_mounts()
    base = mounts.get("pids") or mounts.get("")
    if not base:
        raise Skip("no pids cgroup hierarchy (v1) or cgroup2 mount")
    parent = os.path.join(base, f"cf{ctx.tag}-foreign-{ctx.rt.name}")
    os.makedirs(parent, exist_ok=True)
    try:
        host = os.path.join(ctx.workdir, ctx.rt.name, f"foreign-{ctx.tag}")
        os.makedirs(host, exist_ok=True)
        with open(os.path.join(host, "keep"), "w") as f:
            f.write("x")

        def edit(cfg):
            cfg["mounts"].append({"destination": "/mnt/host", "type": "bind", "source": host, "options": ["bind"]})
            cfg["linux"]["cgroupsPath"] = f"/{os.path.basename(parent)}/c"
        c = running(ctx, script="echo y > /mnt/host/new", edit=edit)
        c.wait()
        r = c.delete()
        expect(r.rc == 0, f"delete failed: {r.why}")
        expect(os.path.isdir(parent), f"the pre-existing parent cgroup {parent} was removed")
        expect(os.path.exists(os.path.join(host, "keep")) and os.path.exists(os.path.join(host, "new")),
               "files of a bind-mounted host directory were removed")
    finally:
        for m in set(mounts.values()):
            for d in (os.path.join(m, os.path.basename(parent), "c"), os.path.join(m, os.path.basename(parent))):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
