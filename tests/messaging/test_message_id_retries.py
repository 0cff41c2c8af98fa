"""A message built again for a retry keeps its Message-ID, so the copy a crash can cause is recognisable."""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage

from tidings.config import Settings
from tidings.core import ids, secrets
from tidings.db.models import Message
from tidings.messaging import outbox, preparers, tracking


def _message_id(raw: bytes | None) -> str:
    found = re.search(rb"^Message-ID: (\S+)", raw or b"", re.MULTILINE | re.IGNORECASE)
    assert found is not None
    return found.group(1).decode()


def test_every_build_of_one_message_carries_the_same_message_id() -> None:
    ids.configure("k")
    secrets.configure("k")
    tracking.configure("k")
    settings = Settings(secret_key="k", public_url="https://t.example.test")
    message = Message(id=7, account_id=1, channel="email", direction="out", sender="ann@acme.test",
                      recipient="bob@example.org", subject="Hello", body="Hi Bob", extra={})
    first = preparers.email_mime(message, settings)
    stored = message.rfc_message_id
    again = preparers.email_mime(message, settings)  # the retry after a crash, from the stored row
    assert stored and _message_id(first.raw) == _message_id(again.raw) == stored
    other = Message(id=8, account_id=1, channel="email", direction="out", sender="ann@acme.test",
                    recipient="eve@example.org", subject="Hello", body="Hi Eve", extra={})
    assert _message_id(preparers.email_mime(other, settings).raw) != stored


def test_a_queued_email_has_its_message_id_from_the_start() -> None:
    """Given in the INSERT, so that building the message does not UPDATE its row; the send carries it."""
    ids.configure("k")
    secrets.configure("k")
    tracking.configure("k")
    settings = Settings(secret_key="k", public_url="https://t.example.test")
    row = outbox.message_row(account_id=1, channel="email", sender="Ann@Acme.test", recipient="bob@example.org",
                             subject="Hello", body="Hi Bob", extra={})
    given = row["rfc_message_id"]
    assert re.fullmatch(r"<[0-9a-f]{32}@acme\.test>", given)
    message = Message(id=9, direction="out", **{k: v for k, v in row.items() if k != "direction"})
    assert _message_id(preparers.email_mime(message, settings).raw) == given == message.rfc_message_id
    assert outbox.message_row(account_id=1, channel="sms", sender="TIDINGS", recipient="34666555444") \
        .get("rfc_message_id") is None
    # A sender without a domain gets none here; building the message fails it alone, as before.
    assert outbox.message_row(account_id=1, channel="email", sender="nobody", recipient="b@example.org") \
        ["rfc_message_id"] is None


def _parts(raw: bytes | None) -> tuple[str, str, str, str]:
    parsed = email.message_from_bytes(raw or b"", policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    return str(parsed["Message-ID"]), str(parsed["Subject"]), text.get_content(), html.get_content()


def test_an_email_whose_build_changes_nothing_stored_is_built_in_its_send_lane() -> None:
    """With its Message-ID given when queued, building it writes nothing: the dispatcher builds it right before the
    send (`Prepared.finish`), the same message; without one, or certified, it is built at the claim as before."""
    ids.configure("k")
    secrets.configure("k")
    tracking.configure("k")
    settings = Settings(secret_key="k", public_url="https://t.example.test")
    row = outbox.message_row(account_id=1, channel="email", sender="ann@acme.test", recipient="bob@example.org",
                             subject="Hello", body="Hi Bob [unsubscribe_link]", html="<p>Hi <b>Bob</b></p>", extra={})
    message = Message(id=10, direction="out", **{k: v for k, v in row.items() if k != "direction"})
    signed: list[bytes] = []
    outbound, finish = preparers.email_deferred(message, settings, then=lambda out: signed.append(out.raw or b""))
    assert outbound.raw is None and finish is not None and signed == []
    finish()
    assert outbound.raw is not None and signed == [outbound.raw]
    assert _parts(outbound.raw) == _parts(preparers.email_mime(message, settings).raw)
    assert _message_id(outbound.raw) == row["rfc_message_id"] == message.rfc_message_id
    assert (outbound.recipient, outbound.reference, outbound.options) == ("bob@example.org", "10",
                                                                          {"cc": [], "bcc": []})

    unnamed = Message(id=11, account_id=1, channel="email", direction="out", sender="ann@acme.test",
                      recipient="eve@example.org", subject="Hello", body="Hi Eve", extra={})
    built, later = preparers.email_deferred(unnamed, settings)
    assert later is None and built.raw is not None and unnamed.rfc_message_id == _message_id(built.raw)
    certified = Message(id=12, direction="out", **{**{k: v for k, v in row.items() if k != "direction"},
                                                   "extra": {"certified": True}})
    sealed, later = preparers.email_deferred(certified, settings)
    assert later is None and sealed.raw is not None and "as_sent" in (certified.extra or {})
