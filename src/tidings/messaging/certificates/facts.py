"""What a certificate attests, its canonical JSON, and its verification code.

The code is `<message id>-<events>-<HMAC-SHA256 hex>`: the HMAC (under a key derived from the
install secret) covers the canonical JSON of the facts, built from the message and its first
`<events>` events. Version 2 shows only public ids (the message's integer id as the messaging API
shows it, a count of events rather than an event's key), so a certificate tells nothing of the
platform's volume; version 1 codes (row keys, the last event's key) still verify. Verifying
rebuilds the facts the same way, so issuing stores nothing and a later event (an open a week after)
never invalidates an earlier certificate. Only stored values enter the facts, never something
computed by code that may change (the PDF's text rendering of an HTML body), so an upgrade cannot
break old codes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from tidings.core import clock, ids
from tidings.core.ids import Kind
from tidings.db.models import Account, Event, Message
from tidings.messaging import tracking
from tidings.messaging.certificates.sealing import AS_SENT
from tidings.messaging.events import FAILURES
from tidings.messaging.preparers import fill_unsubscribe

VERSION: Final = 2
MAX_ID: Final = 2**63 - 1
_CODE = re.compile(r"^([1-9][0-9]{0,18})-(0|[1-9][0-9]{0,18})-([0-9a-fA-F]{64})$")
_key: bytes = b""


def configure(install_secret: str) -> None:
    """Derive the signing key; a separate label keeps it distinct from every other use of the secret."""
    global _key
    _key = hashlib.sha256(("tidings-certificates:" + install_secret).encode()).digest()


def is_certified(message: Message) -> bool:
    return bool((message.extra or {}).get("certified"))


def utc(value: datetime | None) -> str | None:
    """Seconds precision, `Z`: what the certificate prints is exactly what was signed."""
    return None if value is None else clock.as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def sms_text(message: Message, public_url: str) -> str:
    """The SMS text as sent: the recorded one, else the body with its unsubscribe link filled in."""
    recorded = ((message.extra or {}).get(AS_SENT) or {}).get("text")
    if isinstance(recorded, str):
        return recorded
    return fill_unsubscribe(message.body or "", tracking.unsubscribe_url(public_url, message.id)) or ""


def email_body(message: Message) -> str:
    """The HTML (else text) body as submitted: merge fields filled, links not yet made the recipient's own."""
    return (message.html if message.html is not None else message.body) or ""


def attachments(message: Message) -> list[dict[str, Any]]:
    """Name, type, size and SHA-256 of each attachment (the stored base64 decoded)."""
    out: list[dict[str, Any]] = []
    for item in (message.extra or {}).get("attachments") or []:
        try:
            data = base64.b64decode(str(item.get("data") or ""), validate=False)
        except (binascii.Error, ValueError):
            data = b""
        out.append({"name": str(item.get("name") or "attachment"),
                    "type": str(item.get("type") or "application/octet-stream"),
                    "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return out


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _event(event: Event) -> dict[str, Any]:
    shown: dict[str, Any] = {"kind": event.kind, "at": utc(event.occurred_at)}
    code = (event.details or {}).get("code")
    if event.kind in FAILURES and code is not None:
        shown["code"] = str(code)
    return shown


def build(message: Message, account: Account, events: Sequence[Event], *, through: int,
          public_url: str, version: int = VERSION) -> dict[str, Any]:
    """The signed facts of one message as of `through` (v2: its first `through` events; v1: event ids <= through)."""
    extra = message.extra or {}
    as_sent = extra.get(AS_SENT) or {}
    content: dict[str, Any]
    if message.channel == "sms":
        text = sms_text(message, public_url)
        content = {"text": text, "encoding": message.encoding, "parts": message.parts}
        # An SMS's text is what its provider got, so its digest can be recomputed from the printed text.
        digest = as_sent.get("sha256") or _sha256(text)
    else:
        # The stored body, not the PDF's rendering nor the link-filled one: neither code nor settings can change it.
        body = email_body(message)
        content = {"subject": message.subject or "", "body_sha256": _sha256(body),
                   "attachments": attachments(message)}
        digest = as_sent.get("sha256")
    ordered = sorted(events, key=lambda e: (clock.as_utc(e.occurred_at), e.id))
    v1 = version == 1
    return {
        "version": version,
        "message_id": message.id if v1 else ids.to_int(Kind.MESSAGE, message.id),
        "through_event": through,
        "account": {"id": account.id if v1 else ids.to_int(Kind.ACCOUNT, account.id), "name": account.name},
        "channel": message.channel,
        "sender": message.sender,
        "sender_name": message.sender_name,
        "recipient": message.recipient,
        "cc": list(extra.get("cc") or []),
        "reply_to": extra.get("reply_to"),
        "submitted_at": utc(message.created_at),
        "scheduled_at": utc(message.scheduled_at),
        "rfc_message_id": message.rfc_message_id,
        "content": content,
        "content_sha256": digest,
        "events": [_event(e) for e in ordered],
    }


def canonical(facts: dict[str, Any]) -> bytes:
    """Sorted keys, no spaces, ASCII-only JSON: one byte string for one set of facts."""
    return json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign(facts: dict[str, Any]) -> str:
    if not _key:
        raise RuntimeError("certificates.configure() was not called")
    return hmac.new(_key, canonical(facts), hashlib.sha256).hexdigest()


def code_for(facts: dict[str, Any]) -> str:
    return f"{facts['message_id']}-{facts['through_event']}-{sign(facts)}"


def parse_code(code: str) -> tuple[int, int, str] | None:
    """(message id, last event id, HMAC) of a well-formed code; None for anything else."""
    match = _CODE.match(code.strip())
    if match is None or int(match.group(1)) > MAX_ID or int(match.group(2)) > MAX_ID:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(3).lower()


def matches(facts: dict[str, Any], mac: str) -> bool:
    return hmac.compare_digest(sign(facts), mac)


def public_view(facts: dict[str, Any]) -> dict[str, Any]:
    """What a third party may see: every fact but the content (its digest stays)."""
    return {k: v for k, v in facts.items() if k != "content"}
