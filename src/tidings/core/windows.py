"""Sending windows: weekly time ranges, country quiet hours and the 360nrs `availableTimes` parameter.

A window is a set of weekly wall-clock ranges in a time zone, optionally closed on a country's public
holidays (from the `holidays` library). Each range on a local date becomes one UTC interval
[start, end), so `is_open` and `next_open` agree even across daylight-saving changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

ALL_DAYS: Final = frozenset(range(1, 8))
_HHMM: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
# Enough to step over any run of holidays plus a week; a window that never opens is a bad rule.
_SEARCH_DAYS: Final = 400

# Error codes of the 360nrs `availableTimes` parameter (messaging dialect Errors table).
AVAILABLE_TIMES_NOT_ARRAY: Final = 183
AVAILABLE_TIMES_DAY_NOT_INTEGER: Final = 184
AVAILABLE_TIMES_DAY_OUT_OF_RANGE: Final = 185
AVAILABLE_TIMES_FROM_FORMAT: Final = 186
AVAILABLE_TIMES_TO_FORMAT: Final = 187
AVAILABLE_TIMES_FROM_AFTER_TO: Final = 188
AVAILABLE_TIMES_MISSING_PROPERTY: Final = 189
AVAILABLE_TIMES_EMPTY: Final = 194
AVAILABLE_TIMES_RANGE_TOO_SHORT: Final = 196
AVAILABLE_TIMES_MESSAGES: Final[Mapping[int, str]] = {
    183: "Available times value is not an array",
    184: "Available times day is not an integer",
    185: "Available times day out of range",
    186: "Available times from hour format error",
    187: "Available times to hour format error",
    188: "Available times from hour is greater than to hour",
    189: "Missing available time object property",
    194: "Available times is specified but its value is empty",
    196: "Available times range is too short",
}
DEFAULT_MIN_RANGE: Final = timedelta(minutes=15)
"""Shortest accepted `availableTimes` range; the seed names error 196 but not the minimum."""


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def _require_aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return dt.astimezone(UTC)


def parse_hhmm(value: str) -> time | None:
    """'HH:MM' in 24-hour form (00:00..23:59) as a time, or None."""
    match = _HHMM.fullmatch(value)
    return time(int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True)
class WeeklyWindow:
    """Open on `days` (1=Monday..7) from `start` (inclusive) to `end` (exclusive), wall time in `tz`."""

    days: frozenset[int]
    start: time
    end: time
    tz: str = "UTC"

    def __post_init__(self) -> None:
        object.__setattr__(self, "days", frozenset(self.days))
        if not self.days or not self.days <= ALL_DAYS:
            raise ValueError("days must be a non-empty subset of 1..7 (1=Monday)")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("start and end are wall-clock times and must be naive")
        if not self.start < self.end:
            raise ValueError("start must be before end")
        _zone(self.tz)

    def interval_on(self, local_day: date) -> tuple[datetime, datetime] | None:
        """The UTC interval this window covers on a local date, or None if closed that day."""
        if local_day.isoweekday() not in self.days:
            return None
        zone = _zone(self.tz)
        start = datetime.combine(local_day, self.start, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(local_day, self.end, tzinfo=zone).astimezone(UTC)
        # A range that starts inside a spring-forward gap can collapse; it is then closed.
        return (start, end) if start < end else None

    def is_open(self, utc_dt: datetime) -> bool:
        """Whether the window is open at this instant."""
        return WindowSet((self,)).is_open(utc_dt)

    def next_open(self, utc_dt: datetime) -> datetime:
        """`utc_dt` (in UTC) if open, else the next instant the window opens."""
        return WindowSet((self,)).next_open(utc_dt)


@lru_cache(maxsize=64)
def _holiday_calendar(country: str, subdiv: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdiv)


@dataclass(frozen=True)
class WindowSet:
    """The union of weekly windows, closed on the public holidays of `holiday_country` if given."""

    windows: tuple[WeeklyWindow, ...]
    holiday_country: str | None = None
    holiday_subdiv: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))
        if not self.windows:
            raise ValueError("a window set needs at least one window")
        if self.holiday_country is not None:
            try:
                _holiday_calendar(self.holiday_country, self.holiday_subdiv)
            except NotImplementedError as exc:
                raise ValueError(f"no holiday calendar for {self.holiday_country!r}") from exc

    def is_holiday(self, local_day: date) -> bool:
        """Whether a local date is a public holiday of the set's country."""
        if self.holiday_country is None:
            return False
        return local_day in _holiday_calendar(self.holiday_country, self.holiday_subdiv)

    def _intervals(self, local_day: date, window: WeeklyWindow) -> tuple[datetime, datetime] | None:
        if self.is_holiday(local_day):
            return None
        return window.interval_on(local_day)

    def is_open(self, utc_dt: datetime) -> bool:
        """Whether any window is open at this instant (and it is not a holiday)."""
        return self.next_open(utc_dt) == _require_aware(utc_dt)

    def next_open(self, utc_dt: datetime) -> datetime:
        """`utc_dt` (in UTC) if open, else the earliest instant any window opens."""
        now = _require_aware(utc_dt)
        best: datetime | None = None
        for window in self.windows:
            first_day = now.astimezone(_zone(window.tz)).date() - timedelta(days=1)
            for offset in range(_SEARCH_DAYS):
                day = first_day + timedelta(days=offset)
                if best is not None and datetime.combine(day, time(), tzinfo=UTC) > best + timedelta(days=2):
                    break
                interval = self._intervals(day, window)
                if interval is None or interval[1] <= now:
                    continue
                candidate = max(interval[0], now)
                if best is None or candidate < best:
                    best = candidate
                break
        if best is None:
            raise ValueError("window never opens")
        return best


