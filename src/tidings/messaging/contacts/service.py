"""The account's contact database: one contact per email and per phone, in named groups.

These are the contacts the messaging API's `/contacts` and `/groups` manage, the CSV import and
export work on, and SMS and mailings link their messages to (their custom fields fill the
placeholders). Outreach enrollments keep their own per-campaign rows (`in_database` false).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.emails import email_key, normalize_email
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.phones import normalize_phone, normalize_phone_typed
from tidings.db.models import Contact, Group
from tidings.messaging.contacts import repository as repo
from tidings.tenancy.subject import AuthSubject

FIELD_TYPES = ("string", "date", "decimal")
MAX_CUSTOM_FIELDS = 100
MAX_KEY = 100
MAX_VALUE = 1000
MAX_NAME = 200  # Contact.first_name / last_name
MAX_EXTERNAL_ID = 255
MAX_GROUP_NAME = 255
MAX_GROUPS = 100
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def invalid(field: str, message: str) -> ValidationFailed:
    """A 422 naming the field, with the message as the envelope's description (as in the document)."""
    return ValidationFailed(message, fields={field: [message]}, description=message)


@dataclass
class ContactData:
    """A validated contact; a field not in `given` was not in the request and is left as it is."""

    given: set[str] = field(default_factory=set)
    email: str | None = None
    phone: str | None = None
    landline: str | None = None
    country_iso: str | None = None
    name: str | None = None
    surname: str | None = None
    external_id: str | None = None
    # key -> (type, value); a None value removes the field.
    custom: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    @property
    def email_key(self) -> str | None:
        # `email` is already normalised: its key is the lower-cased form (core.emails.email_key).
        return self.email.lower() if self.email else None


@dataclass
class Saved:
    contact_id: int
    created: bool
    matched_by: str | None = None  # "email" or "phone" when an existing contact was updated


@dataclass
class Refused:
    field: str
    message: str


def _text(raw: Any, name: str, limit: int) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise invalid(name, f"The {name} must be a string.")
    value = str(raw).strip()
    if len(value) > limit:
        raise invalid(name, f"The {name} may not be greater than {limit} characters.")
    return value or None


def _country(raw: Any) -> str | None:
    value = _text(raw, "countryIso", 2)
    if value is None:
        return None
    value = value.upper()
    if not (len(value) == 2 and value.isalpha() and phonenumbers.country_code_for_region(value)):
        raise invalid("countryIso", "The selected countryIso is invalid.")
    return value


def _number(raw: Any, name: str, country: str | None) -> str | None:
    value = _text(raw, name, 64)
    if value is None:
        return None
    if country is None:
        raise invalid("countryIso", f"The countryIso field is required when {name} is present.")
    read = normalize_phone_typed(value, country)
    if read is None:
        raise invalid(name, f"The {name} is not a valid phone number for countryIso {country}.")
    if name == "phone" and not read[1]:
        raise invalid(name, "The phone must be a mobile phone number.")
    return read[0]


