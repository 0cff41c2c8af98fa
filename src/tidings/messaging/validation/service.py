"""Email validations: create (pending, queued for the engine), read, list, delete, results, and their rendering.

The request only stores the addresses and queues the job (`tidings.messaging.validation.jobs`); every
check runs in the engine. The rendering lives here, not in the dialect, because the engine sends the
same shape to the notificationUrl.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import Settings
from tidings.core import clock, ids
from tidings.core.emails import email_key
from tidings.core.errors import InsufficientBalance, NotFound, ValidationFailed
from tidings.db.base import table_of
from tidings.db.jobs import enqueue
from tidings.db.models import Account, EmailValidation, EmailValidationItem
from tidings.messaging import pricing
from tidings.messaging.validation.groups import group_addresses
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject

JOB_KIND: Final = "validation.emails"
# The document's words for our results in the result CSV.
CSV_RESULT: Final = {"valid": "deliverable", "invalid": "undeliverable", "risky": "risky"}
PATH: Final = "/api/rest/validation/emails"


@dataclass(frozen=True)
class Request:
    """A validation request as the dialect parsed it (group ids already turned into primary keys)."""

    emails: list[str]
    group_pks: list[int]
    force: bool
    allow_risky: bool
    notification_url: str | None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else clock.as_utc(value).replace(microsecond=0).isoformat()


def public_id(validation: EmailValidation) -> int:
    return ids.to_int(ids.Kind.VALIDATION, validation.id)


def render(validation: EmailValidation, public_url: str, *, notification: bool = False) -> dict[str, Any]:
    """The document's validation object; notifications add `error`."""
    pid = public_id(validation)
    out: dict[str, Any] = {
        "id": pid, "status": validation.status, "total": validation.total, "processed": validation.processed,
        "valid": validation.valid, "estimatedCost": float(validation.estimated_cost), "cost": float(validation.cost),
        "currency": validation.currency, "createdAt": _iso(validation.created_at),
        "updatedAt": _iso(validation.updated_at), "finishedAt": _iso(validation.finished_at),
        "resultUrl": f"{public_url.rstrip('/')}{PATH}/{pid}/result" if validation.status == "finished" else None,
    }
    if notification:
        out["error"] = validation.error
    return out


def unique_addresses(raw: list[str]) -> list[tuple[str, str]]:
    """(address as given, matching key) once per key, in the order given; blanks are dropped."""
    seen: dict[str, str] = {}
    for item in raw:
        text = item.strip()
        if text:
            seen.setdefault(email_key(text)[:320], text[:320])
    return [(email, key) for key, email in seen.items()]


async def create(session: AsyncSession, subject: AuthSubject, settings: Settings, req: Request) -> EmailValidation:
    """Store a pending validation of the emails and the groups' addresses and queue its job."""
    addresses = list(req.emails)
    if req.group_pks:
        addresses.extend(await group_addresses(session, subject, req.group_pks))
    items = unique_addresses(addresses)
    if not items:
        raise ValidationFailed.on("emails", "The emails field is required when groupsIds is not present.")
    price, currency = pricing.email_validation_price(settings)
    estimated = price * len(items)
    if settings.enforce_balance and estimated > 0:
        account = await session.get(Account, subject.account_id)
        if account is None or account.balance < estimated:
            raise InsufficientBalance("Not enough credits", nrs_code=111)
    now = clock.now()
    validation = EmailValidation(
        account_id=subject.account_id, status="pending", total=len(items), force=req.force,
        allow_risky=req.allow_risky, notification_url=req.notification_url, group_ids=list(req.group_pks),
        unit_price=price, estimated_cost=estimated, cost=Decimal("0"), currency=currency, created_at=now,
        updated_at=now)
    session.add(validation)
    await session.flush()
    rows = [{"validation_id": validation.id, "email": email, "email_key": key, "reason": "", "reused": False}
            for email, key in items]
    for start in range(0, len(rows), 1000):
        await session.execute(insert(table_of(EmailValidationItem)), rows[start:start + 1000])
    await enqueue(session, JOB_KIND, {"validation_id": validation.id}, account_id=subject.account_id)
    return validation


async def get(session: AsyncSession, subject: AuthSubject, public: int | str) -> EmailValidation:
    """The caller's validation with this public id; NotFound for anything else."""
    pk = ids.from_int(ids.Kind.VALIDATION, public)
    if pk is None:
        raise NotFound("Resource not found")
    stmt = scoped(select(EmailValidation), EmailValidation, subject).where(EmailValidation.id == pk)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("Resource not found")
    return row


async def page(session: AsyncSession, subject: AuthSubject, *, page_number: int,
               limit: int) -> tuple[list[EmailValidation], int]:
    """One page of the caller's validations, newest first, and how many there are."""
    base = scoped(select(EmailValidation), EmailValidation, subject)
    total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    stmt = base.order_by(EmailValidation.id.desc()).offset((page_number - 1) * limit).limit(limit)
    return list((await session.execute(stmt)).scalars()), int(total)


async def remove(session: AsyncSession, subject: AuthSubject, public: int | str) -> None:
    """Delete a validation and its results (a running job notices and stops)."""
    validation = await get(session, subject, public)
    await session.execute(delete(EmailValidationItem).where(EmailValidationItem.validation_id == validation.id))
    await session.delete(validation)
    await session.flush()


async def results(session: AsyncSession, validation: EmailValidation) -> list[tuple[str, str, str]]:
    """(address, document result, reason) of every address checked so far, in request order."""
    stmt = (select(EmailValidationItem.email, EmailValidationItem.result, EmailValidationItem.reason)
            .where(EmailValidationItem.validation_id == validation.id, EmailValidationItem.result.is_not(None))
            .order_by(EmailValidationItem.id))
    return [(email, CSV_RESULT.get(result or "", "risky"), reason)
            for email, result, reason in (await session.execute(stmt)).all()]
