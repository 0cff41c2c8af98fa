"""Outbound HTTP calls connect only to addresses the guard resolved and checked (no DNS rebinding gap).

Names are mapped to addresses by replacing the guard's resolver, so a name can "rebind" to
127.0.0.1 between a check and the connection; the servers are real, on 127.0.0.1.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from tidings import net
from tidings.net import addresses

from helpers import Receiver, self_signed


async def test_a_name_resolving_to_loopback_is_refused_at_connect_time(dns: dict[str, list[str]],
                                                                       receiver: Receiver) -> None:
    dns["rebind.test"] = ["127.0.0.1"]
    async with net.client(False, timeout=5) as client:
        with pytest.raises(net.UnsafeUrl, match="non-public address"):
            await client.get(f"http://rebind.test:{receiver.port}/x")
        with pytest.raises(net.UnsafeUrl):
            await client.get(f"http://localhost:{receiver.port}/x")  # the system resolver's 127.0.0.1
    assert receiver.requests == []


async def test_the_connection_uses_the_checked_answer_not_a_second_lookup(receiver: Receiver) -> None:
    # A rebinding resolver: public for a pre-check, loopback afterwards.
    answers = [["93.184.216.34"], ["127.0.0.1"]]

    async def rebinding(host: str, port: int) -> list[str]:
        return answers.pop(0) if answers else ["127.0.0.1"]

    url = f"http://rebind.test:{receiver.port}/x"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(addresses, "resolve", rebinding)
        assert await net.check_url(url, allow_private=False) == ["93.184.216.34"]
        async with net.client(False, timeout=5) as client:
            with pytest.raises(net.UnsafeUrl):
                await client.get(url)
    assert receiver.requests == []


async def test_one_private_address_among_public_ones_is_refused(dns: dict[str, list[str]],
                                                                receiver: Receiver) -> None:
    dns["mixed.test"] = ["93.184.216.34", "127.0.0.1"]
    async with net.client(False, timeout=5) as client:
        with pytest.raises(net.UnsafeUrl):
            await client.get(f"http://mixed.test:{receiver.port}/")
    assert receiver.requests == []


async def test_private_addresses_when_allowed_connect_to_the_resolved_address(dns: dict[str, list[str]],
                                                                               receiver: Receiver) -> None:
    dns["hooks.test"] = ["127.0.0.1"]
    async with net.client(True, timeout=5) as client:
        response = await client.post(f"http://hooks.test:{receiver.port}/in", content=b"a=1")
    assert response.status_code == 200
    [seen] = receiver.requests
    assert seen.headers["Host"] == f"hooks.test:{receiver.port}" and seen.body == b"a=1"


async def test_a_host_that_does_not_resolve_is_a_connect_error() -> None:
    async with net.client(False, timeout=5) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://does-not-exist.invalid/")


async def test_tls_checks_the_host_name_while_connecting_to_the_address(dns: dict[str, list[str]],
                                                                        tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "hooks.test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    names: list[str | None] = []

    def sni(_sock: ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    server_ctx.sni_callback = sni
    trust = ssl.create_default_context(cafile=str(cert))
    dns["hooks.test"] = dns["other.test"] = ["127.0.0.1"]
    with Receiver(server_ctx) as receiver:
        async with net.client(True, timeout=5, verify=trust) as client:
            response = await client.get(f"https://hooks.test:{receiver.port}/tls")
            assert response.status_code == 200 and receiver.calls == ["/tls"]
            assert names == ["hooks.test"], "SNI is the host name, not the address connected to"
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|certificate"):
                await client.get(f"https://other.test:{receiver.port}/tls")
    assert receiver.calls == ["/tls"]


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "http://[::1]/", "http://10.0.0.1/", "http://localhost:8/",
                                 "http://a.localhost/", "ftp://example.com/", "http:///x", "http://169.254.169.254/"])
def test_static_check_refuses_without_dns(url: str) -> None:
    with pytest.raises(net.UnsafeUrl):
        net.check_static(url, allow_private=False)


def test_static_check_allows_names_and_public_literals() -> None:
    assert net.check_static("https://hooks.example.com/in", allow_private=False) == ("hooks.example.com", 443)
    assert net.check_static("http://8.8.8.8:8080/", allow_private=False) == ("8.8.8.8", 8080)
    assert net.check_static("http://127.0.0.1/", allow_private=True) == ("127.0.0.1", 80)
