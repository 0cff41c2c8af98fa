"""db.at_commit: the shared writes of a transaction (counters, charges) land with it, last, in their lock order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import event, select

from tidings.db.counters import bump
from tidings.db.engine import Database
from tidings.db.jobs import enqueue
from tidings.db.models import Account, Sending, StatCounter
from tidings.messaging.pricing import _add_charge
from tidings.tenancy.service import NewAccount

DAY = date(2026, 12, 5)


async def _sendings(db: Database, account: NewAccount, n: int) -> list[int]:
    async with db.transaction() as s:
        rows = [Sending(account_id=account.account_id, channel="sms", source="rest") for _ in range(n)]
        s.add_all(rows)
        await s.flush()
        return [row.id for row in rows]


async def _state(db: Database, account: NewAccount, sendings: list[int],
                 ) -> tuple[Decimal, list[Decimal], dict[Any, int]]:
    async with db.sessions() as s:
        balance = (await s.execute(select(Account.balance).where(Account.id == account.account_id))).scalar_one()
        costs = {row.id: row.cost for row in (await s.execute(select(Sending))).scalars()}
        counters = {(c.scope_id, c.metric): c.value for c in (await s.execute(select(StatCounter))).scalars()}
    return Decimal(balance), [Decimal(costs[i]) for i in sendings], counters


async def test_counters_and_charges_are_written_last_and_add_up(db: Database, account: NewAccount) -> None:
    first, second = await _sendings(db, account, 2)
    before, _, _ = await _state(db, account, [first, second])
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        for _ in range(2):  # the second time adds to the rows the first one wrote
            async with db.transaction() as s:
                await enqueue(s, "webhook.deliver", {"n": 1}, account_id=account.account_id)
                for scope_id, metric in ((second, "sent"), (first, "sent"), (first, "delivered"), (first, "sent")):
                    await bump(s, account_id=account.account_id, scope="sending", scope_id=scope_id, day=DAY,
                               metric=metric)
                _add_charge(s, account.account_id, second, Decimal("0.065"))
                _add_charge(s, account.account_id, first, Decimal("0.01234"))
                _add_charge(s, account.account_id, first, Decimal("0.065"))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    balance, costs, counters = await _state(db, account, [first, second])
    assert costs == [Decimal("0.15468"), Decimal("0.13")]
    assert balance == before - Decimal("0.28468")
    assert counters == {(first, "sent"): 4, (first, "delivered"): 2, (second, "sent"): 2}
    writes = [st for st in statements if st.startswith(("INSERT", "UPDATE", "WITH"))]
    jobs = [i for i, st in enumerate(writes) if st.startswith("INSERT INTO JOBS")]
    assert len(jobs) == 2 and jobs[0] == 0
    shared = writes[1:jobs[1]]
    if db.engine.dialect.name == "postgresql":
        # One statement: the counters, then each sending, then the account (the order every writer locks them in).
        assert len(shared) == 1 and shared[0].startswith("WITH"), shared
        order = [shared[0].index(name) for name in ("INSERT INTO STAT_COUNTERS", "UPDATE SENDINGS", "UPDATE ACCOUNTS")]
        assert order == sorted(order) and shared[0].count("UPDATE SENDINGS") == 2
    else:
        assert [st.split(" SET")[0].split(" (")[0] for st in shared] == [
            "INSERT INTO STAT_COUNTERS", "UPDATE SENDINGS", "UPDATE SENDINGS", "UPDATE ACCOUNTS"], shared


async def test_a_lone_charge_or_counter_is_its_own_statement(db: Database, account: NewAccount) -> None:
    (sending,) = await _sendings(db, account, 1)
    before, _, _ = await _state(db, account, [sending])
    async with db.transaction() as s:
        _add_charge(s, account.account_id, None, Decimal("1.5"))
    async with db.transaction() as s:
        await bump(s, account_id=account.account_id, scope="sending", scope_id=sending, day=DAY, metric="sent", by=3)
    assert await _state(db, account, [sending]) == (before - Decimal("1.5"), [Decimal("0")], {(sending, "sent"): 3})


async def test_shared_writes_of_a_rolled_back_transaction_are_dropped(db: Database, account: NewAccount) -> None:
    (sending,) = await _sendings(db, account, 1)
    before, _, _ = await _state(db, account, [sending])
    try:
        async with db.transaction() as s:
            _add_charge(s, account.account_id, sending, Decimal("0.5"))
            await bump(s, account_id=account.account_id, scope="sending", scope_id=sending, day=DAY, metric="sent")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert await _state(db, account, [sending]) == (before, [Decimal("0")], {})
