"""linux.netDevices (config-linux.md "Network Devices"), done by stage 0.

Stage 0 is in the host's network namespace with CAP_NET_ADMIN there, where
the devices are; the init, once it has unshared its network namespace (and
brought lo up), sends `netdevs` and waits for `netdevs-done` (channel.py).
For each entry, in config order:

1. the device must exist on the host (else an error naming the entry);
2. the name it gets in the container must be free there (the spec: "If a
   network device with the specified name already exists in the container
   namespace, the runtime MUST generate an error", unless the name is a
   `%d` template, which the kernel completes): checked *before* the move,
   because the kernel moves first and renames after, so a failed rename
   would leave the device in the container;
3. its permanent addresses of global scope are read (a move to another
   namespace drops every address; the spec: "The runtime MUST preserve ...
   all permanent IP addresses (IFA_F_PERMANENT) ... with global scope");
4. one RTM_SETLINK moves it (IFLA_NET_NS_FD) and renames it (IFLA_IFNAME);
5. in the container's namespace the addresses are added back and the device
   is set up ("The runtime MUST set the network device state to "up" after
   moving it").

Nothing is done at delete: the spec says the runtime "MUST NOT attempt to
move the interface out of the namespace before deletion"; when the
namespace goes, the kernel destroys virtual devices and returns physical
ones to the initial namespace. A failed create (here or later) kills the
init, which does the same to devices already moved.
"""
from __future__ import annotations

import os

from ocipy.errors import OcipyError, SysError


def move_all(plan, init_pid: int) -> None:
    from ocipy.syscalls import netlink

    try:
        netns = os.open(f"/proc/{init_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise OcipyError(f"{plan.where}: linux.netDevices: the container's network namespace: {e.strerror}") from None
    host = cont = None
    try:
        host = netlink.Rtnl()
        cont = netlink.socket_in(netns)
        for host_name, name, field in plan.net_devices:
            where = f"{plan.where}: {field}"
            try:
                _move_one(netlink, host, cont, netns, host_name, name, where)
            except SysError as e:
                raise OcipyError(f"{where}: {e}") from None
    finally:
        for s in (host, cont):
            if s is not None:
                s.close()
        os.close(netns)


def _move_one(netlink, host, cont, netns: int, host_name: str, name: str, where: str) -> None:
    link = host.link(host_name)
    if link is None:
        raise OcipyError(f"{where}: no network device {host_name!r} in the runtime's network namespace")
    template = "%d" in name
    if not template and cont.link(name) is not None:
        raise OcipyError(f"{where}: a network device named {name!r} already exists in the container's network namespace")
    keep = [a for a in host.addrs(link.index)
            if a.all_flags & netlink.IFA_F_PERMANENT and a.scope == netlink.RT_SCOPE_UNIVERSE]
    before = {ln.index for ln in cont.links()} if template else None
    host.move(link.index, netns, name, f"{host_name} as {name}")
    if template:
        new = [ln for ln in cont.links() if ln.index not in before]
        moved = new[0] if len(new) == 1 else None
    else:
        moved = cont.link(name)
    if moved is None:
        raise OcipyError(f"{where}: moved, but not found in the container's network namespace")
    for a in keep:
        cont.add_addr(moved.index, a, moved.name)
    cont.set_up(moved.index, moved.name)
