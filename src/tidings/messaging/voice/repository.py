"""Every query of the voice capability: registered callers and kept audio."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.models import VoiceAudio, VoiceCaller
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject


async def registered(session: AsyncSession, subject: AuthSubject,
                     pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (country, number) pairs are callers of the subject's account."""
    wanted = list(dict.fromkeys(pairs))
    if not wanted:
        return set()
    stmt = scoped(select(VoiceCaller), VoiceCaller, subject).where(
        tuple_(VoiceCaller.country, VoiceCaller.number).in_(wanted))
    return {(row.country, row.number) for row in (await session.execute(stmt)).scalars()}


async def callers(session: AsyncSession, account_id: int) -> list[VoiceCaller]:
    stmt = select(VoiceCaller).where(VoiceCaller.account_id == account_id).order_by(VoiceCaller.country,
                                                                                    VoiceCaller.number)
    return list((await session.execute(stmt)).scalars())


async def caller(session: AsyncSession, account_id: int, country: str, number: str) -> VoiceCaller | None:
    stmt = select(VoiceCaller).where(VoiceCaller.account_id == account_id, VoiceCaller.country == country,
                                     VoiceCaller.number == number)
    return (await session.execute(stmt)).scalar_one_or_none()


async def audio_by_token(session: AsyncSession, token: str) -> VoiceAudio | None:
    """A kept audio file by its public token (the public route has no account: the token is the secret)."""
    return (await session.execute(select(VoiceAudio).where(VoiceAudio.token == token))).scalar_one_or_none()
