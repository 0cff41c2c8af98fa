"""db.tracked: a claimed row as plain attributes whose assignments are its changes, written by update_plain."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tidings.db import plain_writes
from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.db.tracked import columns_of, tracked
from tidings.messaging import outbox
from tidings.tenancy.service import NewAccount


async def _queued(db: Database, account: NewAccount) -> int:
    async with db.transaction() as s:
        message = await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms",
                                                           sender="TIDINGS", recipient="34600000001", body="hi",
                                                           parts=1, encoding="gsm"))
    return message.id


async def test_a_tracked_row_reads_as_the_object_and_keeps_what_changed(db: Database, account: NewAccount) -> None:
    message_id = await _queued(db, account)
    async with db.transaction() as s:
        (row,) = tracked(Message, (await s.execute(select(*columns_of(Message)).where(Message.id == message_id))))
        loaded = await s.get(Message, message_id)
        assert loaded is not None
        assert (row.id, row.recipient, row.body, row.status, row.due_at, row.extra) == (
            loaded.id, loaded.recipient, loaded.body, loaded.status, loaded.due_at, loaded.extra)
        row.parts, row.encoding = 1, "gsm"  # set to what they are: no change
        assert plain_writes.take_changes(row) == {}
        row.parts, row.extra = 2, {**(row.extra or {}), "note": "x"}
        with pytest.raises(AttributeError):
            row.no_such_column = 1
        changes = plain_writes.take_changes(row)
        assert changes == {"parts": 2, "extra": {**(loaded.extra or {}), "note": "x"}}
        assert plain_writes.take_changes(row) == {}  # taken: counted as written
        await plain_writes.update_plain(s, Message, {row.id: changes})
        plain_writes.mark_written(row, {"status": "sent"})
        assert row.status == "sent" and plain_writes.take_changes(row) == {}
    async with db.sessions() as s:
        back = await s.get(Message, message_id)
        assert back is not None and back.parts == 2 and back.extra == {**(loaded.extra or {}), "note": "x"}
