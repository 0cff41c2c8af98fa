"""Campaign stats (read side): sums of the counters the engine moves with every event.

Per-step `queued` is not a counter: it is how many enrollments still receiving steps (OK, and
AUTOREPLIED unless the campaign stops on auto-replies) of a RUNNING or PAUSED campaign wait for that step.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.models import Campaign, Enrollment, StatCounter
from tidings.outreach import access
from tidings.outreach.campaigns.service import receiving_statuses, steps_of
from tidings.outreach.counters import CAMPAIGN_METRICS, SCOPE, STEP_METRICS
from tidings.tenancy.subject import AuthSubject


async def daily(session: AsyncSession, subject: AuthSubject, campaign_id: int | None,
                start: date | None = None) -> list[tuple[date, dict[str, int]]]:
    """Campaign totals per UTC day with any activity, oldest first, from `start` on."""
    subject.require("view_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    stmt = (select(StatCounter.day, StatCounter.metric, func.sum(StatCounter.value))
            .where(StatCounter.scope == SCOPE, StatCounter.scope_id == campaign.id, StatCounter.step == 0,
                   StatCounter.account_id == campaign.account_id)
            .group_by(StatCounter.day, StatCounter.metric))
    if start is not None:
        stmt = stmt.where(StatCounter.day >= start)
    days: dict[date, dict[str, int]] = {}
    for day, metric, value in (await session.execute(stmt)).all():
        if metric in CAMPAIGN_METRICS:
            days.setdefault(day, dict.fromkeys(CAMPAIGN_METRICS, 0))[metric] = int(value or 0)
    return sorted(days.items())


async def total(session: AsyncSession, subject: AuthSubject, campaign_id: int | None) -> dict[str, Any]:
    """Campaign totals and, per step, its counters and how many contacts wait for it."""
    subject.require("view_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    return await totals_of(session, campaign)


async def totals_of(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    sums: dict[tuple[int, str], int] = {}
    stmt = (select(StatCounter.step, StatCounter.metric, func.sum(StatCounter.value))
            .where(StatCounter.scope == SCOPE, StatCounter.scope_id == campaign.id,
                   StatCounter.account_id == campaign.account_id)
            .group_by(StatCounter.step, StatCounter.metric))
    for step, metric, value in (await session.execute(stmt)).all():
        sums[(int(step), str(metric))] = int(value or 0)
    queued: dict[int, int] = {}
    if campaign.status in ("RUNNING", "PAUSED"):
        q = (select(Enrollment.next_step, func.count()).where(Enrollment.campaign_id == campaign.id,
                                                              Enrollment.status.in_(receiving_statuses(campaign)))
             .group_by(Enrollment.next_step))
        queued = {int(n): int(c) for n, c in (await session.execute(q)).all()}
    out: dict[str, Any] = {m: sums.get((0, m), 0) for m in CAMPAIGN_METRICS}
    steps = []
    for row in await steps_of(session, campaign.id):
        number = row.number
        entry: dict[str, Any] = {"number": number}
        for metric in ("sent", "queued", *STEP_METRICS[1:]):
            entry[metric] = queued.get(number, 0) if metric == "queued" else sums.get((number, metric), 0)
        steps.append(entry)
    out["campaign_steps"] = steps
    return out


async def across_campaigns(session: AsyncSession, subject: AuthSubject, start: date
                           ) -> list[tuple[date, dict[str, int]]]:
    """Totals per UTC day over every campaign the subject may see, oldest first, from `start` on."""
    subject.require("view_campaigns")
    stmt = access.in_visible_campaigns(
        select(StatCounter.day, StatCounter.metric, func.sum(StatCounter.value))
        .join(Campaign, Campaign.id == StatCounter.scope_id)
        .where(StatCounter.scope == SCOPE, StatCounter.step == 0, StatCounter.day >= start,
               StatCounter.account_id == subject.account_id)
        .group_by(StatCounter.day, StatCounter.metric), subject)
    days: dict[date, dict[str, int]] = {}
    for day, metric, value in (await session.execute(stmt)).all():
        if metric in CAMPAIGN_METRICS:
            days.setdefault(day, dict.fromkeys(CAMPAIGN_METRICS, 0))[metric] = int(value or 0)
    return sorted(days.items())


async def per_variant(session: AsyncSession, campaign: Campaign) -> dict[int, dict[int, dict[str, int]]]:
    """Sent and replied per step and A/B variant (the counters the engine keeps as v<N>_<metric>)."""
    stmt = (select(StatCounter.step, StatCounter.metric, func.sum(StatCounter.value))
            .where(StatCounter.scope == SCOPE, StatCounter.scope_id == campaign.id, StatCounter.step > 0,
                   StatCounter.account_id == campaign.account_id, StatCounter.metric.like("v%\\_%", escape="\\"))
            .group_by(StatCounter.step, StatCounter.metric))
    out: dict[int, dict[int, dict[str, int]]] = {}
    for step, metric, value in (await session.execute(stmt)).all():
        head, _, what = str(metric).partition("_")
        if head[1:].isdigit() and what:
            out.setdefault(int(step), {}).setdefault(int(head[1:]), {})[what] = int(value or 0)
    return out
