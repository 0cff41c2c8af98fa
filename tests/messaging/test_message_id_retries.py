"""A message built again for a retry keeps its Message-ID, so the copy a crash can cause is recognisable."""

from __future__ import annotations

import re

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
