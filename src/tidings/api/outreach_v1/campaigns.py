"""Campaigns, their stats, steps, schedule, mailboxes and status (documented and native)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.outreach_v1 import render, schemas
from tidings.api.outreach_v1.common import Caller, filter_pk, pk
from tidings.core.ids import Kind
from tidings.db.models import Campaign
from tidings.outreach import access, stats
from tidings.outreach.campaigns import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
StepNumber = Annotated[int, Path(ge=1, le=10_000)]


# Checked by the service (an unknown key or a non-boolean is a 422 naming it); documented here.
SETTINGS_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": False,
                   "properties": {k: {"type": "boolean"} for k in ("track_opens", "track_clicks", "stop_on_autoreply")}}


class CampaignIn(BaseModel):
    name: str = Field(max_length=255)
    client_id: str = Field(max_length=64)
    timezone: str = Field(max_length=64)
    settings: dict[str, Any] | None = Field(default=None, json_schema_extra=SETTINGS_SCHEMA)


class CampaignUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=255)
    timezone: str | None = Field(default=None, max_length=64)
    settings: dict[str, Any] | None = Field(default=None, json_schema_extra=SETTINGS_SCHEMA)


class Variant(BaseModel):
    subject: str = Field(default="", max_length=998)
    body: str = Field(max_length=200_000)


class StepIn(BaseModel):
    subject: str = Field(default="", max_length=998)
    body: str = Field(max_length=200_000)
    delay_days: float = Field(default=0, ge=0, le=365, allow_inf_nan=False)
    variants: list[Variant] = Field(default_factory=list, max_length=10)


class StepUpdate(BaseModel):
    subject: str | None = Field(default=None, max_length=998)
    body: str | None = Field(default=None, max_length=200_000)
    delay_days: float | None = Field(default=None, ge=0, le=365, allow_inf_nan=False)
    variants: list[Variant] | None = Field(default=None, max_length=10)


class ScheduleIn(BaseModel):
    days: list[int] = Field(min_length=1, max_length=7)
    start: str
    end: str


class MailboxesIn(BaseModel):
    mailbox_ids: list[str] = Field(max_length=1000)


async def _detail(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    boxes = await service.mailboxes_of(session, campaign.id)
    steps = await service.steps_of(session, campaign.id)
    return render.campaign_detail(campaign, await service.client_of(session, campaign), [b.id for b in boxes],
                                  len(steps))


@router.get("/campaigns", response_model=schemas.CampaignList)
async def list_campaigns(session: deps.Session, subject: Caller, client_id: str | None = Query(default=None)
                         ) -> dict[str, Any]:
    """Campaigns the caller may see, optionally of one client."""
    rows = await service.list_campaigns(session, subject, filter_pk(Kind.CLIENT, client_id) if client_id else None,
                                        filter_client=bool(client_id))
    return {"data": [render.campaign(c, cl) for c, cl in rows]}


@router.post("/campaigns", response_model=schemas.CampaignOne)
async def create_campaign(body: CampaignIn, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Create a DRAFT campaign for a client (200, as the newer document shows)."""
    campaign = await service.create_campaign(session, subject, name=body.name,
                                             client_id=pk(Kind.CLIENT, body.client_id), timezone=body.timezone,
                                             settings=body.settings)
    client = await service.client_of(session, campaign)
    await session.commit()
    return {"data": render.campaign(campaign, client)}


