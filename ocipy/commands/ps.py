"""ocipy ps: the processes of a container, as runc prints them.

`--format json`: a JSON array of host pids (what containerd reads).
table: runs ps(1) with the given arguments (default -ef) and keeps the
header and the lines whose PID column is one of the container's.
"""
from __future__ import annotations

import sys

from ocipy import jsonlite
from ocipy import state as st
from ocipy.errors import OcipyError


def run(g: dict, p: dict) -> int:
    from ocipy.commands.kill import container_pids

    c = st.Container.load(g["root"], p["container_id"])
    status = c.status()
    pids = container_pids(c) if status != st.STOPPED else []
    if p.get("format") == "json":
        sys.stdout.write(jsonlite.dumps(pids) + "\n")
        return 0
    import subprocess

    args = list(p.get("ps_args") or []) or ["-ef"]
    try:
        out = subprocess.run(["ps"] + args, capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        raise OcipyError("ps: the ps command is not installed (apt-get install procps)") from None
    except subprocess.CalledProcessError as e:
        raise OcipyError(f"ps {' '.join(args)}: {e.stderr.strip() or e}") from None
    lines = out.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    if "PID" not in header:
        raise OcipyError(f"ps {' '.join(args)}: no PID column in its output")
    col = header.index("PID")
    want = set(pids)
    sys.stdout.write(lines[0] + "\n")
    for line in lines[1:]:
        f = line.split()
        if len(f) > col and f[col].isdigit() and int(f[col]) in want:
            sys.stdout.write(line + "\n")
    return 0
