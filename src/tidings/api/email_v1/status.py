"""POST /v1/email/status/search and /v1/email/status/list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.email_v1.schemas import EmailStatus, SearchBody, render_status
from tidings.core.errors import ValidationFailed
from tidings.core.ids import Kind, codec
from tidings.messaging.email_api import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.wavy("email"))]


def _date(value: str | None, name: str) -> datetime | None:
    """ISO 8601 (yyyy-MM-dd'T'HH:mm:ssZ and its variants); a date without a zone is UTC."""
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed.on(name, f"The {name} must be an ISO 8601 date such as 2017-04-27T10:00:00Z.") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@router.post("/status/search", response_model=list[EmailStatus])
async def status_search(body: SearchBody, session: deps.Session, subject: Caller) -> list[dict[str, Any]]:
    """Statuses of the emails with these ids (recipient or request ids) or correlationIds, in a date interval."""
    start, end = _date(body.startDate, "startDate"), _date(body.endDate, "endDate")
    if start is not None and end is not None and start > end:
        raise ValidationFailed.on("endDate", "The endDate must not be before the startDate.")
    if not body.ids and not body.correlationIds and start is None and end is None:
        raise ValidationFailed.on("ids", "Give ids, correlationIds or a startDate/endDate interval.")
    ids = codec()
    message_ids: list[int] = []
    sending_ids: list[int] = []
    for public in body.ids or []:
        # An unknown or foreign id simply matches nothing, as in any search.
        pk = ids.from_uuid(Kind.MESSAGE, public)
        if pk is not None:
            message_ids.append(pk)
        elif (request_pk := ids.from_uuid(Kind.SENDING, public)) is not None:
            sending_ids.append(request_pk)
    if (body.ids or body.correlationIds) and not (message_ids or sending_ids or body.correlationIds):
        return []
    found = await service.search(session, subject, message_ids=message_ids, sending_ids=sending_ids,
                                 correlation_ids=[str(c) for c in body.correlationIds or []], start=start, end=end)
    return [render_status(item) for item in found]


@router.post("/status/list", response_model=list[EmailStatus])
async def status_list(session: deps.Session, subject: Caller) -> list[dict[str, Any]]:
    """Every email whose status changed since the last call, each change returned once."""
    found = await service.list_new(session, subject)
    rendered = [render_status(item) for item in found]
    await session.commit()
    return rendered
