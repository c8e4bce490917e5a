"""The devices emulator: the spec's ordered rules as cgroup v1 applies them,
and the minimal transitions written to devices.allow/devices.deny."""
from __future__ import annotations

import pytest

from ocipy.cgroups import CgroupError
from ocipy.cgroups.devices import Emulator, Rule, normalize, transition

# runc's default device rules (specconv.AllowedDevices), after a deny-all
DEFAULT = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
]


def lines(rules):
    return [("allow " if r.allow else "deny ") + r.v1() for r in rules]


def test_normalize_defaults():
    rs = normalize([{"allow": True}, {"allow": False, "type": "c", "major": 1, "access": "wr"},
                    {"allow": True, "type": "b", "major": -1, "minor": 7, "access": ""}])
    assert rs == [Rule(True, "a"), Rule(False, "c", 1, -1, "rw"), Rule(True, "b", -1, 7, "rwm")]
    assert [r.v1() for r in rs] == ["a *:* rwm", "c 1:* rw", "b *:7 rwm"]


@pytest.mark.parametrize("bad,msg", [
    ({"allow": True, "type": "x"}, r"devices\[0\].type"),
    ({"allow": True, "type": "c", "access": "rwx"}, r"devices\[0\].access"),
    ({"allow": True, "type": "c", "major": 1 << 40}, r"devices\[0\].major"),
    ({"allow": True, "type": "c", "minor": -5}, r"devices\[0\].minor"),
])
def test_normalize_errors(bad, msg):
    with pytest.raises(CgroupError, match=msg):
        normalize([bad])


def test_new_cgroup_gets_deny_all_then_the_allows_like_runc():
    target = Emulator.of(normalize(DEFAULT), default_allow=False)
    fresh = Emulator.from_list("a *:* rwm\n")  # what a new v1 cgroup shows
    assert fresh.is_allow_all()
    assert lines(transition(fresh, target)) == [
        "deny a *:* rwm",
        # sorted by (major, minor, type), wildcards first
        "allow b *:* m", "allow c *:* m",
        "allow c 1:3 rwm", "allow c 1:5 rwm", "allow c 1:7 rwm", "allow c 1:8 rwm", "allow c 1:9 rwm",
        "allow c 5:0 rwm", "allow c 5:2 rwm", "allow c 10:200 rwm", "allow c 136:* rwm",
    ]


def test_update_of_an_allow_list_writes_only_the_difference():
    # no "deny a": a running container never loses its devices meanwhile
    current = Emulator.from_list("c 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\nb *:* m\n")
    target = Emulator.of(normalize([{"allow": False, "access": "rwm"},
                                    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                                    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"},
                                    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rw"},
                                    {"allow": True, "type": "b", "access": "m"}]), default_allow=False)
    assert lines(transition(current, target)) == [
        "deny c 1:5 wm", "deny c 136:* rwm", "allow c 10:200 rw",
    ]
    assert transition(target, target) == []


def test_rules_only_deny_on_an_empty_allow_list_like_runc():
    # runc starts the target from an empty allow-list: denies alone deny all
    e = Emulator.of(normalize([{"allow": False, "type": "c", "major": 1, "minor": 3}]), default_allow=False)
    assert not e.default_allow and e.exceptions == {}


def test_privileged_and_deny_list():
    e = Emulator.of(normalize([{"allow": True, "access": "rwm"}]), default_allow=False)
    assert e.is_allow_all()
    e = Emulator.of(normalize([{"allow": True, "access": "rwm"},
                               {"allow": False, "type": "b", "major": 8, "minor": 0, "access": "rwm"}]), False)
    assert e.default_allow and e.exceptions == {("b", 8, 0): "rwm"}
    # from an allow-list to a deny-list: the disruptive rule is needed
    cur = Emulator.from_list("c 1:3 rwm\n")
    assert lines(transition(cur, e)) == ["allow a *:* rwm", "deny b 8:0 rwm"]
    # from a deny-list: its exceptions are not listed by the kernel, reset
    assert lines(transition(Emulator.from_list("a *:* rwm\n"), e)) == ["allow a *:* rwm", "deny b 8:0 rwm"]


def test_a_rules_reset_whatever_their_other_fields():
    # the kernel ignores major/minor/access of an "a" line
    e = Emulator.of(normalize([{"allow": True, "type": "c", "major": 1, "minor": 3},
                               {"allow": False, "type": "a", "major": 1, "access": "r"}]), True)
    assert not e.default_allow and e.exceptions == {}


def test_access_is_merged_and_subtracted():
    e = Emulator.of(normalize([{"allow": False}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
                               {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "w"},
                               {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                               {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "wm"},
                               {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "r"},
                               {"allow": False, "type": "c", "major": 1, "minor": 7, "access": "r"}]), True)
    assert e.exceptions == {("c", 1, 3): "rw", ("c", 1, 5): "r"}


def test_punching_a_hole_in_a_wildcard_is_refused():
    rules = [{"allow": False}, {"allow": True, "type": "c", "major": 1, "access": "rwm"},
             {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"}]
    with pytest.raises(CgroupError, match=r"devices\[2\]: deny c 1:3 w cannot punch a hole in .*allow c 1:\* rwm"):
        Emulator.of(normalize(rules), True)


def test_from_list():
    e = Emulator.from_list("c 1:3 rwm\nb 8:* r\nc *:* m\n")
    assert not e.default_allow
    assert e.exceptions == {("c", 1, 3): "rwm", ("b", 8, -1): "r", ("c", -1, -1): "m"}
