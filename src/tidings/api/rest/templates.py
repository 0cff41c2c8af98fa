"""Email templates: /api/rest/templates (legacy, templateId) and /api/rest/v2/templates (templateV2Id)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.rest import pagination, public_ids, schemas
from tidings.core.ids import Kind
from tidings.db.models import Template
from tidings.messaging.templates import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]
Page = Annotated[int, Query(ge=1, le=pagination.MAX_PAGE)]
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
_PREFIX = {1: "/api/rest/templates", 2: "/api/rest/v2/templates"}


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    html: str | None = None


def iso(value: datetime | None) -> str | None:
    """The document's time format, e.g. 2018-08-17T12:31:10+00:00."""
    return None if value is None else value.replace(microsecond=0).isoformat()


def _render(request: Request, template: Template, version: int, *, html: bool = True,
            links: bool = False) -> dict[str, Any]:
    public = public_ids.show(Kind.TEMPLATE, template.id)
    out: dict[str, Any] = {"id": public, "name": template.name}
    if version == 2:
        out["type"] = template.type
    if html:
        out["html"] = template.html
    out["createdAt"] = iso(template.created_at)
    out["updatedAt"] = iso(template.updated_at)
    if links:
        base = str(request.base_url).rstrip("/") + _PREFIX[version] + f"/{public}"
        out["links"] = {"self": base, "preview": base + "/preview"}
    return out


async def _list(request: Request, session: deps.Session, subject: AuthSubject, version: int, page: int,
                limit: int) -> dict[str, Any]:
    rows, total = await service.list_page(session, subject, version, page, limit)
    # The v2 list leaves the HTML out, as the document shows; show returns it.
    data = [_render(request, t, version, html=version == 1) for t in rows]
    return {"data": data, "meta": pagination.meta(request, total=total, count=len(data), page=page, per_page=limit)}


def _routes(version: int, prefix: str) -> None:
    @router.get(prefix, name=f"templates_v{version}_list", response_model=schemas.TemplateList)
    async def list_templates(request: Request, session: deps.Session, subject: Caller, page: Page = 1,
                             limit: Limit = pagination.DEFAULT_LIMIT) -> dict[str, Any]:
        """The account's templates, oldest first, with `meta.pagination`."""
        return await _list(request, session, subject, version, page, limit)

    @router.get(prefix + "/{template_id}", name=f"templates_v{version}_show", response_model=schemas.TemplateOne)
    async def show(template_id: str, request: Request, session: deps.Session, subject: Caller) -> dict[str, Any]:
        template = await service.get(session, subject, version, public_ids.parse(Kind.TEMPLATE, template_id))
        return {"data": _render(request, template, version)}

    @router.post(prefix, name=f"templates_v{version}_create", status_code=201,
                 responses={201: {"model": schemas.TemplateOne, "description": "Created"}})
    async def create(body: TemplateIn, request: Request, session: deps.Session, subject: Caller) -> JSONResponse:
        template = await service.create(session, subject, version, body.name, body.html)
        await session.commit()
        return JSONResponse({"data": _render(request, template, version, links=True)}, status_code=201)

    @router.put(prefix + "/{template_id}", name=f"templates_v{version}_update", status_code=201,
                responses={201: {"model": schemas.TemplateOne, "description": "Replaced"}})
    async def update(template_id: str, body: TemplateIn, request: Request, session: deps.Session,
                     subject: Caller) -> JSONResponse:
        """Replaces name and html; answers 201 as the document shows."""
        pk = public_ids.parse(Kind.TEMPLATE, template_id)
        template = await service.update(session, subject, version, pk, body.name, body.html)
        await session.commit()
        return JSONResponse({"data": _render(request, template, version, links=True)}, status_code=201)

    @router.delete(prefix + "/{template_id}", name=f"templates_v{version}_delete", status_code=204)
    async def delete(template_id: str, session: deps.Session, subject: Caller) -> Response:
        await service.delete(session, subject, version, public_ids.parse(Kind.TEMPLATE, template_id))
        await session.commit()
        return Response(status_code=204)

    @router.get(prefix + "/{template_id}/preview", name=f"templates_v{version}_preview",
                responses=schemas.ERRORS_AS_JSON,
                response_class=HTMLResponse)
    async def preview(template_id: str, request: Request, session: deps.Session, subject: Caller) -> HTMLResponse:
        """The template's HTML; query parameters fill custom fields (?name=Ann renders {name})."""
        values = {k: v for k, v in request.query_params.items()}
        pk = public_ids.parse(Kind.TEMPLATE, template_id)
        return HTMLResponse(await service.preview(session, subject, version, pk, values))


_routes(1, "/templates")
_routes(2, "/v2/templates")
