"""Request bodies of the email dialect, and the documented status block rendered from a message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from tidings.api.contract import Out
from tidings.core import clock
from tidings.core.ids import Kind, codec
from tidings.messaging.email_api.service import Status

# Documented status codes: sent 2/301, delivered 3/103, opened 4/104, clicked 5/104.
SENT_SUCCESS, INTERNAL_ERROR = (2, "SENT_SUCCESS"), (301, "INTERNAL_ERROR")
DELIVERED_SUCCESS, NOT_DELIVERED = (3, "DELIVERED_SUCCESS"), (103, "NOT_DELIVERED")
OPENED_SUCCESS, NOT_OPENED = (4, "OPENED_SUCCESS"), (104, "NOT_OPENED")
CLICKED_SUCCESS, NOT_CLICKED = (5, "CLICKED_SUCCESS"), (104, "NOT_CLICKED")
# Outcomes that mean the email reached (or was refused by) a mail server: it was sent, not delivered.
REFUSED_BY_SERVER = ("bounced", "undelivered")
# Outcomes reached without the email ever leaving Tidings.
NEVER_SENT = ("rejected", "failed", "expired")


class _Body(BaseModel):
    # Clients of the original service may send more keys than documented; they are ignored.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class EmailRecipientBody(_Body):
    correlationId: str | int | None = None  # noqa: N815 - the document's names
    emailAddress: str  # noqa: N815
    emailName: str | None = None  # noqa: N815
    extraInfo: str | None = None  # noqa: N815
    substitutionData: dict[str, Any] | None = None  # noqa: N815


class AttachmentBody(_Body):
    data: str | None = None
    name: str | None = None
    type: str | None = None


class EmailSendBody(_Body):
    fromEmail: str  # noqa: N815
    fromName: str  # noqa: N815
    replyTo: str | None = None  # noqa: N815
    subject: str | None = None
    campaignAlias: str | None = None  # noqa: N815
    recipients: list[EmailRecipientBody]
    # The example spells it emailHtml, the field table emailHTML: both are read.
    emailHtml: str | None = Field(default=None, validation_alias=AliasChoices("emailHtml", "emailHTML"))  # noqa: N815
    emailText: str | None = None  # noqa: N815
    substitutionData: dict[str, Any] | None = None  # noqa: N815
    attachments: list[AttachmentBody] | None = None
    # Not in the document (Tidings extensions): open and click tracking, on by default.
    trackOpens: bool = True  # noqa: N815
    trackClicks: bool = True  # noqa: N815


class SearchBody(_Body):
    ids: list[str] | None = Field(default=None, max_length=1000)
    correlationIds: list[str | int] | None = Field(default=None, max_length=1000)  # noqa: N815
    startDate: str | None = None  # noqa: N815
    endDate: str | None = None  # noqa: N815


def iso(at: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds, as the document's examples: 2017-04-28T13:10:10.336Z."""
    if at is None:
        return None
    utc = clock.as_utc(at)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _code(pair: tuple[int, str] | None) -> tuple[int | None, str | None]:
    return pair if pair is not None else (None, None)


