"""ocipy features: the Features structure (features.md), listing only what
this build really implements. Derived from the tables the launcher itself
uses (mount options, capabilities, namespaces), so it cannot claim more."""
from __future__ import annotations

import sys

from ocipy import SPEC_VERSION, __version__, jsonlite

# mount options recognised by the parser but not implemented yet: not claimed
_NOT_YET = {"tmpcopyup"}


def features() -> dict:
    from ocipy.launcher import lsm, plan
    from ocipy.seccomp import compiler as seccomp
    from ocipy.spec import caps, mounts
    from ocipy.syscalls import NAMESPACES

    opts = sorted(set(mounts.KNOWN_OPTIONS) - _NOT_YET)
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": opts,
        "linux": {
            "namespaces": sorted(NAMESPACES),
            "capabilities": sorted(caps.CAPS, key=caps.CAPS.get),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": True},
            "seccomp": seccomp.supported(),  # probed: what this kernel and libseccomp really do
            "memoryPolicy": {"modes": sorted(plan.MPOL_MODES, key=plan.MPOL_MODES.get),
                             "flags": sorted(plan.MPOL_FLAGS, key=plan.MPOL_FLAGS.get)},
            "apparmor": {"enabled": lsm.apparmor_enabled()},  # applied where the host runs it
            "selinux": {"enabled": lsm.selinux_enabled()},
            "intelRdt": {"enabled": False},  # refused: no resctrl support (launcher.plan)
            "mountExtensions": {"idmap": {"enabled": True}},  # bind mounts (launcher.idmap)
            "netDevices": {"enabled": True},  # launcher.netdev
        },
        "annotations": {"org.ocipy.version": __version__,
                        **({"io.github.seccomp.libseccomp.version": v} if (v := seccomp.libseccomp_version()) else {})},
    }


def run(g: dict, p: dict) -> int:
    sys.stdout.write(jsonlite.dumps(features(), indent=4) + "\n")
    return 0
