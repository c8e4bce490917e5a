"""load_bundle: every failure is one ConfigError line naming the file and field."""
from __future__ import annotations

import copy
import json
import os

import pytest

from ocipy.errors import ConfigError
from ocipy.spec.defaults import default_spec
from ocipy.spec.load import load_bundle, read_json_file, resolve_paths


@pytest.fixture
def bundle(tmp_path):
    """A valid bundle: runc's default config and an empty rootfs."""
    b = tmp_path / "bundle"
    (b / "rootfs").mkdir(parents=True)
    write(b, default_spec())
    return b


def write(b, cfg) -> None:
    (b / "config.json").write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))


def error(b) -> str:
    with pytest.raises(ConfigError) as e:
        load_bundle(str(b))
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_valid_bundle(bundle):
    cfg, bdir, rootfs = load_bundle(str(bundle))
    assert bdir == str(bundle) and rootfs == str(bundle / "rootfs")
    assert cfg["root"] == {"path": rootfs, "readonly": True}
    assert cfg["process"]["args"] == ["sh"]


def test_relative_bundle_path_is_made_absolute(bundle, monkeypatch):
    monkeypatch.chdir(bundle.parent)
    _, bdir, rootfs = load_bundle("bundle")
    assert bdir == str(bundle) and rootfs == str(bundle / "rootfs")


def test_symlinks_to_bundle_and_rootfs_are_resolved(bundle, tmp_path):
    (tmp_path / "link").symlink_to(bundle)
    real_rootfs = tmp_path / "elsewhere"
    real_rootfs.mkdir()
    (bundle / "rootfs").rmdir()
    (bundle / "rootfs").symlink_to(real_rootfs)
    cfg, bdir, rootfs = load_bundle(str(tmp_path / "link"))
    assert bdir == str(bundle)
    assert rootfs == str(real_rootfs) == cfg["root"]["path"]


def test_absolute_root_path(bundle, tmp_path):
    other = tmp_path / "other-rootfs"
    other.mkdir()
    cfg = default_spec()
    cfg["root"]["path"] = str(other)
    write(bundle, cfg)
    assert load_bundle(str(bundle))[2] == str(other)


def test_missing_bundle(tmp_path):
    assert error(tmp_path / "nope") == f"bundle {tmp_path}/nope: no such directory"


def test_bundle_is_a_file(tmp_path):
    (tmp_path / "f").write_text("")
    assert error(tmp_path / "f") == f"bundle {tmp_path}/f: not a directory"


def test_missing_config(bundle):
    (bundle / "config.json").unlink()
    assert error(bundle) == f"{bundle}/config.json: no such file"


def test_dangling_config_symlink(bundle):
    (bundle / "config.json").unlink()
    (bundle / "config.json").symlink_to(bundle / "gone.json")
    assert error(bundle) == f"{bundle}/config.json: no such file"


def test_config_symlink_loop(bundle):
    (bundle / "config.json").unlink()
    (bundle / "config.json").symlink_to(bundle / "config.json")
    assert error(bundle) == f"{bundle}/config.json: Too many levels of symbolic links"


def test_config_is_a_directory(bundle):
    (bundle / "config.json").unlink()
    (bundle / "config.json").mkdir()
    assert error(bundle) == f"{bundle}/config.json: is a directory"


def test_config_is_a_fifo(bundle):
    """A FIFO would block a plain open()/read() forever."""
    (bundle / "config.json").unlink()
    os.mkfifo(bundle / "config.json")
    assert error(bundle) == f"{bundle}/config.json: not a regular file"


@pytest.mark.parametrize(
    "text,where",
    [
        ('{\n  "ociVersion":\n    ,\n}', "Expecting value: line 3 column 5"),
        ('{\n  "ociVersion": "1.0.0",\n    ,\n}', "Expecting property name enclosed in double quotes: line 3 column 5"),
        ("", "Expecting value: line 1 column 1"),
        ("{} x", "Extra data: line 1 column 4"),
        ('{"a" 1}', "Expecting ':' delimiter: line 1 column 6"),
    ],
)
def test_malformed_json(bundle, text, where):
    write(bundle, text)
    assert error(bundle) == f"{bundle}/config.json: invalid JSON: {where}"


def test_nan_is_not_json(bundle):
    # Python's json module would accept NaN; JSON (and Go) do not.
    write(bundle, '{"ociVersion": NaN}')
    assert error(bundle).startswith(f"{bundle}/config.json: invalid JSON: invalid constant NaN")


def test_invalid_utf8(bundle):
    (bundle / "config.json").write_bytes(b'{"ociVersion": "\xff"}')
    assert error(bundle) == f"{bundle}/config.json: invalid JSON: invalid UTF-8: line 1 column 1"


def test_not_an_object(bundle):
    write(bundle, "[1]")
    assert error(bundle) == f"{bundle}/config.json: must be a JSON object (got an array)"


