"""The `meta.pagination` block of the messaging dialect's lists, and the integer ids in their paths."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from tidings.core.errors import NotFound

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# page * limit must stay a BIGINT offset; no account has a billion pages.
MAX_PAGE = 10**9
MAX_ID = 2**63 - 1


def meta(request: Request, *, total: int, count: int, page: int, per_page: int) -> dict[str, Any]:
    """Totals and page links; `links` is [] when there is no other page, as in the document."""
    pages = max(1, -(-total // per_page))
    links: dict[str, str] = {}
    if page > 1:
        links["previous"] = str(request.url.include_query_params(page=min(page - 1, pages)))
    if page < pages:
        links["next"] = str(request.url.include_query_params(page=page + 1))
    return {"pagination": {"total": total, "count": count, "per_page": per_page, "current_page": page,
                           "total_pages": pages, "links": links or []}}


def parse_id(raw: str) -> int:
    """A path id; anything that cannot be one of our ids (text, too large for BIGINT) is a 404."""
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        raise NotFound("Resource not found")
    return int(raw)
