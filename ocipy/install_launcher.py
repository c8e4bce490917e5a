"""Install the lean `ocipy` launcher that containerd, Docker and Podman execute.

    python3 -m ocipy.install_launcher [DEST]      (default: /usr/local/bin/ocipy)

A container engine starts the runtime's CLI once per operation, so the entry
point's own cost is paid on every `create`, `start`, `kill` and `delete`.
The console script that pip generates runs with `site` and imports `re`
(16.8 ms for a script that does nothing, against 7.8 ms for the same
interpreter under `-I -S`, measured on the project's VM). The launcher written
here is six lines:

    #!/real/interpreter -IS
    import sys; sys.path[0:0] = ['<dir holding the ocipy package>']; sys.path += [<site-packages>]
    try: exec(*__import__('marshal').loads(open('<hot bundle>', 'rb').read(65536)))
    except Exception: pass
    from ocipy.main import main
    sys.exit(main())

- The hot bundle (ocipy/_hotbundle.py, ocipy/_hotboot.py): the package's
  modules precompiled in one file, built here with the launcher's own
  interpreter; lines 3-4 put its finder first on sys.meta_path, which saves
  the import system's per-module search (~170k instructions a module) and
  takes a module only while its source is unchanged since the build. A
  missing or broken bundle leaves the normal import. The launcher's text is
  compiled on every call (~5k instructions a token): it stays this short.

- The shebang names the real interpreter binary (realpath of sys.executable,
  checked to be an ELF file): never a pyenv shim or a wrapper script, which
  would cost a shell start and let PATH decide what runs as root.
- `-I` (isolated: no PYTHON* variables, no user site, no cwd or script dir on
  sys.path) keeps whatever environment the engine passes from choosing the
  code that runs as root; `-S` skips `site` and its .pth processing.
- Because `-S` also leaves site-packages off sys.path, the directories where
  the dependencies live (typer and pydantic, needed off the hot path) are
  appended: they are searched only after the standard library, and only
  for what the standard library does not have.
- The file is written to a temporary file and renamed over DEST (a symlink at
  DEST is replaced, never followed), mode 0755, owned by root when run as root.
- The package is byte-compiled so every module loads from a cached .pyc.
- The interpreter: the one running this, unless the system has another
  build of the same minor version that runs the launcher faster (measured
  here, e.g. Debian's /usr/bin/python3.11, built with PGO/LTO and without a
  shared libpython, starts ~20% faster than a pyenv build) and imports
  everything ocipy needs, the rich path (typer, pydantic) included: the hot
  path is stdlib-only, and same-minor builds share the bytecode cache and
  the C-extension ABI. `--interpreter PATH` chooses explicitly.

Install time only: this module may import what it likes.
"""
from __future__ import annotations

import argparse
import compileall
import os
import stat
import sys
import sysconfig

DEFAULT_DEST = "/usr/local/bin/ocipy"
# Linux reads at most this many bytes of a "#!" line (BINPRM_BUF_SIZE since 5.1).
_SHEBANG_MAX = 255


class InstallError(Exception):
    """Installation cannot proceed; str() is one line for the user."""


def real_interpreter(executable: str | None = None) -> str:
    """Absolute path of the real interpreter binary (not a shim, not a symlink)."""
    exe = executable if executable is not None else sys.executable
    if not exe:
        raise InstallError("cannot tell which interpreter runs this (sys.executable is empty)")
    path = os.path.realpath(exe)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise InstallError(f"interpreter {path}: {e.strerror}") from None
    if magic != b"\x7fELF":
        raise InstallError(
            f"interpreter {path} is not an ELF binary (a shim or wrapper script?): "
            "run this with the real python, e.g. "
            "$(python3 -c 'import sys; print(sys.executable)') -m ocipy.install_launcher"
        )
    if not os.access(path, os.X_OK):
        raise InstallError(f"interpreter {path} is not executable")
    return path


def package_parent() -> str:
    """The directory that holds the `ocipy` package (what goes on sys.path)."""
    import ocipy

    return os.path.dirname(os.path.dirname(os.path.abspath(ocipy.__file__)))