def typed_value(kind: str, raw: Any, where: str) -> str | None:
    """A custom field's value checked against its type, as stored (ISO 8601 dates, plain decimals)."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise invalid(where, f"The {where} must be a string.")
    value = str(raw).strip()
    if len(value) > MAX_VALUE:
        raise invalid(where, f"The {where} may not be greater than {MAX_VALUE} characters.")
    if kind == "date":
        try:
            parsed: date = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            raise invalid(where, f"The {where} is not a valid ISO 8601 date.") from None
        return parsed.isoformat()
    if kind == "decimal":
        try:
            number = Decimal(value) if _DECIMAL.fullmatch(value) else None
        except InvalidOperation:
            number = None
        if number is None:
            raise invalid(where, f"The {where} is not a valid decimal number.")
        return value.lstrip("+")
    return value


def custom_fields(raw: Any) -> dict[str, tuple[str, str | None]]:
    """The documented `customFields` list of `{key, type, value}` (type string by default)."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise invalid("customFields", "The customFields must be an array.")
    if len(raw) > MAX_CUSTOM_FIELDS:
        raise invalid("customFields", f"The customFields may not have more than {MAX_CUSTOM_FIELDS} items.")
    out: dict[str, tuple[str, str | None]] = {}
    for i, entry in enumerate(raw):
        where = f"customFields.{i}"
        if not isinstance(entry, Mapping):
            raise invalid(where, f"The {where} must be an object with key, type and value.")
        key = _text(entry.get("key"), f"{where}.key", MAX_KEY)
        if key is None:
            raise invalid(f"{where}.key", f"The {where}.key field is required.")
        kind = entry.get("type") if entry.get("type") is not None else "string"
        if kind not in FIELD_TYPES:
            raise invalid(f"{where}.type", f"The {where}.type must be one of: {', '.join(FIELD_TYPES)}.")
        out[key] = (kind, typed_value(kind, entry.get("value"), f"{where}.value"))
    return out


def clean(raw: Mapping[str, Any], *, country: str | None = None) -> ContactData:
    """Validate the documented fields of a contact; `country` is the stored country (updates)."""
    data = ContactData(given={k for k in raw if k in ("email", "phone", "landline", "countryIso", "name", "surname",
                                                        "externalId", "customFields")})
    data.country_iso = _country(raw.get("countryIso"))
    read_in = data.country_iso or country
    if raw.get("email") is not None:
        email = _text(raw.get("email"), "email", 320)
        data.email = normalize_email(email) if email else None
        if email and data.email is None:
            raise invalid("email", "The email must be a valid email address.")
    data.phone = _number(raw.get("phone"), "phone", read_in)
    data.landline = _number(raw.get("landline"), "landline", read_in)
    data.name = _text(raw.get("name"), "name", MAX_NAME)
    data.surname = _text(raw.get("surname"), "surname", MAX_NAME)
    data.external_id = _text(raw.get("externalId"), "externalId", MAX_EXTERNAL_ID)
    data.custom = custom_fields(raw.get("customFields"))
    return data


def require_reachable(email: str | None, phone: str | None, landline: str | None) -> None:
    """The document's rule: email, phone or landline, at least one."""
    if not (email or phone or landline):
        raise invalid("email", "The email field is required.")


def _columns(data: ContactData) -> dict[str, Any]:
    """The Contact columns a cleaned contact sets (only what was given, and not empty)."""
    values = {"email": data.email, "email_key": data.email_key, "phone": data.phone, "landline": data.landline,
              "country_iso": data.country_iso, "first_name": data.name, "last_name": data.surname,
              "external_id": data.external_id}
    return {k: v for k, v in values.items() if v is not None}


def _merge_custom(contact: Contact, custom: Mapping[str, tuple[str, str | None]]) -> None:
    values, types = dict(contact.custom_fields or {}), dict(contact.custom_field_types or {})
    _apply_custom(values, types, custom)
    contact.custom_fields, contact.custom_field_types = values, types


def typed_custom_fields(contact: Contact) -> list[tuple[str, str, str]]:
    """(key, type, value) of a contact's custom fields, by key."""
    types = contact.custom_field_types or {}
    return [(str(k), str(types.get(k, "string")), str(v))
            for k, v in sorted((contact.custom_fields or {}).items()) if v is not None]


def template_fields(contact: Contact) -> dict[str, str]:
    """A contact's values for a message's `{placeholders}`: its fields, then its custom fields."""
    values = {"name": contact.first_name, "surname": contact.last_name, "lastName": contact.last_name,
              "email": contact.email, "phone": contact.phone, "landline": contact.landline,
              "company": contact.company, "countryIso": contact.country_iso, "externalId": contact.external_id}
    out = {k: str(v) for k, v in values.items() if v}
    out.update({str(k): str(v) for k, v in (contact.custom_fields or {}).items() if v is not None})
    return out


