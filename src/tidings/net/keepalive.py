"""Kept-alive HTTP/1.1 calls to customer-supplied URLs: a request out, the answer's status back.

Notifications are thousands of small calls to a few receivers. Through httpx a call cost most of a
millisecond of CPU, through h11 over asyncio streams about 0.3 ms; here a connection is an asyncio
protocol whose answers are parsed by httptools (llhttp, in C) and a request is one write of bytes
built here. Connections are opened by `sockets.open_socket` (resolved once, every address checked,
as for SMTP), TLS verifies the certificate for the URL's host, no redirect is followed and no proxy
is used.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import re
import ssl
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import httptools

from tidings.net import sockets
from tidings.net.addresses import UnsafeUrl
from tidings.net.http import verified_context

MAX_IDLE_PER_ORIGIN = 1024  # as many as the engine may have calls in flight: no connection churn at full speed
MAX_BODY = 1 << 20  # an answer's body is read and dropped; a longer one closes the connection
# Characters kept as written in a path or query: what is already percent-encoded stays so.
_SAFE = "/%:@!$&'()*+,;=-._~"
# What may not appear in a header value: it would end the header (request smuggling) or is not text.
_NOT_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class CallFailed(Exception):
    """The call got no complete HTTP answer; the message names the failure, never the URL."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # as connected to and checked: lower case, IDNA-encoded
    port: int
    host_header: str
    target: str  # path and query
    authorization: str | None


