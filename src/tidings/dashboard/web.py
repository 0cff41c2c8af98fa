"""The dashboard's plumbing: signed session cookies, CSRF, the signed-in user, templates and error pages."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.api.deps import get_settings
from tidings.core.errors import DomainError, Forbidden
from tidings.db.models import Account, User
from tidings.tenancy.service import subject_of_user
from tidings.tenancy.subject import AuthSubject

COOKIE = "tidings_session"
SESSION_DAYS = 14
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


class SignInRequired(Exception):
    """Raised by pages that need a user; the route class turns it into a redirect to /login."""


@dataclass
class Page:
    """The signed-in user as every page sees it."""

    user: User
    account: Account
    subject: AuthSubject
    csrf: str

    @property
    def is_agency(self) -> bool:
        return self.subject.is_agency


def _serializer(request: Request) -> URLSafeTimedSerializer:
    key = hashlib.sha256(("tidings-dashboard:" + get_settings(request).resolved_secret_key()).encode()).hexdigest()
    return URLSafeTimedSerializer(key, salt="session")


def _password_mark(user: User) -> str:
    # A changed password signs every other session out.
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def read_session(request: Request) -> dict[str, Any]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(request).loads(raw, max_age=SESSION_DAYS * 86400)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def write_session(request: Request, response: Response, data: dict[str, Any]) -> None:
    secure = get_settings(request).public_url.startswith("https://")
    response.set_cookie(COOKIE, _serializer(request).dumps(data), max_age=SESSION_DAYS * 86400, httponly=True,
                        samesite="lax", secure=secure, path="/")


def sign_in_response(request: Request, user: User, target: str = "/") -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    write_session(request, response, {"uid": user.id, "pw": _password_mark(user), "csrf": secrets.token_urlsafe(24)})
    return response


def render_anonymous(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """A page seen before sign-in; its forms carry a CSRF token kept in the (signed) session cookie."""
    data = read_session(request)
    token = str(data.get("csrf") or secrets.token_urlsafe(24))
    response = render(request, template, None, status_code=status_code, csrf=token, **values)
    if data.get("csrf") != token:
        write_session(request, response, {**data, "csrf": token})
    return response


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = read_session(request).get("csrf")
    if not expected or not submitted or not hmac.compare_digest(str(expected), submitted):
        raise Forbidden("The form expired. Reload the page and try again.")


async def page(request: Request, session: AsyncSession) -> Page:
    """The signed-in user, or SignInRequired."""
    data = read_session(request)
    uid = data.get("uid")
    if not isinstance(uid, int):
        raise SignInRequired
    user = await session.get(User, uid)
    if user is None or not user.active or data.get("pw") != _password_mark(user):
        raise SignInRequired
    account = await session.get(Account, user.account_id)
    if account is None:
        raise SignInRequired
    return Page(user, account, await subject_of_user(session, user), str(data.get("csrf", "")))


def render(request: Request, template: str, ctx: Page | None, status_code: int = 200, **values: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {"page": ctx, "path": request.url.path, **values},
                                      status_code=status_code)


class DashboardRoute(APIRoute):
    """Pages answer HTML: sign-in redirects and domain errors become pages, never JSON envelopes."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                target = request.url.path
                return RedirectResponse("/login" + (f"?next={target}" if target not in ("/", "/login") else ""),
                                        status_code=303)
            except DomainError as exc:
                status = exc.status if 400 <= exc.status < 500 else 400
                return templates.TemplateResponse(request, "error.html", {"page": None, "path": request.url.path,
                                                  "status": status, "message": exc.message}, status_code=status)
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            return response

        return run
