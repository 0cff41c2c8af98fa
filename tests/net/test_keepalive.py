"""The kept-alive caller of notifications: the address guard at connect time, TLS, reuse and its limits.

The servers are real, on 127.0.0.1; names are mapped to addresses by replacing the guard's resolver.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tidings import net
from tidings.messaging import notifications
from tidings.net import keepalive

from helpers import Receiver, self_signed

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A raw HTTP/1.1 server that counts its connections; `answer` writes the reply to each request."""

    def __init__(self, answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", *,
                 close_after: int = 0) -> None:
        self.answer, self.close_after = answer, close_after
        self.opened, self.requests = 0, []  # type: ignore[var-annotated]
        self.handlers: list[asyncio.Task[None]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)  # type: ignore[arg-type]
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.requests.append(head + (await reader.readexactly(length) if length else b""))
                writer.write(self.answer)
                await writer.drain()
                served += 1
                if self.close_after and served >= self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_calls_reuse_one_kept_alive_connection_and_shutdown_closes_it() -> None:
    async with Server() as server:
        try:
            for i in range(20):
                assert await notifications.call(f"http://127.0.0.1:{server.port}/n?i={i}&t=a%20b", True) is None
            assert server.opened == 1
            first = server.requests[0].split(b"\r\n")
            assert first[0] == b"GET /n?i=0&t=a%20b HTTP/1.1"
            assert f"host: 127.0.0.1:{server.port}".encode() in [line.lower() for line in first]
        finally:
            await net.close_shared_clients()
        await asyncio.wait_for(asyncio.gather(*server.handlers), 5)  # the client closed the connection
    assert not keepalive._SHARED


async def test_a_receiver_that_closes_kept_alive_connections_is_called_again_on_a_new_one() -> None:
    async with Server(close_after=1) as server:
        caller = keepalive.Caller(True, timeout=5, tls=ssl.create_default_context())
        try:
            for _ in range(3):
                await asyncio.sleep(0.05)  # the close arrives before the next call (and once, not)
                assert await caller.request("POST", f"http://127.0.0.1:{server.port}/in", content=b"x=1") == 200
            assert server.opened == 3 and len(server.requests) == 3
            # Called again at once, before the close may have arrived: a stale connection is replaced.
            statuses = [await caller.request("GET", f"http://127.0.0.1:{server.port}/again") for _ in range(10)]
            assert statuses == [200] * 10 and len(server.requests) == 13
        finally:
            await caller.aclose()


async def test_statuses_bodies_and_failures() -> None:
    chunked = b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbusy\r\n0\r\n\r\n"
    async with Server(chunked) as server:
        assert await notifications.call(f"http://127.0.0.1:{server.port}/", True) == "HTTP 503"
        await net.close_shared_clients()
    async with Server(b"nonsense\r\n\r\n") as server:
        error = await notifications.call(f"http://127.0.0.1:{server.port}/secret-path", True)
        assert error is not None and "secret-path" not in error
        await net.close_shared_clients()
    size = keepalive.MAX_BODY + 10
    huge = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size
    async with Server(huge) as server:
        assert await notifications.call(f"http://127.0.0.1:{server.port}/", True) == "the answer's body is too long"
        await net.close_shared_clients()
    async with Server() as server:
        port = server.port
    error = await notifications.call(f"http://127.0.0.1:{port}/", True)  # nobody listens any more
    assert error == f"ConnectError: cannot connect to 127.0.0.1:{port}"
    await net.close_shared_clients()


async def test_interim_answers_bodies_ended_by_close_and_header_values_that_would_split_the_request() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
    async with Server(interim) as server:
        caller = keepalive.Caller(True, timeout=5, tls=ssl.create_default_context())
        try:
            assert await caller.request("POST", f"http://127.0.0.1:{server.port}/", content=b"a") == 204
            assert await caller.request("POST", f"http://127.0.0.1:{server.port}/", content=b"b") == 204
            assert server.opened == 1
        finally:
            await caller.aclose()
    # No length: the body ends when the receiver closes; its status counts and the connection is not reused.
    async with Server(b"HTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\nqueued", close_after=1) as server:
        caller = keepalive.Caller(True, timeout=5, tls=ssl.create_default_context())
        try:
            assert [await caller.request("GET", f"http://127.0.0.1:{server.port}/") for _ in range(2)] == [202, 202]
            assert server.opened == 2
            with pytest.raises(net.UnsafeUrl):
                await caller.request("GET", f"http://127.0.0.1:{server.port}/", headers={"X-A": "1\r\nX-B: 2"})
            assert len(server.requests) == 2, "nothing was sent"
        finally:
            await caller.aclose()


async def test_a_silent_receiver_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the caller gives up and closes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    caller = keepalive.Caller(True, timeout=0.3, tls=ssl.create_default_context())
    try:
        with pytest.raises(TimeoutError):
            await caller.request("GET", f"http://127.0.0.1:{port}/")
    finally:
        await caller.aclose()
        server.close()


async def test_the_guard_refuses_at_connect_time(dns: dict[str, list[str]], receiver: Receiver) -> None:
    dns["rebind.test"] = ["127.0.0.1"]
    dns["mixed.test"] = ["93.184.216.34", "127.0.0.1"]
    caller = keepalive.Caller(False, timeout=5, tls=ssl.create_default_context())
    try:
        for url in (f"http://rebind.test:{receiver.port}/x", f"http://mixed.test:{receiver.port}/x",
                    f"http://localhost:{receiver.port}/x", f"http://127.0.0.1:{receiver.port}/x",
                    "ftp://example.com/", "http:///x", "http://[::1/"):
            with pytest.raises(net.UnsafeUrl):
                await caller.request("GET", url)
    finally:
        await caller.aclose()
    assert receiver.requests == []


async def test_private_targets_when_allowed_and_credentials_in_the_url(dns: dict[str, list[str]],
                                                                      receiver: Receiver) -> None:
    dns["hooks.test"] = ["127.0.0.1"]
    caller = keepalive.Caller(True, timeout=5, tls=ssl.create_default_context())
    try:
        status = await caller.request("POST", f"http://user:p%40ss@hooks.test:{receiver.port}/in", content=b"a=1",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    finally:
        await caller.aclose()
    assert status == 200
    [seen] = receiver.requests
    assert seen.headers["Host"] == f"hooks.test:{receiver.port}" and seen.body == b"a=1"
    assert seen.headers["Authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss


async def test_tls_verifies_the_host_name_while_connecting_to_the_checked_address(dns: dict[str, list[str]],
                                                                                 tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "hooks.test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    dns["hooks.test"] = dns["other.test"] = ["127.0.0.1"]
    caller = keepalive.Caller(True, timeout=5, tls=ssl.create_default_context(cafile=str(cert)))
    try:
        with Receiver(server_ctx) as receiver:
            assert await caller.request("GET", f"https://hooks.test:{receiver.port}/tls") == 200
            assert await caller.request("GET", f"https://hooks.test:{receiver.port}/tls") == 200
            with pytest.raises(net.CallFailed, match="CERTIFICATE_VERIFY_FAILED|certificate"):
                await caller.request("GET", f"https://other.test:{receiver.port}/tls")
        assert receiver.calls == ["/tls", "/tls"]
    finally:
        await caller.aclose()
