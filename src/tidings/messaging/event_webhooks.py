"""Event notifications of the messaging dialect: a signed form POST to the account's URL for every event.

An account sets one URL (and optionally which events it wants). Every event of a message the
messaging API sent (SMS `sms`, email mailing `mailing`, voice `text2speech`, landing SMS `landing`)
queues a job in the event's own transaction; the job POSTs the document's fields as application/x-www-form-urlencoded
with an `X-Tidings-Signature` HMAC header, and is retried like notificationUrl calls (5 retries,
1 to 5 minutes apart; `tidings.messaging.notifications.retry_later`).

The URL and the signing secret are kept in Account.settings, encrypted with the install's vault
(the URL may carry credentials); logs name the host only. The job reads the settings when it runs,
so a URL changed or removed meanwhile is honoured by pending retries.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import secrets as std_secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings import net
from tidings.core import clock, ids, secrets
from tidings.core.errors import DomainError, Forbidden, NotFound, ValidationFailed
from tidings.core.ids import Kind
from tidings.db.base import by_ids, get_loaded, one_of
from tidings.db.jobs import enqueue
from tidings.db.models import Account, Campaign, Job, Message, Sending
from tidings.engine.context import EngineContext
from tidings.engine.registry import io_job, prefetched
from tidings.messaging import events, notifications, reports
from tidings.tenancy.subject import AuthSubject

log = structlog.get_logger("tidings.event_webhooks")

JOB_KIND: Final = "rest.event_webhook"
SETTINGS_KEY: Final = "event_notifications"
SIGNATURE_HEADER: Final = "X-Tidings-Signature"
# Messages the messaging API queued (SMS, mailing); other dialects have their own notifications.
SOURCE: Final = "rest"
# The document's events.
EVENTS: Final = ("delivered", "opened", "clicked", "unsubscribed", "hard_bounced", "complaint", "sent",
                 "soft_bounced", "undelivered", "rejected", "expired", "unsubscribed_landing", "form_opened",
                 "form_submitted", "form_rejected")
# A landing SMS is an SMS whose message carries this extra key (tidings.messaging.landing); it is reported as such.
LANDING_KEY: Final = "landing"
CHANNELS: Final = {k: v for k, v in reports.CHANNEL_NAMES.items()
                   if v in ("sms", "mailing", "text2speech", "whatsapp")}
# Our kinds that have a document name; the mapping is the events report's (reports.EVENT_NAMES).
KINDS: Final = tuple(k for k, v in reports.EVENT_NAMES.items() if v in EVENTS)
SMTP_EVENTS: Final = ("delivered", "hard_bounced", "soft_bounced")
MAX_URL: Final = 2048
_UNSAFE_CHARS: Final = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class View:
    """What may be shown of an account's settings: never the secret, nor the URL's credentials."""

    url: str | None  # None when this install's key cannot decrypt it (the install secret changed)
    events: list[str] | None
    has_secret: bool
    updated_at: str | None


@dataclass(frozen=True)
class Target:
    """The decrypted settings the job calls with."""

    url: str
    host: str
    events: list[str] | None
    secret: str

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


def redact(url: str) -> str:
    """The URL without its user info (credentials), for responses."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: t=<epoch>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _refuse_url(reason: str) -> DomainError:
    return DomainError(f"notification URL refused: {reason}", nrs_code=109,
                       description=f"Notification URL incorrect: {reason}")


def check_url(raw: Any, allow_private: bool) -> tuple[str, str]:
    """The URL and its host, or 109: http(s) with a host, no literal private address (net.check_static)."""
    if not isinstance(raw, str) or not raw.strip():
        raise _refuse_url("url is required")
    url = raw.strip()
    if len(url) > MAX_URL:
        raise _refuse_url(f"at most {MAX_URL} characters")
    if _UNSAFE_CHARS.search(url):
        raise _refuse_url("spaces and control characters are not allowed")
    try:
        host, _ = net.check_static(url, allow_private)
        httpx.URL(url)
    except net.UnsafeUrl as exc:
        raise _refuse_url(str(exc)) from None
    except httpx.InvalidURL:
        raise _refuse_url("malformed URL") from None
    return url, host


