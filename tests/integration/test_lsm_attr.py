"""CVE-2025-52881 class: the LSM exec attribute (AppArmor profile, SELinux
label) is written through /proc after pivot_root, i.e. through a /proc the
container could have redirected. launcher.lsm.open_proc_attr must refuse an
attribute file that is a bind mount of something else (core_pattern...) or
a /proc that is not a procfs root. This host has no LSM to apply a label
with, so the opener is tested on its own, in a private mount namespace."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if os.geteuid() != 0:
    pytest.skip("root required (mount namespaces)", allow_module_level=True)

SCRIPT = r'''
import os, threading
from ocipy import syscalls as sc
from ocipy.launcher import lsm

def attempt(label):
    try:
        os.close(lsm.open_proc_attr("exec"))
        print(label, "opened")
    except OSError as e:
        print(label, "refused", e.errno)

attempt("plain")
sc.unshare(sc.CLONE_NEWNS)
sc.mount(None, "/", None, 0x4000 | 0x40000)  # MS_REC | MS_PRIVATE: nothing reaches the host
target = f"/proc/{os.getpid()}/task/{threading.get_native_id()}/attr/exec"
sc.mount("/proc/sys/kernel/core_pattern", target, None, 0x1000)  # MS_BIND
attempt("bind-over-attr")
sc.umount2(target)
attempt("unmounted-again")
sc.mount("tmpfs", "/proc", "tmpfs", 0)
os.makedirs("/proc/thread-self/attr")
open("/proc/thread-self/attr/exec", "w").close()
attempt("proc-is-tmpfs")
'''


def test_attr_opener_refuses_redirected_targets():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "PYTHONPATH": REPO}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:4] == [
        "plain opened", "bind-over-attr refused 18", "unmounted-again opened", "proc-is-tmpfs refused 18"]
