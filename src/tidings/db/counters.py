"""Stats counters, portable across SQLite and PostgreSQL, written once per transaction.

`bump` only accumulates in the session; just before the transaction commits, one upsert statement
writes the sums of every distinct counter. A batch of a thousand events on one sending costs one
statement instead of a thousand, and the counters still commit (or roll back) with the events.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tidings.db.at_commit import Pending, SharedWrite
from tidings.db.base import table_of
from tidings.db.models import StatCounter

CounterKey = tuple[int, str, int, int, date, str]


async def bump(
    session: AsyncSession,
    *,
    account_id: int,
    scope: str,
    scope_id: int,
    day: date,
    metric: str,
    step: int = 0,
    by: int = 1,
) -> None:
    """Add `by` to one counter when the caller's transaction commits."""
    _COUNTERS.of(session.sync_session)[(account_id, scope, scope_id, step, day, metric)] += by


def _rows(pending: defaultdict[CounterKey, int]) -> list[dict[str, Any]]:
    """One row per counter (the unique key leaves the account out: a counter's scope belongs to one account), in a
    stable order, which keeps concurrent writers from deadlocking on PostgreSQL; those summing to zero left out."""
    merged: dict[tuple[str, int, int, date, str], dict[str, Any]] = {}
    for (account_id, scope, scope_id, step, day, metric), by in sorted(pending.items()):
        row = merged.setdefault((scope, scope_id, step, day, metric), {
            "account_id": account_id, "scope": scope, "scope_id": scope_id, "step": step, "day": day,
            "metric": metric, "value": 0})
        row["value"] += by
    return [row for row in merged.values() if row["value"] != 0]


def _write(session: Session, pending: defaultdict[CounterKey, int]) -> None:
    """Upsert the accumulated counters; runs inside the committing transaction."""
    connection = session.connection()
    rows = _rows(pending)
    if rows:
        # One statement for the batch: an executemany on SQLite, multi-row VALUES on PostgreSQL.
        connection.execute(_UPSERTS[connection.dialect.name == "postgresql"], rows)


_COLUMNS = ("account_id", "scope", "scope_id", "step", "day", "metric", "value")
_TOGETHER_SQL: dict[str, str] = {}  # per dialect: built once, not at every commit


def _together(pending: defaultdict[CounterKey, int], dialect: Dialect) -> list[SharedWrite]:
    """PostgreSQL: the upsert as one statement from arrays, in the rows' order, to go with the other shared writes."""
    rows = _rows(pending)
    if not rows:
        return []
    sql = _TOGETHER_SQL.get(dialect.name)
    if sql is None:
        table = table_of(StatCounter)
        arrays = ", ".join(f"{{}}::{table.c[name].type.compile(dialect=dialect)}[]" for name in _COLUMNS)
        sql = _TOGETHER_SQL[dialect.name] = (
            f"INSERT INTO stat_counters ({', '.join(_COLUMNS)}) SELECT * FROM unnest({arrays}) "
            "ON CONFLICT (scope, scope_id, step, day, metric) "
            "DO UPDATE SET value = stat_counters.value + excluded.value")
    return [SharedWrite(sql, tuple([row[name] for row in rows] for name in _COLUMNS))]


def _upsert(insert: Any) -> Any:
    """Add `value` to a counter, creating it (built once per dialect: building it cost more than running it)."""
    table = table_of(StatCounter)
    stmt = insert(table).values({c: bindparam(c, type_=table.c[c].type)
                                 for c in ("account_id", "scope", "scope_id", "step", "day", "metric", "value")})
    return stmt.on_conflict_do_update(index_elements=["scope", "scope_id", "step", "day", "metric"],
                                      set_={"value": table.c.value + stmt.excluded.value})


_UPSERTS = {False: _upsert(sqlite_insert), True: _upsert(pg_insert)}
_COUNTERS: Pending[defaultdict[CounterKey, int]] = Pending("tidings.pending_counters", lambda: defaultdict(int),
                                                           _write, shared=True, together=_together)
