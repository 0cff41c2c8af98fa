"""Caller ids an operator registers for an account, per country; a request's `callers` must name one of them."""

from __future__ import annotations

import re

import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.errors import NotFound, ValidationFailed
from tidings.db.models import Account, VoiceCaller
from tidings.messaging.voice import repository


def normalize(country: str, number: str) -> tuple[str, str]:
    """(ISO alpha-2, digits) or ValidationFailed: the country must be a real region, the number 3 to 15 digits."""
    iso = country.strip().upper()
    if iso not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationFailed.on("country", f"{country!r} is not an ISO 3166 alpha-2 country code.")
    digits = re.sub(r"[\s().\-]", "", number).removeprefix("+")
    if not (digits.isascii() and digits.isdigit() and 3 <= len(digits) <= 15):
        raise ValidationFailed.on("number", "The caller must be a phone number of 3 to 15 digits.")
    return iso, digits


async def add(session: AsyncSession, account_id: int, country: str, number: str) -> VoiceCaller:
    """Register a caller (registering it again changes nothing)."""
    iso, digits = normalize(country, number)
    if await session.get(Account, account_id) is None:
        raise NotFound(f"no account {account_id}")
    row = await repository.caller(session, account_id, iso, digits)
    if row is None:
        row = VoiceCaller(account_id=account_id, country=iso, number=digits)
        session.add(row)
        await session.flush()
    return row


async def remove(session: AsyncSession, account_id: int, country: str, number: str) -> None:
    iso, digits = normalize(country, number)
    row = await repository.caller(session, account_id, iso, digits)
    if row is None:
        raise NotFound(f"{digits} is not a caller of account {account_id} for {iso}")
    await session.delete(row)
    await session.flush()


async def listed(session: AsyncSession, account_id: int) -> list[VoiceCaller]:
    return await repository.callers(session, account_id)
