"""Device rules: the spec's linux.resources.devices, as the v1 kernel sees them.

The spec says "apply entries in the listed order", which is what cgroup v1's
devices.allow/devices.deny do. This module emulates that kernel state machine
(as runc's devices emulator, libcontainer/cgroups/devices/devices_emulator.go):

- a cgroup is either an allow-list (default deny, "exceptions" allowed) or a
  deny-list (default allow, exceptions denied);
- an "a" rule (any major/minor/access: the kernel ignores them) resets to
  allow-all ("allow a") or deny-all ("deny a") and drops every exception;
- any other rule adds an exception (same verdict as the rule's opposite of
  the default) or removes access from the exactly matching one.

What it is for:
- v1 `transition(current, target)`: the fewest writes to go from what
  devices.list shows to the target, so that `update` of a running container
  never passes through a deny-all moment (a blunt "deny a" + allows would
  make its open()s fail meanwhile). For a new cgroup (allow-all) this is
  exactly runc's "deny a" followed by the allow rules.
- v2: the target's exceptions, which all carry the same verdict, so the
  eBPF program (ebpf.py) can test them in any order before the default.

Like runc, it refuses to "punch a hole" in a wildcard exception (deny c 1:3
after allow c 1:*): v1 kernels silently ignore such a deny, which would leave
the device allowed against the user's intent.
"""
from ocipy.cgroups import CgroupError

WILDCARD = -1
_ACCESS = "rwm"


def _perms(s: str) -> str:
    return "".join(c for c in _ACCESS if c in s)


class Rule:
    """One device rule: allow, type ("a" | "c" | "b"), major, minor (-1: any),
    access (canonical subset of "rwm")."""

    __slots__ = ("access", "allow", "major", "minor", "type")

    def __init__(self, allow: bool, type: str, major: int = WILDCARD, minor: int = WILDCARD,
                 access: str = "rwm") -> None:
        self.allow, self.type, self.major, self.minor, self.access = allow, type, major, minor, _perms(access)

    def v1(self) -> str:
        """The line for devices.allow / devices.deny."""
        if self.type == "a":
            return "a *:* rwm"
        major = "*" if self.major == WILDCARD else str(self.major)
        minor = "*" if self.minor == WILDCARD else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"

    def key(self) -> tuple:
        return (self.type, self.major, self.minor)

    def __eq__(self, other) -> bool:
        return isinstance(other, Rule) and (self.allow, self.key(), self.access) == \
            (other.allow, other.key(), other.access)

    def __repr__(self) -> str:
        return f"Rule({'allow' if self.allow else 'deny'} {self.v1()})"


def normalize(rules: list, what: str = "linux.resources.devices") -> list:
    """The spec's device entries -> Rules (type absent: "a"; major/minor
    absent or -1: any; access absent or empty: "rwm", as crun and the kernel
    for a bare "a")."""
    out = []
    for i, r in enumerate(rules or ()):
        t = r.get("type") or "a"
        if t not in ("a", "c", "b"):
            raise CgroupError(f"{what}[{i}].type: {t!r} is not a, c or b")
        nums = []
        for k in ("major", "minor"):
            v = r.get(k)
            v = WILDCARD if v is None else v
            if v != WILDCARD and not 0 <= v < (1 << 31):
                raise CgroupError(f"{what}[{i}].{k}: {v} is out of range")
            nums.append(v)
        access = r.get("access") or "rwm"
        bad = set(access) - set(_ACCESS)
        if bad:
            raise CgroupError(f"{what}[{i}].access: {access!r} may only contain r, w and m")
        out.append(Rule(bool(r.get("allow")), t, nums[0], nums[1], access))
    return out


class Emulator:
    """The devices cgroup v1 state: default verdict + exceptions
    {(type, major, minor): access}."""

    __slots__ = ("default_allow", "exceptions")

    def __init__(self, default_allow: bool = False) -> None:
        self.default_allow = default_allow
        self.exceptions = {}

    @classmethod
    def of(cls, rules: list, default_allow: bool = True) -> "Emulator":
        """The state after applying `rules` to a cgroup in `default_allow`
        state (a new v1 cgroup allows everything)."""
        e = cls(default_allow)
        for i, r in enumerate(rules):
            e.apply(r, i)
        return e

    @classmethod
    def from_list(cls, text: str) -> "Emulator":
        """The state devices.list shows: "a *:* rwm" means allow-all (its
        deny exceptions are not listed by the kernel; transition() copes);
        else an allow-list of the lines."""
        e = cls(False)
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 3:
                continue
            t, mm, access = parts
            major, _, minor = mm.partition(":")
            e.apply(Rule(True, t, WILDCARD if major == "*" else int(major),
                         WILDCARD if minor == "*" else int(minor), access))
        return e

    def is_allow_all(self) -> bool:
        return self.default_allow and not self.exceptions

    def apply(self, r: Rule, index: int = -1) -> None:
        if r.type == "a":
            self.default_allow = r.allow
            self.exceptions = {}
            return
        if r.allow == self.default_allow:
            self._remove(r, index)
        else:
            k = r.key()
            self.exceptions[k] = _perms(self.exceptions.get(k, "") + r.access)

    def _remove(self, r: Rule, index: int) -> None:
        k = r.key()
        for partial in ((r.type, WILDCARD, r.minor), (r.type, r.major, WILDCARD), (r.type, WILDCARD, WILDCARD)):
            if partial == k:
                continue
            held = self.exceptions.get(partial, "")
            if set(held) & set(r.access):
                where = f"linux.resources.devices[{index}]" if index >= 0 else "devices"
                p = Rule(not r.allow, *partial, held)
                raise CgroupError(f"{where}: {'allow' if r.allow else 'deny'} {r.v1()} cannot punch a hole in "
                                  f"the earlier wildcard rule {'allow' if p.allow else 'deny'} {p.v1()} "
                                  "(cgroup v1 would ignore it)")
        left = "".join(c for c in self.exceptions.get(k, "") if c not in r.access)
        if left:
            self.exceptions[k] = left
        else:
            self.exceptions.pop(k, None)

    def ordered(self) -> list:
        """Exceptions sorted by (major, minor, type), wildcards first (runc)."""
        return sorted(self.exceptions.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))

    def rules(self) -> list:
        """Rules that build this state from an allow-list with no exceptions."""
        return transition(Emulator(False), self)


def transition(source: Emulator, target: Emulator) -> list:
    """The minimal rules turning `source` into `target` (runc's Transition):
    a disruptive "a" rule only if the default verdict changes or the source
    is a deny-list (whose exceptions devices.list does not show); then the
    dropped access of old exceptions, then the gained access of new ones."""
    out = []
    old = source.exceptions
    if source.default_allow or source.default_allow != target.default_allow:
        out.append(Rule(target.default_allow, "a"))
        old = {}
    for (t, major, minor), perms in sorted(old.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
        dropped = "".join(c for c in perms if c not in target.exceptions.get((t, major, minor), ""))
        if dropped:
            out.append(Rule(target.default_allow, t, major, minor, dropped))
    for (t, major, minor), perms in target.ordered():
        gained = "".join(c for c in perms if c not in old.get((t, major, minor), ""))
        if gained:
            out.append(Rule(not target.default_allow, t, major, minor, gained))
    return out
