"""db.counters: the counters a transaction moves are written with it, in one statement, as sums."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import event, select

from tidings.db.counters import bump
from tidings.db.engine import Database
from tidings.db.jobs import enqueue
from tidings.db.models import StatCounter
from tidings.tenancy.service import NewAccount

DAY = date(2026, 12, 2)


async def _values(db: Database) -> dict[tuple[str, int, int, str], int]:
    async with db.sessions() as s:
        rows = (await s.execute(select(StatCounter))).scalars().all()
    return {(r.scope, r.scope_id, r.step, r.metric): r.value for r in rows}


async def test_many_counters_one_statement_summed_and_added_to(db: Database, account: NewAccount) -> None:
    upserts: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "stat_counters" in statement and statement.lstrip().upper().startswith("INSERT"):
            upserts.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.transaction() as s:
            for scope_id, metric, step, by in ((7, "sent", 0, 1), (7, "sent", 0, 1), (7, "delivered", 0, 1),
                                               (8, "sent", 2, 3), (8, "failed", 0, 1), (8, "failed", 0, -1)):
                await bump(s, account_id=account.account_id, scope="sending", scope_id=scope_id, day=DAY,
                           metric=metric, step=step, by=by)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(upserts) == 1, "one statement for every counter of the transaction"
    assert await _values(db) == {("sending", 7, 0, "sent"): 2, ("sending", 7, 0, "delivered"): 1,
                                 ("sending", 8, 2, "sent"): 3}, "a counter moved back to zero is not written"
    async with db.transaction() as s:
        await bump(s, account_id=account.account_id, scope="sending", scope_id=7, day=DAY, metric="sent", by=5)
        await bump(s, account_id=account.account_id, scope="sending", scope_id=9, day=DAY, metric="sent")
    assert await _values(db) == {("sending", 7, 0, "sent"): 7, ("sending", 7, 0, "delivered"): 1,
                                 ("sending", 8, 2, "sent"): 3, ("sending", 9, 0, "sent"): 1}


async def test_counters_of_a_rolled_back_transaction_are_dropped(db: Database, account: NewAccount) -> None:
    try:
        async with db.transaction() as s:
            await bump(s, account_id=account.account_id, scope="sending", scope_id=7, day=DAY, metric="sent")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with db.transaction() as s:
        await bump(s, account_id=account.account_id, scope="sending", scope_id=7, day=DAY, metric="delivered")
    assert await _values(db) == {("sending", 7, 0, "delivered"): 1}


async def test_counters_are_the_transactions_last_write(db: Database, account: NewAccount) -> None:
    # Counter rows are shared by concurrent transactions (two workers recording one campaign's sends): written
    # last, their row locks are held for the COMMIT only, not while the rest of the transaction is written.
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.lstrip().split("(")[0].strip().upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.transaction() as s:
            await bump(s, account_id=account.account_id, scope="sending", scope_id=7, day=DAY, metric="sent")
            await enqueue(s, "webhook.deliver", {"n": 1}, account_id=account.account_id)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    writes = [st for st in statements if st.startswith(("INSERT", "UPDATE"))]
    assert writes[-1].startswith("INSERT INTO STAT_COUNTERS") and any("JOBS" in w for w in writes[:-1]), writes
    assert await _values(db) == {("sending", 7, 0, "sent"): 1}
