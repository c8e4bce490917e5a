"""Checks of runtime-linux.md."""
from __future__ import annotations

from .framework import check, dump, expect, sections


@check("dev.symlinks", 'runtime-linux.md#runtimeLinuxDevSymbolicLinks: "runtimes MUST create the following symlinks if the source file exists after processing `mounts`"')
def dev_symlinks(ctx):
    """/dev/fd, /dev/stdin, /dev/stdout, /dev/stderr link to /proc/self/fd[/N]."""
    want = {"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
            "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"}
    out = ctx.run(dump(*[(p, f"readlink {p}") for p in want])).out
    got = sections(out)
    bad = [f"{p} -> {got.get(p, '?').strip() or 'missing'}" for p, t in want.items() if got.get(p, "").strip() != t]
    expect(not bad, "wrong or missing: " + ", ".join(bad))
