"""Which enrollments still receive steps, and the campaign's time window."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.windows import WeeklyWindow, parse_hhmm
from tidings.db.models import Campaign, Enrollment, Step
from tidings.outreach.campaigns.service import complete_if_finished

# AUTOREPLIED keeps receiving steps unless the campaign's stop_on_autoreply setting is on.
SENDABLE = ("OK", "AUTOREPLIED")


def stops_on_autoreply(campaign: Campaign) -> bool:
    return bool((campaign.settings or {}).get("stop_on_autoreply"))


def sendable(status: str, campaign: Campaign) -> bool:
    return status == "OK" or (status == "AUTOREPLIED" and not stops_on_autoreply(campaign))


def window(campaign: Campaign) -> WeeklyWindow | None:
    """The campaign's sending window in its time zone, or None when it may send at any time."""
    schedule = campaign.schedule or {}
    start, end = parse_hhmm(str(schedule.get("start") or "")), parse_hhmm(str(schedule.get("end") or ""))
    days = [d for d in schedule.get("days") or [] if isinstance(d, int) and 1 <= d <= 7]
    if start is None or end is None or not days or start >= end:
        return None
    try:
        return WeeklyWindow(frozenset(days), start, end, campaign.timezone or "UTC")
    except ValueError:
        return WeeklyWindow(frozenset(days), start, end, "UTC")


def next_opening(campaign: Campaign, now: datetime) -> datetime:
    """`now` when the window is open, else its next opening."""
    win = window(campaign)
    return now if win is None else win.next_open(now)


async def maybe_complete(session: AsyncSession, campaign: Campaign) -> bool:
    """COMPLETED when nobody has a step left, counting auto-replied contacts whose sequence goes on."""
    if not stops_on_autoreply(campaign):
        last = (await session.execute(select(func.max(Step.number)).where(Step.campaign_id == campaign.id))).scalar()
        waiting = (await session.execute(
            select(func.count()).select_from(Enrollment)
            .where(Enrollment.campaign_id == campaign.id, Enrollment.status == "AUTOREPLIED",
                   Enrollment.next_step <= (last or 0)))).scalar_one()
        if waiting:
            return False
    return await complete_if_finished(session, campaign.id)
