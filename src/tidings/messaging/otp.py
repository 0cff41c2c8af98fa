"""One-time passwords: codes issued by `/otp/generate` or by `{OTP_CODE}` in an SMS or mailing, checked by `/otp/check`.

A code belongs to an account, a recipient (a phone number or an email address, normalised) and an
appId; the latest code issued for that triple is the current one, and issuing a new one replaces
a pending one. Only an HMAC of the code (keyed with the install secret, bound to the account,
recipient and appId) is stored: the code itself exists in the message that carries it and in the
answers of generate and of a successful check. A code validates once, at most `max_attempts`
checks are compared with it, and it expires `max_seconds_validity` after it was issued (after the
scheduled time for a scheduled message), by the core clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.emails import email_key, normalize_email
from tidings.core.errors import ValidationFailed
from tidings.core.phones import normalize_phone
from tidings.core.values import as_flag
from tidings.db.models import Message, OtpCode
from tidings.messaging.outbox import Outcome
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject

VARIABLE = "OTP_CODE"
PLACEHOLDER = "{" + VARIABLE + "}"
DIGITS = string.digits
ALPHANUMERIC = string.ascii_uppercase + string.digits
LENGTH = (3, 10, 4)  # minimum, maximum, default, as documented
MAX_ATTEMPTS = (1, 10, 3)
MAX_SECONDS_VALIDITY = (30, 600, 60)
MAX_APP_ID = 255
MAX_CODE_INPUT = 64
CHUNK = 500

PENDING, VALID, EXPIRED, FAILED, REPLACED = "pending", "valid", "expired", "failed", "replaced"
REASON_VALID, REASON_INVALID = "Valid", "Invalid code"
REASON_MAX_ATTEMPTS, REASON_EXPIRED = "Maximum attempts reached", "Expired"
# A code whose message ended like this never reached its recipient, so it does not block a new one.
_UNDELIVERED = ("undelivered", "bounced", "rejected", "expired", "failed", "deleted")
PENDING_DESCRIPTION = "A pending OTP code already exists for this recipient and appId."

_key: bytes = b""


def configure(install_secret: str) -> None:
    global _key
    _key = hashlib.sha256(("tidings-otp:" + install_secret).encode()).digest()


def invalid(field: str, message: str) -> ValidationFailed:
    """A 422 whose description is the message itself, as the document's OTP examples show."""
    return ValidationFailed(message, fields={field: [message]}, description=message)


@dataclass(frozen=True)
class OtpConfig:
    """The code's parameters (otpConfig, or generate's body), validated."""

    alpha: bool = False
    length: int = LENGTH[2]
    max_attempts: int = MAX_ATTEMPTS[2]
    max_seconds_validity: int = MAX_SECONDS_VALIDITY[2]
    app_id: str = ""
    reject_if_pending: bool = False


def flag(value: Any, name: str) -> bool:
    """A documented boolean (see core.values.as_flag); anything else is a 422 naming the field."""
    parsed = as_flag(value)
    if parsed is None:
        raise invalid(name, f"The {name} field must be true or false.")
    return parsed


def _integer(value: Any, name: str, bounds: tuple[int, int, int]) -> int:
    low, high, default = bounds
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(name, f"The {name} must be an integer between {low} and {high}.")
    return value


