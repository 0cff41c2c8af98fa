"""Short links under TIDINGS_PUBLIC_URL/s/{code}.

Codes are an HMAC of the account and the URL, so a template renderer can shorten synchronously
(the same URL always gets the same code) and the rows are written afterwards in one statement.
Ten base-62 characters make a collision between different URLs practically impossible.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.models import ShortLink

_ALPHABET = string.digits + string.ascii_letters
CODE_LENGTH = 10
MAX_URL = 4096
_key: bytes = b""


def configure(install_secret: str) -> None:
    global _key
    _key = hashlib.sha256(("tidings-short:" + install_secret).encode()).digest()


def valid_url(url: str) -> bool:
    """An absolute http(s) URL with a host, of reasonable length."""
    if not isinstance(url, str) or len(url) > MAX_URL or any(c in url for c in "\x00\r\n "):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def code_for(account_id: int, url: str) -> str:
    if not _key:
        raise RuntimeError("shortlinks.configure() was not called")
    number = int.from_bytes(hmac.new(_key, f"{account_id}|{url}".encode(), hashlib.sha256).digest()[:8], "big")
    chars = []
    for _ in range(CODE_LENGTH):
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    return "".join(chars)


@dataclass
class Shortener:
    """Shortens URLs for one account; `save` writes the links it handed out."""

    account_id: int
    public_url: str
    made: dict[str, str] = field(default_factory=dict)

    def __call__(self, url: str) -> str:
        if not valid_url(url):
            return url
        code = code_for(self.account_id, url)
        self.made[code] = url
        return f"{self.public_url.rstrip('/')}/s/{code}"

    async def save(self, session: AsyncSession) -> None:
        if not self.made:
            return
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        rows = [{"account_id": self.account_id, "code": c, "url": u} for c, u in self.made.items()]
        await session.execute(insert(ShortLink).values(rows).on_conflict_do_nothing(index_elements=["code"]))


async def resolve(session: AsyncSession, code: str) -> str | None:
    """The long URL of a code, counting the click; None for an unknown code."""
    if not code.isalnum() or len(code) != CODE_LENGTH:
        return None
    link = (await session.execute(select(ShortLink).where(ShortLink.code == code))).scalar_one_or_none()
    if link is None:
        return None
    await session.execute(update(ShortLink).where(ShortLink.id == link.id).values(clicks=ShortLink.clicks + 1))
    return link.url
