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


async def test_attach_puts_loaded_rows_back_in_a_session(db: Database, account: NewAccount) -> None:
    import pytest
    from sqlalchemy.exc import InvalidRequestError

    from tidings.db.base import attach
    from tidings.db.models import Client

    async with db.sessions() as s:
        loaded = (await s.execute(select(Account).where(Account.id == account.account_id))).scalar_one()
    fresh = Client(account_id=account.account_id, name="Attached", max_emails=1)
    async with db.transaction() as s:
        attach(s, [loaded, fresh])
        assert loaded in s and fresh in s
        loaded.timezone = "Europe/Madrid"  # changes of an attached row are written by the transaction
    async with db.sessions() as s:
        back = await s.get(Account, account.account_id)
        assert back is not None and back.timezone == "Europe/Madrid"
        assert (await s.execute(select(Client.name).where(Client.name == "Attached"))).scalar_one() == "Attached"
        with pytest.raises(InvalidRequestError):
            attach(s, [loaded])  # another object of the same row is already here, as with add()
