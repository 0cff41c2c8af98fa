"""The inbound SMTP listener asks senders to retry (451) while the database is away, and says so once."""

from __future__ import annotations

from typing import Any

from aiosmtpd.smtp import Envelope
from structlog.testing import capture_logs

from conftest import _free_port
from tidings.db.engine import Database
from tidings.engine.health import DATABASE, Health
from tidings.engine.inbound_smtp import InboundHandler

RAW = (b"From: bob@example.org\r\nTo: ann@acme.test\r\nSubject: Re: Hello\r\nMessage-ID: <r1@example.org>\r\n"
       b"\r\nThanks!\r\n")


def _envelope() -> Envelope:
    envelope = Envelope()
    envelope.mail_from, envelope.rcpt_tos = "bob@example.org", ["ann@acme.test"]
    envelope.original_content = envelope.content = RAW
    return envelope


async def test_mail_is_deferred_during_an_outage_and_accepted_after(db: Database) -> None:
    down = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{_free_port()}/nowhere")
    health = Health()
    handler = InboundHandler(down, health)
    session: Any = None
    with capture_logs() as logs:
        answers = [await handler.handle_DATA(None, session, _envelope()) for _ in range(3)]  # type: ignore[arg-type]
        assert answers == ["451 4.3.0 Temporary failure, try again later"] * 3
        assert health.is_down(DATABASE)
        handler.db = db  # the database is back
        assert await handler.handle_DATA(None, session, _envelope()) == "250 2.0.0 OK"  # type: ignore[arg-type]
    await down.dispose()
    assert not health.is_down(DATABASE)
    events = [e["event"] for e in logs if e.get("dependency") == DATABASE]
    assert events == ["dependency unavailable, retrying with backoff", "dependency available again"]
