"""Build and check the hot bundle: every module of the ocipy package, compiled
from its source, in one file that the launcher loads from (ocipy/_hotboot.py).

    python -m ocipy._hotbundle build [BUNDLE]   (default: bundle_path())
    python -m ocipy._hotbundle check [BUNDLE]   exit 1 if a module is stale

The bundle is a cache derived from the sources, like the __pycache__ files
beside it, and checked the same way: the launcher takes a module from it only
while the module's source has the size and mtime (ns) recorded here, and
falls back to the normal import otherwise (a stale or missing bundle is
slower, never wrong). `python -m ocipy.install_launcher` rebuilds it, with
the launcher's own interpreter (the code objects are that interpreter's).

Modules that import a rich library at their top level (typer, pydantic,
argparse...: never on the hot path) are left out; the others are all in.

File format:
    marshal((code of ocipy/_hotboot.py, {"__name__": "__main__", "INDEX": index}))
      the launcher reads the first HEADER_MAX bytes and execs it; the index:
      {"format": _hotboot.FORMAT, "magic": the interpreter's MAGIC_NUMBER (as
       in a .pyc), "root": the directory holding ocipy/, "bundle": this
       file's path, "boot": (mtime_ns, size) of _hotboot.py, "id": a random
       build id, "data": where it is repeated, "modules": {name:
       "path below root without .py:mtime_ns:size:offset:length"},
       "extensions": {name: "path:mtime_ns:size"} for the stdlib extension
       modules of EXTENSIONS (their file, found once here: the import system
       would search sys.path for it on every call, ~0.2 ms for _json),
       "prefix": sys.prefix of the building interpreter (the extensions are
       used only by an interpreter of the same prefix)}
    the build id again (at "data"), then each module's marshal(code) at its
      offset (one string per module: cheaper to unmarshal than a tuple)
Install time only: this module may import what it likes.
"""
from __future__ import annotations

import importlib.util
import marshal
import os
import sys

from ocipy import _hotboot

PACKAGE = "ocipy"
HEADER_MAX = 65536  # what the launcher reads of the bundle
# C extension modules (not built in) the hot paths import: jsonlite's _json
# (every command), resource and _ctypes (create, the Python exec stage)
EXTENSIONS = ("_json", "resource", "_ctypes")


def package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def bundle_path(pkg_dir: str | None = None) -> str:
    """<package>/__pycache__/_hotbundle.<cache tag>.bin"""
    pkg_dir = pkg_dir or package_dir()
    return os.path.join(pkg_dir, "__pycache__", f"_hotbundle.{sys.implementation.cache_tag}.bin")


def sources(pkg_dir: str) -> dict[str, tuple[str, bool]]:
    """module name -> (source path, is_package) for every module of the
    package: *.py in directories that are packages (have __init__.py)."""
    found = {}
    for root, dirs, files in os.walk(pkg_dir):
        dirs[:] = sorted(d for d in dirs if os.path.isfile(os.path.join(root, d, "__init__.py")))
        rel = os.path.relpath(root, pkg_dir)
        prefix = PACKAGE if rel == "." else PACKAGE + "." + rel.replace(os.sep, ".")
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            if name == "__init__.py":
                found[prefix] = (path, True)
            else:
                found[prefix + "." + name[:-3]] = (path, False)
    return found


