"""The one source of time: tests move a manual clock forward instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


_clock: Clock = Clock()


def now() -> datetime:
    """The current time, aware, in UTC."""
    return _clock.now()


def set_clock(clock: Clock) -> Clock:
    """Install a clock and return the previous one."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def get_clock() -> Clock:
    return _clock


def as_utc(value: datetime) -> datetime:
    """Treat naive datetimes (as SQLite returns them) as UTC."""
    if value.tzinfo is UTC:
        return value  # the common case, and hot: astimezone would only make an equal copy
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def epoch(value: datetime | None) -> int | None:
    """Epoch seconds, as the outreach and email dialects render times."""
    return None if value is None else int(as_utc(value).timestamp())
