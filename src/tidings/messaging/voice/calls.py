"""A voice message's calls: preparing each one, following its progress, retrying, charging.

Progress comes as CallUpdates, from the Twilio status callbacks (tidings.api.inbound.voice) or known
at once by the sandbox (`voice.call_status` jobs, run by tidings.engine.voice). Outcomes:
- completed after an answer: `delivered` (details `duration`, the events report's callDurationSeconds); charged
  per started minute;
- no-answer, busy: the call is placed again no sooner than 10 minutes later while retries remain and
  that time is before the expiration date; then `undelivered` (retries spent) or `expired`;
- failed, canceled: `undelivered`;
- an answering machine when the request asked for AMD: the call is ended and the message is
  `undelivered` with code `machine`, not charged.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.base import VOICE, OutboundMessage, SendResult
from tidings.channels.voice import ANSWERED, COMPLETED, FAILED, MACHINE, PROGRESS, UNANSWERED, CallResult, CallUpdate
from tidings.config import Settings
from tidings.core import clock
from tidings.db.jobs import enqueue
from tidings.db.models import Message
from tidings.messaging import delivery, events, pricing, tracking
from tidings.messaging.voice.audio import EXTENSIONS
from tidings.messaging.voice.languages import DEFAULT_GENDER, DEFAULT_LANGUAGE

log = structlog.get_logger("tidings.voice")
CALLBACK_PATH: Final = "/inbound/voice/twilio"
STATUS_JOB: Final = "voice.call_status"
HANGUP_JOB: Final = "voice.hangup"
RETRY_AFTER: Final = timedelta(minutes=10)


def callback_url(settings: Settings) -> str:
    """Where Twilio posts call statuses for this install (authenticated by X-Twilio-Signature)."""
    return settings.public_url.rstrip("/") + CALLBACK_PATH


def tts_url(settings: Settings, message_id: int) -> str:
    """The unguessable URL of a message's text rendered by espeak-ng (a preview, or for providers that play audio)."""
    return f"{settings.public_url.rstrip('/')}/audio/tts/{tracking.token(message_id)}.wav"


def audio_url(settings: Settings, token: str, content_type: str) -> str:
    return f"{settings.public_url.rstrip('/')}/audio/{token}.{EXTENSIONS.get(content_type, 'bin')}"


@delivery.preparer(VOICE)
async def prepare_voice(session: AsyncSession, message: Message, settings: Settings) -> delivery.Prepared:
    """Every voice message (messaging API, omnichannel step) is placed from here."""
    extra = dict(message.extra or {})
    extra["price_per_minute"] = str(settings.voice_price_per_minute)
    message.extra = extra
    options: dict[str, Any] = {"language": extra.get("language") or DEFAULT_LANGUAGE,
                               "gender": extra.get("gender") or DEFAULT_GENDER, "amd": bool(extra.get("amd")),
                               "attempt": int(extra.get("calls") or 0) + 1, "status_callback": callback_url(settings),
                               "tts_url": tts_url(settings, message.id)}
    if extra.get("audio"):
        options["audio_url"] = audio_url(settings, str(extra["audio"]), str(extra.get("audio_type") or ""))
    # A caller id is a number; a name (the omnichannel steps' default sender) leaves the provider's own caller.
    caller = message.sender if message.sender.removeprefix("+").isdigit() else ""
    return delivery.Prepared(OutboundMessage(VOICE, caller, message.recipient, body=message.body or "",
                                             reference=str(message.id), options=options), key="channel:voice")


@delivery.outcome
async def on_call_placed(session: AsyncSession, message: Message, result: SendResult) -> None:
    """Count the call; the sandbox's known outcome becomes a job due when it happens."""
    if message.channel != VOICE or not result.accepted:
        return
    extra = {k: v for k, v in (message.extra or {}).items() if k not in ("answered", "answered_by")}
    extra["calls"] = int(extra.get("calls") or 0) + 1
    message.extra = extra
    if isinstance(result, CallResult) and result.outcome:
        await enqueue(session, STATUS_JOB, {"message_id": message.id, "updates": [asdict(u) for u in result.outcome]},
                      due_at=clock.now() + timedelta(seconds=result.after_seconds), account_id=message.account_id)


async def find_call(session: AsyncSession, provider_id: str) -> Message | None:
    """The voice message whose current call has this provider id, locked (a repeated callback waits, then sees it)."""
    stmt = (select(Message).where(Message.channel == VOICE, Message.external_id == provider_id,
                                  Message.direction == "out").order_by(Message.id.desc()).limit(1)
            .with_for_update().execution_options(populate_existing=True))
    return (await session.execute(stmt)).scalar_one_or_none()


