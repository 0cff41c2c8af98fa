"""Accept a voice request of the messaging dialect (/voice and /voiceAudio) and queue one call per recipient.

The whole request is checked (and a /voiceAudio file fetched) before anything is written, so a refused
request leaves nothing behind. Codes: 102 recipients, 104/105 text, 130 language, 131 gender (M for a
female-only language too), 132 callers (each must be registered for the account with
`tidings voice caller add`), 133/134 audio, 108/119 dates, 109 notificationUrl, 126 campaign name.
Calls are placed by the shared pipeline; tidings.messaging.voice.calls handles their progress.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import Settings
from tidings.core import clock
from tidings.core.errors import DomainError, InsufficientBalance, NotFound, ValidationFailed
from tidings.core.phones import normalize_phone, phone_country
from tidings.core.templating import render_custom_fields
from tidings.core.values import as_flag
from tidings.db.models import Account, Message, VoiceAudio
from tidings.messaging import outbox
from tidings.messaging.outbox import Outcome, Queued
from tidings.messaging.scheduled import parse_nrs_date
from tidings.messaging.sms import service as sms_service
from tidings.messaging.sms.service import contact_fields, contacts_by_phone, nrs
from tidings.messaging.voice import audio, repository
from tidings.messaging.voice.languages import GENDERS, LANGUAGES
from tidings.tenancy.subject import AuthSubject

SOURCE: Final = "rest"  # the messaging dialect's sendings (blacklist type `voice`, event notifications)
MAX_TEXT: Final = 500
MAX_RETRIES: Final = 5
MAX_RECIPIENTS: Final = 10_000
MAX_URL: Final = 2000
DESCRIPTIONS: Final = {130: "Invalid voice language", 131: "Invalid voice gender", 132: "Invalid voice caller",
                       133: "Invalid audio URL", 134: "Unsupported audio format"}
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_.\-]*(?:\|[A-Za-z]+)*\}")


def refuse(code: int, reason: str | None = None) -> DomainError:
    """A voice refusal (130-134 are 400s) with the document's description, and why when known."""
    description = DESCRIPTIONS.get(code)
    return nrs(code, f"{description}: {reason}" if description and reason else description)


@dataclass
class VoiceInput:
    """The request as received (names follow the document; values not yet validated)."""

    to: Any = None
    message: Any = None
    audio_url: Any = None
    language: Any = None
    gender: Any = None
    callers: Any = None
    schedule_date: Any = None
    retries: Any = None
    expiration_date: Any = None
    campaign_name: Any = None
    tags: Any = None
    sub: Any = None
    amd: Any = None
    notification_url: Any = None


@dataclass
class _Common:
    numbers: list[str | None]
    raws: list[Any]
    callers: dict[str, str]
    due: datetime | None
    expires: datetime | None
    retries: int
    amd: bool
    campaign_name: str | None
    tags: list[str]
    urls: list[str | None]


def _recipients(raw: Any) -> tuple[list[Any], list[str | None]]:
    if isinstance(raw, str | int) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise nrs(102)
    if len(raw) > MAX_RECIPIENTS:
        raise ValidationFailed.on("to", f"The to field may not have more than {MAX_RECIPIENTS} items.")
    numbers = [normalize_phone(str(r)) if isinstance(r, str | int) and not isinstance(r, bool) else None for r in raw]
    if not any(numbers):
        raise nrs(102)
    return raw, numbers


def _caller_map(raw: Any) -> dict[str, str]:
    """The request's callers as {country ISO: digits}; 132 for anything that cannot be one."""
    if raw is None or raw == {} or raw == []:
        return {}
    if not isinstance(raw, Mapping):
        raise refuse(132, "callers must be an object such as {\"ES\": \"34911222333\"}")
    out: dict[str, str] = {}
    for country, number in raw.items():
        iso = str(country).strip().upper()
        text = str(number) if isinstance(number, str | int) and not isinstance(number, bool) else ""
        digits = re.sub(r"[\s().\-]", "", text).removeprefix("+")
        if len(iso) != 2 or not iso.isalpha() or not digits.isascii() or not digits.isdigit() \
                or not 3 <= len(digits) <= 15:
            raise refuse(132, f"{country!s:.20}: {text:.20} is not a country code and a number")
        out[iso] = digits
    return out


