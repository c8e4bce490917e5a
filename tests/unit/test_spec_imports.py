"""The hot-path spec modules stay lean: no typing, re, json, pydantic...

Checked two ways, in a fresh interpreter (-I -S: no site, no user paths):
`python -X importtime` on import, and sys.modules after exercising the
code paths a create goes through (success and failure), so that a lazy
import inside a function cannot sneak in either.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

LEAN = [
    "ocipy.spec.load",
    "ocipy.spec.validate",
    "ocipy.spec._table",
    "ocipy.spec.mounts",
    "ocipy.spec.caps",
    "ocipy.spec.env",
    "ocipy.spec.rlimits",
]
FORBIDDEN = {"typing", "re", "json", "pydantic", "dataclasses", "enum", "inspect", "pathlib", "datetime"}


def _importtime(modules: list[str], isolated: bool = True) -> list[str]:
    code = f"import sys; sys.path.insert(0, {str(REPO)!r}); import " + ", ".join(modules)
    flags = ["-I", "-S"] if isolated else []  # pydantic lives in site-packages
    r = subprocess.run(
        [sys.executable, "-X", "importtime", *flags, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    names = []
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                names.append(name)
    return names


def _forbidden(names: list[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in FORBIDDEN)


def test_lean_modules_import_nothing_heavy():
    names = _importtime(LEAN)
    assert set(LEAN) <= set(names)  # the parse works: our modules are listed
    assert _forbidden(names) == []


def test_the_check_detects_heavy_imports():
    """Negative control: the same check flags the rich models."""
    assert {"pydantic", "typing", "re"} <= {n.split(".")[0] for n in _forbidden(_importtime(["ocipy.spec.models"], isolated=False))}


EXERCISE = r"""
import os, sys
sys.path.insert(0, REPO)
from ocipy.errors import ConfigError
from ocipy.spec import load, mounts, caps, env, rlimits, validate
from ocipy.spec.defaults import default_spec
from ocipy.jsonlite import dumps

d = TMP
os.mkdir(os.path.join(d, "rootfs"))
cfg = default_spec()
cfg["mounts"].append({"destination": "/a", "source": "a", "options": ["rbind", "rro", "rnoatime"]})
cfg["linux"]["sysctl"] = {"a.b": "1"}
with open(os.path.join(d, "config.json"), "w") as f:
    f.write(dumps(cfg))
c, b, r = load.load_bundle(d)
for m in c["mounts"]:
    mounts.parse_mount_options(m.get("options") or [])
mounts.propagation_flags("rslave")
last = caps.read_last_cap()
for s in caps.SETS:
    caps.mask_to_names(caps.caps_to_mask(c["process"]["capabilities"].get(s, []), last, s, warn=lambda m: None))
caps.merge(c["process"]["capabilities"], ["CAP_KILL"], ["CAP_CHOWN"])
env.lookup_path(env.resolve_env(c["process"]["env"]))
rlimits.parse_rlimits(c["process"]["rlimits"])

def fails(f):
    try:
        f()
    except ConfigError as e:
        return str(e)
    raise AssertionError("no error")

bad = [
    {**cfg, "ociVersion": "2.0.0"},
    {**cfg, "process": {**cfg["process"], "user": {"uid": -1, "gid": 0}}},
    {**cfg, "linux": {**cfg["linux"], "rootfsPropagation": "x", "timeOffsets": {"x": {}}}},
    {**cfg, "hooks": {"prestart": [{"path": "rel"}]}},
    {**cfg, "process": {**cfg["process"], "rlimits": [{"type": "RLIMIT_X", "soft": 1, "hard": 1}]}},
    {**cfg, "root": {"path": "nope"}},
    {**cfg, "process": {**cfg["process"], "env": ["X"]}},
    {**cfg, "process": {**cfg["process"], "rlimits": [{"type": "x", "soft": 1, "hard": 1}]}},
]
for b_ in bad:
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(dumps(b_))
    fails(lambda: load.load_bundle(d))
with open(os.path.join(d, "config.json"), "w") as f:
    f.write("[1,]")  # malformed JSON (see test_spec_load.test_malformed_json_lean_path)
fails(lambda: load.load_bundle(d))
fails(lambda: load.load_bundle(d + "/nope"))
fails(lambda: caps.caps_to_mask(["CAP_X"], last))
fails(lambda: mounts.propagation_flags("x"))
print(" ".join(sorted(sys.modules)))
"""


def test_exercised_hot_path_imports_nothing_heavy(tmp_path):
    r = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"REPO = {str(REPO)!r}; TMP = {str(tmp_path)!r}\n" + EXERCISE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    loaded = r.stdout.split()
    assert "ocipy.spec.load" in loaded
    assert _forbidden(loaded) == []


def test_table_module_is_cheap_to_import():
    """The generated table is a literal: importing it runs no code beyond
    building the constants (no functions, no loops)."""
    import ast

    tree = ast.parse((REPO / "ocipy" / "spec" / "_table.py").read_text())
    kinds = {type(n).__name__ for n in tree.body}
    assert kinds <= {"Expr", "Assign"}
