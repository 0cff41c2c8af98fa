"""Refuse outbound HTTP requests to private, loopback and link-local addresses (SSRF guard).

Customer-supplied URLs (delivery notifications, webhooks) are fetched from inside the operator's
network, so without this check a customer could reach internal services. Every address the host
resolves to is checked; an operator running everything on one private network can allow them with
TIDINGS_OUTBOUND_ALLOW_PRIVATE=true.

Checking a name and then letting httpx resolve it again leaves a gap (DNS rebinding: the second
answer can be private), so `client()` gives an httpx client whose httpcore network backend resolves
once, checks those addresses and connects to one of them; TLS still verifies the certificate and
sends SNI for the host name, because httpcore takes both from the URL, not from the socket.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx


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


def check_static(url: str, allow_private: bool) -> tuple[str, int]:
    """What can be checked without DNS: http(s), a host, a port, and no literal private address or localhost.

    For validating a URL when it is saved; the addresses are checked again on every connection.
    """
    host, port = parse_target(url)
    if allow_private:
        return host, port
    if host == "localhost" or host.endswith(".localhost"):
        # RFC 6761: these names are loopback wherever they are resolved.
        raise UnsafeUrl(f"host {host!r} is a loopback name")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host, port
    if not is_public_address(host):
        raise UnsafeUrl(f"host {host!r} is a non-public address")
    return host, port


async def check_url(url: str, allow_private: bool) -> list[str]:
    """Resolve the URL's host and return its addresses; UnsafeUrl when any of them is not public.

    With `allow_private` only the form of the URL is checked. A host that does not resolve is unsafe
    too (there is nothing to call).
    """
    host, port = parse_target(url)
    if allow_private:
        return []
    try:
        addresses = sorted(await resolve(host, port))
    except OSError as exc:
        raise UnsafeUrl(f"host {host!r} does not resolve: {exc}") from None
    check_addresses(host, addresses)
    return addresses


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, connecting only to addresses resolved and checked here."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve, check (UnsafeUrl, not retried) and connect to the first checked address that answers."""
        try:
            with anyio.fail_after(timeout):
                addresses = await resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"host {host!r} does not resolve: {exc}") from None
        if not self.allow_private:
            check_addresses(host, addresses)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # resolve() never returns an empty list
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: outbound calls go to URLs, not local sockets."""
        raise UnsafeUrl("unix sockets are not an outbound target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool that uses PinnedBackend (no proxies: they would resolve for us)."""

    def __init__(self, allow_private: bool, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        limits = httpx.Limits()
        # httpx has no parameter for httpcore's network backend, so its pool is rebuilt the way httpx
        # builds it (same SSL context and limits), with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=PinnedBackend(allow_private))


def client(allow_private: bool, *, timeout: float, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The httpx client for customer-supplied URLs: checked addresses only, no redirects, no proxies from the env.

    A refused address raises UnsafeUrl out of the request (not an httpx.HTTPError: it is not worth a retry).
    """
    return httpx.AsyncClient(transport=PinnedTransport(allow_private, verify), timeout=timeout,
                             follow_redirects=False, trust_env=False)
