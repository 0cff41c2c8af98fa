"""Verified senders: the check every email send makes, and how addresses become verified.

An operator adds a verified sender directly (`tidings sender add`); an API user registers one and
it is verified when someone opens the signed link mailed to it. Only a SHA-256 digest of the link's
random token is stored, so a database read cannot verify an address. The link's expiry is written
into the token itself ("<epoch>.<random>") and covered by that digest, so it cannot be extended.
"""

from __future__ import annotations

import html
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import Settings
from tidings.core import clock
from tidings.core.emails import email_key, normalize_email
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.secrets import hash_secret
from tidings.db.models import Account, Sender
from tidings.messaging import outbox
from tidings.tenancy.subject import AuthSubject

VERIFY_LINK_HOURS = 72
MAX_NAME = 200


async def find(session: AsyncSession, account_id: int, email: str) -> Sender | None:
    stmt = select(Sender).where(Sender.account_id == account_id, Sender.email_key == email_key(email))
    return (await session.execute(stmt)).scalar_one_or_none()


async def is_verified(session: AsyncSession, account_id: int, email: str) -> bool:
    """Whether this address (any case) is a verified sender of the account."""
    sender = await find(session, account_id, email)
    return sender is not None and sender.verified_at is not None


def system_from(settings: Settings) -> str:
    """The From address of system mail: the setting, else no-reply@ the public URL's host."""
    if settings.system_from:
        return settings.system_from
    host = urlsplit(settings.public_url).hostname or "localhost"
    return f"no-reply@{host}"


def _address(email: str, name: str) -> tuple[str, str]:
    normalized = normalize_email(email or "")
    if normalized is None:
        raise ValidationFailed.on("email", "The email must be a valid email address.")
    name = (name or "").strip()
    if len(name) > MAX_NAME:
        raise ValidationFailed.on("name", f"The name may not be greater than {MAX_NAME} characters.")
    return normalized, name


async def add_verified(session: AsyncSession, account_id: int, email: str, name: str = "") -> Sender:
    """Add (or mark) a verified sender of an account, as an operator; no mail is sent."""
    if await session.get(Account, account_id) is None:
        raise NotFound(f"Account {account_id} not found.")
    address, name = _address(email, name)
    sender = await find(session, account_id, address)
    if sender is None:
        sender = Sender(account_id=account_id, email=address, email_key=email_key(address), name=name)
        session.add(sender)
    elif name:
        sender.name = name
    sender.verified_at = sender.verified_at or clock.now()
    sender.verify_token_hash = None
    await session.flush()
    return sender


async def register(
    session: AsyncSession, subject: AuthSubject, settings: Settings, email: str, name: str = ""
) -> tuple[Sender, bool]:
    """Register a sender and mail it a verification link; returns it and whether it is new.

    Registering an unverified address again mails a fresh link (the old one stops working).
    """
    address, name = _address(email, name)
    sender = await find(session, subject.account_id, address)
    created = sender is None
    if sender is None:
        sender = Sender(account_id=subject.account_id, email=address, email_key=email_key(address), name=name)
        session.add(sender)
    elif name:
        sender.name = name
    if sender.verified_at is None:
        await _mail_link(session, sender, settings)
    await session.flush()
    return sender, created


async def _mail_link(session: AsyncSession, sender: Sender, settings: Settings) -> None:
    expires = clock.now() + timedelta(hours=VERIFY_LINK_HOURS)
    token = f"{int(expires.timestamp())}.{secrets.token_urlsafe(32)}"
    sender.verify_token_hash = hash_secret(token)
    link = f"{settings.public_url.rstrip('/')}/senders/verify/{token}"
    text = (f"Someone asked to send email as {sender.email} through Tidings.\n\n"
            f"To confirm that this address may be used as a sender, open this link within "
            f"{VERIFY_LINK_HOURS} hours:\n\n{link}\n\nIf you did not ask for this, ignore this message.\n")
    body = (f"<p>Someone asked to send email as <b>{html.escape(sender.email)}</b> through Tidings.</p>"
            f"<p>To confirm that this address may be used as a sender, open this link within "
            f"{VERIFY_LINK_HOURS} hours:</p><p><a href=\"{html.escape(link)}\">{html.escape(link)}</a></p>"
            "<p>If you did not ask for this, ignore this message.</p>")
    # No tracking and no unsubscribe header: this is a one-off system message, not marketing.
    message = outbox.new_message(account_id=sender.account_id, channel="email", sender=system_from(settings),
                                 recipient=sender.email, subject="Confirm your sender address", body=text,
                                 html=body, sender_name="Tidings",
                                 extra={"track_opens": False, "track_clicks": False, "list_unsubscribe": False,
                                        "system": "sender_verification"})
    await outbox.queue(session, message)


async def verify(session: AsyncSession, token: str) -> Sender | None:
    """Mark the sender of this link verified; None when the link is unknown or expired."""
    if not token or len(token) > 200:
        return None
    stmt = select(Sender).where(Sender.verify_token_hash == hash_secret(token))
    sender = (await session.execute(stmt)).scalar_one_or_none()
    if sender is None:
        return None
    expires = token.partition(".")[0]
    if not expires.isdigit() or int(expires) <= clock.now().timestamp():
        return None
    sender.verified_at = clock.now()
    sender.verify_token_hash = None
    await session.flush()
    return sender


async def list_senders(session: AsyncSession, subject: AuthSubject) -> list[Sender]:
    stmt = select(Sender).where(Sender.account_id == subject.account_id).order_by(Sender.id)
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, subject: AuthSubject, sender_id: int) -> Sender:
    sender = await session.get(Sender, sender_id)
    if sender is None or sender.account_id != subject.account_id:
        raise NotFound("Resource not found")
    return sender


async def remove(session: AsyncSession, subject: AuthSubject, sender_id: int) -> None:
    await session.delete(await get(session, subject, sender_id))
    await session.flush()
