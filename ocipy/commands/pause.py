"""ocipy pause: freeze every process of the container (freezer v1,
cgroup.freeze v2); state then reports `paused`."""
from ocipy import state as st
from ocipy.errors import OcipyError


def run(g: dict, p: dict) -> int:
    c = st.Container.load(g["root"], p["container_id"], lock=True)
    try:
        c.require("pause")
        mgr = cgroup(c)
        mgr.freeze()
        c.state["paused"] = True
        c.save()
    finally:
        c.unlock()
    return 0


def cgroup(c: st.Container):
    """The container's cgroup manager (pause, resume, update, events); a
    container without one (rootless, no delegation) is an error."""
    if not c.state.get("cgroup"):
        raise OcipyError(f'container "{c.id}" has no cgroup of its own (a rootless container '
                         "without cgroup delegation)")
    from ocipy.cgroups import from_state

    return from_state(c.state["cgroup"])
