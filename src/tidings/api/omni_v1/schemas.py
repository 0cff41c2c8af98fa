"""Request bodies of the omnichannel dialect, and the flow view of GET /v1/omni/{id}."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from tidings.api.contract import Out
from tidings.api.email_v1.schemas import iso
from tidings.core import clock
from tidings.core.ids import Kind, codec
from tidings.db.models import FlowStep
from tidings.flows.service import FlowView


class _Body(BaseModel):
    # Clients of the original service may send more keys than documented; they are ignored.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ContactBody(_Body):
    phone: str | int | None = None
    email: str | None = None
    emailName: str | None = None  # noqa: N815 - the document's names
    correlationId: str | int | None = None  # noqa: N815
    contactInfo: dict[str, Any] | None = None  # noqa: N815


class StepBody(_Body):
    type: str
    destinationField: str | None = None  # noqa: N815
    subject: str | None = None
    fromEmail: str | None = None  # noqa: N815
    emailHTML: str | None = Field(default=None, validation_alias=AliasChoices("emailHTML", "emailHtml"))  # noqa: N815
    messageText: str | None = None  # noqa: N815
    ttsMessage: str | None = None  # noqa: N815
    # Not in the document (Tidings extensions): sender name, SMS/voice caller id, this step's timeout.
    fromName: str | None = None  # noqa: N815
    sender: str | None = Field(default=None, validation_alias=AliasChoices("from", "sender"))
    timeoutSeconds: int | None = None  # noqa: N815


class OmniTemplateBody(_Body):
    campaignAlias: str | None = None  # noqa: N815
    # The field table spells it Steps.
    steps: list[StepBody] = Field(validation_alias=AliasChoices("steps", "Steps"))


class OmniSendBody(_Body):
    contacts: list[ContactBody]
    # The field table types the template as an array: a one-item array is read like the object.
    template: OmniTemplateBody | list[OmniTemplateBody]


def _times(prefix: str, at: Any) -> dict[str, Any]:
    return {f"{prefix}At": clock.epoch(at), f"{prefix}Date": iso(at)}


def _step(step: FlowStep) -> dict[str, Any]:
    return {"step": step.number + 1, "type": step.type, "channel": step.channel, "destination": step.destination,
            "status": step.status.upper(),
            "messageId": codec().to_uuid(Kind.MESSAGE, step.message_id) if step.message_id else None,
            **_times("started", step.started_at), **_times("ended", step.ended_at), "reason": step.reason}


def render_flow(view: FlowView) -> dict[str, Any]:
    """The batch (or one contact of it): every contact's steps with channel, status, times and reason."""
    flow, ids = view.flow, codec()
    return {
        "id": ids.to_uuid(Kind.BATCH, flow.id),
        "campaignId": None if flow.campaign_id is None else ids.to_int(Kind.CAMPAIGN, flow.campaign_id),
        "campaignAlias": flow.campaign_alias,
        "status": "FINISHED" if view.finished else "RUNNING", **_times("created", flow.created_at),
        **_times("finished", view.finished_at),
        "contacts": [{"id": ids.to_uuid(Kind.FLOW, contact.id), "correlationId": contact.correlation_id,
                      "phone": contact.phone, "email": contact.email, "emailName": contact.email_name,
                      "status": contact.status.upper(), **_times("finished", contact.finished_at),
                      "steps": [_step(s) for s in steps]}
                     for contact, steps in view.contacts],
    }


# Response shapes, as the OpenAPI document shows them (closed and strict: see tidings.api.contract).


class StartedMessage(Out):
    id: str = Field(description="One contact's flow (UUID)")
    correlationId: str | None  # noqa: N815 - the document's names


class Started(Out):
    id: str = Field(description="The batch (UUID)")
    messages: list[StartedMessage]


class FlowStepOut(Out):
    step: int
    type: str
    channel: str
    destination: str | None
    status: str
    messageId: str | None  # noqa: N815
    startedAt: int | None  # noqa: N815
    startedDate: str | None  # noqa: N815
    endedAt: int | None  # noqa: N815
    endedDate: str | None  # noqa: N815
    reason: str | None


class FlowContact(Out):
    id: str
    correlationId: str | None  # noqa: N815
    phone: str | None
    email: str | None
    emailName: str | None  # noqa: N815
    status: str
    finishedAt: int | None  # noqa: N815
    finishedDate: str | None  # noqa: N815
    steps: list[FlowStepOut]


class Flow(Out):
    id: str
    campaignId: int | None  # noqa: N815
    campaignAlias: str | None  # noqa: N815
    status: Literal["RUNNING", "FINISHED"]
    createdAt: int | None  # noqa: N815
    createdDate: str | None  # noqa: N815
    finishedAt: int | None  # noqa: N815
    finishedDate: str | None  # noqa: N815
    contacts: list[FlowContact]
