"""The counters behind an outreach campaign's daily and total stats (write side).

Every counter moves in the transaction of the event that moves it. Campaign totals are kept at
step 0 and per-step figures at the step's number, both per UTC day, so that the stats endpoints
sum rows instead of scanning events. Per-step `queued` is not a counter: it is how many OK
enrollments wait for that step now.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.db.counters import bump

SCOPE = "campaign"
# Keys of the documented campaign stats, in the documented order.
CAMPAIGN_METRICS = ("contacted", "replied", "autoreplied", "bounced", "positive", "neutral", "negative",
                    "messages_clicked", "messages_opened", "messages_sent")
# Keys of each entry of `campaign_steps`, besides `number` and `queued`.
STEP_METRICS = ("sent", "contacted", "replied", "positive", "bounced", "messages_clicked", "messages_opened")
# Metrics a step also counts under another name: a message sent is `messages_sent` overall.
_STEP_ALIAS = {"messages_sent": "sent"}
INTEREST_METRIC = {"POSITIVE": "positive", "NEUTRAL": "neutral", "NEGATIVE": "negative"}


async def count(
    session: AsyncSession,
    *,
    account_id: int,
    campaign_id: int,
    metric: str,
    step: int | None = None,
    at: datetime | None = None,
    by: int = 1,
) -> None:
    """Move one campaign metric (and its per-step twin when `step` is given) by `by`."""
    if metric not in CAMPAIGN_METRICS and metric not in STEP_METRICS:
        raise ValueError(f"unknown campaign metric {metric}")
    day = clock.as_utc(at or clock.now()).date()
    if metric in CAMPAIGN_METRICS:
        await bump(session, account_id=account_id, scope=SCOPE, scope_id=campaign_id, day=day, metric=metric, by=by)
    step_metric = _STEP_ALIAS.get(metric, metric)
    if step is not None and step_metric in STEP_METRICS:
        await bump(session, account_id=account_id, scope=SCOPE, scope_id=campaign_id, day=day, metric=step_metric,
                   step=step, by=by)


async def interest_changed(
    session: AsyncSession, *, account_id: int, campaign_id: int, old: str, new: str, step: int | None = None
) -> None:
    """Move the positive/neutral/negative counters when a contact's interest changes."""
    if old == new:
        return
    if old in INTEREST_METRIC:
        await count(session, account_id=account_id, campaign_id=campaign_id, metric=INTEREST_METRIC[old],
                    step=step if old == "POSITIVE" else None, by=-1)
    if new in INTEREST_METRIC:
        await count(session, account_id=account_id, campaign_id=campaign_id, metric=INTEREST_METRIC[new],
                    step=step if new == "POSITIVE" else None)
