"""The voice sandbox: each attempt's outcome as CallUpdates the engine applies later."""

from __future__ import annotations

import pytest

from tidings.channels.base import OutboundMessage, ProviderError
from tidings.channels.registry import build_provider
from tidings.channels.voice import CallResult


def _call(attempt: int = 1, amd: bool = False) -> OutboundMessage:
    return OutboundMessage("voice", "34911000000", "34666555444", body="hola", options={"attempt": attempt,
                                                                                     "amd": amd})


async def test_outcomes_per_attempt_and_machines() -> None:
    provider = build_provider("voice", "sandbox://?outcome=no-answer,answered&delay=3s&duration=20")
    first, second, third = [await provider.send(_call(n)) for n in (1, 2, 3)]
    assert isinstance(first, CallResult) and isinstance(second, CallResult) and isinstance(third, CallResult)
    assert [u.status for u in first.outcome or []] == ["no-answer"] and first.after_seconds == 3
    assert [(u.status, u.duration) for u in second.outcome or []] == [("in-progress", 0), ("completed", 20)]
    assert [u.status for u in third.outcome or []] == ["in-progress", "completed"], "the last outcome repeats"
    machine = build_provider("voice", "sandbox://?outcome=machine")
    detected = await machine.send(_call(amd=True))
    assert isinstance(detected, CallResult) and all(u.machine for u in detected.outcome or [])
    undetected = await machine.send(_call(amd=False))
    assert isinstance(undetected, CallResult) and not any(u.machine for u in undetected.outcome or [])


async def test_delivery_option_and_bad_urls() -> None:
    failed = await build_provider("voice", "sandbox://?delivery=undelivered").send(_call())
    assert isinstance(failed, CallResult) and [u.status for u in failed.outcome or []] == ["failed"]
    refused = await build_provider("voice", "sandbox://?refuse=1").send(_call())
    assert not refused.accepted and refused.permanent
    with pytest.raises(ProviderError):
        build_provider("voice", "sandbox://?outcome=teleported")
