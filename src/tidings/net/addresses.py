"""Which addresses outbound connections may reach, and the checks every outbound target goes through.

Customer-supplied targets (notification URLs, webhooks, mailbox SMTP and IMAP hosts) are reached from
inside the operator's network, so without these checks a customer could reach internal services.
An operator running everything on one private network allows them with TIDINGS_OUTBOUND_ALLOW_PRIVATE=true.

IPv6 addresses that carry an IPv4 address (IPv4-mapped and -compatible, NAT64, 6to4, Teredo) are
judged by the IPv4 address they lead to, and host names written as numbers (`2130706433`,
`0x7f000001`, `0177.1`) are read the way the system resolver reads them, because that is where a
connection would go.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# RFC 8215 local-use NAT64 prefix: leads into the operator's own network whatever it embeds.
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# RFC 4291 IPv4-compatible addresses (deprecated, still routed by some stacks): ::a.b.c.d.
_V4_COMPATIBLE = ipaddress.ip_network("::/96")
# What inet_aton could take for an IPv4 address: digits, hex, octal, one to four parts.
_NUMERIC_HOST = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}\.?$")


class UnsafeUrl(ValueError):
    """The target is not http(s), has no host, or reaches an address that outbound connections may not."""


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (mapped, compatible, NAT64, 6to4, Teredo), if any."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if ip in _NAT64 or (ip in _V4_COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def is_public_address(address: str | IPAddress) -> bool:
    """Whether an IP address is globally routable (not private, loopback, link-local, reserved ...)."""
    ip = address if not isinstance(address, str) else ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        inner = embedded_ipv4(ip)
        if inner:
            return all(is_public_address(v4) for v4 in inner)
    return ip.is_global and not ip.is_multicast


def literal_address(host: str) -> IPAddress | None:
    """The IP address a host name spells, in any form the system resolver accepts; None for a real name."""
    bare = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(bare):
        try:
            # inet_aton is what getaddrinfo applies to numeric names: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
            return ipaddress.IPv4Address(socket.inet_aton(bare.rstrip(".")))
        except OSError:
            return None
    return None


def normalize_host(host: str) -> str:
    """The host as it will be reached: a numeric host in dotted (or IPv6) form, a name lower-cased, no final dot."""
    literal = literal_address(host)
    if literal is not None:
        return str(literal)
    return host.strip().rstrip(".").lower()


def check_host(host: str, allow_private: bool) -> str:
    """What can be checked without DNS: a host, not a loopback name, not a literal non-public address.

    Returns the normalised host; UnsafeUrl otherwise.
    """
    if not host or not host.strip():
        raise UnsafeUrl("a host is required")
    normal = normalize_host(host)
    if allow_private:
        return normal
    if normal == "localhost" or normal.endswith(".localhost"):
        # RFC 6761: these names are loopback wherever they are resolved.
        raise UnsafeUrl(f"host {host!r} is a loopback name")
    literal = literal_address(normal)
    if literal is not None and not is_public_address(literal):
        raise UnsafeUrl(f"host {host!r} is a non-public address")
    return normal


def parse_target(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL; UnsafeUrl for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"malformed URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("only http and https URLs with a host are allowed")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_static(url: str, allow_private: bool) -> tuple[str, int]:
    """An http(s) URL's normalised host and port, refused (UnsafeUrl) when it names a loopback or private host.

    For validating a URL when it is saved; the addresses are checked again on every connection.
    """
    host, port = parse_target(url)
    return check_host(host, allow_private), port


async def resolve(host: str, port: int) -> list[str]:
    """Every address of a host (an IP literal is itself), in the resolver's order; OSError when it has none."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        raise socket.gaierror(str(exc)) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise socket.gaierror(f"no address for {host!r}")
    return addresses


def check_addresses(host: str, addresses: Iterable[str]) -> None:
    """UnsafeUrl when any address of the host is not public."""
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeUrl(f"host {host!r} resolves to a non-public address ({address})")


async def resolve_checked(host: str, port: int, allow_private: bool) -> list[str]:
    """The host's addresses, every one of them allowed; UnsafeUrl otherwise (OSError when it does not resolve).

    Connect to these addresses, never to the name again: a second lookup may answer differently.
    """
    check_host(host, allow_private)
    addresses = await resolve(host, port)
    if not allow_private:
        check_addresses(host, addresses)
    return addresses
