"""Mailbox rotation: which mailbox may send now, within its daily limit and minimum interval.

The scheduler reserves a send on a mailbox when it queues a message: `sent_today` counts the
reservations of the UTC day and `next_send_at` moves `min_interval_seconds` plus up to 25 %
random jitter ahead, so messages never leave at a machine-regular rhythm.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from tidings.core import clock
from tidings.db.models import Mailbox

JITTER = 0.25


def _roll_day(box: Mailbox, now: datetime) -> None:
    today = clock.as_utc(now).date()
    if box.sent_day != today:
        box.sent_day, box.sent_today = today, 0


def usable(box: Mailbox, now: datetime) -> bool:
    """Active, or paused but due for another login attempt."""
    if box.status == "active":
        return True
    return box.status == "paused" and box.paused_until is not None and clock.as_utc(box.paused_until) <= now


def free_at(box: Mailbox, now: datetime) -> datetime:
    """The earliest instant this mailbox may send again (`now` when it may send now)."""
    _roll_day(box, now)
    if box.status == "paused":
        return max(now, clock.as_utc(box.paused_until)) if box.paused_until else now + timedelta(hours=1)
    if box.sent_today >= box.daily_limit:
        tomorrow = clock.as_utc(now).date() + timedelta(days=1)
        return datetime.combine(tomorrow, time(), tzinfo=now.tzinfo)
    if box.next_send_at is not None and clock.as_utc(box.next_send_at) > now:
        return clock.as_utc(box.next_send_at)
    return now


def can_send(box: Mailbox, now: datetime) -> bool:
    return usable(box, now) and free_at(box, now) <= now


def reserve(box: Mailbox, now: datetime) -> None:
    """Count one send on the mailbox and push its next slot out by the interval plus jitter."""
    _roll_day(box, now)
    box.sent_today += 1
    box.last_sent_at = now
    if box.min_interval_seconds > 0:
        gap = box.min_interval_seconds * (1 + random.uniform(0, JITTER))  # noqa: S311 - not security relevant
        box.next_send_at = now + timedelta(seconds=gap)


def pick(boxes: list[Mailbox], now: datetime) -> Mailbox | None:
    """The free mailbox that has sent least today (then the one idle longest), or None."""
    free = [b for b in boxes if can_send(b, now)]
    if not free:
        return None
    oldest = datetime.min.replace(tzinfo=now.tzinfo)
    return min(free, key=lambda b: (b.sent_today, clock.as_utc(b.last_sent_at) if b.last_sent_at else oldest, b.id))


class Round:
    """One scheduler round at one instant: each mailbox's `can_send` and rank are worked out once, again
    only after a reserve on it.

    Only `reserve` changes them at a fixed `now`, so the answers are the module functions' own; a round
    over a thousand contacts no longer re-checks every mailbox for each one.
    """

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._oldest = datetime.min.replace(tzinfo=now.tzinfo)
        # Keyed by the object (one per row in a session): cheaper than reading the instrumented id.
        self._free: dict[Mailbox, bool] = {}
        self._rank: dict[Mailbox, tuple[int, datetime, int]] = {}

    def can_send(self, box: Mailbox) -> bool:
        free = self._free.get(box)
        if free is None:
            free = self._free[box] = can_send(box, self.now)
        return free

    def _ranked(self, box: Mailbox) -> tuple[int, datetime, int]:
        rank = self._rank.get(box)
        if rank is None:
            last = clock.as_utc(box.last_sent_at) if box.last_sent_at else self._oldest
            rank = self._rank[box] = (box.sent_today, last, box.id)
        return rank

    def pick(self, boxes: list[Mailbox]) -> Mailbox | None:
        """As `pick`: the free mailbox that has sent least today (then the one idle longest), first on ties."""
        best: Mailbox | None = None
        best_rank: tuple[int, datetime, int] | None = None
        for box in boxes:
            if not self.can_send(box):
                continue
            rank = self._ranked(box)
            if best_rank is None or rank < best_rank:
                best, best_rank = box, rank
        return best

    def reserve(self, box: Mailbox) -> None:
        reserve(box, self.now)
        self._free.pop(box, None)
        self._rank.pop(box, None)
