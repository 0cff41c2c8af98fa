"""Sign in, sign out and setting a password from a one-time link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.api.signin import SigninThrottle
from tidings.core.errors import DomainError, RateLimited, ValidationFailed
from tidings.dashboard import web
from tidings.tenancy import client_users, passwords

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)


def _throttle(request: Request) -> SigninThrottle:
    # The API's throttle: the same budgets and storage (memory, or Redis shared by every process).
    throttle: SigninThrottle = request.app.state.rate_limiter.signin
    return throttle


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the query's name
    return web.render_anonymous(request, "login.html", next=_safe_next(next), error=None, email="")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: deps.Session, email: Annotated[str, Form(max_length=320)],
                password: Annotated[str, Form(max_length=1024)], csrf: Annotated[str, Form()] = "",
                next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
    web.check_csrf(request, csrf)
    throttle = _throttle(request)
    address = request.client.host if request.client else None
    try:
        await throttle.check(address, email)
    except RateLimited as exc:
        response = web.render_anonymous(request, "login.html", status_code=429, next=_safe_next(next), email=email,
                                        error="Too many failed sign-ins. Wait a few minutes and try again.")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    user = await passwords.sign_in(session, email, password)
    if user is None:
        await throttle.failed(address, email)
        return web.render_anonymous(request, "login.html", status_code=401, next=_safe_next(next), email=email,
                                    error="That email and password do not match an account.")
    await session.commit()
    return web.sign_in_response(request, user, _safe_next(next))


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    web.check_csrf(request, csrf)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(web.COOKIE, path="/")
    return response


@router.get("/set-password/{token}", response_class=HTMLResponse)
async def set_password_form(request: Request, token: str, session: deps.Session) -> Response:
    user = await passwords.redeem_reset(session, deps.get_settings(request).resolved_secret_key(), token)
    return web.render_anonymous(request, "set_password.html", valid=user is not None,
                                email=user.email if user else "", error=None, status_code=200 if user else 404)


@router.post("/set-password/{token}", response_class=HTMLResponse)
async def set_password(request: Request, token: str, session: deps.Session,
                       password: Annotated[str, Form(max_length=1024)], confirm: Annotated[str, Form(max_length=1024)],
                       csrf: Annotated[str, Form()] = "") -> Response:
    web.check_csrf(request, csrf)
    user = await passwords.redeem_reset(session, deps.get_settings(request).resolved_secret_key(), token)
    if user is None:
        return web.render_anonymous(request, "set_password.html", valid=False, email="", error=None, status_code=404)
    try:
        if password != confirm:
            raise ValidationFailed.on("confirm", "The two passwords differ.")
        passwords.set_password(user, password)
    except ValidationFailed as exc:
        return web.render_anonymous(request, "set_password.html", valid=True, email=user.email, error=exc.message,
                          status_code=422)
    await session.commit()
    return web.sign_in_response(request, user, "/")


@router.get("/invitations/{token}", response_class=HTMLResponse)
async def invitation_form(request: Request, token: str) -> Response:
    return web.render_anonymous(request, "invitation.html", error=None, name="")


@router.post("/invitations/{token}", response_class=HTMLResponse)
async def accept_invitation(request: Request, token: str, session: deps.Session,
                            name: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=1024)],
                            confirm: Annotated[str, Form(max_length=1024)],
                            csrf: Annotated[str, Form()] = "") -> Response:
    """A client's invitee joins: the user and its membership (as the API's accept does) and a password."""
    web.check_csrf(request, csrf)
    try:
        if password != confirm:
            raise ValidationFailed.on("confirm", "The two passwords differ.")
        passwords.check_strength(password)
        accepted = await client_users.accept(session, secret=token, name=name)
        passwords.set_password(accepted.user, password)
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        return web.render_anonymous(request, "invitation.html", status_code=exc.status, error=exc.message, name=name)
    return web.sign_in_response(request, accepted.user, "/")
