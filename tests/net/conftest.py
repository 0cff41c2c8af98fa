"""Fixtures of the outbound-network tests: a resolver table for the guard, a real receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tidings.net import addresses

from helpers import Receiver


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host name -> addresses, consulted by the guard before the system resolver."""
    table: dict[str, list[str]] = {}
    real = addresses.resolve

    async def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return list(table[host])
        return await real(host, port)

    monkeypatch.setattr(addresses, "resolve", resolve)
    return table


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r
