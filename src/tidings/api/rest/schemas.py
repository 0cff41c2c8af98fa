"""Request bodies of the messaging dialect's SMS and scheduled routes, and the dialect's response shapes.

Values are typed `Any` on purpose: the service validates them so that a wrong value is the
documented error code (110 for parts, 113 for encoding ...), not a generic 422.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tidings.api.contract import Out, json_errors


def typed(schema: dict[str, Any], description: str | None = None) -> Any:
    """A field the service checks (so a bad value is the documented code), shown in the OpenAPI document with its
    documented type."""
    return Field(default=None, description=description, json_schema_extra=schema)


STRING: dict[str, Any] = {"type": "string"}
STRINGS: dict[str, Any] = {"type": "array", "items": STRING}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
NRS_DATE: dict[str, Any] = {"type": "string", "pattern": "^[0-9]{14}$", "description": "YYYYmmddHHiiss, UTC"}
OTP_CONFIG: dict[str, Any] = {"type": "object", "properties": {
    "alpha": BOOLEAN, "length": {"type": "integer", "minimum": 3, "maximum": 10},
    "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 10},
    "maxSecondsValidity": {"type": "integer", "minimum": 30, "maximum": 600},
    "appId": STRING, "rejectIfPendingCode": BOOLEAN}}


class SmsBody(BaseModel):
    """POST /api/rest/sms; unknown keys are ignored as the document's clients may send more."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    to: Any = typed(STRINGS, "Recipients with their country prefix")
    sender: Any = Field(default=None, alias="from", json_schema_extra=STRING)
    message: Any = typed(STRING)
    encoding: Any = typed({"type": "string", "enum": ["gsm", "gsm-pt", "utf-16"]})
    parts: Any = typed({"type": "integer", "minimum": 1, "maximum": 15})
    splitParts: Any = typed(BOOLEAN)  # noqa: N815 - the document's names
    trans: Any = typed({"type": "integer", "enum": [0, 1]})
    flash: Any = typed(BOOLEAN)
    scheduleDate: Any = typed(NRS_DATE)  # noqa: N815
    expirationDate: Any = typed(NRS_DATE)  # noqa: N815
    notificationUrl: Any = typed({"anyOf": [STRING, STRINGS]}, "One URL, or one per recipient")  # noqa: N815
    campaignName: Any = typed(STRING)  # noqa: N815
    tags: Any = typed(STRINGS)
    certified: Any = typed(BOOLEAN)
    sub: Any = typed({"type": "array", "items": {"type": "object", "additionalProperties": STRING}},
                     "Substitution variables, one object per recipient")
    availableTimes: Any = typed({"type": "array", "items": {"type": "object", "properties": {  # noqa: N815
        "day": {"type": "integer", "minimum": 1, "maximum": 7}, "from": STRING, "to": STRING}}})
    otpConfig: Any = typed(OTP_CONFIG)  # noqa: N815


class ScheduledBody(BaseModel):
    """PUT and DELETE /api/rest/scheduled."""

    model_config = ConfigDict(extra="ignore")

    guid: Any = typed({"anyOf": [STRING, {"type": "integer"}, {"type": "array", "items": STRING}]},
                      "One guid, several comma-separated, or an array; none means every scheduled message")
    type: Any = typed({"type": "string", "enum": ["SMS", "MAILING"]})
    sendingId: Any = typed({"type": "integer"})  # noqa: N815
    scheduleDate: Any = typed(NRS_DATE)  # noqa: N815


# Response shapes, as the OpenAPI document shows them (closed and strict: see tidings.api.contract).


class ErrorDetail(Out):
    code: int = Field(description="The documented error code (102..140, 404, 422)")
    description: str
    fields: dict[str, list[str]] | None = None


class NrsError(Out):
    """The messaging error envelope."""

    error: ErrorDetail


class Refusal(Out):
    code: int
    description: str


class PaginationLinks(Out):
    previous: str | None = None
    next: str | None = None


class Pagination(Out):
    total: int
    count: int
    per_page: int
    current_page: int
    total_pages: int
    links: PaginationLinks | list[str] = Field(description="`[]` when there is no other page, as documented")


class Meta(Out):
    pagination: Pagination


class Account(Out):
    username: str
    email: str | None
    timezone: str | None
    language: str | None
    balance: float
    creationDate: str  # noqa: N815 - the document's names
    country: str | None
    currency: str | None


class Notifications(Out):
    url: str | None
    events: list[str] | None
    hasSecret: bool  # noqa: N815
    updatedAt: str | None  # noqa: N815
    secret: str | None = Field(default=None, description="Only in the answer to PUT, shown this once")


class NotificationsOne(Out):
    data: Notifications


class Coverage(Out):
    countryIso: str  # noqa: N815
    countryName: str  # noqa: N815
    networkName: str  # noqa: N815
    mcc: str | None
    mnc: str | None
    cost: float
    currencyCode: str  # noqa: N815
    currencySymbol: str  # noqa: N815


class CoverageList(Out):
    data: list[Coverage]


class CountryCoverage(Out):
    countryIso: str  # noqa: N815
    countryName: str  # noqa: N815
    networks: list[str]
    minCost: float  # noqa: N815
    maxCost: float  # noqa: N815
    currencyCode: str  # noqa: N815
    currencySymbol: str  # noqa: N815


class CountryCoverageList(Out):
    data: list[CountryCoverage]


class SentItem(Out):
    """One recipient of POST /sms or /mailing: accepted with its id, or refused with the documented error."""

    accepted: bool
    to: str | int
    id: str | None = Field(default=None, description="The message id (a string of digits), when accepted")
    parts: int | None = Field(default=None, description="SMS only")
    scheduledAt: str | None = None  # noqa: N815
    expiresAt: str | None = None  # noqa: N815
    error: Refusal | None = Field(default=None, description="When refused")


