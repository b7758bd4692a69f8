"""Network namespaces, veth pairs, addresses and routes, over netlink (pyroute2).

A *named* network namespace is what `ip netns add NAME` makes: a namespace kept alive with
no process in it by an nsfs bind mount at /run/netns/NAME. Everything here is named
``lab-NN-...`` (interfaces at most 15 characters) so `labkit.clean` finds what a lesson left::

    create_netns("lab-07-a"); create_netns("lab-07-b")
    veth("lab-07-va", "lab-07-vb", netns="lab-07-a", peer_netns="lab-07-b")
    add_address("lab-07-va", "10.207.0.1/24", netns="lab-07-a")
    link_up("lab-07-va", netns="lab-07-a")
    routes("lab-07-a"); run_in("lab-07-a", ["ping", "-c", "1", "10.207.0.2"])

Calls are safe to repeat (what exists already, as asked, is left alone) and a call that
fails leaves nothing half-made. Netlink is spoken from a socket opened inside the target
namespace: a short-lived thread setns(2)es there, does the work and ends, so this process
never leaves its own namespace. See ip-netns(8), veth(4), rtnetlink(7).
"""
from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from labkit import ns, owned
from labkit.errors import BadInput, LabError
from labkit.kernel import CLONE_NEWNET, MNT_DETACH, MS_BIND, MS_REC, MS_SHARED, KernelError, mount, setns, umount2
from labkit.kernel import unshare

NETNS_DIR = Path("/run/netns")
IFNAMSIZ = 15                        # an interface name is at most 15 characters (IFNAMSIZ - 1)
_LAB_NAME = re.compile(r"^lab-[A-Za-z0-9_.-]+$")
_ANY_NAME = re.compile(r"^[A-Za-z0-9_.:@-]+$")
_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
_PROTOS = {1: "redirect", 2: "kernel", 3: "boot", 4: "static", 16: "dhcp"}
_MAIN_TABLE = 254


@dataclass(frozen=True)
class Link:
    """A network interface, as `ip link` shows it."""

    name: str
    index: int
    kind: str              # 'veth', 'bridge', ... ('' for a plain device like lo)
    state: str             # operstate: 'UP', 'DOWN', 'UNKNOWN' (lo), 'LOWERLAYERDOWN' ...
    up: bool               # administratively up (IFF_UP), whatever the carrier
    mac: str
    peer_index: int | None  # for a veth: the index of its peer (in the peer's namespace)
    carrier: bool = False   # a signal on the wire: for a veth, its peer is up too

    def __str__(self) -> str:
        kind = f" {self.kind}" if self.kind else ""
        return f"{self.index}: {self.name}{kind} {self.state} {self.mac}"


@dataclass(frozen=True)
class Address:
    """An address on an interface, as `ip -brief addr` shows it."""

    ifname: str
    address: str           # with its prefix: '10.207.0.1/24'
    scope: str

    def __str__(self) -> str:
        return f"{self.ifname} {self.address} scope {self.scope}"


@dataclass(frozen=True)
class Route:
    """A route of the main table, as `ip route` shows it."""

    dst: str               # 'default' or a prefix like '10.207.0.0/24'
    dev: str
    gateway: str | None
    src: str | None
    scope: str
    proto: str

    def __str__(self) -> str:
        parts = [self.dst]
        if self.gateway:
            parts += ["via", self.gateway]
        parts += ["dev", self.dev, "proto", self.proto]
        if self.scope != "global":          # as ip-route(8) prints it: global is the default
            parts += ["scope", self.scope]
        if self.src:
            parts += ["src", self.src]
        return " ".join(parts)


# -- named network namespaces -----------------------------------------------------------------

def netns_list() -> list[str]:
    """Names of the network namespaces under /run/netns, as `ip netns list` finds them."""
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def netns_path(name: str) -> Path:
    """The file of the named network namespace `name` (it must exist)."""
    path = NETNS_DIR / _any_name(name, "network namespace")
    if not _is_nsfs(path):
        raise LabError(f"There is no network namespace {name!r}", f"no nsfs mount at {path}",
                       f"Create it with labkit.net.create_netns({name!r}); `ip netns list` shows the others")
    return path


