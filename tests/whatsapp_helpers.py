"""Registering an account's WhatsApp sender and templates as an operator would (the CLI's services)."""

from __future__ import annotations

from typing import Any

from tidings.core import ids
from tidings.db.engine import Database
from tidings.messaging.whatsapp import service

SENDER = "34666777555"
PHONE_NUMBER_ID = "1234567890"
WABA_ID = "102290129340398"

WELCOME: dict[str, Any] = {
    "name": "welcome", "language": "es", "category": "MARKETING",
    "header": {"format": "TEXT", "text": "Hola {{1}}"}, "body": "Tu pedido {{1}} llega el {{2}}.",
    "footer": "Tienda", "buttons": [{"type": "QUICK_REPLY", "text": "Sí"}, {"type": "QUICK_REPLY", "text": "No"},
                                     {"type": "URL", "text": "Ver", "url": "https://shop.test/o/{{1}}"}]}
STORE: dict[str, Any] = {"name": "store", "language": "es", "header": {"format": "LOCATION"},
                         "body": "Te esperamos en nuestra tienda."}
CODE: dict[str, Any] = {"name": "code", "language": "es", "category": "AUTHENTICATION",
                        "body": "*{{1}}* es tu código.", "buttons": [{"type": "OTP", "text": "Copiar"}]}


async def register(db: Database, account_id: int, *templates: dict[str, Any], number: str = SENDER,
                   phone_number_id: str = PHONE_NUMBER_ID, status: str = "APPROVED") -> list[int]:
    """Add the sender and the templates to the account; returns the templates' public ids."""
    async with db.transaction() as s:
        await service.add_sender(s, account_id, number, phone_number_id, waba_id=WABA_ID)
        rows = [(await service.save_template(s, account_id, {**t, "status": status}))[0] for t in templates]
        return [ids.to_int(ids.Kind.WHATSAPP_TEMPLATE, r.id) for r in rows]
