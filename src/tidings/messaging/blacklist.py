"""The messaging dialect's blacklist (sms, mailing, voice): a view of the Suppression table.

Entries are account-wide (client_id None) with channel = the blacklist type, kind "phone" or
"email" and a normalised value. A gate refuses messaging-API messages to blacklisted recipients
at send time, and an unsubscribe from such a message blacklists its recipient. The outreach
suppressions share the table with channel "email"; nothing here reads or writes those.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import Settings
from tidings.core.emails import email_key, normalize_email
from tidings.core.errors import DomainError, NotFound
from tidings.core.phones import normalize_phone
from tidings.db.base import get_loaded, one_of
from tidings.db.models import Campaign, Message, Sending, Suppression
from tidings.messaging import delivery, events

TYPES = ("sms", "mailing", "voice")
KIND = {"sms": "phone", "mailing": "email", "voice": "phone"}
# Which blacklist applies to a message of each channel.
TYPE_OF_CHANNEL = {"sms": "sms", "email": "mailing", "voice": "voice"}
# The messaging dialect's sendings; only their messages are checked and blacklisted here.
SOURCE = "rest"
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()./\-]+$")


@dataclass
class Entry:
    row: Suppression
    campaign_name: str | None


def normalize(type_: str, recipient: str) -> str | None:
    """The stored form of a recipient: lower-case email, or international digits without '+'."""
    raw = (recipient or "").strip()
    if KIND[type_] == "email":
        return email_key(raw) if normalize_email(raw) is not None else None
    if not _PHONE_CHARS.match(raw):
        return None
    # Numbers phonenumbers does not know (test ranges such as the document's 99000000000) are kept
    # as plain digits rather than refused, so anything a sender can target can be blacklisted.
    digits = normalize_phone(raw) or re.sub(r"\D", "", raw).removeprefix("00")
    return digits if 6 <= len(digits) <= 15 else None


def _check(type_: str, recipient: str) -> str:
    if type_ not in TYPES:
        raise NotFound("Resource not found")
    value = normalize(type_, recipient)
    if value is None:
        raise DomainError("No valid recipients", nrs_code=102)
    return value


def _where(account_id: int, type_: str) -> list[ColumnElement[bool]]:
    return [Suppression.account_id == account_id, Suppression.client_id.is_(None), Suppression.channel == type_,
            Suppression.kind == KIND[type_]]


async def _find(session: AsyncSession, account_id: int, type_: str, value: str) -> Suppression | None:
    stmt = select(Suppression).where(*_where(account_id, type_), Suppression.value == value)
    return (await session.execute(stmt.order_by(Suppression.id).limit(1))).scalar_one_or_none()


async def is_blacklisted(session: AsyncSession, account_id: int, type_: str, recipient: str) -> bool:
    value = normalize(type_, recipient)
    return value is not None and await _find(session, account_id, type_, value) is not None


async def add(
    session: AsyncSession, account_id: int, type_: str, recipient: str, *, sending_id: int | None = None,
    reason: str = "api",
) -> Suppression:
    """Blacklist a recipient; adding one already there returns the existing entry unchanged."""
    value = _check(type_, recipient)
    row = await _find(session, account_id, type_, value)
    if row is None:
        row = Suppression(account_id=account_id, client_id=None, channel=type_, kind=KIND[type_], value=value,
                          reason=reason, sending_id=sending_id)
        session.add(row)
        await session.flush()
    return row


async def remove(session: AsyncSession, account_id: int, type_: str, recipient: str) -> None:
    """Take a recipient off the blacklist; NotFound when it is not on it."""
    value = _check(type_, recipient)
    row = await _find(session, account_id, type_, value)
    if row is None:
        raise NotFound("Resource not found")
    await session.delete(row)
    await session.flush()


async def campaign_name(session: AsyncSession, row: Suppression) -> str | None:
    if row.sending_id is None:
        return None
    stmt = select(Campaign.name).join(Sending, Sending.campaign_id == Campaign.id).where(Sending.id == row.sending_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def page_filters(account_id: int, type_: str, *, recipient: str | None = None, sending_id: int | None = None,
                 ) -> list[ColumnElement[bool]]:
    """The conditions of a blacklist page: `ix_suppressions_lookup`, or `ix_suppressions_sending_id` by sending."""
    where = _where(account_id, type_)
    if recipient:
        # A filter that cannot be a recipient matches nothing rather than failing the request.
        where.append(Suppression.value == (normalize(type_, recipient) or recipient.strip()))
    if sending_id is not None:
        where.append(Suppression.sending_id == sending_id)
    return where


async def page(
    session: AsyncSession, account_id: int, type_: str, *, recipient: str | None = None,
    sending_id: int | None = None, page_number: int = 1, limit: int = 100,
) -> tuple[list[Entry], int]:
    """One page of a blacklist, newest first, with the total number of matching entries."""
    if type_ not in TYPES:
        raise NotFound("Resource not found")
    where = page_filters(account_id, type_, recipient=recipient, sending_id=sending_id)
    total = (await session.execute(select(func.count()).select_from(Suppression).where(*where))).scalar_one()
    stmt = (select(Suppression, Campaign.name).outerjoin(Sending, Sending.id == Suppression.sending_id)
            .outerjoin(Campaign, Campaign.id == Sending.campaign_id).where(*where)
            .order_by(Suppression.id.desc()).offset((page_number - 1) * limit).limit(limit))
    rows = [Entry(row, name) for row, name in (await session.execute(stmt)).all()]
    return rows, int(total)


async def _dialect_type(session: AsyncSession, message: Message) -> str | None:
    """The blacklist type of a messaging-API message; None for messages of other dialects."""
    type_ = TYPE_OF_CHANNEL.get(message.channel)
    if type_ is None or message.sending_id is None or message.direction != "out":
        return None
    sending = await get_loaded(session, Sending, message.sending_id)
    return type_ if sending is not None and sending.source == SOURCE else None


# session.info key: {(account_id, type, value): blacklisted} for the recipients of the dispatcher's batch.
_LOOKED_UP = "tidings.blacklist.looked_up"
_CHUNK = 500


@delivery.before_gates
async def look_up_batch(session: AsyncSession, messages: Sequence[Message], settings: Settings) -> None:
    """Look up the batch's recipients in one query per account and type, for the gate below."""
    wanted: defaultdict[tuple[int, str], set[str]] = defaultdict(set)
    for message in messages:
        type_ = await _dialect_type(session, message)
        value = normalize(type_, message.recipient) if type_ is not None else None
        if type_ is not None and value is not None:
            wanted[(message.account_id, type_)].add(value)
    known: dict[tuple[int, str, str], bool] = {}
    for (account_id, type_), values in wanted.items():
        ordered = sorted(values)
        for i in range(0, len(ordered), _CHUNK):
            chunk = ordered[i:i + _CHUNK]
            stmt = select(Suppression.value).where(*_where(account_id, type_), one_of(Suppression.value, "values"))
            listed = set((await session.execute(stmt, {"values": chunk})).scalars())
            known.update(((account_id, type_, v), v in listed) for v in chunk)
    session.info[_LOOKED_UP] = known


@delivery.gate
async def blacklist_gate(session: AsyncSession, message: Message, settings: Settings) -> delivery.Refuse | None:
    """Refuse a messaging-API message whose recipient is on its channel's blacklist."""
    type_ = await _dialect_type(session, message)
    if type_ is None:
        return None
    value = normalize(type_, message.recipient)
    if value is None:
        return None
    listed = session.info.get(_LOOKED_UP, {}).get((message.account_id, type_, value))
    if listed is None:
        listed = await _find(session, message.account_id, type_, value) is not None
    if listed:
        return delivery.Refuse("rejected", "blacklisted", f"{message.recipient} is on the {type_} blacklist")
    return None


@events.on_event("unsubscribed", "unsubscribed_landing")
async def blacklist_on_unsubscribe(session: AsyncSession, happened: events.Happened) -> None:
    """An unsubscribe link of a messaging-API message (or of its landing page) puts its recipient on the blacklist."""
    message = happened.message
    type_ = await _dialect_type(session, message)
    if type_ is not None and normalize(type_, message.recipient) is not None:
        await add(session, message.account_id, type_, message.recipient, sending_id=message.sending_id,
                  reason=happened.event.kind)
