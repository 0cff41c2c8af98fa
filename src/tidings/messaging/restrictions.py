"""Country sending restrictions: marketing SMS outside a country's permitted hours wait for them.

The rules are data (core/data/country_rules.json: France Monday-Saturday 08:00-22:00, Colombia
Monday-Friday 07:00-19:00 and Saturday 08:00-15:00, never on its public holidays), overlaid by the
operator's TIDINGS_COUNTRY_RULES file. A message is marketing unless `extra["kind"]` says otherwise
(e.g. "transactional" for OTPs), and only kinds a rule lists are held.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import Settings
from tidings.core import clock
from tidings.core.phones import phone_country
from tidings.core.windows import CountryRule, load_country_rules, next_permitted
from tidings.db.models import Message
from tidings.messaging import delivery

log = structlog.get_logger("tidings.restrictions")


@lru_cache(maxsize=4)
def _rules(path: str | None, mtime: float) -> dict[str, CountryRule]:
    return load_country_rules(path)


def rules_for(settings: Settings) -> dict[str, CountryRule]:
    """The built-in rules with the operator's file merged over them; a broken file is logged and ignored."""
    path = settings.country_rules
    if path is None:
        return _rules(None, 0.0)
    try:
        return _rules(str(path), Path(path).stat().st_mtime)
    except (OSError, ValueError) as exc:
        log.error("country rules file ignored", path=str(path), error=str(exc))
        return _rules(None, 0.0)


def message_kind(message: Message) -> str:
    """'marketing' unless the message says what it is (extra["kind"], e.g. 'transactional')."""
    kind = (message.extra or {}).get("kind")
    return str(kind) if isinstance(kind, str) and kind else "marketing"


@delivery.gate
async def country_restrictions(session: AsyncSession, message: Message, settings: Settings) -> delivery.Hold | None:
    """Hold an outbound SMS until its destination country permits sending it."""
    if message.channel != "sms" or message.direction != "out":
        return None
    country = phone_country(message.recipient)
    if country is None:
        return None
    now = clock.now()
    until = next_permitted(country, now, kind=message_kind(message), rules=rules_for(settings))
    if until > now:
        return delivery.Hold(until, f"sending restrictions of {country}")
    return None