def test_wrong_field(bundle):
    cfg = default_spec()
    cfg["process"]["user"]["uid"] = -1
    write(bundle, cfg)
    assert error(bundle) == f"{bundle}/config.json: process.user.uid: must be >= 0 (got -1)"


def test_unsupported_version(bundle):
    cfg = default_spec()
    cfg["ociVersion"] = "2.0.0"
    write(bundle, cfg)
    assert error(bundle) == f'{bundle}/config.json: ociVersion: unsupported version "2.0.0" (ocipy implements 1.x)'


def test_missing_rootfs(bundle):
    (bundle / "rootfs").rmdir()
    assert error(bundle) == f"{bundle}/config.json: root.path: {bundle}/rootfs: no such directory"


def test_rootfs_is_a_file(bundle):
    (bundle / "rootfs").rmdir()
    (bundle / "rootfs").write_text("")
    assert error(bundle) == f"{bundle}/config.json: root.path: {bundle}/rootfs: not a directory"


def test_empty_root_path(bundle):
    cfg = default_spec()
    cfg["root"]["path"] = ""
    write(bundle, cfg)
    assert error(bundle) == f"{bundle}/config.json: root.path: must not be empty"


def test_relative_hook_path(bundle):
    cfg = default_spec()
    cfg["hooks"] = {"createRuntime": [{"path": "/bin/true"}, {"path": "hook.sh"}]}
    write(bundle, cfg)
    assert error(bundle) == f'{bundle}/config.json: hooks.createRuntime[1].path: must be an absolute path (got "hook.sh")'


def test_bind_sources_resolved_against_bundle(bundle):
    cfg = default_spec()
    cfg["mounts"] += [
        {"destination": "/a", "source": "data/a", "options": ["bind"]},
        {"destination": "/b", "source": "./data/../b", "options": ["rbind", "ro"]},
        {"destination": "/c", "source": "c", "type": "bind"},
        {"destination": "/d", "source": "/abs/d", "options": ["bind"]},
        {"destination": "/e", "source": "tmpfs", "type": "tmpfs"},  # not a bind: a device name
        {"destination": "/f", "type": "tmpfs", "options": ["bind"]},  # no source: left alone
    ]
    write(bundle, cfg)
    out, _, _ = load_bundle(str(bundle))
    srcs = [m.get("source") for m in out["mounts"][-6:]]
    assert srcs == [f"{bundle}/data/a", f"{bundle}/b", f"{bundle}/c", "/abs/d", "tmpfs", None]
    # Everything else is exactly the file's content.
    orig = json.loads((bundle / "config.json").read_text())
    for m_out, m_in in zip(out["mounts"], orig["mounts"]):
        assert {k: v for k, v in m_out.items() if k != "source"} == {k: v for k, v in m_in.items() if k != "source"}
    assert {k: v for k, v in out.items() if k not in ("root", "mounts")} == {
        k: v for k, v in orig.items() if k not in ("root", "mounts")
    }


def test_resolve_paths_does_not_modify_its_input():
    cfg = default_spec()
    cfg["mounts"].append({"destination": "/a", "source": "a", "options": ["bind"]})
    before = copy.deepcopy(cfg)
    out = resolve_paths(cfg, "/bundle", "/bundle/rootfs")
    assert cfg == before
    assert out["mounts"][-1]["source"] == "/bundle/a" and out["root"]["path"] == "/bundle/rootfs"
    assert out["mounts"][0] is cfg["mounts"][0]  # unchanged parts are shared


def test_read_json_file(tmp_path):
    p = tmp_path / "process.json"
    p.write_text('{"cwd": "/"}')
    assert read_json_file(str(p)) == {"cwd": "/"}
    with pytest.raises(ConfigError, match=r"process.json: no such file$"):
        read_json_file(str(tmp_path / "nope" / "process.json"))


def test_errors_leave_nothing_behind(bundle):
    """Loading is read-only: the bundle is the same before and after, valid or not."""
    before = sorted(os.listdir(bundle))
    load_bundle(str(bundle))
    write(bundle, "{")
    error(bundle)
    assert sorted(os.listdir(bundle)) == before


LEAN_LOAD = r"""
import sys
sys.path.insert(0, REPO)
from ocipy.errors import ConfigError
from ocipy.spec.load import load_bundle
try:
    load_bundle(BUNDLE)
except ConfigError as e:
    print(e)
"""


@pytest.mark.parametrize("text,where", [("{", "line 1 column 2"), ('{"a" 1}', "line 1 column 6")])
def test_malformed_json_lean_path(bundle, text, where):
    """Same as test_malformed_json, in a fresh `python -I -S` where `json`
    has not been imported, as in the real CLI."""
    import subprocess
    import sys

    write(bundle, text)
    repo = str(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    r = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"REPO = {repo!r}; BUNDLE = {str(bundle)!r}\n" + LEAN_LOAD],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.startswith(f"{bundle}/config.json: invalid JSON: ") and r.stdout.rstrip().endswith(where)
