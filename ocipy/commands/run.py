"""ocipy run: create + start, then (unless --detach) wait for the
container's process, forwarding signals to it, and exit with its status
(128+N when killed by signal N); the container is deleted afterwards
unless --keep."""
import posix

from ocipy.signals import FORWARD, wait_forwarding  # noqa: F401 - shared with exec


def run(g: dict, p: dict) -> int:
    from ocipy.commands.start import notify_relay, poststart, release
    from ocipy.launcher.stages import create
    from ocipy.state import rootless_mode

    detach = bool(p.get("detach"))
    created = create(g["root"], p["container_id"], p["bundle"], pid_file=p.get("pid_file") or "",
                     console_socket=p.get("console_socket") or "", no_pivot=bool(p.get("no_pivot")),
                     preserve_fds=p.get("preserve_fds") or 0,
                     new_keyring=not p.get("no_new_keyring"), systemd_cgroup=bool(g.get("systemd_cgroup")),
                     rootless=rootless_mode(g.get("rootless")),
                     subreaper=not detach and not p.get("no_subreaper"), own_console=not detach, start=True)
    c = created.container
    relay = None
    try:
        if not created.started:
            relay = notify_relay(c)
            release(c)
    except BaseException as e:
        if relay is not None:
            relay.close()
        from ocipy.commands.delete import destroy, stop
        from ocipy.launcher.hooks import HookError

        if not isinstance(e, HookError):  # (a hook failure destroyed it already)
            stop(c)
            destroy(c)
        raise
    poststart(c)
    if relay is not None:
        if detach:
            relay.wait(created.pid, created.pid)
        else:
            # a foreground run stays the service's main process (runc sends
            # its own pid) and relays READY while it proxies and forwards
            # signals as usual
            relay.forward_async(posix.getpid())
    if detach:
        return 0
    if created.console >= 0:
        from ocipy.console import proxy, recv_master

        master = recv_master(created.console)
        try:
            proxy(master, created.pid)
        finally:
            posix.close(master)
    status = wait_forwarding(created.pid)
    if not p.get("keep"):
        from ocipy.commands.delete import destroy, poststop, stop

        stop(c)
        destroy(c)
        poststop(c)
    return status
