"""The hot bundle (ocipy/_hotbundle.py, ocipy/_hotboot.py): derived from the
sources, used by the launcher, and never a source of stale code."""
from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ocipy import _hotbundle as hb
from ocipy import install_launcher as il

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "ocipy"

# prints, for each module it imports, where it came from and what it says
FAKE_MAIN = '''\
import sys
def main():
    import ocipy.mod_a, ocipy.mod_c, ocipy.sub.mod_b
    out = []
    for name in ("ocipy", "ocipy.main", "ocipy.mod_a", "ocipy.mod_c", "ocipy.sub", "ocipy.sub.mod_b"):
        m = sys.modules[name]
        out.append("%s %s %s %s" % (name, m.__loader__.__name__ if hasattr(m.__loader__, "__name__")
                                     else type(m.__loader__).__name__, m.__file__, getattr(m, "VALUE", "-")))
    import posix
    # no fd of the bundle stays open (it could reach a container)
    fds = []
    for fd in posix.listdir("/proc/self/fd"):
        try:
            fds.append(posix.readlink("/proc/self/fd/" + fd))
        except OSError:  # the listdir's own fd
            pass
    out.append("fds " + " ".join(f for f in fds if f.endswith(".bin")))
    if len(sys.argv) > 1 and sys.argv[1] == "replaced":
        # the bundle replaced (a reinstall) after the index was read
        posix.rename(sys.argv[2], sys.meta_path[0].bundle)
        import ocipy.mod_d
        out.append("mod_d %s %s" % (type(ocipy.mod_d.__loader__).__name__, ocipy.mod_d.VALUE))
    print("\\n".join(out))
'''


