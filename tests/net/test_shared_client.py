"""The shared pooled client of notification calls: kept-alive connections are reused, closed at shutdown."""

from __future__ import annotations

import asyncio

from tidings import net
from tidings.messaging import notifications
from tidings.net import http


async def test_calls_reuse_kept_alive_connections() -> None:
    opened = 0
    handlers: list[asyncio.Task[object]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal opened
        opened += 1
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        calls = 4 * http.SHARED_POOLS
        for i in range(calls):
            assert await notifications.call(f"http://127.0.0.1:{port}/n?i={i}", True) is None
        assert opened == http.SHARED_POOLS, "each small pool opened one connection and kept it"
    finally:
        await net.close_shared_clients()
        await asyncio.wait_for(asyncio.gather(*handlers), 5)  # each connection was closed by the client
        server.close()
        await server.wait_closed()
    assert not http._SHARED, "closed at shutdown"
