"""The overview: what is running, what came back, and the last 30 days."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tidings.api import deps
from tidings.core import clock
from tidings.dashboard import charts, series, web
from tidings.outreach import stats
from tidings.outreach.campaigns import service as campaigns
from tidings.outreach.replies import service as replies

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, session: deps.Session) -> Response:
    page = await web.page(request, session)
    today = clock.now().date()
    start = today - timedelta(days=29)
    rows = await stats.across_campaigns(session, page.subject, start) if page.subject.can("view_campaigns") else []
    days, lines = series.dense(rows, start, today, series.OUTREACH_SERIES)
    totals = {label: sum(values) for label, values in lines.items()}
    listed = await campaigns.list_campaigns(session, page.subject) if page.subject.can("view_campaigns") else []
    by_status: dict[str, int] = {}
    for campaign, _ in listed:
        by_status[campaign.status] = by_status.get(campaign.status, 0) + 1
    latest, more = (await replies.inbox(session, page.subject, limit=5) if page.subject.can("view_campaigns")
                    else ([], False))
    return web.render(request, "overview.html", page, totals=totals, by_status=by_status,
                      chart=charts.line_chart(days, lines, "Outreach activity, last 30 days"),
                      latest=latest, more_replies=more)
