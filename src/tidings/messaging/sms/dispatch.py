"""Dispatch-time rules of messaging-dialect SMS: the `availableTimes` gate and the `splitParts` option.

The gate holds a message outside its windows until the next one opens. The preparer is the shared
SMS preparer plus `options["split_parts"]`, which tells a provider to send the parts as separate SMS
instead of a concatenated one (providers that cannot do that send them concatenated).
"""

from __future__ import annotations

import json
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import Settings
from tidings.core import clock
from tidings.core.windows import WindowSet, parse_available_times
from tidings.db.models import Message
from tidings.messaging.delivery import Hold, Prepared, gate, preparer
from tidings.messaging.preparers import prepare_sms
from tidings.messaging.sms.service import PREPARER


@lru_cache(maxsize=1024)
def _windows(raw: str) -> WindowSet | None:
    parsed = parse_available_times(raw)
    return None if isinstance(parsed, int) else parsed


@gate
async def available_times(session: AsyncSession, message: Message, settings: Settings) -> Hold | None:
    """Hold an SMS sent with `availableTimes` until one of its windows (UTC) is open."""
    raw = (message.extra or {}).get("available_times")
    if not raw or message.channel != "sms":
        return None
    windows = _windows(json.dumps(raw, sort_keys=True))
    if windows is None:
        return None  # validated when accepted; an unreadable value never blocks a message forever
    now = clock.now()
    opens = windows.next_open(now)
    return None if opens <= now else Hold(opens, "availableTimes")


@preparer(PREPARER)
async def prepare_rest_sms(session: AsyncSession, message: Message, settings: Settings) -> Prepared:
    """The shared SMS preparer, plus the request's `splitParts`."""
    prepared = await prepare_sms(session, message, settings)
    if (message.extra or {}).get("split_parts"):
        prepared.outbound.options["split_parts"] = True
    return prepared
