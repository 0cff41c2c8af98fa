"""Voice providers (Twilio Calls API, sandbox) and what a call's progress looks like to the engine.

A provider places a call and answers at once whether it was accepted. What happens next arrives as
`CallUpdate`s: posted back by the provider (Twilio status callbacks) or, for the sandbox, known when
the call is placed (`CallResult.outcome`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tidings.channels.base import SendResult

# Call statuses as Twilio names them; the sandbox's outcomes are mapped onto them.
PROGRESS = ("queued", "initiated", "ringing")
ANSWERED = "in-progress"
COMPLETED = "completed"
UNANSWERED = ("no-answer", "busy")
FAILED = ("failed", "canceled")
STATUSES = (*PROGRESS, ANSWERED, COMPLETED, *UNANSWERED, *FAILED)
# AnsweredBy values of Twilio's answering machine detection that are not a person.
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


@dataclass(frozen=True)
class CallUpdate:
    """One status of a call: `duration` in seconds once completed, `answered_by` when AMD ran."""

    provider_id: str
    status: str
    duration: int = 0
    answered_by: str = ""

    @property
    def machine(self) -> bool:
        return self.answered_by in MACHINE


@dataclass
class CallResult(SendResult):
    """An accepted call whose outcome the provider already knows (the sandbox), due `after_seconds` later."""

    outcome: list[CallUpdate] | None = None
    after_seconds: float = 0.0
