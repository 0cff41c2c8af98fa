"""Delivery notifications of the messaging dialect: a GET to the message's `notificationUrl` per outcome.

When a message given a `notificationUrl` reaches an outcome (delivered, undelivered, expired,
rejected, failed), a job is queued in the same transaction; the job expands the URL's escapes
(%i %p %P %t %c %s %m %y %n %C %S) and calls it. A receiver that does not answer 200 is called
again up to 5 times, 1, 2, 3, 4 and 5 minutes apart, as the document describes. URLs that reach
private, loopback or link-local addresses are refused when the connection is made
(tidings.net.client).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tidings import net
from tidings.core import clock, ids
from tidings.core.ids import Kind
from tidings.db.base import by_ids
from tidings.db.jobs import enqueue
from tidings.db.models import Job, Message
from tidings.engine.context import EngineContext
from tidings.engine.registry import io_job, prefetched
from tidings.messaging import events

log = structlog.get_logger("tidings.notifications")

JOB_KIND: Final = "rest.notification"
MAX_RETRIES: Final = 5
TIMEOUT_SECONDS: Final = 10.0
USER_AGENT: Final = "Tidings-Notifications/1"
# Our event kinds as the document's %s statuses (SMPP delivery-receipt states).
STATUS: Final = {"delivered": "DELIVRD", "undelivered": "UNDELIV", "expired": "EXPIRED", "rejected": "REJECTD",
                 "failed": "UNDELIV", "bounced": "UNDELIV"}
_ESCAPE: Final = re.compile(r"%([ipPtcsmynCS])")


def retry_delay(retry: int) -> timedelta:
    """The wait before retry n (1-based): n minutes, the document's progressive schedule (also for event webhooks)."""
    return timedelta(minutes=retry)


def _minute(value: datetime | None) -> str:
    if value is None:
        return ""
    at = clock.as_utc(value)  # formatted by hand: strftime was a noticeable part of a notification
    return f"{at.year:04d}-{at.month:02d}-{at.day:02d} {at.hour:02d}:{at.minute:02d}"


def _cost(value: Decimal | None) -> str:
    if value is None:
        return "0"
    text = format(Decimal(value).normalize(), "f")
    return text if text not in ("-0", "") else "0"


def values_for(message: Message, status: str, at: datetime) -> dict[str, str]:
    """The value of every documented escape for one notification."""
    pricing = (message.extra or {}).get("pricing") or {}
    return {
        "i": str(ids.to_int(Kind.MESSAGE, message.id)),
        "p": message.sender or "",
        "P": message.recipient or "",
        "t": _minute(message.sent_at),
        "c": _cost(message.cost),
        "s": status,
        "m": str(pricing.get("mnc") or ""),
        "y": _minute(at),
        # One notification per message: receipts of every part are folded into the message's outcome.
        "n": "1",
        "C": str(ids.to_int(Kind.CAMPAIGN, message.campaign_id) if message.campaign_id else 0),
        "S": str(ids.to_int(Kind.SENDING, message.sending_id) if message.sending_id else 0),
    }


def expand(url: str, values: dict[str, str]) -> str:
    """Replace the escapes with URL-encoded values; any other `%` sequence is left as written."""
    return _ESCAPE.sub(lambda m: quote(values[m.group(1)], safe=""), url)


def _wanted(facts: Mapping[str, Any]) -> bool:
    return facts.get("direction") == "out" and bool((facts.get("extra") or {}).get("notification_url"))


async def _queue(session: AsyncSession, message_id: int, account_id: int, url: str, kind: str, at: datetime) -> None:
    await enqueue(session, JOB_KIND, {"message_id": message_id, "url": url, "status": STATUS[kind],
                                      "at": clock.as_utc(at).isoformat(), "retry": 0}, account_id=account_id)


async def _on_outcome_plain(session: AsyncSession, happened: events.HappenedPlain) -> None:
    """`on_outcome` on a plain row (events.record_plain)."""
    if _wanted(happened.row):
        await _queue(session, happened.row["id"], happened.row["account_id"], happened.row["extra"]["notification_url"],
                     happened.kind, happened.occurred_at)


@events.on_event(*STATUS, wants=_wanted, plain=_on_outcome_plain)
async def on_outcome(session: AsyncSession, happened: events.Happened) -> None:
    """Queue the notification of a message's outcome when it was sent with a notificationUrl."""
    message = happened.message
    url = (message.extra or {}).get("notification_url")
    if url and message.direction == "out":
        await _queue(session, message.id, message.account_id, url, happened.event.kind, happened.event.occurred_at)


async def call(url: str, allow_private: bool, *, method: str = "GET", content: bytes | None = None,
               headers: dict[str, str] | None = None) -> str | None:
    """None when the receiver answered 200, else why not (for the retry; it never contains the URL).

    UnsafeUrl when the URL or the addresses its host resolves to at connection time may not be called.
    """
    caller = net.shared_caller(allow_private, timeout=TIMEOUT_SECONDS)  # kept-alive connections per receiver
    try:
        status = await caller.request(method, url, content=content,
                                      headers={"User-Agent": USER_AGENT, **(headers or {})})
    except net.CallFailed as exc:
        return str(exc).replace(url, "<url>")
    except TimeoutError:
        return f"Timeout: no complete answer within {TIMEOUT_SECONDS:g} s"
    return None if status == 200 else f"HTTP {status}"


async def retry_later(ctx: EngineContext, job_row: Job, error: str, **log_fields: Any) -> None:
    """After failed call n, queue the same job again n+1 minutes later, up to MAX_RETRIES retries (then give up)."""
    payload: dict[str, Any] = dict(job_row.payload)
    retry = int(payload.get("retry", 0)) + 1
    if retry > MAX_RETRIES:
        log.warning("notification given up", kind=job_row.kind, error=error, **log_fields)
        return
    async with ctx.db.transaction() as session:
        await enqueue(session, job_row.kind, {**payload, "retry": retry, "last_error": error},
                      due_at=clock.now() + retry_delay(retry), account_id=job_row.account_id)


async def _load_round(session: AsyncSession, jobs: list[Job]) -> dict[int, Message | None]:
    """The message of each job of a round, in one query."""
    wanted = {int(j.payload["message_id"]) for j in jobs}
    found = {m.id: m for m in (await session.execute(by_ids(Message), {"ids": sorted(wanted)})).scalars()}
    return {j.id: found.get(int(j.payload["message_id"])) for j in jobs}


@io_job(JOB_KIND, ordered_by="message_id", prefetch=_load_round)
async def notify(ctx: EngineContext, job_row: Job) -> None:
    """Call the notification URL once; schedule the next retry while the receiver fails."""
    payload: dict[str, Any] = dict(job_row.payload)
    message: Message | None = prefetched()
    if message is None:
        async with ctx.db.reading() as session:
            message = (await _load_round(session, [job_row]))[job_row.id]
    if message is None:
        return
    url = expand(str(payload["url"]), values_for(message, str(payload["status"]),
                                                 datetime.fromisoformat(str(payload["at"]))))
    try:
        error = await call(url, ctx.settings.outbound_allow_private)
    except net.UnsafeUrl as exc:
        log.warning("notification refused", message_id=message.id, reason=str(exc))
        return
    if error is not None:
        await retry_later(ctx, job_row, error, message_id=message.id)
