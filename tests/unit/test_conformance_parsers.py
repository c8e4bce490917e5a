"""Pure helpers of the conformance suite: mountinfo, /proc status, capabilities, limits,
sections, requirement strings, -k selection, runtime names, the report."""
from __future__ import annotations

import json
import re

import pytest

from conformance import report
from conformance.framework import (Check, Req, cap_mask, cap_names, find_mount, last_line, parse_limits,
                                   parse_mountinfo, parse_req, parse_status, sections, dump)
from conformance.runner import Result, runtime_names, select_checks

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / ro,relatime shared:1 - ext4 /dev/vda rw,discard
30 27 0:40 / /cf\\040dir rw,nosuid,nodev,noexec master:3 - tmpfs tmpfs rw,sync,size=1024k,mode=700
31 30 0:41 / /cf\\040dir rw unbindable - tmpfs tmpfs rw
"""


def test_mountinfo():
    ms = parse_mountinfo(MOUNTINFO)
    assert [m.point for m in ms] == ["/proc", "/", "/cf dir", "/cf dir"]
    root = find_mount(ms, "/")
    assert "ro" in root.opts and root.peer("shared") == "shared:1" and root.fstype == "ext4"
    top = find_mount(ms, "/cf dir")
    assert top.mount_id == 31 and top.parent == 30 and top.peer("unbindable") == "unbindable"
    assert ms[2].super_opts >= {"sync", "size=1024k", "mode=700"} and ms[2].peer("master") == "master:3"
    assert find_mount(ms, "/nowhere") is None


def test_status_caps_limits():
    st = parse_status("Name:\tsh\nUmask:\t0027\nCapBnd:\t0000000000000021\nNoNewPrivs:\t1\n")
    assert st["Umask"] == "0027" and st["NoNewPrivs"] == "1"
    assert cap_names(int(st["CapBnd"], 16)) == ["CAP_CHOWN", "CAP_KILL"]
    assert cap_mask(["CAP_CHOWN", "KILL"]) == 0x21
    assert cap_mask(["CAP_CHECKPOINT_RESTORE"]) == 1 << 40
    lim = parse_limits("Limit                     Soft Limit           Hard Limit           Units\n"
                       "Max open files            512                  1000                 files\n"
                       "Max core file size        unlimited            unlimited            bytes\n")
    assert lim == {"Max open files": ("512", "1000"), "Max core file size": ("unlimited", "unlimited")}


def test_sections_and_dump():
    assert sections("junk\n==a==\n1\n2\n==b/c==\n\n==d==") == {"a": "1\n2", "b/c": "", "d": ""}
    assert dump(("x", "cat f")) == "echo ==x==; cat f 2>&1"


def test_parse_req():
    r = parse_req('config.md#configProcess: "This value MUST be an absolute path."')
    assert r == Req("config.md", "configProcess", "This value MUST be an absolute path.")
    assert parse_req('a.md#b: "to \\"up\\" now"').quote == 'to "up" now'
    with pytest.raises(ValueError):
        parse_req("config.md: no anchor")


def test_last_line():
    assert last_line('x\ntime="2026" level=error msg="runc create failed: \\"x\\" bad"\n') == 'runc create failed: "x" bad'
    assert last_line("\n\n") == "" and last_line("a\nb\n") == "b"


def _c(cid, file="runtime.md"):
    return Check(cid, (Req(file, "anchor", "q MUST"),), None, "conformance.checks_runtime")


def test_select_checks():
    cs = {c.id: c for c in (_c("state.a"), _c("hooks.b", "config.md"), _c("hooks.c", "config.md"))}
    assert [c.id for c in select_checks(cs, [])] == ["state.a", "hooks.b", "hooks.c"]
    assert [c.id for c in select_checks(cs, ["hooks"])] == ["hooks.b", "hooks.c"]
    assert [c.id for c in select_checks(cs, ["hooks", "not hooks.c"])] == ["hooks.b"]
    assert [c.id for c in select_checks(cs, ["config.md"])] == ["hooks.b", "hooks.c"]


def test_runtime_names():
    assert runtime_names(["/usr/local/bin/ocipy", "/usr/sbin/runc", "x=/usr/sbin/runc", "/other/runc"]) == [
        ("ocipy", "/usr/local/bin/ocipy"), ("runc", "/usr/sbin/runc"), ("x", "/usr/sbin/runc"), ("runc2", "/other/runc")]


def test_report_table_and_json():
    checks = [_c("state.a"), _c("hooks.b", "config.md")]
    results = [Result("state.a", "r1", "PASS"), Result("state.a", "r2", "FAIL", "it broke"),
               Result("hooks.b", "r1", "SKIP", "no host support"), Result("hooks.b", "r2", "PASS")]
    t = report.table(checks, ["r1", "r2"], results, {"state.a": "MUST", "hooks.b": "SHOULD"})
    lines = t.splitlines()
    assert lines[0].split() == ["check", "level", "requirement", "r1", "r2"]
    assert lines[2].split() == ["state.a", "MUST", "runtime.md#anchor", "PASS", "FAIL"]
    assert lines[3].split() == ["hooks.b", "SHOULD", "config.md#anchor", "SKIP", "PASS"]
    assert re.search(r"^  r2 +FAIL +state\.a: it broke$", t, re.M)
    assert re.search(r"^  r1 +SKIP +hooks\.b: no host support$", t, re.M)
    assert "r1: 1 PASS, 0 FAIL, 1 SKIP, 0 ERROR of 2 checks" in t
    assert [r.check for r in report.failures(results, "r2")] == ["state.a"]
    j = json.loads(report.as_json(checks, ["r1", "r2"], results))
    assert j["checks"][0]["results"]["r2"] == {"status": "FAIL", "reason": "it broke", "seconds": 0.0}
    assert j["checks"][1]["requirements"][0] == {"file": "config.md", "anchor": "anchor", "quote": "q MUST"}
