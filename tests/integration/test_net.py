"""labkit.net against the real kernel: named network namespaces, a veth pair, addresses, routes,
traffic between them, and nothing half-made when a call fails."""
from __future__ import annotations

import os
import socket
import time

import pytest

from labkit import inventory, net, ns
from labkit.errors import LabError

pytestmark = pytest.mark.integration

A, B = "lab-07-t-a", "lab-07-t-b"
VA, VB = "lab-07-t-va", "lab-07-t-vb"


def ours() -> dict[str, set[str]]:
    """Everything of this test's names: netns, their mounts, host interfaces."""
    return {
        "netns": {n for n in inventory.netns() if n.startswith("lab-07-t-")},
        "mounts": {m for m in inventory.mounts() if "lab-07-t-" in m},
        "interfaces": {i for i in inventory.interfaces() if i.startswith("lab-07-t-")},
    }


@pytest.fixture
def pair(root):
    """Two namespaces joined by a veth pair with addresses, links up; removed afterwards."""
    for name in (A, B):
        net.create_netns(name)
    net.veth(VA, VB, netns=A, peer_netns=B)
    for name, link, address in ((A, VA, "10.207.9.1/24"), (B, VB, "10.207.9.2/24")):
        net.add_address(link, address, netns=name)
        net.link_up("lo", netns=name)
        net.link_up(link, netns=name)
    for name, link in ((A, VA), (B, VB)):
        net.wait_up(link, netns=name)        # the operstate settles: later comparisons are stable
    yield
    for name in (A, B):
        net.delete_netns(name)
    assert ours() == {"netns": set(), "mounts": set(), "interfaces": set()}


@pytest.fixture(autouse=True)
def nothing_before(root):
    for name in (A, B):
        net.delete_netns(name)
    yield


def test_a_named_netns_is_an_nsfs_bind_mount_that_ip_sees(root):
    path = net.create_netns(A)
    try:
        assert path == net.NETNS_DIR / A and A in net.netns_list()
        assert any(m.point == str(path) and m.fstype == "nsfs" for m in ns.mounts())
        assert net.create_netns(A) == path                  # again: kept as it is
        assert [link.name for link in net.links(A)] == ["lo"]
        assert not net.links(A)[0].up
        ip = os.popen(f"ip netns list; ip -n {A} -o link").read()
        assert A in ip and "lo:" in ip
        assert os.stat(path).st_ino != ns.inode("self", "net")
    finally:
        assert net.delete_netns(A) is True
    assert net.delete_netns(A) is False
    assert ours()["mounts"] == set()


def test_the_pair_talks_and_each_side_has_its_own_routes(pair):
    assert (net.wait_up(VA, netns=A).kind, net.wait_up(VA, netns=A).state) == ("veth", "UP")
    assert net.wait_up("lo", netns=A).state == "UNKNOWN"          # loopback never says more
    assert [str(r) for r in net.routes(A)] == ["10.207.9.0/24 dev lab-07-t-va proto kernel scope link src 10.207.9.1"]
    assert {(a.ifname, a.address) for a in net.addresses(B)} == {("lo", "127.0.0.1/8"), (VB, "10.207.9.2/24")}
    assert not any(r.dst.startswith("10.207.9.") for r in net.routes())        # the host has no route there
    assert VA not in inventory.interfaces() and VB not in inventory.interfaces()
    ping = net.run_in(A, ["busybox", "ping", "-c", "1", "-W", "2", "10.207.9.2"])
    assert ping.returncode == 0 and "1 packets received" in ping.stdout
    assert net.call_in(B, lambda: sorted(name for _, name in socket.if_nameindex())) == sorted(["lo", VB])


def test_sockets_made_in_a_namespace_carry_udp_across_the_veth(pair):
    receiver, sender = net.socket_in(B), net.socket_in(A)
    try:
        receiver.bind(("10.207.9.2", 7007))
        receiver.settimeout(5)
        sender.sendto(b"ping", ("10.207.9.2", 7007))
        data, (source, _port) = receiver.recvfrom(64)
    finally:
        receiver.close()
        sender.close()
    assert (data, source) == (b"ping", "10.207.9.1")


