"""ocipy create: set the container up and hold its process before the
user's program (launcher.stages)."""


def run(g: dict, p: dict) -> int:
    import posix

    rep = posix.environ.pop(b"OCIPY_CREATE_REPORT", None)
    if rep is not None:  # the create-wait program hands the init's words back (launcher.stages)
        posix.unsetenv("OCIPY_CREATE_REPORT")
        from ocipy.launcher.stages import finish_report

        return finish_report(g["root"], p["container_id"], rep)
    from ocipy.launcher.stages import create
    from ocipy.state import rootless_mode

    create(g["root"], p["container_id"], p["bundle"], pid_file=p.get("pid_file") or "",
           console_socket=p.get("console_socket") or "", no_pivot=bool(p.get("no_pivot")),
           preserve_fds=p.get("preserve_fds") or 0,
           new_keyring=not p.get("no_new_keyring"), systemd_cgroup=bool(g.get("systemd_cgroup")),
           rootless=rootless_mode(g.get("rootless")),
           hand_over=True)
    return 0
