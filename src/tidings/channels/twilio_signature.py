"""Twilio's request signature (X-Twilio-Signature), for the status callbacks of every Twilio channel.

Twilio signs a webhook with HMAC-SHA1 over the full URL it called followed by each POST field name
and value, sorted by name, keyed by the account's auth token, base64-encoded. Written here rather
than taken from the `twilio` package: that SDK is large and this is its whole validator.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

HEADER = "X-Twilio-Signature"


def compute(auth_token: str, url: str, fields: Iterable[tuple[str, str]]) -> str:
    """The signature Twilio sends for a POST of `fields` to `url`."""
    data = url + "".join(name + value for name, value in sorted(fields, key=lambda item: item))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid(auth_token: str, url: str, fields: Iterable[tuple[str, str]], signature: str | None) -> bool:
    """Whether `signature` is Twilio's for this request (False when missing)."""
    if not signature or not auth_token:
        return False
    return hmac.compare_digest(compute(auth_token, url, fields).encode(), signature.strip().encode())
