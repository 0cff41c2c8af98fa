"""db.base.one_of: a column matched against a list given when the statement runs, whatever its length."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select, update

from tidings.db.base import by_ids, one_of
from tidings.db.engine import Database
from tidings.db.models import Client
from tidings.tenancy.service import NewAccount


async def test_the_same_rows_as_an_in_list_for_any_length(db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        clients = [Client(account_id=account.account_id, name=f"C{i}", max_emails=1) for i in range(5)]
        s.add_all(clients)
    ids = [c.id for c in clients]
    names = select(Client.name).where(one_of(Client.id)).order_by(Client.id)
    async with db.sessions() as s:
        assert (await s.execute(names, {"ids": ids[:3]})).scalars().all() == ["C0", "C1", "C2"]
        assert (await s.execute(names, {"ids": [ids[4], ids[4] + 1000]})).scalars().all() == ["C4"]
        assert (await s.execute(names, {"ids": []})).scalars().all() == []
        by_name = select(Client.id).where(one_of(Client.name, "names"), Client.account_id == account.account_id)
        assert sorted((await s.execute(by_name, {"names": ["C1", "C3", "nobody"]})).scalars()) == [ids[1], ids[3]]
        assert sorted(c.name for c in (await s.execute(by_ids(Client), {"ids": ids[3:]})).scalars()) == ["C3", "C4"]
    async with db.transaction() as s:
        renamed = await s.execute(update(Client).where(one_of(Client.id)).values(name="R"), {"ids": ids[:2]})
        assert renamed.rowcount == 2


async def test_text_values_with_quotes_and_non_ascii_and_a_long_list(db: Database, account: NewAccount) -> None:
    """Values travel as one JSON array on SQLite: quotes, backslashes and non-ASCII text match as they are, and a
    list longer than SQLite's parameter limit is one parameter."""
    names = ['Ann "the" O\'Brien', "back\\slash", "Zoë ☃", "[1]"]
    async with db.transaction() as s:
        s.add_all(Client(account_id=account.account_id, name=name, max_emails=1) for name in names)
    by_name = select(Client.name).where(one_of(Client.name, "names"), Client.account_id == account.account_id)
    async with db.sessions() as s:
        assert sorted((await s.execute(by_name, {"names": [*names, "Zoe"]})).scalars()) == sorted(names)
        many = [*range(1, 40_000), -1]
        found = (await s.execute(select(Client.name).where(one_of(Client.id)), {"ids": many})).scalars().all()
        assert sorted(found) == sorted(names)


async def test_one_statement_text_for_every_length(db: Database, account: NewAccount) -> None:
    """One parameter whatever the list's length (on PostgreSQL one prepared statement): an array on PostgreSQL,
    a JSON array read by `json_each` on SQLite."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    stmt = select(Client.id).where(one_of(Client.id))
    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.sessions() as s:
            for ids in ([1], [1, 2, 3], list(range(1, 600))):
                await s.execute(stmt, {"ids": ids})
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(set(statements)) == 1
    assert ("ANY" if db.engine.dialect.name == "postgresql" else "json_each") in statements[0]
