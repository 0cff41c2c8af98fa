"""Kept-alive HTTP/1.1 calls to customer-supplied URLs: a request out, the answer's status back.

Notifications are thousands of small calls to a few receivers. Through httpx a call cost most of a
millisecond of CPU (its pool checks every kept-alive connection with a syscall on each request);
here a call is one write and an h11 parse on a connection kept per origin. Connections are opened
by `sockets.open_socket` (resolved once, every address checked, as for SMTP), TLS verifies the
certificate for the URL's host, no redirect is followed and no proxy is used.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import h11

from tidings.net import sockets
from tidings.net.addresses import UnsafeUrl
from tidings.net.http import verified_context

MAX_IDLE_PER_ORIGIN = 128  # as many as the engine has calls in flight: no connection churn at full speed
MAX_BODY = 1 << 20  # an answer's body is read and dropped; a longer one closes the connection
_READ = 65536
# Characters kept as written in a path or query: what is already percent-encoded stays so.
_SAFE = "/%:@!$&'()*+,;=-._~"


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


def parse(url: str) -> Target:
    """The parts of an http(s) URL a request needs; UnsafeUrl for anything else."""
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
    return Target(parts.scheme, host, port or default, host_header, target, authorization)


class _Connection:
    __slots__ = ("reader", "writer", "protocol", "answered")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.protocol = h11.Connection(h11.CLIENT)
        self.answered = False  # some of the current answer arrived: the request was received

    def reusable(self) -> bool:
        """Still open as far as the event loop knows (a receiver's close arrives as EOF): no syscall here."""
        return not self.writer.is_closing() and not self.reader.at_eof() and self.protocol.our_state is h11.IDLE

    def close(self) -> None:
        self.writer.close()


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
        fields = [("Host", target.host_header), *(headers or {}).items()]
        if target.authorization is not None:
            fields.append(("Authorization", target.authorization))
        if content is not None:
            fields.append(("Content-Length", str(len(content))))
        try:
            request = h11.Request(method=method, target=target.target, headers=fields)
        except h11.LocalProtocolError:
            raise UnsafeUrl("the URL is not valid") from None
        key = (target.scheme, target.host, target.port)
        async with asyncio.timeout(self.timeout):
            for attempt in (1, 2):
                connection, reused = await self._take(key, target)
                try:
                    status = await self._exchange(connection, request, content)
                except (OSError, h11.ProtocolError, CallFailed) as exc:
                    self._drop(connection)
                    if reused and attempt == 1 and not connection.answered:
                        # The receiver closed the idle connection as we used it (a restart closes them all):
                        # once more, on a new one.
                        for stale in self._idle.pop(key, ()):
                            self._drop(stale)
                        continue
                    raise (exc if isinstance(exc, CallFailed) else CallFailed(f"{type(exc).__name__}: {exc}")) from None
                except BaseException:
                    self._drop(connection)  # cancelled or timed out mid-answer: its state is unknown
                    raise
                self._give_back(key, connection)
                return status
        raise AssertionError("unreachable")  # pragma: no cover

    async def _take(self, key: tuple[str, str, int], target: Target) -> tuple[_Connection, bool]:
        """A kept-alive connection to the origin, else a new one; UnsafeUrl passes, other failures are CallFailed."""
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to have been closed
            if connection.reusable():
                return connection, True
            self._drop(connection)
        try:
            sock = await sockets.open_socket(target.host, target.port, allow_private=self.allow_private,
                                             timeout=self.timeout)
        except sockets.Unreachable as exc:
            raise CallFailed(f"ConnectError: {exc}") from None
        https = target.scheme == "https"
        try:
            reader, writer = await asyncio.open_connection(sock=sock, ssl=self.tls if https else None,
                                                           server_hostname=target.host if https else None)
        except OSError as exc:  # TLS: the certificate, the handshake
            sock.close()
            raise CallFailed(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            sock.close()
            raise
        connection = _Connection(reader, writer)
        self._open.add(connection)
        return connection, False

    async def _exchange(self, connection: _Connection, request: h11.Request, content: bytes | None) -> int:
        protocol = connection.protocol
        data = protocol.send(request) or b""
        if content:
            data += protocol.send(h11.Data(data=content)) or b""
        data += protocol.send(h11.EndOfMessage()) or b""
        connection.writer.write(data)
        await connection.writer.drain()
        status, body = 0, 0
        while True:
            event = protocol.next_event()
            if event is h11.NEED_DATA:
                chunk = await connection.reader.read(_READ)
                if chunk:
                    connection.answered = True
                protocol.receive_data(chunk)  # b"": the receiver closed the connection
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += len(event.data)
                if body > MAX_BODY:
                    raise CallFailed("the answer's body is too long")
            elif isinstance(event, h11.EndOfMessage):
                return status
            elif isinstance(event, h11.ConnectionClosed):
                raise CallFailed("the connection was closed before the answer")

    def _give_back(self, key: tuple[str, str, int], connection: _Connection) -> None:
        protocol = connection.protocol
        if self.closed or protocol.our_state is not h11.DONE or protocol.their_state is not h11.DONE:
            self._drop(connection)
            return
        protocol.start_next_cycle()
        connection.answered = False
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
                await asyncio.wait_for(connection.writer.wait_closed(), 2)


# One caller per (event loop, allow_private, timeout): a receiver's calls share its kept-alive connections.
_SHARED: dict[tuple[asyncio.AbstractEventLoop, bool, float], Caller] = {}


def shared(allow_private: bool, *, timeout: float) -> Caller:
    """This event loop's caller for repeated calls to the same receivers; closed by `close_shared`.

    Kept-alive connections were checked when they were opened, to the address they are still bound
    to: reusing one does not reopen the DNS-rebinding gap.
    """
    loop = asyncio.get_running_loop()
    for key in [k for k in _SHARED if k[0].is_closed()]:
        del _SHARED[key]  # a finished loop's connections went with it
    key = (loop, allow_private, timeout)
    caller = _SHARED.get(key)
    if caller is None or caller.closed:
        caller = _SHARED[key] = Caller(allow_private, timeout=timeout, tls=verified_context())
    return caller


async def close_shared() -> None:
    """Close this event loop's shared callers (at shutdown)."""
    loop = asyncio.get_running_loop()
    for key in [k for k in _SHARED if k[0] is loop]:
        await _SHARED.pop(key).aclose()
