"""Certificates of certified messages: GET /api/rest/sms/certificates/{id} and /mailing/certificates/{id}."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tidings.api import deps
from tidings.api.contract import ExactRoute, pdf_response
from tidings.api.rest import public_ids, schemas
from tidings.core.ids import Kind
from tidings.messaging.certificates import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]
CODE_HEADER = "X-Certificate-Code"


def _render(cert: service.Certificate) -> bytes:
    # fpdf2 and fontTools take ~0.4 s to import: paid by the first certificate, not by every start of the server.
    from tidings.messaging.certificates import pdf

    return pdf.render(cert)


async def _answer(request: Request, session: deps.Session, subject: AuthSubject, raw_id: str, channel: str,
                  name: str) -> Response:
    pk = public_ids.parse(Kind.MESSAGE, raw_id)
    cert = await service.issue(session, subject, deps.get_settings(request), pk, channel)
    # Laying out and subsetting the font takes tens of milliseconds: keep it off the event loop.
    body = await asyncio.to_thread(_render, cert)
    filename = f"certificate-{name}-{cert.facts['message_id']}.pdf"
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', CODE_HEADER: cert.code,
                             "Cache-Control": "no-store, private"})


@router.get("/sms/certificates/{message_id}", response_class=Response,
            responses={**pdf_response("The certificate"), **schemas.ERRORS_AS_JSON})
async def sms_certificate(message_id: str, request: Request, session: deps.Session, subject: Caller) -> Response:
    """The PDF certificate of a certified SMS of the caller's account; 404 otherwise."""
    return await _answer(request, session, subject, message_id, "sms", "sms")


@router.get("/mailing/certificates/{message_id}", response_class=Response,
            responses={**pdf_response("The certificate"), **schemas.ERRORS_AS_JSON})
async def mailing_certificate(message_id: str, request: Request, session: deps.Session, subject: Caller) -> Response:
    """The PDF certificate of a certified email of the caller's account; 404 otherwise."""
    return await _answer(request, session, subject, message_id, "email", "mailing")
