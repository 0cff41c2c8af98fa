"""Campaigns: GET /api/rest/campaigns (with their sendings and event counters), one campaign, its sendings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.rest import pagination, public_ids, render, schemas
from tidings.core.errors import DomainError, NotFound
from tidings.core.ids import Kind
from tidings.messaging import reports
from tidings.messaging.reports import CampaignRow
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]
Page = Annotated[int, Query(ge=1, le=pagination.MAX_PAGE)]
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]


def _channel(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    channel = reports.CHANNELS_BY_NAME.get(raw.strip().lower())
    if channel is None:
        raise DomainError("unknown channel", nrs_code=422, description="Input validation error: channel must be one "
                          "of sms, mailing, landing, text2speech, voice-interactive")
    return channel


def _render(request: Request, row: CampaignRow) -> dict[str, Any]:
    tags = list(row.campaign.tags or [])
    return render.campaign(request, row.campaign,
                           [render.sending(request, s, stats, row.campaign.name, tags) for s, stats in row.sendings])


@router.get("/campaigns", response_model=schemas.BroadcastCampaignList)
async def list_campaigns(
    request: Request, session: deps.Session, subject: Caller, name: str | None = None, channel: str | None = None,
    beforeDate: str | None = None,  # noqa: N803 - the document's names
    afterDate: str | None = None,  # noqa: N803
    page: Page = 1, limit: Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Newest first; `name` may use * as a wildcard; dates are ISO 8601 on the campaign's creation."""
    rows, total = await reports.campaigns_page(
        session, subject, name=name.strip() if name else None, channel=_channel(channel),
        before=render.parse_iso(beforeDate, "beforeDate"), after=render.parse_iso(afterDate, "afterDate"),
        page=page, limit=limit)
    data = [_render(request, row) for row in rows]
    return {"data": data, "meta": pagination.meta(request, total=total, count=len(data), page=page, per_page=limit)}


async def _one(request: Request, session: deps.Session, subject: AuthSubject, raw_id: str) -> CampaignRow:
    campaign_id = public_ids.parse(Kind.CAMPAIGN, raw_id)
    rows, _ = await reports.campaigns_page(session, subject, campaign_id=campaign_id)
    if not rows:
        raise NotFound("Resource not found")
    return rows[0]


@router.get("/campaigns/{campaign_id}", response_model=schemas.BroadcastCampaignOne)
async def show_campaign(campaign_id: str, request: Request, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """One campaign, shaped as in the list (the list's `self` link)."""
    return {"data": _render(request, await _one(request, session, subject, campaign_id))}


@router.get("/campaigns/{campaign_id}/sendings", response_model=schemas.SendingList)
async def campaign_sendings(campaign_id: str, request: Request, session: deps.Session,
                            subject: Caller) -> dict[str, Any]:
    """The campaign's sendings (the list's `sendings` link)."""
    return _render(request, await _one(request, session, subject, campaign_id))["sendings"]