def app_id(value: Any, name: str = "appId") -> str:
    """The appId: a string of at most 255 characters, "" by default."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise invalid(name, f"The {name} must be a string.")
    if len(value) > MAX_APP_ID:
        raise invalid(name, f"The {name} may not be greater than {MAX_APP_ID} characters.")
    return value


def parse_config(raw: Any, prefix: str = "") -> OtpConfig:
    """The documented parameters from an object (`prefix` names the fields in errors, e.g. "otpConfig.")."""
    if raw is None:
        return OtpConfig()
    if not isinstance(raw, Mapping):
        raise invalid(prefix.rstrip(".") or "otpConfig", f"The {prefix.rstrip('.') or 'otpConfig'} must be an object.")
    return OtpConfig(
        alpha=flag(raw.get("alpha"), prefix + "alpha"),
        length=_integer(raw.get("length"), prefix + "length", LENGTH),
        max_attempts=_integer(raw.get("maxAttempts"), prefix + "maxAttempts", MAX_ATTEMPTS),
        max_seconds_validity=_integer(raw.get("maxSecondsValidity"), prefix + "maxSecondsValidity",
                                      MAX_SECONDS_VALIDITY),
        app_id=app_id(raw.get("appId"), prefix + "appId"),
        reject_if_pending=flag(raw.get("rejectIfPendingCode"), prefix + "rejectIfPendingCode"),
    )


@dataclass(frozen=True)
class Recipient:
    """Who a code is for: as shown, as matched, and whether it is a phone or an email."""

    shown: str
    key: str
    kind: str


def phone(number: str) -> Recipient:
    """A number already normalised to international digits."""
    return Recipient(number, number, "phone")


def email(address: str) -> Recipient:
    """An address already normalised; matched without regard to case."""
    return Recipient(address, email_key(address), "email")


def parse_recipient(raw: Any) -> Recipient:
    """A phone number (normalised as the SMS recipients are) or an email address; 422 otherwise."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise invalid("recipient", "The recipient field is required.")
    if isinstance(raw, str) and len(raw) <= 320:
        if "@" in raw:
            address = normalize_email(raw)
            if address is not None:
                return email(address)
        else:
            number = normalize_phone(raw)
            if number is not None:
                return phone(number)
    raise invalid("recipient", "The recipient field must be a valid phone or email.")


def draw(config: OtpConfig) -> str:
    """A new code: digits, or upper-case letters and digits when alpha."""
    alphabet = ALPHANUMERIC if config.alpha else DIGITS
    return "".join(secrets.choice(alphabet) for _ in range(config.length))


def _digest(account_id: int, recipient_key: str, app: str, code: str) -> str:
    if not _key:
        raise RuntimeError("otp.configure() was not called")
    # Bound to its owner, so a stored hash cannot be moved to another recipient, appId or account.
    value = "\x1f".join((str(account_id), recipient_key, app, code))
    return hmac.new(_key, value.encode(), hashlib.sha256).hexdigest()


async def pending_keys(session: AsyncSession, subject: AuthSubject, keys: Iterable[str], app: str) -> set[str]:
    """The recipient keys that hold a pending code for this appId (unexpired, and not lost with its message)."""
    found: set[str] = set()
    unique = sorted(set(keys))
    now = clock.now()
    for start in range(0, len(unique), CHUNK):
        stmt = (scoped(select(OtpCode.recipient_key), OtpCode, subject)
                .outerjoin(Message, Message.id == OtpCode.message_id)
                .where(OtpCode.recipient_key.in_(unique[start:start + CHUNK]), OtpCode.app_id == app,
                       OtpCode.status == PENDING, OtpCode.expires_at > now,
                       (Message.id.is_(None)) | (Message.status.not_in(_UNDELIVERED))))
        found.update(k for (k,) in (await session.execute(stmt)).all())
    return found


async def issue(session: AsyncSession, subject: AuthSubject, codes: list[tuple[Recipient, str, int | None]],
                config: OtpConfig, *, starts_at: datetime | None = None) -> list[OtpCode]:
    """Store codes (recipient, code, id of the message carrying it), replacing the recipients' pending ones."""
    now = clock.now()
    keys = sorted({r.key for r, _, _ in codes})
    for start in range(0, len(keys), CHUNK):
        stmt = (update(OtpCode).where(OtpCode.account_id == subject.account_id,
                                      OtpCode.recipient_key.in_(keys[start:start + CHUNK]),
                                      OtpCode.app_id == config.app_id, OtpCode.status == PENDING)
                .values(status=REPLACED, updated_at=now).execution_options(synchronize_session=False))
        await session.execute(stmt)
    expires = max(now, starts_at or now) + timedelta(seconds=config.max_seconds_validity)
    rows = [OtpCode(account_id=subject.account_id, recipient=r.shown, recipient_key=r.key, recipient_kind=r.kind,
                    app_id=config.app_id, code_hash=_digest(subject.account_id, r.key, config.app_id, code),
                    alpha=config.alpha, length=config.length, attempts=0, max_attempts=config.max_attempts,
                    max_seconds_validity=config.max_seconds_validity, status=PENDING, created_at=now,
                    updated_at=now, expires_at=expires, message_id=message_id)
            for r, code, message_id in codes]
    session.add_all(rows)
    await session.flush()
    return rows


