"""The inbound SMTP listener (`tidings serve --smtp-port N`, aiosmtpd) for replies routed by MX.

It runs on the server's own event loop (not aiosmtpd's threaded Controller) so that it shares the
database engine. Every accepted mail goes through the same ingest as IMAP; the envelope
recipient names the mailbox when it is one of ours. A mail that cannot be stored now gets a 451,
so the sending MTA retries it later instead of losing it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, select

from tidings.db.engine import Database
from tidings.db.models import Mailbox
from tidings.engine.health import DATABASE, Health, is_unavailable
from tidings.outreach.inbound.service import ingest

log = structlog.get_logger("tidings.inbound_smtp")
MAX_SIZE = 25 * 1024 * 1024
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - an MX target listens on every interface


class InboundHandler:
    """aiosmtpd handler: accept any recipient, ingest at DATA."""

    def __init__(self, db: Database, health: Health | None = None) -> None:
        self.db = db
        self.health = health or Health()
        self.results: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or (envelope.content if isinstance(envelope.content, bytes) else b"")
        rcpts = [r.lower() for r in envelope.rcpt_tos]
        try:
            async with self.db.transaction() as s:
                boxes = list((await s.execute(select(Mailbox).where(func.lower(Mailbox.email).in_(rcpts or [""])))
                              ).scalars())
                box = boxes[0] if len({b.account_id for b in boxes}) == 1 else None
                result = await ingest(s, bytes(raw), mailbox=box)
        except Exception as exc:  # noqa: BLE001 - tell the MTA to retry rather than drop the mail
            if is_unavailable(exc):
                self.health.down(DATABASE, exc)  # logged once per outage, not once per mail
            else:
                log.warning("inbound mail not stored", error=f"{type(exc).__name__}: {exc}")
            return "451 4.3.0 Temporary failure, try again later"
        self.health.up(DATABASE)
        self.results.append(result.outcome)
        return "250 2.0.0 OK"


async def start(db: Database, port: int, host: str | None = None, *,
                health: Health | None = None) -> asyncio.AbstractServer:
    """Listen for inbound mail on `host:port` (every interface unless a host is given)."""
    handler = InboundHandler(db, health)
    bind = host or DEFAULT_HOST

    def factory() -> Any:
        return SMTP(handler, data_size_limit=MAX_SIZE, enable_SMTPUTF8=True, hostname="tidings")

    server = await asyncio.get_running_loop().create_server(factory, host=bind, port=port)
    log.info("inbound SMTP listening", host=bind, port=port)
    return server


async def stop(server: asyncio.AbstractServer) -> None:
    server.close()
    await server.wait_closed()
