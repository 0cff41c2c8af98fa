"""Request dependencies: the session, the caller of each credential style, and rate limits.

Handlers commit explicitly (`await session.commit()`) before answering, so a failed commit is
never hidden behind a success response; the dependency rolls back whatever was not committed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.api.protection import STYLE_ATTRIBUTE, SUBJECT_KEY
from tidings.api.signin import SigninThrottle
from tidings.config import Settings
from tidings.core.errors import IpNotAllowed, RateLimited, Unauthenticated, ValidationFailed
from tidings.db.engine import Database
from tidings.engine.health import Health
from tidings.outreach.text import MESSAGE, find_unstorable, is_storable
from tidings.tenancy import service as tenancy
from tidings.tenancy.subject import AuthSubject


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_db(request).sessions() as session:
        try:
            yield session
        finally:
            if session.in_transaction():
                await session.rollback()


Session = Annotated[AsyncSession, Depends(get_session)]


async def _authenticate(request: Request, session: AsyncSession, style: str) -> AuthSubject:
    """Authenticate one credential style, refusing (429) a client address or username that failed too often."""
    throttle: SigninThrottle = request.app.state.rate_limiter.signin
    address = request.client.host if request.client else None
    username = _claimed_username(request, style)
    await throttle.check(address, username)
    try:
        return await _verify(request, session, style)
    except (Unauthenticated, IpNotAllowed):
        await throttle.failed(address, username)
        raise


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    username, sep, password = decoded.partition(":")
    if scheme.lower() != "basic" or not sep:
        return None
    return username, password


def _claimed_username(request: Request, style: str) -> str | None:
    if style == "basic":
        found = _basic_credentials(request)
        return found[0] if found else None
    if style == "headers":
        return request.headers.get("username") or None
    return None  # a Bearer token names nobody: its failures count per address only


async def authenticate_request(request: Request, style: str) -> AuthSubject:
    """Authenticate in a session of its own (BodyGuard calls this before the body is read)."""
    async with get_db(request).sessions() as session:
        return await _authenticate(request, session, style)


async def _verify(request: Request, session: AsyncSession, style: str) -> AuthSubject:
    if style == "bearer":
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Unauthenticated.")
        subject = await tenancy.authenticate_token(session, token.strip())
    elif style == "basic":
        credentials = _basic_credentials(request)
        if credentials is None:
            raise Unauthenticated("Username or password unknown")
        username, password = credentials
        client_ip = request.client.host if request.client else None
        subject = await tenancy.authenticate_basic(session, username, password, client_ip)
    else:
        username = request.headers.get("username", "")
        token = request.headers.get("authenticationtoken", "")
        if not username or not token:
            raise Unauthenticated("UserName and AuthenticationToken headers are required.")
        subject = await tenancy.authenticate_headers(session, username, token)
    # last_used_at was touched; keep that even if the handler later fails.
    await session.commit()
    return subject


class RateLimiter:
    """Per-user, per-endpoint-group limits (seed 001), backed by the `limits` library."""

    def __init__(self, settings: Settings, health: Health | None = None) -> None:
        self.settings = settings
        self.health = health or Health()
        uri = settings.rate_limit_storage
        # The `limits` library selects its asyncio storages by the async+ prefix.
        uri = uri if uri.startswith("async+") else "async+" + uri
        self.limiter = MovingWindowRateLimiter(storage_from_string(uri))
        self.signin = SigninThrottle(settings, self.limiter, self.health)

    async def check(self, group: str, user_id: int) -> None:
        item = parse(self.settings.limit_for(group))
        key = (group, str(user_id))
        try:
            allowed = await self.limiter.hit(item, *key)
        except Exception as exc:  # noqa: BLE001 - the shared storage (Redis) is down
            # Fail open: an outage of the limiter's storage must not take the whole API down with it.
            self.health.down("rate limit storage", exc)
            return
        self.health.up("rate limit storage")
        if not allowed:
            stats = await self.limiter.get_window_stats(item, *key)
            retry = max(1, int(stats.reset_time - time.time()) + 1)
            raise RateLimited("Too Many Attempts.", retry_after=retry)


# The JSON escapes that can spell a NUL or a surrogate; bodies without one are not parsed again.
_SUSPECT = re.compile(rb"\\u(?:0000|d[89a-f][0-9a-f]{2})", re.IGNORECASE)


def _refuse(field: str) -> None:
    raise ValidationFailed.on(field, MESSAGE.format(field=field))


async def require_storable_input(request: Request) -> None:
    """Refuse NUL characters and lone surrogates (no column can store them) in the path, query and JSON body."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and not is_storable(value):
            _refuse(name)
    for name, value in request.query_params.multi_items():
        if not is_storable(name) or not is_storable(value):
            _refuse(name if is_storable(name) else "query")
    if "json" not in request.headers.get("content-type", "json").lower():
        return
    raw = await request.body()  # FastAPI has already read and cached it.
    if not _SUSPECT.search(raw):
        return
    try:
        body = json.loads(raw)
    except ValueError:
        return  # FastAPI reports malformed JSON itself.
    found = find_unstorable(body)
    if found is not None:
        _refuse(found)


def caller(style: str, group: str, *, check_input: bool = False) -> Callable[..., Awaitable[AuthSubject]]:
    """A dependency that authenticates one credential style and applies one rate-limit group.

    With `check_input`, text that no database column can store is refused as a validation error.
    """

    async def dependency(request: Request, session: Session) -> AuthSubject:
        # BodyGuard authenticated body-carrying requests already, before their body was read.
        done = request.scope.get(SUBJECT_KEY)
        if done is not None and done[0] == style:
            subject: AuthSubject = done[1]
        else:
            subject = await _authenticate(request, session, style)
            request.scope[SUBJECT_KEY] = (style, subject)  # a body read later in the handler needs no second check
        limiter: RateLimiter = request.app.state.rate_limiter
        await limiter.check(group, subject.user_id)
        if check_input:
            await require_storable_input(request)
        return subject

    setattr(dependency, STYLE_ATTRIBUTE, style)
    return dependency


def outreach(group: str = "default") -> Callable[..., Awaitable[AuthSubject]]:
    return caller("bearer", group)


def rest(group: str = "rest") -> Callable[..., Awaitable[AuthSubject]]:
    return caller("basic", group, check_input=True)


def wavy(group: str = "email") -> Callable[..., Awaitable[AuthSubject]]:
    return caller("headers", group, check_input=True)
