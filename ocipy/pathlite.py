"""os.path (and os.makedirs) on `posix` alone, for the hot paths (state,
exec, create, run): `import os` costs ~0.8 ms there (_collections_abc,
posixpath, stat, os.environ; tests/unit/test_hotpath_lean.py). Each
function behaves as its os/os.path namesake for str paths
(tests/unit/test_pathlite.py compares them)."""
import posix


def join(a: str, b: str) -> str:
    """os.path.join of two parts."""
    if b.startswith("/"):
        return b
    return a + b if not a or a.endswith("/") else a + "/" + b


def isdir(path: str) -> bool:
    try:
        return posix.stat(path).st_mode & 0o170000 == 0o040000
    except (OSError, ValueError):
        return False


def exists(path: str) -> bool:
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True


def lexists(path: str) -> bool:
    try:
        posix.lstat(path)
    except (OSError, ValueError):
        return False
    return True


def dirname(p: str) -> str:
    """os.path.dirname."""
    i = p.rfind("/") + 1
    head = p[:i]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head


def _split(p: str):
    """os.path.split."""
    i = p.rfind("/") + 1
    head, tail = p[:i], p[i:]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head, tail


def basename(p: str) -> str:
    """os.path.basename."""
    return p[p.rfind("/") + 1:]


def normpath(path: str) -> str:
    """os.path.normpath: '.', '..' and repeated slashes folded, lexically."""
    if not path:
        return "."
    initial = 1 if path.startswith("/") else 0
    if initial and path.startswith("//") and not path.startswith("///"):
        initial = 2  # POSIX leaves a leading '//' alone
    comps = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp != ".." or (not initial and not comps) or (comps and comps[-1] == ".."):
            comps.append(comp)
        elif comps:
            comps.pop()
    path = "/" * initial + "/".join(comps)
    return path or "."


def abspath(path: str) -> str:
    """os.path.abspath."""
    if not path.startswith("/"):
        path = join(posix.getcwd(), path)
    return normpath(path)


def realpath(filename: str) -> str:
    """os.path.realpath (not strict): symlinks resolved, a missing tail
    kept as it is, a loop left unresolved where it starts."""
    path, _ = _joinrealpath("", filename, {})
    return abspath(path)


def _joinrealpath(path: str, rest: str, seen: dict):
    # posixpath._joinrealpath, for str
    if rest.startswith("/"):
        rest = rest[1:]
        path = "/"
    while rest:
        name, _, rest = rest.partition("/")
        if not name or name == ".":
            continue
        if name == "..":
            if path:
                path, name = _split(path)
                if name == "..":
                    path = join(join(path, ".."), "..")
            else:
                path = ".."
            continue
        newpath = join(path, name)
        try:
            st = posix.lstat(newpath)
        except OSError:
            is_link = False
        else:
            is_link = st.st_mode & 0o170000 == 0o120000
        if not is_link:
            path = newpath
            continue
        if newpath in seen:
            path = seen[newpath]
            if path is not None:
                continue  # already resolved
            return join(newpath, rest), False  # a loop: left as it is
        seen[newpath] = None  # not resolved yet
        path, ok = _joinrealpath(path, posix.readlink(newpath), seen)
        if not ok:
            return join(path, rest), False
        seen[newpath] = path
    return path, True


def makedirs(name: str, mode: int = 0o777, exist_ok: bool = False) -> None:
    """os.makedirs."""
    head, tail = name.rpartition("/")[0::2]
    if not tail:
        head, tail = head.rpartition("/")[0::2]
    if head and tail and not exists(head):
        try:
            makedirs(head, exist_ok=exist_ok)
        except FileExistsError:
            pass  # another process made it meanwhile
        if tail == ".":
            return
    try:
        posix.mkdir(name, mode)
    except OSError:
        if not exist_ok or not isdir(name):
            raise
