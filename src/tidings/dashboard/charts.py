"""Charts drawn on the server as inline SVG.

No chart library in the browser: an SVG string works offline, without JavaScript, prints, and is
read by screen readers through its title and the data table every chart page shows beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from html import escape

from markupsafe import Markup

PALETTE = {"sent": "#4f46e5", "opened": "#0891b2", "clicked": "#16a34a", "replied": "#d97706",
           "bounced": "#dc2626", "unsubscribed": "#6b7280", "delivered": "#16a34a", "failed": "#dc2626"}
W, H, LEFT, RIGHT, TOP, BOTTOM = 720, 260, 44, 28, 14, 34


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    step = 10 ** (len(str(value)) - 1)
    for mult in (1, 2, 2.5, 5, 10):
        top = int(step * mult)
        if top >= value:
            return top
    return value


def line_chart(days: Sequence[date], series: Mapping[str, Sequence[int]], title: str) -> Markup:
    """Several daily series on one time axis; an empty range draws the axes with a note."""
    width, height = W - LEFT - RIGHT, H - TOP - BOTTOM
    top = _nice_max(max((max(v) for v in series.values() if v), default=0))
    n = max(len(days), 1)

    def x(i: int) -> float:
        return LEFT + (width * i / (n - 1) if n > 1 else width / 2)

    def y(v: int) -> float:
        return TOP + height - height * v / top

    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for k in range(5):
        v = round(top * k / 4)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
                     f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" class="tick" text-anchor="end">{v}</text>')
    label_every = max(1, n // 8)
    for i, day in enumerate(days):
        if i % label_every == 0 or i == n - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{H - 12}" class="tick" text-anchor="middle">'
                         f'{day.strftime("%d %b")}</text>')
    for name, values in series.items():
        colour = PALETTE.get(name, "#334155")
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        if len(values) > 1:
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.2" '
                         f'stroke-linejoin="round" data-series="{escape(name)}"/>')
        for i, v in enumerate(values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                         f'<title>{escape(name)} {days[i].isoformat()}: {v}</title></circle>')
    if not days:
        parts.append(f'<text x="{W / 2}" y="{H / 2}" class="empty" text-anchor="middle">No activity in this range'
                     '</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
