"""A minimal rtnetlink client (NETLINK_ROUTE): just what linux.netDevices
needs (launcher.netdev): look a link up by name, list links and addresses,
move a link to another network namespace under a new name, add an address,
set a link up.

Written here rather than depending on pyroute2: five message types of a
stable kernel ABI are ~150 lines, pyroute2 costs ~164 ms to import and a
dependency. Only imported when a config has linux.netDevices (it imports
`socket`). Errors are SysError with the kernel's errno and a context.
"""
from __future__ import annotations

import os
import socket
import struct

from ocipy.errors import SysError

NETLINK_ROUTE = 0
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_GETLINK, RTM_SETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 18, 19, 20, 22
IFLA_IFNAME, IFLA_NET_NS_FD = 3, 28
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_FLAGS = 1, 2, 4, 8
IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE = 0
IFF_UP = 0x1

_HDR = struct.Struct("=IHHII")  # nlmsghdr
_IFI = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFA = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTA = struct.Struct("=HH")


def _attr(kind: int, data: bytes) -> bytes:
    n = _RTA.size + len(data)
    return _RTA.pack(n, kind) + data + b"\0" * ((4 - n % 4) % 4)


def _name(name: str) -> bytes:
    return _attr(IFLA_IFNAME, name.encode() + b"\0")


def attrs(buf: bytes, off: int) -> dict:
    """{type: payload} of the rtattrs in buf from off."""
    out = {}
    while off + _RTA.size <= len(buf):
        n, kind = _RTA.unpack_from(buf, off)
        if n < _RTA.size:
            break
        out[kind & 0x3FFF] = buf[off + _RTA.size:off + n]
        off += (n + 3) & ~3
    return out


class Link:
    __slots__ = ("index", "name", "flags")

    def __init__(self, index: int, name: str, flags: int) -> None:
        self.index, self.name, self.flags = index, name, flags


class Addr:
    """One address of a link, as RTM_NEWADDR wants it back."""
    __slots__ = ("family", "prefixlen", "flags", "scope", "attrs")

    def __init__(self, family, prefixlen, flags, scope, attrs) -> None:
        self.family, self.prefixlen, self.flags, self.scope, self.attrs = family, prefixlen, flags, scope, attrs

    @property
    def all_flags(self) -> int:
        f = self.attrs.get(IFA_FLAGS)
        return struct.unpack("=I", f)[0] if f and len(f) == 4 else self.flags


class Rtnl:
    """A NETLINK_ROUTE socket of the calling thread's network namespace at
    the time it is made (it keeps talking to that namespace)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def _request(self, mtype: int, flags: int, body: bytes, op: str, context: str) -> list:
        self.seq += 1
        seq = self.seq
        dump = flags & NLM_F_DUMP == NLM_F_DUMP
        self.sock.send(_HDR.pack(_HDR.size + len(body), mtype, NLM_F_REQUEST | flags | (0 if dump else NLM_F_ACK), seq, 0)
                       + body)
        out = []
        while True:
            data = self.sock.recv(1 << 16)
            off = 0
            while off + _HDR.size <= len(data):
                n, kind, _fl, s, _pid = _HDR.unpack_from(data, off)
                payload = data[off + _HDR.size:off + n]
                off += (n + 3) & ~3
                if s != seq:
                    continue
                if kind == NLMSG_ERROR:
                    err = struct.unpack_from("=i", payload)[0]
                    if err:
                        raise SysError(-err, op, context)
                    return out
                if kind == NLMSG_DONE:
                    return out
                out.append((kind, payload))

    def link(self, name: str) -> Link | None:
        """The link called `name`, None if there is none."""
        try:
            res = self._request(RTM_GETLINK, 0, _IFI.pack(0, 0, 0, 0, 0) + _name(name), "get link", name)
        except SysError as e:
            if e.errno == 19:  # ENODEV
                return None
            raise
        for kind, p in res:
            if kind == RTM_NEWLINK:
                return self._link(p)
        return None

    @staticmethod
    def _link(p: bytes) -> Link:
        _f, _t, index, flags, _c = _IFI.unpack_from(p)
        name = attrs(p, _IFI.size).get(IFLA_IFNAME, b"").rstrip(b"\0").decode("utf-8", "replace")
        return Link(index, name, flags)

    def links(self) -> list:
        res = self._request(RTM_GETLINK, NLM_F_DUMP, _IFI.pack(0, 0, 0, 0, 0), "list links", "")
        return [self._link(p) for kind, p in res if kind == RTM_NEWLINK]

    def addrs(self, index: int) -> list:
        res = self._request(RTM_GETADDR, NLM_F_DUMP, _IFA.pack(0, 0, 0, 0, 0), "list addresses", "")
        out = []
        for kind, p in res:
            if kind != RTM_NEWADDR:
                continue
            fam, plen, fl, scope, idx = _IFA.unpack_from(p)
            if idx == index:
                out.append(Addr(fam, plen, fl, scope, attrs(p, _IFA.size)))
        return out

    def move(self, index: int, netns_fd: int, new_name: str, context: str) -> None:
        """Move link `index` into the network namespace netns_fd, renamed."""
        body = _IFI.pack(0, 0, index, 0, 0) + _attr(IFLA_NET_NS_FD, struct.pack("=I", netns_fd)) + _name(new_name)
        self._request(RTM_SETLINK, 0, body, "move to the container's network namespace", context)

    def add_addr(self, index: int, a: Addr, context: str) -> None:
        body = _IFA.pack(a.family, a.prefixlen, a.flags & ~IFA_F_PERMANENT & 0xFF, a.scope, index)
        for kind in (IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST):
            if kind in a.attrs:
                body += _attr(kind, a.attrs[kind])
        self._request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body, "add address", context)

    def set_up(self, index: int, context: str) -> None:
        self._request(RTM_SETLINK, 0, _IFI.pack(0, 0, index, IFF_UP, IFF_UP), "set up", context)


def socket_in(netns_fd: int) -> Rtnl:
    """An Rtnl of the network namespace netns_fd; the caller (one thread)
    is back in its own network namespace when this returns."""
    from ocipy import syscalls as sc

    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(netns_fd, sc.CLONE_NEWNET, "the container's network namespace")
        try:
            return Rtnl()
        finally:
            sc.setns(own, sc.CLONE_NEWNET, "back to the runtime's network namespace")
    finally:
        os.close(own)
