"""Campaigns: list, create, the campaign page (stats, steps, schedule, mailboxes, contacts) and its actions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.api.outreach_v1 import contacts as outreach_contacts
from tidings.core import clock
from tidings.core.errors import DomainError, NotFound
from tidings.core.ids import Kind, decode, encode
from tidings.dashboard import charts, imports, series, web
from tidings.outreach import access, stats
from tidings.outreach.campaigns import service as campaigns
from tidings.outreach.contacts import service as contacts
from tidings.outreach.mailboxes import service as mailboxes
from tidings.tenancy import clients

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)
PER_PAGE = 50
STATUSES = ("OK", "REPLIED", "UNSUBSCRIBED", "BOUNCED", "AUTOREPLIED", "MISSING-DATA", "STOPPED")
INTERESTS = ("POSITIVE", "NEUTRAL", "NEGATIVE", "UNMARKED")


def _pk(public: str) -> int:
    pk = decode(Kind.CAMPAIGN, public)
    if pk is None:
        raise NotFound("Campaign not found.")
    return pk


@router.get("/campaigns", response_class=HTMLResponse)
async def list_page(request: Request, session: deps.Session) -> Response:
    page = await web.page(request, session)
    listed = await campaigns.list_campaigns(session, page.subject)
    rows = [(encode(Kind.CAMPAIGN, c.id), c, cl, await stats.totals_of(session, c)) for c, cl in reversed(listed)]
    owned = await clients.list_clients(session, page.subject) if page.subject.can("create_campaigns") else []
    return web.render(request, "campaigns.html", page, rows=rows, clients=owned, error=None,
                      default_zone=page.account.timezone)


@router.post("/campaigns", response_class=HTMLResponse)
async def create(request: Request, session: deps.Session, name: Annotated[str, Form(max_length=255)],
                 client_id: Annotated[int, Form()], timezone: Annotated[str, Form(max_length=64)],
                 csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        campaign = await campaigns.create_campaign(session, page.subject, name=name, client_id=client_id,
                                                   timezone=timezone)
        await session.commit()
    except DomainError as exc:
        listed = await campaigns.list_campaigns(session, page.subject)
        rows = [(encode(Kind.CAMPAIGN, c.id), c, cl, await stats.totals_of(session, c)) for c, cl in reversed(listed)]
        return web.render(request, "campaigns.html", page, status_code=exc.status, rows=rows, error=exc.message,
                          clients=await clients.list_clients(session, page.subject), default_zone=timezone)
    return RedirectResponse(f"/campaigns/{encode(Kind.CAMPAIGN, campaign.id)}", status_code=303)


def _range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError:
        last, first = today, today - timedelta(days=29)
    if first > last:
        first, last = last, first
    return max(first, last - timedelta(days=365)), last


@router.get("/campaigns/{public_id}", response_class=HTMLResponse)
async def show(request: Request, public_id: str, session: deps.Session, start: str | None = None,
               end: str | None = None, status: str | None = None, interest: str | None = None,
               p: int = 1, error: str | None = None, notice: str | None = None) -> Response:
    page = await web.page(request, session)
    pk = _pk(public_id)
    first, last = _range(start, end, clock.now().date())
    daily = await stats.daily(session, page.subject, pk, first)
    days, lines = series.dense([r for r in daily if r[0] <= last], first, last, series.OUTREACH_SERIES)
    campaign, people = await contacts.list_contacts(
        session, page.subject, pk, status=status if status in STATUSES else None,
        interest=interest if interest in INTERESTS else None, limit=PER_PAGE + 1, offset=(max(p, 1) - 1) * PER_PAGE)
    totals = await stats.totals_of(session, campaign)
    variants = await stats.per_variant(session, campaign)
    boxes = await mailboxes.list_mailboxes(session, page.subject)
    chosen = {m.id for m in await campaigns.mailboxes_of(session, campaign.id)}
    return web.render(
        request, "campaign.html", page, campaign=campaign, public_id=public_id, totals=totals,
        chart=charts.line_chart(days, lines, f"Daily activity of {campaign.name}"), days=days, lines=lines,
        start=first.isoformat(), end=last.isoformat(), steps=await campaigns.steps_of(session, campaign.id),
        contacts=people[:PER_PAGE], more=len(people) > PER_PAGE, p=max(p, 1), status=status, interest=interest,
        statuses=STATUSES, interests=INTERESTS,
        mailboxes=[m for m in boxes if m.client_id in (None, campaign.client_id)],
        chosen=chosen, total_contacts=await contacts.count_in_campaign(session, campaign.id), error=error,
        notice=notice, schedule=campaign.schedule or {}, variants=variants)


def _back(public_id: str, **query: str) -> RedirectResponse:
    from urllib.parse import urlencode

    return RedirectResponse(f"/campaigns/{public_id}" + (f"?{urlencode(query)}" if query else ""), status_code=303)


@router.post("/campaigns/{public_id}/preview", response_class=HTMLResponse)
async def preview(request: Request, public_id: str, session: deps.Session,
                  subject_line: Annotated[str, Form(max_length=998)] = "",
                  body: Annotated[str, Form(max_length=100_000)] = "",
                  variant_subject: Annotated[str, Form(max_length=998)] = "",
                  variant_body: Annotated[str, Form(max_length=100_000)] = "") -> Response:
    """The step as its first contact will read it, rendered as the user types (variant B beside A)."""
    page = await web.page(request, session)
    shown = []
    for label, subj, text in (("A", subject_line, body), ("B", variant_subject or subject_line, variant_body)):
        if text.strip():
            try:
                shown.append((label, *await campaigns.preview_step(session, page.subject, _pk(public_id),
                                                                    subject_line=subj, body=text)))
            except DomainError as exc:
                shown.append((label, subj, "", None, exc.message))
    return web.render(request, "_step_preview.html", page, shown=shown)


def _variant_b(subject_line: str, body: str) -> list[dict[str, str]]:
    """The step's variants from the form's variant B fields: none when its body is empty."""
    return [{"subject": subject_line, "body": body}] if body.strip() else []


@router.post("/campaigns/{public_id}/steps")
async def add_step(request: Request, public_id: str, session: deps.Session,
                   subject_line: Annotated[str, Form(max_length=998)], body: Annotated[str, Form(max_length=100_000)],
                   delay_days: Annotated[float, Form(ge=0, le=365)] = 0,
                   variant_subject: Annotated[str, Form(max_length=998)] = "",
                   variant_body: Annotated[str, Form(max_length=100_000)] = "",
                   csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    variants = _variant_b(variant_subject, variant_body)
    try:
        await campaigns.add_step(session, page.subject, _pk(public_id), subject_line=subject_line, body=body,
                                 delay_days=delay_days, variants=variants)
        await session.commit()
    except DomainError as exc:
        return _back(public_id, error=exc.message)
    return _back(public_id, notice="Step added.")


@router.post("/campaigns/{public_id}/steps/{number}")
async def edit_step(request: Request, public_id: str, number: int, session: deps.Session,
                    subject_line: Annotated[str, Form(max_length=998)], body: Annotated[str, Form(max_length=100_000)],
                    delay_days: Annotated[float, Form(ge=0, le=365)] = 0,
                    variant_subject: Annotated[str, Form(max_length=998)] = "",
                    variant_body: Annotated[str, Form(max_length=100_000)] = "",
                    csrf: Annotated[str, Form()] = "") -> Response:
    """Change a step's texts, delay and variant B (an empty variant B body removes the variant)."""
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    variants = _variant_b(variant_subject, variant_body)
    try:
        await campaigns.update_step(session, page.subject, _pk(public_id), number, subject_line=subject_line,
                                    body=body, delay_days=delay_days, variants=variants)
        await session.commit()
    except DomainError as exc:
        return _back(public_id, error=exc.message)
    return _back(public_id, notice=f"Step {number} saved.")


