"""The outreach suppression list: emails and domains per client or for the whole account.

Adding an entry marks matching contacts of the scope's campaigns UNSUBSCRIBED and is_suppressed;
contacts added later are checked with `suppressed_keys` / `is_suppressed`. The engine calls
`is_suppressed` before each send and `suppress_email` when someone unsubscribes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.emails import email_key, normalize_email
from tidings.core.errors import NotFound, ValidationFailed
from tidings.db.models import Campaign, Contact, Enrollment, Suppression
from tidings.outreach import access
from tidings.tenancy.scoping import get_owned, scoped
from tidings.tenancy.subject import AuthSubject

CHANNEL = "email"
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
MAX_ITEMS = 10000


def _domain_of(key: str) -> str:
    return key.rpartition("@")[2]


def _scope(account_id: int, client_id: int | None) -> list[ColumnElement[bool]]:
    """Entries that apply to a client: its own and the account-wide ones."""
    clients: list[ColumnElement[bool]] = [Suppression.client_id.is_(None)]
    if client_id is not None:
        clients.append(Suppression.client_id == client_id)
    return [Suppression.account_id == account_id, Suppression.channel == CHANNEL, or_(*clients)]


async def suppressed_keys(session: AsyncSession, *, account_id: int, client_id: int | None,
                          keys: Iterable[str]) -> set[str]:
    """Which of these lower-case addresses are suppressed, by address or by domain."""
    wanted = {k for k in keys if k}
    if not wanted:
        return set()
    hits: set[str] = set()
    emails, domains = sorted(wanted), sorted({_domain_of(k) for k in wanted})
    for kind, values in (("email", emails), ("domain", domains)):
        for i in range(0, len(values), 500):
            stmt = select(Suppression.value).where(*_scope(account_id, client_id), Suppression.kind == kind,
                                                   Suppression.value.in_(values[i:i + 500]))
            hits |= set((await session.execute(stmt)).scalars())
    return {k for k in wanted if k in hits or _domain_of(k) in hits}


async def is_suppressed(session: AsyncSession, *, account_id: int, client_id: int | None, email: str) -> bool:
    """Whether this address or its domain is suppressed for the client or the whole account."""
    return bool(await suppressed_keys(session, account_id=account_id, client_id=client_id, keys=[email_key(email)]))


async def _apply(session: AsyncSession, *, account_id: int, client_id: int | None, kind: str,
                 values: Sequence[str]) -> None:
    """Mark the matching enrollments of the scope's campaigns UNSUBSCRIBED and suppressed."""
    campaigns = select(Campaign.id).where(Campaign.account_id == account_id)
    if client_id is not None:
        campaigns = campaigns.where(Campaign.client_id == client_id)
    for i in range(0, len(values), 500):
        chunk = list(values[i:i + 500])
        match: ColumnElement[bool]
        if kind == "email":
            match = Contact.email_key.in_(chunk)
        else:
            match = or_(*[Contact.email_key.like(f"%@{d}") for d in chunk])
        contacts = select(Contact.id).where(Contact.account_id == account_id, match)
        await session.execute(
            update(Enrollment)
            .where(Enrollment.account_id == account_id, Enrollment.campaign_id.in_(campaigns),
                   Enrollment.contact_id.in_(contacts))
            .values(status="UNSUBSCRIBED", is_suppressed=True, next_due_at=None, updated_at=clock.now()))


async def _add(session: AsyncSession, *, account_id: int, client_id: int | None, kind: str,
               values: Sequence[str], reason: str) -> None:
    existing = set((await session.execute(
        select(Suppression.value).where(Suppression.account_id == account_id, Suppression.channel == CHANNEL,
                                        Suppression.kind == kind, Suppression.value.in_(list(values) or [""]),
                                        Suppression.client_id.is_(None) if client_id is None
                                        else Suppression.client_id == client_id))).scalars())
    for value in values:
        if value not in existing:
            session.add(Suppression(account_id=account_id, client_id=client_id, channel=CHANNEL, kind=kind,
                                    value=value, reason=reason))
    await session.flush()
    await _apply(session, account_id=account_id, client_id=client_id, kind=kind, values=values)


async def suppress_email(session: AsyncSession, *, account_id: int, client_id: int | None, email: str,
                         reason: str) -> None:
    """Suppress one address (an unsubscribe) and mark its enrollments in the scope."""
    await _add(session, account_id=account_id, client_id=client_id, kind="email", values=[email_key(email)],
               reason=reason)


def _check_list(raw: Sequence[object], field: str) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed.on(field, f"The {field} field is required.")
    if len(raw) > MAX_ITEMS:
        raise ValidationFailed.on(field, f"The {field} may not have more than {MAX_ITEMS} items.")
    return [str(v) if isinstance(v, str) else "" for v in raw]


async def add_emails(session: AsyncSession, subject: AuthSubject, client_id: int | None,
                     emails: Sequence[object]) -> list[str]:
    """Suppress addresses for a client; returns them as given."""
    subject.require("create_campaigns")
    client = await access.client(session, subject, client_id)
    given = _check_list(emails, "emails")
    errors: dict[str, list[str]] = {}
    keys: list[str] = []
    for i, raw in enumerate(given):
        if normalize_email(raw) is None:
            errors[f"emails.{i}"] = [f"The emails.{i} must be a valid email address."]
        elif email_key(raw) not in keys:
            keys.append(email_key(raw))
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)
    await _add(session, account_id=subject.account_id, client_id=client.id, kind="email", values=keys, reason="api")
    return [g.strip() for g in given]


async def add_domains(session: AsyncSession, subject: AuthSubject, client_id: int | None,
                      domains: Sequence[object]) -> list[str]:
    """Suppress whole domains for a client; returns them as given."""
    subject.require("create_campaigns")
    client = await access.client(session, subject, client_id)
    given = _check_list(domains, "domains")
    errors: dict[str, list[str]] = {}
    values: list[str] = []
    for i, raw in enumerate(given):
        value = raw.strip().lower().removeprefix("@").rstrip(".")
        if not _DOMAIN.match(value):
            errors[f"domains.{i}"] = [f"The domains.{i} must be a valid domain."]
        elif value not in values:
            values.append(value)
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)
    await _add(session, account_id=subject.account_id, client_id=client.id, kind="domain", values=values,
               reason="api")
    return [g.strip() for g in given]


async def list_suppressions(session: AsyncSession, subject: AuthSubject, *, kind: str | None = None,
                            search: str = "", limit: int = 50, offset: int = 0) -> tuple[int, list[Suppression]]:
    """A page of the outreach suppressions the subject may see, newest first, with the total."""
    subject.require("view_campaigns")
    stmt = scoped(select(Suppression), Suppression, subject).where(Suppression.channel == CHANNEL)
    if kind in ("email", "domain"):
        stmt = stmt.where(Suppression.kind == kind)
    if search.strip():
        stmt = stmt.where(Suppression.value.contains(search.strip().lower(), autoescape=True))
    total = int((await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one())
    rows = (await session.execute(stmt.order_by(Suppression.id.desc()).limit(limit).offset(offset))).scalars()
    return total, list(rows)


async def remove(session: AsyncSession, subject: AuthSubject, suppression_id: int | None) -> None:
    """Lift one suppression; contacts it unsubscribed stay unsubscribed (they may have asked to be)."""
    subject.require("create_campaigns")
    found = await get_owned(session, Suppression, suppression_id, subject, "Suppression")
    if found.channel != CHANNEL:
        raise NotFound("Suppression not found.")
    await session.delete(found)
    await session.flush()
