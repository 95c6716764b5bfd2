"""The webhook address policy: every non-public address is refused, including IPv6 forms that wrap one."""

from __future__ import annotations

import ipaddress

import pytest

from bugtrail.webhooks.ssrf import DestinationPolicy, RefusedDestination, embedded_ipv4, is_public_address

REFUSED = [
    # IPv4: loopback, private, link-local (cloud metadata), CGNAT, unspecified, broadcast, multicast, docs
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "224.0.0.1",
    "192.0.2.10",
    "198.18.0.1",
    "240.0.0.1",
    # IPv6: loopback, unspecified, unique-local, link-local, multicast, documentation
    "::1",
    "::",
    "fd00::1",
    "fc00::5",
    "fe80::1",
    "ff02::1",
    "2001:db8::1",
    # IPv4-mapped forms of non-public IPv4
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:192.168.0.1",
    # IPv4-compatible (deprecated ::/96) forms
    "::127.0.0.1",
    "::10.0.0.1",
    "::169.254.169.254",
    "::192.168.0.1",
    # 6to4 (2002::/16) embedding a non-public IPv4
    "2002:7f00:1::",  # 127.0.0.1
    "2002:a00:1::1",  # 10.0.0.1
    "2002:a9fe:a9fe::",  # 169.254.169.254
    "2002:c0a8:101:1::1",  # 192.168.1.1
    # NAT64, whatever they embed (the translator may reach inside)
    "64:ff9b::127.0.0.1",
    "64:ff9b::10.0.0.1",
    "64:ff9b::8.8.8.8",
    "64:ff9b:1::a00:1",
    "64:ff9b:1:ffff::1",
    # Teredo (2001::/32), whatever it embeds
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001::1",
    # Other special IPv6 ranges
    "100::1",  # discard-only
    "2001:10::1",  # ORCHID
]

ALLOWED = [
    "8.8.8.8",
    "93.184.216.34",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81b::200e",
    "::ffff:8.8.8.8",  # mapped public IPv4 is that IPv4
    "2002:808:808::1",  # 6to4 of a public IPv4
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not is_public_address(ip)
    policy = DestinationPolicy([], [], resolver=lambda host, port: [address])
    with pytest.raises(RefusedDestination) as raised:
        policy.resolve("http://hooks.example.test/h")
    assert "non-public" in raised.value.message
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(RefusedDestination):
        policy.resolve(f"http://{literal}/h")


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))
    policy = DestinationPolicy([], [], resolver=lambda host, port: [address])
    assert policy.resolve("https://hooks.example.test/h").ip == address


def test_one_bad_answer_among_good_ones_refuses_the_host() -> None:
    policy = DestinationPolicy([], [], resolver=lambda host, port: ["8.8.8.8", "64:ff9b::a00:1"])
    with pytest.raises(RefusedDestination):
        policy.resolve("http://hooks.example.test/h")


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("::10.1.2.3", "10.1.2.3"),
        ("2002:a01:203::", "10.1.2.3"),
        ("2606:4700::1", None),
    ],
)
def test_embedded_ipv4_is_unwrapped(address: str, inner: str | None) -> None:
    found = embedded_ipv4(ipaddress.IPv6Address(address))
    assert (str(found) if found else None) == inner


def test_explicitly_allowed_private_address_passes_in_either_form() -> None:
    policy = DestinationPolicy(
        [], ["127.0.0.1", "10.0.0.0/8"], resolver=lambda host, port: ["::ffff:127.0.0.1"]
    )
    assert policy.resolve("http://localhost:9/h").ip == "::ffff:127.0.0.1"
    assert policy.is_allowed_address("x", ipaddress.ip_address("::ffff:10.2.3.4"))
    # Allowing 10/8 does not open NAT64 or 6to4 wrappers of it (another hop decides where they go).
    assert not policy.is_allowed_address("x", ipaddress.ip_address("64:ff9b::a02:304"))
    assert not policy.is_allowed_address("x", ipaddress.ip_address("2002:a02:304::"))
