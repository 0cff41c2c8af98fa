"""Outreach contacts: a person enrolled in one campaign (an Enrollment joined to its Contact).

Every enrollment has its own Contact row, so a contact's fields belong to the campaign it was
added to, as in the Wavo document where each contact object carries one campaign.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.emails import email_key, normalize_email
from tidings.core.errors import ValidationFailed
from tidings.core.headerfields import require_single_line
from tidings.db.base import table_of
from tidings.db.models import Campaign, Contact, Enrollment
from tidings.db.plain_writes import insert_rows, insert_rows_returning_ids
from tidings.outreach import access, counters
from tidings.outreach.campaigns.service import check_timezone, steps_of
from tidings.outreach.fields import CONTACT_FIELDS, is_missing_data, merge_fields, templates
from tidings.outreach.suppressions.service import suppressed_keys
from tidings.outreach.text import require_storable
from tidings.tenancy.subject import AuthSubject

STATUSES = ("OK", "REPLIED", "UNSUBSCRIBED", "BOUNCED", "AUTOREPLIED", "MISSING-DATA", "STOPPED")
INTERESTS = ("UNMARKED", "POSITIVE", "NEUTRAL", "NEGATIVE")
# Column widths of the Contact model; longer values are a validation error, not a database error.
MAX_LEN = {"email": 320, "first_name": 200, "last_name": 200, "company": 255, "industry": 255, "website": 500,
           "title": 255, "phone": 32, "address": 500, "city": 200, "state": 200, "country": 100, "timezone": 64}
MAX_CUSTOM_FIELDS = 100

Row = tuple[Enrollment, Contact, Campaign]


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    suppressed: list[int] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)


def custom_fields_from(raw: Any, where: str = "custom_merge_fields") -> dict[str, str]:
    """Accept {"name": "value"}, [{"name": ..., "value": ...}] or ["name:value"]."""
    if raw is None:
        return {}
    out: dict[str, str] = {}
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, list):
        items = []
        for entry in raw:
            if isinstance(entry, Mapping) and "name" in entry:
                items.append((entry.get("name"), entry.get("value")))
            elif isinstance(entry, Mapping) and len(entry) == 1:
                items.extend(entry.items())
            elif isinstance(entry, str) and ":" in entry:
                name, _, value = entry.partition(":")
                items.append((name.strip(), value.strip()))
            else:
                raise ValidationFailed.on(where, f"The {where} must map field names to values.")
    else:
        raise ValidationFailed.on(where, f"The {where} must map field names to values.")
    for name, value in items:
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ValidationFailed.on(where, f"The {where} names must be non-empty strings of up to 100 characters.")
        if value is not None and (not isinstance(value, (str, int, float, bool)) or _non_finite(value)):
            raise ValidationFailed.on(where, f"The {where} values must be strings.")
        require_storable(name, where)
        text = "" if value is None else str(value)
        require_storable(text, f"{where}.{name.strip()}")
        out[name.strip()] = text
    if len(out) > MAX_CUSTOM_FIELDS:
        raise ValidationFailed.on(where, f"At most {MAX_CUSTOM_FIELDS} {where} are allowed.")
    return out


def _non_finite(value: Any) -> bool:
    """NaN and infinities, which Python's JSON parser accepts but no contact field means."""
    return isinstance(value, float) and not math.isfinite(value)


@lru_cache(maxsize=4096)
def _valid_zone(name: str) -> bool:
    """Whether a contact's zone is one the campaigns accept (cached: imports repeat a few zones)."""
    try:
        check_timezone(name)
    except ValidationFailed:
        return False
    return True


# Standard columns that reach headers: names in To, any of them merged into a subject. A postal
# address may span lines (it is merged into bodies; a subject flattens it).
HEADER_BOUND = frozenset(CONTACT_FIELDS) - {"email", "address"}


def clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one contact's columns; raises ValidationFailed naming the field."""
    out: dict[str, Any] = {}
    raw_email = data.get("email")
    if not isinstance(raw_email, str) or not raw_email.strip():
        raise ValidationFailed.on("email", "The email field is required.")
    require_storable(raw_email, "email")
    email = normalize_email(raw_email)
    if email is None:
        raise ValidationFailed.on("email", "The email must be a valid email address.")
    out["email"] = email
    for name in (*CONTACT_FIELDS[1:], "timezone"):
        value = data.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or _non_finite(value):
            raise ValidationFailed.on(name, f"The {name} must be a string.")
        text = str(value).strip()
        require_storable(text, name)
        if name in HEADER_BOUND:
            require_single_line(text, name)
        if len(text) > MAX_LEN[name]:
            raise ValidationFailed.on(name, f"The {name} may not be greater than {MAX_LEN[name]} characters.")
        if name == "timezone" and text and not _valid_zone(text):
            raise ValidationFailed.on(name, "The timezone must be a valid zone.")
        if text:
            out[name] = text
    if len(email) > MAX_LEN["email"]:
        raise ValidationFailed.on("email", "The email may not be greater than 320 characters.")
    out["custom_fields"] = custom_fields_from(data.get("custom_merge_fields"))
    return out