@router.get("/campaigns/{campaign_id}", response_model=schemas.CampaignDetailOne)
async def show_campaign(campaign_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """One campaign with its schedule, settings, mailboxes and step count (native)."""
    subject.require("view_campaigns")
    campaign = await access.campaign(session, subject, pk(Kind.CAMPAIGN, campaign_id))
    return {"data": await _detail(session, campaign)}


@router.put("/campaigns/{campaign_id}", response_model=schemas.CampaignDetailOne)
async def update_campaign(campaign_id: str, body: CampaignUpdate, session: deps.Session, subject: Caller
                          ) -> dict[str, Any]:
    """Rename a campaign, change its zone or its settings (native)."""
    campaign = await service.update_campaign(session, subject, pk(Kind.CAMPAIGN, campaign_id), name=body.name,
                                             timezone=body.timezone, settings=body.settings)
    data = await _detail(session, campaign)
    await session.commit()
    return {"data": data}


def _stat_day(day: Any) -> str:
    return f"{day.isoformat()}T00:00:00.000000Z"


@router.get("/campaigns/{campaign_id}/daily-stats", response_model=schemas.DailyStats)
async def daily_stats(campaign_id: str, session: deps.Session, subject: Caller,
                      start: int | None = Query(default=None, ge=0, le=253402300799)) -> dict[str, Any]:
    """Campaign figures per day, from the day of `start` (epoch seconds) on."""
    since = None if start is None else datetime.fromtimestamp(start, UTC).date()
    days = await stats.daily(session, subject, pk(Kind.CAMPAIGN, campaign_id), since)
    return {"data": [{"day": _stat_day(day), **values} for day, values in days]}


@router.get("/campaigns/{campaign_id}/stats", response_model=schemas.TotalStatsOne)
async def total_stats(campaign_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Campaign totals with per-step figures."""
    return {"data": await stats.total(session, subject, pk(Kind.CAMPAIGN, campaign_id))}


@router.get("/campaigns/{campaign_id}/steps", response_model=schemas.StepList)
async def list_steps(campaign_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    steps = await service.list_steps(session, subject, pk(Kind.CAMPAIGN, campaign_id))
    return {"data": [render.step(s) for s in steps]}


@router.post("/campaigns/{campaign_id}/steps", status_code=201, response_model=schemas.StepOne)
async def add_step(campaign_id: str, body: StepIn, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Append a step: subject, HTML body, delay after the previous step, optional A/B variants."""
    step = await service.add_step(session, subject, pk(Kind.CAMPAIGN, campaign_id), subject_line=body.subject,
                                  body=body.body, delay_days=body.delay_days,
                                  variants=[v.model_dump() for v in body.variants])
    await session.commit()
    return {"data": render.step(step)}


@router.put("/campaigns/{campaign_id}/steps/{number}", response_model=schemas.StepOne)
async def update_step(campaign_id: str, number: StepNumber, body: StepUpdate, session: deps.Session, subject: Caller
                      ) -> dict[str, Any]:
    step = await service.update_step(
        session, subject, pk(Kind.CAMPAIGN, campaign_id), number, subject_line=body.subject, body=body.body,
        delay_days=body.delay_days,
        variants=None if body.variants is None else [v.model_dump() for v in body.variants])
    await session.commit()
    return {"data": render.step(step)}


@router.delete("/campaigns/{campaign_id}/steps/{number}", status_code=204)
async def delete_step(campaign_id: str, number: StepNumber, session: deps.Session, subject: Caller) -> Response:
    await service.delete_step(session, subject, pk(Kind.CAMPAIGN, campaign_id), number)
    await session.commit()
    return Response(status_code=204)


@router.put("/campaigns/{campaign_id}/schedule", response_model=schemas.CampaignDetailOne)
async def set_schedule(campaign_id: str, body: ScheduleIn, session: deps.Session, subject: Caller
                       ) -> dict[str, Any]:
    """Sending days (1 = Monday .. 7) and the daily HH:MM window in the campaign's zone."""
    campaign = await service.set_schedule(session, subject, pk(Kind.CAMPAIGN, campaign_id), days=body.days,
                                          start=body.start, end=body.end)
    data = await _detail(session, campaign)
    await session.commit()
    return {"data": data}


@router.put("/campaigns/{campaign_id}/mailboxes", response_model=schemas.MailboxList)
async def set_mailboxes(campaign_id: str, body: MailboxesIn, session: deps.Session, subject: Caller
                        ) -> dict[str, Any]:
    """Replace the campaign's sending mailboxes."""
    boxes = await service.set_mailboxes(session, subject, pk(Kind.CAMPAIGN, campaign_id),
                                        [pk(Kind.MAILBOX, m) for m in body.mailbox_ids])
    await session.commit()
    return {"data": [render.mailbox(b) for b in boxes]}


async def _transition(action: str, campaign_id: str, session: AsyncSession, subject: AuthSubject) -> dict[str, Any]:
    fn = {"start": service.start, "pause": service.pause, "stop": service.stop}[action]
    campaign = await fn(session, subject, pk(Kind.CAMPAIGN, campaign_id))
    data = await _detail(session, campaign)
    await session.commit()
    return {"data": data}


@router.post("/campaigns/{campaign_id}/start", response_model=schemas.CampaignDetailOne)
async def start(campaign_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """DRAFT or PAUSED -> RUNNING; needs at least one step and one mailbox."""
    return await _transition("start", campaign_id, session, subject)


@router.post("/campaigns/{campaign_id}/pause", response_model=schemas.CampaignDetailOne)
async def pause(campaign_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """RUNNING -> PAUSED."""
    return await _transition("pause", campaign_id, session, subject)


@router.post("/campaigns/{campaign_id}/stop", response_model=schemas.CampaignDetailOne)
async def stop(campaign_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """DRAFT, RUNNING or PAUSED -> STOPPED."""
    return await _transition("stop", campaign_id, session, subject)

