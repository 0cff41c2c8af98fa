"""Signed links placed in messages: open pixel, click redirect and unsubscribe.

Tokens are HMAC-signed message ids, so nobody can unsubscribe or count clicks for a message they
did not receive, and click links cannot be turned into an open redirect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

from tidings.core import ids
from tidings.core.ids import Kind

_key: bytes = b""


def configure(install_secret: str) -> None:
    global _key
    _key = hashlib.sha256(("tidings-links:" + install_secret).encode()).digest()


def _mac(value: str, length: int = 16) -> str:
    if not _key:
        raise RuntimeError("tracking.configure() was not called")
    digest = hmac.new(_key, value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:length]


def token(message_id: int) -> str:
    public = ids.encode(Kind.MESSAGE, message_id)
    return f"{public}.{_mac(public)}"


def message_id(tok: str) -> int | None:
    public, _, mac = tok.partition(".")
    if not mac or not hmac.compare_digest(mac, _mac(public)):
        return None
    return ids.decode(Kind.MESSAGE, public)


def url_signature(tok: str, url: str) -> str:
    return _mac(tok + "|" + url, 12)


def open_url(public_url: str, message_id_: int) -> str:
    return f"{public_url.rstrip('/')}/t/o/{token(message_id_)}.gif"


def click_url(public_url: str, message_id_: int, target: str) -> str:
    tok = token(message_id_)
    return f"{public_url.rstrip('/')}/t/c/{tok}?u={quote(target, safe='')}&s={url_signature(tok, target)}"


def unsubscribe_url(public_url: str, message_id_: int) -> str:
    return f"{public_url.rstrip('/')}/u/{token(message_id_)}"
