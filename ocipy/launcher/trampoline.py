"""The last execve of the init and of every `ocipy exec` child goes through
a tiny static program run from a sealed memfd (trampoline.c), so that the
host's Python interpreter is never what /proc/self/exe names inside the
container when the user's program is exec'd.

Without it, a "#!/proc/self/exe" script (or args[0] "/proc/self/exe") makes
the kernel run the host's /usr/bin/python3.11 inside the container: a
dumpable process whose /proc/<pid>/exe is a handle on the host binary,
which root in the container reopens for writing once no process executes
it (CVE-2019-5736; runc 1.1 runs from a memfd copy of itself for the same
reason). Through the trampoline, /proc/self/exe is an 888-byte sealed memfd
(F_SEAL_WRITE: nothing can write it), and run any other way than as
ocipy's last step it refuses (exit 126).

Where memfd exec is not possible (not x86_64, vm.memfd_noexec=2, a seccomp
profile refusing memfd_create or execveat), the program is exec'd
directly, as before.

`python -m ocipy.launcher.trampoline --build` rebuilds CODE from
trampoline.c (gcc); tests/unit/test_trampoline.py checks it is current.
"""
from __future__ import annotations

import fcntl
import os

MAGIC = "\x01ocipy-exec"
CFLAGS = ["-Os", "-nostdlib", "-static", "-fno-pie", "-no-pie", "-fno-stack-protector", "-fno-builtin",
          "-fno-asynchronous-unwind-tables", "-fno-ident", "-Wl,--build-id=none", "-Wl,-N",
          "-Wl,--no-warn-rwx-segments", "-s"]
# built from trampoline.c with CFLAGS (x86_64)
CODE = bytes.fromhex(
    "7f454c4602010100000000000000000002003e0001000000b00040000000000040000000000000007802000000000000"
    "000000004000380002004000040003000100000007000000b000000000000000b000400000000000b000400000000000"
    "ad01000000000000ad01000000000000010000000000000051e574640600000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000010000000000000004889e74883e4f0e81900000031d2488d"
    "04168a0084c0740548ffc2ebf1b8010000000f05c34883ec20488b074989f84c8d54c7104883f8047e20488b770831c0"
    "8a0c068a900502400084c9740948ffc038d174eceb0484d27420be11024000bf02000000e8a3ffffff31d2b83c000000"
    "bf7e0000004889d60f05498b50104531c9803a2d75064983c9ffeb2d8a0283e8303c0977104d6bc90a480fbec048ffc2"
    "4901c1ebe7b848000000be02000000ba010000004c89cf0f05498b7820498d7028b83b0000004c89d20f05c644241f00"
    "48f7d84c8d54241fbe0a0000004889c14889c831d249ffca48f7f683c2304188124889ca4889c14883fa0977e34983f9"
    "ff7417b801000000be550240004c89cf4889c20f054c89d6eb25498b7018bf02000000e8e4feffffbe56024000e8dafe"
    "ffff4c89d6e8d2feffffbe54024000e8c8feffff31d2b83c000000bf7f0000004889d60f05016f636970792d65786563"
    "006f636970793a207468652065786563207472616d706f6c696e65206f6e6c792072756e73206173206f636970792773"
    "206c6173742073746570202872656675736564290a006572726e6f2000002e7368737472746162002e74657874002e72"
    "6f6461746100000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000b000000010000000700000000000000b000400000000000"
    "b00000000000000055010000000000000000000000000000010000000000000000000000000000001100000001000000"
    "320000000000000005024000000000000502000000000000580000000000000000000000000000000100000000000000"
    "01000000000000000100000003000000000000000000000000000000000000005d020000000000001900000000000000"
    "000000000000000001000000000000000000000000000000"
)
MACHINE = "x86_64"
_MFD_EXEC = 0x10  # Linux 6.3+: say the memfd is meant to be executable
_SEALS = 0x1 | 0x2 | 0x4 | 0x8  # F_SEAL_SEAL | SHRINK | GROW | WRITE
_FALLBACK = (1, 13, 38, 22)  # EPERM, EACCES, ENOSYS, EINVAL: memfd exec refused here


DISABLED = False  # set by the launcher when the container's seccomp filter refuses memfd exec


def _memfd() -> int:
    """A sealed, close-on-exec memfd holding the trampoline; -1 if refused."""
    if os.uname().machine != MACHINE or DISABLED:
        return -1
    base = os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING
    try:
        try:
            fd = os.memfd_create("ocipy-exec", base | _MFD_EXEC)
        except OSError as e:
            if e.errno != 22:  # EINVAL: a kernel before MFD_EXEC
                raise
            fd = os.memfd_create("ocipy-exec", base)
    except OSError as e:
        if e.errno in _FALLBACK:
            return -1
        raise
    try:
        view = memoryview(CODE)
        while view:
            view = view[os.write(fd, view):]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    except BaseException:
        os.close(fd)
        raise
    return fd


def execve(path: str, args: list, env: dict, errfd: int = -1, prefix: str = "") -> None:
    """execve(path, args, env) through the trampoline. errfd (a CLOEXEC
    pipe whose EOF means "exec'd") stays open through the trampoline, which
    closes it at the real execve or writes "\\0<errno>" into it (describe()
    reads that); without errfd a failure is printed on stderr after prefix.
    Raises OSError when the trampoline itself cannot be exec'd for another
    reason than the host refusing memfd exec."""
    fd = _memfd()
    if fd >= 0:
        if errfd >= 0:
            os.set_inheritable(errfd, True)
        try:
            os.execve(fd, [MAGIC, str(errfd) if errfd >= 0 else "-", prefix, path, *args], env)
        except OSError as e:
            if e.errno not in _FALLBACK:
                raise
        finally:  # only reached when it failed
            os.close(fd)
            if errfd >= 0:
                os.set_inheritable(errfd, False)
    os.execve(path, args, env)


def describe(err: bytes, name: str) -> str:
    """The line an error pipe carries: the trampoline's "\\0<errno>" as
    exec_process would have said it, anything else as is."""
    if err[:1] == b"\0" and err[1:].isdigit():
        n = int(err[1:])
        try:
            from ocipy.errors import go_strerror
        except ImportError:
            go_strerror = os.strerror
        return f'exec: "{name}": {go_strerror(n)}'
    return err.decode(errors="replace").strip()


def build(src: str | None = None) -> bytes:
    """Compile trampoline.c with gcc (for the generator and the test)."""
    import subprocess
    import tempfile

    src = src or os.path.join(os.path.dirname(os.path.abspath(__file__)), "trampoline.c")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "t")
        subprocess.run(["gcc", *CFLAGS, "-o", out, src], check=True)
        with open(out, "rb") as f:
            return f.read()


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--build"]:
        sys.exit("usage: python -m ocipy.launcher.trampoline --build")
    me = os.path.abspath(__file__)
    with open(me) as f:
        text = f.read()
    start = text.index("CODE = bytes.fromhex(\n") + len("CODE = bytes.fromhex(\n")
    end = text.index("\n)\n", start)
    hx = build().hex()
    lines = "\n".join(f'    "{hx[i:i + 96]}"' for i in range(0, len(hx), 96))
    with open(me, "w") as f:
        f.write(text[:start] + lines + text[end:])