@functools.lru_cache(maxsize=4096)
def parse(url: str) -> Target:
    """The parts of an http(s) URL a request needs; UnsafeUrl for anything else.

    Remembered per URL: an account's event URL is called thousands of times.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii") if parts.hostname else ""
    except (ValueError, UnicodeError):
        raise UnsafeUrl("the URL is not valid") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UnsafeUrl("only http and https URLs with a host are allowed")
    default = 443 if parts.scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port in (None, default) else f"{shown}:{port}"
    target = quote(parts.path or "/", safe=_SAFE) + ("?" + quote(parts.query, safe=_SAFE + "?") if parts.query else "")
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    if _NOT_IN_VALUE.search(host_header) or not target.isascii():
        raise UnsafeUrl("the URL is not valid")
    return Target(parts.scheme, host, port or default, host_header, target, authorization)


def request_head(method: str, target: Target, headers: Mapping[str, str] | None, length: int | None) -> bytes:
    """The request line and headers; UnsafeUrl when a header value could not be sent as it is."""
    lines = [f"{method} {target.target} HTTP/1.1", f"Host: {target.host_header}"]
    for name, value in (headers or {}).items():
        if _NOT_IN_VALUE.search(value) or _NOT_IN_VALUE.search(name) or ":" in name or " " in name:
            raise UnsafeUrl("a header of the call is not valid")
        lines.append(f"{name}: {value}")
    if target.authorization is not None:
        lines.append(f"Authorization: {target.authorization}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("ascii")
    except UnicodeEncodeError:
        raise UnsafeUrl("a header of the call is not valid") from None


class _Connection(asyncio.Protocol):
    """One kept-alive connection: at most one request in flight, its answer parsed as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None
        self.lost: asyncio.Future[None] = loop.create_future()
        self.closed = False
        self.answered = False  # some of the current answer arrived: the request was received
        self.status = 0
        self.body = 0
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # nothing was asked: a receiver that talks out of turn is not reused
            self.close()
            return
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(CallFailed(f"{type(exc).__name__}: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.status and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.status)  # an answer whose body ends with the connection: its status counts
        self._fail(CallFailed("the connection was closed before the answer" if exc is None
                              else f"{type(exc).__name__}: {exc}"))
        if not self.lost.done():
            self.lost.set_result(None)

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body += len(body)
        if self.body > MAX_BODY:
            self._fail(CallFailed("the answer's body is too long"))
            self.close()

    def on_message_complete(self) -> None:
        if self.status < 200:  # an interim answer (100 Continue): the final one follows on the same request
            self.status = 0
            return
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.status)

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def _timed_out(self) -> None:
        self._fail(TimeoutError())

    async def exchange(self, data: bytes, deadline: float) -> int:
        """Send one request and wait for its answer's status until `deadline` (the loop's clock)."""
        assert self.transport is not None
        self.waiter = waiter = self.loop.create_future()
        self.answered, self.status, self.body = False, 0, 0
        self.transport.write(data)
        timer = self.loop.call_at(deadline, self._timed_out)
        try:
            return await waiter
        finally:
            timer.cancel()
            self.waiter = None

    def reusable(self) -> bool:
        """Still open as far as the event loop knows (a receiver's close arrives as connection_lost)."""
        return not self.closed and self.keep_alive and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Caller:
    """Calls over kept-alive connections, per origin; `allow_private` as for every outbound target."""

    def __init__(self, allow_private: bool, *, timeout: float, tls: ssl.SSLContext) -> None:
        self.allow_private, self.timeout, self.tls = allow_private, timeout, tls
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._open: set[_Connection] = set()
        self.closed = False

    async def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                      content: bytes | None = None) -> int:
        """The answer's status code. UnsafeUrl when the guard refuses the URL or its addresses; CallFailed or
        TimeoutError when no complete answer came (a stale kept-alive connection is replaced once)."""
        if self.closed:
            raise CallFailed("the caller is closed")
        target = parse(url)
        data = request_head(method, target, headers, None if content is None else len(content))
        if content:
            data += content
        key = (target.scheme, target.host, target.port)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        for attempt in (1, 2):
            connection = self._take(key)
            reused = connection is not None
            if connection is None:
                async with asyncio.timeout_at(deadline):
                    connection = await self._open_connection(loop, target)
            try:
                status = await connection.exchange(data, deadline)
            except CallFailed:
                self._drop(connection)
                if reused and attempt == 1 and not connection.answered:
                    # The receiver closed the idle connection as we used it (a restart closes them all):
                    # once more, on a new one.
                    for stale in self._idle.pop(key, ()):
                        self._drop(stale)
                    continue
                raise
            except BaseException:
                self._drop(connection)  # cancelled or timed out mid-answer: its state is unknown
                raise
            self._give_back(key, connection)
            return status
        raise AssertionError("unreachable")  # pragma: no cover

    def _take(self, key: tuple[str, str, int]) -> _Connection | None:
        """A kept-alive connection to the origin, the most recently used (the least likely to have been closed)."""
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.reusable():
                return connection
            self._drop(connection)
        return None

    async def _open_connection(self, loop: asyncio.AbstractEventLoop, target: Target) -> _Connection:
        """A new connection; UnsafeUrl passes, other failures are CallFailed."""
        try:
            sock = await sockets.open_socket(target.host, target.port, allow_private=self.allow_private,
                                             timeout=self.timeout)
        except sockets.Unreachable as exc:
            raise CallFailed(f"ConnectError: {exc}") from None
        https = target.scheme == "https"
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(loop), sock=sock, ssl=self.tls if https else None,
                server_hostname=target.host if https else None)
        except OSError as exc:  # TLS: the certificate, the handshake
            sock.close()
            raise CallFailed(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            sock.close()
            raise
        self._open.add(connection)
        return connection

    def _give_back(self, key: tuple[str, str, int], connection: _Connection) -> None:
        if self.closed or not connection.reusable():
            self._drop(connection)
            return
        idle = self._idle.setdefault(key, deque())
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            self._drop(idle.popleft())
        idle.append(connection)

    def _drop(self, connection: _Connection) -> None:
        self._open.discard(connection)
        connection.close()

    async def aclose(self) -> None:
        """Close every connection, idle or in use."""
        self.closed = True
        self._idle.clear()
        connections, self._open = list(self._open), set()
        for connection in connections:
            connection.close()
        for connection in connections:
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(connection.lost), 2)


# One caller per (event loop, allow_private, timeout): a receiver's calls share its kept-alive connections.
_SHARED: dict[tuple[asyncio.AbstractEventLoop, bool, float], Caller] = {}


def shared(allow_private: bool, *, timeout: float) -> Caller:
    """This event loop's caller for repeated calls to the same receivers; closed by `close_shared`.

    Kept-alive connections were checked when they were opened, to the address they are still bound
    to: reusing one does not reopen the DNS-rebinding gap.
    """
    key = (asyncio.get_running_loop(), allow_private, timeout)
    caller = _SHARED.get(key)
    if caller is None or caller.closed:
        for old in [k for k in _SHARED if k[0].is_closed()]:
            del _SHARED[old]  # a finished loop's connections went with it
        caller = _SHARED[key] = Caller(allow_private, timeout=timeout, tls=verified_context())
    return caller


async def close_shared() -> None:
    """Close this event loop's shared callers (at shutdown)."""
    loop = asyncio.get_running_loop()
    for key in [k for k in _SHARED if k[0] is loop]:
        await _SHARED.pop(key).aclose()
