"""Country sending restrictions: marketing SMS to France and Colombia wait for their permitted hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tidings.config import Settings
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Event, Message
from tidings.engine.runner import Runner
from tidings.messaging import outbox
from tidings.messaging.restrictions import rules_for
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

FR, CO, ES = "33612345678", "573001234567", "34666555444"


async def _queue(db: Database, account: NewAccount, recipient: str, **extra: Any) -> int:
    async with db.transaction() as s:
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="sms", source="test")
        message = await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms",
                                                           sender="TIDINGS", recipient=recipient, sending=sending,
                                                           body="Promo", extra=extra))
        return message.id


async def _state(db: Database, message_id: int) -> tuple[list[str], datetime | None]:
    async with db.sessions() as s:
        kinds = [e.kind for e in (await s.execute(select(Event).where(Event.message_id == message_id)
                                                  .order_by(Event.id))).scalars()]
        message = await s.get(Message, message_id)
        assert message is not None
        return kinds, message.due_at


async def test_france_sunday_waits_for_monday_eight(app: Any, db: Database, account: NewAccount, runner: Runner,
                                                    clock: ManualClock) -> None:
    clock.set(datetime(2026, 1, 4, 13, 0, tzinfo=UTC))  # Sunday 14:00 in Paris
    held = await _queue(db, account, FR)
    otp = await _queue(db, account, FR, kind="transactional")
    spain = await _queue(db, account, ES)
    await runner.run_until_idle()
    assert await _state(db, held) == ([], datetime(2026, 1, 5, 7, 0, tzinfo=UTC)), "Monday 08:00 Paris"
    assert (await _state(db, otp))[0] == ["sent", "delivered"], "transactional messages are exempt"
    assert (await _state(db, spain))[0] == ["sent", "delivered"], "no rule for Spain"
    clock.set(datetime(2026, 1, 5, 7, 0, tzinfo=UTC))
    await runner.run_until_idle()
    assert (await _state(db, held))[0] == ["sent", "delivered"]


async def test_colombia_evenings_saturdays_and_holidays(app: Any, db: Database, account: NewAccount,
                                                        runner: Runner, clock: ManualClock) -> None:
    clock.set(datetime(2025, 12, 31, 23, 30, tzinfo=UTC))  # Wednesday 18:30 Bogota: still open
    open_now = await _queue(db, account, CO)
    await runner.run_until_idle()
    assert (await _state(db, open_now))[0] == ["sent", "delivered"]
    clock.set(datetime(2026, 1, 1, 0, 30, tzinfo=UTC))  # Wednesday 19:30; Thursday is New Year's Day
    evening = await _queue(db, account, CO)
    await runner.run_until_idle()
    assert (await _state(db, evening))[1] == datetime(2026, 1, 2, 12, 0, tzinfo=UTC), "Friday 07:00 Bogota"
    clock.set(datetime(2026, 1, 3, 20, 30, tzinfo=UTC))  # Saturday 15:30 Bogota: closed after 15:00
    saturday = await _queue(db, account, CO)
    await runner.run_until_idle()
    assert (await _state(db, saturday))[1] == datetime(2026, 1, 5, 12, 0, tzinfo=UTC), "Monday 07:00 Bogota"
    clock.set(datetime(2026, 1, 11, 15, 0, tzinfo=UTC))  # Sunday; Monday 12 January is Epiphany (moved)
    long_weekend = await _queue(db, account, CO)
    await runner.run_until_idle()
    assert (await _state(db, long_weekend))[1] == datetime(2026, 1, 13, 12, 0, tzinfo=UTC), "Tuesday 07:00"


def test_operator_rules_extend_and_remove(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"countries": {
        "FR": None, "ES": {"tz": "Europe/Madrid", "windows": [{"days": [1, 2, 3, 4, 5], "from": "09:00",
                                                                "to": "21:00"}]}}}))
    rules = rules_for(Settings(country_rules=path))
    assert "FR" not in rules and "ES" in rules and "CO" in rules
    path.write_text("{not json")
    assert "FR" in rules_for(Settings(country_rules=path)), "a broken file falls back to the built-in rules"


async def test_operator_rules_hold_spain(app: Any, db: Database, account: NewAccount, runner: Runner,
                                         clock: ManualClock, tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"countries": {"ES": {"tz": "Europe/Madrid", "windows": [
        {"days": [1, 2, 3, 4, 5], "from": "09:00", "to": "21:00"}]}}}))
    app.state.settings.country_rules = path
    clock.set(datetime(2026, 1, 5, 6, 0, tzinfo=UTC))  # Monday 07:00 Madrid
    try:
        mid = await _queue(db, account, ES)
        await runner.run_until_idle()
    finally:
        app.state.settings.country_rules = None
    assert await _state(db, mid) == ([], datetime(2026, 1, 5, 8, 0, tzinfo=UTC))


def test_a_broken_operator_file_is_reported_when_the_engine_starts(tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    from tidings.runtime import warm

    broken = tmp_path / "rules.json"
    broken.write_text('{"countries": ')
    with capture_logs() as logs:
        warm(Settings(country_rules=broken))  # serve and worker call it before their first batch
    assert any(entry["event"] == "country rules file ignored" for entry in logs)
