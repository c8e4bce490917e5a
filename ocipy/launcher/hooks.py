"""Lifecycle hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle").

Who runs which hook, where, with which state status:

  prestart, createRuntime  stage 0 (runtime namespaces), when the init reports
                           `hooks` (mounts done, before pivot_root)   "creating"
  createContainer          the init, before pivot_root (container namespaces,
                           path resolved in the runtime mount tree)   "creating"
  startContainer           the init after `start`, before execve (inside the
                           container, after pivot_root)               "created"
  poststart                `start` / `run`, after the program started "running"
  poststop                 `delete` (and a failed create/start), after the
                           container is destroyed                     "stopped"

A hook is spawned (posix_spawn: vfork speed, signal dispositions Python
changed reset) with the state JSON on stdin, its args (args[0] is argv[0]) and
env exactly as configured (no env: an empty environment), in its own process
group, with no fd of ours but the three pipes. `timeout` kills the group.
Hot path: imports only os (+ select when a hook exists).
"""
from __future__ import annotations

import os

from ocipy.errors import OcipyError

# hooks stage 0 or a later command runs in the runtime namespaces
RUNTIME_KINDS = ("prestart", "createRuntime", "poststart", "poststop")


class HookError(OcipyError):
    """A hook failed (non-zero exit, killed, timed out, could not start)."""

    is_hook = True


def hooks_of(config: dict, kind: str) -> list:
    return ((config or {}).get("hooks") or {}).get(kind) or []


def hook_state(base: dict, status: str, pid: int = 0) -> dict:
    """runtime.md's state: ociVersion, id, status, pid (omitted when 0, e.g.
    for a stopped container), bundle, annotations."""
    d = {"ociVersion": base.get("ociVersion"), "id": base.get("id"), "status": status}
    if pid:
        d["pid"] = pid
    d["bundle"] = base.get("bundle", "")
    d["annotations"] = base.get("annotations") or {}
    return d


def run_hooks(kind: str, hooks: list, state: dict, where: str = "") -> None:
    """Run each hook in order; the first failure raises HookError (one line
    naming hooks.<kind>[i], the path, why, and the tail of its stderr)."""
    if not hooks:
        return
    from ocipy import jsonlite

    data = jsonlite.dumps(state).encode()
    prefix = f"{where}: " if where else ""
    for i, h in enumerate(hooks):
        why = _run_one(h, data)
        if why:
            raise HookError(f"{prefix}hooks.{kind}[{i}] {h.get('path')}: {why}")


def run_hooks_warn(kind: str, hooks: list, state: dict, where: str = "", warn=None) -> None:
    """Run every hook; a failure is a warning and the others still run."""
    if not hooks:
        return
    if warn is None:
        from ocipy.log import warn
    for i, h in enumerate(hooks):
        try:
            run_hooks(kind, [h], state, where)
        except HookError as e:
            warn(str(e).replace(f"hooks.{kind}[0]", f"hooks.{kind}[{i}]", 1))


def _nonblock(fd: int) -> None:
    os.set_blocking(fd, False)


def _run_one(h: dict, data: bytes) -> str:
    """Spawn one hook, feed it, wait for it. '' on success, else why."""
    import select
    import time

    path = h.get("path") or ""
    args = list(h.get("args") or [path])
    env = {}
    for e in h.get("env") or ():
        k, _, v = e.partition("=")
        env[k] = v
    timeout = h.get("timeout")
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    fa = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
    # no fd of ours reaches the hook: everything not close-on-exec above 2
    # (--preserve-fds, the console socket...) is closed in the child
    for name in _open_fds():
        if name > 2 and name not in (in_r, out_w, err_w) and not _cloexec(name):
            fa.append((os.POSIX_SPAWN_CLOSE, name))
    try:
        pid = os.posix_spawn(path, args, env, file_actions=fa, setsigdef=(13, 25), setpgroup=0)
    except OSError as e:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        return f"cannot run it: {os.strerror(e.errno) if e.errno else e}"
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    pidfd = -1
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        pass
    out = bytearray()
    err = bytearray()
    timed_out = False
    try:
        for fd in (in_w, out_r, err_r):
            _nonblock(fd)
        poller = select.poll()
        if data:
            poller.register(in_w, select.POLLOUT)
        else:
            os.close(in_w)
            in_w = -1
        poller.register(out_r, select.POLLIN)
        poller.register(err_r, select.POLLIN)
        if pidfd >= 0:
            poller.register(pidfd, select.POLLIN)
        deadline = time.monotonic() + timeout if timeout else None
        pending = data
        status = None
        while status is None:
            wait_ms = -1
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    _kill_group(pid)
                    status = os.waitpid(pid, 0)[1]
                    break
                wait_ms = int(left * 1000) + 1
            if pidfd < 0:
                wait_ms = 50 if wait_ms < 0 else min(wait_ms, 50)
            for fd, ev in poller.poll(wait_ms):
                if fd == in_w:
                    try:
                        n = os.write(in_w, pending)
                        pending = pending[n:]
                    except BlockingIOError:
                        continue
                    except OSError:  # the hook closed stdin (EPIPE): fine
                        pending = b""
                    if not pending:
                        poller.unregister(in_w)
                        os.close(in_w)
                        in_w = -1
                elif fd in (out_r, err_r):
                    _drain(fd, out if fd == out_r else err, poller)
            wpid, st = os.waitpid(pid, os.WNOHANG)
            if wpid:
                status = st
        # what the hook wrote before it exited (its children may keep the
        # pipes open: read what is there, never wait for EOF)
        for fd, buf in ((out_r, out), (err_r, err)):
            try:
                _drain(fd, buf, None)
            except OSError:
                pass
    finally:
        for fd in (in_w, out_r, err_r, pidfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
    if timed_out:
        why = f"timed out after {timeout}s (killed)"
    elif os.WIFSIGNALED(status):
        why = f"killed by signal {os.WTERMSIG(status)}"
    elif os.WEXITSTATUS(status):
        why = f"exit status {os.WEXITSTATUS(status)}"
    else:
        return ""
    tail = _tail(err) or _tail(out)
    return why + (f": {tail}" if tail else "")


def _drain(fd: int, buf: bytearray, poller) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            if poller is not None:
                poller.unregister(fd)
            return
        buf += chunk
        if len(buf) > 65536:
            del buf[:-4096]


def _tail(buf: bytearray) -> str:
    text = bytes(buf[-400:]).decode("utf-8", "replace").strip()
    return " ".join(text.split("\n")[-3:]).strip()


def _kill_group(pid: int) -> None:
    for target in (-pid, pid):
        try:
            os.kill(target, 9)
        except OSError:
            pass


def _open_fds() -> list:
    try:
        return [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc (inside a container without one): the low range
        return list(range(3, 256))


def _cloexec(fd: int) -> bool:
    try:
        return not os.get_inheritable(fd)
    except OSError:
        return True