async def apply(session: AsyncSession, message: Message, upd: CallUpdate) -> bool:
    """Record what a call status means for its message; True when the call should be hung up (AMD)."""
    if message.status != "sent" or message.external_id != upd.provider_id or upd.status in PROGRESS:
        return False  # an old call's late status, a finished message, or progress that is not an outcome
    extra = dict(message.extra or {})
    amd = bool(extra.get("amd"))
    if upd.status == ANSWERED:
        extra["answered"] = True
        if upd.answered_by:
            extra["answered_by"] = upd.answered_by
        message.extra = extra
        return amd and upd.machine
    if upd.status == COMPLETED:
        answered_by = upd.answered_by or str(extra.get("answered_by") or "")
        if amd and answered_by in MACHINE:
            await events.record(session, message, "undelivered", details={
                "code": "machine", "answeredBy": answered_by,
                "detail": "an answering machine answered; the call was ended (amd)"})
        elif extra.get("answered") or upd.duration > 0:
            details: dict[str, Any] = {"duration": upd.duration}
            if answered_by:
                details["answeredBy"] = answered_by
            await events.record(session, message, "delivered", details=details)
        else:
            await _unanswered(session, message, "no-answer")
    elif upd.status in UNANSWERED:
        await _unanswered(session, message, upd.status)
    elif upd.status in FAILED:
        await events.record(session, message, "undelivered", details={"code": upd.status,
                                                                       "detail": f"the call {upd.status}"})
    return False


async def _unanswered(session: AsyncSession, message: Message, status: str) -> None:
    """Retry an unanswered call 10 minutes later while retries remain and the message has not expired."""
    extra = dict(message.extra or {})
    calls, retries = int(extra.get("calls") or 1), int(extra.get("retries") or 0)
    now = clock.now()
    extra["unanswered"] = [*(extra.get("unanswered") or []), {"status": status, "at": now.isoformat()}]
    message.extra = extra
    if calls > retries:
        detail = f"not answered ({status})" + (f" after {calls} calls" if calls > 1 else "")
        await events.record(session, message, "undelivered", details={"code": status, "detail": detail})
        return
    due = now + RETRY_AFTER
    if message.expires_at is not None and due >= clock.as_utc(message.expires_at):
        await events.record(session, message, "expired", details={
            "code": status, "detail": "not answered; a retry would be after the expiration date"})
        return
    message.status, message.due_at = "queued", due
    log.info("voice call not answered, retrying", message_id=message.id, status=status, retry=calls)


def _rate(message: Message) -> Decimal:
    try:
        return Decimal(str((message.extra or {}).get("price_per_minute") or "0"))
    except InvalidOperation:
        return Decimal("0")


@events.on_event("delivered", wants=lambda facts: facts.get("channel") == VOICE and facts.get("direction") == "out")
async def charge_answered(session: AsyncSession, happened: events.Happened) -> None:
    """An answered call costs the rate per started minute (only answered calls are charged)."""
    message = happened.message
    if not happened.first or message.channel != VOICE or message.direction != "out":
        return
    seconds = int((happened.event.details or {}).get("duration") or 0)
    pricing.charge(session, message, _rate(message) * max(1, math.ceil(seconds / 60)))


async def apply_updates(session: AsyncSession, message: Message, updates: list[CallUpdate]) -> None:
    """Apply statuses in order; queue the hang-up an AMD machine answer asks for."""
    for upd in updates:
        if await apply(session, message, upd):
            await enqueue(session, HANGUP_JOB, {"provider_id": upd.provider_id, "message_id": message.id},
                          account_id=message.account_id)


def updates_from(payload: dict[str, Any]) -> list[CallUpdate]:
    """The CallUpdates of a `voice.call_status` job."""
    return [CallUpdate(str(u["provider_id"]), str(u["status"]), int(u.get("duration") or 0),
                       str(u.get("answered_by") or "")) for u in payload.get("updates") or []]


async def later(session: AsyncSession, updates: list[CallUpdate]) -> None:
    """Keep statuses of a call not recorded yet (the callback overtook the dispatcher) as a job."""
    await enqueue(session, STATUS_JOB, {"updates": [asdict(u) for u in updates],
                                        "first_seen": clock.now().isoformat()},
                  due_at=clock.now() + timedelta(seconds=5))