def render_status(item: Status) -> dict[str, Any]:
    """The documented status block; codes are null while a step has no outcome yet."""
    m = item.message
    extra = m.extra or {}
    failed = m.status in REFUSED_BY_SERVER or m.status in NEVER_SENT
    # Relay acceptance is delivery to the server (DELIVERED_SUCCESS); a later bounce overrides it.
    delivered_at = m.delivered_at or (m.sent_at if not failed else None)
    sent = m.sent_at is not None or m.status in REFUSED_BY_SERVER
    sent_code = SENT_SUCCESS if sent else INTERNAL_ERROR if m.status in NEVER_SENT else None
    delivered_code = NOT_DELIVERED if failed else DELIVERED_SUCCESS if delivered_at else None
    delivered = delivered_code == DELIVERED_SUCCESS
    opened_code = OPENED_SUCCESS if m.opened_at else NOT_OPENED if delivered else None
    clicked_code = CLICKED_SUCCESS if m.clicked_at else NOT_CLICKED if delivered else None
    body: dict[str, Any] = {
        "recipient": {"id": codec().to_uuid(Kind.MESSAGE, m.id), "correlationId": m.correlation_id,
                      "emailAddress": m.recipient, "emailName": m.recipient_name,
                      "extraInfo": extra.get("extra_info")},
        "fromEmail": m.sender, "fromName": m.sender_name,
        "createdAt": clock.epoch(m.created_at), "createdDate": iso(m.created_at),
        "sent": sent, "sentStatusCode": _code(sent_code)[0], "sentStatus": _code(sent_code)[1],
        "sentAt": clock.epoch(m.sent_at), "sentDate": iso(m.sent_at),
        "delivered": delivered, "deliveredStatusCode": _code(delivered_code)[0],
        "deliveredStatus": _code(delivered_code)[1],
        "deliveredAt": clock.epoch(delivered_at if delivered else None),
        "deliveredDate": iso(delivered_at if delivered else None),
        "opened": m.opened_at is not None, "openedStatusCode": _code(opened_code)[0],
        "openedStatus": _code(opened_code)[1], "openedAt": clock.epoch(m.opened_at), "openedDate": iso(m.opened_at),
        "clicked": m.clicked_at is not None, "clickedStatusCode": _code(clicked_code)[0],
        "clickedStatus": _code(clicked_code)[1], "clickedAt": clock.epoch(m.clicked_at),
        "clickedDate": iso(m.clicked_at),
        # The document shows an integer: the same non-sequential id the messaging dialect shows.
        "campaignId": codec().to_int(Kind.CAMPAIGN, item.campaign.id) if item.campaign else None,
        "campaignAlias": item.campaign.name if item.campaign else None,
    }
    return body


# Response shapes, as the OpenAPI document shows them (closed and strict: see tidings.api.contract).


class WavyError(Out):
    """The error envelope of the email and omnichannel dialects."""

    errorCode: int  # noqa: N815 - the document's names
    errorMessage: str  # noqa: N815
    errors: dict[str, list[str]] | None = None


class SentRecipient(Out):
    correlationId: str | None  # noqa: N815
    id: str = Field(description="The recipient's email id (UUID)")


class EmailSent(Out):
    id: str = Field(description="The request id (UUID)")
    recipients: list[SentRecipient]


class StatusRecipient(Out):
    id: str
    correlationId: str | None  # noqa: N815
    emailAddress: str  # noqa: N815
    emailName: str | None  # noqa: N815
    extraInfo: str | None  # noqa: N815


class EmailStatus(Out):
    recipient: StatusRecipient
    fromEmail: str | None  # noqa: N815
    fromName: str | None  # noqa: N815
    createdAt: int | None  # noqa: N815
    createdDate: str | None  # noqa: N815
    sent: bool
    sentStatusCode: int | None  # noqa: N815
    sentStatus: str | None  # noqa: N815
    sentAt: int | None  # noqa: N815
    sentDate: str | None  # noqa: N815
    delivered: bool
    deliveredStatusCode: int | None  # noqa: N815
    deliveredStatus: str | None  # noqa: N815
    deliveredAt: int | None  # noqa: N815
    deliveredDate: str | None  # noqa: N815
    opened: bool
    openedStatusCode: int | None  # noqa: N815
    openedStatus: str | None  # noqa: N815
    openedAt: int | None  # noqa: N815
    openedDate: str | None  # noqa: N815
    clicked: bool
    clickedStatusCode: int | None  # noqa: N815
    clickedStatus: str | None  # noqa: N815
    clickedAt: int | None  # noqa: N815
    clickedDate: str | None  # noqa: N815
    campaignId: int | None  # noqa: N815
    campaignAlias: str | None  # noqa: N815