def create_netns(name: str) -> Path:
    """Make the named network namespace `name` (like `ip netns add`); returns its file. Existing: kept."""
    path = NETNS_DIR / _lab_name(name, "network namespace")
    if _is_nsfs(path):
        return path
    owned.mark("netns", path.name)            # before it exists: a kill in between leaves only the mark
    made_dir_mount = False
    made_file = False
    try:
        NETNS_DIR.mkdir(mode=0o755, exist_ok=True)
        # As iproute2 does: /run/netns becomes a shared mount point of its own, so a namespace
        # deleted here is also unmounted in mount namespaces made later.
        if not _is_mount_point(NETNS_DIR):
            mount(NETNS_DIR, NETNS_DIR, None, MS_BIND | MS_REC)
            made_dir_mount = True
        mount(None, NETNS_DIR, None, MS_SHARED | MS_REC)
        if path.exists():                     # a stale file from an interrupted run: no mount on it
            path.unlink()
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
        made_file = True
        _in_thread(_unshare_and_bind, str(path))
    except BaseException as err:
        if made_file:
            path.unlink(missing_ok=True)
        if made_dir_mount:
            _release_netns_dir()
        if isinstance(err, (KernelError, OSError)) and not isinstance(err, LabError):
            raise LabError(f"Cannot create network namespace {name}", str(err), "Run as root") from None
        raise
    return path


def delete_netns(name: str) -> bool:
    """Remove the named network namespace (like `ip netns delete`); its interfaces go with it. False if absent."""
    path = NETNS_DIR / _lab_name(name, "network namespace")
    if not path.exists():
        return False
    if _is_nsfs(path):
        umount2(path, MNT_DETACH)
    path.unlink(missing_ok=True)
    owned.unmark("netns", path.name)
    _release_netns_dir()
    return True


def _unshare_and_bind(path: str) -> None:
    # Runs in a thread of its own: the new namespace is the thread's, never this process's.
    unshare(CLONE_NEWNET)
    mount("/proc/thread-self/ns/net", path, None, MS_BIND)


def _release_netns_dir() -> None:
    """Undo /run/netns's own mount once no namespace is mounted in it (it would be residue)."""
    found = ns.mounts(under=NETNS_DIR)
    if any(m.point == str(NETNS_DIR) for m in found) and all(m.point == str(NETNS_DIR) for m in found):
        try:
            umount2(NETNS_DIR, MNT_DETACH)
        except KernelError:
            pass


# -- interfaces ---------------------------------------------------------------------------------

def veth(name: str, peer: str, netns: str | None = None, peer_netns: str | None = None) -> None:
    """A veth pair: `name` in `netns`, `peer` in `peer_netns` (None: this namespace), made in one request.

    An existing pair that matches is kept; anything else by those names is an error.
    """
    _ifname(name, new=True)
    _ifname(peer, new=True)
    if name == peer and netns == peer_netns:
        raise BadInput(f"Both ends are called {name!r} in the same namespace", "", "Give the peer another name")
    _mutable(netns)
    _mutable(peer_netns)
    here = _find(name, netns)
    there = _find(peer, peer_netns)
    if here or there:
        if here and there and here.kind == there.kind == "veth" and here.peer_index == there.index \
                and there.peer_index == here.index:
            return
        taken = f"{name} in {_where(netns)}" if here else f"{peer} in {_where(peer_netns)}"
        raise LabError(f"Cannot make the veth pair {name}/{peer}", f"{taken} exists already, and not as this pair",
                       "Delete it first with labkit.net.delete_link(...), or pick other names")
    for end, where in ((name, netns), (peer, peer_netns)):
        if where is None:                     # an end in the host's namespace outlives any netns
            owned.mark("interface", end)
    peer_spec: dict[str, Any] = {"ifname": peer}
    fd = os.open(netns_path(peer_netns), os.O_RDONLY) if peer_netns is not None and peer_netns != netns else None
    try:
        if fd is not None:
            peer_spec["net_ns_fd"] = fd
        _rtnl(netns, lambda ipr: _netlink(f"Cannot make the veth pair {name}/{peer}",
                                          lambda: ipr.link("add", ifname=name, kind="veth", peer=peer_spec)))
    finally:
        if fd is not None:
            os.close(fd)


