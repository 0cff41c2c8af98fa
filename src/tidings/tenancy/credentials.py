"""A user's API credentials as the dashboard's Third Party Integrations page manages them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.errors import NotFound, ValidationFailed
from tidings.db.models import ApiCredential, User
from tidings.tenancy.service import API_PASSWORD, TOKEN, issue_credential
from tidings.tenancy.subject import AuthSubject

KINDS = (TOKEN, API_PASSWORD)


async def list_credentials(session: AsyncSession, subject: AuthSubject) -> list[ApiCredential]:
    """The caller's own credentials, newest first (revoked ones included, marked)."""
    stmt = (select(ApiCredential).where(ApiCredential.account_id == subject.account_id,
                                        ApiCredential.user_id == subject.user_id)
            .order_by(ApiCredential.created_at.desc(), ApiCredential.id.desc()))
    return list((await session.execute(stmt)).scalars())


async def generate(session: AsyncSession, subject: AuthSubject, kind: str, label: str) -> str:
    """A new credential for the caller; its secret is returned once and only its hash is kept."""
    if kind not in KINDS:
        raise ValidationFailed.on("kind", "Unknown credential kind.")
    label = label.strip()
    if not label or len(label) > 120:
        raise ValidationFailed.on("label", "Give the credential a name of at most 120 characters.")
    user = await session.get(User, subject.user_id)
    if user is None or user.account_id != subject.account_id:
        raise NotFound("User not found.")
    return await issue_credential(session, user, kind, label)


async def revoke(session: AsyncSession, subject: AuthSubject, credential_id: int) -> ApiCredential:
    cred = await session.get(ApiCredential, credential_id)
    if cred is None or cred.account_id != subject.account_id or cred.user_id != subject.user_id:
        raise NotFound("Credential not found.")
    if cred.revoked_at is None:
        cred.revoked_at = clock.now()
    return cred
