"""Dashboard passwords: argon2id hashes, sign-in by email and password, one-time set-password links."""

from __future__ import annotations

import hashlib
import hmac
import time
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.errors import ValidationFailed
from tidings.db.models import User

MIN_LENGTH = 10
_hasher = PasswordHasher()


@cache
def _dummy() -> str:
    """Verifying against this keeps the time of an unknown email close to that of a wrong password.

    Made at first use: hashing takes ~0.15 s, which every process (each CLI command) paid at import.
    """
    return _hasher.hash("tidings-dummy-password")


def check_strength(password: str, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationFailed.on(field, f"The password must be at least {MIN_LENGTH} characters.")
    if len(password) > 1024:
        raise ValidationFailed.on(field, "The password may not be greater than 1024 characters.")


def set_password(user: User, password: str) -> None:
    check_strength(password)
    user.password_hash = _hasher.hash(password)


def _verify(digest: str, password: str) -> bool:
    try:
        return _hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False


async def sign_in(session: AsyncSession, email: str, password: str) -> User | None:
    """The active user with this email whose password matches, or None (same cost either way)."""
    stmt = (select(User).where(func.lower(User.email) == email.strip().lower(), User.active.is_(True),
                               User.password_hash.is_not(None)).order_by(User.id).limit(5))
    users = list((await session.execute(stmt)).scalars())
    if not users:
        _verify(_dummy(), password)
        return None
    for user in users:
        if user.password_hash and _verify(user.password_hash, password):
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            return user
    return None


def reset_token(secret_key: str, user: User, *, ttl_seconds: int = 7 * 86400, now: float | None = None) -> str:
    """A link token that sets this user's password once: it names the current hash, so using it voids it."""
    expires = int((now or time.time()) + ttl_seconds)
    body = f"{user.id}.{expires}"
    return f"{body}.{_sign(secret_key, body, user.password_hash or '')}"


async def redeem_reset(session: AsyncSession, secret_key: str, token: str, *, now: float | None = None) -> User | None:
    """The user a valid, unexpired, unused reset token names, or None."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    if int(parts[1]) < (now or time.time()):
        return None
    user = await session.get(User, int(parts[0]))
    if user is None or not user.active:
        return None
    expected = _sign(secret_key, f"{parts[0]}.{parts[1]}", user.password_hash or "")
    return user if hmac.compare_digest(expected, parts[2]) else None


def _sign(secret_key: str, body: str, current_hash: str) -> str:
    key = hashlib.sha256(("tidings-password-reset:" + secret_key).encode()).digest()
    return hmac.new(key, f"{body}.{current_hash}".encode(), "sha256").hexdigest()[:40]
