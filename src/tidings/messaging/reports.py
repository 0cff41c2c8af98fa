"""Campaigns, sendings and their event reports for the messaging dialect.

Event counters come from the sending-level StatCounters that `events.record` moves, so listing
campaigns never scans events; only the per-event CSV report reads the events themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.errors import NotFound
from tidings.core.phones import normalize_phone
from tidings.db.models import Campaign, Event, Message, Sending, StatCounter
from tidings.tenancy.scoping import get_owned, scoped
from tidings.tenancy.subject import AuthSubject

# The document's channel names for ours, and back.
CHANNEL_NAMES: Final = {"sms": "sms", "email": "mailing", "voice": "text2speech", "landing": "landing",
                        "voice-interactive": "voice-interactive", "whatsapp": "whatsapp"}
CHANNELS_BY_NAME: Final = {v: k for k, v in CHANNEL_NAMES.items()}
PENDING_STATUSES: Final = ("queued", "sending")
# The document's event names for ours (None: not reported).
EVENT_NAMES: Final[dict[str, str | None]] = {
    "sent": "sent", "delivered": "delivered", "undelivered": "undelivered", "rejected": "rejected",
    "expired": "expired", "failed": "undelivered", "bounced": "hard_bounced", "deferred": "soft_bounced",
    "opened": "opened",
    "clicked": "clicked", "unsubscribed": "unsubscribed", "queued": None, "replied": None, "autoreplied": None,
    "unsubscribed_landing": "unsubscribed_landing", "form_opened": "form_opened", "form_submitted": "form_submitted",
    "form_rejected": "form_rejected",
}
EVENT_KEYS: Final = ("delivered", "opened", "opened_unique", "clicked", "clicked_unique", "unsubscribed",
                     "hard_bounced", "complaint", "sent", "soft_bounced", "undelivered", "rejected", "expired",
                     "unsubscribed_landing")


@dataclass
class SendingStats:
    """What a sending's row shows beyond its own columns."""

    processed: int = 0
    parts: int = 0
    started_at: datetime | None = None
    last_at: datetime | None = None
    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_KEYS, 0))


@dataclass
class CampaignRow:
    campaign: Campaign
    sendings: list[tuple[Sending, SendingStats]]


def _like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _campaigns_query(subject: AuthSubject, *, name: str | None, channel: str | None, before: datetime | None,
                     after: datetime | None, campaign_id: int | None) -> Select[Any]:
    stmt = scoped(select(Campaign), Campaign, subject).where(Campaign.kind == "broadcast")
    if campaign_id is not None:
        stmt = stmt.where(Campaign.id == campaign_id)
    if name:
        stmt = stmt.where(Campaign.name.like(_like(name), escape="\\") if "*" in name else Campaign.name == name)
    if channel is not None:
        # Each campaign's own sendings (its index), not a list of every sending of the account.
        stmt = stmt.where(exists().where(Sending.campaign_id == Campaign.id, Sending.channel == channel))
    if before is not None:
        stmt = stmt.where(Campaign.created_at < before)
    if after is not None:
        stmt = stmt.where(Campaign.created_at > after)
    return stmt


