"""The sandbox provider of every channel: accepts, records, and reports a chosen outcome.

URL options: `delivery` (delivered | undelivered | expired | rejected | bounced | failed),
`delay` (when the delivery event happens, e.g. 1s), `refuse` (answer a send with a permanent
refusal), `fail` (a transient failure). A new install works with it out of the box.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from tidings.channels.base import (
    OutboundMessage,
    ProviderError,
    ProviderEvent,
    ProviderUrl,
    SendResult,
    parse_duration,
)

OUTCOMES = ("delivered", "undelivered", "expired", "rejected", "bounced", "failed")
_ids = itertools.count(1)


@dataclass
class SandboxProvider:
    channel: str
    url: ProviderUrl
    url_scheme: str = "sandbox"
    outbox: list[OutboundMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.delivery = self.url.query.get("delivery", "delivered")
        if self.delivery not in OUTCOMES:
            raise ProviderError(f"sandbox delivery must be one of {', '.join(OUTCOMES)}")
        self.delay = parse_duration(self.url.query.get("delay"))

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.url.flag("refuse"):
            return SendResult(False, permanent=True, code="550", detail="sandbox refused the message")
        if self.url.flag("fail"):
            return SendResult(False, permanent=False, code="451", detail="sandbox temporary failure")
        self.outbox.append(message)
        provider_id = f"sbx-{self.channel}-{next(_ids)}"
        return SendResult(True, provider_id, events=[ProviderEvent(self.delivery, after_seconds=self.delay)])

    async def close(self) -> None:
        return None