def delete_link(name: str, netns: str | None = None) -> bool:
    """Delete interface `name` (for a veth, both ends go). False when there is none."""
    _ifname(name, new=True)
    _mutable(netns)
    link = _find(name, netns)
    if link is None:
        return False
    _rtnl(netns, lambda ipr: _netlink(f"Cannot delete {name}", lambda: ipr.link("del", index=link.index)))
    if netns is None:
        owned.unmark("interface", name)       # a veth's peer goes too; clean drops its mark as stale
    return True


def link_up(name: str, netns: str | None = None) -> None:
    """Set interface `name` administratively up (`ip link set NAME up`)."""
    _ifname(name)
    _mutable(netns, name)
    link = _need(name, netns)
    _rtnl(netns, lambda ipr: _netlink(f"Cannot set {name} up", lambda: ipr.link("set", index=link.index, state="up")))


def wait_up(name: str, netns: str | None = None, timeout: float = 5.0) -> Link:
    """Wait until interface `name` is operationally up (both ends of a veth up: carrier); returns it.

    The kernel sets the operstate a moment after `link_up` (its linkwatch work runs later).
    """
    _ifname(name)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise BadInput(f"timeout is a number of seconds above 0, not {timeout!r}", "", "e.g. timeout=5")
    deadline = time.monotonic() + timeout
    while True:
        link = _need(name, netns)
        # Right after `up` a veth says UNKNOWN for a moment, even with its carrier; lo (no kind)
        # says UNKNOWN for good.
        if link.up and link.carrier and (link.state == "UP" or (link.state == "UNKNOWN" and not link.kind)):
            return link
        if time.monotonic() > deadline:
            raise LabError(f"{name} is not up", f"state {link.state} after {timeout} s",
                           "Set both ends of a veth up: a veth has carrier only when its peer is up")
        time.sleep(0.05)


def add_address(name: str, cidr: str, netns: str | None = None) -> None:
    """Add address `cidr` ('10.207.0.1/24') to interface `name`; an address already there is kept."""
    _ifname(name)
    iface = _cidr(cidr)
    _mutable(netns, name)
    link = _need(name, netns)
    if any(a.address == str(iface) and a.ifname == name for a in addresses(netns, iface.version)):
        return
    _rtnl(netns, lambda ipr: _netlink(f"Cannot add {iface} to {name}", lambda: ipr.addr(
        "add", index=link.index, address=str(iface.ip), prefixlen=iface.network.prefixlen)))


def add_route(dst: str, netns: str | None = None, via: str | None = None, dev: str | None = None) -> None:
    """Add a route to `dst` ('default' or a prefix) via a gateway and/or out of a device; kept if there."""
    if dst == "default":
        target = ipaddress.ip_network("0.0.0.0/0")
    else:
        target = _network(dst)
    if via is None and dev is None:
        raise BadInput(f"A route to {dst} needs via= (a gateway) or dev= (an interface)", "",
                       "e.g. add_route('default', netns='lab-07-a', via='10.207.0.2')")
    gateway = _address(via) if via is not None else None
    if dev is not None:
        _ifname(dev)
    _mutable(netns, dev)
    link = _need(dev, netns) if dev is not None else None
    dst_text = "default" if target.prefixlen == 0 else str(target)
    for r in routes(netns):
        if r.dst == dst_text and (gateway is None or r.gateway == str(gateway)) and (dev is None or r.dev == dev):
            return
    spec: dict[str, Any] = {"dst": str(target.network_address), "dst_len": target.prefixlen}
    if gateway is not None:
        spec["gateway"] = str(gateway)
    if link is not None:
        spec["oif"] = link.index
    _rtnl(netns, lambda ipr: _netlink(f"Cannot add the route to {dst_text}", lambda: ipr.route("add", **spec)))


# -- what a namespace holds -------------------------------------------------------------------

def links(netns: str | None = None) -> list[Link]:
    """The interfaces of `netns` (None: this namespace), by index."""
    if netns is not None:
        netns_path(netns)
    found = _rtnl(netns, lambda ipr: [_link(m) for m in ipr.get_links()])
    return sorted(found, key=lambda link: link.index)


