"""os.path's join/isdir/exists/lexists on `posix` alone, for the hot paths
(state, exec): `import os` costs ~0.9 ms there (tests/unit/test_hotpath_lean.py)."""
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
