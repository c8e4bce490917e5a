"""ocipy spec: write runc's default config.json (or --rootless) to a bundle."""
from __future__ import annotations

import os

from ocipy import jsonlite
from ocipy.errors import OcipyError


def run(g: dict, p: dict) -> int:
    from ocipy.spec.defaults import default_spec

    bundle = p.get("bundle") or "."
    if not os.path.isdir(bundle):
        raise OcipyError(f"--bundle {bundle}: no such directory")
    path = os.path.join(bundle, "config.json")
    if os.path.lexists(path):
        raise OcipyError(f"{path} exists: remove it first")
    data = jsonlite.dumps(default_spec(rootless=bool(p.get("rootless"))), indent="\t")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise OcipyError(f"{path}: {os.strerror(e.errno)}") from None
    with os.fdopen(fd, "w") as f:
        f.write(data)
    return 0
