"""Sending windows, country quiet hours and the 360nrs availableTimes parameter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.core.windows import (
    ALL_DAYS,
    AVAILABLE_TIMES_MESSAGES,
    WeeklyWindow,
    WindowSet,
    is_permitted,
    load_country_rules,
    next_permitted,
    parse_available_times,
    window_set,
)

PARIS = ZoneInfo("Europe/Paris")
BOGOTA = ZoneInfo("America/Bogota")
WEEKDAYS = frozenset({1, 2, 3, 4, 5})


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in `tz`, as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=tz).astimezone(UTC)


# --- WeeklyWindow -----------------------------------------------------------------------------


def test_window_validation() -> None:
    with pytest.raises(ValueError):
        WeeklyWindow(WEEKDAYS, time(9), time(9))
    with pytest.raises(ValueError):
        WeeklyWindow(WEEKDAYS, time(22), time(6))
    with pytest.raises(ValueError):
        WeeklyWindow(frozenset({0, 1}), time(9), time(17))
    with pytest.raises(ValueError):
        WeeklyWindow(frozenset(), time(9), time(17))
    with pytest.raises(ValueError):
        WeeklyWindow(WEEKDAYS, time(9), time(17), "Mars/Olympus")


def test_open_and_next_open_same_day() -> None:
    w = WeeklyWindow(WEEKDAYS, time(9), time(17), "Europe/Madrid")
    monday_10 = local(ZoneInfo("Europe/Madrid"), 2024, 6, 3, 10, 0)
    assert w.is_open(monday_10)
    assert w.next_open(monday_10) == monday_10
    monday_8 = local(ZoneInfo("Europe/Madrid"), 2024, 6, 3, 8, 0)
    assert not w.is_open(monday_8)
    assert w.next_open(monday_8) == local(ZoneInfo("Europe/Madrid"), 2024, 6, 3, 9, 0)


def test_end_is_exclusive_and_start_inclusive() -> None:
    w = WeeklyWindow(ALL_DAYS, time(9), time(17))
    assert w.is_open(utc(2024, 6, 3, 9, 0))
    assert not w.is_open(utc(2024, 6, 3, 17, 0))
    assert w.next_open(utc(2024, 6, 3, 17, 0)) == utc(2024, 6, 4, 9, 0)


def test_friday_evening_rolls_to_monday() -> None:
    w = WeeklyWindow(WEEKDAYS, time(9), time(17), "UTC")
    assert w.next_open(utc(2024, 6, 7, 18, 0)) == utc(2024, 6, 10, 9, 0)


def test_next_open_returns_utc_for_other_offsets() -> None:
    w = WeeklyWindow(ALL_DAYS, time(9), time(17))
    at = datetime(2024, 6, 3, 12, 0, tzinfo=PARIS)
    result = w.next_open(at)
    assert result == at and result.tzinfo is UTC


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError):
        WeeklyWindow(ALL_DAYS, time(9), time(17)).is_open(datetime(2024, 6, 3, 12))


def test_window_follows_local_time_across_dst() -> None:
    w = WeeklyWindow(ALL_DAYS, time(8), time(22), "Europe/Paris")
    # Winter: 08:00 Paris is 07:00 UTC; summer: 06:00 UTC.
    assert w.next_open(utc(2024, 1, 15, 0, 0)) == utc(2024, 1, 15, 7, 0)
    assert w.next_open(utc(2024, 7, 15, 0, 0)) == utc(2024, 7, 15, 6, 0)
    # The night of the spring change (31 March 2024).
    assert w.next_open(utc(2024, 3, 30, 22, 0)) == utc(2024, 3, 31, 6, 0)


def test_per_day_ranges() -> None:
    ws = window_set([(WEEKDAYS, time(7), time(19)), ([6], time(8), time(15))], "UTC")
    assert ws.is_open(utc(2024, 6, 8, 14, 59))  # Saturday
    assert not ws.is_open(utc(2024, 6, 8, 15, 0))
    assert ws.next_open(utc(2024, 6, 8, 15, 0)) == utc(2024, 6, 10, 7, 0)
    assert ws.next_open(utc(2024, 6, 7, 20, 0)) == utc(2024, 6, 8, 8, 0)


def test_overlapping_windows_union() -> None:
    ws = window_set([(ALL_DAYS, time(9), time(12)), (ALL_DAYS, time(11), time(14))])
    assert ws.is_open(utc(2024, 6, 3, 13, 0))
    assert ws.next_open(utc(2024, 6, 3, 14, 0)) == utc(2024, 6, 4, 9, 0)


_ZONES = st.sampled_from(["UTC", "Europe/Paris", "America/Bogota", "America/New_York", "Asia/Kolkata"])
_TIMES = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@settings(max_examples=300)
@given(
    days=st.frozensets(st.integers(1, 7), min_size=1),
    a=_TIMES,
    b=_TIMES,
    tz=_ZONES,
    at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
)
def test_next_open_properties(days: frozenset[int], a: time, b: time, tz: str, at: datetime) -> None:
    if a == b:
        return
    w = WeeklyWindow(days, min(a, b), max(a, b), tz)
    nxt = w.next_open(at)
    assert nxt >= at
    assert nxt - at <= timedelta(days=8)
    assert w.is_open(nxt)
    assert w.is_open(at) == (nxt == at)
    # Nothing opens in between: sample a few instants before the answer.
    for frac in (0.25, 0.5, 0.99):
        probe = at + (nxt - at) * frac
        if probe < nxt:
            assert not w.is_open(probe)
    wall = nxt.astimezone(ZoneInfo(tz))
    assert wall.isoweekday() in days


# --- holidays and country rules ---------------------------------------------------------------


def test_holidays_close_the_window() -> None:
    ws = WindowSet((WeeklyWindow(WEEKDAYS, time(7), time(19), "America/Bogota"),), holiday_country="CO")
    # Monday 3 June 2024 is Corpus Christi (observed) in Colombia.
    assert not ws.is_open(local(BOGOTA, 2024, 6, 3, 10, 0))
    assert ws.next_open(local(BOGOTA, 2024, 6, 3, 10, 0)) == local(BOGOTA, 2024, 6, 4, 7, 0)


def test_unknown_holiday_country_rejected() -> None:
    with pytest.raises(ValueError):
        WindowSet((WeeklyWindow(ALL_DAYS, time(9), time(17)),), holiday_country="QQ")


def test_builtin_rules_loaded() -> None:
    rules = load_country_rules()
    assert set(rules) >= {"FR", "CO"}
    assert rules["FR"].opt_out_text == "STOP au [STOP_CODE]"
    assert rules["FR"].applies_to == frozenset({"marketing"})


def test_france_monday_to_saturday_8_to_22_paris_time() -> None:
    # The seed's example: Sunday 14:00 waits until Monday 08:00.
    sunday = local(PARIS, 2024, 6, 2, 14, 0)
    assert not is_permitted("FR", sunday)
    assert next_permitted("FR", sunday) == local(PARIS, 2024, 6, 3, 8, 0)
    saturday_21 = local(PARIS, 2024, 6, 8, 21, 59)
    assert next_permitted("fr", saturday_21) == saturday_21
    assert next_permitted("FR", local(PARIS, 2024, 6, 8, 22, 0)) == local(PARIS, 2024, 6, 10, 8, 0)
    assert next_permitted("FR", local(PARIS, 2024, 6, 4, 7, 30)) == local(PARIS, 2024, 6, 4, 8, 0)


def test_france_restriction_is_for_marketing_only() -> None:
    sunday = local(PARIS, 2024, 6, 2, 14, 0)
    assert next_permitted("FR", sunday, kind="transactional") == sunday
    assert is_permitted("FR", sunday, kind="transactional")


def test_colombia_weekdays_saturday_and_holidays() -> None:
    assert is_permitted("CO", local(BOGOTA, 2024, 6, 4, 7, 0))
    assert not is_permitted("CO", local(BOGOTA, 2024, 6, 4, 19, 0))
    assert is_permitted("CO", local(BOGOTA, 2024, 6, 8, 14, 59))  # Saturday
    assert next_permitted("CO", local(BOGOTA, 2024, 6, 8, 15, 0)) == local(BOGOTA, 2024, 6, 11, 7, 0)
    # Sunday 14:00 before a holiday Monday (Sacred Heart, 10 June 2024) waits until Tuesday 07:00.
    assert next_permitted("CO", local(BOGOTA, 2024, 6, 9, 14, 0)) == local(BOGOTA, 2024, 6, 11, 7, 0)
    # A Saturday holiday: Independence Day, 20 July 2024.
    assert next_permitted("CO", local(BOGOTA, 2024, 7, 20, 9, 0)) == local(BOGOTA, 2024, 7, 22, 7, 0)
    # Christmas Day 2024 is a Wednesday.
    assert next_permitted("CO", local(BOGOTA, 2024, 12, 25, 9, 0)) == local(BOGOTA, 2024, 12, 26, 7, 0)


def test_unrestricted_country_is_always_permitted() -> None:
    at = utc(2024, 6, 2, 3, 0)
    assert next_permitted("ES", at) == at
    assert next_permitted("US", at) == at


def test_operator_file_overlays_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            {
                "countries": {
                    "fr": None,
                    "DE": {
                        "tz": "Europe/Berlin",
                        "windows": [{"days": [1, 2, 3, 4, 5], "from": "09:00", "to": "20:00"}],
                        "holidays": True,
                        "applies_to": ["marketing", "transactional"],
                        "note": "operator policy",
                    },
                }
            }
        )
    )
    rules = load_country_rules(path)
    assert "FR" not in rules and "CO" in rules
    assert rules["DE"].extra == {"note": "operator policy"}
    sunday = local(PARIS, 2024, 6, 2, 14, 0)
    assert next_permitted("FR", sunday, rules=rules) == sunday
    # 3 October is German Unity Day (a Thursday in 2024).
    berlin = ZoneInfo("Europe/Berlin")
    assert next_permitted(
        "DE", local(berlin, 2024, 10, 3, 10, 0), rules=rules, kind="transactional"
    ) == local(berlin, 2024, 10, 4, 9, 0)
    # The built-in rules are unchanged by an overlay.
    assert "FR" in load_country_rules()


@pytest.mark.parametrize(
    "bad",
    [
        {"countries": []},
        {"countries": {"XX": {"windows": [{"from": "08:00", "to": "09:00"}]}}},
        {"countries": {"XX": {"tz": "UTC", "windows": []}}},
        {"countries": {"XX": {"tz": "UTC", "windows": [{"from": "8", "to": "09:00"}]}}},
        {"countries": {"XX": {"tz": "UTC", "windows": [{"days": ["1"], "from": "08:00", "to": "09:00"}]}}},
        {"countries": {"XX": {"tz": "UTC", "windows": [{"from": "10:00", "to": "09:00"}]}}},
        {"countries": {"XX": {"tz": "UTC", "windows": [{"from": "08:00", "to": "09:00"}], "holidays": 3}}},
    ],
)
def test_bad_operator_file_is_a_clear_error(tmp_path: Path, bad: object) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError):
        load_country_rules(path)


# --- availableTimes ---------------------------------------------------------------------------


def test_available_times_seed_example() -> None:
    ws = parse_available_times([{"day": 1, "from": "09:00", "to": "21:00"}])
    assert isinstance(ws, WindowSet)
    assert ws.is_open(utc(2024, 6, 3, 9, 0))  # Monday, times in UTC
    assert not ws.is_open(utc(2024, 6, 4, 10, 0))
    assert ws.next_open(utc(2024, 6, 3, 21, 0)) == utc(2024, 6, 10, 9, 0)


def test_available_times_without_day_apply_every_day() -> None:
    ws = parse_available_times([{"from": "09:00", "to": "10:00"}])
    assert isinstance(ws, WindowSet)
    assert ws.windows[0].days == ALL_DAYS


def test_available_times_json_text() -> None:
    ws = parse_available_times('[{"day": 7, "from": "00:00", "to": "23:59"}]')
    assert isinstance(ws, WindowSet)
    assert ws.is_open(utc(2024, 6, 2, 23, 58))


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ({"day": 1, "from": "09:00", "to": "21:00"}, 183),
        ("not json", 183),
        (42, 183),
        ([{"day": "1", "from": "09:00", "to": "21:00"}], 184),
        ([{"day": 1.5, "from": "09:00", "to": "21:00"}], 184),
        ([{"day": True, "from": "09:00", "to": "21:00"}], 184),
        ([{"day": 0, "from": "09:00", "to": "21:00"}], 185),
        ([{"day": 8, "from": "09:00", "to": "21:00"}], 185),
        ([{"day": 1, "from": "9:00", "to": "21:00"}], 186),
        ([{"day": 1, "from": "24:00", "to": "21:00"}], 186),
        ([{"day": 1, "from": 900, "to": "21:00"}], 186),
        ([{"day": 1, "from": "09:00", "to": "21:60"}], 187),
        ([{"day": 1, "from": "09:00", "to": "9pm"}], 187),
        ([{"day": 1, "from": "21:00", "to": "09:00"}], 188),
        ([{"day": 1, "from": "09:00"}], 189),
        ([{"day": 1, "to": "21:00"}], 189),
        (["09:00-21:00"], 189),
        ([], 194),
        (None, 194),
        ("", 194),
        ([{"day": 1, "from": "09:00", "to": "09:00"}], 196),
        ([{"day": 1, "from": "09:00", "to": "09:10"}], 196),
        ([{"day": 1, "from": "09:00", "to": "21:00"}, {"day": 9, "from": "09:00", "to": "21:00"}], 185),
    ],
)
def test_available_times_error_codes(raw: object, code: int) -> None:
    assert parse_available_times(raw) == code
    assert code in AVAILABLE_TIMES_MESSAGES


def test_available_times_min_range_is_configurable() -> None:
    raw = [{"from": "09:00", "to": "09:01"}]
    assert parse_available_times(raw) == 196
    assert isinstance(parse_available_times(raw, min_range=timedelta(minutes=1)), WindowSet)
