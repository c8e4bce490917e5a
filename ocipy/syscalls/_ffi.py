"""A minimal foreign-function layer on `_ctypes`, the C core of ctypes.

`import ctypes` costs ~6 ms of CPU on this class of machine (its __init__
builds dozens of types and probes sizes); every `create` and `run` pays it.
The launcher needs a handful of libc calls taking ints, pointers to bytes
and, for capget only, one writable buffer: this module defines just those
types on `_ctypes` itself (~1.5 ms). tests/unit/test_syscalls_ffi.py proves
it equal to ctypes on real calls.
"""
from _ctypes import FUNCFLAG_CDECL, FUNCFLAG_USE_ERRNO, Array, CFuncPtr, _SimpleCData, addressof, dlopen, get_errno

__all__ = ["c_int", "c_uint", "c_long", "c_ulong", "c_char", "buffer", "libc", "get_errno", "addressof",
           "foreign", "read_memory"]

RTLD_NOW, RTLD_GLOBAL = 0x2, 0x100


class c_int(_SimpleCData):
    _type_ = "i"


class c_uint(_SimpleCData):
    _type_ = "I"


class c_long(_SimpleCData):
    _type_ = "l"


class c_ulong(_SimpleCData):
    _type_ = "L"


class c_char(_SimpleCData):
    _type_ = "c"


def buffer(size: int):
    """A zeroed, writable char[size] (read it back with .raw)."""
    cls = type("char_%d" % size, (Array,), {"_type_": c_char, "_length_": size})
    return cls()


class _Library:
    __slots__ = ("_handle",)

    def __init__(self, name: str) -> None:
        self._handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)


class _Function(CFuncPtr):
    """A libc function returning long, with errno captured (get_errno)."""

    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
    _restype_ = c_long


class _IntFunction(CFuncPtr):
    """A function returning C int: only the low 32 bits of the return
    register are read (a long restype would turn -1 into 4294967295)."""

    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
    _restype_ = c_int


_libc = _Library("libc.so.6")
_libraries: dict = {}


def libc(name: str) -> _Function:
    return _Function((name, _libc))


def foreign(soname: str, name: str, returns_int: bool = False):
    """Function `name` of shared library `soname` (dlopen'd once; OSError
    if missing). returns_int: the C function returns int, else long/pointer."""
    lib = _libraries.get(soname)
    if lib is None:
        lib = _libraries[soname] = _Library(soname)
    return (_IntFunction if returns_int else _Function)((name, lib))


def read_memory(address: int, size: int) -> bytes:
    """`size` bytes at `address` (a pointer a C function returned)."""
    return type(buffer(size)).from_address(address).raw
