"""OTP: POST /api/rest/otp/generate (a code for a recipient, answered, not sent) and POST /api/rest/otp/check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.rest import render, schemas
from tidings.api.rest.schemas import BOOLEAN, OTP_CONFIG, STRING, typed
from tidings.db.models import OtpCode
from tidings.messaging import otp
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]


class GenerateBody(BaseModel):
    """The documented parameters, typed `Any` so that the service reports each bad value as a 422 with its message."""

    model_config = ConfigDict(extra="ignore")

    recipient: Any = typed(STRING, "A phone number or an email address")
    alpha: Any = typed(BOOLEAN)
    length: Any = typed(OTP_CONFIG["properties"]["length"])
    maxAttempts: Any = typed(OTP_CONFIG["properties"]["maxAttempts"])  # noqa: N815 - the document's names
    maxSecondsValidity: Any = typed(OTP_CONFIG["properties"]["maxSecondsValidity"])  # noqa: N815
    appId: Any = typed(STRING)  # noqa: N815
    rejectIfPendingCode: Any = typed(BOOLEAN)  # noqa: N815


class CheckBody(BaseModel):
    """The documented parameters of a check."""

    model_config = ConfigDict(extra="ignore")

    recipient: Any = typed(STRING)
    code: Any = typed(STRING)
    caseSensitive: Any = typed(BOOLEAN)  # noqa: N815
    appId: Any = typed(STRING)  # noqa: N815


def _shown(row: OtpCode, code: str | None) -> dict[str, Any]:
    """A code as the document shows it; `code` is null where Tidings cannot show it (only its hash is kept)."""
    return {"recipient": row.recipient, "code": code, "attempts": row.attempts, "maxAttempts": row.max_attempts,
            "maxSecondsValidity": row.max_seconds_validity, "appId": row.app_id,
            "createdAt": render.iso(row.created_at), "updatedAt": render.iso(row.updated_at),
            "expiresAt": render.iso(row.expires_at)}


@router.post("/otp/generate", response_model=schemas.OtpOne)
async def generate(body: GenerateBody, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """200 with the new code; the caller delivers it (SMS and mailing send codes with {OTP_CODE})."""
    issued = await otp.generate(session, subject, body.recipient, body.model_dump())
    await session.commit()
    return {"data": _shown(issued.row, issued.code)}


@router.post("/otp/check", response_model=schemas.OtpCheckOne)
async def check(body: CheckBody, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """200 with valid, reason and the code's state (null `otp` when the recipient has no code for the appId)."""
    checked = await otp.check(session, subject, body.recipient, body.code, case_sensitive=body.caseSensitive,
                              app=body.appId)
    await session.commit()
    shown = None if checked.row is None else {"data": _shown(checked.row, checked.code)}
    return {"data": {"valid": checked.valid, "reason": checked.reason, "otp": shown}}
