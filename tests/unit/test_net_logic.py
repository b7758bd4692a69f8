"""labkit.net's pure parts: how routes print, and the names, addresses and prefixes it refuses
before it touches netlink or /run/netns."""
from __future__ import annotations

import pytest

from labkit import net
from labkit.errors import BadInput


def test_routes_print_as_ip_route_does():
    connected = net.Route("10.207.0.0/24", "lab-07-va", None, "10.207.0.1", "link", "kernel")
    assert str(connected) == "10.207.0.0/24 dev lab-07-va proto kernel scope link src 10.207.0.1"
    default = net.Route("default", "lab-07-va", "10.207.0.2", None, "global", "static")
    assert str(default) == "default via 10.207.0.2 dev lab-07-va proto static"


def test_links_and_addresses_print_in_one_line():
    assert str(net.Link("lab-07-va", 2, "veth", "UP", True, "02:00:00:00:00:01", 2)) == "2: lab-07-va veth UP 02:00:00:00:00:01"
    assert str(net.Address("lo", "127.0.0.1/8", "host")) == "lo 127.0.0.1/8 scope host"


@pytest.mark.parametrize("call, match", [
    (lambda: net.create_netns("a"), "not a lab network namespace name"),
    (lambda: net.create_netns("lab-07-a/../x"), "not a lab network namespace name"),
    (lambda: net.create_netns(7), "not a lab network namespace name"),
    (lambda: net.create_netns("lab-" + "x" * 70), "not a lab network namespace name"),
    (lambda: net.delete_netns("cni-1234"), "not a lab network namespace name"),
    (lambda: net.netns_path("../etc"), "not a network namespace name"),
    (lambda: net.veth("lab-07-much-too-long", "lab-07-vb"), "not an interface name"),
    (lambda: net.veth("eth9", "lab-07-vb"), "not a lab interface name"),
    (lambda: net.veth("lab-07-va", "lab 07 vb"), "not an interface name"),
    (lambda: net.veth("lab-07-va", "lab-07-va"), "same namespace"),
    (lambda: net.veth("lab-07-va", "lab-07-vb", netns="cni-1234"), "not a lab network namespace"),
    (lambda: net.delete_link("eth0"), "not a lab interface name"),
    (lambda: net.link_up("eth0"), "does not change 'eth0'"),
    (lambda: net.add_address("eth0", "10.207.0.1/24"), "does not change 'eth0'"),
    (lambda: net.add_address("lab-07-va", "10.207.0.1"), "with a prefix length"),
    (lambda: net.add_address("lab-07-va", "10.207.0.300/24"), "with a prefix length"),
    (lambda: net.add_address("lab-07-va", None), "with a prefix length"),
    (lambda: net.add_route("10.207.0.1/24", dev="lab-07-va"), "not a network prefix"),
    (lambda: net.add_route("fd00::/64", dev="lab-07-va"), "not an IPv4 network prefix"),
    (lambda: net.add_route("default"), "needs via="),
    (lambda: net.add_route("default", via="10.207.0"), "not an IP address"),
    (lambda: net.add_route("default", dev="eth0"), "does not change 'eth0'"),
    (lambda: net.addresses(family=5), "family is 4 or 6"),
    (lambda: net.wait_up("lab-07-va", timeout=0), "timeout"),
])
def test_bad_input_is_refused_before_anything_is_made(call, match):
    with pytest.raises(BadInput, match=match):
        call()