def check_events(raw: Any) -> list[str] | None:
    """The event filter (None: every event), or 422 naming the unknown ones."""
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        raise ValidationFailed.on("events", "The events field must be an array of event names.")
    unknown = [e for e in raw if e not in EVENTS]
    if unknown:
        raise ValidationFailed.on("events", f"Unknown events: {', '.join(unknown[:5])}. Known: {', '.join(EVENTS)}.")
    return [e for e in EVENTS if e in raw]


def _view(stored: dict[str, Any]) -> View:
    try:
        url: str | None = redact(secrets.vault().decrypt(stored["url"]))
    except ValueError:
        url = None
    return View(url=url, events=stored.get("events"), has_secret=bool(stored.get("secret")),
                updated_at=stored.get("updated_at"))


async def _account(session: AsyncSession, subject: AuthSubject, *, lock: bool = False) -> Account:
    if not subject.is_agency:
        raise Forbidden("Event notifications are set for the whole account, not by a client's user.")
    # Locked and re-read before a change, so a concurrent change of other settings is not lost.
    account = await session.get(Account, subject.account_id, with_for_update=lock, populate_existing=lock)
    if account is None:
        raise NotFound("No such account.")
    return account


async def show(session: AsyncSession, subject: AuthSubject) -> View | None:
    """The account's event notification settings, None when unset."""
    stored = ((await _account(session, subject)).settings or {}).get(SETTINGS_KEY)
    return _view(stored) if stored else None


async def configure(session: AsyncSession, subject: AuthSubject, url: Any, wanted: Any, *,
                    allow_private: bool) -> tuple[View, str]:
    """Set the URL and filter with a new signing secret; returns what may be shown and the secret (shown once)."""
    checked, host = check_url(url, allow_private)
    filter_ = check_events(wanted)
    account = await _account(session, subject, lock=True)
    secret = "whsec_" + std_secrets.token_urlsafe(32)
    vault = secrets.vault()
    stored = {"url": vault.encrypt(checked), "host": host, "events": filter_, "secret": vault.encrypt(secret),
              "updated_at": clock.as_utc(clock.now()).replace(microsecond=0).isoformat()}
    # A new dict: the JSON column notices reassignment, not changes inside it.
    account.settings = {**(account.settings or {}), SETTINGS_KEY: stored}
    return _view(stored), secret


async def clear(session: AsyncSession, subject: AuthSubject) -> bool:
    """Remove the settings (pending notifications are dropped); False when there were none."""
    account = await _account(session, subject, lock=True)
    current = dict(account.settings or {})
    if current.pop(SETTINGS_KEY, None) is None:
        return False
    account.settings = current
    return True


def _target(account: Account | None) -> Target | None:
    stored = ((account.settings or {}) if account is not None else {}).get(SETTINGS_KEY)
    if not stored:
        return None
    url, secret = _decrypted(secrets.vault(), stored["url"], stored["secret"])
    return Target(url=url, host=str(stored.get("host") or ""), events=stored.get("events"), secret=secret)


@functools.lru_cache(maxsize=1024)
def _decrypted(vault: secrets.Vault, url: str, secret: str) -> tuple[str, str]:
    """The stored URL and secret in clear, once per stored pair (decrypting was a noticeable part of each call).

    Keyed by the ciphertexts: settings saved again are new ciphertexts, a new install key a new vault.
    """
    return vault.decrypt(url), vault.decrypt(secret)


def smtp_response(details: dict[str, Any]) -> str:
    """The SMTP answer in an email event's details ("550 5.1.1 ..."), or "" when there is none."""
    code = str(details.get("code") or "").strip()
    detail = str(details.get("detail") or "").strip()
    if detail.lower().startswith("smtp;"):
        return detail[5:].strip()  # a DSN's Diagnostic-Code: the remote server's own answer
    if not code[:1].isdigit() or detail.startswith(code):
        return detail  # our own codes ("provider", "connection") are not part of an SMTP answer
    return f"{code} {detail}".strip()