async def _campaign_for_write(session: AsyncSession, subject: AuthSubject, campaign_id: int | None) -> Campaign:
    subject.require("create_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    if campaign.status in ("STOPPED", "COMPLETED"):
        raise ValidationFailed.on("campaign_id", f"Contacts cannot be added to a {campaign.status} campaign.")
    return campaign


def _with_key(campaign: Campaign, keys: Sequence[str]) -> tuple[ColumnElement[bool], ...]:
    """A campaign's contacts by address. The account is named so that the lookup goes through the
    (account, address) index: without it SQLite walks every enrollment of the campaign per lookup."""
    return Contact.account_id == campaign.account_id, Contact.email_key.in_(keys)


async def create_contact(session: AsyncSession, subject: AuthSubject, campaign_id: int | None,
                         data: Mapping[str, Any]) -> Row:
    """Add one contact to a campaign; an address already in the campaign is a validation error."""
    campaign = await _campaign_for_write(session, subject, campaign_id)
    values = clean(data)
    key = values["email"].lower()
    dup = (await session.execute(
        select(Enrollment.id).join(Contact, Contact.id == Enrollment.contact_id)
        .where(Enrollment.campaign_id == campaign.id, *_with_key(campaign, [key])))).first()
    if dup is not None:
        raise ValidationFailed.on("email", "The email has already been taken in this campaign.")
    await _insert(session, campaign, [(0, values)])
    row = (await session.execute(
        select(Enrollment, Contact).join(Contact, Contact.id == Enrollment.contact_id)
        .where(Enrollment.campaign_id == campaign.id, *_with_key(campaign, [key])))).one()
    return row[0], row[1], campaign


async def _insert(session: AsyncSession, campaign: Campaign, rows: Sequence[tuple[int, dict[str, Any]]]
                  ) -> ImportReport:
    """Bulk-insert new contacts and their enrollments; flags suppressed and missing-data ones."""
    report = ImportReport()
    if not rows:
        return report
    now = clock.now()
    tmpls = [t for t in templates(await steps_of(session, campaign.id)) if "{{" in t]
    keys = [v["email"].lower() for _, v in rows]
    blocked = await suppressed_keys(session, account_id=campaign.account_id, client_id=campaign.client_id, keys=keys)
    # One list shared by the rows: the insert serialises a document the rows share once.
    tags: list[str] = []
    contact_rows = [{**{k: None for k in (*CONTACT_FIELDS, "timezone")}, **v, "email_key": k,
                     "account_id": campaign.account_id, "client_id": campaign.client_id, "tags": tags,
                     "created_at": now, "updated_at": now}
                    for (_, v), k in zip(rows, keys, strict=True)]
    contact_ids = await insert_rows_returning_ids(session, table_of(Contact), contact_rows)
    running = campaign.status == "RUNNING"
    enrollment_rows = []
    for (line, values), key, contact_id in zip(rows, keys, contact_ids, strict=True):
        suppressed = key in blocked
        if suppressed:
            report.suppressed.append(line)
        enrollment_rows.append({
            "account_id": campaign.account_id, "campaign_id": campaign.id, "contact_id": contact_id,
            "status": "UNSUBSCRIBED" if suppressed else "OK", "interest": "UNMARKED",
            "is_suppressed": suppressed,
            "is_missing_data": bool(tmpls) and is_missing_data(merge_fields(values), tmpls),
            "emails_sent": 0, "completed_steps": 0, "next_step": 1,
            "next_due_at": now if running and not suppressed else None,
            "created_at": now, "updated_at": now})
    await insert_rows(session, table_of(Enrollment), enrollment_rows)
    report.created = len(rows)
    return report


class Importer:
    """An import fed in batches (the API streams a large file through it): memory stays flat in the file's size.

    A later row for the same address wins, as in a sequence of upserts; an address met again in a
    later batch counts once, as it was first counted (created or updated). Nothing is committed here.
    """

    def __init__(self, session: AsyncSession, campaign: Campaign, tmpls: list[str]) -> None:
        self.session, self.campaign, self.tmpls = session, campaign, tmpls
        self.report = ImportReport()
        self._seen: set[str] = set()  # addresses counted by an earlier batch, as created or updated

    async def add(self, rows: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        """Validate, update the existing contacts and insert the new ones of one batch."""
        session, campaign, report = self.session, self.campaign, self.report
        valid: dict[str, tuple[int, dict[str, Any]]] = {}
        for line, data in rows:
            try:
                values = clean(data)
            except ValidationFailed as exc:
                report.invalid.append({"line": line, "message": exc.message})
                continue
            valid[values["email"].lower()] = (line, values)
        existing: dict[str, tuple[Contact, int, bool]] = {}
        keys = list(valid)
        for i in range(0, len(keys), 500):
            stmt = (select(Contact, Enrollment.id, Enrollment.is_missing_data)
                    .join(Enrollment, Enrollment.contact_id == Contact.id)
                    .where(Enrollment.campaign_id == campaign.id, *_with_key(campaign, keys[i:i + 500])))
            existing.update({c.email_key or "": (c, eid, flag) for c, eid, flag in (await session.execute(stmt))})
        fresh: list[tuple[int, dict[str, Any]]] = []
        flips: dict[bool, list[int]] = {True: [], False: []}
        now = clock.now()
        for key, (line, values) in valid.items():
            found = existing.get(key)
            if found is None:
                fresh.append((line, values))
                continue
            contact, enrollment_id, flag = found
            for name, value in values.items():
                if name == "custom_fields":
                    if value:
                        contact.custom_fields = {**(contact.custom_fields or {}), **value}
                elif name != "email":
                    setattr(contact, name, value)
            contact.updated_at = now
            if key not in self._seen:
                report.updated += 1
            missing = bool(self.tmpls) and is_missing_data(merge_fields(contact), self.tmpls)
            if missing != flag:
                flips[missing].append(enrollment_id)
        inserted = await _insert(session, campaign, fresh)
        report.created += inserted.created
        report.suppressed.extend(inserted.suppressed)
        self._seen.update(valid)
        for value, ids_ in flips.items():
            for i in range(0, len(ids_), 500):
                await session.execute(update(Enrollment).where(Enrollment.id.in_(ids_[i:i + 500]))
                                      .values(is_missing_data=value))
        # Written out now, so that the batch's objects can be released before the next batch is read.
        await session.flush()

    def finish(self) -> ImportReport:
        self.report.suppressed.sort()
        self.report.invalid.sort(key=lambda e: int(e["line"]))
        return self.report


async def start_import(session: AsyncSession, subject: AuthSubject, campaign_id: int | None) -> Importer:
    """An importer into a campaign the caller may write to."""
    campaign = await _campaign_for_write(session, subject, campaign_id)
    return Importer(session, campaign, [t for t in templates(await steps_of(session, campaign.id)) if "{{" in t])


async def import_contacts(session: AsyncSession, subject: AuthSubject, campaign_id: int | None,
                          rows: Sequence[tuple[int, Mapping[str, Any]]]) -> ImportReport:
    """Upsert rows by email within the campaign; invalid rows are reported with their line."""
    importer = await start_import(session, subject, campaign_id)
    await importer.add(rows)
    return importer.finish()


async def show(session: AsyncSession, subject: AuthSubject, enrollment_id: int | None) -> Row:
    subject.require("view_campaigns")
    return await access.enrollment(session, subject, enrollment_id)


def _joined() -> Any:
    return (select(Enrollment, Contact, Campaign)
            .join(Contact, Contact.id == Enrollment.contact_id)
            .join(Campaign, Campaign.id == Enrollment.campaign_id))


async def search(session: AsyncSession, subject: AuthSubject, *, email: str, client_id: int | None = None,
                 campaign_id: int | None = None, filter_client: bool = False,
                 filter_campaign: bool = False) -> list[Row]:
    """Contacts with this address in the subject's campaigns, optionally of one client or campaign."""
    subject.require("view_campaigns")
    if not email or not email.strip():
        raise ValidationFailed.on("email", "The email field is required.")
    # The contact's account is the campaign's: naming it lets the lookup use the (account, address) index.
    stmt = access.in_visible_campaigns(_joined(), subject).where(Contact.account_id == subject.account_id,
                                                                 Contact.email_key == email_key(email))
    if filter_client:
        stmt = stmt.where(Campaign.client_id == client_id)
    if filter_campaign:
        stmt = stmt.where(Campaign.id == campaign_id)
    rows = (await session.execute(stmt.order_by(Enrollment.id).limit(500))).all()
    return [(e, c, cp) for e, c, cp in rows]


async def list_contacts(session: AsyncSession, subject: AuthSubject, campaign_id: int | None, *,
                        status: str | None = None, interest: str | None = None, emails_sent: int | None = None,
                        is_missing_data: bool | None = None, is_suppressed: bool | None = None,
                        limit: int = 100, offset: int = 0) -> tuple[Campaign, list[tuple[Enrollment, Contact]]]:
    """A page of a campaign's contacts, oldest first, with the documented filters."""
    subject.require("view_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    stmt = (select(Enrollment, Contact).join(Contact, Contact.id == Enrollment.contact_id)
            .where(Enrollment.campaign_id == campaign.id))
    if status is not None:
        stmt = stmt.where(Enrollment.status == status)
    if interest is not None:
        stmt = stmt.where(Enrollment.interest == interest)
    if emails_sent is not None:
        stmt = stmt.where(Enrollment.emails_sent == emails_sent)
    if is_missing_data is not None:
        stmt = stmt.where(Enrollment.is_missing_data.is_(is_missing_data))
    if is_suppressed is not None:
        stmt = stmt.where(Enrollment.is_suppressed.is_(is_suppressed))
    rows = (await session.execute(stmt.order_by(Enrollment.id).limit(limit).offset(offset))).all()
    return campaign, [(e, c) for e, c in rows]


async def set_interest(session: AsyncSession, subject: AuthSubject, enrollment_id: int | None, interest: str) -> Row:
    """Mark a contact's interest and move the campaign's interest counters with it."""
    subject.require("create_campaigns")
    if interest not in INTERESTS:
        raise ValidationFailed.on("interest", "The selected interest is invalid.")
    enrollment, contact, campaign = await access.enrollment(session, subject, enrollment_id)
    old = enrollment.interest or "UNMARKED"
    if old != interest:
        # Attribute a positive answer to the last step the contact received, as the engine does.
        step = enrollment.completed_steps or None
        await counters.interest_changed(session, account_id=campaign.account_id, campaign_id=campaign.id,
                                        old=old, new=interest, step=step)
        enrollment.interest = interest
        enrollment.updated_at = clock.now()
        await session.flush()
    return enrollment, contact, campaign


async def export_rows(session: AsyncSession, subject: AuthSubject, campaign_id: int | None
                      ) -> tuple[Campaign, list[tuple[Enrollment, Contact]]]:
    """Every contact of a campaign for the CSV export."""
    subject.require("export_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    stmt = (select(Enrollment, Contact).join(Contact, Contact.id == Enrollment.contact_id)
            .where(Enrollment.campaign_id == campaign.id).order_by(Enrollment.id))
    return campaign, [(e, c) for e, c in (await session.execute(stmt)).all()]


async def count_in_campaign(session: AsyncSession, campaign_id: int) -> int:
    stmt = select(func.count()).select_from(Enrollment).where(Enrollment.campaign_id == campaign_id)
    return int((await session.execute(stmt)).scalar_one())