def addresses(netns: str | None = None, family: int = 4) -> list[Address]:
    """The IPv4 (family=4) or IPv6 (6) addresses in `netns`, with their interface."""
    if family not in (4, 6):
        raise BadInput(f"family is 4 or 6, not {family!r}", "", "addresses('lab-07-a', 4)")
    if netns is not None:
        netns_path(netns)

    def read(ipr: Any) -> list[Address]:
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
        msgs = ipr.get_addr(family=socket.AF_INET if family == 4 else socket.AF_INET6)
        return [Address(names.get(m["index"], str(m["index"])),
                        f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}", _SCOPES.get(m["scope"], str(m["scope"])))
                for m in msgs]

    return _rtnl(netns, read)


def routes(netns: str | None = None) -> list[Route]:
    """The IPv4 routes of the main table in `netns`, as `ip route` lists them."""
    if netns is not None:
        netns_path(netns)

    def read(ipr: Any) -> list[Route]:
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
        found = []
        for m in ipr.get_routes(family=socket.AF_INET, table=_MAIN_TABLE):
            if (m.get_attr("RTA_TABLE") or m["table"]) != _MAIN_TABLE:
                continue
            dst = m.get_attr("RTA_DST")
            found.append(Route(f"{dst}/{m['dst_len']}" if dst else "default",
                               names.get(m.get_attr("RTA_OIF"), "?"), m.get_attr("RTA_GATEWAY"),
                               m.get_attr("RTA_PREFSRC"), _SCOPES.get(m["scope"], str(m["scope"])),
                               _PROTOS.get(m["proto"], str(m["proto"]))))
        return found

    return _rtnl(netns, read)


# -- using a namespace --------------------------------------------------------------------------

def socket_in(netns: str, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM,
              proto: int = 0) -> socket.socket:
    """A socket that belongs to network namespace `netns`, usable from here (a socket keeps the
    namespace it was made in). Close it before you delete the namespace: it keeps it alive."""
    path = netns_path(netns)
    return _in_thread(lambda: socket.socket(family, type, proto), netns_file=path)