def window_set(
    ranges: Iterable[tuple[Iterable[int], time, time]],
    tz: str = "UTC",
    holiday_country: str | None = None,
    holiday_subdiv: str | None = None,
) -> WindowSet:
    """Build a WindowSet from (days, start, end) triples sharing one time zone."""
    windows = tuple(WeeklyWindow(frozenset(days), start, end, tz) for days, start, end in ranges)
    return WindowSet(windows, holiday_country, holiday_subdiv)


def parse_available_times(raw: Any, *, min_range: timedelta = DEFAULT_MIN_RANGE) -> WindowSet | int:
    """Validate a 360nrs `availableTimes` value (list, or its JSON text); a UTC WindowSet or an error code.

    Each item is {"day": 1..7 (optional: every day), "from": "HH:MM", "to": "HH:MM"}, times in UTC.
    """
    value = raw
    if isinstance(value, str | bytes):
        if not value.strip():
            return AVAILABLE_TIMES_EMPTY
        try:
            value = json.loads(value)
        except ValueError:
            return AVAILABLE_TIMES_NOT_ARRAY
    if value is None:
        return AVAILABLE_TIMES_EMPTY
    if not isinstance(value, list):
        return AVAILABLE_TIMES_NOT_ARRAY
    if not value:
        return AVAILABLE_TIMES_EMPTY
    windows: list[WeeklyWindow] = []
    for item in value:
        if not isinstance(item, dict) or "from" not in item or "to" not in item:
            return AVAILABLE_TIMES_MISSING_PROPERTY
        days = ALL_DAYS
        if "day" in item and item["day"] is not None:
            day = item["day"]
            if isinstance(day, bool) or not isinstance(day, int):
                return AVAILABLE_TIMES_DAY_NOT_INTEGER
            if not 1 <= day <= 7:
                return AVAILABLE_TIMES_DAY_OUT_OF_RANGE
            days = frozenset({day})
        start = parse_hhmm(item["from"]) if isinstance(item["from"], str) else None
        if start is None:
            return AVAILABLE_TIMES_FROM_FORMAT
        end = parse_hhmm(item["to"]) if isinstance(item["to"], str) else None
        if end is None:
            return AVAILABLE_TIMES_TO_FORMAT
        if start > end:
            return AVAILABLE_TIMES_FROM_AFTER_TO
        length = datetime.combine(date.min, end) - datetime.combine(date.min, start)
        if length <= timedelta(0) or length < min_range:
            return AVAILABLE_TIMES_RANGE_TOO_SHORT
        windows.append(WeeklyWindow(days, start, end, "UTC"))
    return WindowSet(tuple(windows))


# --- country sending restrictions -------------------------------------------------------------


