"""outreach.fields.merge_fields: a contact's fields, read from a loaded row or through a new one's attributes."""

from __future__ import annotations

from sqlalchemy import select

from tidings.db.engine import Database
from tidings.db.models import Contact
from tidings.outreach.fields import merge_fields
from tidings.tenancy.service import NewAccount


async def test_a_loaded_and_a_new_contact_give_the_same_fields(db: Database, account: NewAccount) -> None:
    values = {"email": "ann@globex.test", "first_name": "Ann", "company": "Globex",
              "custom_fields": {"Plan": "pro", "seats": 5, "note": None}}
    async with db.transaction() as s:
        s.add(Contact(account_id=account.account_id, email_key="ann@globex.test", **values))
    async with db.transaction() as s:
        contact = (await s.execute(select(Contact))).scalar_one()
        loaded = merge_fields(contact)
        contact.first_name = "Anna"  # a pending change is what the message uses
        changed = merge_fields(contact)
    new = merge_fields(Contact(**values))  # unset columns are not in a new object's __dict__
    assert loaded == new == merge_fields(values)
    assert {k: v for k, v in loaded.items() if v is not None} == {
        "email": "ann@globex.test", "first_name": "Ann", "company": "Globex", "Plan": "pro", "seats": "5"}
    assert loaded["note"] is None and loaded["last_name"] is None
    assert changed == {**loaded, "first_name": "Anna"}
