"""The contact list's landline filter goes by index on a large account."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert, text

from tidings.db.engine import Database
from tidings.db.models import Contact
from tidings.engine.maintenance import analyze
from tidings.messaging.contacts import repository, service
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

CONTACTS = 20_000


async def _plan(db: Database, stmt: object) -> str:
    async with db.reading() as s:
        dialect = s.get_bind().dialect
        sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
        rows = (await s.execute(text(("EXPLAIN QUERY PLAN " if db.sqlite else "EXPLAIN ") + sql))).all()
    return "\n".join(str(r[-1]) for r in rows)


async def _analyze(db: Database) -> None:
    if db.sqlite:
        await analyze(db)  # what the engine's maintenance loop keeps current
    else:
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE contacts"))


async def _insert(db: Database, rows: list[dict[str, object]]) -> None:
    async with db.transaction() as s:
        for start in range(0, len(rows), 5_000):
            await s.execute(insert(Contact), rows[start:start + 5_000])


async def test_the_contact_list_filters_by_landline_through_its_index(
        db: Database, account: NewAccount, make_account: Any) -> None:
    """20,000 database contacts, one in ten with a landline, beside 5,000 campaign copies and another account."""
    other = await make_account("Other", "owner@other.test")
    listed = [{"account_id": account.account_id, "in_database": True, "email": f"c{i}@example.test",
               "email_key": f"c{i}@example.test", "phone": f"346{i:08d}", "country_iso": "ES",
               "landline": f"349{i:08d}" if i % 10 == 0 else None} for i in range(CONTACTS)]
    copies = [{"account_id": account.account_id, "in_database": False, "email": f"o{i}@example.test",
               "email_key": f"o{i}@example.test", "landline": f"349{i:08d}" if i % 10 == 0 else None}
              for i in range(CONTACTS // 4)]
    theirs = [row | {"account_id": other.account_id} for row in listed]
    await _insert(db, listed + copies + theirs)
    await _analyze(db)
    subject = AuthSubject(account_id=account.account_id, user_id=0)

    by_landline = service.list_statement(subject, service.Filters(landline="+34900001230", country_iso="ES"))
    plan = await _plan(db, by_landline)
    assert "ix_contacts_account_landline" in plan, plan

    async with db.reading() as s:
        found, found_total = await service.page(s, subject, service.Filters(landline="900001230", country_iso="ES"),
                                                1, 100)
        first, everyone = await service.page(s, subject, service.Filters(), 1, 100)
        last, also_everyone = await service.page(s, subject, service.Filters(), CONTACTS // 100, 100)
        beyond, beyond_total = await service.page(s, subject, service.Filters(), CONTACTS // 100 + 1, 100)
    assert [c.email for c in found] == ["c1230@example.test"] and found_total == 1
    assert everyone == also_everyone == beyond_total == CONTACTS and not beyond
    assert [c.email for c in first] == [f"c{i}@example.test" for i in range(100)]
    assert [c.email for c in last] == [f"c{i}@example.test" for i in range(CONTACTS - 100, CONTACTS)]


async def test_an_import_finds_existing_contacts_by_email_and_phone_index_even_before_any_statistics(
        db: Database, account: NewAccount) -> None:
    """`tidings contacts import` runs in its own process, often on a database never analysed: its lookups of the
    existing contacts, 500 keys at a time, must go by (account, email) and (account, phone), not read the account."""
    if not db.sqlite:
        pytest.skip("PostgreSQL plans from its own estimates without ANALYZE; SQLite's choice is the case at stake")
    await _insert(db, [{"account_id": account.account_id, "in_database": True, "email": f"c{i}@example.test",
                        "email_key": f"c{i}@example.test", "phone": f"346{i:08d}", "country_iso": "ES"}
                       for i in range(CONTACTS)])
    subject = AuthSubject(account_id=account.account_id, user_id=0)
    by_email = repository.contacts(subject).where(Contact.email_key.in_([f"c{i}@example.test" for i in range(500)]))
    by_phone = repository.contacts(subject).where(Contact.phone.in_([f"346{i:08d}" for i in range(500)]))
    assert "ix_contacts_account_email_key" in await _plan(db, by_email)
    assert "ix_contacts_account_phone" in await _plan(db, by_phone)