@dataclass
class _New:
    """A contact this batch inserts; later rows of the batch for the same person update its row."""

    row: dict[str, Any]
    id: int = 0


def _apply_custom(values: dict[str, Any], types: dict[str, Any], custom: Mapping[str, tuple[str, str | None]]) -> None:
    for key, (kind, value) in custom.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
        if value is None or kind == "string":
            types.pop(key, None)
        else:
            types[key] = kind


async def upsert(session: AsyncSession, subject: AuthSubject, rows: Sequence[ContactData],
                 group_ids: Iterable[int]) -> list[Saved | Refused]:
    """Create or update contacts (matched by email, then phone) and add them to the groups.

    Rows are applied in order, so a later row for the same person updates what an earlier one made.
    """
    groups = sorted(set(group_ids))
    existing = await repo.matching(session, subject, {k for r in rows if (k := r.email_key)},
                                   {r.phone for r in rows if r.phone})
    by_email: dict[str, Contact | _New] = {c.email_key: c for c in existing if c.email_key}
    by_phone: dict[str, Contact | _New] = {c.phone: c for c in existing if c.phone}
    now = clock.now()
    outcomes: list[tuple[Contact | _New, bool, str | None] | Refused] = []
    fresh: list[_New] = []
    updated: dict[int, Contact] = {}
    for data in rows:
        key = data.email_key
        a = by_email.get(key) if key else None
        b = by_phone.get(data.phone) if data.phone else None
        if a is not None and b is not None and a is not b:
            outcomes.append(Refused("phone", "The phone belongs to another contact than the email."))
            continue
        target = a if a is not None else b
        if target is None:
            if not (data.email or data.phone or data.landline):
                outcomes.append(Refused("email", "The email field is required."))
                continue
            target = _New({**_new_row(subject, now), **_columns(data)})
            _apply_custom(target.row["custom_fields"], target.row["custom_field_types"], data.custom)
            fresh.append(target)
            outcomes.append((target, True, None))
        else:
            matched = "email" if a is not None else "phone"
            if isinstance(target, _New):
                target.row.update(_columns(data))
                _apply_custom(target.row["custom_fields"], target.row["custom_field_types"], data.custom)
            else:
                for name, value in _columns(data).items():
                    setattr(target, name, value)
                _merge_custom(target, data.custom)
                target.updated_at = now
                updated[target.id] = target
            outcomes.append((target, False, matched))
        email, phone = ((target.row.get("email_key"), target.row.get("phone")) if isinstance(target, _New)
                        else (target.email_key, target.phone))
        if email:
            by_email[email] = target
        if phone:
            by_phone[phone] = target
    if updated:
        await session.flush()
    for new, pk in zip(fresh, await repo.insert_contacts(session, [n.row for n in fresh]), strict=True):
        new.id = pk
    result: list[Saved | Refused] = []
    for outcome in outcomes:
        if isinstance(outcome, Refused):
            result.append(outcome)
        else:
            target, created, matched_by = outcome
            result.append(Saved(target.id, created=created and matched_by is None, matched_by=matched_by))
    if groups:
        members = {o.contact_id for o in result if isinstance(o, Saved)}
        have = await repo.memberships(session, list(updated)) if updated else set()
        await repo.add_members(session, {(g, c) for c in members for g in groups} - have)
    return result


def _new_row(subject: AuthSubject, now: datetime) -> dict[str, Any]:
    """Every column of a new database contact (a bulk insert needs the same keys in each row)."""
    return {"account_id": subject.account_id, "client_id": subject.client_id, "in_database": True,
            "email": None, "email_key": None, "phone": None, "landline": None, "first_name": None,
            "last_name": None, "company": None, "title": None, "industry": None, "website": None, "address": None,
            "city": None, "state": None, "country": None, "timezone": None, "tags": [], "external_id": None,
            "country_iso": None, "custom_fields": {}, "custom_field_types": {}, "created_at": now, "updated_at": now}


