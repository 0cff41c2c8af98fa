"""Delivery receipts from SMS providers become message events.

A receipt names the provider's id of one part. The message is found by its reference (the message id
the provider remembered), else by `(channel, external_id)` (the first part's id), else by a later part's
id in `message_parts`. Only the first part's receipt reports delivery; a failure of any part fails the
message. The raw carrier status stays in the event details (`stat`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tidings.channels.base import SendResult
from tidings.channels.sms import MultipartResult, Receipt
from tidings.config import Settings
from tidings.db.at_commit import Pending
from tidings.db.base import by_ids, one_of, table_of
from tidings.db.models import Account, Message, MessagePart, Sending
from tidings.db.plain_writes import update_plain
from tidings.messaging import delivery, events


@delivery.outcome
async def remember_part_ids(session: AsyncSession, message: Message, result: SendResult) -> None:
    """Keep every part's provider id on a multi-part message, so later parts' receipts map back."""
    if result.accepted and isinstance(result, MultipartResult) and len(result.part_ids) > 1:
        message.extra = {**(message.extra or {}), "part_ids": list(result.part_ids)}
        _PARTS.of(session.sync_session).extend(
            {"message_id": message.id, "channel": message.channel, "provider_id": provider_id, "part": number}
            for number, provider_id in enumerate(result.part_ids[1:], start=2))


_INSERT_PARTS = insert(table_of(MessagePart))


def _insert_parts(session: Session, rows: list[dict[str, Any]]) -> None:
    session.connection().execute(_INSERT_PARTS, rows)


# Written with the record transaction, in one statement for the batch.
_PARTS: Pending[list[dict[str, Any]]] = Pending("tidings.receipts.parts", list, _insert_parts)


def _part_number(extra: dict[str, Any] | None, provider_id: str) -> int:
    """Which part of its message a provider id is, from the part ids the send kept (1 when it kept none)."""
    ids = (extra or {}).get("part_ids") or []
    return ids.index(provider_id) + 1 if provider_id in ids else 1


async def find_message(session: AsyncSession, channel: str, provider_id: str, reference: str | None = None,
                       ) -> tuple[Message, int] | None:
    """The outbound message a part id belongs to, and the part's number (1 for the first)."""
    if reference and reference.isdigit():
        message = await session.get(Message, int(reference))
        if message is not None and message.channel == channel:
            return message, _part_number(message.extra, provider_id)
    stmt = select(Message).where(Message.channel == channel, Message.external_id == provider_id,
                                 Message.direction == "out").order_by(Message.id.desc()).limit(1)
    message = (await session.execute(stmt)).scalar_one_or_none()
    if message is not None:
        return message, 1
    # A later part's receipt without its reference (after a restart), or a receipt that came before its message
    # was recorded (then nothing matches yet, through the index).
    by_part = (select(Message, MessagePart.part).join(MessagePart, MessagePart.message_id == Message.id)
               .where(MessagePart.channel == channel, MessagePart.provider_id == provider_id,
                      Message.direction == "out").order_by(Message.id.desc()).limit(1))
    row = (await session.execute(by_part)).first()
    if row is None:
        return None
    message, part = row.tuple()
    return message, part


async def apply_receipt(session: AsyncSession, receipt: Receipt) -> bool:
    """Record the event a receipt means; False when no message matches it (yet)."""
    found = await find_message(session, receipt.channel, receipt.provider_id, receipt.reference)
    if found is None:
        return False
    await _apply(session, receipt, *found)
    return True


# The FACTS of messages by id, and their accounts' settings, for receipts recorded on plain rows.
_FACTS = select(*(table_of(Message).c[name] for name in events.FACTS)).where(
    one_of(table_of(Message).c.id))
_ACCOUNT_SETTINGS = select(Account.id, Account.settings).where(one_of(Account.id))


async def _plain_rows(session: AsyncSession, receipts: list[Receipt],
                      ) -> tuple[dict[int, dict[str, Any]], dict[int, list[events.PlainListener]]]:
    """The messages whose receipts in this batch can be recorded on plain rows (`events.plain_listeners`), by id,
    and for a message with one receipt in the batch the plain listeners of its event.

    By now every receipt that matches a message names it (`_name_messages`); one found another way could name a plain
    row's message again, loaded. Recording those needs no `Message` object: loading one
    (44 columns), its event's attribute writes and their flush were most of a receipt's CPU (docs/performance.md).
    """
    receipts = [r for r in receipts if r.reference and r.reference.isdigit()]  # the others match no message
    refs = sorted({int(str(r.reference)) for r in receipts})
    rows: dict[int, dict[str, Any]] = {}
    for i in range(0, len(refs), 500):
        result = await session.execute(_FACTS, {"ids": refs[i:i + 500]})
        names = tuple(result.keys())
        for found in result.tuples():
            rows[found[0]] = dict(zip(names, found, strict=True))
    if any(rows.get(int(str(r.reference)), {}).get("channel") != r.channel for r in receipts):
        return {}, {}
    settings: dict[int, Any] = {}
    wanted = sorted({row["account_id"] for row in rows.values()})
    for i in range(0, len(wanted), 500):
        settings.update((await session.execute(_ACCOUNT_SETTINGS, {"ids": wanted[i:i + 500]})).tuples().all())
    for row in rows.values():
        row["account_settings"] = settings.get(row["account_id"])
    plans: dict[int, list[events.PlainListener]] = {}
    seen: set[int] = set()
    for receipt in receipts:
        facts = rows.get(int(str(receipt.reference)))
        if facts is None or receipt.status is None:
            continue
        message_id = facts["id"]
        listeners = events.plain_listeners(receipt.status, facts)
        if listeners is None:
            del rows[message_id]  # loaded, for its listeners: all this message's receipts
            plans.pop(message_id, None)
        elif message_id in seen:
            plans.pop(message_id, None)  # its next receipt meets the row its first changed: worked out then
        else:
            plans[message_id] = listeners
        seen.add(message_id)
    return rows, plans


