"""SMS providers (SMPP, Twilio-compatible HTTP) and what they hand back to the engine.

A provider has no database: delivery receipts it hears on its own connection (SMPP deliver_sm) are
put on its `receipts` queue as `Receipt`s, and an engine loop turns them into message events.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from tidings.channels.base import SendResult

# SMPP receipt `stat:` values and the event each one becomes; None means "not final, no event".
# DELETED and UNKNOWN are final states that did not reach the handset, so they count as undelivered.
STAT_TO_STATUS: dict[str, str | None] = {
    "DELIVRD": "delivered",
    "UNDELIV": "undelivered",
    "EXPIRED": "expired",
    "REJECTD": "rejected",
    "DELETED": "undelivered",
    "UNKNOWN": "undelivered",
    "ACCEPTD": None,
    "ENROUTE": None,
}
# SMPP 3.4 message_state TLV values, for receipts that carry it instead of (or besides) the text.
MESSAGE_STATE_TO_STAT = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD",
                         7: "UNKNOWN", 8: "REJECTD"}


@dataclass
class Receipt:
    """A delivery report for one submitted part, as the carrier gave it."""

    channel: str
    provider_id: str
    stat: str
    status: str | None
    error: str = ""
    done_at: datetime | None = None
    # The message id when the provider still remembers which message the part belonged to.
    reference: str | None = None
    part: int = 1


@dataclass
class MultipartResult(SendResult):
    """An accepted send of several parts: `provider_id` is the first part's id, `part_ids` all of them."""

    part_ids: list[str] = field(default_factory=list)


@runtime_checkable
class ReceiptSource(Protocol):
    """A provider that hears receipts on its own connection."""

    receipts: asyncio.Queue[Receipt]

    async def listen(self) -> None: ...


def status_for_stat(stat: str) -> str | None:
    """The event kind for an SMPP receipt `stat` (unknown values are treated as UNKNOWN)."""
    stat = stat.strip().upper()
    return STAT_TO_STATUS.get(stat, STAT_TO_STATUS["UNKNOWN"])
