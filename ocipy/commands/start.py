"""ocipy start: release a created container's process and return at once."""
import posix

from ocipy import state as st
from ocipy.errors import OcipyError


def run(g: dict, p: dict) -> int:
    c = st.Container.load(g["root"], p["container_id"], lock=True)
    relay = None
    try:
        c.require("start")
        relay = notify_relay(c)
        release(c)
        poststart(c)
    except BaseException:
        if relay is not None:
            relay.close()
        raise
    finally:
        c.unlock()
    if relay is not None:  # (unlocked: the wait may be long)
        relay.wait(c.pid, c.pid)
    return 0


def notify_relay(c: st.Container):
    """With NOTIFY_SOCKET set and a container created with it: the relay
    (launcher.notify), bound before the program runs. Else None."""
    host = posix.environ.get(b"NOTIFY_SOCKET")  # (os.environ: see ocipy/state.py)
    if not host:
        return None
    host = host.decode("utf-8", "surrogateescape")
    from ocipy.launcher import notify

    if not notify.has_dir(c.dir):
        return None
    return notify.Relay(c.dir, host)


def release(c: st.Container) -> None:
    """Open exec.fifo for reading: the init, blocked opening it for writing,
    writes one byte and execs the user's program. Watch the init through a
    pidfd meanwhile, so a dead init is an error, never a hang."""
    import select

    fifo = c.dir + "/" + st.FIFO
    try:
        pidfd = posix.pidfd_open(c.pid)
    except ProcessLookupError:
        raise OcipyError(f'cannot start container "{c.id}": its process has exited') from None
    try:
        if not c.init_alive():  # the pidfd is ours now: check it is the right process
            raise OcipyError(f'cannot start container "{c.id}": its process has exited')
        fd = posix.open(fifo, posix.O_RDONLY | posix.O_NONBLOCK | posix.O_CLOEXEC)
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.register(pidfd, select.POLLIN)
            while True:
                events = dict(poller.poll())
                if fd in events:
                    b = posix.read(fd, 1)
                    if b == b"E":  # a startContainer hook failed: the program never ran
                        _hook_failed(c, _read_rest(fd, poller))
                    if b:
                        break
                if pidfd in events:
                    raise OcipyError(f'cannot start container "{c.id}": its process exited before start')
        finally:
            posix.close(fd)
    finally:
        posix.close(pidfd)
    posix.unlink(fifo)


def _read_rest(fd: int, poller) -> str:
    data = b""
    while True:
        try:
            chunk = posix.read(fd, 65536)
        except BlockingIOError:
            poller.poll(1000)
            continue
        if not chunk:
            return data.decode("utf-8", "replace")
        data += chunk


def _hook_failed(c: st.Container, msg: str) -> None:
    """runtime.md: a failed startContainer/poststart hook -> an error, the
    container stopped and destroyed (step 12), then poststop hooks (13)."""
    from ocipy.launcher.hooks import HookError

    abort(c)
    raise HookError(msg)


def abort(c: st.Container) -> None:
    from ocipy.commands.delete import destroy, poststop, stop

    stop(c)
    try:
        posix.unlink(c.dir + "/" + st.FIFO)
    except OSError:
        pass
    destroy(c)
    poststop(c)


def poststart(c: st.Container) -> None:
    """After the user's program started, before `start` returns (runtime
    namespace, state "running"). runtime.md v1.3 step 9: a failure is an
    error, the container is stopped and destroyed, poststop hooks run."""
    hooks = ((c.state or {}).get("hooks") or {}).get("poststart")
    if not hooks:
        return
    from ocipy.launcher.hooks import HookError, hook_state, run_hooks

    try:
        run_hooks("poststart", hooks, hook_state(c.state, st.RUNNING, c.pid), c.state.get("bundle", "") + "/config.json")
    except HookError:
        abort(c)
        raise