class SendResult(Out):
    campaignId: int | None  # noqa: N815
    sendingId: int | None  # noqa: N815
    result: list[SentItem]


class TemplateLinks(Out):
    self: str
    preview: str


class Template(Out):
    id: int
    name: str | None
    type: str | None = Field(default=None, description="v2 only")
    html: str | None = Field(default=None, description="Left out of the v2 list")
    createdAt: str | None  # noqa: N815
    updatedAt: str | None  # noqa: N815
    links: TemplateLinks | None = Field(default=None, description="In the answers to POST and PUT")


class TemplateOne(Out):
    data: Template


class TemplateList(Out):
    data: list[Template]
    meta: Meta


class Sender(Out):
    id: int
    email: str
    name: str | None
    verified: bool
    verifiedAt: str | None  # noqa: N815
    createdAt: str | None  # noqa: N815


class SenderOne(Out):
    data: Sender


class SenderList(Out):
    data: list[Sender]
    meta: Meta


class BlacklistEntry(Out):
    type: str
    recipient: str
    isDefinitive: bool  # noqa: N815
    sendingId: int | None = Field(default=None, description="In the list only")  # noqa: N815
    campaignName: str | None  # noqa: N815
    createdAt: str | None  # noqa: N815


class BlacklistOne(Out):
    data: BlacklistEntry


class BlacklistList(Out):
    data: list[BlacklistEntry]
    meta: Meta


class SmsEvent(Out):
    type: str
    date: str | None
    isMobile: bool  # noqa: N815
    browser: str
    os: str


class SelfLink(Out):
    self: str


class SmsMessage(Out):
    id: str
    from_: str | None = Field(alias="from")
    to: str
    message: str | None
    campaignId: int | None  # noqa: N815
    sendingId: int | None  # noqa: N815
    isDelivered: bool  # noqa: N815
    isClicked: bool  # noqa: N815
    events: list[SmsEvent]
    customFields: dict[str, str | int | float | bool | None]  # noqa: N815
    links: SelfLink


class SmsMessageList(Out):
    data: list[SmsMessage]


class ScheduledContent(Out):
    to: str
    from_: str | None = Field(alias="from")
    encoding: str | None = Field(default=None, description="SMS only")
    fromName: str | None = Field(default=None, description="Mailing only")  # noqa: N815
    subject: str | None = Field(default=None, description="Mailing only")
    message: str | None
    campaignId: int | None  # noqa: N815
    sendingId: int | None  # noqa: N815


class ScheduledItem(Out):
    guid: str
    type: Literal["SMS", "MAILING"]
    sending_id: int | None = Field(default=None, description="In the list")
    content: ScheduledContent | None = Field(default=None, description="When one guid is asked for")
    created_at: str | None
    updated_at: str | None
    scheduled_at: str | None


class ScheduledList(Out):
    result: ScheduledItem | list[ScheduledItem] = Field(description="One item when one scalar guid is asked for")
    total: int


class ScheduledUpdated(Out):
    result: bool
    updated: int


class ScheduledDeleted(Out):
    result: bool
    deleted: int


class SendingLinks(Out):
    self: str
    eventsReport: str  # noqa: N815


class Sending(Out):
    id: int
    campaignName: str | None  # noqa: N815
    status: str
    channel: str
    total: int
    processed: int
    totalSmsParts: int  # noqa: N815
    cost: float
    currency: str | None
    tags: list[str | int | float | bool | None]
    scheduledAt: str | None  # noqa: N815
    expiresAt: str | None  # noqa: N815
    startedAt: str | None  # noqa: N815
    finishedAt: str | None  # noqa: N815
    createdAt: str | None  # noqa: N815
    updatedAt: str | None  # noqa: N815
    events: dict[str, int]
    links: SendingLinks


class SendingOne(Out):
    data: Sending


class SendingList(Out):
    data: list[Sending]


class BroadcastCampaignLinks(Out):
    self: str
    sendings: str


class BroadcastCampaign(Out):
    id: int
    name: str
    type: str
    createdAt: str | None  # noqa: N815
    updatedAt: str | None  # noqa: N815
    links: BroadcastCampaignLinks
    sendings: SendingList


class BroadcastCampaignOne(Out):
    data: BroadcastCampaign


class BroadcastCampaignList(Out):
    data: list[BroadcastCampaign]
    meta: Meta


class Shortened(Out):
    longUrl: str  # noqa: N815
    shortUrl: str | None  # noqa: N815
    error: bool


class ShortenedList(Out):
    data: list[Shortened]


class Otp(Out):
    recipient: str
    code: str | None = Field(description="null where only the code's hash is kept")
    attempts: int
    maxAttempts: int  # noqa: N815
    maxSecondsValidity: int  # noqa: N815
    appId: str | None  # noqa: N815
    createdAt: str | None  # noqa: N815
    updatedAt: str | None  # noqa: N815
    expiresAt: str | None  # noqa: N815


class OtpOne(Out):
    data: Otp


class OtpCheck(Out):
    valid: bool
    reason: str | None
    otp: OtpOne | None


class OtpCheckOne(Out):
    data: OtpCheck


sent_responses: dict[int | str, dict[str, Any]] = {
    202: {"model": SendResult, "description": "Every recipient was accepted"},
    207: {"model": SendResult, "description": "Some recipients were refused, each with its error"}}

CODES = (400, 401, 402, 404, 413, 422, 429)
# For the routes that answer CSV, PDF or HTML: their errors are JSON all the same.
ERRORS_AS_JSON = json_errors(NrsError, *CODES)
