"""Checked TCP connections: refused hosts never get a connection, and failures all read the same."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from tidings import net
from tidings.net import addresses


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[bytes]]]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(b"connected")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield port, seen
    server.close()
    await server.wait_closed()


async def test_a_private_host_is_refused_before_connecting(listener: tuple[int, list[bytes]]) -> None:
    port, seen = listener
    for host in ("127.0.0.1", "localhost", "2130706433"):
        with pytest.raises(net.UnsafeUrl):
            await net.open_socket(host, port, allow_private=False, timeout=2)
    await asyncio.sleep(0.05)
    assert seen == []


async def test_a_name_is_resolved_once_and_connected_by_address(monkeypatch: pytest.MonkeyPatch,
                                                                listener: tuple[int, list[bytes]]) -> None:
    port, seen = listener
    calls: list[str] = []

    async def resolve(host: str, p: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(addresses, "resolve", resolve)
    sock = await net.open_socket("mail.test", port, allow_private=True, timeout=2)
    try:
        assert sock.getpeername()[0] == "127.0.0.1"
    finally:
        sock.close()
    assert calls == ["mail.test"]
    with pytest.raises(net.UnsafeUrl, match="non-public"):
        await net.open_socket("mail.test", port, allow_private=False, timeout=2)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_refused_filtered_and_unknown_hosts_fail_with_the_same_message(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, p: int) -> list[str]:
        if host == "filtered.test":
            return ["192.0.2.1"]  # TEST-NET-1: nothing answers, the connect times out
        if host == "nowhere.test":
            raise socket.gaierror("no such host")
        return ["127.0.0.1"]

    monkeypatch.setattr(addresses, "resolve", resolve)
    port = _closed_port()
    messages = []
    for host in ("refused.test", "filtered.test", "nowhere.test"):
        with pytest.raises(net.Unreachable) as caught:
            await net.open_socket(host, port, allow_private=True, timeout=0.5)
        messages.append(str(caught.value).replace(host, "HOST"))
    assert messages == [f"cannot connect to HOST:{port}"] * 3
