"""The pinned HTTP client for customer-supplied URLs.

Checking a name and then letting httpx resolve it again leaves a gap (DNS rebinding: the second
answer can be private), so `client()` gives an httpx client whose httpcore network backend resolves
once, checks those addresses and connects to one of them; TLS still verifies the certificate and
sends SNI for the host name, because httpcore takes both from the URL, not from the socket.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterable

import anyio
import httpcore
import httpx

from tidings.net import addresses
from tidings.net.addresses import UnsafeUrl


async def check_url(url: str, allow_private: bool) -> list[str]:
    """Resolve the URL's host and return its addresses; UnsafeUrl when any of them is not public.

    With `allow_private` only the form of the URL is checked. A host that does not resolve is unsafe
    too (there is nothing to call).
    """
    host, port = addresses.parse_target(url)
    if allow_private:
        return []
    addresses.check_host(host, allow_private)
    try:
        found = sorted(await addresses.resolve(host, port))
    except OSError as exc:
        raise UnsafeUrl(f"host {host!r} does not resolve: {exc}") from None
    addresses.check_addresses(host, found)
    return found


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
        if not self.allow_private:
            addresses.check_host(host, False)
        try:
            with anyio.fail_after(timeout):
                found = await addresses.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"host {host!r} does not resolve: {exc}") from None
        if not self.allow_private:
            addresses.check_addresses(host, found)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in found:
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


@functools.lru_cache(maxsize=1)
def verified_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds; every notification opened a client (two
    # contexts) and that, not the network, bounded notifications to a few dozen per second.
    return httpx.create_ssl_context(verify=True, trust_env=False)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool that uses PinnedBackend (no proxies: they would resolve for us)."""

    def __init__(self, allow_private: bool, verify: ssl.SSLContext | bool = True, *,
                 connections: int | None = None) -> None:
        context = verified_context() if verify is True else httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=context, trust_env=False)
        limits = (httpx.Limits() if connections is None
                  else httpx.Limits(max_connections=connections, max_keepalive_connections=connections))
        # httpx has no parameter for httpcore's network backend, so its pool is rebuilt the way httpx
        # builds it (same SSL context and limits), with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=PinnedBackend(allow_private))


def client(allow_private: bool, *, timeout: float, verify: ssl.SSLContext | bool = True,
           connections: int | None = None) -> httpx.AsyncClient:
    """The httpx client for customer-supplied URLs: checked addresses only, no redirects, no proxies from the env.

    A refused address raises UnsafeUrl out of the request (not an httpx.HTTPError: it is not worth a retry).
    `connections` caps its pool (httpx's default otherwise).
    """
    return httpx.AsyncClient(transport=PinnedTransport(allow_private, verify, connections=connections),
                             timeout=timeout, follow_redirects=False, trust_env=False)
