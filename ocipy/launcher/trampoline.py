"""The last execve of the init and of every `ocipy exec` child goes through
a tiny static program run from a sealed memfd (trampoline.c), so that the
host's Python interpreter is never what /proc/self/exe names inside the
container when the user's program is exec'd.

Without it, a "#!/proc/self/exe" script (or args[0] "/proc/self/exe") makes
the kernel run the host's /usr/bin/python3.11 inside the container: a
dumpable process whose /proc/<pid>/exe is a handle on the host binary,
which root in the container reopens for writing once no process executes
it (CVE-2019-5736; runc 1.1 runs from a memfd copy of itself for the same
reason). Through the trampoline, /proc/self/exe is a 1.6 KiB sealed memfd
(F_SEAL_WRITE: nothing can write it), and run any other way than as
ocipy's last step it refuses (exit 126).

The init of a created container execs it in wait mode once it is set up:
the trampoline, not the interpreter, then waits for `start` on exec.fifo
(about 0.3 MiB charged to the container instead of the interpreter's ~4).

Where memfd exec is not possible (not x86_64, vm.memfd_noexec=2, a seccomp
profile refusing memfd_create or execveat), the program is exec'd
directly, as before.

`python -m ocipy.launcher.trampoline --build` rebuilds CODE from
trampoline.c (gcc); tests/unit/test_trampoline.py checks it is current.
"""
import fcntl
import posix

MAGIC = "\x01ocipy-exec"
CFLAGS = ["-Os", "-nostdlib", "-static", "-fno-pie", "-no-pie", "-fno-stack-protector", "-fno-builtin",
          "-fno-asynchronous-unwind-tables", "-fno-ident", "-Wl,--build-id=none", "-Wl,-N",
          "-Wl,--no-warn-rwx-segments", "-s"]
# built from trampoline.c with CFLAGS (x86_64)
CODE = bytes.fromhex(
    "7f454c4602010100000000000000000002003e0001000000b7004000000000004000000000000000b805000000000000"
    "000000004000380002004000040003000100000007000000b000000000000000b000400000000000b000400000000000"
    "eb04000000000000eb04000000000000010000000000000051e574640600000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000001000000000000000b80f0000000f054889e74883e4f0e871"
    "02000031d2488d04168a0084c0740548ffc2ebf1b8010000000f05c331d24883ef80b8e70000004889d60f054883ec20"
    "4989f94989f0bf02000000bef2044000e8beffffff4c89cee8b6ffffffbe05054000e8acffffffc644241f00488d4c24"
    "1fbf0a0000004c89c031d248ffc948f7f783c23088114c89c24989c04883fa0977e44889cebf02000000e874ffffffbe"
    "86054000e86affffff31d2b83c000000bf010000004889d60f055531c031d24989f9534531c0bd0d000000bb01000000"
    "4881ec7001000048890424488d74240848c7442408dc00400048c74424100000000448c7442418b00040004889542420"
    "31d2490fbeb89405400041ba080000004889e80f05410fbe88940540004889d849ffc0ffc948d3e0480904244983f807"
    "75d04889e6b80e0000004889df0f05488d4c2428b80e0540004889ce8a1084d2740b48ffc148ffc08851ffebefc64424"
    "4f004d89c8488d7c244f41ba0a0000004c89c031d248ffcf49f7f283c23088174c89c24989c04883fa0977e431c08a14"
    "0784d2740888140148ffc0ebf1c60401004531d2b80101000048c7c79cffffffba010008000f054989c24885c0790d48"
    "89c6bf1d05400048f7deeb58bb050000004531c0488d7424504c89d74889d84c89c20f054889c5488db424e000000048"
    "89d84c89cf0f054809e8781e488b8424e00000004839442450750f488b8424e80000004839442458740fbe16000000bf"
    "22054000e813feffffb801000000be3b0540004c89d74889c20f054883f8017417be050000004885c0790648f7d84889"
    "c6bf3d054000ebccbb030000004c89c64c89c24889d80f054889d84c89cf0f05b8180000004c89c70f054881c4700100"
    "005b5dc355534889fb4883ec204c8b0f4a8d6ccf104983f9017f22be43054000bf02000000e869fdffff31d2b83c0000"
    "00bf7e0000004889d60f05eb7c488b471080387775464531c0b89d000000bf040000004c89c64c89c20f05b86c000000"
    "4c89c70f054889c6b8770000004889f74889f20f054885c07412b83c000000bf7f0000004c89c64c89c20f054983f904"
    "7e89488b730831c08a0c068a908805400084c9740c48ffc038ca74ece96affffff84d20f8562ffffff488b43108a1080"
    "fa77752648ffc031ff8a088d51d080fa097710486bff0a480fbed248ffc04801d7ebe6e852fdffffeb0580fa2d750649"
    "83c8ffeb314531c08a088d51d080fa0977104d6bc00a480fbed248ffc04901d0ebe6b848000000be02000000ba010000"
    "004c89c70f05488b7b20488d7328b83b0000004889ea0f05c644241f0048f7d84c8d4c241fbe0a0000004889c14889c8"
    "31d249ffc948f7f683c2304188114889ca4889c14883fa0977e34983f8ff7417b801000000be870540004c89c74889c2"
    "0f054c89ceeb25488b7318bf02000000e8fefbffffbe07054000e8f4fbffff4c89cee8ecfbffffbe86054000e8e2fbff"
    "ff31d2b83c000000bf7f0000004889d60f056f636970793a20657865632e6669666f3a20003a206572726e6f20002f70"
    "726f632f73656c662f66642f006f70656e006e6f742074686520636f6e7461696e65722773206669666f003000777269"
    "7465006f636970793a207468652065786563207472616d706f6c696e65206f6e6c792072756e73206173206f63697079"
    "2773206c6173742073746570202872656675736564290a00016f636970792d65786563000102030a0c0e0f002e736873"
    "7472746162002e74657874002e726f646174610000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000b00000001000000"
    "0700000000000000b000400000000000b000000000000000420400000000000000000000000000000100000000000000"
    "000000000000000011000000010000000200000000000000f204400000000000f204000000000000a900000000000000"
    "000000000000000001000000000000000000000000000000010000000300000000000000000000000000000000000000"
    "9b050000000000001900000000000000000000000000000001000000000000000000000000000000"
)
MACHINE = "x86_64"
_MFD_EXEC = 0x10  # Linux 6.3+: say the memfd is meant to be executable
_SEALS = 0x1 | 0x2 | 0x4 | 0x8  # F_SEAL_SEAL | SHRINK | GROW | WRITE
_FALLBACK = (1, 13, 38, 22)  # EPERM, EACCES, ENOSYS, EINVAL: memfd exec refused here


