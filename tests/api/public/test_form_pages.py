"""Hosted forms: a mailing's [form_{ID}] link opens the recipient's own page; answers land on their contact.

Mail goes through a real local SMTP server; event notifications reach a real local HTTP receiver.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.channels.registry import build_provider
from tidings.core import ids
from tidings.db.engine import Database
from tidings.db.models import Contact, Event, FormResponse, Message
from tidings.engine.runner import Runner
from tidings.messaging import custom_links, senders, stored_attachments
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from helpers import Receiver, basic, row_id
from smtp_sink import smtp_sink

PUBLIC = "http://tidings.test"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
SURVEY: dict[str, Any] = {
    "name": "Survey", "rejectButton": True, "editable": False,
    "formFields": [
        {"type": "h2", "label": "Tell us"},
        {"type": "text", "label": "Name", "required": True, "customField": "form_name"},
        {"type": "email", "label": "Email", "customField": "form_email"},
        {"type": "radio", "label": "Score", "required": True, "customField": "score",
         "options": [{"label": "Good", "value": "10"}, {"label": "Bad", "value": "2"}]},
        {"type": "number", "label": "Age", "customField": "age"},
        {"type": "checkbox", "label": "I agree", "required": True, "customField": "agree"},
    ],
}


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def _form(client: httpx.AsyncClient, auth: dict[str, str], **over: Any) -> int:
    r = await client.post("/api/rest/form", json={**SURVEY, **over}, headers=auth)
    assert r.status_code == 201, r.text
    form_id: int = r.json()["data"]["id"]
    return form_id


async def _mailing(client: httpx.AsyncClient, auth: dict[str, str], db: Database, account: NewAccount, body: str,
                   to: str = "bob@example.test") -> int:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test")
    r = await client.post("/api/rest/mailing", headers=auth, json={
        "to": [to], "fromEmail": "info@acme.test", "replyTo": "info@acme.test", "subject": "Survey",
        "body": body, "trackClicks": False})
    assert r.status_code == 202, r.text
    message_id = row_id(ids.Kind.MESSAGE, r.json()["result"][0]["id"])
    return message_id


def _path(url: str) -> str:
    assert url.startswith(PUBLIC + "/"), url
    return url.removeprefix(PUBLIC)


async def test_a_recipient_answers_through_the_link_in_their_mail(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, account: NewAccount,
        runner: Runner, receiver: Receiver) -> None:
    form_id = await _form(client, auth)
    r = await client.put("/api/rest/account/notifications", json={"url": f"{receiver.base}/hook"}, headers=auth)
    assert r.status_code == 200, r.text
    async with db.transaction() as s:
        s.add(Contact(account_id=account.account_id, email="bob@example.test", email_key="bob@example.test",
                      first_name="Bob", custom_fields={"plan": "pro", "score": "1"}))
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        await _mailing(client, auth, db, account, f'<p>Hi, <a href="[form_{form_id}]">answer</a></p>')
        await runner.run_until_idle()
        html = sink.received[0].message.get_body(("html",)).get_content()
    [link] = re.findall(r'href="(http://tidings.test/f/[^"]+)"', html)
    assert link.endswith(f"/{form_id}")

    page = await client.get(_path(link), headers={"User-Agent": IPHONE})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"].startswith("no-store") and page.headers["x-frame-options"] == "DENY"
    text = page.text
    assert '<meta name="viewport"' in text and 'method="post"' in text and "<script" not in text
    assert '<label for="f-form_name">Name' in text and 'aria-required="true"' in text

    bad = await client.post(_path(link), data={"_action": "submit", "form_name": "", "score": "7", "age": "x"})
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text and 'aria-invalid="true"' in bad.text
    for message in ("This field is required.", "Choose one of the options.", "Enter a number.",
                    "This box must be checked."):
        assert message in bad.text

    ok = await client.post(_path(link), data={"_action": "submit", "form_name": "Bob B", "score": "10",
                                              "age": "40", "agree": "1", "form_email": ""})
    assert ok.status_code == 200 and "Thank you!" in ok.text
    async with db.sessions() as s:
        contact = (await s.execute(select(Contact))).scalar_one()
        kinds = [k for (k,) in await s.execute(select(Event.kind).order_by(Event.id))]
        message = (await s.execute(select(Message))).scalar_one()
    assert contact.custom_fields == {"plan": "pro", "score": "10", "form_name": "Bob B", "age": "40", "agree": "1"}
    assert message.contact_id == contact.id, "the message is linked to the contact that answered"
    assert kinds[-2:] == ["form_opened", "form_submitted"]

    again = await client.get(_path(link))
    assert again.status_code == 200 and "Already answered" in again.text
    twice = await client.post(_path(link), data={"_action": "submit", "form_name": "Evil", "score": "2",
                                                 "agree": "1"})
    assert twice.status_code == 409, "a form that is not editable cannot be sent twice"
    await runner.run_until_idle()
    forms = [f for f in receiver.forms() if f["event"].startswith("form_")]
    assert [f["event"] for f in forms] == ["form_opened", "form_submitted"]
    for form in forms:
        assert form["formId"] == str(form_id) and form["channel"] == "mailing"
        assert form["contactId"] in ("", str(ids.to_int(ids.Kind.CONTACT, contact.id)))
    assert json.loads(forms[1]["extra"]) == {"formValues": {"form_name": "Bob B", "score": "10", "age": "40",
                                                            "agree": "1"}}
    async with db.sessions() as s:
        contact = (await s.execute(select(Contact))).scalar_one()
    assert contact.custom_fields["form_name"] == "Bob B", "the second submission changed nothing"


async def test_an_editable_form_can_be_sent_again_and_reject_stores_nothing(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database, account: NewAccount, runner: Runner) -> None:
    form_id = await _form(client, auth, editable=True)
    message_id = await _mailing(client, auth, db, account, f"<p>[form_{form_id}]</p>", to="new@example.test")
    link = _path(custom_links.form_url(PUBLIC, message_id, form_id))
    for name in ("First", "Second"):
        r = await client.post(link, data={"_action": "submit", "form_name": name, "score": "2", "agree": "on"})
        assert r.status_code == 200, r.text
    declined = await client.post(link, data={"_action": "reject", "form_name": "ignored"})
    assert declined.status_code == 200 and "Nothing was saved" in declined.text
    async with db.sessions() as s:
        contact = (await s.execute(select(Contact))).scalar_one()
        responses = [(r.action, r.values) for r in (await s.execute(select(FormResponse).order_by(FormResponse.id)))
                     .scalars()]
        kinds = [k for (k,) in await s.execute(select(Event.kind).where(Event.kind.like("form%")))]
    assert contact.email == "new@example.test", "a recipient without a contact gets one"
    assert contact.custom_fields == {"form_name": "Second", "score": "2", "agree": "1"}
    assert [a for a, _ in responses] == ["submitted", "submitted", "rejected"] and responses[2][1] == {}
    assert kinds == ["form_submitted", "form_submitted", "form_rejected"]


async def test_reject_is_refused_without_the_button(client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                                   account: NewAccount) -> None:
    form_id = await _form(client, auth, rejectButton=False)
    message_id = await _mailing(client, auth, db, account, "x")
    link = _path(custom_links.form_url(PUBLIC, message_id, form_id))
    page = await client.get(link)
    assert ">Reject</button>" not in page.text
    r = await client.post(link, data={"_action": "reject"})
    assert r.status_code == 422, "without a reject button, the post is a submission with missing answers"


async def test_links_to_unknown_or_foreign_forms_and_forged_tokens_are_404(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database, account: NewAccount,
        make_account: Any) -> None:
    mine = await _form(client, auth)
    stranger = await make_account("Stranger", "owner@stranger.test")
    theirs = await _form(client, basic(stranger.username, stranger.api_password))
    message_id = await _mailing(client, auth, db, account, "x")
    good = _path(custom_links.form_url(PUBLIC, message_id, mine))
    assert (await client.get(good)).status_code == 200
    foreign = _path(custom_links.form_url(PUBLIC, message_id, theirs))
    forged = good.replace("/f/", "/f/x")
    for path in (foreign, forged, f"/f/nope/{mine}", good.rsplit("/", 1)[0] + "/123"):
        r = await client.get(path)
        assert r.status_code == 404 and "Link not valid" in r.text, path
        assert (await client.post(path, data={"form_name": "x"})).status_code == 404


async def test_show_link_and_attachment_links_are_the_recipients_own(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, account: NewAccount,
        runner: Runner, make_account: Any) -> None:
    async with db.transaction() as s:
        row = await stored_attachments.store(s, AuthSubject(account_id=account.account_id, user_id=0),
                                             app.state.settings.data_dir, "terms.pdf", "application/pdf",
                                             b"%PDF-1.4 terms")
        attachment_id = stored_attachments.public_id(row)
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        message_id = await _mailing(client, auth, db, account, (
            f'<p>Hello <a href="[show_link]">web</a> <a href="[attachment_{attachment_id}]">terms</a> '
            '<a href="[unsubscribe_link]">unsubscribe</a></p>'))
        await runner.run_until_idle()
        html = sink.received[0].message.get_body(("html",)).get_content()
    show = re.search(r'href="(http://tidings.test/v/[^"]+)"', html)
    file = re.search(r'href="(http://tidings.test/a/[^"]+)"', html)
    assert show and file
    view = await client.get(_path(show.group(1)))
    assert view.status_code == 200 and "Hello" in view.text
    assert "sandbox" in view.headers["content-security-policy"], "account HTML runs without scripts"
    assert custom_links.attachment_url(PUBLIC, message_id, attachment_id) in view.text
    assert "[unsubscribe_link]" not in view.text and "/u/" in view.text
    got = await client.get(_path(file.group(1)))
    assert got.status_code == 200 and got.content == b"%PDF-1.4 terms"
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment")

    stranger = await make_account("Stranger", "owner@stranger.test")
    async with db.transaction() as s:
        other = await stored_attachments.store(s, AuthSubject(account_id=stranger.account_id, user_id=0),
                                               app.state.settings.data_dir, "secret.txt", "text/plain", b"secret")
    foreign = custom_links.attachment_url(PUBLIC, message_id, stored_attachments.public_id(other))
    assert (await client.get(_path(foreign))).status_code == 404, "files only through the account's messages"
    assert (await client.get(_path(file.group(1)).replace("/a/", "/a/x"))).status_code == 404
