"""Accept an SMS request of the messaging dialect: validate it, then queue one message per recipient.

The whole request is checked before anything is written, so a refused request leaves nothing behind.
Per-recipient problems (an invalid number, a text that grows past `parts` with its `sub` values) only
refuse that recipient (HTTP 207); when no recipient is left, the first refusal is the request's error.
Sending, {UNSUB_URL}, parts splitting and delivery are the shared pipeline's (tidings.messaging.preparers).
{OTP_CODE} becomes a new code per recipient here (tidings.messaging.otp), so parts count its real length.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from tidings import net
from tidings.config import Settings
from tidings.core import clock, sms
from tidings.core.errors import DomainError, ValidationFailed
from tidings.core.phones import normalize_phone
from tidings.core.templating import render_custom_fields
from tidings.core.values import as_flag
from tidings.core.windows import AVAILABLE_TIMES_MESSAGES, parse_available_times
from tidings.db import bulk
from tidings.db.models import Contact, Message
from tidings.messaging import otp, outbox, tracking
from tidings.messaging.contacts import service as contact_database
from tidings.messaging.outbox import Outcome, Queued
from tidings.messaging.scheduled import parse_nrs_date
from tidings.messaging.shortlinks import Shortener
from tidings.tenancy.subject import AuthSubject

try:  # 5c's balance check; absent until pricing lands, then always called before queueing.
    from tidings.messaging.pricing import check_balance
except ImportError:  # pragma: no cover - pricing ships with the project
    check_balance = None  # type: ignore[assignment]

SOURCE = "rest"
MAX_RECIPIENTS = 10_000
MAX_URL = 2000
PREPARER = "rest_sms"
_PENDING_OTP = -1  # a plan's refusal: rejectIfPendingCode and a code is pending (422)
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_.\-]*(?:\|[A-Za-z]+)*\}")


def nrs(code: int, description: str | None = None) -> DomainError:
    """A refusal with a documented 360nrs code; the dialect renders its status and description."""
    extra: dict[str, Any] = {"nrs_code": code}
    if description:
        extra["description"] = description
    return DomainError(description or f"request refused (code {code})", **extra)


@dataclass
class SmsInput:
    """The request as the dialect received it (values not yet validated; names follow the document)."""

    to: Any = None
    sender: Any = None
    message: Any = None
    encoding: Any = None
    parts: Any = None
    split_parts: Any = None
    trans: Any = None
    flash: Any = None
    schedule_date: Any = None
    expiration_date: Any = None
    notification_url: Any = None
    campaign_name: Any = None
    tags: Any = None
    certified: Any = None
    sub: Any = None
    available_times: Any = None
    otp_config: Any = None
    # For capabilities sent as SMS (landing SMS): the sending's channel and options, keys added to every
    # message's extra, and placeholders filled after queueing with a value of this text's length (parts count it).
    sending_channel: str = "sms"
    sending_options: Mapping[str, Any] | None = None
    message_extra: Mapping[str, Any] | None = None
    probes: Mapping[str, str] | None = None


@dataclass
class _Checked:
    """The request's values once valid."""

    text: str
    sender: str
    encoding: str | None  # None: gsm when the text fits, else utf-16
    max_parts: int
    due: datetime | None
    expires: datetime | None
    urls: list[str | None]
    campaign_name: str | None
    tags: list[str]
    subs: list[dict[str, str]]
    extra: dict[str, Any]
    otp: otp.OtpConfig


def _flag(value: Any, name: str) -> bool:
    parsed = as_flag(value)
    if parsed is None:
        raise ValidationFailed.on(name, f"The {name} field must be true or false.")
    return parsed


def _recipients(raw: Any) -> list[Any]:
    if isinstance(raw, str | int) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise nrs(102)
    if len(raw) > MAX_RECIPIENTS:
        raise ValidationFailed.on("to", f"The to field may not have more than {MAX_RECIPIENTS} items.")
    return raw


