"""A client's sending mailboxes: SMTP and IMAP settings with passwords encrypted at rest.

A client may not have more mailboxes than its `max_emails`. The engine reads the passwords with
`tidings.core.secrets.vault().decrypt`, and writes `status` and `last_error` when a login fails.
SMTP and IMAP hosts go through the outbound address guard (`tidings.net`) here and again at connect time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings import net
from tidings.core.emails import normalize_email
from tidings.core.errors import ValidationFailed
from tidings.core.headerfields import require_single_line
from tidings.core.secrets import vault
from tidings.db.models import Mailbox
from tidings.outreach import access
from tidings.tenancy.scoping import get_owned, scoped
from tidings.tenancy.subject import AuthSubject

SECURITY = ("none", "starttls", "tls")


@dataclass
class MailboxIn:
    email: str
    smtp_host: str
    smtp_username: str
    smtp_password: str
    client_id: int | None = None
    name: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    imap_host: str | None = None
    imap_port: int | None = None
    imap_username: str | None = None
    imap_password: str | None = None
    imap_security: str | None = None
    daily_limit: int = 50
    min_interval_seconds: int = 60


def _host(field: str, host: str, allow_private: bool) -> str:
    """The normalised host, or 422 naming the field when the guard would refuse to connect to it."""
    try:
        return net.check_host(host, allow_private)
    except net.UnsafeUrl:
        label = field.replace("_", " ")
        raise ValidationFailed.on(field, f"The {label} must be a public host name or address.") from None


def _check(data: MailboxIn, allow_private: bool) -> str:
    address = normalize_email(data.email or "")
    if address is None:
        raise ValidationFailed.on("email", "The email must be a valid email address.")
    require_single_line(data.name, "name")
    if not data.smtp_host.strip():
        raise ValidationFailed.on("smtp_host", "The smtp host field is required.")
    if data.smtp_security not in SECURITY:
        raise ValidationFailed.on("smtp_security", "The smtp security must be one of none, starttls, tls.")
    if data.imap_security is not None and data.imap_security not in SECURITY:
        raise ValidationFailed.on("imap_security", "The imap security must be one of none, starttls, tls.")
    if data.imap_host and not (data.imap_password or "").strip():
        raise ValidationFailed.on("imap_password", "The imap password is required with an imap host.")
    for name, port in (("smtp_port", data.smtp_port), ("imap_port", data.imap_port)):
        if port is not None and not 1 <= port <= 65535:
            raise ValidationFailed.on(name, f"The {name.replace('_', ' ')} must be between 1 and 65535.")
    data.smtp_host = _host("smtp_host", data.smtp_host, allow_private)
    if data.imap_host and data.imap_host.strip():
        data.imap_host = _host("imap_host", data.imap_host, allow_private)
    return address


async def create(session: AsyncSession, subject: AuthSubject, data: MailboxIn, *,
                 allow_private: bool = False) -> Mailbox:
    """Add a mailbox to a client within its max_emails allowance."""
    subject.require("create_campaigns")
    address = _check(data, allow_private)
    client_id = data.client_id if data.client_id is not None or subject.is_agency else subject.client_id
    if client_id is not None:
        client = await access.client(session, subject, client_id)
        used = (await session.execute(select(func.count()).select_from(Mailbox)
                                      .where(Mailbox.account_id == subject.account_id,
                                             Mailbox.client_id == client.id))).scalar_one()
        if used >= client.max_emails:
            raise ValidationFailed.on("client_id", f"The client can have at most {client.max_emails} mailboxes.")
    box = Mailbox(
        account_id=subject.account_id, client_id=client_id, email=address, name=data.name.strip()[:200],
        smtp_host=data.smtp_host.strip(), smtp_port=data.smtp_port, smtp_username=data.smtp_username,
        smtp_password_enc=vault().encrypt(data.smtp_password), smtp_security=data.smtp_security,
        imap_host=(data.imap_host or "").strip() or None, imap_port=data.imap_port,
        imap_username=data.imap_username,
        imap_password_enc=vault().encrypt(data.imap_password) if data.imap_password else None,
        imap_security=data.imap_security, daily_limit=data.daily_limit,
        min_interval_seconds=data.min_interval_seconds, status="active")
    session.add(box)
    await session.flush()
    return box


async def list_mailboxes(session: AsyncSession, subject: AuthSubject, client_id: int | None = None,
                         *, filter_client: bool = False) -> list[Mailbox]:
    subject.require("view_campaigns")
    stmt = scoped(select(Mailbox), Mailbox, subject)
    if filter_client:
        stmt = stmt.where(Mailbox.client_id == client_id)
    return list((await session.execute(stmt.order_by(Mailbox.id))).scalars())


async def get(session: AsyncSession, subject: AuthSubject, mailbox_id: int | None) -> Mailbox:
    subject.require("view_campaigns")
    return await get_owned(session, Mailbox, mailbox_id, subject, "Mailbox")


async def delete(session: AsyncSession, subject: AuthSubject, mailbox_id: int | None) -> None:
    """Remove a mailbox; campaigns lose it, messages keep their history."""
    subject.require("create_campaigns")
    box = await get_owned(session, Mailbox, mailbox_id, subject, "Mailbox")
    await session.delete(box)
    await session.flush()
