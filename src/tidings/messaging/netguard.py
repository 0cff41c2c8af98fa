"""Refuse outbound HTTP requests to private, loopback and link-local addresses (SSRF guard).

Customer-supplied URLs (delivery notifications, webhooks) are fetched from inside the operator's
network, so without this check a customer could reach internal services. Every address the host
resolves to is checked; an operator running everything on one private network can allow them with
TIDINGS_OUTBOUND_ALLOW_PRIVATE=true.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeUrl(ValueError):
    """The URL is not http(s), has no host, or reaches an address that outbound requests may not."""


def is_public_address(address: str) -> bool:
    """Whether an IP address is globally routable (not private, loopback, link-local, reserved ...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


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


async def check_url(url: str, allow_private: bool) -> list[str]:
    """Resolve the URL's host and return its addresses; UnsafeUrl when any of them is not public.

    With `allow_private` only the form of the URL is checked. A host that does not resolve is unsafe
    too (there is nothing to call).
    """
    host, port = parse_target(url)
    if allow_private:
        return []
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"host {host!r} does not resolve: {exc}") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise UnsafeUrl(f"host {host!r} does not resolve")
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeUrl(f"host {host!r} resolves to a non-public address ({address})")
    return addresses
