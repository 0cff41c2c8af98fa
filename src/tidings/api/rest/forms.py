"""Forms: POST /api/rest/form (and /forms), GET /forms, GET/PUT/DELETE /forms/{id}, GET /forms/{id}/preview."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from tidings.api import deps
from tidings.api.public.forms import render_form
from tidings.api.rest import pagination
from tidings.api.rest.schemas import ERRORS_AS_JSON, Meta, NrsError
from tidings.core import clock
from tidings.db.models import Form
from tidings.messaging.forms import fields, service
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.rest())]
Page = Annotated[int, Query(ge=1, le=pagination.MAX_PAGE)]
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
ElementType = Literal["h1", "h2", "h3", "h4", "p", "blockquote", "text", "password", "email", "number", "textarea",
                      "date", "color", "countrySelector", "select", "radio", "checkbox"]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": NrsError, "description": "Invalid JSON (125)"},
    401: {"model": NrsError, "description": "Username or password unknown (103), IP address not allowed (112)"},
    404: {"model": NrsError, "description": "Resource not found (404): unknown id or another account's form"},
    422: {"model": NrsError, "description": "Input validation error (422), the fields named"},
    429: {"model": NrsError, "description": "Too many requests"},
}


class FormOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=fields.MAX_LABEL)
    value: str | int | float = Field(union_mode="left_to_right")


class FormElement(BaseModel):
    """One element of the annex; options only for select and radio, rows only for textarea."""

    model_config = ConfigDict(extra="ignore")

    type: ElementType
    label: str = Field(min_length=1, max_length=fields.MAX_LABEL)
    required: bool = False
    description: str | None = Field(default=None, max_length=fields.MAX_LABEL)
    placeholder: str | None = Field(default=None, max_length=255)
    customField: str | None = Field(default=None, max_length=64)  # noqa: N815 - the document's names
    options: list[FormOption] | None = Field(default=None, max_length=fields.MAX_OPTIONS)
    rows: int | None = Field(default=None, ge=1, le=fields.MAX_ROWS)


def _absent(value: object) -> bool:
    return value is None


class StoredElement(BaseModel):
    """An element as stored and shown: the keys it was given (inputs always show `required`)."""

    type: ElementType
    label: str
    required: bool | None = Field(default=None, exclude_if=_absent)
    description: str | None = Field(default=None, exclude_if=_absent)
    placeholder: str | None = Field(default=None, exclude_if=_absent)
    customField: str | None = Field(default=None, exclude_if=_absent)  # noqa: N815
    options: list[FormOption] | None = Field(default=None, exclude_if=_absent)
    rows: int | None = Field(default=None, exclude_if=_absent)


class FormBody(BaseModel):
    """POST /form and PUT /forms/{id}: the whole definition (PUT replaces it)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255, pattern=r"\S")
    editable: bool = True
    rejectButton: bool = False  # noqa: N815
    backgroundUrl: HttpUrl | None = Field(default=None, max_length=2000)  # noqa: N815
    logoUrl: HttpUrl | None = Field(default=None, max_length=2000)  # noqa: N815
    formFields: list[FormElement] = Field(min_length=1, max_length=fields.MAX_FIELDS)  # noqa: N815


class FormData(BaseModel):
    """The documented keys (id, name, placeholder, createdAt, updatedAt), then the definition."""

    id: int
    name: str
    placeholder: str
    createdAt: str | None  # noqa: N815
    updatedAt: str | None  # noqa: N815
    editable: bool
    rejectButton: bool  # noqa: N815
    backgroundUrl: str | None  # noqa: N815
    logoUrl: str | None  # noqa: N815
    formFields: list[StoredElement]  # noqa: N815


class FormSummary(BaseModel):
    id: int
    name: str
    placeholder: str
    createdAt: str | None  # noqa: N815
    updatedAt: str | None  # noqa: N815


class FormEnvelope(BaseModel):
    data: FormData


class FormList(BaseModel):
    data: list[FormSummary]
    meta: Meta


