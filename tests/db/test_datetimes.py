"""UtcDateTime: every datetime column stores UTC and hands back aware UTC datetimes, on SQLite as on PostgreSQL.

On SQLite the column writes and reads its text in one C call each way; it must write exactly the text
SQLAlchemy's own DATETIME writes (rows written before keep comparing and sorting with new ones).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.dialects import sqlite

from tidings.db.base import UtcDateTime
from tidings.db.engine import Database

STOCK_BIND = sqlite.DATETIME().bind_processor(sqlite.dialect())
STOCK_RESULT = sqlite.DATETIME().result_processor(sqlite.dialect(), None)
BIND = UtcDateTime()._cached_bind_processor(sqlite.dialect())
RESULT = UtcDateTime()._cached_result_processor(sqlite.dialect(), None)
ZONES = st.one_of(st.none(), st.just(UTC),
                  st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))))


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@settings(max_examples=3000)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES))
def test_sqlite_text_is_sqlalchemys_and_reads_back_as_the_same_instant(value: datetime) -> None:
    assert BIND is not None and RESULT is not None and STOCK_BIND is not None and STOCK_RESULT is not None
    stored = BIND(value)
    assert stored == STOCK_BIND(_as_utc(value)), "the same text as SQLAlchemy's DATETIME of the UTC value"
    back = RESULT(stored)
    assert back == value if value.tzinfo else back == value.replace(tzinfo=UTC)
    assert back.tzinfo is UTC


def test_sqlite_reads_text_it_did_not_write() -> None:
    """Rows written by hand or by SQLite's own functions (no fraction, date only) read as before, in UTC."""
    assert RESULT is not None
    assert RESULT("2026-12-02 10:11:12") == datetime(2026, 12, 2, 10, 11, 12, tzinfo=UTC)
    assert RESULT("2026-12-02") == datetime(2026, 12, 2, tzinfo=UTC)
    assert RESULT(None) is None
    assert RESULT("2026-12-02 10:11:12.5") == datetime(2026, 12, 2, 10, 11, 12, 500000, tzinfo=UTC)


async def test_round_trip_and_comparison_in_sql(db: Database) -> None:
    meta = MetaData()
    table = Table("utc_datetimes_probe", meta, Column("id", Integer, primary_key=True), Column("at", UtcDateTime()))
    async with db.engine.begin() as conn:
        await conn.run_sync(meta.create_all)
    moments = [datetime(2026, 12, 2, 10, 0, tzinfo=UTC),  # no microseconds
               datetime(2026, 12, 2, 11, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1, minutes=30))),
               datetime(2026, 12, 2, 9, 59, 59, 999999)]  # naive: taken as UTC
    try:
        async with db.engine.begin() as conn:
            await conn.execute(insert(table), [{"id": i, "at": at} for i, at in enumerate(moments)])
        async with db.engine.connect() as conn:
            rows = dict((await conn.execute(select(table.c.id, table.c.at))).tuples().all())
            assert [rows[i] for i in range(3)] == [_as_utc(m) for m in moments]
            assert all(at.tzinfo is UTC for at in rows.values())
            # The boundary in another zone: the same instant as row 0, so <= takes it, < does not.
            same = datetime(2026, 12, 2, 5, 0, tzinfo=timezone(timedelta(hours=-5)))
            upto = (await conn.execute(select(table.c.id).where(table.c.at <= same).order_by(table.c.at))).scalars()
            assert list(upto) == [2, 0]
            before = (await conn.execute(select(table.c.id).where(table.c.at < same))).scalars()
            assert list(before) == [2]
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE utc_datetimes_probe"))
