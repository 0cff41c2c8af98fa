"""The contact database as other capabilities use it: SMS and mailings to a known contact are linked to it and
filled from its fields; group addresses and typed values for validation and forms."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from tidings.core import ids
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Contact, Message
from tidings.messaging import senders
from tidings.messaging.contacts import service
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from helpers import basic


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def _contact(client: httpx.AsyncClient, auth: dict[str, str]) -> int:
    r = await client.post("/api/rest/contacts", headers=auth, json={
        "email": "ana@example.test", "phone": "666555444", "countryIso": "ES", "name": "Ana",
        "groupsNames": ["Clients"], "customFields": [{"key": "balance", "type": "decimal", "value": "12.50"},
                                                     {"key": "renewal", "type": "date", "value": "2027-01-31"}]})
    assert r.status_code == 201, r.text
    pk = ids.from_int(Kind.CONTACT, r.json()["data"]["id"])
    assert pk is not None
    return pk


async def _messages(db: Database) -> list[Message]:
    async with db.sessions() as s:
        return list((await s.execute(select(Message).order_by(Message.id))).scalars())


async def test_sms_to_a_known_number_is_linked_and_filled(client: httpx.AsyncClient, auth: dict[str, str],
                                                          db: Database) -> None:
    pk = await _contact(client, auth)
    r = await client.post("/api/rest/sms", headers=auth, json={
        "to": ["34666555444", "34666555443"], "from": "Acme",
        "message": "Hi {name}, you owe {balance} EUR before {renewal}"})
    assert r.status_code == 202, r.text
    known, unknown = await _messages(db)
    assert known.contact_id == pk and known.body == "Hi Ana, you owe 12.50 EUR before 2027-01-31"
    assert unknown.contact_id is None and unknown.body == "Hi {name}, you owe {balance} EUR before {renewal}"
    # Without placeholders the message is still linked.
    r = await client.post("/api/rest/sms", headers=auth, json={"to": ["+34 666 555 444"], "from": "Acme",
                                                               "message": "Plain text"})
    assert r.status_code == 202
    assert (await _messages(db))[-1].contact_id == pk


async def test_mailing_to_a_known_address_is_linked_and_filled(client: httpx.AsyncClient, auth: dict[str, str],
                                                               db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test", "Info")
    pk = await _contact(client, auth)
    r = await client.post("/api/rest/mailing", headers=auth, json={
        "to": ["ANA@example.test", "bob@example.test"], "fromEmail": "info@acme.test",
        "replyTo": "info@acme.test", "subject": "For {name}",
        "body": "<p>{name}: {balance} by {renewal} {city}</p>", "sub": [{"city": "Madrid"}, {"city": "Lyon"}]})
    assert r.status_code == 202, r.text
    known, unknown = await _messages(db)
    assert known.contact_id == pk and known.subject == "For Ana"
    assert "<p>Ana: 12.50 by 2027-01-31 Madrid</p>" in (known.html or "")
    assert unknown.contact_id is None and "{name}: {balance} by {renewal} Lyon" in (unknown.html or "")


async def test_outreach_copies_and_other_accounts_are_not_matched(client: httpx.AsyncClient, auth: dict[str, str],
                                                                  db: Database, account: NewAccount,
                                                                  make_account: object) -> None:
    other = await make_account("Other", "o@other.test")  # type: ignore[operator]
    async with db.transaction() as s:
        # A campaign's own copy of a person (outreach) and another account's contact with the number.
        s.add(Contact(account_id=account.account_id, phone="34666555444", first_name="Copy"))
        s.add(Contact(account_id=other.account_id, phone="34666555444", first_name="Theirs", in_database=True))
    r = await client.post("/api/rest/sms", headers=auth, json={"to": ["34666555444"], "from": "Acme",
                                                               "message": "Hi {name}"})
    assert r.status_code == 202
    [message] = await _messages(db)
    assert message.contact_id is None and message.body == "Hi {name}"


async def test_group_addresses_and_typed_values_for_other_capabilities(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database, account: NewAccount) -> None:
    pk = await _contact(client, auth)
    await client.post("/api/rest/contacts", headers=auth, json={"phone": "666555443", "countryIso": "ES",
                                                                "groupsNames": ["Clients"]})
    subject = AuthSubject(account_id=account.account_id, user_id=0)
    async with db.transaction() as s:
        [group] = (await service.group_page(s, subject, 1, 10))[0]
        assert await service.emails_in_groups(s, subject, [group.id]) == ["ana@example.test"]
        contact = await service.set_custom_fields(s, subject, pk, {"visits": ("decimal", "3"),
                                                                   "renewal": ("date", None)})
        assert contact.custom_fields == {"balance": "12.50", "visits": "3"}
        with pytest.raises(ValidationFailed) as refused:
            await service.set_custom_fields(s, subject, pk, {"when": ("date", "tomorrow")})
        assert "when" in refused.value.fields
    other = AuthSubject(account_id=account.account_id + 1000, user_id=0)
    async with db.sessions() as s:
        with pytest.raises(NotFound):
            await service.emails_in_groups(s, other, [group.id])