async def _name_messages(session: AsyncSession, receipts: list[Receipt]) -> None:
    """Give each receipt that does not name its message (heard on another worker's bind, or after a restart) the
    message its provider id finds, as `find_message` does: the latest whose first part it is, else a later part."""
    loose = [r for r in receipts if not (r.reference and r.reference.isdigit())]
    for channel in {r.channel for r in loose}:
        wanted = sorted({r.provider_id for r in loose if r.channel == channel})
        found: dict[str, int] = {}
        for i in range(0, len(wanted), 500):
            stmt = (select(Message.external_id, Message.id)
                    .where(Message.channel == channel, Message.direction == "out",
                           Message.external_id.in_(wanted[i:i + 500])).order_by(Message.id))
            found.update((str(provider_id), id_) for provider_id, id_ in (await session.execute(stmt)).tuples())
        rest = [p for p in wanted if p not in found]
        for i in range(0, len(rest), 500):
            by_part = (select(MessagePart.provider_id, MessagePart.message_id)
                       .join(Message, Message.id == MessagePart.message_id)
                       .where(MessagePart.channel == channel, MessagePart.provider_id.in_(rest[i:i + 500]),
                              Message.direction == "out").order_by(Message.id))
            found.update((str(provider_id), id_) for provider_id, id_ in (await session.execute(by_part)).tuples())
        for receipt in loose:
            if receipt.channel == channel and (message_id := found.get(receipt.provider_id)) is not None:
                receipt.reference = str(message_id)


async def apply_receipts(session: AsyncSession, receipts: list[Receipt]) -> list[Receipt]:
    """Apply a batch of receipts in order, inside `events.batch`; returns those whose message was not found (yet).

    A message whose events only listeners with a plain form want is recorded on a plain row, its columns written
    by one UPDATE for the batch. The others are loaded with their sendings and accounts, one query each for the
    whole batch (and held, as the session keeps rows weakly), so the listeners' lookups are identity-map hits.
    """
    await _name_messages(session, receipts)
    plain, plans = await _plain_rows(session, receipts)
    changed: dict[int, dict[str, Any]] = {}
    held: list[object] = []
    by_id: dict[int, Message] = {}
    refs = sorted({int(r.reference) for r in receipts if r.reference and r.reference.isdigit()} - set(plain))
    for i in range(0, len(refs), 500):
        rows = (await session.execute(by_ids(Message), {"ids": refs[i:i + 500]})).scalars().all()
        by_id.update((m.id, m) for m in rows)
    by_external: dict[tuple[str, str], Message] = {}
    known = by_id.keys() | plain.keys()
    # A reference that names no message of its channel (a stale one): found by provider id instead. A receipt still
    # without one after `_name_messages` matches nothing yet.
    loose = sorted({(r.channel, r.provider_id) for r in receipts
                    if r.reference and r.reference.isdigit() and int(r.reference) not in known})
    for channel in {c for c, _ in loose}:
        wanted = [p for c, p in loose if c == channel]
        for i in range(0, len(wanted), 500):
            stmt = (select(Message).where(Message.channel == channel, Message.direction == "out",
                                          Message.external_id.in_(wanted[i:i + 500])).order_by(Message.id))
            for m in (await session.execute(stmt)).scalars():
                by_external[(channel, str(m.external_id))] = m  # the latest wins, as in find_message
    messages = [*by_id.values(), *by_external.values()]
    held.extend(messages)
    for model, ids in ((Sending, {m.sending_id for m in messages if m.sending_id is not None}),
                       (Account, {m.account_id for m in messages})):
        wanted_ids = sorted(ids)
        for i in range(0, len(wanted_ids), 500):
            held.extend((await session.execute(by_ids(model), {"ids": wanted_ids[i:i + 500]})).scalars())
    # Receipts of the first part, on messages with no other receipt in the batch and whose event no listener
    # wants (the common case: an account without notifications), recorded first by set statements per kind and
    # details; the others after them, in the order they came.
    sets: dict[tuple[str, tuple[tuple[str, Any], ...]], list[dict[str, Any]]] = {}
    in_order: list[tuple[Receipt, int | None, dict[str, Any] | None]] = []  # with its reference and plain row
    for receipt in receipts:
        ref = int(receipt.reference) if receipt.reference and receipt.reference.isdigit() else None
        row = plain.get(ref) if ref is not None else None
        if row is not None and plans.get(row["id"]) == [] and receipt.provider_id == row["external_id"]:
            kind, details = _event_of(receipt, row["status"], _part_number(row["extra"], receipt.provider_id))
            if kind is not None and details["part"] == 1:
                details["provider_id"] = _PROVIDER_ID  # the message's own, as the set statement reads it
                sets.setdefault((kind, tuple(details.items())), []).append(row)
                continue
        in_order.append((receipt, ref, row))
    for (kind, details_items), alike in sets.items():
        await events.record_plain_set(session, alike, kind, dict(details_items))
    missing: list[Receipt] = []
    for receipt, ref, row in in_order:
        if row is not None:
            kind, details = _event_of(receipt, row["status"], _part_number(row["extra"], receipt.provider_id))
            if kind is not None:
                changed.setdefault(row["id"], {}).update(await events.record_plain(
                    session, row, kind, details=details, listeners=plans.get(row["id"])))
            continue
        if ref is None:
            missing.append(receipt)  # `_name_messages` found no message for it
            continue
        message = by_id.get(ref)
        found: tuple[Message, int] | None
        if message is not None and message.channel == receipt.channel:
            found = message, _part_number(message.extra, receipt.provider_id)
        elif (message := by_external.get((receipt.channel, receipt.provider_id))) is not None:
            found = message, 1
        else:
            found = await find_message(session, receipt.channel, receipt.provider_id, receipt.reference)
        if found is None:
            missing.append(receipt)
        else:
            await _apply(session, receipt, *found)
    # The loaded messages in the same pass: another worker may be recording sends of these messages, and one key
    # order keeps the two from deadlocking.
    await update_plain(session, Message, changed, loaded=messages)
    return missing


