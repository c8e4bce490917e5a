"""Run the checks against one or more runtimes; results as plain data."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass

from .framework import Ctx, Fail, Runtime, Skip, build_rootfs


@dataclass
class Result:
    check: str
    runtime: str
    status: str      # PASS FAIL SKIP ERROR
    reason: str = ""
    seconds: float = 0.0


def select_checks(checks: dict, filters) -> list:
    """-k FILTER: a check is kept when any filter is a substring of its id, its module or one
    of its requirements; `not X` excludes."""
    out = []
    for c in checks.values():
        hay = " ".join([c.id, c.module] + [str(r) for r in c.reqs])
        keep = True
        pos = [f for f in filters or () if not f.startswith("not ")]
        neg = [f[4:] for f in filters or () if f.startswith("not ")]
        if pos and not any(f in hay for f in pos):
            keep = False
        if any(f in hay for f in neg):
            keep = False
        if keep:
            out.append(c)
    return out


def runtime_names(specs: list[str]) -> list[tuple[str, str]]:
    """--runtime PATH or NAME=PATH -> [(name, path)], names made unique."""
    out, seen = [], {}
    for s in specs:
        name, _, path = s.partition("=") if "=" in s and not s.startswith("/") else ("", "", s)
        name = name or os.path.basename(path.rstrip("/")) or "runtime"
        if name in seen:
            seen[name] += 1
            name = f"{name}{seen[name]}"
        else:
            seen[name] = 1
        out.append((name, path))
    return out


def mounts_under(path: str) -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            p = line.split()[4]
            if p == path or p.startswith(path + "/"):
                out.append(p)
    return out


def cgroups_named(prefix: str, depth: int = 6) -> list[str]:
    """Cgroup directories whose name starts with `prefix` (the ids and paths of this run)."""
    from .checks_config_linux import cgroup_mounts
    out = []
    for m in set(cgroup_mounts().values()):
        for root, dirs, _ in os.walk(m):
            if root[len(m):].count("/") >= depth:
                dirs[:] = []
                continue
            out += [os.path.join(root, d) for d in dirs if d.startswith(prefix)]
    return sorted(out)


def safe_remove(path: str) -> str | None:
    """Remove a work tree, never across a mount: returns why not, or None."""
    left = mounts_under(path)
    for p in reversed(left):
        subprocess.run(["umount", "-l", p], capture_output=True)
    left = mounts_under(path)
    if left:
        return f"mounts left under {path}: {left}"
    for _ in range(5):  # a process of a just-killed container may still be writing
        subprocess.run(["rm", "-rf", "--one-file-system", "--", path], capture_output=True)
        if not os.path.lexists(path):
            return None
        time.sleep(0.2)
    return f"could not remove {path}"


def run_checks(runtimes: list[tuple[str, str]], checks: list, progress=None,
               workdir: str | None = None, keep: bool = False) -> tuple[list[Result], list[str]]:
    """Returns (results, problems) where problems are leftovers found at cleanup."""
    results: list[Result] = []
    problems: list[str] = []
    base = workdir or tempfile.mkdtemp(prefix="oci-conformance-")
    os.chmod(base, 0o755)  # a user namespace's root must reach the bundles
    tag = format(os.getpid() % 46656, "x")
    try:
        template = os.path.join(base, "template-rootfs")
        build_rootfs(template)
        for name, path in runtimes:
            root = os.path.join(base, f"root-{name}")
            os.makedirs(root)
            os.makedirs(os.path.join(base, name))
            ctx = Ctx(Runtime(name, path, root), base, template, tag)
            for c in checks:
                t0 = time.monotonic()
                try:
                    c.func(ctx)
                    r = Result(c.id, name, "PASS")
                except Fail as e:
                    r = Result(c.id, name, "FAIL", str(e))
                except Skip as e:
                    r = Result(c.id, name, "SKIP", str(e))
                except Exception as e:  # a bug of the check itself: shown, never hidden
                    tb = traceback.extract_tb(e.__traceback__)[-1]
                    r = Result(c.id, name, "ERROR", f"{type(e).__name__}: {e} ({os.path.basename(tb.filename)}:{tb.lineno})")
                finally:
                    left = ctx.cleanup()
                    ctx.created.clear()
                r.seconds = time.monotonic() - t0
                if left:
                    problems.append(f"{name}: {c.id} left containers {left}")
                results.append(r)
                if progress:
                    progress(r)
        problems += [f"cgroup left behind: {d}" for d in cgroups_named(f"cf{tag}-")]
    finally:
        if not keep:
            why = safe_remove(base)
            if why:
                problems.append(why)
    return results, problems
