"""The one way something happens to a message: `record` it.

Recording updates the message, inserts the Event, moves the sending's counters and calls the
listeners other modules register (outreach stats, webhooks, fallback flows) in the same
transaction, so counters and reactions can never disagree with the events.

Inside `batch(session)` (the dispatcher's batches) the Event rows are written together by one
INSERT when the block ends: the unit of work inserts one row per statement on SQLite, which was
a large part of recording a batch. The rows still commit or roll back with everything else.

A listener may say which messages it wants (`wants`, given the message's `FACTS`) and do its work on a plain
row (`plain`); an event whose every interested listener has a plain form can be recorded on a plain row
(`record_plain`) instead of a loaded `Message`, as the receipts of a batch and the dispatcher's sends are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, insert, literal, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.db.base import UtcDateTime, json_object, one_of, table_of
from tidings.db.counters import bump
from tidings.db.models import Event, Message
from tidings.db.plain_writes import insert_rows
from tidings.db.sqlite_driver import deferred_writes

# Outcomes after which nothing more is sent for the message.
FAILURES = ("undelivered", "bounced", "rejected", "expired", "failed")
# A recipient on a hosted form (tidings.messaging.forms), or a landing page's unsubscribe (tidings.messaging.landing).
RECIPIENT_KINDS = ("form_opened", "form_submitted", "form_rejected", "unsubscribed_landing")
# "deferred": a temporary refusal (an SMTP 4xx, a soft bounce); the message is tried again, its status unchanged.
KINDS = ("queued", "sent", "delivered", *FAILURES, "deferred", "opened", "clicked", "replied", "autoreplied",
         "unsubscribed", *RECIPIENT_KINDS)
_TIMESTAMP = {"sent": "sent_at", "delivered": "delivered_at", "opened": "opened_at", "clicked": "clicked_at"}
_STATUS = {"sent": "sent", "delivered": "delivered", **{k: k for k in FAILURES}}


@dataclass
class Recorded:
    """An event recorded inside `batch`: its row is inserted when the block ends, not built as an ORM object."""

    kind: str
    occurred_at: datetime
    details: dict[str, Any]
    message_id: int | None = None
    id: int | None = None


@dataclass
class Happened:
    """What listeners receive; `first` is False when the message had this event already.

    Inside `batch` the event is a `Recorded` (its row is written when the block ends); listeners read
    its kind, time and details.
    """

    message: Message
    event: Event | Recorded
    first: bool


@dataclass
class HappenedPlain:
    """What a listener's plain form receives: the message's FACTS as a row (the event's changes applied).

    It may add columns to `changes`; they are written with the event's.
    """

    row: dict[str, Any]
    kind: str
    occurred_at: datetime
    details: dict[str, Any]
    first: bool
    changes: dict[str, Any]


Listener = Callable[[AsyncSession, Happened], Awaitable[None]]
PlainListener = Callable[[AsyncSession, HappenedPlain], Awaitable[None]]
# Whether a listener has anything to do for a message, from its FACTS; a listener without one wants every message.
Wants = Callable[[Mapping[str, Any]], bool]
# What a `Wants` and a plain form read: these columns of the message, and "account_settings" (its account's
# `settings`).
FACTS = ("id", "channel", "direction", "status", "extra", "account_id", "sending_id", "campaign_id", "enrollment_id",
         "step_number", "variant", "sent_at", "delivered_at", "error_code", "error_detail", "parts", "recipient",
         "external_id")
_LISTENERS: list[tuple[frozenset[str], Listener, Wants | None, PlainListener | None]] = []
# Per kind, its listeners in registration order; worked out at a kind's first event after a registration.
_FOR_KIND: dict[str, tuple[Listener, ...]] = {}
_PLAIN_FOR_KIND: dict[str, tuple[tuple[Wants | None, PlainListener | None], ...]] = {}


_BATCH = "tidings.events.batch"


@asynccontextmanager
async def batch(session: AsyncSession) -> AsyncIterator[None]:
    """Record events in this block with one INSERT at its end instead of one each.

    For callers whose listeners do not read Event rows back inside the block (the dispatcher's
    claim and record transactions). Nested blocks join the outer one.
    """
    info = session.sync_session.info
    if _BATCH in info:
        yield
        return
    rows: list[dict[str, Any]] = []
    info[_BATCH] = rows
    try:
        yield
        if rows:
            await session.flush()  # the messages' changes first: what the unit of work writes is not deferred
            # On SQLite the INSERT goes with the transaction's next trip (the COMMIT, in the dispatcher's batches).
            connection = (await session.connection()).sync_connection
            assert connection is not None
            with deferred_writes(connection):
                await insert_rows(session, table_of(Event), rows)
    finally:
        info.pop(_BATCH, None)


def on_event(*kinds: str, wants: Wants | None = None, plain: PlainListener | None = None,
             ) -> Callable[[Listener], Listener]:
    """Register a listener for some kinds of event (all kinds when none are named).

    `wants` (optional) tells from a message's FACTS whether the listener would do anything for it; `plain`
    (optional) does the listener's work on a plain row, for `record_plain`.
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown event kinds {sorted(unknown)}")

    def decorate(fn: Listener) -> Listener:
        _LISTENERS.append((frozenset(kinds), fn, wants, plain))
        _FOR_KIND.clear()
        _PLAIN_FOR_KIND.clear()
        return fn

    return decorate


def forget(listener: Listener) -> None:
    """Unregister a listener (a test's, a plugin's being unloaded)."""
    _LISTENERS[:] = [entry for entry in _LISTENERS if entry[1] is not listener]
    _FOR_KIND.clear()
    _PLAIN_FOR_KIND.clear()


def _plain_forms(kind: str) -> tuple[tuple[Wants | None, PlainListener | None], ...]:
    found = _PLAIN_FOR_KIND.get(kind)
    if found is None:
        found = _PLAIN_FOR_KIND[kind] = tuple((w, p) for kinds, _, w, p in _LISTENERS if not kinds or kind in kinds)
    return found


def facts_of(message: Message, account_settings: Any) -> dict[str, Any]:
    """A loaded message's FACTS as a plain row (for `plain_listeners` and `record_plain`)."""
    row = {name: getattr(message, name) for name in FACTS}
    row["account_settings"] = account_settings
    return row


def plain_listeners(kind: str, facts: Mapping[str, Any]) -> list[PlainListener] | None:
    """The plain forms of the listeners that want this kind of event on this message, for `record_plain`; None
    when one of them has no plain form (then the event needs `record`)."""
    interested: list[PlainListener] = []
    for wants, plain in _plain_forms(kind):
        if wants is not None and not wants(facts):
            continue
        if plain is None:
            return None
        interested.append(plain)
    return interested


def _changes(kind: str, when: datetime, details: Mapping[str, Any], current: Callable[[str], Any],
             ) -> tuple[dict[str, Any], bool]:
    """The columns an event of `kind` changes on its message (read through `current`), and whether it is the first."""
    changes: dict[str, Any] = {}
    first = True
    stamp = _TIMESTAMP.get(kind)
    if stamp is not None:
        first = current(stamp) is None
        if first:
            changes[stamp] = when
    status = _STATUS.get(kind)
    if status is not None and not (current("status") == "delivered" and kind == "sent"):
        changes["status"] = status
    if kind in FAILURES:
        if details.get("code") is not None:
            changes["error_code"] = str(details.get("code"))
        if details.get("detail"):
            changes["error_detail"] = str(details.get("detail"))
    return changes, first


async def record(
    session: AsyncSession,
    message: Message,
    kind: str,
    *,
    at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> Happened:
    """Record one event on a message, with its counters and listeners, in the caller's transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind}")
    when = at or clock.now()
    details = details or {}
    changes, first = _changes(kind, when, details, lambda key: getattr(message, key))
    for key, value in changes.items():
        setattr(message, key, value)
    if kind == "clicked" and message.opened_at is None:
        # A click proves an open even when images were blocked.
        await record(session, message, "opened", at=when, details={"implied_by": "click"})
    values = await _event_and_counter(session, message.account_id, message.id, message.sending_id,
                                      message.campaign_id, kind, when, details, first)
    pending: list[dict[str, Any]] | None = session.sync_session.info.get(_BATCH)
    event: Event | Recorded
    if pending is None:
        event = Event(**values)
        session.add(event)
    else:
        pending.append(values)
        event = Recorded(kind, when, details, message.id)
    happened = Happened(message, event, first)
    listeners = _FOR_KIND.get(kind)
    if listeners is None:
        listeners = _FOR_KIND[kind] = tuple(listener for kinds, listener, _, _ in _LISTENERS
                                            if not kinds or kind in kinds)
    for listener in listeners:
        await listener(session, happened)
    return happened


async def record_plain(session: AsyncSession, row: dict[str, Any], kind: str, *, at: datetime | None = None,
                       details: dict[str, Any] | None = None, listeners: list[PlainListener] | None = None,
                       ) -> dict[str, Any]:
    """`record` on a plain row of the message's FACTS, for an event `plain_listeners` allows, inside `batch`.

    The row takes the changes, which are returned (with what plain forms of listeners added) for the caller to
    write; the event and counters are as `record`'s. A click (which implies an open) is not recorded here.
    `listeners`: what `plain_listeners` gave for this kind on this row as it is, when the caller has it.
    """
    pending: list[dict[str, Any]] | None = session.sync_session.info.get(_BATCH)
    stamp = _TIMESTAMP.get(kind)
    if pending is None or kind not in KINDS or kind == "clicked" or (stamp is not None and stamp not in row):
        raise ValueError(f"record_plain records {kind} events only inside events.batch, on rows with their stamp")
    when = at or clock.now()
    details = details or {}
    changes, first = _changes(kind, when, details, row.__getitem__)
    interested = listeners if listeners is not None else [
        p for w, p in _plain_forms(kind) if p is not None and (w is None or w(row))]
    row.update(changes)
    pending.append(await _event_and_counter(session, row["account_id"], row["id"], row["sending_id"],
                                            row["campaign_id"], kind, when, details, first))
    if interested:
        happened = HappenedPlain(row, kind, when, details, first, changes)
        for listener in interested:
            await listener(session, happened)
        row.update(changes)
    return changes


async def record_plain_set(session: AsyncSession, rows: Sequence[dict[str, Any]], kind: str,
                           details: Mapping[str, Any], *, at: datetime | None = None) -> None:
    """`record_plain` of one kind of event with the same `details` on many rows that no listener wants it on
    (`plain_listeners` gave []), inside `batch`: per group of rows the event changes alike, one UPDATE of the
    messages and one INSERT ... SELECT of their events, instead of a row's parameters each.

    A value of `details` may be a column of `messages`: the event's detail is then the message's value (a receipt's
    provider id is its message's `external_id`). Each row takes its changes, as with `record_plain`.
    """
    if session.sync_session.info.get(_BATCH) is None or kind not in KINDS or kind == "clicked":
        raise ValueError(f"record_plain_set records {kind} events only inside events.batch")
    if not rows:
        return
    when = at or clock.now()
    plain_details = {k: v for k, v in details.items() if not isinstance(v, ColumnElement)}
    groups: dict[tuple[tuple[str, Any], ...], list[int]] = {}
    firsts: Counter[tuple[int, int]] = Counter()
    for row in rows:
        changes, first = _changes(kind, when, plain_details, row.__getitem__)
        row.update(changes)
        groups.setdefault(tuple(sorted(changes.items())), []).append(row["id"])
        if first and row["sending_id"] is not None:
            firsts[(row["account_id"], row["sending_id"])] += 1
    for (account_id, sending_id), count in firsts.items():
        await bump(session, account_id=account_id, scope="sending", scope_id=sending_id,
                   day=clock.as_utc(when).date(), metric=kind, by=count)
    messages = table_of(Message)
    document = json_object(*(part for key, value in details.items()
                             for part in (literal(key, String()), _json_value(value))))
    insert_events = insert(table_of(Event)).from_select(
        ["account_id", "message_id", "sending_id", "campaign_id", "kind", "occurred_at", "details"],
        select(messages.c.account_id, messages.c.id, messages.c.sending_id, messages.c.campaign_id,
               literal(kind, String()), literal(when, UtcDateTime()), document).where(one_of(messages.c.id))
        .order_by(messages.c.id))  # the events' ids in their messages' order, whatever the plan
    await session.flush()
    connection = (await session.connection()).sync_connection
    assert connection is not None
    with deferred_writes(connection):  # on SQLite with the transaction's next trip, as the batch's other events
        for alike, ids in groups.items():
            update_messages = update(messages).where(one_of(messages.c.id)).values(dict(alike))
            for start in range(0, len(ids), 500):
                chunk = {"ids": ids[start:start + 500]}
                if alike:
                    await session.execute(update_messages, chunk)
                await session.execute(insert_events, chunk)


def _json_value(value: Any) -> ColumnElement[Any]:
    """A detail's value in `json_object`: a column as is, else bound as the JSON value it is."""
    if isinstance(value, ColumnElement):
        return value
    if value is None:
        return null()
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"record_plain_set details are text, integers or null, not {type(value).__name__}")
    return literal(value, String() if isinstance(value, str) else Integer())


async def _event_and_counter(session: AsyncSession, account_id: int, message_id: int, sending_id: int | None,
                             campaign_id: int | None, kind: str, when: datetime, details: dict[str, Any],
                             first: bool) -> dict[str, Any]:
    """The Event row's values; moves the sending's counter of the kind when the event is the message's first."""
    if sending_id is not None and first:
        await bump(session, account_id=account_id, scope="sending", scope_id=sending_id,
                   day=clock.as_utc(when).date(), metric=kind)
    return {"account_id": account_id, "message_id": message_id, "sending_id": sending_id,
            "campaign_id": campaign_id, "kind": kind, "occurred_at": when, "details": details}
