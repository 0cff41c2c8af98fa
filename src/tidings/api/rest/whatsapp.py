"""WhatsApp: POST /api/rest/whatsapp (templates) and the /api/rest/whatsapp/conversations endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tidings.api import deps
from tidings.api.rest import pagination, render
from tidings.api.rest.schemas import ErrorDetail, NrsError, Pagination
from tidings.core import ids
from tidings.core.phones import normalize_phone
from tidings.db.models import Contact, Message, WhatsappConversation
from tidings.messaging.whatsapp import repository, service
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.rest())]
From = Annotated[str, Path(alias="from", max_length=32, description="The account's WhatsApp number.")]
To = Annotated[str, Path(max_length=32, description="The user's number.")]


# --- shapes --------------------------------------------------------------------------------------------


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": NrsError} for status in statuses}


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lat: str | float = Field(description="Latitude of the geographic point.")
    long: str | float = Field(description="Longitude of the geographic point.")
    name: str | None = None
    address: str | None = None


class WhatsappMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    to: str | int | None = Field(default=None, description="Mobile number with its international prefix.")
    headerFields: list[str | int | float] | None = None  # noqa: N815 - the document's names
    bodyFields: list[str | int | float] | None = Field(  # noqa: N815
        default=None, description="Values of the body's variables, in order (numbers are taken as text).")
    callToActionFields: list[str | int | float] | None = None  # noqa: N815
    defaultAnswer: str | list[str] | None = Field(  # noqa: N815
        default=None, description="Sent automatically in answer to the user's first message.")
    buttonAnswers: list[str] | None = Field(  # noqa: N815
        default=None, description="Sent automatically when the user presses the quick-reply button of this position.")
    location: LocationIn | None = None


class WhatsappBody(BaseModel):
    """POST /api/rest/whatsapp."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    templateId: int | None = Field(default=None, description="An approved template of the account.")  # noqa: N815
    sender: str | int | None = Field(default=None, alias="from", description="A registered WhatsApp sender.")
    messages: list[WhatsappMessageIn] | None = None
    campaignName: str | None = None  # noqa: N815
    tags: list[str] | None = None


class WhatsappRecipientResult(BaseModel):
    accepted: bool
    to: str
    id: str | None = Field(default=None, description="The message's UUID (accepted recipients).")
    error: ErrorDetail | None = Field(default=None, description="Why the recipient was refused.")


class WhatsappSent(BaseModel):
    campaignId: int | None  # noqa: N815
    sendingId: int  # noqa: N815
    result: list[WhatsappRecipientResult]


class ContactData(BaseModel):
    msisdn: str
    firstName: str | None = None  # noqa: N815
    lastName: str | None = None  # noqa: N815
    email: str | None = None
    interest: str | None = None
    comment: str | None = None
    country: str | None = None


class ContactWrap(BaseModel):
    data: ContactData


class ConversationLinks(BaseModel):
    messages: str


