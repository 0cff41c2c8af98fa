"""Contacts of campaigns: create, show, search, list, interest, import and export."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.api import deps
from tidings.api.contract import ExactRoute, csv_response
from tidings.api.outreach_v1 import render, schemas
from tidings.api.outreach_v1.common import Caller, RowsCaller, SearchCaller, filter_pk, flag, page, pk
from tidings.core import csvsafe
from tidings.core.clock import epoch
from tidings.core.errors import ValidationFailed
from tidings.core.ids import Kind
from tidings.outreach.campaigns.service import client_of
from tidings.outreach.contacts import service
from tidings.outreach.fields import CONTACT_FIELDS
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
MAX_IMPORT_ROWS = 200_000
MAX_IMPORT_BYTES = 100 * 1024 * 1024
IMPORT_BATCH = 2000  # rows parsed, validated and written at a time: the import's memory does not grow with the file
SPOOL_IN_MEMORY = 1024 * 1024
# CSV columns that are not custom merge fields.
_KNOWN_COLUMNS = {*CONTACT_FIELDS, "timezone", "campaign_id", "custom_merge_fields"}


Scalar = str | int | float | None
FieldList = list[str | dict[str, Scalar]]


class ContactIn(BaseModel):
    """POST /contacts. Values are checked by the service, which names the field; unknown keys are ignored."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    campaign_id: str = Field(max_length=64)
    email: str
    first_name: Scalar = None
    last_name: Scalar = None
    company: Scalar = None
    industry: Scalar = None
    website: Scalar = None
    title: Scalar = None
    phone: Scalar = None
    address: Scalar = None
    city: Scalar = None
    state: Scalar = None
    country: Scalar = None
    timezone: Scalar = None
    custom_merge_fields: dict[str, Scalar | bool] | FieldList | None = None
    custom_merge_fields_php: dict[str, Scalar | bool] | FieldList | None = Field(
        default=None, alias="custom_merge_fields[]", description="The document's PHP-style spelling of the same")


class InterestIn(BaseModel):
    contact_id: str = Field(max_length=64)
    interest: str = Field(max_length=16)


class InterestRemove(BaseModel):
    contact_id: str = Field(max_length=64)


def _contact_body(body: dict[str, Any]) -> dict[str, Any]:
    data = dict(body)
    # The document's example sends the PHP-style key "custom_merge_fields[]" with bare values
    # (["aut"]). Laravel ignores what it does not know, so does this: its name/value entries count,
    # the rest is dropped rather than refused.
    legacy = data.pop("custom_merge_fields[]", None)
    if "custom_merge_fields" not in data and legacy is not None:
        data["custom_merge_fields"] = ([e for e in legacy if _is_field(e)] if isinstance(legacy, list)
                                       else legacy if isinstance(legacy, dict) else None)
    return data


def _is_field(entry: Any) -> bool:
    """An entry `custom_fields_from` reads as one field: {"name", "value"}, {name: value} or "name:value"."""
    if isinstance(entry, dict):
        return "name" in entry or len(entry) == 1
    return isinstance(entry, str) and ":" in entry


@router.post("/contacts", status_code=201, response_model=schemas.ContactList)
async def create_contact(session: deps.Session, subject: Caller, body: ContactIn) -> dict[str, Any]:
    """Add a contact to a campaign; `data` is an array, as documented."""
    if not body.campaign_id:
        raise ValidationFailed.on("campaign_id", "The campaign id field is required.")
    raw = body.model_dump(by_alias=True, exclude_unset=True)
    enrollment, contact, campaign = await service.create_contact(session, subject, pk(Kind.CAMPAIGN, body.campaign_id),
                                                                 _contact_body(raw))
    client = await client_of(session, campaign)
    await session.commit()
    return {"data": [render.contact(enrollment, contact, campaign, client)]}


@router.get("/contacts", response_model=schemas.ContactList)
async def search_contacts(session: deps.Session, subject: SearchCaller, email: str = Query(default="", max_length=320),
                          client_id: str | None = Query(default=None),
                          campaign_id: str | None = Query(default=None)) -> dict[str, Any]:
    """Contacts with an email address, optionally within one client or campaign."""
    rows = await service.search(
        session, subject, email=email,
        client_id=filter_pk(Kind.CLIENT, client_id) if client_id else None, filter_client=bool(client_id),
        campaign_id=filter_pk(Kind.CAMPAIGN, campaign_id) if campaign_id else None,
        filter_campaign=bool(campaign_id))
    clients: dict[int, Any] = {}
    out = []
    for enrollment, contact, campaign in rows:
        if campaign.client_id is not None and campaign.client_id not in clients:
            clients[campaign.client_id] = await client_of(session, campaign)
        out.append(render.contact(enrollment, contact, campaign, clients.get(campaign.client_id or 0),
                                  flags_as_int=True))
    return {"data": out}


