"""Accounts, their owners and API credentials; secrets are returned once, at creation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from ipaddress import ip_address, ip_network
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.emails import normalize_email
from tidings.core.errors import Conflict, Forbidden, IpNotAllowed, NotFound, Unauthenticated, ValidationFailed
from tidings.core.secrets import hash_secret, new_password, new_token
from tidings.db.models import Account, ApiCredential, User
from tidings.tenancy import repository
from tidings.tenancy.subject import AuthSubject

TOKEN = "token"
API_PASSWORD = "api_password"
# A credential's last use is written again only once it is this old: the dashboard shows it to the minute, and
# written at every call it was one more UPDATE (and a new row version) for every API request.
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class NewAccount:
    account_id: int
    email: str
    api_token: str
    username: str
    api_password: str


def _username_from(email: str) -> str:
    local = re.sub(r"[^a-z0-9._-]", "", email.split("@", 1)[0].lower()) or "user"
    return local[:100]


async def create_account(
    session: AsyncSession,
    *,
    name: str,
    email: str,
    username: str | None = None,
    timezone: str = "UTC",
    country: str = "ES",
    currency: str = "EUR",
    language: str = "en",
) -> NewAccount:
    """An account with its owner, a Bearer token and a Basic API password."""
    name = name.strip()
    if not name:
        raise ValidationFailed.on("name", "The name field is required.")
    normalized = normalize_email(email)
    if normalized is None:
        raise ValidationFailed.on("email", "The email must be a valid email address.")
    base = username or _username_from(normalized)
    candidate, n = base, 1
    while await repository.account_by_username(session, candidate) is not None:
        if username:
            raise Conflict(f"The username {username} is taken.")
        n += 1
        candidate = f"{base}{n}"
    account = Account(
        name=name, email=normalized, username=candidate, timezone=timezone, country=country,
        currency=currency, language=language, balance=Decimal("0"),
    )
    session.add(account)
    await session.flush()
    owner = User(account_id=account.id, email=normalized, name=name, is_owner=True)
    session.add(owner)
    await session.flush()
    token = await issue_credential(session, owner, TOKEN)
    password = await issue_credential(session, owner, API_PASSWORD)
    return NewAccount(account.id, normalized, token, candidate, password)


async def issue_credential(session: AsyncSession, user: User, kind: str, label: str = "") -> str:
    """Create a credential and return its secret, which is never stored or shown again."""
    secret = new_token() if kind == TOKEN else new_password()
    session.add(ApiCredential(account_id=user.account_id, user_id=user.id, kind=kind,
                              secret_hash=hash_secret(secret), label=label))
    await session.flush()
    return secret


async def subject_of_user(session: AsyncSession, user: User, credential_id: int | None = None) -> AuthSubject:
    """What a user may touch: the same subject whether it signs in to the dashboard or calls an API."""
    roles: frozenset[str] = frozenset(user.roles or [])
    if user.client_id is not None:
        member = await repository.membership(session, user.id, user.client_id)
        roles = frozenset(member.roles if member else [])
    return AuthSubject(account_id=user.account_id, user_id=user.id, client_id=user.client_id,
                       roles=roles, credential_id=credential_id)


async def _subject_for(session: AsyncSession, cred: ApiCredential, user: User) -> AuthSubject:
    now = clock.now()
    if cred.last_used_at is None or now - clock.as_utc(cred.last_used_at) >= LAST_USED_EVERY:
        cred.last_used_at = now
    return await subject_of_user(session, user, cred.id)


async def authenticate_token(session: AsyncSession, token: str) -> AuthSubject:
    """Bearer token (outreach) or AuthenticationToken (email/omni)."""
    found = await repository.credential_by_hash(session, hash_secret(token)) if token else None
    if found is None or found[0].kind != TOKEN:
        raise Unauthenticated("Unauthenticated.")
    return await _subject_for(session, found[0], found[1])


async def authenticate_headers(session: AsyncSession, username: str, token: str) -> AuthSubject:
    """UserName (account username or user email) plus AuthenticationToken."""
    subject = await authenticate_token(session, token)
    account = await repository.account_by_id(session, subject.account_id)
    user = await session.get(User, subject.user_id)
    names = {account.username.lower() if account else "", (user.email if user else "").lower()}
    if username.strip().lower() not in names:
        raise Unauthenticated("Username or token unknown.")
    return subject


async def authenticate_basic(session: AsyncSession, username: str, password: str, client_ip: str | None) -> AuthSubject:
    """HTTP Basic username:apiPassword, then the account's IP allow-list."""
    account = await repository.account_by_username(session, username)
    found = await repository.credential_by_hash(session, hash_secret(password)) if password else None
    if account is None or found is None or found[0].kind != API_PASSWORD or found[2].id != account.id:
        raise Unauthenticated("Username or password unknown")
    if not ip_allowed(account.allowed_ips, client_ip):
        raise IpNotAllowed("IP address not allowed")
    return await _subject_for(session, found[0], found[1])


def ip_allowed(allowed: list[str] | None, client_ip: str | None) -> bool:
    """An empty list allows every address; entries may be addresses or CIDR networks."""
    if not allowed:
        return True
    if client_ip is None:
        return False
    try:
        addr = ip_address(client_ip)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if addr in ip_network(str(entry), strict=False):
                return True
        except ValueError:
            continue
    return False


async def set_allowed_ips(session: AsyncSession, account_id: int, ips: list[str]) -> None:
    for entry in ips:
        try:
            ip_network(entry, strict=False)
        except ValueError as exc:
            raise ValidationFailed.on("ips", f"{entry} is not an IP address or network.") from exc
    account = await repository.account_by_id(session, account_id)
    if account is None:
        raise ValidationFailed.on("account", "No such account.")
    account.allowed_ips = list(ips)


async def update_profile(session: AsyncSession, subject: AuthSubject, *, name: str, timezone: str) -> Account:
    """The account's name and time zone (the default zone of new campaigns and of the dashboard's dates)."""
    if not subject.is_agency:
        raise Forbidden("Only the agency's users change the account's profile.")
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed.on("name", "The name is required and may not be greater than 200 characters.")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed.on("timezone", "The timezone must be a valid zone such as Europe/Madrid.") from None
    account = await session.get(Account, subject.account_id)
    if account is None:
        raise NotFound("No such account.")
    account.name, account.timezone = name, timezone
    return account