class Conversation(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sender: str = Field(alias="from")
    to: str
    totalMessages: int  # noqa: N815
    status: str = Field(description="OPEN while the customer service window is open, else CLOSED.")
    isSessionActive: bool  # noqa: N815
    sessionExpiresAt: str | None  # noqa: N815
    createdAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    links: ConversationLinks
    contact: ContactWrap


class PageMeta(BaseModel):
    pagination: Pagination


class ConversationList(BaseModel):
    data: list[Conversation]
    meta: PageMeta


class ConversationOne(BaseModel):
    data: Conversation


class ConversationMessage(BaseModel):
    id: str
    type: str
    msisdn: str = Field(description="Who wrote it: the user, or our number.")
    content: str
    reactions: list[str]
    sentAt: str | None  # noqa: N815
    deliveredAt: str | None  # noqa: N815
    readAt: str | None  # noqa: N815
    failedAt: str | None  # noqa: N815


class MessagesMeta(BaseModel):
    status: str
    isSessionActive: bool  # noqa: N815
    sessionExpiresAt: str | None  # noqa: N815
    pagination: Pagination


class MessageList(BaseModel):
    data: list[ConversationMessage]
    meta: MessagesMeta


class MessageOne(BaseModel):
    data: ConversationMessage


class TextBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: str | None = Field(default=None, description="The text, up to 4096 characters.")


# --- rendering -----------------------------------------------------------------------------------------


def _status(conv: WhatsappConversation) -> str:
    return "OPEN" if service.session_active(conv) else "CLOSED"


def _conversation(request: Request, conv: WhatsappConversation, contact: Contact | None) -> Conversation:
    custom = (contact.custom_fields or {}) if contact is not None else {}
    data = ContactData(msisdn=conv.recipient)
    if contact is not None:
        data = ContactData(msisdn=conv.recipient, firstName=contact.first_name, lastName=contact.last_name,
                           email=contact.email, interest=_opt(custom.get("interest")),
                           comment=_opt(custom.get("comment")), country=contact.country)
    return Conversation(
        sender=conv.sender, to=conv.recipient, totalMessages=conv.total_messages, status=_status(conv),
        isSessionActive=service.session_active(conv), sessionExpiresAt=render.iso(service.session_expires(conv)),
        createdAt=render.iso(conv.created_at) or "", updatedAt=render.iso(conv.updated_at) or "",
        links=ConversationLinks(messages=f"{render.base(request)}/whatsapp/conversations/{conv.sender}/"
                                         f"{conv.recipient}/messages"),
        contact=ContactWrap(data=data))


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _iso_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return render.iso(datetime.fromisoformat(value))
    except ValueError:
        return None


def _message(message: Message) -> ConversationMessage:
    extra = message.extra or {}
    return ConversationMessage(
        id=ids.codec().to_uuid(ids.Kind.MESSAGE, message.id), type=str(extra.get("type") or "text"),
        msisdn=message.sender, content=message.body or "",
        reactions=[r for r in extra.get("reactions") or [] if isinstance(r, str)],
        sentAt=render.iso(message.sent_at), deliveredAt=render.iso(message.delivered_at),
        readAt=render.iso(message.opened_at), failedAt=_iso_text(extra.get("failed_at")))


def _texts(values: list[str | int | float] | None) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


def _page(page: int, limit: int) -> tuple[int, int]:
    return max(1, min(page, pagination.MAX_PAGE)), max(1, min(limit, pagination.MAX_LIMIT))


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(by_alias=True, mode="json")


# --- routes --------------------------------------------------------------------------------------------


@router.post("/whatsapp", status_code=202, response_model=WhatsappSent,
             responses={207: {"model": WhatsappSent, "description": "Some recipients were refused."},
                        **_errors(400, 401, 402, 422)})
async def send_template(body: WhatsappBody, session: deps.Session, subject: Caller) -> JSONResponse:
    """Send an approved template to each recipient: 202 when all were accepted, 207 when some were refused."""
    answers = [[m.defaultAnswer] if isinstance(m.defaultAnswer, str) else m.defaultAnswer for m in body.messages or []]
    queued = await service.send(session, subject, service.SendInput(
        template_id=body.templateId, sender=None if body.sender is None else str(body.sender),
        campaign_name=body.campaignName, tags=body.tags,
        messages=None if body.messages is None else [service.MessageInput(
            to=None if m.to is None else str(m.to), header_fields=_texts(m.headerFields),
            body_fields=_texts(m.bodyFields), call_to_action_fields=_texts(m.callToActionFields),
            default_answer=answer, button_answers=m.buttonAnswers,
            location=None if m.location is None else service.Location(
                str(m.location.lat), str(m.location.long), m.location.name, m.location.address))
            for m, answer in zip(body.messages, answers, strict=True)]))
    await session.commit()
    sending = queued.sending
    assert sending is not None
    result: list[dict[str, Any]] = []
    for item in queued.results:
        if item.message is None:
            description = item.description if isinstance(item, service.Refused) else None
            result.append({"accepted": False, "to": item.to, "error": render.error(item.error or 102, description)})
        else:
            result.append({"accepted": True, "to": item.to,
                           "id": ids.codec().to_uuid(ids.Kind.MESSAGE, item.message.id)})
    campaign_id = ids.to_int(ids.Kind.CAMPAIGN, sending.campaign_id) if sending.campaign_id else None
    answer = WhatsappSent(campaignId=campaign_id, sendingId=ids.to_int(ids.Kind.SENDING, sending.id),
                          result=[WhatsappRecipientResult(**r) for r in result])
    content = _dump(answer)
    content["result"] = [r.model_dump(mode="json", exclude_none=True) for r in answer.result]
    return JSONResponse(content, status_code=207 if queued.partial else 202)


@router.get("/whatsapp/conversations", response_model=ConversationList, responses=_errors(401, 422))
async def list_conversations(
    request: Request, session: deps.Session, subject: Caller,
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT, description="Default 100, at most 1000.")] = 100,
    page: Annotated[int, Query(ge=1, le=pagination.MAX_PAGE)] = 1,
    sender: Annotated[str | None, Query(alias="from", max_length=32, description="Filter by sender.")] = None,
    to: Annotated[str | None, Query(max_length=32, description="Filter by recipient.")] = None,
) -> dict[str, Any]:
    """The account's conversations, most recently active first."""
    page, limit = _page(page, limit)
    ours = _filter(sender)
    user = _filter(to)
    total, rows = await repository.conversations(session, subject, sender=ours, recipient=user,
                                                 offset=(page - 1) * limit, limit=limit)
    contacts = await repository.contacts(session, subject, [c.recipient for c in rows])
    data = [_conversation(request, c, contacts.get(c.recipient)) for c in rows]
    return _dump(ConversationList(data=data, meta=PageMeta.model_validate(
        pagination.meta(request, total=total, count=len(data), page=page, per_page=limit))))


