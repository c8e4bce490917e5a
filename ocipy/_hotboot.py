"""Boot code of the hot bundle: ocipy's modules, precompiled, in one file.

The bundle (built by ocipy/_hotbundle.py, which documents the format) starts
with marshal((code of this module, {"__name__": "__main__", "INDEX": ...})).
The launcher (ocipy/install_launcher.py) reads it with one read() and runs
`exec(code, that dict)` before anything of ocipy is imported: install()
puts a finder first on sys.meta_path that loads modules from the bundle.

Why: every module found on sys.path costs the import system ~170k
instructions more (FileFinder, stat calls, pyc header checks, all in Python
code); from the bundle it is a dict lookup, a stat, and open, fstat, pread,
close of the bundle (no fd stays open: none can reach a container, e.g. in
the --preserve-fds range). The few C extension modules of the stdlib that
hot paths import (_json...) are found at the file the build recorded, not
by searching sys.path (~0.2 ms each). The
launcher's own text is compiled on every call (~5k instructions a token), so
it stays a few tokens long and everything else lives here.

Never stale code: a module is taken from the bundle only while its source
file has the size and modification time (ns) recorded when the bundle was
built (a pyc is checked the same way, to the second); otherwise, and on any
error, find_spec() returns None and the normal import runs. The bundle as a
whole is ignored when it was built by another interpreter (magic number),
when this file changed since, or when the file was replaced since the
launcher read its start (build id); a module, when the file was replaced
since then (inode).

Kept small on purpose (it runs on every CLI call): the finder is a module
object with functions, not a class (a class statement costs more).
"""
import marshal
import posix
import sys

from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import MAGIC_NUMBER, ExtensionFileLoader

FORMAT = 3


def install(index: dict) -> None:
    """Put the finder first on sys.meta_path, unless the bundle is of another
    interpreter or format, this boot code changed since it was built, or the
    bundle file is no longer the one the index came from."""
    if index.get("format") != FORMAT or index.get("magic") != MAGIC_NUMBER:
        return
    root = index["root"]
    mtime_ns, size = index["boot"]
    st = posix.stat(root + "/ocipy/_hotboot.py")
    if st.st_mtime_ns != mtime_ns or st.st_size != size:
        return
    bundle = index["bundle"]
    fd = posix.open(bundle, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        build_id = index["id"]
        if posix.pread(fd, len(build_id), index["data"]) != build_id:
            return
        st = posix.fstat(fd)
    finally:
        posix.close(fd)
    ident = (st.st_dev, st.st_ino)
    table = index["modules"]
    tag = sys.implementation.cache_tag
    code_type = type(install.__code__)

    # the stdlib's extension files of the interpreter that built the bundle: this one's only
    exts = (index.get("extensions") or {}) if index.get("prefix") == sys.prefix else {}

    def find_spec(name, path=None, target=None):
        e = table.get(name)
        if e is None:
            x = exts.get(name)
            return None if x is None else ext_spec(name, x)
        rel, mtime_ns, size, offset, length = e.split(":")
        src = root + "/" + rel + ".py"
        try:
            st = posix.stat(src)
            if st.st_mtime_ns != int(mtime_ns) or st.st_size != int(size):
                return None  # edited since the bundle was built
            fd = posix.open(bundle, posix.O_RDONLY | posix.O_CLOEXEC)
            try:
                # the file the index came from, not one installed since
                st = posix.fstat(fd)
                if (st.st_dev, st.st_ino) != ident:
                    return None
                code = marshal.loads(posix.pread(fd, int(length), int(offset)))
            finally:
                posix.close(fd)
        except (OSError, ValueError, EOFError, TypeError):
            return None
        if type(code) is not code_type:
            return None
        d, _, base = rel.rpartition("/")
        is_pkg = base == "__init__"
        spec = ModuleSpec(name, finder, origin=src, loader_state=code, is_package=is_pkg)
        if is_pkg:
            spec.submodule_search_locations = [root + "/" + d]
        spec.has_location = True
        spec.cached = root + "/" + d + "/__pycache__/" + base + "." + tag + ".pyc"
        return spec

    def ext_spec(name, entry):
        """A C extension module of the stdlib at the file the build found
        (unchanged since: size and mtime), without the sys.path search."""
        origin, mtime_ns, size = entry.rsplit(":", 2)
        try:
            st = posix.stat(origin)
        except OSError:
            return None
        if st.st_mtime_ns != int(mtime_ns) or st.st_size != int(size):
            return None
        spec = ModuleSpec(name, ExtensionFileLoader(name, origin), origin=origin)
        spec.has_location = True
        return spec

    def create_module(spec):
        return None

    def exec_module(module) -> None:
        exec(module.__spec__.loader_state, module.__dict__)

    finder = type(sys)("ocipy._hotboot.finder")
    finder.find_spec = find_spec
    finder.create_module = create_module
    finder.exec_module = exec_module
    finder.bundle = bundle
    finder.table = table
    sys.meta_path.insert(0, finder)


if __name__ == "__main__":  # executed by the launcher, with the bundle's index
    install(INDEX)  # noqa: F821