@dataclass
class Refused(Outcome):
    """A recipient refused for an OTP reason, with its own description (the dialect's outcome has none)."""

    description: str = ""


@dataclass
class Issued:
    """A generated code and its row; the code is never stored, so this is the one chance to show it."""

    row: OtpCode
    code: str


async def generate(session: AsyncSession, subject: AuthSubject, recipient: Any, options: Mapping[str, Any]) -> Issued:
    """A new code for a recipient (422 with rejectIfPendingCode when one is pending); nothing is sent."""
    target = parse_recipient(recipient)
    config = parse_config(options)
    if config.reject_if_pending and await pending_keys(session, subject, [target.key], config.app_id):
        raise invalid("recipient", PENDING_DESCRIPTION)
    code = draw(config)
    [row] = await issue(session, subject, [(target, code, None)], config)
    return Issued(row, code)


@dataclass
class Checked:
    """The answer to a check: `code` only when this check proved the caller knows it."""

    valid: bool
    reason: str
    row: OtpCode | None
    code: str | None = None


def _submitted(raw: Any) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise invalid("code", "The code field is required.")
    if not isinstance(raw, str):
        raise invalid("code", "The code must be a string.")
    if len(raw.strip()) > MAX_CODE_INPUT:
        raise invalid("code", f"The code may not be greater than {MAX_CODE_INPUT} characters.")
    return raw.strip()


async def check(session: AsyncSession, subject: AuthSubject, recipient: Any, code: Any, *,
                case_sensitive: Any = None, app: Any = None) -> Checked:
    """Compare a code with the recipient's current one for the appId, counting the attempt."""
    target = parse_recipient(recipient)
    submitted = _submitted(code)
    sensitive = flag(case_sensitive, "caseSensitive")
    app_name = app_id(app)
    # The row is locked (PostgreSQL; SQLite writers are serialised at BEGIN) so that two checks
    # of one code cannot both count as its single valid use.
    stmt = (scoped(select(OtpCode), OtpCode, subject)
            .where(OtpCode.recipient_key == target.key, OtpCode.app_id == app_name)
            .order_by(OtpCode.id.desc()).limit(1).with_for_update())
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        return Checked(False, REASON_INVALID, None)
    if row.status == FAILED:
        return Checked(False, REASON_MAX_ATTEMPTS, row)
    if row.status == EXPIRED:
        return Checked(False, REASON_EXPIRED, row)
    if row.status != PENDING:
        return Checked(False, REASON_INVALID, row)  # already used once (or replaced)
    now = clock.now()
    # Generated codes are upper case, so a case-insensitive check compares the upper-cased input.
    candidate = submitted if sensitive else submitted.upper()
    matches = hmac.compare_digest(_digest(row.account_id, row.recipient_key, row.app_id, candidate), row.code_hash)
    row.attempts += 1
    row.updated_at = now
    if now >= row.expires_at:
        row.status = EXPIRED
        result = Checked(False, REASON_EXPIRED, row, candidate if matches else None)
    elif matches:
        row.status, row.validated_at = VALID, now
        result = Checked(True, REASON_VALID, row, candidate)
    else:
        if row.attempts >= row.max_attempts:
            row.status = FAILED
        result = Checked(False, REASON_INVALID, row)
    await session.flush()
    return result
