"""db.jobs.enqueue: jobs exist only if their transaction commits, written together when it does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from tidings.core import clock
from tidings.db.engine import Database
from tidings.db.jobs import enqueue
from tidings.db.models import Job
from tidings.tenancy.service import NewAccount


async def test_jobs_are_written_with_the_commit_in_one_statement(db: Database, account: NewAccount) -> None:
    inserts: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("INSERT INTO jobs"):
            inserts.append(statement)

    later = clock.now() + timedelta(minutes=5)
    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.transaction() as s:
            for n in range(20):
                await enqueue(s, "test.kind", {"n": n, "é": ["x"]}, account_id=account.account_id)
            await enqueue(s, "test.later", due_at=later, max_attempts=2)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(inserts) == 1
    async with db.sessions() as s:
        jobs = (await s.execute(select(Job).order_by(Job.id))).scalars().all()
    assert [j.payload for j in jobs[:20]] == [{"n": n, "é": ["x"]} for n in range(20)]
    assert {(j.kind, j.status, j.attempts, j.max_attempts, j.account_id) for j in jobs[:20]} == {
        ("test.kind", "queued", 0, 5, account.account_id)}
    assert jobs[20].kind == "test.later" and jobs[20].payload == {} and jobs[20].max_attempts == 2
    assert clock.as_utc(jobs[20].due_at) == clock.as_utc(later) and jobs[20].created_at is not None


async def test_a_rolled_back_transaction_leaves_no_job(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await enqueue(s, "test.kind", {"n": 1})
            raise RuntimeError("the work that asked for the job failed")
    async with db.transaction() as s:
        await enqueue(s, "test.kind", {"n": 2})
    async with db.sessions() as s:
        assert [j.payload for j in (await s.execute(select(Job))).scalars()] == [{"n": 2}]
