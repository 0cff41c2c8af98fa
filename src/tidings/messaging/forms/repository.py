"""Every query of the forms capability (scoped to the caller's account)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.emails import email_key
from tidings.db.models import Contact, Form, FormResponse
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject


async def get(session: AsyncSession, subject: AuthSubject, pk: int) -> Form | None:
    return (await session.execute(scoped(select(Form), Form, subject).where(Form.id == pk))).scalar_one_or_none()


async def by_name(session: AsyncSession, subject: AuthSubject, name: str) -> Form | None:
    stmt = scoped(select(Form), Form, subject).where(Form.name == name)
    return (await session.execute(stmt)).scalar_one_or_none()


async def page(session: AsyncSession, subject: AuthSubject, offset: int, limit: int) -> tuple[list[Form], int]:
    stmt = scoped(select(Form), Form, subject)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(Form.id).offset(offset).limit(limit))).scalars()
    return list(rows), int(total)


async def submitted(session: AsyncSession, subject: AuthSubject, form_id: int, recipient_key: str) -> bool:
    stmt = scoped(select(FormResponse.id), FormResponse, subject).where(
        FormResponse.form_id == form_id, FormResponse.recipient_key == recipient_key,
        FormResponse.action == "submitted")
    return (await session.execute(stmt.limit(1))).first() is not None


async def contact_for(session: AsyncSession, subject: AuthSubject, *, contact_id: int | None, email: str | None,
                      phone: str | None) -> Contact | None:
    """The message's contact, else the account's contact with this address or number (the oldest)."""
    stmt = scoped(select(Contact), Contact, subject)
    if contact_id is not None:
        stmt = stmt.where(Contact.id == contact_id)
    elif email:
        stmt = stmt.where(Contact.email_key == email_key(email))
    elif phone:
        stmt = stmt.where(Contact.phone == phone)
    else:
        return None
    return (await session.execute(stmt.order_by(Contact.id).limit(1))).scalar_one_or_none()
