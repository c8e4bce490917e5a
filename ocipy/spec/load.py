"""Load and check an OCI bundle (hot path: every create/run goes through here).

``load_bundle`` turns a bundle directory into a checked config, or one
ConfigError line naming the file and field at fault:

    bundle /x: no such directory
    /x/config.json: no such file
    /x/config.json: invalid JSON: Expecting value: line 3 column 5
    /x/config.json: process.user.uid: must be >= 0 (got -1)
    /x/config.json: ociVersion: unsupported version "2.0.0" (ocipy implements 1.x)
    /x/config.json: root.path: /x/rootfs: no such directory
    /x/config.json: hooks.prestart[0].path: must be an absolute path (got "hook.sh")

Errors name the config file by its full path: a user of containerd or
Podman has many bundles and needs to know which one.
"""
import posix

from ocipy.errors import ConfigError
from ocipy.jsonlite import JSONError, loads
from ocipy.pathlite import abspath as _abspath, join as _join, normpath as _normpath, \
    realpath as _realpath
from ocipy.spec.mounts import is_bind_mount
from ocipy.spec.validate import SpecError, check_rules, validate


def _strerror(e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if isinstance(e, IsADirectoryError):
        return "is a directory"
    return posix.strerror(e.errno) if e.errno else str(e)


def read_json_file(path: str, pipe_ok: bool = False) -> object:
    """Parse the JSON file at `path`; ConfigError `<path>: <why>` otherwise.

    Only a regular file is read: opening is non-blocking and the type is
    checked on the open fd, so a FIFO or a device named config.json is an
    error instead of a hang. With `pipe_ok` (exec --process, which runc
    reads from a pipe too: `--process <(...)`), a pipe is read to its end.
    """
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_NONBLOCK | posix.O_CLOEXEC)
    except OSError as e:
        raise ConfigError(f"{path}: {_strerror(e)}") from None
    try:
        fmt = posix.fstat(fd).st_mode & 0o170000  # S_IFMT
        if fmt == 0o040000:  # S_IFDIR
            raise ConfigError(f"{path}: is a directory")
        if pipe_ok and fmt == 0o010000:  # S_IFIFO
            posix.set_blocking(fd, True)
        elif fmt != 0o100000:  # S_IFREG
            raise ConfigError(f"{path}: not a regular file")
        chunks = []
        while True:
            chunk = posix.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        data = b"".join(chunks)
    except OSError as e:
        raise ConfigError(f"{path}: {_strerror(e)}") from None
    finally:
        posix.close(fd)
    try:
        return loads(data)
    except JSONError as e:
        raise ConfigError(f"{path}: invalid JSON: {e.msg}: line {e.lineno} column {e.colno}") from None


def _dir(path: str) -> str | None:
    """None if `path` is a directory (following symlinks), else why not."""
    try:
        st = posix.stat(path)
    except (OSError, ValueError) as e:
        if isinstance(e, FileNotFoundError):
            return "no such directory"
        return posix.strerror(e.errno) if isinstance(e, OSError) and e.errno else "invalid path"
    return None if st.st_mode & 0o170000 == 0o040000 else "not a directory"  # S_ISDIR


def load_bundle(bundle: str) -> tuple[dict, str, str]:
    """Read, validate and resolve ``<bundle>/config.json``.

    Returns ``(config, bundle_dir, rootfs)``:

    * ``bundle_dir``: the bundle as an absolute path with symlinks resolved
      (what runc records, as it takes it from getcwd() after chdir(bundle));
    * ``rootfs``: ``root.path`` resolved against the bundle, symlinks
      resolved, checked to be a directory ("A directory MUST exist at the
      path declared by the field");
    * ``config``: the parsed config, validated (structure and spec rules),
      in which ``root.path`` is ``rootfs`` and every relative ``source`` of
      a bind mount is made absolute against the bundle ("Path values for
      bind mounts are either absolute or relative to the bundle"). Those are
      the only differences from the file's content; see resolve_paths.

    Raises ConfigError (one line) for any problem with the bundle.
    """
    why = _dir(bundle)
    if why is not None:
        raise ConfigError(f"bundle {_abspath(bundle)}: {why}")
    bundle_dir = _realpath(bundle)
    config_path = _join(bundle_dir, "config.json")
    cfg = read_json_file(config_path)
    validate(cfg, config_path)
    check_rules(cfg, config_path)
    rootfs = resolve_rootfs(cfg, bundle_dir, config_path)
    return resolve_paths(cfg, bundle_dir, rootfs), bundle_dir, rootfs


def resolve_rootfs(cfg: dict, bundle_dir: str, filename: str = "config.json") -> str:
    """The absolute, symlink-free path of the container's root filesystem."""
    path = cfg["root"]["path"]
    if not path:
        raise SpecError(filename, ("root", "path"), "must not be empty")
    rootfs = _normpath(_join(bundle_dir, path))  # join keeps an absolute path
    why = _dir(rootfs)
    if why is not None:
        raise SpecError(filename, ("root", "path"), f"{rootfs}: {why}")
    return _realpath(rootfs)


def resolve_paths(cfg: dict, bundle_dir: str, rootfs: str) -> dict:
    """A copy of `cfg` with ``root.path`` set to `rootfs` and relative bind
    mount sources joined to `bundle_dir` (lexically cleaned, like runc's
    filepath.Join). `cfg` itself is not modified: the copy shares every
    object it does not change (copy-on-write of the top level, ``root``,
    ``mounts`` and the changed mounts only)."""
    out = dict(cfg)
    out["root"] = {**cfg["root"], "path": rootfs}
    mounts = cfg.get("mounts")
    if mounts:
        new = list(mounts)
        for i, m in enumerate(mounts):
            src = m.get("source")
            if src and not src.startswith("/") and is_bind_mount(m):
                new[i] = {**m, "source": _normpath(_join(bundle_dir, src))}
        out["mounts"] = new
    return out
