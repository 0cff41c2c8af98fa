"""How the dispatcher turns a queued message into a provider call: preparers, gates, outcomes.

Domains plug in here without the engine knowing them: a preparer builds what the provider needs
(MIME for email, parts for SMS) and may pick its own provider (a mailbox's SMTP server); a gate
may hold a message (quiet hours) or refuse it (blacklist, balance); an outcome hook reacts to a
provider's answer (pause a mailbox whose login fails). A gate that needs a lookup per message registers
a `before_gates` hook that loads it once for the claimed batch (one query instead of one per message).
The message they get is a tracked row (`db.tracked`): read and assign its attributes, never hand it to the
session (docs/development.md, Engine).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.base import OutboundMessage, Provider, SendResult
from tidings.config import Settings
from tidings.db.models import Message


@dataclass
class Prepared:
    """`key` names the provider instance; the dispatcher keeps one per key (one SMTP connection).

    `finish`: the rest of the preparation (an email's MIME, its signature), done in the send's lane right before the
    send, for a preparation that changes nothing stored (docs/performance.md); an error there fails the message as an
    error of the preparer does (`PrepareFailed`).
    """

    outbound: OutboundMessage
    key: str
    provider_factory: Callable[[], Provider] | None = None
    finish: Callable[[], None] | None = None


PREPARE_FAILED = "prepare"  # the code of the `failed` event of a message that could not be built


@dataclass
class PrepareFailed(SendResult):
    """The outcome of a message whose `Prepared.finish` raised: recorded as failed, never sent."""


@dataclass
class Hold:
    until: datetime
    reason: str


@dataclass
class Refuse:
    kind: str  # the event to record: rejected, failed, expired ...
    code: str
    detail: str


Preparer = Callable[[AsyncSession, Message, Settings], Awaitable[Prepared]]
Gate = Callable[[AsyncSession, Message, Settings], Awaitable[Hold | Refuse | None]]
Outcome = Callable[[AsyncSession, Message, SendResult], Awaitable[None]]
BatchHook = Callable[[AsyncSession, Sequence[Message], Settings], Awaitable[None]]

PREPARERS: dict[str, Preparer] = {}
GATES: list[Gate] = []
OUTCOMES: list[Outcome] = []
BEFORE_GATES: list[BatchHook] = []


def preparer(name: str) -> Callable[[Preparer], Preparer]:
    """Register a preparer; a message uses `extra["preparer"]`, else the one named after its channel."""

    def decorate(fn: Preparer) -> Preparer:
        PREPARERS[name] = fn
        return fn

    return decorate


def gate(fn: Gate) -> Gate:
    GATES.append(fn)
    return fn


def before_gates(fn: BatchHook) -> BatchHook:
    """Register a hook the dispatcher runs once per claimed batch, before the gates see its messages."""
    BEFORE_GATES.append(fn)
    return fn


def outcome(fn: Outcome) -> Outcome:
    OUTCOMES.append(fn)
    return fn


_BATCH, _MEMO = "tidings.delivery.batch", "tidings.delivery.memo"


def hold_batch(session: AsyncSession, messages: Sequence[Message], memo: dict[str, Any] | None = None) -> None:
    """Name the dispatcher's batch for the session's transaction: its messages are tracked rows, not objects of
    the session, and lookups that load what a whole batch needs at once (`batch_messages`) look here too.
    `memo` is the batch's `batch_memo`, shared by its claim and every transaction recording its sends."""
    session.info[_BATCH] = messages
    if memo is not None:
        session.info[_MEMO] = memo


def batch_memo(session: AsyncSession) -> dict[str, Any]:
    """What listeners read once for the dispatcher's whole batch, from its claim to its last record (outside the
    dispatcher, for the transaction only): a campaign's step delays read again for every small group of sends
    recorded was a query each (docs/performance.md). Only settings the batch may use as they were at its start."""
    memo: dict[str, Any] = session.info.setdefault(_MEMO, {})
    return memo


def batch_messages(session: AsyncSession) -> Sequence[Message]:
    """The messages of the dispatcher's batch in this transaction (none outside the dispatcher)."""
    found: Sequence[Message] = session.info.get(_BATCH, ())
    return found


def preparer_for(message: Message) -> Preparer:
    name = (message.extra or {}).get("preparer") or message.channel
    try:
        return PREPARERS[name]
    except KeyError:
        raise LookupError(f"no preparer {name} for {message.channel} messages") from None
