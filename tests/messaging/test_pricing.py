"""Prices by country and network, the balance check (111/402), top-ups, and charging when an SMS is sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tidings.api.errors import nrs_error
from tidings.config import Settings
from tidings.core.errors import InsufficientBalance, NotFound, ValidationFailed
from tidings.db.engine import Database
from tidings.db.models import Account, Event, Message, Sending
from tidings.engine.runner import Runner
from tidings.messaging import outbox, pricing
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

CSV_HEADER = "country_iso,country_name,prefix,mcc,mnc,network,price,currency\n"


def test_price_for_uses_the_network_row_else_the_country_default(tmp_path: Path) -> None:
    price, mcc, mnc, country = pricing.price_for("34666555444")
    assert (price, mcc, country) == (Decimal("0.065"), "214", "ES") and mnc is not None
    assert pricing.price_for("573001234567")[3] == "CO"
    assert pricing.price_for("882345") == (Decimal("0"), None, None, None), "unpriced: free, not an error"
    own = tmp_path / "prices.csv"
    own.write_text(CSV_HEADER + "ES,Spain,34,214,,Default,0.03,EUR\nES,Spain,34,214,001,Vodafone,0.05,EUR\n")
    settings = Settings(price_list=own)
    assert pricing.price_for("34666555444", settings=settings) == (Decimal("0.05"), "214", "001", "ES")
    # 34612345678 is another carrier's range: the country's default row.
    assert pricing.price_for("34612345678", settings=settings) == (Decimal("0.03"), "214", None, "ES")
    assert pricing.total_cost(["34666555444", "34612345678"], 2, settings=settings) == Decimal("0.16")


@pytest.mark.parametrize("body, error", [
    ("ES,Spain,34,214,,Default,cheap,EUR\n", "not a number"),
    ("ES,Spain,34,214,,Default,-1,EUR\n", "non-negative"),
    ("Spain,Spain,34,214,,Default,1,EUR\n", "ISO alpha-2"),
])
def test_a_malformed_price_list_names_the_line(body: str, error: str) -> None:
    with pytest.raises(ValueError, match=error) as exc:
        pricing.PriceList.from_csv(CSV_HEADER + body, source="ops.csv")
    assert "ops.csv:2" in str(exc.value)
    with pytest.raises(ValueError, match="missing columns"):
        pricing.PriceList.from_csv("country_iso,price\nES,1\n")


async def _set_balance(db: Database, account_id: int, balance: str) -> None:
    async with db.transaction() as s:
        account = await s.get(Account, account_id)
        assert account is not None
        account.balance = Decimal(balance)


async def test_check_balance(db: Database, account: NewAccount, settings: Settings) -> None:
    await _set_balance(db, account.account_id, "0.10")
    async with db.sessions() as s:
        # Not enforced: anything goes.
        await pricing.check_balance(s, account.account_id, ["34666555444"] * 5, 3, settings=settings)
        settings.enforce_balance = True
        await pricing.check_balance(s, account.account_id, ["34666555444"], 1, settings=settings)
        await pricing.check_balance(s, account.account_id, ["a@b.test"] * 9, 1, "email", settings=settings)
        with pytest.raises(InsufficientBalance) as exc:
            await pricing.check_balance(s, account.account_id, ["34666555444"], 2, settings=settings)
    response = nrs_error(exc.value)
    assert response.status_code == 402
    assert json.loads(bytes(response.body)) == {"error": {"code": 111, "description": "Not enough credits"}}


async def test_credit(db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        assert await pricing.credit(s, account.account_id, Decimal("12.5")) == Decimal("12.5")
        assert await pricing.credit(s, account.account_id, Decimal("0.25")) == Decimal("12.75")
        with pytest.raises(ValidationFailed):
            await pricing.credit(s, account.account_id, Decimal("-1"))
        with pytest.raises(NotFound):
            await pricing.credit(s, 999_999, Decimal("1"))
    for bad in ("-5", "abc", "NaN", "0", "Infinity"):
        with pytest.raises(ValidationFailed):
            pricing.parse_amount(bad)


async def _queue(db: Database, account: NewAccount, recipient: str, body: str) -> tuple[int, int]:
    async with db.transaction() as s:
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="sms", source="test")
        message = await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms",
                                                           sender="TIDINGS", recipient=recipient, sending=sending,
                                                           body=body, extra={"kind": "transactional"}))
        return message.id, sending.id


async def test_sending_charges_parts_times_price(app: Any, db: Database, account: NewAccount,
                                                 runner: Runner) -> None:
    await _set_balance(db, account.account_id, "1")
    mid, sid = await _queue(db, account, "34666555444", "x" * 200)
    await runner.run_until_idle()
    async with db.sessions() as s:
        message = await s.get(Message, mid)
        sending = await s.get(Sending, sid)
        acc = await s.get(Account, account.account_id)
        assert message is not None and sending is not None and acc is not None
        assert message.parts == 2 and message.cost == Decimal("0.13")
        assert sending.cost == Decimal("0.13") and acc.balance == Decimal("0.87")
        assert message.extra["pricing"]["mcc"] == "214" and message.extra["pricing"]["country"] == "ES"
    # A second "sent" (an at-least-once re-send) does not charge again.
    async with db.transaction() as s:
        message = await s.get(Message, mid)
        assert message is not None
        from tidings.messaging import events

        await events.record(s, message, "sent")
    async with db.sessions() as s:
        acc = await s.get(Account, account.account_id)
        assert acc is not None and acc.balance == Decimal("0.87")


async def test_enforced_balance_refuses_at_dispatch(app: Any, db: Database, account: NewAccount,
                                                   runner: Runner) -> None:
    app.state.settings.enforce_balance = True
    try:
        await _set_balance(db, account.account_id, "0.10")
        mid, _ = await _queue(db, account, "34666555444", "x" * 200)
        await runner.run_until_idle()
    finally:
        app.state.settings.enforce_balance = False
    async with db.sessions() as s:
        kinds = [(e.kind, e.details.get("code")) for e in
                 (await s.execute(select(Event).where(Event.message_id == mid))).scalars()]
        acc = await s.get(Account, account.account_id)
        message = await s.get(Message, mid)
    assert kinds == [("rejected", "111")]
    assert acc is not None and acc.balance == Decimal("0.10")
    # The quote the refusal was based on stays with the message.
    assert message is not None and message.extra["pricing"]["price"] == "0.065"


def _tidings(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIDINGS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
           "TIDINGS_DATA_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "tidings.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_account_credit_command(tmp_path: Path) -> None:
    created = json.loads(_tidings(tmp_path, "account", "create", "--name", "A", "--email", "a@a.test",
                                  "--json").stdout)
    out = _tidings(tmp_path, "account", "credit", "--account", str(created["account_id"]), "12.50")
    assert out.returncode == 0, out.stderr
    assert "12.5" in out.stdout
    for bad in (["--", "-5"], ["abc"], ["0"]):
        out = _tidings(tmp_path, "account", "credit", "--account", str(created["account_id"]), *bad)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    out = _tidings(tmp_path, "account", "credit", "--account", "999", "5")
    assert out.returncode == 2 and "no account" in out.stderr


async def test_enforced_balance_counts_the_batch(app: Any, db: Database, account: NewAccount,
                                                 runner: Runner) -> None:
    app.state.settings.enforce_balance = True
    try:
        await _set_balance(db, account.account_id, "0.20")
        first, _ = await _queue(db, account, "34666555444", "x" * 200)
        second, _ = await _queue(db, account, "34666555444", "y" * 200)
        await runner.run_until_idle()
    finally:
        app.state.settings.enforce_balance = False
    async with db.sessions() as s:
        statuses = [(await s.get(Message, mid)).status for mid in (first, second)]  # type: ignore[union-attr]
        acc = await s.get(Account, account.account_id)
    assert statuses == ["delivered", "rejected"]
    assert acc is not None and acc.balance == Decimal("0.07")