def _retries(raw: Any) -> int:
    if raw is None:
        return 0
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_RETRIES:
        raise ValidationFailed.on("retries", f"The retries field must be an integer from 0 to {MAX_RETRIES}.")
    return raw










async def _common(session: AsyncSession, subject: AuthSubject, req: VoiceInput, allow_private: bool) -> _Common:
    """The rules /voice and /voiceAudio share, after their own message or audio checks."""
    raws, numbers = _recipients(req.to)
    callers = _caller_map(req.callers)
    known = await repository.registered(session, subject, callers.items())
    for country, number in callers.items():
        if (country, number) not in known:
            raise refuse(132, f"{number} is not a registered caller of this account for {country}")
    due = parse_nrs_date(req.schedule_date, 108)
    if due is not None and due <= clock.now():
        due = None
    expires = parse_nrs_date(req.expiration_date, 119)
    if expires is not None and (expires <= clock.now() or (due is not None and expires <= due)):
        raise nrs(119)
    retries = _retries(req.retries)
    amd = as_flag(req.amd) if req.amd is not None else False
    if amd is None:
        raise ValidationFailed.on("amd", "The amd field must be true or false.")
    tags = sms_service.parse_tags(req.tags)
    if req.campaign_name is not None and not isinstance(req.campaign_name, str):
        raise ValidationFailed.on("campaignName", "The campaignName field must be a string.")
    name = req.campaign_name.strip() if isinstance(req.campaign_name, str) else None
    if (req.campaign_name is not None and not name) or (tags and not name):
        raise nrs(126)
    if name is not None and len(name) > 255:
        raise ValidationFailed.on("campaignName", "The campaignName may not be greater than 255 characters.")
    urls = sms_service.notification_urls(req.notification_url, len(raws), allow_private)
    return _Common(numbers, raws, callers, due, expires, retries, amd, name, tags, urls)


async def _check_balance(session: AsyncSession, subject: AuthSubject, settings: Settings, calls: int) -> None:
    """111 when balance enforcement is on and the account cannot pay a minute to every recipient."""
    rate: Decimal = settings.voice_price_per_minute
    if not settings.enforce_balance or rate <= 0:
        return
    account = await session.get(Account, subject.account_id)
    if account is None:
        raise NotFound("Resource not found")
    if account.balance < rate * calls:
        raise InsufficientBalance("Not enough credits", nrs_code=111)


def _language_and_gender(language: Any, gender: Any) -> tuple[str, str]:
    if not isinstance(language, str) or language.strip() not in LANGUAGES:
        raise refuse(130, f"language must be one of {', '.join(LANGUAGES)}")
    code = language.strip()
    if not isinstance(gender, str) or gender.strip().upper() not in GENDERS:
        raise refuse(131, "gender must be F or M")
    chosen = gender.strip().upper()
    if chosen == "M" and LANGUAGES[code][1]:
        raise refuse(131, f"{code} is available only with a female voice")
    return code, chosen


