"""ocipy resume: thaw a paused container."""
from ocipy import state as st
from ocipy.commands.pause import cgroup


def run(g: dict, p: dict) -> int:
    c = st.Container.load(g["root"], p["container_id"], lock=True)
    try:
        c.require("resume")
        cgroup(c).thaw()
        c.state["paused"] = False
        c.save()
    finally:
        c.unlock()
    return 0