DISABLED = False  # set by the launcher when the container's seccomp filter refuses memfd exec
WAIT_DISABLED = False  # ... or a call of the wait mode (then the init waits for `start` in Python)
# what the wait mode's handlers end the process on (as the Python init's)
WAIT_SIGNALS = (1, 2, 3, 10, 12, 14, 15)


def can_wait() -> bool:
    """Whether the trampoline can wait for `start` instead of the init
    (its wait mode; the fd checks are the caller's)."""
    return not (DISABLED or WAIT_DISABLED) and posix.uname().machine == MACHINE


def _memfd() -> int:
    """A sealed, close-on-exec memfd holding the trampoline; -1 if refused."""
    if posix.uname().machine != MACHINE or DISABLED:
        return -1
    base = posix.MFD_CLOEXEC | posix.MFD_ALLOW_SEALING
    try:
        try:
            fd = posix.memfd_create("ocipy-exec", base | _MFD_EXEC)
        except OSError as e:
            if e.errno != 22:  # EINVAL: a kernel before MFD_EXEC
                raise
            fd = posix.memfd_create("ocipy-exec", base)
    except OSError as e:
        if e.errno in _FALLBACK:
            return -1
        raise
    try:
        view = memoryview(CODE)
        while view:
            view = view[posix.write(fd, view):]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    except BaseException:
        posix.close(fd)
        raise
    return fd


def execve(path: str, args: list, env: dict, errfd: int = -1, prefix: str = "", wait_fd: int = -1) -> None:
    """execve(path, args, env) through the trampoline. errfd (a CLOEXEC
    pipe whose EOF means "exec'd") stays open through the trampoline, which
    closes it at the real execve or writes "\\0<errno>" into it (describe()
    reads that); without errfd a failure is printed on stderr after prefix.
    With wait_fd (an O_PATH fd on exec.fifo) the trampoline first waits for
    `start` (its wait mode, trampoline.c); when memfd exec is refused this
    returns instead of exec'ing directly: the caller then waits itself.
    Raises OSError when the trampoline itself cannot be exec'd for another
    reason than the host refusing memfd exec."""
    fd = _memfd()
    if fd >= 0:
        passed = wait_fd if wait_fd >= 0 else errfd
        if passed >= 0:
            posix.set_inheritable(passed, True)
        mode = f"w{wait_fd}" if wait_fd >= 0 else str(errfd) if errfd >= 0 else "-"
        try:
            posix.execve(fd, [MAGIC, mode, prefix, path, *args], env)
        except OSError as e:
            if e.errno not in _FALLBACK:
                raise
        finally:  # only reached when it failed
            posix.close(fd)
            if passed >= 0:
                posix.set_inheritable(passed, False)
    if wait_fd >= 0:
        return
    posix.execve(path, args, env)


def describe(err: bytes, name: str) -> str:
    """The line an error pipe carries: the trampoline's "\\0<errno>" as
    exec_process would have said it, anything else as is."""
    if err[:1] == b"\0" and err[1:].isdigit():
        n = int(err[1:])
        try:
            from ocipy.errors import go_strerror
        except ImportError:
            go_strerror = posix.strerror
        return f'exec: "{name}": {go_strerror(n)}'
    return err.decode(errors="replace").strip()


def build(src: str | None = None) -> bytes:
    """Compile trampoline.c with gcc (for the generator and the test)."""
    import os.path
    import subprocess
    import tempfile

    src = src or os.path.join(os.path.dirname(os.path.abspath(__file__)), "trampoline.c")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "t")
        subprocess.run(["gcc", *CFLAGS, "-o", out, src], check=True)
        with open(out, "rb") as f:
            return f.read()


if __name__ == "__main__":
    import os.path
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
