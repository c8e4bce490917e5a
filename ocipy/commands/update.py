"""ocipy update: change a container's resources (runc's flags, or
--resources FILE|- with linux.resources JSON)."""
from __future__ import annotations

import os
import sys

from ocipy import jsonlite
from ocipy import state as st
from ocipy.errors import OcipyError


def parse_bytes(flag: str, s: str) -> int:
    """docker/go-units RAMInBytes as runc takes it: 1024, 512k, 64m, 1g, -1."""
    t = s.strip().lower()
    if t == "-1":
        return -1
    mult = 1
    for suffix, m in (("kb", 1 << 10), ("mb", 1 << 20), ("gb", 1 << 30), ("tb", 1 << 40), ("pb", 1 << 50),
                      ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("t", 1 << 40), ("p", 1 << 50),
                      ("b", 1)):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], m
            break
    try:
        v = float(t)
    except ValueError:
        raise OcipyError(f'{flag}: invalid size "{s}"') from None
    if v < 0:
        raise OcipyError(f'{flag}: invalid size "{s}"')
    return int(v * mult)


def parse_int(flag: str, s: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise OcipyError(f'{flag}: "{s}" is not an integer') from None


def resources_from_flags(p: dict) -> dict:
    res: dict = {}

    def put(group: str, key: str, value) -> None:
        res.setdefault(group, {})[key] = value

    if p.get("blkio_weight") is not None:
        put("blockIO", "weight", p["blkio_weight"])
    for flag, key, group in (("cpu_period", "period", "cpu"), ("cpu_quota", "quota", "cpu"),
                             ("cpu_share", "shares", "cpu"), ("cpu_rt_period", "realtimePeriod", "cpu"),
                             ("cpu_rt_runtime", "realtimeRuntime", "cpu")):
        if p.get(flag) is not None:
            put(group, key, parse_int("--" + flag.replace("_", "-"), p[flag]))
    if p.get("cpuset_cpus") is not None:
        put("cpu", "cpus", p["cpuset_cpus"])
    if p.get("cpuset_mems") is not None:
        put("cpu", "mems", p["cpuset_mems"])
    for flag, key in (("memory", "limit"), ("memory_reservation", "reservation"), ("memory_swap", "swap")):
        if p.get(flag) is not None:
            put("memory", key, parse_bytes("--" + flag.replace("_", "-"), p[flag]))
    if p.get("pids_limit") is not None:
        put("pids", "limit", p["pids_limit"])
    if p.get("l3_cache_schema") or p.get("mem_bw_schema"):
        raise OcipyError("--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported by ocipy")
    return res


def read_resources(path: str) -> dict:
    from ocipy.spec.validate import validate

    where = "stdin" if path == "-" else path
    try:
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    except OSError as e:
        raise OcipyError(f"--resources {where}: {os.strerror(e.errno)}") from None
    try:
        res = jsonlite.loads(data)
    except jsonlite.JSONError as e:
        raise OcipyError(f"--resources {where}: invalid JSON: {e}") from None
    validate(res, where, model="Resources")
    return res


def run(g: dict, p: dict) -> int:
    from ocipy import log
    from ocipy.commands.pause import cgroup

    res = read_resources(p["resources"]) if p.get("resources") else resources_from_flags(p)
    c = st.Container.load(g["root"], p["container_id"], lock=True)
    try:
        status = c.status()
        if status == st.STOPPED:
            raise OcipyError(f'cannot update container "{c.id}": it is stopped')
        mgr = cgroup(c)
        for w in mgr.apply(res):
            log.warn(w)
    finally:
        c.unlock()
    return 0