@router.get("/contacts/{contact_id}", response_model=schemas.ContactOne)
async def show_contact(contact_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """A contact with its campaign."""
    enrollment, contact, campaign = await service.show(session, subject, pk(Kind.ENROLLMENT, contact_id))
    return {"data": render.contact(enrollment, contact, campaign, await client_of(session, campaign))}


@router.put("/contact-interest", response_model=schemas.Message)
async def update_interest(body: InterestIn, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Set a contact's interest to POSITIVE, NEUTRAL or NEGATIVE."""
    interest = body.interest.strip().upper()
    if interest not in ("POSITIVE", "NEUTRAL", "NEGATIVE"):
        raise ValidationFailed.on("interest", "The selected interest is invalid.")
    await service.set_interest(session, subject, pk(Kind.ENROLLMENT, body.contact_id), interest)
    await session.commit()
    return {"message": "Interest updated."}


@router.delete("/contact-interest", response_model=schemas.Message)
async def remove_interest(body: InterestRemove, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Set a contact's interest to UNMARKED."""
    await service.set_interest(session, subject, pk(Kind.ENROLLMENT, body.contact_id), "UNMARKED")
    await session.commit()
    return {"message": "Interest UNMARKED."}


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value is None or value == "":
        return None
    upper = value.strip().upper()
    if upper not in allowed:
        raise ValidationFailed.on(name, f"The selected {name} is invalid.")
    return upper


@router.get("/campaigns/{campaign_id}/contacts", response_model=schemas.ContactList)
async def list_contacts(
    campaign_id: str, session: deps.Session, subject: Caller,
    status: str | None = Query(default=None, max_length=32), interest: str | None = Query(default=None, max_length=32),
    emails_sent: int | None = Query(default=None, ge=0, le=1_000_000),
    is_missing_data: str | None = Query(default=None, max_length=8),
    is_suppressed: str | None = Query(default=None, max_length=8),
    limit: int | None = Query(default=None), offset: int | None = Query(default=None, le=10_000_000),
) -> dict[str, Any]:
    """A page of a campaign's contacts (limit default 100, max 500); flags render as 0/1, as documented."""
    size, start = page(limit, offset, default=100, maximum=500)
    campaign, rows = await service.list_contacts(
        session, subject, pk(Kind.CAMPAIGN, campaign_id), status=_choice(status, service.STATUSES, "status"),
        interest=_choice(interest, service.INTERESTS, "interest"), emails_sent=emails_sent,
        is_missing_data=flag(is_missing_data, "is_missing_data"), is_suppressed=flag(is_suppressed, "is_suppressed"),
        limit=size, offset=start)
    return {"data": [render.contact(e, c, campaign, flags_as_int=True, nest_campaign=False) for e, c in rows]}


def _csv_batches(text: Iterable[str]) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """(line, fields) rows of a CSV text stream, IMPORT_BATCH at a time; custom columns become merge fields."""
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise ValidationFailed.on("file", "The file is empty.") from exc
    except csv.Error as exc:
        raise ValidationFailed.on("file", f"The file is not valid CSV: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValidationFailed.on("file", "The file must be UTF-8 encoded CSV.") from exc
    names = [h.strip().lower() if h.strip().lower() in _KNOWN_COLUMNS else h.strip() for h in header]
    if "email" not in names:
        raise ValidationFailed.on("file", "The file needs an email column.")
    rows: list[tuple[int, dict[str, Any]]] = []
    count = 0
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            line = reader.line_num
            data: dict[str, Any] = {}
            custom: dict[str, str] = {}
            for name, cell in zip(names, cells, strict=False):
                if not name:
                    continue
                if name in _KNOWN_COLUMNS:
                    data[name] = cell
                elif cell.strip():
                    custom[name] = cell.strip()
            data["custom_merge_fields"] = custom
            rows.append((line, data))
            count += 1
            if count > MAX_IMPORT_ROWS:
                raise ValidationFailed.on("file", f"At most {MAX_IMPORT_ROWS} rows can be imported at once.")
            if len(rows) >= IMPORT_BATCH:
                yield rows
                rows = []
    except csv.Error as exc:
        raise ValidationFailed.on("file", f"The file is not valid CSV near line {reader.line_num}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValidationFailed.on("file", "The file must be UTF-8 encoded CSV.") from exc
    if rows:
        yield rows


def _text(binary: BinaryIO) -> io.TextIOWrapper:
    # utf-8-sig drops a byte-order mark; newline="" lets the csv module see quoted line breaks.
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


async def _spool_body(request: Request, spool: BinaryIO) -> None:
    """Copy the request body into `spool` chunk by chunk (a file that stays in memory only while small)."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise ValidationFailed.on("file", f"The file may be at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
        spool.write(chunk)
    spool.seek(0)


async def _import(request: Request, importer: service.Importer) -> None:
    """Feed the importer from a multipart upload (field `file`), a CSV body or a JSON array, batch by batch."""
    kind = request.headers.get("content-type", "").lower()
    if kind.startswith("multipart/form-data"):
        # Starlette spools the upload to a temporary file as it arrives; it is parsed from there in batches.
        form = await request.form(max_files=1, max_fields=10, max_part_size=MAX_IMPORT_BYTES)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationFailed.on("file", "The file field is required.")
        await upload.seek(0)
        for batch in _csv_batches(_text(upload.file)):
            await importer.add(batch)
        return
    if kind.startswith("text/csv"):
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            await _spool_body(request, spool)  # type: ignore[arg-type]
            for batch in _csv_batches(_text(spool)):  # type: ignore[arg-type]
                await importer.add(batch)
        return
    raw = await request.body()
    try:
        items = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed.on("body", "The request body is not valid JSON.") from exc
    if isinstance(items, dict) and isinstance(items.get("contacts"), list):
        items = items["contacts"]
    if not isinstance(items, list):
        raise ValidationFailed.on("body", "Send a JSON array of contacts or a CSV file.")
    if len(items) > MAX_IMPORT_ROWS:
        raise ValidationFailed.on("body", f"At most {MAX_IMPORT_ROWS} rows can be imported at once.")
    for i in range(0, len(items), IMPORT_BATCH):
        await importer.add([(n + 1, _contact_body(item) if isinstance(item, dict) else {})
                            for n, item in enumerate(items[i:i + IMPORT_BATCH], start=i)])


@router.post("/campaigns/{campaign_id}/contacts/import", response_model=schemas.ImportReportOne, openapi_extra={
    "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/ContactIn"}}},
        "text/csv": {"schema": {"type": "string"}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                           "properties": {"file": {"type": "string", "format": "binary"}}}}}}})
async def import_contacts(campaign_id: str, request: Request, session: deps.Session, subject: RowsCaller
                          ) -> dict[str, Any]:
    """Upsert contacts by email from a CSV upload (field `file`) or a JSON array; returns counts."""
    subject.require("create_campaigns")
    importer = await service.start_import(session, subject, pk(Kind.CAMPAIGN, campaign_id))
    await _import(request, importer)
    report = importer.finish()
    await session.commit()
    return {"data": {"created": report.created, "updated": report.updated, "suppressed": len(report.suppressed),
                     "invalid": len(report.invalid), "suppressed_lines": report.suppressed,
                     "errors": report.invalid}}


@router.get("/campaigns/{campaign_id}/contacts/export", response_class=Response,
            responses={**csv_response("The campaign's contacts as CSV"), **schemas.ERRORS_AS_JSON})
async def export_contacts(campaign_id: str, session: deps.Session, subject: Caller) -> Response:
    """CSV of a campaign's contacts with status, interest and step counts."""
    return await contacts_csv(session, subject, campaign_id)


async def contacts_csv(session: AsyncSession, subject: AuthSubject, campaign_id: str) -> Response:
    """The export as a download (the dashboard offers the same file)."""
    campaign, rows = await service.export_rows(session, subject, pk(Kind.CAMPAIGN, campaign_id))
    custom = sorted({k for _, c in rows for k in (c.custom_fields or {})})
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(["id", *CONTACT_FIELDS, "timezone", "status", "interest", "emails_sent", "completed_steps",
                     "is_missing_data", "is_suppressed", "created_at", *custom])
    for enrollment, contact in rows:
        data = render.contact(enrollment, contact, campaign, flags_as_int=True, nest_campaign=False)
        fields = contact.custom_fields or {}
        writer.writerow([data["id"], *[data[f] or "" for f in CONTACT_FIELDS], data["timezone"] or "",
                         enrollment.status, enrollment.interest, enrollment.emails_sent, enrollment.completed_steps,
                         data["is_missing_data"], data["is_suppressed"], epoch(enrollment.created_at),
                         *[fields.get(k, "") for k in custom]])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="contacts-{campaign_id}.csv"'})
