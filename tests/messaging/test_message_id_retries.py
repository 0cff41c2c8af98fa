"""A message built again for a retry keeps its Message-ID, so the copy a crash can cause is recognisable."""

from __future__ import annotations

import re

from tidings.config import Settings
from tidings.core import ids, secrets
from tidings.db.models import Message
from tidings.messaging import preparers, tracking


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