def _fake(root: Path) -> Path:
    pkg = root / "ocipy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "main.py").write_text(FAKE_MAIN)
    (pkg / "mod_a.py").write_text("VALUE = 'a1'\n")
    (pkg / "mod_c.py").write_text("VALUE = 'c1'\n")
    (pkg / "mod_d.py").write_text("VALUE = 'd1'\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "mod_b.py").write_text("VALUE = 'b1'\n")
    (pkg / "rich.py").write_text("import typer\n")
    for f in ("_hotboot.py", "_hotbundle.py"):
        shutil.copy(PKG / f, pkg / f)
    return root


def _run(launcher: Path, *args: str) -> dict:
    r = subprocess.run([str(launcher), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        name, *rest = line.split()
        out[name] = rest
    return out


def _touch_edit(path: Path, text: str, later_ns: int = 2_000_000_000) -> None:
    """Write text, the mtime `later_ns` after the old one (a .pyc is checked
    to the second: an edit within the same second and of the same size
    would make the normal import itself load stale code from __pycache__)."""
    st = path.stat()
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + later_ns))


def test_bundle_holds_exactly_the_compiled_sources(tmp_path):
    """Every module of the package that is not rich is in the bundle, and
    its code object equals what the import system compiles from the source."""
    dest = tmp_path / "bundle.bin"
    index = hb.build(str(dest), str(PKG))
    boot, idx = hb.read_index(str(dest))
    assert idx["magic"] == __import__("importlib.util").util.MAGIC_NUMBER
    assert boot == hb.compile_source((PKG / "_hotboot.py").read_bytes(), str(PKG / "_hotboot.py"))
    mods = index["modules"]
    want = {n for n, (p, _) in hb.sources(str(PKG)).items() if not hb.is_rich(Path(p).read_bytes(), p)}
    assert set(mods) == want
    assert {"ocipy.main", "ocipy.state", "ocipy.cli.parse", "ocipy.launcher.stages"} <= set(mods)
    assert "ocipy.cli.app" not in mods  # typer: never on the hot path
    data = dest.read_bytes()
    assert data[idx["data"]:idx["data"] + 16] == idx["id"]
    for name, entry in mods.items():
        rel, _mtime, _size, off, length = entry.split(":")
        src = REPO / (rel + ".py")
        code = marshal.loads(data[int(off):int(off) + int(length)])
        assert code == hb.compile_source(src.read_bytes(), str(src)), name
    assert hb.stale(str(dest), str(PKG)) == [] or all(
        # another helper may be editing a file right now: then it is reported
        not n.startswith("*") for n in hb.stale(str(dest), str(PKG)))


def test_launcher_loads_from_the_bundle_and_never_stale_code(tmp_path):
    parent = _fake(tmp_path / "pkg")
    dest = tmp_path / "bin" / "ocipy"
    bundle = tmp_path / "hot.bin"
    text = il.install(str(dest), parent=str(parent), bundle_path=str(bundle))
    assert str(bundle) in text and bundle.is_file()
    assert "ocipy.rich" not in hb.read_index(str(bundle))[1]["modules"]

    out = _run(dest)
    for name in ("ocipy", "ocipy.main", "ocipy.mod_a", "ocipy.mod_c", "ocipy.sub", "ocipy.sub.mod_b"):
        assert out[name][0] == "ocipy._hotboot.finder", (name, out[name])
    assert out["ocipy.mod_a"][1:] == [str(parent / "ocipy" / "mod_a.py"), "a1"]
    assert out["ocipy.sub"][1] == str(parent / "ocipy" / "sub" / "__init__.py")
    assert hb.stale(str(bundle), str(parent / "ocipy")) == []

    # an edited module comes from its source; the others still from the bundle
    _touch_edit(parent / "ocipy" / "mod_a.py", "VALUE = 'a2'\n")
    out = _run(dest)
    assert out["ocipy.mod_a"][0] == "SourceFileLoader" and out["ocipy.mod_a"][2] == "a2"
    assert out["ocipy.sub.mod_b"][0] == "ocipy._hotboot.finder"
    assert hb.stale(str(bundle), str(parent / "ocipy")) == ["ocipy.mod_a"]

    # the same size, a new mtime: detected
    _touch_edit(parent / "ocipy" / "sub" / "mod_b.py", "VALUE = 'b2'\n")
    out = _run(dest)
    assert out["ocipy.sub.mod_b"][0] == "SourceFileLoader" and out["ocipy.sub.mod_b"][2] == "b2"
    # the same content, 1 ms later: the bundle is checked to the nanosecond
    _touch_edit(parent / "ocipy" / "mod_c.py", "VALUE = 'c1'\n", later_ns=1_000_000)
    assert _run(dest)["ocipy.mod_c"][0] == "SourceFileLoader"
    assert "ocipy.mod_c" in hb.stale(str(bundle), str(parent / "ocipy"))
    il.install(str(dest), parent=str(parent), bundle_path=str(bundle))

    assert out["fds"] == []
    # the bundle replaced since the launcher read the index: no module is
    # read from the new file (even one that looks the same)
    other = tmp_path / "other.bin"
    other.write_bytes(bundle.read_bytes())
    out = _run(dest, "replaced", str(other))
    assert out["mod_d"] == ["SourceFileLoader", "d1"]
    il.install(str(dest), parent=str(parent), bundle_path=str(bundle))

    # the boot code changed: the whole bundle is ignored
    _touch_edit(parent / "ocipy" / "_hotboot.py", (parent / "ocipy" / "_hotboot.py").read_text() + "\n")
    out = _run(dest)
    assert all(v[0] == "SourceFileLoader" for k, v in out.items() if k.startswith("ocipy")), out
    assert hb.stale(str(bundle), str(parent / "ocipy"))[0].startswith("*:")

    # rebuilt: used again
    il.install(str(dest), parent=str(parent), bundle_path=str(bundle))
    assert _run(dest)["ocipy.mod_a"][0] == "ocipy._hotboot.finder"


def test_missing_corrupt_or_foreign_bundle_falls_back(tmp_path):
    parent = _fake(tmp_path / "pkg")
    dest = tmp_path / "ocipy"
    bundle = tmp_path / "hot.bin"
    il.install(str(dest), parent=str(parent), bundle_path=str(bundle))
    good = bundle.read_bytes()
    for damage in (b"", b"garbage" * 100, good[:len(good) // 3], None):
        if damage is None:
            bundle.unlink()
        else:
            bundle.write_bytes(damage)
        out = _run(dest)
        assert out["ocipy.mod_a"][0] == "SourceFileLoader" and out["ocipy.mod_a"][2] == "a1"
    # another interpreter's bundle (magic number)
    code, g = marshal.loads(good)
    rest = good[g["INDEX"]["data"]:]
    g["INDEX"]["magic"] = b"\0\0\r\n"
    bundle.write_bytes(marshal.dumps((code, g)) + rest)
    assert _run(dest)["ocipy.mod_a"][0] == "SourceFileLoader"


def test_module_cli_check(tmp_path):
    parent = _fake(tmp_path / "pkg")
    bundle = tmp_path / "hot.bin"
    code = (f"import sys; sys.path.insert(0, {str(parent)!r}); from ocipy import _hotbundle as h; "
            "sys.exit(h.main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "build", str(bundle)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-c", code, "check", str(bundle)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
    _touch_edit(parent / "ocipy" / "mod_d.py", "VALUE = 'd2'\n")
    (parent / "ocipy" / "mod_new.py").write_text("")
    r = subprocess.run([sys.executable, "-c", code, "check", str(bundle)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout.split() == ["stale:", "ocipy.mod_d", "stale:", "ocipy.mod_new"], r.stdout


_EXT_PROBE = '''\
import marshal, sys
code, g = marshal.loads(open(sys.argv[1], "rb").read(65536))
idx = g["INDEX"]
if sys.argv[2] == "foreign":
    idx["prefix"] = "/elsewhere"
elif sys.argv[2] == "changed":
    origin, mtime, size = idx["extensions"]["_json"].rsplit(":", 2)
    idx["extensions"]["_json"] = "%s:%d:%s" % (origin, int(mtime) + 1, size)
exec(code, g)
sys.path[:] = []  # no search could find it now: only the bundle's entry
try:
    import _json
except ImportError:
    print("not-found")
else:
    print(type(_json.__loader__).__name__, _json.__file__)
'''


def test_extension_modules_are_found_at_the_recorded_file(tmp_path):
    """_json (every hot command) is loaded from the file the build found,
    without the sys.path search; never for an interpreter of another prefix,
    nor once the file changed (then the normal import runs)."""
    if "_json" in sys.builtin_module_names:
        import pytest

        pytest.skip("_json is built into this interpreter")
    dest = tmp_path / "bundle.bin"
    index = hb.build(str(dest), str(PKG))
    origin = index["extensions"]["_json"].rsplit(":", 2)[0]
    import _json

    assert origin == _json.__file__ and index["prefix"] == sys.prefix
    probe = tmp_path / "probe.py"
    probe.write_text(_EXT_PROBE)

    def run(mode):
        r = subprocess.run([sys.executable, "-I", "-S", str(probe), str(dest), mode],
                           capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()
    assert run("ok") == f"ExtensionFileLoader {origin}"
    assert run("foreign") == "not-found"
    assert run("changed") == "not-found"
    assert hb.stale(str(dest), str(PKG)) == [] or "_json" not in hb.stale(str(dest), str(PKG))
