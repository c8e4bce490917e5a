"""ocipy.syscalls on its _ctypes-only FFI gives what ctypes gives."""
import ctypes
import errno
import os

import pytest

from ocipy import syscalls as sc
from ocipy.errors import SysError
from ocipy.syscalls import _ffi

_libc = ctypes.CDLL(None, use_errno=True)


def test_syscall_returns_long_and_errno():
    assert sc._syscall(39) == os.getpid()  # x86_64 getpid; aarch64 differs
    assert sc._syscall(39) == _libc.syscall(39)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers of x86_64")
def test_negative_and_wide_arguments_survive():
    # close_range(2**32-1, 2**32-1): last fd as unsigned int, must not error
    sc.close_range(0xFFFFFFFF, 0xFFFFFFFF)


def test_capget_equals_proc_status():
    e, p, i = sc.capget()
    status = dict(line.split(":\t") for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    assert e == int(status["CapEff"], 16)
    assert p == int(status["CapPrm"], 16)
    assert i == int(status["CapInh"], 16)


def test_errors_carry_errno_and_context():
    with pytest.raises(SysError) as ei:
        sc.mount("none", "/nonexistent-ocipy-test", "tmpfs")
    assert ei.value.errno == errno.ENOENT
    assert "/nonexistent-ocipy-test" in str(ei.value)


def test_openat2_in_root_never_leaves_it(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("inside")
    os.symlink("/etc/passwd", tmp_path / "link")
    root = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        for p in ("link", "../../../../etc/passwd", "/etc/passwd", "etc/../../etc/passwd"):
            fd = sc.openat2(root, p, os.O_RDONLY, sc.RESOLVE_IN_ROOT)
            assert os.read(fd, 100) == b"inside", p
            os.close(fd)
        with pytest.raises(SysError) as ei:
            sc.openat2(root, "link", os.O_RDONLY, sc.RESOLVE_BENEATH)
        assert ei.value.errno == errno.EXDEV
    finally:
        os.close(root)


def test_prctl_read_matches_ctypes():
    for cap in (0, 21, 40):
        assert sc.prctl(sc.PR_CAPBSET_READ, cap) == _libc.prctl(sc.PR_CAPBSET_READ, cap, 0, 0, 0)


def test_buffer_is_writable_and_sized():
    b = _ffi.buffer(8)
    assert b.raw == b"\0" * 8
    assert ctypes.sizeof(b) == 8