_PROVIDER_ID = table_of(Message).c.external_id


def _event_of(receipt: Receipt, status: str | None, part: int) -> tuple[str | None, dict[str, Any]]:
    """The event a receipt of a message's part means given the message's status (None: no event), and its details."""
    kind = receipt.status
    if kind is None:
        return None, {}  # ACCEPTD / ENROUTE: not an outcome yet
    if kind == "delivered" and part > 1:
        return None, {}  # the first part reports delivery; later parts only report failures
    if kind == "delivered" and status in events.FAILURES:
        return None, {}  # another part already failed the message
    details: dict[str, Any] = {"stat": receipt.stat, "code": receipt.error or None, "provider_id": receipt.provider_id,
                               "part": part}
    if kind != "delivered":
        details["detail"] = f"stat:{receipt.stat} err:{receipt.error}"
    return kind, details


async def _apply(session: AsyncSession, receipt: Receipt, message: Message, part: int) -> None:
    kind, details = _event_of(receipt, message.status, part)
    if kind is not None:
        # Recorded at our clock, not the carrier's minute-precision done date, so events stay in order.
        await events.record(session, message, kind, details=details)


def receipt_payload(receipt: Receipt) -> dict[str, Any]:
    """A receipt as a job payload (for one that arrived before its message was recorded)."""
    return {"channel": receipt.channel, "provider_id": receipt.provider_id, "stat": receipt.stat,
            "status": receipt.status, "error": receipt.error, "reference": receipt.reference, "part": receipt.part,
            "done_at": receipt.done_at.isoformat() if receipt.done_at else None}


def receipt_from_payload(payload: dict[str, Any]) -> Receipt:
    done = payload.get("done_at")
    return Receipt(str(payload["channel"]), str(payload["provider_id"]), str(payload.get("stat") or "UNKNOWN"),
                   payload.get("status"), str(payload.get("error") or ""),
                   datetime.fromisoformat(done) if done else None, payload.get("reference"),
                   int(payload.get("part") or 1))


# --- Twilio-compatible status callbacks -----------------------------------------------------------------

# MessageStatus values that are outcomes; queued, sending, sent and accepted are progress, not events.
TWILIO_STATUS = {"delivered": "delivered", "undelivered": "undelivered", "failed": "failed"}


def callback_token(install_secret: str) -> str:
    """The secret path segment of the status-callback URL before signatures (still accepted, with a signature)."""
    digest = hmac.new(install_secret.encode(), b"tidings-sms-status-callback", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def callback_url(settings: Settings) -> str:
    """Where a Twilio-compatible provider posts delivery statuses for this install (X-Twilio-Signature checked)."""
    return f"{settings.public_url.rstrip('/')}/inbound/sms/twilio"


def twilio_receipt(form: dict[str, str]) -> Receipt | None:
    """A Receipt from a status callback's form fields, or None when they are not one."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or not status or len(sid) > 255:
        return None
    return Receipt("sms", sid, status.upper(), TWILIO_STATUS.get(status), (form.get("ErrorCode") or "").strip())
