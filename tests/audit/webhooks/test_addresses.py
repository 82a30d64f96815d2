"""The SSRF filter's ranges, one by one: the first, a middle and the last address of every
IANA special-purpose range (and multicast) is refused, and so is every IPv6 form that carries
one of them. The list here is written out independently of the code's table on purpose."""

import ipaddress

import pytest

from audit.webhooks.addresses import IPV4_REFUSED, IPV6_REFUSED, is_deliverable

IANA_IPV4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.0.0/29",
    "192.0.0.8/32",
    "192.0.0.9/32",
    "192.0.0.10/32",
    "192.0.0.170/31",
    "192.0.2.0/24",
    "192.31.196.0/24",
    "192.52.193.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "192.175.48.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
]
IANA_IPV6 = [
    "::1/128",
    "::/128",
    "64:ff9b:1::/48",
    "100::/64",
    "100:0:0:1::/64",
    "2001::/23",
    "2001::/32",
    "2001:1::1/128",
    "2001:1::2/128",
    "2001:1::3/128",
    "2001:2::/48",
    "2001:3::/32",
    "2001:4:112::/48",
    "2001:10::/28",
    "2001:20::/28",
    "2001:30::/28",
    "2001:db8::/32",
    "2620:4f:8000::/48",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
]


def _samples(cidr):
    net = ipaddress.ip_network(cidr)
    return sorted({net.network_address, net[net.num_addresses // 2], net.broadcast_address})


@pytest.mark.parametrize("cidr", IANA_IPV4 + IANA_IPV6)
def test_every_special_purpose_range_is_refused_end_to_end(cidr):
    for address in _samples(cidr):
        assert not is_deliverable(str(address)), f"{address} in {cidr} was deliverable"


@pytest.mark.parametrize("cidr", IANA_IPV4)
def test_ipv4_ranges_are_refused_in_every_ipv6_disguise(cidr):
    for v4 in _samples(cidr):
        low32 = int(v4)
        disguises = [
            ipaddress.IPv6Address((0xFFFF << 32) | low32),  # ::ffff:a.b.c.d (mapped)
            ipaddress.IPv6Address((0xFFFF << 48) | low32),  # ::ffff:0:a.b.c.d (SIIT)
            ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | low32),  # NAT64
            ipaddress.IPv6Address(int(ipaddress.IPv6Address("2002::")) | (low32 << 80)),  # 6to4
        ]
        if low32 > 1:  # ::0 and ::1 are themselves special
            disguises.append(ipaddress.IPv6Address(low32))  # ::a.b.c.d (IPv4-compatible)
        for address in disguises:
            assert not is_deliverable(address), f"{address} carries {v4}"


def test_the_ranges_python_3_11_7_calls_global_are_refused():
    # ipaddress.is_global said True for these on 3.11.7; a hook there was delivered.
    for address in ["192.0.0.9", "192.0.0.10", "192.0.0.100", "192.0.0.170", "192.0.0.255"]:
        assert not is_deliverable(address)


@pytest.mark.parametrize(
    "address",
    [
        "1.1.1.1",
        "8.8.8.8",
        "93.184.215.14",
        "9.255.255.255",  # just below 10/8
        "11.0.0.0",  # just above 10/8
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.1",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "2606:4700::1111",
        "2a00:1450:4001::200e",
        "2001:200::1",  # just past 2001::/23
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "::ffff:8.8.8.8",
        "2002:808:808::1",  # 6to4 of 8.8.8.8
    ],
)
def test_public_addresses_are_deliverable(address):
    assert is_deliverable(address)


def test_ipv6_outside_global_unicast_is_refused():
    for address in ["4000::1", "8000::1", "e000::1", "1000::1", "fb00::1"]:
        assert not is_deliverable(address)


def test_the_code_table_covers_the_registry_listed_here():
    code = [ipaddress.ip_network(net) for net, _ in (*IPV4_REFUSED, *IPV6_REFUSED)]
    for cidr in IANA_IPV4 + IANA_IPV6:
        net = ipaddress.ip_network(cidr)
        assert any(net.subnet_of(c) for c in code if c.version == net.version), cidr  # type: ignore[arg-type]