def _iso(value: datetime | None) -> str | None:
    return None if value is None else clock.as_utc(value).replace(microsecond=0).isoformat()


def _summary(form: Form) -> dict[str, Any]:
    return {"id": service.public_id(form), "name": form.name, "placeholder": service.placeholder(form),
            "createdAt": _iso(form.created_at), "updatedAt": _iso(form.updated_at)}


def _data(form: Form) -> FormData:
    return FormData(**_summary(form), editable=form.editable, rejectButton=form.reject_button,
                    backgroundUrl=form.background_url, logoUrl=form.logo_url,
                    formFields=[StoredElement.model_validate(e) for e in form.fields or []])


def _definition(body: FormBody) -> service.Definition:
    elements = [e.model_dump(exclude_none=True) for e in body.formFields]
    return service.Definition(name=body.name, editable=body.editable, reject_button=body.rejectButton,
                              background_url=str(body.backgroundUrl) if body.backgroundUrl else None,
                              logo_url=str(body.logoUrl) if body.logoUrl else None, elements=elements)


async def _create(body: FormBody, session: deps.Session, subject: AuthSubject) -> FormEnvelope:
    form = await service.create(session, subject, _definition(body))
    await session.commit()
    return FormEnvelope(data=_data(form))


@router.post("/form", status_code=201, response_model=FormEnvelope, responses=ERRORS)
async def create_form(body: FormBody, session: deps.Session, subject: Caller) -> FormEnvelope:
    """Create a form; 201 with the form (its id is what `[form_{ID}]` links name)."""
    return await _create(body, session, subject)


@router.post("/forms", status_code=201, response_model=FormEnvelope, responses=ERRORS)
async def create_form_plural(body: FormBody, session: deps.Session, subject: Caller) -> FormEnvelope:
    """The same as POST /form: the document's examples call this path."""
    return await _create(body, session, subject)


@router.get("/forms", response_model=FormList, responses=ERRORS)
async def list_forms(request: Request, session: deps.Session, subject: Caller, page: Page = 1,
                     limit: Limit = pagination.DEFAULT_LIMIT) -> FormList:
    """The account's forms, oldest first, with `meta.pagination`."""
    rows, total = await service.list_page(session, subject, page, limit)
    data = [FormSummary(**_summary(f)) for f in rows]
    meta = pagination.meta(request, total=total, count=len(data), page=page, per_page=limit)
    return FormList(data=data, meta=Meta(**meta))


@router.get("/forms/{form_id}", response_model=FormEnvelope, responses=ERRORS)
async def show_form(form_id: str, session: deps.Session, subject: Caller) -> FormEnvelope:
    return FormEnvelope(data=_data(await service.get(session, subject, form_id)))


@router.put("/forms/{form_id}", response_model=FormEnvelope, responses=ERRORS)
async def update_form(form_id: str, body: FormBody, session: deps.Session, subject: Caller) -> FormEnvelope:
    """Replace the definition; answers already given stay on the contacts."""
    form = await service.update(session, subject, form_id, _definition(body))
    await session.commit()
    return FormEnvelope(data=_data(form))


@router.delete("/forms/{form_id}", status_code=204, response_class=Response, responses=ERRORS)
async def delete_form(form_id: str, session: deps.Session, subject: Caller) -> Response:
    """Delete the form; its links in messages already sent then answer "not valid"."""
    await service.delete(session, subject, form_id)
    await session.commit()
    return Response(status_code=204)


@router.get("/forms/{form_id}/preview", response_class=HTMLResponse,
            responses={200: {"description": "The form's page",
                             "content": {"text/html": {"schema": {"type": "string"}}}}, **ERRORS_AS_JSON})
async def preview_form(form_id: str, session: deps.Session, subject: Caller) -> HTMLResponse:
    """The form's page in HTML, as recipients see it (without sending anything)."""
    form = await service.get(session, subject, form_id)
    return HTMLResponse(render_form(form, preview=True))
