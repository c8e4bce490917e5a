"""ocipy events: container statistics and OOM notifications, as runc.

`--stats`: one {"type":"stats","id":...,"data":{...}} line and exit.
Otherwise a stream: a stats event every --interval and an "oom" event when
the cgroup's OOM counters grow, until the container stops.
"""
from __future__ import annotations

import sys
import time

from ocipy import jsonlite
from ocipy import state as st
from ocipy.errors import OcipyError


def parse_interval(s: str) -> float:
    """Go durations as runc takes them: 5s, 500ms, 1m, 1h, 1.5s, 2m30s."""
    units = (("ms", 0.001), ("us", 1e-6), ("µs", 1e-6), ("ns", 1e-9), ("h", 3600.0), ("m", 60.0), ("s", 1.0))
    total, rest = 0.0, s.strip()
    if not rest:
        raise OcipyError('--interval: empty duration')
    while rest:
        i = 0
        while i < len(rest) and (rest[i].isdigit() or rest[i] == "."):
            i += 1
        if i == 0:
            raise OcipyError(f'--interval: invalid duration "{s}"')
        num = rest[:i]
        rest = rest[i:]
        for u, mult in units:
            if rest.startswith(u):
                total += float(num) * mult
                rest = rest[len(u):]
                break
        else:
            raise OcipyError(f'--interval: invalid duration "{s}" (units: ns us ms s m h)')
    if total <= 0:
        raise OcipyError(f'--interval: duration must be positive: "{s}"')
    return total


def run(g: dict, p: dict) -> int:
    from ocipy.commands.pause import cgroup

    c = st.Container.load(g["root"], p["container_id"])
    if c.status() == st.STOPPED:
        raise OcipyError(f'container "{c.id}" is stopped')
    mgr = cgroup(c)
    out = sys.stdout

    def emit(kind: str, data) -> None:
        out.write(jsonlite.dumps({"type": kind, "id": c.id, "data": data}) + "\n")
        out.flush()

    if p.get("stats"):
        emit("stats", mgr.stats())
        return 0
    interval = parse_interval(p.get("interval") or "5s")
    last_oom = mgr.oom_events()
    while True:
        if c.status() == st.STOPPED or not mgr.exists():
            return 0
        emit("stats", mgr.stats())
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline:
            oom = mgr.oom_events()
            if any(oom.get(k, 0) > last_oom.get(k, 0) for k in oom):
                emit("oom", None)
            last_oom = oom
            time.sleep(min(0.2, interval))
            if c.status() == st.STOPPED:
                return 0