def _filter(raw: str | None) -> str | None:
    """A number filter in the form we store (international digits); an unreadable one matches nothing."""
    if raw is None or not raw.strip():
        return None
    return normalize_phone(raw) or raw.strip()


@router.get("/whatsapp/conversations/{from}/{to}", response_model=ConversationOne,
            responses=_errors(401, 404))
async def show_conversation(sender: From, to: To, request: Request, session: deps.Session,
                            subject: Caller) -> dict[str, Any]:
    """One conversation between one of the account's numbers and a user."""
    conv = await service.get_conversation(session, subject, sender, to)
    contacts = await repository.contacts(session, subject, [conv.recipient])
    return _dump(ConversationOne(data=_conversation(request, conv, contacts.get(conv.recipient))))


@router.get("/whatsapp/conversations/{from}/{to}/messages", response_model=MessageList,
            responses=_errors(401, 404, 422))
async def conversation_messages(
    sender: From, to: To, request: Request, session: deps.Session, subject: Caller,
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT, description="Default 100, at most 1000.")] = 100,
    page: Annotated[int, Query(ge=1, le=pagination.MAX_PAGE)] = 1,
) -> dict[str, Any]:
    """A conversation's messages, newest first, with the state of its customer service window."""
    conv = await service.get_conversation(session, subject, sender, to)
    page, limit = _page(page, limit)
    total, rows = await repository.messages(session, conv, offset=(page - 1) * limit, limit=limit)
    meta = pagination.meta(request, total=total, count=len(rows), page=page, per_page=limit)
    return _dump(MessageList(data=[_message(m) for m in rows], meta=MessagesMeta(
        status=_status(conv), isSessionActive=service.session_active(conv),
        sessionExpiresAt=render.iso(service.session_expires(conv)),
        pagination=Pagination.model_validate(meta["pagination"]))))


@router.post("/whatsapp/conversations/{from}/{to}/messages", status_code=202, response_model=MessageOne,
             responses=_errors(400, 401, 404, 409, 422))
async def send_to_conversation(sender: From, to: To, body: TextBody, session: deps.Session,
                               subject: Caller) -> dict[str, Any]:
    """Free text within 24 hours of the user's last message (409 outside that window)."""
    message = await service.send_text(session, subject, sender, to, body.content)
    await session.commit()
    return _dump(MessageOne(data=_message(message)))