async def create(session: AsyncSession, subject: AuthSubject, data: ContactData, group_ids: Sequence[int]
                 ) -> tuple[Contact, Saved]:
    """POST /contacts: a new contact, or the existing one with the same email or phone, updated."""
    outcome = (await upsert(session, subject, [data], group_ids))[0]
    if isinstance(outcome, Refused):
        raise invalid(outcome.field, outcome.message)
    contact = await repo.contact(session, subject, outcome.contact_id)
    assert contact is not None
    return contact, outcome


async def get(session: AsyncSession, subject: AuthSubject, pk: int | None) -> Contact:
    contact = await repo.contact(session, subject, pk)
    if contact is None:
        raise NotFound("Resource not found")
    return contact


async def update(session: AsyncSession, subject: AuthSubject, pk: int | None, raw: Mapping[str, Any],
                 group_ids: Sequence[int] | None) -> Contact:
    """PUT /contacts/{id}: the fields given replace the stored ones (null clears); groups, when given, replace."""
    contact = await get(session, subject, pk)
    data = clean(raw, country=contact.country_iso)
    email = data.email if "email" in data.given else contact.email
    phone = data.phone if "phone" in data.given else contact.phone
    landline = data.landline if "landline" in data.given else contact.landline
    require_reachable(email, phone, landline)
    key = email_key(email) if email else None
    for other in await repo.matching(session, subject, {key} if key else set(), {phone} if phone else set()):
        if other.id != contact.id:
            name = "email" if key and other.email_key == key else "phone"
            raise invalid(name, f"The {name} has already been taken by another contact.")
    contact.email, contact.email_key, contact.phone, contact.landline = email, key, phone, landline
    for given, column, value in (("countryIso", "country_iso", data.country_iso), ("name", "first_name", data.name),
                                 ("surname", "last_name", data.surname),
                                 ("externalId", "external_id", data.external_id)):
        if given in data.given:
            setattr(contact, column, value)
    _merge_custom(contact, data.custom)
    contact.updated_at = clock.now()
    if group_ids is not None:
        have = {g for g, _ in await repo.memberships(session, [contact.id])}
        await repo.remove_members(session, contact.id, have - set(group_ids))
        await repo.add_members(session, {(g, contact.id) for g in set(group_ids) - have})
    await session.flush()
    return contact


async def delete(session: AsyncSession, subject: AuthSubject, pk: int | None) -> None:
    contact = await get(session, subject, pk)
    await session.delete(contact)
    await session.flush()


@dataclass
class Filters:
    email: str | None = None
    phone: str | None = None
    landline: str | None = None
    country_iso: str | None = None
    external_id: str | None = None
    group_id: int | None = None  # the dashboard's filter (the API's list has none)


def list_statement(subject: AuthSubject, f: Filters) -> Select[Contact]:
    """The account's database contacts matching the filters, by id; `repository.count_statement` of it is the total."""
    stmt = repo.contacts(subject)
    region = f.country_iso.strip().upper() if f.country_iso else None
    if f.email is not None:
        stmt = stmt.where(Contact.email_key == email_key(f.email.strip()))
    for raw, column in ((f.phone, Contact.phone), (f.landline, Contact.landline)):
        if raw is not None:
            # The stored form is international digits; a filter typed another way still finds it.
            stmt = stmt.where(column == (normalize_phone(raw, region) or raw.strip()))
    if region is not None:
        stmt = stmt.where(Contact.country_iso == region)
    if f.external_id is not None:
        stmt = stmt.where(Contact.external_id == f.external_id)
    if f.group_id is not None:
        stmt = repo.in_group(stmt, f.group_id)
    return stmt.order_by(Contact.id)


async def page(session: AsyncSession, subject: AuthSubject, filters: Filters, page_number: int, limit: int
               ) -> tuple[list[Contact], int]:
    rows, total = await repo.page_of(session, list_statement(subject, filters), page_number, limit)
    return rows, total