def run_in(netns: str, argv: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run a command in network namespace `netns` (like `ip netns exec`, without its /sys remount)."""
    return ns.join_command({"net": str(netns_path(netns))}, argv, timeout=timeout)


def call_in(netns: str, fn: Callable[..., Any], *args: Any, timeout: float = 30.0) -> Any:
    """Run fn(*args) in a forked child that joined network namespace `netns`; returns its result."""
    return ns.join({"net": str(netns_path(netns))}, fn, None, *args, timeout=timeout)


# -- helpers ------------------------------------------------------------------------------------

def _in_thread(work: Callable[..., Any], *args: Any, netns_file: Path | None = None) -> Any:
    """Run work(*args) in a new thread (first joined to `netns_file`'s namespace) and return its result.

    setns(CLONE_NEWNET) and unshare(CLONE_NEWNET) change only the calling thread; the
    thread ends right after, so nothing else in this process ever changes namespace.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            if netns_file is not None:
                fd = os.open(netns_file, os.O_RDONLY)
                try:
                    setns(fd, CLONE_NEWNET)
                finally:
                    os.close(fd)
            box["value"] = work(*args)
        except BaseException as err:      # carried to the caller's thread
            box["error"] = err

    thread = threading.Thread(target=target, name="labkit-netns", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _rtnl(netns: str | None, work: Callable[[Any], Any]) -> Any:
    """work(ipr) with a pyroute2 IPRoute of network namespace `netns`, in a thread of its own.

    The thread joins the namespace, so the netlink socket is made there; and it has no
    running asyncio loop (a notebook's main thread has one, which pyroute2 cannot share).
    """
    from pyroute2 import IPRoute

    def session() -> Any:
        ipr = IPRoute()
        try:
            return work(ipr)
        finally:
            ipr.close()

    return _in_thread(session, netns_file=None if netns is None else netns_path(netns))


def _netlink(what: str, call: Callable[[], Any]) -> Any:
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        return call()
    except NetlinkError as err:
        name = errno.errorcode.get(err.code, str(err.code))
        raise LabError(what, f"{name} ({os.strerror(err.code)})", _HINTS.get(err.code, "See rtnetlink(7)")) from None


_HINTS = {
    errno.EEXIST: "It exists already: pick another name or address, or delete the old one",
    errno.ENODEV: "No such interface in that namespace: list them with labkit.net.links(netns)",
    errno.ENETUNREACH: "The gateway is not on any connected network: add an address in its subnet first",
    errno.EPERM: "This needs CAP_NET_ADMIN: run as root",
    errno.EOPNOTSUPP: "This kernel does not support that kind of link",
}


def _link(m: Any) -> Link:
    info = m.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else ""
    peer = m.get_attr("IFLA_LINK")
    return Link(m.get_attr("IFLA_IFNAME"), m["index"], kind or "", m.get_attr("IFLA_OPERSTATE") or "?",
                bool(m["flags"] & 1), m.get_attr("IFLA_ADDRESS") or "",
                peer if kind == "veth" and peer else None, bool(m.get_attr("IFLA_CARRIER")))


def _find(name: str, netns: str | None) -> Link | None:
    return next((link for link in links(netns) if link.name == name), None)


def _need(name: str, netns: str | None) -> Link:
    link = _find(name, netns)
    if link is None:
        raise LabError(f"There is no interface {name!r} in {_where(netns)}",
                       f"it has: {', '.join(x.name for x in links(netns))}", "Make it first, e.g. with labkit.net.veth")
    return link


def _where(netns: str | None) -> str:
    return "this network namespace" if netns is None else f"network namespace {netns}"


def _is_mount_point(path: Path) -> bool:
    return any(m.point == str(path) for m in ns.mounts())


def _is_nsfs(path: Path) -> bool:
    return any(m.point == str(path) and m.fstype == "nsfs" for m in ns.mounts())


def _lab_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _LAB_NAME.match(name) or len(name) > 64:
        raise BadInput(f"{name!r} is not a lab {what} name", "what a lesson makes is named lab-NN-something "
                       "(letters, digits, . _ -)", "Use a name like 'lab-07-a', so `labkit.clean` can find it")
    return name


def _any_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _ANY_NAME.match(name) or name in (".", ".."):
        raise BadInput(f"{name!r} is not a {what} name", "", "Names are like 'lab-07-a'; `ip netns list` shows them")
    return name


def _ifname(name: object, new: bool = False) -> str:
    if not isinstance(name, str) or not name or len(name) > IFNAMSIZ or not _ANY_NAME.match(name):
        raise BadInput(f"{name!r} is not an interface name", f"at most {IFNAMSIZ} characters, no spaces or slashes",
                       "e.g. 'lab-07-va'")
    if new and not name.startswith("lab-"):
        raise BadInput(f"{name!r} is not a lab interface name", "interfaces a lesson makes are named lab-NN-…",
                       "Use a name like 'lab-07-va' (15 characters at most)")
    return name


def _mutable(netns: str | None, ifname: str | None = None) -> None:
    """Lessons change their own namespaces; in this machine's namespace, only their own interfaces."""
    if netns is not None:
        _any_name(netns, "network namespace")
        if not netns.startswith("lab-"):
            raise BadInput(f"{netns!r} is not a lab network namespace", "labkit changes only what lessons made",
                           "Use a namespace named lab-NN-…")
        netns_path(netns)
    elif ifname is not None and not ifname.startswith("lab-"):
        raise BadInput(f"labkit does not change {ifname!r} in this machine's own network namespace",
                       "a lesson changes only interfaces it made (lab-NN-…)", "Work in a namespace of the lesson's own")


def _cidr(cidr: object) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    if not isinstance(cidr, str) or "/" not in cidr:
        raise BadInput(f"{cidr!r} is not an address with a prefix length", "", "Write it like '10.207.0.1/24'")
    try:
        return ipaddress.ip_interface(cidr)
    except ValueError as err:
        raise BadInput(f"{cidr!r} is not an address with a prefix length", str(err), "Write it like '10.207.0.1/24'") from None


def _network(text: object) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=True) if isinstance(text, str) else None
    except ValueError as err:
        raise BadInput(f"{text!r} is not a network prefix", str(err), "Write it like '10.207.0.0/24', or 'default'") from None
    if net is None or net.version != 4:
        raise BadInput(f"{text!r} is not an IPv4 network prefix", "", "Write it like '10.207.0.0/24', or 'default'")
    return net


def _address(text: object) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.ip_address(text) if isinstance(text, str) else None
    except ValueError as err:
        raise BadInput(f"{text!r} is not an IP address", str(err), "Write it like '10.207.0.1'") from None
    if addr is None or addr.version != 4:
        raise BadInput(f"{text!r} is not an IPv4 address", "", "Write it like '10.207.0.1'")
    return addr