@router.post("/campaigns/{public_id}/steps/{number}/delete")
async def remove_step(request: Request, public_id: str, number: int, session: deps.Session,
                      csrf: Annotated[str, Form()] = "") -> Response:
    """Delete a step; the later ones move up, and so do contacts waiting for them."""
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        await campaigns.delete_step(session, page.subject, _pk(public_id), number)
        await session.commit()
    except DomainError as exc:
        return _back(public_id, error=exc.message)
    return _back(public_id, notice=f"Step {number} deleted.")


@router.post("/campaigns/{public_id}/schedule")
async def set_schedule(request: Request, public_id: str, session: deps.Session,
                       day: Annotated[list[int] | None, Form()] = None,
                       start: Annotated[str, Form(max_length=5)] = "09:00",
                       end: Annotated[str, Form(max_length=5)] = "17:00",
                       csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        await campaigns.set_schedule(session, page.subject, _pk(public_id), days=day or [], start=start, end=end)
        await session.commit()
    except DomainError as exc:
        return _back(public_id, error=exc.message)
    return _back(public_id, notice="Schedule saved.")


@router.post("/campaigns/{public_id}/mailboxes")
async def set_mailboxes(request: Request, public_id: str, session: deps.Session,
                        mailbox: Annotated[list[int] | None, Form()] = None,
                        csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        await campaigns.set_mailboxes(session, page.subject, _pk(public_id), mailbox or [])
        await session.commit()
    except DomainError as exc:
        return _back(public_id, error=exc.message)
    return _back(public_id, notice="Mailboxes saved.")


@router.post("/campaigns/{public_id}/import", response_class=HTMLResponse)
async def upload(request: Request, public_id: str, session: deps.Session, file: Annotated[UploadFile, File()],
                 csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    page.subject.require("create_campaigns")
    pk = _pk(public_id)
    data_dir = deps.get_settings(request).data_dir
    try:
        token = imports.store(data_dir, page.account.id, await file.read(imports.MAX_BYTES + 1))
    except DomainError as exc:
        return _back(public_id, error=exc.message)
    header, sample, total = imports.header_and_sample(data_dir, page.account.id, token)
    campaign = await access.campaign(session, page.subject, pk)
    return web.render(request, "import_map.html", page, campaign=campaign, public_id=public_id, token=token,
                      header=header, sample=sample, total=total, guesses=[imports.guess(h) for h in header],
                      targets=imports.TARGETS)


@router.post("/campaigns/{public_id}/import/{token}", response_class=HTMLResponse)
async def import_chunk(request: Request, public_id: str, token: str, session: deps.Session) -> Response:
    """Imports the next chunk and answers the progress bar (htmx asks again until done)."""
    page = await web.page(request, session)
    form = await request.form()
    web.check_csrf(request, str(form.get("csrf", "")))
    pk = _pk(public_id)
    data_dir = deps.get_settings(request).data_dir
    mapping = {int(k[4:]): str(v) for k, v in form.items() if k.startswith("col_") and k[4:].isdigit() and v}
    if "email" not in mapping.values():
        return web.render(request, "import_progress.html", page, status_code=422, public_id=public_id,
                          error="Map one column to email: contacts are matched by their address.")
    done = int(str(form.get("done", "0")) or 0)
    total = int(str(form.get("total", "0")) or 0)
    created = int(str(form.get("created", "0")) or 0)
    updated = int(str(form.get("updated", "0")) or 0)
    invalid = int(str(form.get("invalid", "0")) or 0)
    chunk = list(imports.rows(data_dir, page.account.id, token, mapping, done))
    errors: list[dict[str, object]] = []
    if chunk:
        report = await contacts.import_contacts(session, page.subject, pk, chunk)
        await session.commit()
        created, updated, invalid = created + report.created, updated + report.updated, invalid + len(report.invalid)
        errors = report.invalid[:20]
    done += len(chunk)
    finished = not chunk or done >= total
    if finished:
        imports.discard(data_dir, page.account.id, token)
    return web.render(request, "import_progress.html", page, public_id=public_id, token=token, mapping=mapping,
                      done=done, total=total, created=created, updated=updated, invalid=invalid, errors=errors,
                      finished=finished, error=None)


@router.get("/campaigns/{public_id}/export")
async def export(request: Request, public_id: str, session: deps.Session) -> Response:
    """The campaign's contacts as CSV, the same file as the outreach API's export."""
    page = await web.page(request, session)
    return await outreach_contacts.contacts_csv(session, page.subject, public_id)


# Last: /campaigns/{id}/{action} would otherwise take /import for an action.
@router.post("/campaigns/{public_id}/{action}")
async def change_status(request: Request, public_id: str, action: str, session: deps.Session,
                        csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    verbs = {"start": campaigns.start, "pause": campaigns.pause, "stop": campaigns.stop}
    if action not in verbs:
        raise NotFound("No such action.")
    try:
        await verbs[action](session, page.subject, _pk(public_id))
        await session.commit()
    except DomainError as exc:
        return _back(public_id, error=exc.message)
    return _back(public_id, notice={"start": "Campaign started.", "pause": "Campaign paused.",
                                    "stop": "Campaign stopped."}[action])