async def send_tts(session: AsyncSession, subject: AuthSubject, settings: Settings, req: VoiceInput) -> Queued:
    """POST /voice: the text is spoken to each recipient in the language and gender asked for."""
    raws, _ = _recipients(req.to)
    if not isinstance(req.message, str) or not req.message.strip():
        raise nrs(104)
    if len(req.message) > MAX_TEXT:
        raise nrs(105, f"Text message too long: at most {MAX_TEXT} characters")
    language, gender = _language_and_gender(req.language, req.gender)
    common = await _common(session, subject, req, settings.outbound_allow_private)
    subs = sms_service.parse_subs(req.sub, len(raws))
    templated = bool(_PLACEHOLDER.search(req.message))
    valid = [n for n in common.numbers if n]
    contacts = await contacts_by_phone(session, subject, valid) if templated else {}
    texts: list[str | int] = []
    for number, values in zip(common.numbers, subs, strict=True):
        if number is None:
            texts.append(102)
            continue
        text = req.message
        if templated:
            text = render_custom_fields(text, {**(contact_fields(contacts[number]) if number in contacts else {}),
                                               **values})
        texts.append(text if len(text) <= MAX_TEXT else 105)
    extra = {"language": language, "gender": gender}
    return await _queue(session, subject, settings, common, texts, subs, extra, contacts)


async def send_audio(session: AsyncSession, subject: AuthSubject, settings: Settings, req: VoiceInput) -> Queued:
    """POST /voiceAudio: the file at audioUrl, fetched and kept, is played to each recipient."""
    _recipients(req.to)
    if not isinstance(req.audio_url, str) or not req.audio_url.strip():
        raise refuse(133, "audioUrl is required")
    common = await _common(session, subject, req, settings.outbound_allow_private)
    await _check_balance(session, subject, settings, sum(1 for n in common.numbers if n))
    try:
        fetched = await audio.fetch(req.audio_url.strip(), allow_private=settings.outbound_allow_private,
                                    max_bytes=audio.MAX_BYTES)
    except audio.AudioError as exc:
        raise refuse(exc.code, exc.reason) from None
    kept = VoiceAudio(account_id=subject.account_id, token=audio.new_token(), source_url=req.audio_url.strip(),
                      content_type=fetched.content_type, size=len(fetched.data), sha256=fetched.sha256,
                      data=fetched.data)
    session.add(kept)
    await session.flush()
    texts: list[str | int] = ["" if n else 102 for n in common.numbers]
    extra = {"audio": kept.token, "audio_type": kept.content_type, "audio_sha256": kept.sha256}
    return await _queue(session, subject, settings, common, texts, [{} for _ in texts], extra, {})


async def _queue(session: AsyncSession, subject: AuthSubject, settings: Settings, common: _Common,
                 texts: list[str | int], subs: list[dict[str, str]], extra: dict[str, Any],
                 contacts: dict[str, Any]) -> Queued:
    accepted = [t for t in texts if not isinstance(t, int)]
    if not accepted:
        raise nrs(next(t for t in texts if isinstance(t, int)))
    await _check_balance(session, subject, settings, len(accepted))
    options: dict[str, Any] = {"tags": common.tags}
    if common.expires is not None:
        options["expiresAt"] = common.expires.isoformat()
    sending = await outbox.open_sending(session, subject, channel="voice", source=SOURCE,
                                        campaign_name=common.campaign_name, tags=common.tags,
                                        scheduled_at=common.due, options=options)
    queued = Queued(sending)
    messages: list[Message] = []
    for raw, number, text, values, url in zip(common.raws, common.numbers, texts, subs, common.urls, strict=True):
        if isinstance(text, int) or number is None:
            queued.results.append(Outcome(str(raw), error=text if isinstance(text, int) else 102))
            continue
        own = {**extra, "retries": common.retries, "amd": common.amd, "calls": 0}
        if values:
            own["sub"] = values
        if url:
            own["notification_url"] = url
        contact = contacts.get(number)
        message = outbox.new_message(account_id=subject.account_id, channel="voice",
                                     sender=common.callers.get(phone_country(number) or "", ""), recipient=number,
                                     sending=sending, due_at=common.due, expires_at=common.expires, body=text,
                                     contact_id=contact.id if contact is not None else None, extra=own)
        messages.append(message)
        queued.results.append(Outcome(number, message=message))
    session.add_all(messages)
    await session.flush()
    rejected = sum(1 for r in queued.results if r.message is None)
    sending.total += rejected
    sending.rejected += rejected
    return queued