async def groups_of(session: AsyncSession, contact_ids: Sequence[int]) -> dict[int, list[Group]]:
    return await repo.groups_of(session, contact_ids)


# Groups

def group_name(raw: Any, where: str = "name") -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise invalid(where, f"The {where} field is required.")
    if not isinstance(raw, str):
        raise invalid(where, f"The {where} must be a string.")
    name = raw.strip()
    if len(name) > MAX_GROUP_NAME:
        raise invalid(where, f"The {where} may not be greater than {MAX_GROUP_NAME} characters.")
    return name


async def _name_free(session: AsyncSession, subject: AuthSubject, name: str, but: int | None = None) -> None:
    found = (await repo.groups_by_names(session, subject, [name])).get(name)
    if found is not None and found.id != but:
        raise invalid("name", "The name has already been taken.")


async def create_group(session: AsyncSession, subject: AuthSubject, raw_name: Any) -> Group:
    name = group_name(raw_name)
    await _name_free(session, subject, name)
    group = Group(account_id=subject.account_id, name=name, updated_at=clock.now())
    session.add(group)
    await session.flush()
    return group


async def rename_group(session: AsyncSession, subject: AuthSubject, pk: int | None, raw_name: Any) -> Group:
    group = await get_group(session, subject, pk)
    name = group_name(raw_name)
    await _name_free(session, subject, name, but=group.id)
    group.name, group.updated_at = name, clock.now()
    await session.flush()
    return group


async def get_group(session: AsyncSession, subject: AuthSubject, pk: int | None) -> Group:
    try:
        return await repo.group(session, subject, pk)
    except NotFound:
        raise NotFound("Resource not found") from None


async def delete_group(session: AsyncSession, subject: AuthSubject, pk: int | None) -> None:
    """Delete a group; its contacts stay in the database."""
    group = await get_group(session, subject, pk)
    await session.delete(group)
    await session.flush()


async def group_page(session: AsyncSession, subject: AuthSubject, page_number: int, limit: int
                     ) -> tuple[list[Group], int]:
    return await repo.page_of(session, repo.groups(subject).order_by(Group.id), page_number, limit)


async def resolve_groups(session: AsyncSession, subject: AuthSubject, ids: Sequence[int | None] | None,
                         names: Sequence[Any] | None, *, required: bool) -> list[int] | None:
    """Group ids from `groupsIds` (each must be the account's) and `groupsNames` (created when missing)."""
    if ids is None and names is None:
        if required:
            raise invalid("groupsIds", "The groupsIds field is required when groupsNames is not present.")
        return None
    wanted = list(ids or [])
    clean_names = [group_name(n, f"groupsNames.{i}") for i, n in enumerate(names or [])]
    if len(wanted) + len(clean_names) > MAX_GROUPS:
        raise invalid("groupsIds", f"A contact may be added to at most {MAX_GROUPS} groups.")
    if required and not wanted and not clean_names:
        raise invalid("groupsIds", "The groupsIds field is required when groupsNames is not present.")
    found = await repo.groups_by_ids(session, subject, [i for i in wanted if i is not None])
    for i, pk in enumerate(wanted):
        if pk is None or pk not in found:
            raise invalid(f"groupsIds.{i}", f"The selected groupsIds.{i} is invalid.")
    out = set(found)
    named = await repo.groups_by_names(session, subject, clean_names)
    for name in dict.fromkeys(clean_names):
        group = named.get(name)
        if group is None:
            group = Group(account_id=subject.account_id, name=name, updated_at=clock.now())
            session.add(group)
            await session.flush()
        out.add(group.id)
    return sorted(out)


# Messages to known contacts

async def by_phones(session: AsyncSession, subject: AuthSubject, phones: Iterable[str]) -> dict[str, Contact]:
    """The database contacts holding these numbers (international digits)."""
    return {str(c.phone): c for c in await repo.matching(session, subject, set(), set(phones)) if c.phone}


