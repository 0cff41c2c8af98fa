"""What Twilio's REST API answers, read the same way for every channel (Messages and Calls)."""

from __future__ import annotations

import httpx

from tidings.channels.base import SendResult


def e164(address: str) -> str:
    """Digits (with or without +) become +digits, as Twilio wants; an alphanumeric sender id stays as it is."""
    digits = address.strip().removeprefix("+")
    return "+" + digits if digits.isdigit() else address


def result_of(response: httpx.Response, accepted: tuple[int, ...] = (200, 201)) -> SendResult:
    """Accepted with Twilio's sid, or refused with its code and message (4xx other than auth and rate are final)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code in accepted and body.get("sid"):
        return SendResult(True, str(body["sid"]))
    code = str(body.get("code") or response.status_code)
    detail = str(body.get("message") or f"HTTP {response.status_code}")[:500]
    permanent = 400 <= response.status_code < 500 and response.status_code not in (401, 403, 429)
    return SendResult(False, permanent=permanent, code=code, detail=detail)