def _sender(raw: Any) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise nrs(106)
    sender = raw.strip()
    if len(sender) > (15 if sender.isdigit() else 11):
        raise nrs(107)
    if not sms.validate_sender(sender):
        raise ValidationFailed.on("from", "The from field must be up to 15 digits or up to 11 letters and digits.")
    return sender


def _encoding(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or raw.strip().lower() not in sms.ENCODINGS:
        raise nrs(113)
    return raw.strip().lower()


def _parts(raw: Any) -> int:
    if raw is None:
        return 1
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= sms.MAX_PARTS:
        raise nrs(110)
    return raw


def _valid_url(url: Any, allow_private: bool) -> bool:
    """http(s) with a host that the outbound guard would call (no loopback or private host, however spelled)."""
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL or any(c.isspace() for c in url.strip()):
        return False
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a malformed port
        net.check_static(url.strip(), allow_private)
    except ValueError:  # net.UnsafeUrl is one
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def notification_urls(raw: Any, count: int, allow_private: bool) -> list[str | None]:
    """One URL for every recipient, or one per recipient (109 when unusable or the count differs)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return [None] * count
    if isinstance(raw, str):
        if not _valid_url(raw, allow_private):
            raise nrs(109)
        return [raw.strip()] * count
    if not isinstance(raw, list) or len(raw) != count or not all(_valid_url(u, allow_private) for u in raw):
        raise nrs(109)
    return [str(u).strip() for u in raw]


def parse_tags(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationFailed.on("tags", "The tags field must be an array.")
    tags = []
    for tag in raw:
        if isinstance(tag, bool) or not isinstance(tag, str | int) or not str(tag).strip() or len(str(tag)) > 100:
            raise ValidationFailed.on("tags", "Each tag must be a non-empty string of at most 100 characters.")
        tags.append(str(tag).strip())
    return list(dict.fromkeys(tags))


def parse_subs(raw: Any, count: int) -> list[dict[str, str]]:
    if raw is None:
        return [{} for _ in range(count)]
    if not isinstance(raw, list) or len(raw) != count:
        raise ValidationFailed.on("sub", "The sub field must have one object per recipient in to.")
    out: list[dict[str, str]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ValidationFailed.on(f"sub.{i}", "Each sub item must be an object of variables.")
        out.append({str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                    for k, v in item.items() if v is None or isinstance(v, str | int | float | bool)})
    return out


def check(req: SmsInput, *, allow_private: bool = False) -> _Checked:
    """Every request-level rule, in the order the documented codes are reported."""
    count = len(_recipients(req.to))
    if not isinstance(req.message, str) or not req.message.strip():
        raise nrs(104)
    sender = _sender(req.sender)
    encoding = _encoding(req.encoding)
    max_parts = _parts(req.parts)
    due = parse_nrs_date(req.schedule_date, 108)
    if due is not None and due <= clock.now():
        due = None  # a date already past means now, as for an immediate send
    expires = parse_nrs_date(req.expiration_date, 119)
    if expires is not None and (expires <= clock.now() or (due is not None and expires <= due)):
        raise nrs(119)
    urls = notification_urls(req.notification_url, count, allow_private)
    tags = parse_tags(req.tags)
    campaign_name = req.campaign_name.strip() if isinstance(req.campaign_name, str) else None
    if req.campaign_name is not None and not isinstance(req.campaign_name, str):
        raise ValidationFailed.on("campaignName", "The campaignName field must be a string.")
    if (req.campaign_name is not None and not campaign_name) or (tags and not campaign_name):
        raise nrs(126)
    if campaign_name is not None and len(campaign_name) > 255:
        raise ValidationFailed.on("campaignName", "The campaignName may not be greater than 255 characters.")
    extra: dict[str, Any] = {"preparer": PREPARER}
    if req.available_times is not None:
        windows = parse_available_times(req.available_times)
        if isinstance(windows, int):
            raise nrs(windows, AVAILABLE_TIMES_MESSAGES[windows])
        # Kept as the validated list (the document also accepts its JSON text); the gate parses it again.
        raw = req.available_times
        extra["available_times"] = raw if isinstance(raw, list) else json.loads(raw)
    if req.trans is not None and req.trans not in (0, 1, "0", "1"):
        raise ValidationFailed.on("trans", "The trans field must be 0 or 1.")
    text = req.message
    if req.trans in (1, "1"):
        text = sms.translate(text)
        extra["trans"] = True
    for name, value, key in (("flash", req.flash, "flash"), ("certified", req.certified, "certified"),
                             ("splitParts", req.split_parts, "split_parts")):
        if _flag(value, name):
            extra[key] = True
    if encoding is not None:
        extra["encoding"] = encoding
    # Checked even without {OTP_CODE} in the text: a malformed otpConfig is a mistake worth reporting.
    otp_config = otp.parse_config(req.otp_config, "otpConfig.")
    return _Checked(text=text, sender=sender, encoding=encoding, max_parts=max_parts, due=due, expires=expires,
                    urls=urls, campaign_name=campaign_name, tags=tags, subs=parse_subs(req.sub, count), extra=extra,
                    otp=otp_config)


def contact_fields(contact: Contact) -> dict[str, str]:
    return contact_database.template_fields(contact)


async def contacts_by_phone(session: AsyncSession, subject: AuthSubject, phones: list[str]) -> dict[str, Contact]:
    """The account's database contacts with these numbers."""
    return await contact_database.by_phones(session, subject, phones)


def _fit(text: str, encoding: str | None, max_parts: int) -> tuple[str, int] | int:
    """The encoding and number of parts for a text, or the refusal code (105 too long, 113 not encodable)."""
    chosen = encoding or sms.detect_encoding(text)
    try:
        length = sms.count_parts(text, chosen)
    except sms.UnencodableText:
        return 113
    return 105 if length.parts > max_parts else (chosen, max(1, length.parts))


async def send(session: AsyncSession, subject: AuthSubject, settings: Settings, req: SmsInput, *,
               read_only: bool = False) -> Queued:
    """Validate the whole request, then open a sending and queue one message per valid recipient.

    `read_only`: the caller only reads the queued messages back (not tracked by the session, so not saved
    again if changed).
    """
    checked = check(req, allow_private=settings.outbound_allow_private)
    raws: list[Any] = _recipients(req.to)
    numbers = [normalize_phone(str(r)) if isinstance(r, str | int) and not isinstance(r, bool) else None
               for r in raws]
    if not any(numbers):
        raise nrs(102)
    templated = bool(_PLACEHOLDER.search(checked.text))
    # Also without placeholders: a message to a known contact is linked to it (contactId in notifications).
    contacts = await contacts_by_phone(session, subject, [n for n in numbers if n])
    # {UNSUB_URL} becomes the message's own link at send time; count parts with a link of the same length.
    unsub_probe = tracking.unsubscribe_url(settings.public_url, 1)
    shortener = Shortener(subject.account_id, settings.public_url)
    config = checked.otp
    with_otp = otp.PLACEHOLDER in checked.text
    pending: set[str] = set()
    if with_otp and config.reject_if_pending:
        pending = await otp.pending_keys(session, subject, [n for n in numbers if n], config.app_id)
    plans: list[tuple[str, str, int] | int] = []  # (body, encoding, parts) or a refusal code
    codes: list[str | None] = []
    fits: dict[str, tuple[str, int] | int] = {}  # most requests send one text to every recipient
    for number, values in zip(numbers, checked.subs, strict=True):
        code = None
        if number is None:
            plans.append(102)
            codes.append(None)
            continue
        if with_otp:
            if number in pending:
                plans.append(_PENDING_OTP)
                codes.append(None)
                continue
            code = otp.draw(config)
            if config.reject_if_pending:
                pending.add(number)  # the same number twice in one request gets one code
        codes.append(code)
        body = checked.text
        if templated:
            fields = {**(contact_fields(contacts[number]) if number in contacts else {}), **values}
            if code is not None:
                fields[otp.VARIABLE] = code  # the reserved variable wins over a field of the same name
            body = render_custom_fields(body, fields, shorten=shortener)
            if checked.extra.get("trans"):
                body = sms.translate(body)
        fit = fits.get(body)
        if fit is None:
            probed = body.replace("{UNSUB_URL}", unsub_probe)
            for placeholder, probe in (req.probes or {}).items():
                probed = probed.replace(placeholder, probe)
            fit = fits[body] = _fit(probed, checked.encoding, checked.max_parts)
        plans.append(fit if isinstance(fit, int) else (body, fit[0], fit[1]))
    accepted = [(n, p) for n, p in zip(numbers, plans, strict=True) if not isinstance(p, int)]
    if not accepted:
        first = next(p for p in plans if isinstance(p, int))
        raise nrs(422, otp.PENDING_DESCRIPTION) if first == _PENDING_OTP else nrs(first)
    if check_balance is not None:
        await check_balance(session, subject.account_id, [str(n) for n, _ in accepted],
                            max(p[2] for _, p in accepted if not isinstance(p, int)), "sms", settings=settings,
                            certified=bool(checked.extra.get("certified")))

    options: dict[str, Any] = {**(req.sending_options or {}), "tags": checked.tags}
    if checked.expires is not None:
        options["expiresAt"] = checked.expires.isoformat()
    sending = await outbox.open_sending(session, subject, channel=req.sending_channel, source=SOURCE,
                                        campaign_name=checked.campaign_name, tags=checked.tags,
                                        scheduled_at=checked.due, options=options)
    queued = Queued(sending)
    messages: list[Message] = []
    issued: list[tuple[str, str, Message]] = []
    now = clock.now()  # one acceptance moment for the request's messages
    sending_id, campaign_id = sending.id, sending.campaign_id
    for raw, number, plan, values, url, code in zip(raws, numbers, plans, checked.subs, checked.urls, codes,
                                                    strict=True):
        shown = str(raw) if isinstance(raw, str | int) and not isinstance(raw, bool) else str(raw)
        if plan == _PENDING_OTP:
            queued.results.append(otp.Refused(shown, error=422, description=otp.PENDING_DESCRIPTION))
            continue
        if isinstance(plan, int) or number is None:
            queued.results.append(Outcome(shown, error=plan if isinstance(plan, int) else 102))
            continue
        body, encoding, parts = plan
        extra = {**checked.extra, **(req.message_extra or {})}
        if code is not None:
            extra["kind"] = "transactional"  # a code is not marketing: country quiet hours do not hold it
        if values:
            extra["sub"] = values
        if url:
            extra["notification_url"] = url
        contact = contacts.get(number)
        # The sending's ids given here and its counts moved once below (`count_accepted`): its instrumented
        # attributes a message each were a few per cent of accepting one.
        message = outbox.new_message(account_id=subject.account_id, channel="sms", sender=checked.sender,
                                     recipient=number, due_at=checked.due, now=now, sending_id=sending_id,
                                     campaign_id=campaign_id, expires_at=checked.expires, body=body, parts=parts,
                                     encoding=encoding, contact_id=contact.id if contact else None, extra=extra)
        messages.append(message)
        queued.results.append(Outcome(number, message=message))
        if code is not None:
            issued.append((number, code, message))
    outbox.count_accepted(sending, len(messages))
    await bulk.insert_all(session, messages, track=not read_only)
    await shortener.save(session)
    await session.flush()
    if issued:
        await otp.issue(session, subject, [(otp.phone(n), c, m.id) for n, c, m in issued], config,
                        starts_at=checked.due)
    rejected = sum(1 for r in queued.results if r.message is None)
    sending.total += rejected
    sending.rejected += rejected
    return queued

