"""ocipy.install_launcher: the lean launcher that container engines execute."""
from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import ocipy
from ocipy import install_launcher as il

REPO = Path(__file__).resolve().parents[2]

FAKE_MAIN = '''\
import json, sys
def main():
    print(json.dumps({
        "isolated": sys.flags.isolated,
        "no_site": sys.flags.no_site,
        "site_loaded": "site" in sys.modules,
        "argv": sys.argv[1:],
        "file": __file__,
        "path0": sys.path[0],
        "cached": __cached__,
    }))
    return int(sys.argv[1]) if sys.argv[1:2] and sys.argv[1].isdigit() else None
'''


def _fake_package(root: Path) -> Path:
    """A stand-in `ocipy` package whose main reports how it was started."""
    pkg = root / "ocipy"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "main.py").write_text(FAKE_MAIN)
    return root


def _run(launcher: Path, *args: str, cwd: Path, env: dict | None = None):
    return subprocess.run([str(launcher), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=30)


def test_content_mode_and_interpreter(tmp_path):
    dest = tmp_path / "bin" / "ocipy"
    bundle = tmp_path / "hot.bin"
    text = il.install(str(dest), compile_package=False, bundle_path=str(bundle))
    assert dest.read_text() == text
    lines = text.splitlines()
    assert len(lines) == 6
    # the hot bundle (tests/unit/test_hotbundle.py): built, loaded by lines 3-4
    assert bundle.is_file() and repr(str(bundle)) in lines[2]
    assert lines[2].startswith("try: exec(") and lines[3] == "except Exception: pass"
    assert lines[0].startswith("#!/") and lines[0].endswith(" -IS")
    interp = lines[0][2:-4]
    assert interp == os.path.realpath(interp), "shebang must name the binary, not a symlink"
    assert "/shims/" not in interp
    with open(interp, "rb") as f:
        assert f.read(4) == b"\x7fELF"
    assert lines[1].startswith("import sys; sys.path[0:0] = [")
    assert repr(str(REPO)) in lines[1]
    assert lines[4:] == ["from ocipy.main import main", "sys.exit(main())"]
    st = dest.stat()
    assert stat.S_IMODE(st.st_mode) == 0o755
    assert stat.S_ISREG(st.st_mode)
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (0, 0)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["ocipy"], "temporary file left behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "hot.bin"], "temporary file left behind"


def test_replaces_symlink_and_old_file_without_following(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    dest = tmp_path / "ocipy"
    dest.symlink_to(victim)
    il.install(str(dest), compile_package=False, bundle=False)
    assert victim.read_text() == "precious\n"
    assert not dest.is_symlink() and dest.read_text().startswith("#!")
    old_ino = dest.stat().st_ino
    il.install(str(dest), compile_package=False, bundle=False)
    assert dest.stat().st_ino != old_ino, "must be replaced by rename, not rewritten in place"


def test_launcher_runs_isolated_without_site(tmp_path):
    parent = _fake_package(tmp_path / "pkg")
    dest = tmp_path / "bin" / "ocipy"
    il.install(str(dest), parent=str(parent))
    # Something that would win if the environment or cwd could choose the code.
    evil = _fake_package(tmp_path / "evil")
    (evil / "ocipy" / "main.py").write_text("def main():\n    print('EVIL')\n")
    env = dict(os.environ, PYTHONPATH=str(evil), PYTHONHOME="/nonexistent")
    r = _run(dest, "a b", "--x", cwd=evil, env=env)
    assert r.returncode == 0, r.stderr
    import json

    out = json.loads(r.stdout)
    assert out["isolated"] == 1 and out["no_site"] == 1
    assert out["site_loaded"] is False
    assert out["argv"] == ["a b", "--x"]
    assert out["file"] == str(parent / "ocipy" / "main.py")
    assert out["path0"] == str(parent)
    # main()'s return value is the exit status
    assert _run(dest, "3", cwd=tmp_path).returncode == 3


def test_package_is_byte_compiled(tmp_path):
    parent = _fake_package(tmp_path / "pkg")
    sub = parent / "ocipy" / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text("X = 1\n")
    il.install(str(tmp_path / "ocipy-launcher"), parent=str(parent))
    for src in (parent / "ocipy").rglob("*.py"):
        assert Path(importlib.util.cache_from_source(str(src))).is_file(), src


def test_syntax_error_fails_and_writes_nothing(tmp_path):
    parent = _fake_package(tmp_path / "pkg")
    (parent / "ocipy" / "broken.py").write_text("def (:\n")
    dest = tmp_path / "ocipy-launcher"
    with pytest.raises(il.InstallError, match="byte-compiling"):
        il.install(str(dest), parent=str(parent))
    assert not dest.exists()


def test_refuses_a_shim_interpreter(tmp_path):
    shim = tmp_path / "python3"
    shim.write_text('#!/bin/sh\nexec python3 "$@"\n')
    shim.chmod(0o755)
    with pytest.raises(il.InstallError, match="not an ELF binary"):
        il.install(str(tmp_path / "ocipy"), interpreter=str(shim), compile_package=False)
    assert not (tmp_path / "ocipy").exists()


def test_refuses_a_directory_and_a_non_package(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(il.InstallError, match="is a directory"):
        il.install(str(tmp_path / "d"), compile_package=False)
    with pytest.raises(il.InstallError, match="not the ocipy package"):
        il.install(str(tmp_path / "x"), parent=str(tmp_path), compile_package=False)


def test_module_cli(tmp_path):
    dest = tmp_path / "ocipy"
    r = subprocess.run([sys.executable, "-m", "ocipy.install_launcher", "--no-compile", str(dest)],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert dest.read_text().splitlines()[-2] == "from ocipy.main import main"


@pytest.mark.skipif(not (REPO / "ocipy" / "main.py").exists(), reason="ocipy.main not written yet")
def test_real_launcher_version(tmp_path):
    dest = tmp_path / "ocipy"
    il.install(str(dest), bundle_path=str(tmp_path / "hot.bin"))
    r = _run(dest, "--version", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert ocipy.__version__ in r.stdout


def test_pick_interpreter_only_takes_a_working_same_version_build(tmp_path):
    """A candidate is taken only if it is the same minor version and imports
    ocipy's hot and rich paths; otherwise the installing interpreter stays."""
    import sys

    from ocipy import install_launcher as il

    parent = il.package_parent()
    default = il.real_interpreter()
    got = il.pick_interpreter(default, parent, il.dependency_paths(exclude=parent))
    assert got == default or got == os.path.realpath("/usr/bin/python%d.%d" % sys.version_info[:2])
    # an unimportable package dir: the probe fails, the default stays
    assert il.pick_interpreter(default, str(tmp_path), []) == default
