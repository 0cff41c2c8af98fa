"""The `meta.pagination` block of the messaging dialect's lists (ids in paths: `public_ids`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# page * limit must stay a BIGINT offset; no account has a billion pages.
MAX_PAGE = 10**9


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

