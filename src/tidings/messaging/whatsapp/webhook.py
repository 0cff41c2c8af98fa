"""The Cloud API's webhook payload read into inbound messages and status updates.

`{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {"metadata":
{"phone_number_id"}, "contacts": [...], "messages": [...], "statuses": [...]}}]}]}`. Anything malformed
is skipped, never an error: the provider would only deliver the same payload again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.db.jobs import enqueue
from tidings.messaging.whatsapp import service
from tidings.messaging.whatsapp.service import Inbound

STATUS_JOB = "whatsapp.status"
STATUS_RETRY_SECONDS = 5
MAX_TEXT = 10_000


@dataclass
class StatusUpdate:
    external_id: str
    status: str
    code: str | None = None
    detail: str = ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value else None


def _inbound(phone_number_id: str, raw: dict[str, Any], names: dict[str, str]) -> Inbound | None:
    user, external_id, kind = _str(raw.get("from")), _str(raw.get("id")), _str(raw.get("type"))
    if user is None or external_id is None or kind is None:
        return None
    item = Inbound(phone_number_id=phone_number_id, user=user, external_id=external_id, type=kind,
                   name=names.get(user))
    body = _dict(raw.get(kind))
    if kind == "text":
        item.text = _str(body.get("body")) or ""
    elif kind == "button":  # a template's quick-reply button
        item.button_payload, item.button_text = _str(body.get("payload")), _str(body.get("text"))
    elif kind == "interactive":
        reply = _dict(body.get("button_reply") or body.get("list_reply"))
        item.button_payload, item.button_text = _str(reply.get("id")), _str(reply.get("title"))
    elif kind == "reaction":
        item.reaction_to, item.emoji = _str(body.get("message_id")), _str(body.get("emoji"))
    elif kind == "location":
        item.details = {"location": {k: body[k] for k in ("latitude", "longitude", "name", "address") if k in body}}
        item.text = " ".join(str(body[k]) for k in ("name", "address") if body.get(k))
    else:  # media and the rest: kept by kind, with the caption when there is one
        item.text = _str(body.get("caption")) or ""
        if _str(body.get("id")):
            item.details = {"media_id": body["id"]}
    return item


def parse(payload: Any) -> tuple[list[Inbound], list[StatusUpdate]]:
    """Every inbound message and status update in one webhook POST."""
    inbound: list[Inbound] = []
    statuses: list[StatusUpdate] = []
    if not isinstance(payload, dict):
        return inbound, statuses
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = _dict(change.get("value"))
            metadata = _dict(value.get("metadata"))
            phone_number_id = _str(metadata.get("phone_number_id"))
            if phone_number_id is None:
                continue
            names = {str(c.get("wa_id")): str(_dict(c.get("profile")).get("name") or "")[:200]
                     for c in _dicts(value.get("contacts"))}
            for raw in _dicts(value.get("messages")):
                item = _inbound(phone_number_id, raw, names)
                if item is not None:
                    inbound.append(item)
            for raw in _dicts(value.get("statuses")):
                external_id, status = _str(raw.get("id")), _str(raw.get("status"))
                if external_id is None or status is None:
                    continue
                error = next(iter(_dicts(raw.get("errors"))), {})
                detail = str(error.get("title") or error.get("message") or "")[:500]
                statuses.append(StatusUpdate(external_id, status.lower(),
                                             str(error["code"]) if error.get("code") is not None else None, detail))
    return inbound, statuses


async def apply(session: AsyncSession, inbound: list[Inbound], statuses: list[StatusUpdate]) -> None:
    """Record a webhook's messages and statuses; a status that overtook its message is tried again shortly."""
    for item in inbound:
        await service.receive(session, item)
    for update in statuses:
        if not await service.apply_status(session, update.external_id, update.status, update.detail, update.code):
            await enqueue(session, STATUS_JOB, {"id": update.external_id, "status": update.status,
                                                "code": update.code, "detail": update.detail,
                                                "first_seen": clock.now().isoformat()},
                          due_at=clock.now() + timedelta(seconds=STATUS_RETRY_SECONDS))