def test_repeating_a_call_keeps_what_is_there(pair):
    net.veth(VA, VB, netns=A, peer_netns=B)
    net.add_address(VA, "10.207.9.1/24", netns=A)
    net.add_route("default", netns=A, via="10.207.9.2")
    net.add_route("default", netns=A, via="10.207.9.2")
    net.add_route("10.207.8.0/24", netns=B, dev=VB)
    assert [str(r) for r in net.routes(A)].count("default via 10.207.9.2 dev lab-07-t-va proto static") == 1
    assert any(r.dst == "10.207.8.0/24" and r.dev == VB for r in net.routes(B))
    assert [a.address for a in net.addresses(A) if a.ifname == VA] == ["10.207.9.1/24"]


def test_a_veth_in_the_hosts_namespace_and_its_deletion(root):
    net.create_netns(A)
    try:
        net.veth(VA, VB, peer_netns=A)                   # one end here, one in A
        assert VA in inventory.interfaces() and VB not in inventory.interfaces()
        assert [link.name for link in net.links(A)] == ["lo", VB]
        assert net.delete_link(VA) is True               # both ends go
        assert net.delete_link(VA) is False
        assert [link.name for link in net.links(A)] == ["lo"]
    finally:
        net.delete_netns(A)


def test_failures_leave_nothing_half_made(pair):
    before = ours()
    with pytest.raises(LabError, match="exists already"):
        net.veth(VA, "lab-07-t-other", netns=A, peer_netns=B)          # VA is taken, by another pair
    with pytest.raises(LabError, match="EEXIST|exists already"):
        net.veth("lab-07-t-new", VB, netns=A, peer_netns=B)
    with pytest.raises(LabError, match="no interface 'lab-07-t-none'"):
        net.add_address("lab-07-t-none", "10.207.9.5/24", netns=A)
    with pytest.raises(LabError, match="ENETUNREACH"):
        net.add_route("default", netns=A, via="10.9.9.9")
    with pytest.raises(LabError, match="no network namespace"):
        net.links("lab-07-t-absent")
    with pytest.raises(LabError, match="no network namespace"):
        net.veth("lab-07-t-x1", "lab-07-t-x2", netns=A, peer_netns="lab-07-t-absent")
    assert ours() == before
    assert [link.name for link in net.links(A)] == ["lo", VA]


def test_a_create_that_fails_takes_back_what_it_made(root):
    blocker = net.NETNS_DIR / "lab-07-t-dir"
    net.NETNS_DIR.mkdir(exist_ok=True)
    blocker.mkdir()                                  # a directory where the namespace file must go
    try:
        with pytest.raises(LabError, match="Cannot create network namespace"):
            net.create_netns("lab-07-t-dir")
        assert not any("lab-07-t-dir" in m for m in inventory.mounts())
    finally:
        blocker.rmdir()
    if not net.netns_list():
        assert "/run/netns" not in inventory.mounts()


def test_bad_input_to_every_public_function_changes_nothing(pair):
    before = (ours(), inventory.mounts(), inventory.interfaces(), net.links(A), net.addresses(A), net.routes(A))
    calls = [
        lambda: net.create_netns("not-lab"), lambda: net.delete_netns("../x"), lambda: net.netns_path(""),
        lambda: net.veth(VA, "x" * 16, netns=A), lambda: net.veth("lab-07-t-n1", "lab-07-t-n2", netns="cni-x"),
        lambda: net.delete_link("lo", netns=A), lambda: net.link_up("eth0"), lambda: net.wait_up("lab 07", netns=A),
        lambda: net.add_address(VA, "10.207.9.7", netns=A), lambda: net.add_route("10.207.9.0/33", netns=A, dev=VA),
        lambda: net.add_route("default", netns=A), lambda: net.links("a/b"), lambda: net.addresses(A, family=0),
        lambda: net.routes(".."), lambda: net.socket_in("lab-07-t-absent"), lambda: net.run_in(A, "true"),
        lambda: net.run_in("lab-07-t-absent", ["true"]), lambda: net.call_in(A, "not a function"),
    ]
    for call in calls:
        with pytest.raises(LabError):          # BadInput is a LabError too
            call()
    assert (ours(), inventory.mounts(), inventory.interfaces(), net.links(A), net.addresses(A), net.routes(A)) == before


def test_wait_up_gives_up_on_a_veth_whose_peer_is_down(root):
    net.create_netns(A)
    try:
        net.veth(VA, VB, netns=A, peer_netns=A)
        net.link_up(VA, netns=A)
        started = time.monotonic()
        with pytest.raises(LabError, match="not up"):
            net.wait_up(VA, netns=A, timeout=0.3)
        assert time.monotonic() - started < 5
    finally:
        net.delete_netns(A)