async def by_emails(session: AsyncSession, subject: AuthSubject, addresses: Iterable[str]) -> dict[str, Contact]:
    """The database contacts holding these addresses, by email key."""
    keys = {email_key(a) for a in addresses if a}
    return {str(c.email_key): c for c in await repo.matching(session, subject, keys, set()) if c.email_key}


# CSV import and export (the CLI commits each batch, so memory stays flat in the file's size)

@dataclass
class BatchReport:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, field, message)


async def group_named(session: AsyncSession, subject: AuthSubject, raw_name: Any, *, create: bool) -> Group:
    """The account's group with this name; created when asked to, NotFound otherwise."""
    name = group_name(raw_name)
    group = (await repo.groups_by_names(session, subject, [name])).get(name)
    if group is None:
        if not create:
            raise NotFound(f"There is no group named {name!r}.")
        group = await create_group(session, subject, name)
    return group


async def import_batch(session: AsyncSession, subject: AuthSubject, group_id: int,
                       rows: Sequence[tuple[int, Mapping[str, Any]]]) -> BatchReport:
    """Validate and upsert rows of an import file (line, API fields) into a group; bad rows are reported."""
    report = BatchReport()
    valid: list[tuple[int, ContactData]] = []
    for line, raw in rows:
        try:
            valid.append((line, clean(raw)))
        except ValidationFailed as exc:
            name, message = next(iter(exc.fields), ""), exc.message
            if name.startswith("customFields."):
                # A custom field is a column of the file: name the column, not the API's list index.
                index = name.split(".")[1]
                column = str(raw["customFields"][int(index)]["key"])
                message = message.replace(f"customFields.{index}.value", column)
                name = column
            report.errors.append((line, name, message))
    outcomes = await upsert(session, subject, [d for _, d in valid], [group_id])
    for (line, _), outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, Refused):
            report.errors.append((line, outcome.field, outcome.message))
        elif outcome.created:
            report.created += 1
        else:
            report.updated += 1
    report.errors.sort()
    return report


async def custom_field_types(session: AsyncSession, subject: AuthSubject, group_id: int) -> dict[str, str]:
    """Every custom field of a group's contacts with its type (string when contacts disagree)."""
    found: dict[str, str] = {}
    async for contacts in repo.member_pages(session, subject, group_id):
        for contact in contacts:
            types = contact.custom_field_types or {}
            for key in contact.custom_fields or {}:
                kind = str(types.get(key, "string"))
                found[key] = kind if found.get(key, kind) == kind else "string"
    return found


def member_pages(session: AsyncSession, subject: AuthSubject, group_id: int) -> AsyncIterator[list[Contact]]:
    return repo.member_pages(session, subject, group_id)


# For other capabilities (email validation of groups, forms that store answers on the contact)

async def emails_in_groups(session: AsyncSession, subject: AuthSubject, group_ids: Sequence[int]) -> list[str]:
    """The addresses of the contacts in these groups (each once, by contact id); NotFound for another's group."""
    seen: dict[str, None] = {}
    for pk in group_ids:
        group = await get_group(session, subject, pk)
        async for contacts in repo.member_pages(session, subject, group.id):
            seen.update((c.email, None) for c in contacts if c.email)
    return list(seen)


async def set_custom_fields(session: AsyncSession, subject: AuthSubject, contact_id: int,
                            values: Mapping[str, tuple[str, Any]]) -> Contact:
    """Store typed values (key -> (type, value), validated as the API does) on a database contact."""
    contact = await get(session, subject, contact_id)
    typed: dict[str, tuple[str, str | None]] = {}
    for key, (kind, value) in values.items():
        if kind not in FIELD_TYPES:
            raise invalid(key, f"The {key} type must be one of: {', '.join(FIELD_TYPES)}.")
        typed[key] = (kind, typed_value(kind, value, key))
    _merge_custom(contact, typed)
    contact.updated_at = clock.now()
    await session.flush()
    return contact
