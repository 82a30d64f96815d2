"""Which IP addresses a webhook may be delivered to: an explicit list this code owns.

``ipaddress``'s ``is_global`` changes its answer between Python patch releases (on 3.11.7
most of 192.0.0.0/24 counts as global), so the SSRF filter cannot lean on it. The ranges
below are IANA's special-purpose address registries
(https://www.iana.org/assignments/iana-ipv4-special-registry/,
https://www.iana.org/assignments/iana-ipv6-special-registry/) plus multicast, taken whole:
a range the registry marks "globally reachable" (AS112, AMT, the anycast /32s in
192.0.0.0/24) is still no place for a tenant's webhook. IPv6 must also lie in 2000::/3, the
only block IANA allocates as global unicast. An IPv6 address that carries an IPv4 address
(mapped, SIIT, IPv4-compatible, NAT64, 6to4) is judged by the IPv4 address it carries.
"""

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV4_REFUSED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this network (RFC 791)"),
    ("10.0.0.0/8", "private use (RFC 1918)"),
    ("100.64.0.0/10", "shared address space, carrier-grade NAT (RFC 6598)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    ("169.254.0.0/16", "link local, cloud metadata (RFC 3927)"),
    ("172.16.0.0/12", "private use (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.0.2.0/24", "documentation, TEST-NET-1 (RFC 5737)"),
    ("192.31.196.0/24", "AS112-v4 (RFC 7535)"),
    ("192.52.193.0/24", "AMT (RFC 7450)"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
    ("192.168.0.0/16", "private use (RFC 1918)"),
    ("192.175.48.0/24", "direct delegation AS112 service (RFC 7534)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", "documentation, TEST-NET-2 (RFC 5737)"),
    ("203.0.113.0/24", "documentation, TEST-NET-3 (RFC 5737)"),
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved (RFC 1112)"),
    ("255.255.255.255/32", "limited broadcast (RFC 919)"),
)

IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")

IPV6_REFUSED: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified (RFC 4291)"),
    ("::1/128", "loopback (RFC 4291)"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
    ("100::/64", "discard-only (RFC 6666)"),
    ("100:0:0:1::/64", "dummy IPv6 prefix (RFC 9780)"),
    ("2001::/23", "IETF protocol assignments, incl. Teredo 2001::/32 (RFC 2928)"),
    ("2001:db8::/32", "documentation (RFC 3849)"),
    ("2620:4f:8000::/48", "direct delegation AS112 service (RFC 7534)"),
    ("3fff::/20", "documentation (RFC 9637)"),
    ("5f00::/16", "segment routing SIDs (RFC 9602)"),
    ("fc00::/7", "unique local (RFC 4193)"),
    ("fe80::/10", "link-local unicast (RFC 4291)"),
    ("fec0::/10", "deprecated site-local (RFC 3879)"),
    ("ff00::/8", "multicast (RFC 4291)"),
)

# IPv6 prefixes whose last 32 bits are an IPv4 address: IPv4-mapped, SIIT IPv4-translated,
# the deprecated IPv4-compatible form and well-known NAT64. 6to4 (2002::/16) carries its
# IPv4 address in bits 16-48 instead.
_CARRY_IPV4_LOW32 = tuple(
    ipaddress.IPv6Network(prefix)
    for prefix in ("::ffff:0:0/96", "::ffff:0:0:0/96", "::/96", "64:ff9b::/96")
)
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")

_V4 = tuple(ipaddress.IPv4Network(net) for net, _ in IPV4_REFUSED)
_V6 = tuple(ipaddress.IPv6Network(net) for net, _ in IPV6_REFUSED)


def is_deliverable(address: str | IPAddress) -> bool:
    """True when a webhook may be sent to ``address`` (scope ids are ignored)."""
    ip = address if not isinstance(address, str) else _parse(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return not any(ip in net for net in _V4)
    if any(ip in net for net in _CARRY_IPV4_LOW32) and ip != ipaddress.IPv6Address("::1"):
        if ip == ipaddress.IPv6Address("::"):
            return False
        return is_deliverable(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _SIX_TO_FOUR:
        return is_deliverable(ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF))
    if ip not in IPV6_GLOBAL_UNICAST:
        return False
    return not any(ip in net for net in _V6)


def _parse(address: str) -> IPAddress:
    return ipaddress.ip_address(address.split("%", 1)[0])
