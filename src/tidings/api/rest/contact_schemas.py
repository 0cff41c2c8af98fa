"""Request and response shapes of /api/rest/contacts and /api/rest/groups, as the document shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tidings.api.rest.schemas import Meta as ListMeta
from tidings.api.rest.schemas import NrsError


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the error statuses a route can answer with (every route: 401 and 429 too)."""
    text = {401: "Username or password unknown, or IP address not allowed", 404: "Resource not found",
            422: "Input validation error", 400: "Invalid JSON", 409: "Concurrent change, try again",
            429: "Too many requests (Retry-After)"}
    return {s: {"model": NrsError, "description": text[s]} for s in sorted({401, 429, *statuses})}


class CustomFieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=100)
    type: Literal["string", "date", "decimal"] = "string"
    # Null removes the field from the contact.
    value: str | int | float | None = None


class DatabaseContactIn(BaseModel):
    """POST /contacts and PUT /contacts/{id}: email, phone or landline; countryIso with a phone or landline."""

    model_config = ConfigDict(extra="ignore")

    email: str | None = Field(default=None, max_length=320)
    phone: str | int | None = None
    landline: str | int | None = None
    countryIso: str | None = Field(default=None, max_length=2)  # noqa: N815 - the document's names
    groupsIds: list[int] | None = Field(default=None, max_length=100)  # noqa: N815
    groupsNames: list[str] | None = Field(default=None, max_length=100)  # noqa: N815
    name: str | None = Field(default=None, max_length=200)
    surname: str | None = Field(default=None, max_length=200)
    externalId: str | int | None = None  # noqa: N815
    customFields: list[CustomFieldIn] | None = Field(default=None, max_length=100)  # noqa: N815


class GroupBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, max_length=255)


class CustomFieldOut(BaseModel):
    key: str
    type: Literal["string", "date", "decimal"]
    value: str


class CustomFieldList(BaseModel):
    data: list[CustomFieldOut]


class GroupOut(BaseModel):
    id: int
    name: str


class GroupList(BaseModel):
    data: list[GroupOut]


class ContactSelfLink(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    self_: str = Field(alias="self")


class ContactOut(BaseModel):
    id: int
    email: str | None
    phone: str | None
    countryIso: str | None  # noqa: N815
    landline: str | None
    name: str | None
    surname: str | None
    externalId: str | None  # noqa: N815
    createdAt: str  # noqa: N815
    updatedAt: str | None  # noqa: N815
    customFields: CustomFieldList | None = None  # noqa: N815 - with include=customFields
    groups: GroupList | None = None  # with include=groups
    links: ContactSelfLink | None = None


class SavedMeta(BaseModel):
    """POST /contacts for a person already in the database: which of its values matched."""

    updated: bool
    matchedBy: Literal["email", "phone"] | None = None  # noqa: N815


class ContactEnvelope(BaseModel):
    data: ContactOut
    meta: SavedMeta | None = None


class ContactPage(BaseModel):
    data: list[ContactOut]
    meta: ListMeta


class GroupEnvelope(BaseModel):
    data: GroupOut


class GroupPage(BaseModel):
    data: list[GroupOut]
    meta: ListMeta
