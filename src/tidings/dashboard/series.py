"""Turning the stats services' sparse daily rows into the dense series a chart draws."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

# Chart label -> the counter behind it.
OUTREACH_SERIES = {"sent": "messages_sent", "opened": "messages_opened", "clicked": "messages_clicked",
                   "replied": "replied", "bounced": "bounced"}


def dense(rows: Sequence[tuple[date, dict[str, int]]], start: date, end: date,
          metrics: dict[str, str]) -> tuple[list[date], dict[str, list[int]]]:
    """Every day from start to end with zeros where nothing happened."""
    by_day = dict(rows)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return days, {label: [by_day.get(d, {}).get(metric, 0) for d in days] for label, metric in metrics.items()}