def _stat(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


def _read_stable(path: str) -> tuple[bytes, int, int] | None:
    """(source, mtime_ns, size), or None when the file changed while read."""
    before = _stat(path)
    with open(path, "rb") as f:
        data = f.read()
    if _stat(path) != before or len(data) != before[1]:
        return None
    return data, before[0], before[1]


def compile_source(data: bytes, path: str):
    """Exactly what the import system compiles (SourceLoader.source_to_code)."""
    return compile(data, path, "exec", dont_inherit=True)


# A module importing one of these at its top level is never on the hot path.
RICH = frozenset(("typer", "click", "pydantic", "typing", "argparse", "importlib", "compileall", "sysconfig",
                  "subprocess", "pathlib", "json", "re"))


def is_rich(data: bytes, path: str) -> bool:
    import ast

    for node in ast.parse(data, path).body:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(n.split(".")[0] in RICH for n in names):
            return True
    return False


def build(dest: str | None = None, pkg_dir: str | None = None) -> dict:
    """Write the bundle for the running interpreter (atomically: tmp + rename,
    mode 0644). Returns the index."""
    pkg_dir = os.path.abspath(pkg_dir or package_dir())
    root = os.path.dirname(pkg_dir)
    dest = dest or bundle_path(pkg_dir)
    boot_src = os.path.join(pkg_dir, "_hotboot.py")
    got = _read_stable(boot_src)
    if got is None:
        raise OSError(f"{boot_src} changed while being read")
    boot_code = compile_source(got[0], boot_src)
    index = {"format": _hotboot.FORMAT, "magic": importlib.util.MAGIC_NUMBER, "root": root,
             "bundle": os.path.abspath(dest), "boot": (got[1], got[2]), "id": os.urandom(16)}
    blobs = []
    for name, (path, _is_pkg) in sources(pkg_dir).items():
        got = _read_stable(path)
        if got is None:
            continue  # being edited: the normal import will load it
        data, mtime_ns, size = got
        try:
            if is_rich(data, path):
                continue
            code = compile_source(data, path)
        except SyntaxError:
            continue  # the normal import reports it
        rel = os.path.relpath(path, root)[:-3]
        if ":" in rel:
            continue
        blobs.append((name, rel, mtime_ns, size, marshal.dumps(code)))
    index["extensions"], index["prefix"] = extensions(), sys.prefix
    # the offsets are stored in the index, whose length depends on them:
    # lay out until the header's length is stable
    base = 0
    while True:
        index["data"] = base
        off, modules = base + len(index["id"]), {}
        for name, rel, mtime_ns, size, blob in blobs:
            modules[name] = f"{rel}:{mtime_ns}:{size}:{off}:{len(blob)}"
            off += len(blob)
        index["modules"] = modules
        header = marshal.dumps((boot_code, {"__name__": "__main__", "INDEX": index}))
        if len(header) == base:
            break
        base = len(header)
    if len(header) > HEADER_MAX:
        raise ValueError(f"hot bundle header of {len(header)} bytes: more than the {HEADER_MAX} the launcher reads")
    _write_atomic(dest, header + index["id"] + b"".join(b[-1] for b in blobs))
    return index


def extensions() -> dict:
    """{name: "path:mtime_ns:size"} of the EXTENSIONS that are files for
    this interpreter (a built-in one needs no entry)."""
    from importlib.machinery import ExtensionFileLoader

    out = {}
    for name in EXTENSIONS:
        spec = importlib.util.find_spec(name)
        if spec is None or not isinstance(spec.loader, ExtensionFileLoader) or ":" in (spec.origin or ":"):
            continue
        mtime_ns, size = _stat(spec.origin)
        out[name] = f"{spec.origin}:{mtime_ns}:{size}"
    return out


def _u32(n: int) -> bytes:
    return n.to_bytes(4, "little")


def _write_atomic(dest: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = f"{dest}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        os.rename(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_index(path: str) -> tuple[object, dict]:
    """(boot code, index) of a bundle file."""
    with open(path, "rb") as f:
        boot, g = marshal.loads(f.read(HEADER_MAX))
    return boot, g["INDEX"]


def stale(path: str | None = None, pkg_dir: str | None = None) -> list[str]:
    """What in the bundle the launcher would not use: modules whose source
    changed or was removed since the build, and new modules; the whole
    bundle ("*: ...") when missing, of another interpreter or format, or
    older than its boot code."""
    pkg_dir = os.path.abspath(pkg_dir or package_dir())
    path = path or bundle_path(pkg_dir)
    try:
        _boot, index = read_index(path)
    except (OSError, ValueError, EOFError, TypeError, KeyError) as e:
        return [f"*: {path}: {e}"]
    if index.get("magic") != importlib.util.MAGIC_NUMBER or index.get("format") != _hotboot.FORMAT:
        return [f"*: {path}: built for another interpreter or format"]
    root = index["root"]
    boot_src = os.path.join(root, "ocipy", "_hotboot.py")
    try:
        if _stat(boot_src) != tuple(index["boot"]):
            return [f"*: {boot_src} changed since the bundle was built"]
    except OSError:
        return [f"*: {boot_src} is gone"]
    out = []
    mods = index["modules"]
    for name, entry in sorted(mods.items()):
        rel, mtime_ns, size, _off, _len = entry.split(":")
        try:
            if _stat(os.path.join(root, rel + ".py")) != (int(mtime_ns), int(size)):
                out.append(name)
        except OSError:
            out.append(name)
    for name, entry in sorted((index.get("extensions") or {}).items()):
        origin, mtime_ns, size = entry.rsplit(":", 2)
        try:
            if _stat(origin) != (int(mtime_ns), int(size)):
                out.append(name)
        except OSError:
            out.append(name)
    for name, (p, _pkg) in sorted(sources(pkg_dir).items()):
        if name not in mods:
            got = _read_stable(p)
            if got is None or not is_rich(got[0], p):
                out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("build", "check") or len(argv) > 2:
        print("usage: python -m ocipy._hotbundle build|check [BUNDLE]", file=sys.stderr)
        return 2
    path = argv[1] if len(argv) > 1 else None
    if argv[0] == "build":
        index = build(path)
        print(f"{path or bundle_path()}: {len(index['modules'])} modules")
        return 0
    bad = stale(path)
    for b in bad:
        print(f"stale: {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
