"""db.base.get_loaded: a row already in the session is returned without a query; others are loaded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from tidings.db.base import get_loaded
from tidings.db.engine import Database
from tidings.db.models import Account
from tidings.tenancy.service import NewAccount


async def test_identity_map_first_then_the_database(db: Database, account: NewAccount) -> None:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.sessions() as s:
            missing = await get_loaded(s, Account, account.account_id + 1000)
            assert missing is None
            loaded = (await s.execute(select(Account).where(Account.id == account.account_id))).scalar_one()
            before = len(statements)
            assert await get_loaded(s, Account, account.account_id) is loaded
            assert len(statements) == before, "answered from the session"
        async with db.sessions() as s:
            fresh = await get_loaded(s, Account, account.account_id)
            assert fresh is not None and fresh.id == account.account_id
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