async def campaigns_page(session: AsyncSession, subject: AuthSubject, *, name: str | None = None,
                         channel: str | None = None, before: datetime | None = None, after: datetime | None = None,
                         campaign_id: int | None = None, page: int = 1,
                         limit: int = 100) -> tuple[list[CampaignRow], int]:
    """Broadcast campaigns (newest first) with their sendings and counters, and the total that match."""
    stmt = _campaigns_query(subject, name=name, channel=channel, before=before, after=after, campaign_id=campaign_id)
    total = int((await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one())
    campaigns = list((await session.execute(
        stmt.order_by(Campaign.created_at.desc(), Campaign.id.desc()).offset((page - 1) * limit).limit(limit)
    )).scalars())
    by_campaign: dict[int, list[Sending]] = defaultdict(list)
    if campaigns:
        # By campaign alone: the campaigns are the subject's (scoped above), and with the account in the condition
        # SQLite's sampled statistics picked the account's index (every sending of the account) over the campaign's.
        sq = select(Sending).where(Sending.campaign_id.in_([c.id for c in campaigns]))
        if channel is not None:
            sq = sq.where(Sending.channel == channel)
        for sending in (await session.execute(sq.order_by(Sending.id))).scalars():
            by_campaign[sending.campaign_id or 0].append(sending)
    stats = await sending_stats(session, [s for rows in by_campaign.values() for s in rows])
    rows = [CampaignRow(c, [(s, stats[s.id]) for s in by_campaign.get(c.id, [])]) for c in campaigns]
    return rows, total


async def sending_stats(session: AsyncSession, sendings: Iterable[Sending]) -> dict[int, SendingStats]:
    """Counters per event kind (summed over days) and the processing totals of each sending."""
    ids = [s.id for s in sendings]
    out = {i: SendingStats() for i in ids}
    if not ids:
        return out
    counters = await session.execute(
        select(StatCounter.scope_id, StatCounter.metric, func.sum(StatCounter.value))
        .where(StatCounter.scope == "sending", StatCounter.scope_id.in_(ids))
        .group_by(StatCounter.scope_id, StatCounter.metric))
    for scope_id, metric, value in counters:
        name = EVENT_NAMES.get(str(metric))
        if name is not None and name in out[int(scope_id)].events:  # form events have no counter of the document
            out[int(scope_id)].events[name] += int(value or 0)
    for stats in out.values():
        # Open and click counters count each message once (events.record counts first occurrences).
        stats.events["opened_unique"] = stats.events["opened"]
        stats.events["clicked_unique"] = stats.events["clicked"]
    for sending_id, processed, first, last, parts in await session.execute(sending_totals_statement(ids)):
        stats = out[int(sending_id or 0)]
        stats.processed, stats.started_at, stats.last_at = int(processed), first, last
        stats.parts = int(parts or 0)
    return out


def sending_totals_statement(ids: list[int]) -> Select[int | None, int, datetime | None, datetime | None, int | None]:
    """Per sending: its processed messages (no longer pending), their first and last send, and the sent parts.

    One pass over the sendings' messages (found by ix_messages_sending_id) where there were two. An index holding
    these columns would let the index answer alone, but every status change of a message would then write it too.
    """
    processed = Message.status.not_in(PENDING_STATUSES)
    return (select(Message.sending_id, func.count(case((processed, 1))),
                   func.min(case((processed, Message.sent_at))), func.max(case((processed, Message.sent_at))),
                   func.sum(case((Message.sent_at.is_not(None), Message.parts))))
            .where(Message.sending_id.in_(ids)).group_by(Message.sending_id))


async def get_sending(session: AsyncSession, subject: AuthSubject, sending_id: int) -> Sending:
    """The caller's sending, else 404; a client's user sees only its client's campaigns' sendings."""
    stmt = select(Sending).where(Sending.id == sending_id, Sending.account_id == subject.account_id)
    if subject.client_id is not None:
        stmt = stmt.where(Sending.campaign_id.in_(scoped(select(Campaign.id), Campaign, subject)))
    sending = (await session.execute(stmt)).scalar_one_or_none()
    if sending is None:
        raise NotFound("Resource not found")
    return sending


async def campaign_names(session: AsyncSession, campaign_ids: Iterable[int | None]) -> dict[int, str]:
    ids = sorted({i for i in campaign_ids if i})
    if not ids:
        return {}
    rows = await session.execute(select(Campaign.id, Campaign.name).where(Campaign.id.in_(ids)))
    return {int(i): str(n) for i, n in rows}


@dataclass
class EventRow:
    event: Event
    message: Message


async def sending_events(session: AsyncSession, sending: Sending, *, before: datetime | None,
                         after: datetime | None) -> list[EventRow]:
    """Every reported event of a sending in time order, with its message."""
    stmt = (select(Event, Message).join(Message, Message.id == Event.message_id)
            .where(Event.sending_id == sending.id, Event.account_id == sending.account_id))
    if before is not None:
        stmt = stmt.where(Event.occurred_at < before)
    if after is not None:
        stmt = stmt.where(Event.occurred_at > after)
    rows = (await session.execute(stmt.order_by(Event.occurred_at, Event.id))).all()
    return [EventRow(e, m) for e, m in rows if EVENT_NAMES.get(e.kind)]


def event_name(kind: str) -> str | None:
    return EVENT_NAMES.get(kind)


def details_url(details: dict[str, Any] | None) -> str:
    value = (details or {}).get("url")
    return str(value) if value else ""


async def message_log(session: AsyncSession, subject: AuthSubject, *, recipient: str = "", channel: str = "",
                      limit: int = 50, offset: int = 0) -> tuple[list[Message], bool]:
    """Outbound messages of every channel, newest first, and whether there are more.

    A recipient is matched exactly (an address, or a number in any of its written forms), which an
    index answers at once; no total is counted, so the log stays fast with millions of messages.
    """
    stmt = scoped(select(Message), Message, subject).where(Message.direction == "out")
    wanted = recipient.strip()
    if wanted:
        forms = {wanted, wanted.lower()}
        number = normalize_phone(wanted)
        if number:
            forms |= {number, "+" + number}
        stmt = stmt.where(Message.recipient.in_(sorted(forms)))
    if channel:
        stmt = stmt.where(Message.channel == channel)
    rows = list((await session.execute(stmt.order_by(Message.created_at.desc(), Message.id.desc())
                                       .limit(limit + 1).offset(offset))).scalars())
    return rows[:limit], len(rows) > limit


async def message_events(session: AsyncSession, subject: AuthSubject, message_id: int) -> tuple[Message, list[Event]]:
    """One message the subject may see and everything that happened to it, oldest first."""
    message = await get_owned(session, Message, message_id, subject, "Message")
    events = await session.execute(select(Event).where(Event.message_id == message.id,
                                                       Event.account_id == message.account_id)
                                   .order_by(Event.occurred_at, Event.id))
    return message, list(events.scalars())


async def tags_in_use(session: AsyncSession, subject: AuthSubject) -> list[str]:
    """Every tag of the account's messaging campaigns, sorted."""
    stmt = scoped(select(Campaign.tags), Campaign, subject).where(Campaign.kind == "broadcast")
    return sorted({str(t) for tags in (await session.execute(stmt)).scalars() for t in (tags or [])})


def daily_statement(account_id: int, start: date) -> Select[date, str, int]:
    """The account's sending counters summed per day and metric, through ix_stat_counters_account_scope_day."""
    return (select(StatCounter.day, StatCounter.metric, func.sum(StatCounter.value))
            .where(StatCounter.account_id == account_id, StatCounter.scope == "sending", StatCounter.day >= start)
            .group_by(StatCounter.day, StatCounter.metric))


async def daily_events(session: AsyncSession, subject: AuthSubject, *, start: date, tag: str | None = None
                       ) -> list[tuple[date, dict[str, int]]]:
    """Messaging events per UTC day (first occurrences, from the sendings' counters), optionally of one tag."""
    stmt = daily_statement(subject.account_id, start)
    if tag is not None:
        # Every sending counter of the account is one of its sendings: only a tag narrows them.
        campaigns = scoped(select(Campaign.id, Campaign.tags), Campaign, subject).where(Campaign.kind == "broadcast")
        wanted = [cid for cid, tags in (await session.execute(campaigns)).all() if tag in (tags or [])]
        sendings = select(Sending.id).where(Sending.account_id == subject.account_id,
                                            Sending.campaign_id.in_(wanted or [0]))
        stmt = stmt.where(StatCounter.scope_id.in_(sendings))
    days: dict[date, dict[str, int]] = {}
    for day, metric, value in (await session.execute(stmt)).all():
        days.setdefault(day, {})[str(metric)] = int(value or 0)
    return sorted(days.items())
