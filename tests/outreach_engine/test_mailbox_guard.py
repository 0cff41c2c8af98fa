"""Mailbox connections at send and poll time: checked addresses only, and failures that all read the same."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Mailbox
from tidings.engine import imap_poller
from tidings.engine.runner import Runner
from tidings.net import addresses

from smtp_sink import free_port, smtp_sink


class Rude:
    """A TCP service that is not SMTP or IMAP: it answers a line of HTTP and hangs up."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def rude() -> Iterator[Rude]:
    server = Rude()
    yield server
    server.close()


async def test_a_host_that_rebinds_to_loopback_gets_no_mail(app: Any, db: Database, make_world: Any,
                                                             runner: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    real = addresses.resolve

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "mail.rebind.test" else await real(host, port)

    monkeypatch.setattr(addresses, "resolve", resolve)
    app.state.settings.outbound_allow_private = False
    with smtp_sink() as sink:
        world = await make_world()
        box = await world.add_mailbox("sam@acme.test", smtp_port=sink.port)
        async with db.transaction() as s:
            row = await s.get(Mailbox, box)
            assert row is not None
            row.smtp_host = "mail.rebind.test"  # saved while it resolved to a public address
        await world.add_step("Hello", "Hi there")
        await world.add_contact("p@globex.test")
        await world.start()
        await runner.run_until_idle()
        assert sink.received == []
    assert (await world.mailbox(box)).last_error == (
        f"SMTP cannot connect to mail.rebind.test:{sink.port}: refused by the outbound address guard")


async def test_closed_and_non_smtp_ports_read_the_same_in_last_error(db: Database, make_world: Any, runner: Runner,
                                                                     rude: Rude) -> None:
    world = await make_world()
    closed = await world.add_mailbox("sam@acme.test", smtp_port=free_port())
    other = await world.add_mailbox("kim@acme.test", smtp_port=rude.port)
    await world.add_step("Hello", "Hi there")
    for i in range(4):
        await world.add_contact(f"p{i}@globex.test")
    await world.start()
    await runner.run_until_idle()
    errors = [(await world.mailbox(b)).last_error or "" for b in (closed, other)]
    ports = [(await world.mailbox(b)).smtp_port for b in (closed, other)]
    assert [e.replace(str(p), "PORT") for e, p in zip(errors, ports, strict=True)] == [
        "SMTP cannot connect to 127.0.0.1:PORT"] * 2


async def test_imap_failures_read_the_same_and_private_hosts_are_refused(app: Any, db: Database, make_world: Any,
                                                                         runner: Runner, rude: Rude,
                                                                         clock: ManualClock) -> None:
    saved, imap_poller.IDLE_ENABLED = imap_poller.IDLE_ENABLED, False
    try:
        world = await make_world()
        closed = await world.add_mailbox("sam@acme.test", smtp_port=free_port(), imap=(free_port(), "sam", "pw"))
        other = await world.add_mailbox("kim@acme.test", smtp_port=free_port(), imap=(rude.port, "kim", "pw"))
        await runner.run_until_idle()
        for box in (closed, other):
            row = await world.mailbox(box)
            assert row.last_error == f"IMAP cannot connect to 127.0.0.1:{row.imap_port}"
        app.state.settings.outbound_allow_private = False
        clock.advance(imap_poller.ERROR_BACKOFF_SECONDS + 1)
        await runner.run_until_idle()
        assert (await world.mailbox(closed)).last_error == "IMAP host refused: it leads to a non-public address"
    finally:
        imap_poller.IDLE_ENABLED = saved
        await asyncio.sleep(0)
