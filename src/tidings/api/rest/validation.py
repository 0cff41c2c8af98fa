"""Email validation: POST/GET /api/rest/validation/emails, GET/DELETE /{id}, GET /{id}/result (CSV)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tidings.api import deps
from tidings.api.rest import pagination
from tidings.api.rest.envelopes import responses
from tidings.api.rest.schemas import Meta
from tidings.core import ids
from tidings.core.errors import DomainError, NotFound
from tidings.messaging import netguard
from tidings.messaging.validation import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.rest())]
Status = Literal["pending", "started", "finished", "failed"]


class ValidationIn(BaseModel):
    """The document's parameters: groupsIds and/or emails, force, allowRisky, notificationUrl."""

    model_config = ConfigDict(extra="ignore")

    groupsIds: list[int] | None = Field(default=None, max_length=1000)  # noqa: N815 - the documented names
    emails: list[Annotated[str, Field(max_length=320)]] | None = Field(default=None, max_length=10_000)
    force: bool = False
    allowRisky: bool = False  # noqa: N815
    notificationUrl: str | None = Field(default=None, max_length=2048)  # noqa: N815


class Validation(BaseModel):
    id: int
    status: Status
    total: int
    processed: int
    valid: int
    estimatedCost: float  # noqa: N815
    cost: float
    currency: str
    createdAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    finishedAt: str | None  # noqa: N815
    resultUrl: str | None  # noqa: N815


class ValidationOut(BaseModel):
    data: Validation


class ValidationList(BaseModel):
    data: list[Validation]
    meta: Meta


def _cell(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; a leading ' keeps them text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _request(body: ValidationIn, request: Request) -> service.Request:
    url = (body.notificationUrl or "").strip() or None
    if url is not None:
        try:
            netguard.check_static(url, deps.get_settings(request).outbound_allow_private)
        except netguard.UnsafeUrl:
            raise DomainError("Notification URL incorrect", nrs_code=109) from None
    group_pks: list[int] = []
    for raw in body.groupsIds or []:
        pk = ids.from_int(ids.Kind.GROUP, raw) if raw > 0 else None
        if pk is None:
            raise NotFound("Resource not found")
        group_pks.append(pk)
    return service.Request(emails=body.emails or [], group_pks=group_pks, force=body.force,
                           allow_risky=body.allowRisky, notification_url=url)


@router.post("/validation/emails", status_code=201, response_model=ValidationOut,
             responses=responses(400, 401, 402, 404, 413, 422, 429))
async def create_validation(body: ValidationIn, request: Request, session: deps.Session,
                            subject: Caller) -> ValidationOut:
    """Queue a validation (status pending); the engine checks the addresses and notifies notificationUrl."""
    settings = deps.get_settings(request)
    validation = await service.create(session, subject, settings, _request(body, request))
    data = service.render(validation, settings.public_url)
    await session.commit()
    return ValidationOut.model_validate({"data": data})


@router.get("/validation/emails", response_model=ValidationList, responses=responses(401, 422, 429))
async def list_validations(
    request: Request, session: deps.Session, subject: Caller,
    page: Annotated[int, Query(ge=1, le=pagination.MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
) -> ValidationList:
    """The account's validations, newest first; `limit` up to 1000 (default 100), `page` from 1."""
    public_url = deps.get_settings(request).public_url
    rows, total = await service.page(session, subject, page_number=page, limit=limit)
    data = [service.render(v, public_url) for v in rows]
    return ValidationList.model_validate({"data": data, "meta": pagination.meta(
        request, total=total, count=len(data), page=page, per_page=limit)})


@router.get("/validation/emails/{validation_id}", response_model=ValidationOut,
            responses=responses(401, 404, 422, 429))
async def show_validation(validation_id: str, request: Request, session: deps.Session,
                          subject: Caller) -> ValidationOut:
    validation = await service.get(session, subject, validation_id)
    return ValidationOut.model_validate({"data": service.render(validation, deps.get_settings(request).public_url)})


@router.get("/validation/emails/{validation_id}/result", response_class=Response,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "`email;result` per address checked so far"},
                       **responses(401, 404, 422, 429)})
async def validation_result(
    validation_id: str, session: deps.Session, subject: Caller,
    include: Annotated[Literal["reason"] | None, Query(description="`reason` adds a third column")] = None,
) -> Response:
    """The document's CSV (`email;result`: deliverable, undeliverable, risky); `include=reason` adds why."""
    validation = await service.get(session, subject, validation_id)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["email", "result", "reason"] if include else ["email", "result"])
    for email, result, reason in await service.results(session, validation):
        writer.writerow([_cell(email), result, reason] if include else [_cell(email), result])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="validation-{validation_id}.csv"'})


@router.delete("/validation/emails/{validation_id}", status_code=204, response_class=Response,
               responses=responses(401, 404, 422, 429))
async def delete_validation(validation_id: str, session: deps.Session, subject: Caller) -> Response:
    await service.remove(session, subject, validation_id)
    await session.commit()
    return Response(status_code=204)