def _may_want(facts: Mapping[str, Any]) -> bool:
    """Whether on_event could post for this message: a messaging-API message of an account that set the URL."""
    stored = (facts.get("account_settings") or {}).get(SETTINGS_KEY)
    return (bool(stored) and facts.get("direction") == "out" and facts.get("channel") in CHANNELS
            and facts.get("sending_id") is not None)


async def _queue(session: AsyncSession, account_settings: dict[str, Any] | None, message_id: int, account_id: int,
                 channel: str, sending_id: int, kind: str, first: bool, details: dict[str, Any],
                 occurred_at: datetime) -> None:
    """Queue the POST of an outbound messaging-API message's event when its account wants that event."""
    name = reports.event_name(kind)
    if name is None:
        return
    if not first and name in ("sent", "delivered"):
        return  # a repeated status (a resent delivery receipt); repeated opens and clicks are real events
    stored = (account_settings or {}).get(SETTINGS_KEY)
    if not stored or (stored.get("events") and name not in stored["events"]):
        return
    with session.no_autoflush:  # a lookup must not flush the caller's batch one event at a time
        sending = await get_loaded(session, Sending, sending_id)
    if sending is None or sending.source != SOURCE:
        return
    extra: dict[str, Any] = {}
    if name == "clicked" and details.get("url"):
        extra["url"] = quote(str(details["url"]), safe="")
    if name == "form_submitted":
        extra["formValues"] = dict(details.get("formValues") or {})
    payload: dict[str, Any] = {"message_id": message_id, "event": name, "extra": extra, "retry": 0,
                               "at": clock.as_utc(occurred_at).isoformat()}
    if details.get("formId") is not None:
        payload["form_id"] = details["formId"]
    if channel == "email" and name in SMTP_EVENTS and (answer := smtp_response(details)):
        payload["smtp_response"] = answer
    await enqueue(session, JOB_KIND, payload, account_id=account_id)


async def _on_event_plain(session: AsyncSession, happened: events.HappenedPlain) -> None:
    """`on_event` on a plain row (events.record_plain): the account's settings are among its FACTS."""
    row = happened.row
    if row["direction"] == "out" and row["channel"] in CHANNELS and row["sending_id"] is not None:
        await _queue(session, row["account_settings"], row["id"], row["account_id"], row["channel"],
                     row["sending_id"], happened.kind, happened.first, happened.details, happened.occurred_at)


@events.on_event(*KINDS, wants=_may_want, plain=_on_event_plain)
async def on_event(session: AsyncSession, happened: events.Happened) -> None:
    """Queue the POST of an event of a messaging-API message when its account wants that event."""
    message = happened.message
    if message.direction != "out" or message.channel not in CHANNELS or message.sending_id is None:
        return
    # The dispatcher records a batch: the account is usually in the session already.
    with session.no_autoflush:
        account = await get_loaded(session, Account, message.account_id)
    await _queue(session, account.settings if account is not None else None, message.id, message.account_id,
                 message.channel, message.sending_id, happened.event.kind, happened.first,
                 happened.event.details or {}, happened.event.occurred_at)


def form(message: Message, campaign: Campaign | None, payload: dict[str, Any]) -> dict[str, str]:
    """The document's fields of one notification."""
    fields = {
        "id": str(ids.to_int(Kind.MESSAGE, message.id)),
        "channel": CHANNELS[message.channel],
        "contactId": str(ids.to_int(Kind.CONTACT, message.contact_id)) if message.contact_id else "",
        "campaignId": str(ids.to_int(Kind.CAMPAIGN, campaign.id) if campaign else 0),
        "campaignName": campaign.name if campaign else "",
        "event": str(payload["event"]),
        "extra": json.dumps(extra, separators=(",", ":")) if (extra := payload.get("extra")) else "{}",
        "eventDate": clock.as_utc(datetime.fromisoformat(str(payload["at"]))).replace(microsecond=0).isoformat(),
    }
    if (message.extra or {}).get(LANDING_KEY):
        fields["channel"] = "landing"
    if payload.get("form_id") is not None:
        fields["formId"] = str(payload["form_id"])
    if payload.get("smtp_response"):
        fields["smtpResponse"] = str(payload["smtp_response"])
    return fields


