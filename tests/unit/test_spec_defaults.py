"""default_spec() is `runc spec` (and `runc spec --rootless`) with ociVersion 1.3.0."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ocipy.spec.defaults import default_spec
from ocipy.spec.validate import check_rules, validate

RUNC = shutil.which("runc") or ("/usr/sbin/runc" if os.path.exists("/usr/sbin/runc") else None)


def runc_spec(tmp_path, *args) -> dict:
    if RUNC is None:
        pytest.skip("runc is not installed")
    subprocess.run([RUNC, "spec", *args], cwd=tmp_path, check=True, capture_output=True, timeout=30)
    return json.loads((tmp_path / "config.json").read_text())


def _same(ours: dict, runc: dict) -> None:
    assert ours["ociVersion"] == "1.3.0"
    ours = {**ours, "ociVersion": runc["ociVersion"]}
    assert ours == runc
    # Key order too: `ocipy spec` output should diff cleanly against runc's.
    assert json.dumps(ours, indent=1) == json.dumps(runc, indent=1)


def test_matches_runc_spec(tmp_path):
    _same(default_spec(), runc_spec(tmp_path))


def test_matches_runc_spec_rootless(tmp_path):
    _same(default_spec(rootless=True), runc_spec(tmp_path, "--rootless"))


def test_rootless_ids():
    cfg = default_spec(rootless=True, host_uid=1000, host_gid=1001)
    assert cfg["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert cfg["linux"]["gidMappings"] == [{"containerID": 0, "hostID": 1001, "size": 1}]
    assert "network" not in [ns["type"] for ns in cfg["linux"]["namespaces"]]
    assert "resources" not in cfg["linux"]


@pytest.mark.parametrize("rootless", [False, True])
def test_valid(rootless):
    cfg = default_spec(rootless)
    validate(cfg)
    check_rules(cfg)


def test_fresh_copies():
    a = default_spec()
    a["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    a["mounts"][0]["options"] = ["ro"]
    b = default_spec()
    assert "CAP_SYS_ADMIN" not in b["process"]["capabilities"]["bounding"]
    assert "options" not in b["mounts"][0]
    assert b["process"]["capabilities"]["bounding"] is not b["process"]["capabilities"]["effective"]
