"""db.base.build: objects made without the ORM's attribute events behave as constructed ones do."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tidings.db.base import build
from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.tenancy.service import NewAccount


async def test_a_built_object_is_inserted_by_a_flush_and_later_changes_are_saved(db: Database,
                                                                                 account: NewAccount) -> None:
    async with db.transaction() as s:
        message = build(Message, {"account_id": account.account_id, "channel": "sms", "direction": "out",
                                  "status": "queued", "sender": "ACME", "recipient": "34666000001",
                                  "body": "hi", "extra": {"k": "v"}})
        s.add(message)
        await s.flush()
        assert message.id is not None and message.cost == Decimal("0")  # defaults applied by the flush
        message.body = "changed"
    async with db.sessions() as s:
        row = (await s.execute(select(Message).where(Message.id == message.id))).scalar_one()
    assert (row.recipient, row.body, row.extra, row.status, row.attempts) == ("34666000001", "changed", {"k": "v"},
                                                                              "queued", 0)


def test_anything_but_a_column_goes_through_the_constructor() -> None:
    with pytest.raises(TypeError, match="nope"):
        build(Message, {"account_id": 1, "nope": 1})
