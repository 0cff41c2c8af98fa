"""Template use cases: list, show, create, update, delete, preview, and the body a mailing sends."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.errors import DomainError, NotFound, ValidationFailed
from tidings.core.templating import render_custom_fields
from tidings.db.models import Template
from tidings.messaging.templates import repository
from tidings.tenancy.subject import AuthSubject

VERSIONS = (1, 2)
MAX_NAME = 255
MAX_HTML = 2_000_000
MAX_ID = 2**63 - 1


def _validate(name: str | None, html: str | None) -> tuple[str, str]:
    fields: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        fields["name"] = ["The name field is required."]
    elif len(name) > MAX_NAME:
        fields["name"] = [f"The name may not be greater than {MAX_NAME} characters."]
    if not html or not html.strip():
        fields["html"] = ["The html field is required."]
    elif len(html) > MAX_HTML:
        fields["html"] = [f"The html may not be greater than {MAX_HTML} characters."]
    if fields:
        raise ValidationFailed(next(iter(fields.values()))[0], fields=fields)
    return name, html or ""


async def list_page(
    session: AsyncSession, subject: AuthSubject, version: int, page: int, limit: int
) -> tuple[list[Template], int]:
    """One page of the account's templates of a version, oldest first, and their total."""
    total = await repository.count(session, subject.account_id, version)
    return await repository.page(session, subject.account_id, version, (page - 1) * limit, limit), total


async def get(session: AsyncSession, subject: AuthSubject, version: int, template_id: int) -> Template:
    template = await repository.get(session, subject.account_id, version, template_id)
    if template is None:
        raise NotFound("Resource not found")
    return template


async def create(session: AsyncSession, subject: AuthSubject, version: int, name: str | None,
                 html: str | None) -> Template:
    name, html = _validate(name, html)
    now = clock.now()
    template = Template(account_id=subject.account_id, version=version, name=name, html=html, type="HTML",
                        created_at=now, updated_at=now)
    session.add(template)
    await session.flush()
    return template


async def update(session: AsyncSession, subject: AuthSubject, version: int, template_id: int, name: str | None,
                 html: str | None) -> Template:
    template = await get(session, subject, version, template_id)
    template.name, template.html = _validate(name, html)
    template.updated_at = clock.now()
    await session.flush()
    return template


async def delete(session: AsyncSession, subject: AuthSubject, version: int, template_id: int) -> None:
    await session.delete(await get(session, subject, version, template_id))
    await session.flush()


async def preview(session: AsyncSession, subject: AuthSubject, version: int, template_id: int,
                  values: Mapping[str, str]) -> str:
    """The template's HTML with the given custom fields filled in; others stay as written."""
    template = await get(session, subject, version, template_id)
    return render_custom_fields(template.html, values)


async def body_for_mailing(session: AsyncSession, subject: AuthSubject, *, template_id: int | None,
                           template_v2_id: int | None) -> str:
    """The HTML a mailing sends from templateV2Id (preferred) or templateId; 140 when missing."""
    version, wanted = (2, template_v2_id) if template_v2_id is not None else (1, template_id)
    if wanted is None or not 0 < wanted <= MAX_ID:
        raise DomainError("Template missing", nrs_code=140)
    template = await repository.get(session, subject.account_id, version, wanted)
    if template is None:
        raise DomainError("Template missing", nrs_code=140)
    return template.html
