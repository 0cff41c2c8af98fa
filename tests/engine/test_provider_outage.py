"""An SMTP relay that goes away: messages wait and go out when it is back; one log line at each end of the outage."""

from __future__ import annotations

from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import select
from structlog.testing import capture_logs

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.engine.context import EngineContext
from tidings.engine.runner import Runner
from tidings.messaging import outbox
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from smtp_sink import SinkHandler, free_port

OUTAGE = "provider channel:email"


async def _queue(db: Database, account: NewAccount, count: int) -> None:
    async with db.transaction() as s:
        sending = await outbox.open_sending(s, AuthSubject(account_id=account.account_id, user_id=1),
                                            channel="email", source="test")
        for i in range(count):
            await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="email",
                                                     sender="news@acme.test", recipient=f"r{i}@example.test",
                                                     sending=sending, subject="Hello", body="Hi"))


async def test_messages_wait_out_a_relay_outage(app: Any, client: httpx.AsyncClient, db: Database,
                                                account: NewAccount, clock: ManualClock) -> None:
    # The engine inside `tidings serve`: it shares the server's health, which /healthz shows.
    runner = Runner(EngineContext(app.state.db, app.state.settings, app.state.providers, "w", app.state.health))
    port = free_port()  # nothing listens there yet: the relay is down
    app.state.providers.set("email", build_provider("email", f"smtp://127.0.0.1:{port}"))
    await _queue(db, account, 3)
    with capture_logs() as logs:
        await runner.run_until_idle()
        async with db.sessions() as s:
            rows = (await s.execute(select(Message))).scalars().all()
        assert {m.status for m in rows} == {"queued"} and all(m.due_at is not None for m in rows)
        outages = (await client.get("/healthz")).json()["outages"]
        assert OUTAGE in outages and outages[OUTAGE]["failures"] == 3

        handler = SinkHandler()
        relay = Controller(handler, hostname="127.0.0.1", port=port)
        relay.start()
        try:
            clock.advance(3600)  # past the messages' retry time
            await runner.run_until_idle()
        finally:
            relay.stop()
    assert len(handler.received) == 3
    async with db.sessions() as s:
        assert {m.status for m in (await s.execute(select(Message))).scalars()} <= {"sent", "delivered"}
    assert OUTAGE not in (await client.get("/healthz")).json()["outages"]
    started = [e for e in logs if e["event"].startswith("dependency unavailable") and e["dependency"] == OUTAGE]
    ended = [e for e in logs if e["event"] == "dependency available again" and e["dependency"] == OUTAGE]
    assert len(started) == 1 and len(ended) == 1  # not one line per failed message