def dependency_paths(exclude: str) -> list[str]:
    """site-packages directories of the running interpreter (venv-aware)."""
    paths = []
    for key in ("purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p and os.path.isdir(p):
            p = os.path.abspath(p)
            if p not in paths and p != exclude:
                paths.append(p)
    return paths


def launcher_text(interpreter: str, parent: str, extra_paths: list[str], bundle: str | None = None) -> str:
    shebang = f"#!{interpreter} -IS"
    if len(shebang) > _SHEBANG_MAX or any(c.isspace() for c in interpreter):
        raise InstallError(
            f"interpreter path {interpreter!r} cannot be used in a #! line "
            f"(contains whitespace or is longer than {_SHEBANG_MAX - 5} characters)"
        )
    for p in [parent, *extra_paths]:
        if "\n" in p or "\r" in p:
            raise InstallError(f"path {p!r} contains a newline")
    line = f"import sys; sys.path[0:0] = [{parent!r}]"
    if extra_paths:
        line += f"; sys.path += {extra_paths!r}"
    boot = ""
    if bundle:
        if "\n" in bundle or "\r" in bundle:
            raise InstallError(f"path {bundle!r} contains a newline")
        # the hot bundle (ocipy/_hotbundle.py): its boot code installs the
        # finder; a missing or broken bundle leaves the normal import
        boot = (f"try: exec(*__import__('marshal').loads(open({bundle!r}, 'rb').read(65536)))\n"
                "except Exception: pass\n")
    return f"{shebang}\n{line}\n{boot}from ocipy.main import main\nsys.exit(main())\n"


def write_atomically(dest: str, text: str, mode: int = 0o755) -> None:
    """Write text to dest via a temporary file in the same directory + rename."""
    dest = os.path.abspath(dest)
    d, name = os.path.split(dest)
    if os.path.isdir(dest) and not os.path.islink(dest):
        raise InstallError(f"{dest} is a directory")
    os.makedirs(d, mode=0o755, exist_ok=True)
    tmp = os.path.join(d, f".{name}.tmp-{os.getpid()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:
        os.unlink(tmp)  # a leftover of a killed run with our pid
        fd = os.open(tmp, flags, 0o600)
    try:
        try:
            data = text.encode()
            while data:
                data = data[os.write(fd, data):]
            if os.geteuid() == 0:
                os.fchown(fd, 0, 0)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def byte_compile(pkg_dir: str) -> None:
    """Compile every module of the package into __pycache__ (quietly)."""
    if not compileall.compile_dir(pkg_dir, quiet=1):
        raise InstallError(f"byte-compiling {pkg_dir} failed (a syntax error? see above)")


def writable_by_others(paths: list[str]) -> list[str]:
    """Those of paths that group or others may write."""
    bad = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            bad.append(p)
    return bad


def _start_ms(interps: list[str], runs: int = 21) -> list[float]:
    """Start-up time of each interpreter (`-IS -c pass`): runs interleaved,
    so that load from other processes hits all alike, and the fastest run
    of each (the least disturbed by that load)."""
    import subprocess
    import time

    best = [float("inf")] * len(interps)
    for _ in range(runs):
        for i, interp in enumerate(interps):
            t = time.perf_counter()
            subprocess.run([interp, "-IS", "-c", "pass"], check=True)
            best[i] = min(best[i], time.perf_counter() - t)
    return [b * 1000 for b in best]


def pick_interpreter(default: str, parent: str, extra_paths: list[str]) -> str:
    """The faster of `default` and a system build of the same minor version
    that can import ocipy's hot path and its rich path."""
    import subprocess

    ver = "%d.%d" % sys.version_info[:2]
    cand = os.path.realpath(f"/usr/bin/python{ver}")
    if not os.path.isfile(cand) or cand == os.path.realpath(default):
        return default
    probe = (f"import sys; sys.path[0:0] = [{parent!r}]; sys.path += {extra_paths!r}; "
             "assert '%d.%d' % sys.version_info[:2] == " + repr(ver) + "; "
             "import ocipy.main, ocipy.launcher.stages, ocipy.commands.state, ocipy.cli.app")
    try:
        real_interpreter(cand)
        subprocess.run([cand, "-IS", "-c", probe], check=True, capture_output=True, timeout=60)
    except (InstallError, OSError, subprocess.SubprocessError):
        return default
    t_cand, t_default = _start_ms([cand, default])
    return cand if t_cand < t_default else default


def build_bundle(interp: str, parent: str, dest: str | None = None) -> str | None:
    """Build the hot bundle (ocipy/_hotbundle.py) with the launcher's own
    interpreter, whose code objects it holds. Its path, or None when the
    package has no bundle support or the build failed (the launcher then
    imports normally: slower, same code). dest: default
    <package>/__pycache__/_hotbundle.<cache tag>.bin."""
    import subprocess

    if not os.path.isfile(os.path.join(parent, "ocipy", "_hotbundle.py")):
        return None
    code = (f"import sys; sys.path.insert(0, {parent!r}); from ocipy import _hotbundle as h; "
            f"p = {dest!r} or h.bundle_path(); h.build(p); print(p)")
    try:
        r = subprocess.run([interp, "-IS", "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        print(f"install_launcher: warning: hot bundle not built: {e}", file=sys.stderr)
        return None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        print(f"install_launcher: warning: hot bundle not built: {last}", file=sys.stderr)
        return None
    return r.stdout.strip().splitlines()[-1]


def install(
    dest: str = DEFAULT_DEST,
    *,
    interpreter: str | None = None,
    parent: str | None = None,
    extra_paths: list[str] | None = None,
    compile_package: bool = True,
    pick: bool = False,
    bundle: bool = True,
    bundle_path: str | None = None,
) -> str:
    """Install the launcher at dest; returns its text. Raises InstallError."""
    interp = real_interpreter(interpreter)
    parent = os.path.abspath(parent) if parent is not None else package_parent()
    pkg_dir = os.path.join(parent, "ocipy")
    if not os.path.isfile(os.path.join(pkg_dir, "__init__.py")):
        raise InstallError(f"{pkg_dir} is not the ocipy package (no __init__.py)")
    if extra_paths is None:
        extra_paths = dependency_paths(exclude=parent)
    if pick and interpreter is None:
        interp = pick_interpreter(interp, parent, extra_paths)
    if compile_package:
        byte_compile(pkg_dir)
    text = launcher_text(interp, parent, extra_paths, build_bundle(interp, parent, bundle_path) if bundle else None)
    write_atomically(dest, text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python3 -m ocipy.install_launcher",
        description="Install the lean ocipy launcher (python -I -S, no site, no re).",
    )
    ap.add_argument("dest", nargs="?", default=DEFAULT_DEST, help=f"where to write it (default {DEFAULT_DEST})")
    ap.add_argument("--no-compile", action="store_true", help="do not byte-compile the package")
    ap.add_argument("--interpreter", help="the interpreter for the launcher (default: this one, or a "
                    "faster system build of the same version)")
    args = ap.parse_args(argv)
    try:
        parent = package_parent()
        text = install(args.dest, parent=parent, compile_package=not args.no_compile,
                       interpreter=args.interpreter, pick=True)
    except (InstallError, OSError) as e:
        print(f"install_launcher: {e}", file=sys.stderr)
        return 1
    pkg_dir = os.path.join(parent, "ocipy")
    print(f"installed {args.dest} -> {text.split()[0][2:]} -IS, ocipy from {parent}")
    if not os.path.exists(os.path.join(pkg_dir, "main.py")) and not os.path.isdir(
        os.path.join(pkg_dir, "main")
    ):
        print(f"install_launcher: warning: {pkg_dir}/main.py does not exist yet: the launcher "
              "will fail until it does", file=sys.stderr)
    tree = [parent, pkg_dir]
    for root, dirs, files in os.walk(pkg_dir):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        tree += [os.path.join(root, x) for x in dirs + files if not x.endswith(".pyc")]
    bad = writable_by_others(tree)
    if bad:
        print(f"install_launcher: warning: {len(bad)} path(s) of the package are writable by "
              f"group or others (code that runs as root), e.g. {bad[0]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
