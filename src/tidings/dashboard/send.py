"""Send an SMS (with the part counter and cost estimate updated as you type) or a mailing from a form."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tidings.api import deps
from tidings.core import sms
from tidings.core.errors import DomainError
from tidings.core.phones import normalize_phone
from tidings.dashboard import web
from tidings.messaging import pricing, senders
from tidings.messaging.mailing import service as mailing
from tidings.messaging.sms import service

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)
MAX_FORM_RECIPIENTS = 1000


def _numbers(raw: str) -> list[str]:
    return [n for n in raw.replace(",", "\n").replace(";", "\n").split() if n][:MAX_FORM_RECIPIENTS]


def _estimate(request: Request, text: str, to: str, certified: bool) -> dict[str, object]:
    """What the form shows beside the text: encoding, characters, parts, and the cost for valid numbers."""
    try:
        length = sms.count_parts(text, sms.detect_encoding(text)) if text else None
    except sms.UnencodableText:
        length = None
    numbers = [n for n in (normalize_phone(r) for r in _numbers(to)) if n]
    settings = deps.get_settings(request)
    parts = length.parts if length else 1
    cost = pricing.total_cost(numbers, parts, settings=settings, certified=certified) if numbers else Decimal("0")
    return {"length": length, "valid": len(numbers), "given": len(_numbers(to)), "cost": cost,
            "currency": pricing.price_list_for(settings).currency}


def _nrs_date(local: str) -> str | None:
    """The form's datetime-local value (UTC) as the dialect's YYYYmmddHHiiss; the service judges it."""
    digits = "".join(c for c in local if c.isdigit())
    return (digits + "00")[:14] if digits else None


@router.get("/send/sms", response_class=HTMLResponse)
async def form(request: Request, session: deps.Session) -> Response:
    page = await web.page(request, session)
    return web.render(request, "send_sms.html", page, est=_estimate(request, "", "", False), values={}, result=None,
                      error=None)


@router.post("/send/sms/estimate", response_class=HTMLResponse)
async def estimate(request: Request, session: deps.Session, message: Annotated[str, Form(max_length=5000)] = "",
                   to: Annotated[str, Form(max_length=50_000)] = "",
                   certified: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    return web.render(request, "_sms_estimate.html", page, est=_estimate(request, message, to, bool(certified)))


@router.post("/send/sms", response_class=HTMLResponse)
async def send(request: Request, session: deps.Session, sender: Annotated[str, Form(max_length=64)],
               to: Annotated[str, Form(max_length=50_000)], message: Annotated[str, Form(max_length=5000)],
               campaign_name: Annotated[str, Form(max_length=255)] = "",
               tags: Annotated[str, Form(max_length=1000)] = "",
               schedule_date: Annotated[str, Form(max_length=32)] = "", certified: Annotated[str, Form()] = "",
               csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    values = {"sender": sender, "to": to, "message": message, "campaign_name": campaign_name, "tags": tags,
              "schedule_date": schedule_date, "certified": certified}
    est = _estimate(request, message, to, bool(certified))
    try:
        queued = await service.send(session, page.subject, deps.get_settings(request), service.SmsInput(
            to=_numbers(to), sender=sender, message=message, campaign_name=campaign_name or None,
            tags=[t.strip() for t in tags.split(",") if t.strip()] or None,
            schedule_date=_nrs_date(schedule_date), certified=bool(certified)))
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        return web.render(request, "send_sms.html", page, status_code=exc.status if exc.status < 500 else 400,
                          est=est, values=values, result=None, error=exc.message)
    return web.render(request, "send_sms.html", page, est=est, values={}, result=queued.results, error=None,
                      partial=queued.partial)


@router.get("/send/mailing", response_class=HTMLResponse)
async def mailing_form(request: Request, session: deps.Session) -> Response:
    page = await web.page(request, session)
    return web.render(request, "send_mailing.html", page, values={}, result=None, error=None,
                      senders=[s for s in await senders.list_senders(session, page.subject) if s.verified_at])


@router.post("/send/mailing", response_class=HTMLResponse)
async def send_mailing(request: Request, session: deps.Session, from_email: Annotated[str, Form(max_length=320)],
                       to: Annotated[str, Form(max_length=200_000)], subject: Annotated[str, Form(max_length=998)],
                       body: Annotated[str, Form(max_length=2_000_000)],
                       from_name: Annotated[str, Form(max_length=200)] = "",
                       campaign_name: Annotated[str, Form(max_length=255)] = "",
                       schedule_date: Annotated[str, Form(max_length=32)] = "",
                       csrf: Annotated[str, Form()] = "") -> Response:
    """The same path as POST /api/rest/mailing: verified senders, blacklist, tracking, notifications."""
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    values = {"from_email": from_email, "from_name": from_name, "to": to, "subject": subject, "body": body,
              "campaign_name": campaign_name, "schedule_date": schedule_date}
    verified = [s for s in await senders.list_senders(session, page.subject) if s.verified_at]
    try:
        queued = await mailing.send(session, page.subject, mailing.MailingInput(
            to=[a for a in to.replace(",", "\n").replace(";", "\n").split() if a][:MAX_FORM_RECIPIENTS],
            body=body, from_email=from_email, from_name=from_name or None, reply_to=from_email, subject=subject,
            campaign_name=campaign_name or None, schedule_date=_nrs_date(schedule_date)))
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        return web.render(request, "send_mailing.html", page, status_code=exc.status if exc.status < 500 else 400,
                          values=values, result=None, error=exc.message, senders=verified)
    return web.render(request, "send_mailing.html", page, values={}, result=queued.results, error=None,
                      partial=queued.partial, senders=verified)