# Values urlencode leaves as they are; most of a notification's (ids, names of events and channels).
_PLAIN: Final = re.compile(r"[A-Za-z0-9_.~-]*")


def form_body(fields: dict[str, str]) -> bytes:
    """The form as urlencode writes it, without quoting what needs none (most values: it was per call)."""
    return "&".join(f"{quote_plus(k)}={v if _PLAIN.fullmatch(v) else quote_plus(v)}"
                    for k, v in fields.items()).encode()


TEST_EVENT: Final = "test"


async def send_test(session: AsyncSession, subject: AuthSubject) -> None:
    """Queue one signed `test` notification to the account's URL, so an operator can see its receiver work."""
    account = await _account(session, subject)
    if not (account.settings or {}).get(SETTINGS_KEY):
        raise ValidationFailed.on("url", "Set a notification URL first.")
    await enqueue(session, JOB_KIND, {"test": True, "message_id": 0, "event": TEST_EVENT, "extra": {}, "retry": 0,
                                      "at": clock.as_utc(clock.now()).isoformat()}, account_id=account.id)


def sample_fields(payload: dict[str, Any]) -> dict[str, str]:
    """A test notification: the document's fields, about no message."""
    return {"id": "0", "channel": "sms", "contactId": "", "campaignId": "0", "campaignName": "",
            "event": TEST_EVENT, "extra": "{}",
            "eventDate": clock.as_utc(datetime.fromisoformat(str(payload["at"]))).replace(microsecond=0).isoformat()}


Loaded = tuple[Account | None, Message | None, Campaign | None]
_WITH_CAMPAIGNS = (select(Message, Campaign).outerjoin(Campaign, Campaign.id == Message.campaign_id)
                   .where(one_of(Message.id)))


async def _load_round(session: AsyncSession, jobs: list[Job]) -> dict[int, Loaded]:
    """The account, message and campaign of each job of a round, in two queries."""
    accounts = {a.id: a for a in (await session.execute(
        by_ids(Account), {"ids": sorted({j.account_id for j in jobs if j.account_id is not None})})).scalars()}
    wanted = {int(j.payload["message_id"]) for j in jobs}
    rows = (await session.execute(_WITH_CAMPAIGNS, {"ids": sorted(wanted)})).all()
    found = {message.id: (message, campaign) for message, campaign in rows}
    return {j.id: (accounts.get(j.account_id) if j.account_id is not None else None,
                   *found.get(int(j.payload["message_id"]), (None, None))) for j in jobs}


@io_job(JOB_KIND, ordered_by="message_id", prefetch=_load_round)
async def deliver(ctx: EngineContext, job_row: Job) -> None:
    """POST one event to the account's current URL; schedule the next retry while the receiver fails."""
    payload: dict[str, Any] = dict(job_row.payload)
    loaded: Loaded | None = prefetched()
    if loaded is None:
        async with ctx.db.reading() as session:
            loaded = (await _load_round(session, [job_row]))[job_row.id]
    account, message, campaign = loaded
    try:
        target = _target(account)
    except ValueError:
        log.warning("event notification settings cannot be decrypted", account_id=job_row.account_id)
        return
    is_test = bool(payload.get("test"))
    if target is None or not (is_test or target.wants(str(payload["event"]))):
        return  # removed or narrowed since the event was queued
    if is_test:
        fields = sample_fields(payload)
    elif message is None or message.channel not in CHANNELS:
        return
    else:
        fields = form(message, campaign, payload)
    body = form_body(fields)
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               SIGNATURE_HEADER: sign(target.secret, int(clock.now().timestamp()), body)}
    context = {"account_id": job_row.account_id, "message_id": payload["message_id"], "event_name": payload["event"],
               "host": target.host}
    try:
        error = await notifications.call(target.url, ctx.settings.outbound_allow_private, method="POST",
                                         content=body, headers=headers)
    except net.UnsafeUrl as exc:
        log.warning("event notification refused", reason=str(exc), **context)
        return
    if error is not None:
        await notifications.retry_later(ctx, job_row, error, **context)
