"""Outreach campaigns: creation, steps, schedule, mailboxes and the status machine.

Status: DRAFT -> RUNNING -> PAUSED or STOPPED; PAUSED -> RUNNING; COMPLETED when every enrollment
is finished. The engine sends for enrollments with status OK in RUNNING campaigns whose
`next_due_at` has passed, and calls `complete_if_finished` after each step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.headerfields import require_single_line
from tidings.core.templating import MissingFieldError
from tidings.db.models import Campaign, CampaignMailbox, Client, Contact, Enrollment, Mailbox, Step
from tidings.outreach import access
from tidings.outreach.engine.rendering import render_step
from tidings.outreach.fields import check_template, is_missing_data, merge_fields, templates
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject

SETTINGS_DEFAULTS: dict[str, bool] = {"track_opens": False, "track_clicks": False, "stop_on_autoreply": False}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_STEPS = 50


def check_timezone(name: str | None, field: str = "timezone") -> str:
    """A valid IANA zone name (the document's examples use legacy names such as US/Mountain)."""
    if not name or not name.strip():
        raise ValidationFailed.on(field, f"The {field} field is required.")
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationFailed.on(field, f"The {field} must be a valid zone.") from exc
    if name.strip() not in available_timezones() and name.strip() != "UTC":
        raise ValidationFailed.on(field, f"The {field} must be a valid zone.")
    return name.strip()


def check_settings(raw: dict[str, Any] | None) -> dict[str, bool]:
    values = dict(SETTINGS_DEFAULTS)
    for key, value in (raw or {}).items():
        if key not in SETTINGS_DEFAULTS:
            raise ValidationFailed.on(f"settings.{key}", f"Unknown campaign setting {key}.")
        if not isinstance(value, bool):
            raise ValidationFailed.on(f"settings.{key}", f"The {key} setting must be true or false.")
        values[key] = value
    return values


async def list_campaigns(session: AsyncSession, subject: AuthSubject, client_id: int | None = None,
                         *, filter_client: bool = False) -> list[tuple[Campaign, Client | None]]:
    """Sequence campaigns the subject may see, optionally of one client."""
    subject.require("view_campaigns")
    stmt = access.in_visible_campaigns(select(Campaign, Client).outerjoin(Client, Client.id == Campaign.client_id),
                                       subject)
    if filter_client:
        stmt = stmt.where(Campaign.client_id == client_id)
    rows = (await session.execute(stmt.order_by(Campaign.id))).all()
    return [(c, cl) for c, cl in rows]


async def create_campaign(session: AsyncSession, subject: AuthSubject, *, name: str, client_id: int | None,
                          timezone: str, settings: dict[str, Any] | None = None) -> Campaign:
    """A DRAFT sequence campaign of one of the subject's clients."""
    subject.require("create_campaigns")
    if not name or not name.strip():
        raise ValidationFailed.on("name", "The name field is required.")
    if len(name.strip()) > 255:
        raise ValidationFailed.on("name", "The name may not be greater than 255 characters.")
    zone = check_timezone(timezone)
    client = await access.client(session, subject, client_id)
    campaign = Campaign(account_id=subject.account_id, client_id=client.id, name=name.strip(), timezone=zone,
                        status="DRAFT", kind="sequence", channel="email", settings=check_settings(settings))
    session.add(campaign)
    await session.flush()
    return campaign


async def update_campaign(session: AsyncSession, subject: AuthSubject, campaign_id: int | None, *,
                          name: str | None = None, timezone: str | None = None,
                          settings: dict[str, Any] | None = None) -> Campaign:
    """Rename a campaign, change its zone or its tracking settings."""
    subject.require("create_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    if name is not None:
        if not name.strip():
            raise ValidationFailed.on("name", "The name field is required.")
        campaign.name = name.strip()[:255]
    if timezone is not None:
        campaign.timezone = check_timezone(timezone)
    if settings is not None:
        campaign.settings = check_settings({**(campaign.settings or {}), **settings})
    await session.flush()
    return campaign


async def client_of(session: AsyncSession, campaign: Campaign) -> Client | None:
    return None if campaign.client_id is None else await session.get(Client, campaign.client_id)


# -- steps ---------------------------------------------------------------------------------------

def _check_step(subject_line: str, body: str, delay_days: float, variants: Sequence[dict[str, Any]]) -> None:
    if not body.strip():
        raise ValidationFailed.on("body", "The body field is required.")
    if not (0 <= delay_days <= 365):
        raise ValidationFailed.on("delay_days", "The delay days must be between 0 and 365.")
    require_single_line(subject_line, "subject")
    check_template(subject_line, "subject")
    check_template(body, "body")
    for i, variant in enumerate(variants):
        if not str(variant.get("body") or "").strip():
            raise ValidationFailed.on(f"variants.{i}.body", "Each variant needs a body.")
        require_single_line(variant.get("subject"), f"variants.{i}.subject")
        check_template(str(variant.get("subject") or ""), f"variants.{i}.subject")
        check_template(str(variant.get("body") or ""), f"variants.{i}.body")


async def steps_of(session: AsyncSession, campaign_id: int) -> list[Step]:
    stmt = select(Step).where(Step.campaign_id == campaign_id).order_by(Step.number)
    return list((await session.execute(stmt)).scalars())


async def list_steps(session: AsyncSession, subject: AuthSubject, campaign_id: int | None) -> list[Step]:
    subject.require("view_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    return await steps_of(session, campaign.id)


async def add_step(session: AsyncSession, subject: AuthSubject, campaign_id: int | None, *, subject_line: str,
                   body: str, delay_days: float, variants: Sequence[dict[str, Any]]) -> Step:
    """Append a step to the sequence."""
    subject.require("create_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    _check_step(subject_line, body, delay_days, variants)
    existing = await steps_of(session, campaign.id)
    if len(existing) >= MAX_STEPS:
        raise ValidationFailed.on("steps", f"A campaign can have at most {MAX_STEPS} steps.")
    step = Step(account_id=campaign.account_id, campaign_id=campaign.id, number=len(existing) + 1,
                channel="email", subject=subject_line, body=body, delay_days=float(delay_days),
                variants=[dict(v) for v in variants])
    session.add(step)
    await session.flush()
    await refresh_missing_data(session, campaign)
    return step


async def _step(session: AsyncSession, campaign: Campaign, number: int) -> Step:
    step = (await session.execute(select(Step).where(Step.campaign_id == campaign.id, Step.number == number))
            ).scalar_one_or_none()
    if step is None:
        raise NotFound("Step not found.")
    return step


async def update_step(session: AsyncSession, subject: AuthSubject, campaign_id: int | None, number: int, *,
                      subject_line: str | None, body: str | None, delay_days: float | None,
                      variants: Sequence[dict[str, Any]] | None) -> Step:
    """Change a step; omitted fields keep their values."""
    subject.require("create_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    step = await _step(session, campaign, number)
    new_subject = step.subject if subject_line is None else subject_line
    new_body = step.body if body is None else body
    new_delay = step.delay_days if delay_days is None else float(delay_days)
    new_variants = list(step.variants or []) if variants is None else [dict(v) for v in variants]
    _check_step(new_subject, new_body, new_delay, new_variants)
    step.subject, step.body, step.delay_days, step.variants = new_subject, new_body, new_delay, new_variants
    await session.flush()
    await refresh_missing_data(session, campaign)
    return step


async def delete_step(session: AsyncSession, subject: AuthSubject, campaign_id: int | None, number: int) -> None:
    """Remove a step; later steps move up by one, as do enrollments waiting for them."""
    subject.require("create_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    step = await _step(session, campaign, number)
    await session.delete(step)
    await session.flush()
    for later in [s for s in await steps_of(session, campaign.id) if s.number > number]:
        later.number -= 1
        # One row at a time keeps the (campaign_id, number) unique constraint satisfied.
        await session.flush()
    await session.execute(update(Enrollment).where(Enrollment.campaign_id == campaign.id,
                                                   Enrollment.next_step > number)
                          .values(next_step=Enrollment.next_step - 1))
    await refresh_missing_data(session, campaign)


async def refresh_missing_data(session: AsyncSession, campaign: Campaign) -> None:
    """Recompute is_missing_data of the campaign's enrollments against its current steps."""
    tmpls = [t for t in templates(await steps_of(session, campaign.id)) if "{{" in t]
    rows = (await session.execute(
        select(Enrollment.id, Enrollment.is_missing_data, Contact)
        .join(Contact, Contact.id == Enrollment.contact_id)
        .where(Enrollment.campaign_id == campaign.id))).all()
    flip_on: list[int] = []
    flip_off: list[int] = []
    for enrollment_id, flag, contact in rows:
        missing = is_missing_data(merge_fields(contact), tmpls) if tmpls else False
        if missing != flag:
            (flip_on if missing else flip_off).append(enrollment_id)
    for ids_, value in ((flip_on, True), (flip_off, False)):
        for i in range(0, len(ids_), 500):
            await session.execute(update(Enrollment).where(Enrollment.id.in_(ids_[i:i + 500]))
                                  .values(is_missing_data=value))


# -- schedule and mailboxes ----------------------------------------------------------------------

async def set_schedule(session: AsyncSession, subject: AuthSubject, campaign_id: int | None, *,
                       days: Sequence[int], start: str, end: str) -> Campaign:
    """Sending days (1 = Monday) and the daily window, in the campaign's time zone."""
    subject.require("create_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    if not days or any(not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 7 for d in days):
        raise ValidationFailed.on("days", "The days must be a non-empty list of numbers from 1 (Monday) to 7.")
    for field, value in (("start", start), ("end", end)):
        if not isinstance(value, str) or not _HHMM.match(value):
            raise ValidationFailed.on(field, f"The {field} must be a time in the format HH:MM.")
    if start >= end:
        raise ValidationFailed.on("end", "The end must be a time after start.")
    campaign.schedule = {"days": sorted(set(days)), "start": start, "end": end}
    await session.flush()
    return campaign


async def mailboxes_of(session: AsyncSession, campaign_id: int) -> list[Mailbox]:
    stmt = (select(Mailbox).join(CampaignMailbox, CampaignMailbox.mailbox_id == Mailbox.id)
            .where(CampaignMailbox.campaign_id == campaign_id).order_by(Mailbox.id))
    return list((await session.execute(stmt)).scalars())


async def set_mailboxes(session: AsyncSession, subject: AuthSubject, campaign_id: int | None,
                        mailbox_ids: Sequence[int | None]) -> list[Mailbox]:
    """Replace the campaign's sending mailboxes; each must belong to the campaign's client."""
    subject.require("create_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    wanted: list[int] = []
    for i, pk in enumerate(mailbox_ids):
        if pk is None:
            raise ValidationFailed.on(f"mailbox_ids.{i}", "The selected mailbox is invalid.")
        if pk not in wanted:
            wanted.append(pk)
    found = {m.id: m for m in (await session.execute(
        scoped(select(Mailbox), Mailbox, subject).where(Mailbox.id.in_(wanted or [0])))).scalars()}
    for i, pk in enumerate(wanted):
        box = found.get(pk)
        if box is None or (box.client_id is not None and box.client_id != campaign.client_id):
            raise ValidationFailed.on(f"mailbox_ids.{i}", "The selected mailbox is invalid.")
    await session.execute(delete(CampaignMailbox).where(CampaignMailbox.campaign_id == campaign.id))
    for pk in wanted:
        session.add(CampaignMailbox(account_id=campaign.account_id, campaign_id=campaign.id, mailbox_id=pk))
    await session.flush()
    return [found[pk] for pk in wanted]


# -- status machine ------------------------------------------------------------------------------

async def start(session: AsyncSession, subject: AuthSubject, campaign_id: int | None) -> Campaign:
    """DRAFT or PAUSED -> RUNNING; enrollments that have not started become due now."""
    subject.require("create_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    if campaign.status not in ("DRAFT", "PAUSED"):
        raise ValidationFailed.on("status", f"A {campaign.status} campaign cannot be started.")
    missing: dict[str, list[str]] = {}
    if not await steps_of(session, campaign.id):
        missing["steps"] = ["The campaign has no steps; add at least one step."]
    if not await mailboxes_of(session, campaign.id):
        missing["mailboxes"] = ["The campaign has no mailboxes; assign at least one mailbox."]
    if missing:
        raise ValidationFailed(" ".join(m[0] for m in missing.values()), fields=missing)
    now = clock.now()
    campaign.status = "RUNNING"
    campaign.started_at = campaign.started_at or now
    await session.execute(update(Enrollment).where(Enrollment.campaign_id == campaign.id, Enrollment.status == "OK",
                                                   Enrollment.next_step == 1, Enrollment.next_due_at.is_(None))
                          .values(next_due_at=now))
    await session.flush()
    return campaign


async def pause(session: AsyncSession, subject: AuthSubject, campaign_id: int | None) -> Campaign:
    """RUNNING -> PAUSED; nothing else changes, so resuming continues where it stopped."""
    subject.require("create_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    if campaign.status != "RUNNING":
        raise ValidationFailed.on("status", f"A {campaign.status} campaign cannot be paused.")
    campaign.status = "PAUSED"
    await session.flush()
    return campaign


async def stop(session: AsyncSession, subject: AuthSubject, campaign_id: int | None) -> Campaign:
    """DRAFT, RUNNING or PAUSED -> STOPPED, for good."""
    subject.require("create_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    if campaign.status not in ("DRAFT", "RUNNING", "PAUSED"):
        raise ValidationFailed.on("status", f"A {campaign.status} campaign cannot be stopped.")
    campaign.status = "STOPPED"
    campaign.completed_at = clock.now()
    await session.flush()
    return campaign


def autoreplied_receive(settings: dict[str, Any] | None) -> bool:
    """Whether AUTOREPLIED contacts still receive steps, by a campaign's settings: yes unless it stops on them."""
    return not (settings or {}).get("stop_on_autoreply")


def receiving_statuses(campaign: Campaign) -> tuple[str, ...]:
    """Enrollment statuses that still receive steps: AUTOREPLIED too, unless the campaign stops on them."""
    return ("OK", "AUTOREPLIED") if autoreplied_receive(campaign.settings) else ("OK",)


async def complete_if_finished(session: AsyncSession, campaign_id: int) -> bool:
    """Set a RUNNING campaign COMPLETED when no enrollment still receiving steps has one left."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.status != "RUNNING":
        return False
    last = (await session.execute(select(func.max(Step.number)).where(Step.campaign_id == campaign_id))).scalar()
    if last is None:
        return False
    pending = (await session.execute(
        select(func.count()).select_from(Enrollment)
        .where(Enrollment.campaign_id == campaign_id, Enrollment.status.in_(receiving_statuses(campaign)),
               Enrollment.next_step <= last)
    )).scalar_one()
    if pending:
        return False
    campaign.status = "COMPLETED"
    campaign.completed_at = clock.now()
    await session.flush()
    return True


async def preview_step(session: AsyncSession, subject: AuthSubject, campaign_id: int | None, *, subject_line: str,
                       body: str) -> tuple[str, str, str | None, str | None]:
    """The step rendered for the campaign's first contact (or a sample): subject, html, whose, what is missing."""
    subject.require("view_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    contact = (await session.execute(select(Contact).join(Enrollment, Enrollment.contact_id == Contact.id)
                                     .where(Enrollment.campaign_id == campaign.id).order_by(Enrollment.id)
                                     .limit(1))).scalar_one_or_none()
    fields = merge_fields(contact) if contact is not None else dict(SAMPLE_CONTACT)
    who = contact.email if contact is not None else None
    step = Step(subject=subject_line, body=body, variants=[])
    try:
        rendered = render_step(step, 0, fields, seed="preview", first_subject=None)
    except MissingFieldError as exc:
        return subject_line, "", who, str(exc)
    return rendered.subject, rendered.html, who, None


SAMPLE_CONTACT = {"email": "ana@example.com", "first_name": "Ana", "last_name": "García", "company": "Globex",
                  "title": "Head of Growth", "city": "Madrid", "country": "Spain", "website": "globex.example"}
