"""Scheduled messages of the messaging dialect: list, move and cancel what is queued for a later date.

GUID (for 5b and every other dialect that shows it): the scheduled item is one *message*, and
its guid is the message's public id as a decimal string (`ids.to_int(Kind.MESSAGE, pk)`), the same
value `POST /api/rest/sms` and `POST /api/rest/mailing` return as `id`. The document's examples
show several guids sharing one `sending_id`, which rules out a per-sending guid.

A message is scheduled while it is still queued, was given a schedule date (`scheduled_at`), and
belongs to a sending of the messaging dialect (`Sending.source == "rest"`). Type SMS is channel
"sms", MAILING is channel "email". Cancelling keeps the row (status "deleted") for the reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Select, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core import ids as public_ids
from tidings.core.errors import DomainError
from tidings.core.ids import Kind
from tidings.db.models import Message, Sending
from tidings.tenancy.subject import AuthSubject

SOURCE: Final = "rest"
TYPES: Final = {"SMS": "sms", "MAILING": "email"}
TYPE_OF_CHANNEL: Final = {v: k for k, v in TYPES.items()}
CANCELLED: Final = "deleted"
MAX_ID: Final = 2**63 - 1
NO_ROW: Final = -1  # never a primary key


def _nrs(code: int) -> DomainError:
    return DomainError(f"request refused (code {code})", nrs_code=code)


def parse_nrs_date(value: Any, code: int) -> datetime | None:
    """`YYYYmmddHHiiss` in UTC (None when absent); the documented `code` when it is not such a date."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _nrs(code)
    text = str(value).strip()
    if len(text) != 14 or not (text.isascii() and text.isdigit()):
        raise _nrs(code)
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise _nrs(code) from None


def parse_guids(raw: Any) -> tuple[list[int] | None, bool]:
    """Guids from one value, an array or comma-separated text: (ids or None for all, whether one scalar).

    Anything that cannot be one of our ids is error 120 (Invalid GUID).
    """
    if raw is None or raw == "" or raw == []:
        return None, False
    single = not isinstance(raw, list)
    items: Sequence[Any] = raw if isinstance(raw, list) else (raw.split(",") if isinstance(raw, str) else [raw])
    if isinstance(raw, str) and "," in raw:
        single = False
    pks: list[int] = []
    for item in items:
        if isinstance(item, bool):
            raise _nrs(120)
        text = item.strip() if isinstance(item, str) else str(item) if isinstance(item, int) else ""
        if not (text.isascii() and text.isdigit()) or len(text) > 19 or not 0 < int(text) <= MAX_ID:
            raise _nrs(120)
        # A well-formed guid that is not one of ours is simply not found, like another account's.
        pks.append(public_ids.from_int(Kind.MESSAGE, text) or NO_ROW)
    return list(dict.fromkeys(pks)), single and len(pks) == 1


def parse_type(raw: Any) -> str | None:
    """The channel of a `type` filter (SMS or MAILING, any case); 422 for anything else."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or raw.strip().upper() not in TYPES:
        raise DomainError("The type must be SMS or MAILING.", nrs_code=422,
                          description="Input validation error: type must be SMS or MAILING")
    return TYPES[raw.strip().upper()]


@dataclass(frozen=True)
class Filter:
    """Which scheduled messages a request is about; `guids=None` means all of them."""

    guids: list[int] | None = None
    channel: str | None = None
    sending_id: int | None = None


def _conditions(subject: AuthSubject, flt: Filter) -> list[Any]:
    # The account's scheduled messages come through ix_messages_scheduled; each one's sending is then checked by
    # its key (a list of every sending of the account, one per API call, was read first before).
    from_this_dialect = exists().where(Sending.id == Message.sending_id, Sending.source == SOURCE)
    where: list[Any] = [Message.account_id == subject.account_id, Message.direction == "out",
                        Message.status == "queued", Message.scheduled_at.is_not(None),
                        Message.channel.in_(tuple(TYPES.values())), from_this_dialect]
    if flt.guids is not None:
        where.append(Message.id.in_(flt.guids))
    if flt.channel is not None:
        where.append(Message.channel == flt.channel)
    if flt.sending_id is not None:
        where.append(Message.sending_id == flt.sending_id)
    return where


def find_statement(subject: AuthSubject, flt: Filter) -> Select[Message]:
    return select(Message).where(*_conditions(subject, flt)).order_by(Message.scheduled_at, Message.id)


async def find(session: AsyncSession, subject: AuthSubject, flt: Filter) -> list[Message]:
    """The scheduled messages matching the filter, soonest first."""
    return list((await session.execute(find_statement(subject, flt))).scalars())


async def reschedule(session: AsyncSession, subject: AuthSubject, flt: Filter, when: datetime) -> int:
    """Move every matching scheduled message to `when`; returns how many moved."""
    # A date already past sends at once, as it would have on POST; it stays listed until dispatched.
    stmt = (update(Message).where(*_conditions(subject, flt))
            .values(scheduled_at=when, due_at=when, updated_at=clock.now())
            .execution_options(synchronize_session=False))
    result = await session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def cancel(session: AsyncSession, subject: AuthSubject, flt: Filter) -> int:
    """Take every matching scheduled message off the queue; returns how many were cancelled."""
    stmt = (update(Message).where(*_conditions(subject, flt))
            .values(status=CANCELLED, due_at=None, updated_at=clock.now())
            .execution_options(synchronize_session=False))
    result = await session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
