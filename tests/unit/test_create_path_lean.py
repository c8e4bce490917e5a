"""The create/run path's own modules (bundle loading, the plan, the stage
channel, seccomp) import neither os nor __future__, and what create calls in
them does not import os lazily either (see tests/unit/test_hotpath_lean.py
for why; ocipy.pathlite stands in for os.path)."""
import ast
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CREATE_PATH = ["ocipy.spec.load", "ocipy.spec.validate", "ocipy.spec.mounts", "ocipy.spec.defaults",
               "ocipy.launcher.plan", "ocipy.launcher.channel", "ocipy.launcher.trampoline",
               "ocipy.commands.run", "ocipy.seccomp"]
NOT_ON_CREATE_PATH = {"os", "posixpath", "_collections_abc", "__future__", "stat"}

# run in a fresh interpreter: import the modules, then call what create calls
EXERCISE = """
import posix, sys
from ocipy.spec.load import load_bundle
from ocipy.spec.defaults import default_spec
from ocipy.launcher import channel, plan
from ocipy import jsonlite, seccomp
tmp = sys.argv[1]
cfg = default_spec(rootless=True)
cfg["root"]["path"] = "rootfs"
cfg["mounts"].append({"destination": "/x", "type": "bind", "source": "src/../src", "options": ["rbind"]})
posix.mkdir(tmp + "/rootfs")
with open(tmp + "/config.json", "w") as f:
    f.write(jsonlite.dumps(cfg))
loaded, bundle, rootfs = load_bundle(tmp + "/./")
assert (bundle, rootfs) == (tmp, tmp + "/rootfs"), (bundle, rootfs)
assert loaded["mounts"][-1]["source"] == tmp + "/src"
p = plan.build(loaded, bundle, rootfs, "c1")
assert p.where == tmp + "/config.json" and p.mounts[-1][1] == "/x"
assert plan.listen_fds() == 0
a, b = channel.pair()
a.send("ack", "x")
assert b.recv() == ("ack", "x")
a.close(); b.close()
f = seccomp.Filter(b"\\0" * 8, 0, False)
seccomp.save(f, tmp)
assert seccomp.from_state(tmp, {}, "w").bpf == f.bpf
print(" ".join(sorted(sys.modules)))
"""


def test_create_path_modules_import_no_os(tmp_path):
    code = f"import sys; sys.path.insert(0, {REPO!r}); " + "; ".join(f"import {m}" for m in CREATE_PATH) + "\n" + EXERCISE
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code, os.path.realpath(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = set(r.stdout.split())
    assert "ocipy.launcher.plan" in got
    assert not (got & NOT_ON_CREATE_PATH), sorted(got & NOT_ON_CREATE_PATH)


def test_seccomp_compiler_imports_no_os():
    """Its own imports only: ocipy.syscalls.seccomp, which it needs, is
    checked where it is converted."""
    with open(os.path.join(REPO, "ocipy", "seccomp", "compiler.py")) as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    assert not (names & NOT_ON_CREATE_PATH), sorted(names & NOT_ON_CREATE_PATH)