@dataclass(frozen=True)
class CountryRule:
    """Quiet hours for one destination country; `applies_to` names the message kinds restricted."""

    country: str
    schedule: WindowSet
    applies_to: frozenset[str] = frozenset({"marketing"})
    opt_out_text: str | None = None
    source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def _rule_from_json(country: str, data: Any) -> CountryRule:
    where = f"country rule {country!r}"
    if not isinstance(data, dict):
        raise ValueError(f"{where}: must be an object")
    tz = data.get("tz")
    if not isinstance(tz, str):
        raise ValueError(f"{where}: 'tz' must be a time zone name")
    ranges = data.get("windows")
    if not isinstance(ranges, list) or not ranges:
        raise ValueError(f"{where}: 'windows' must be a non-empty list")
    windows: list[WeeklyWindow] = []
    for entry in ranges:
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: each window must be an object")
        days = entry.get("days", sorted(ALL_DAYS))
        start = parse_hhmm(entry.get("from", "")) if isinstance(entry.get("from"), str) else None
        end = parse_hhmm(entry.get("to", "")) if isinstance(entry.get("to"), str) else None
        if start is None or end is None:
            raise ValueError(f"{where}: 'from' and 'to' must be HH:MM")
        if not isinstance(days, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in days
        ):
            raise ValueError(f"{where}: 'days' must be a list of integers 1..7")
        windows.append(WeeklyWindow(frozenset(days), start, end, tz))
    holiday_flag = data.get("holidays", False)
    holiday_country: str | None
    if holiday_flag is True:
        holiday_country = country
    elif isinstance(holiday_flag, str):
        holiday_country = holiday_flag
    elif holiday_flag is False or holiday_flag is None:
        holiday_country = None
    else:
        raise ValueError(f"{where}: 'holidays' must be true, false or a country code")
    applies_to = data.get("applies_to", ["marketing"])
    if not isinstance(applies_to, list) or not all(isinstance(k, str) for k in applies_to):
        raise ValueError(f"{where}: 'applies_to' must be a list of message kinds")
    known = {"tz", "windows", "holidays", "holiday_subdiv", "applies_to", "opt_out_text", "source"}
    return CountryRule(
        country=country,
        schedule=WindowSet(tuple(windows), holiday_country, data.get("holiday_subdiv")),
        applies_to=frozenset(applies_to),
        opt_out_text=data.get("opt_out_text"),
        source=str(data.get("source", "")),
        extra={k: v for k, v in data.items() if k not in known},
    )


def parse_country_rules(document: Mapping[str, Any]) -> dict[str, CountryRule]:
    """Rules from a parsed rules document: {"countries": {"FR": {...}, ...}}; a null entry is skipped."""
    countries = document.get("countries")
    if not isinstance(countries, dict):
        raise ValueError("country rules document needs a 'countries' object")
    rules: dict[str, CountryRule] = {}
    for code, data in countries.items():
        if data is not None:
            rules[code.upper()] = _rule_from_json(code.upper(), data)
    return rules


@lru_cache(maxsize=1)
def _builtin_rules() -> dict[str, CountryRule]:
    text = resources.files("tidings.core").joinpath("data/country_rules.json").read_text("utf-8")
    return parse_country_rules(json.loads(text))


def load_country_rules(extra_path: str | Path | None = None) -> dict[str, CountryRule]:
    """The built-in rules, overlaid by an operator's JSON file of the same shape (null removes a country)."""
    rules = dict(_builtin_rules())
    if extra_path is None:
        return rules
    document = json.loads(Path(extra_path).read_text("utf-8"))
    countries = document.get("countries") if isinstance(document, dict) else None
    if not isinstance(countries, dict):
        raise ValueError(f"{extra_path}: country rules document needs a 'countries' object")
    for code, data in countries.items():
        if data is None:
            rules.pop(code.upper(), None)
        else:
            rules[code.upper()] = _rule_from_json(code.upper(), data)
    return rules


def _rule_for(country_alpha2: str, kind: str, rules: Mapping[str, CountryRule] | None) -> CountryRule | None:
    rule = (rules if rules is not None else _builtin_rules()).get(country_alpha2.upper())
    return rule if rule is not None and kind in rule.applies_to else None


def is_permitted(
    country_alpha2: str,
    utc_dt: datetime,
    *,
    kind: str = "marketing",
    rules: Mapping[str, CountryRule] | None = None,
) -> bool:
    """Whether a message of `kind` may be sent to the country at this instant."""
    rule = _rule_for(country_alpha2, kind, rules)
    return rule is None or rule.schedule.is_open(utc_dt)


def next_permitted(
    country_alpha2: str,
    utc_dt: datetime,
    *,
    kind: str = "marketing",
    rules: Mapping[str, CountryRule] | None = None,
) -> datetime:
    """`utc_dt` (in UTC) if sending is permitted, else the next permitted instant for that country."""
    rule = _rule_for(country_alpha2, kind, rules)
    if rule is None:
        return _require_aware(utc_dt)
    return rule.schedule.next_open(utc_dt)
