"""The voice sandbox: accepts every call and reports a chosen outcome after `delay`.

`sandbox://?outcome=answered&delay=1s&duration=20`: outcome is answered, no-answer, busy, failed or
machine; a comma-separated list gives the outcome of each attempt at the same message in turn (the
last one repeats), e.g. `outcome=no-answer,answered` to watch a retry succeed. The other channels'
`delivery=` is understood too: delivered is answered, any other outcome a failed call.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from tidings.channels.base import VOICE, OutboundMessage, ProviderError, ProviderUrl, SendResult, parse_duration
from tidings.channels.voice import COMPLETED, CallResult, CallUpdate

OUTCOMES = ("answered", "no-answer", "busy", "failed", "machine")
_ids = itertools.count(1)


@dataclass
class VoiceSandbox:
    url: ProviderUrl
    channel: str = VOICE
    url_scheme: str = "sandbox"
    outbox: list[OutboundMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        default = "answered" if self.url.query.get("delivery", "delivered") == "delivered" else "failed"
        self.outcomes = [o.strip() for o in (self.url.query.get("outcome") or default).split(",") if o.strip()]
        if not self.outcomes or any(o not in OUTCOMES for o in self.outcomes):
            raise ProviderError(f"sandbox voice outcome must be one of {', '.join(OUTCOMES)}")
        try:
            self.delay = parse_duration(self.url.query.get("delay"))
            self.duration = int(self.url.query.get("duration") or "15")
        except ValueError as exc:
            raise ProviderError("sandbox voice delay and duration must be numbers") from exc

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.url.flag("refuse"):
            return SendResult(False, permanent=True, code="550", detail="sandbox refused the message")
        self.outbox.append(message)
        sid = f"sbx-call-{next(_ids)}"
        attempt = max(1, int(message.options.get("attempt") or 1))
        outcome = self.outcomes[min(attempt, len(self.outcomes)) - 1]
        if outcome == "answered":
            updates = [CallUpdate(sid, "in-progress"), CallUpdate(sid, COMPLETED, self.duration)]
        elif outcome == "machine":
            amd = "machine_start" if message.options.get("amd") else ""
            updates = [CallUpdate(sid, "in-progress", answered_by=amd),
                       CallUpdate(sid, COMPLETED, 0 if amd else self.duration, amd)]
        else:
            updates = [CallUpdate(sid, outcome)]
        return CallResult(True, sid, outcome=updates, after_seconds=self.delay)

    async def close(self) -> None:
        return None
