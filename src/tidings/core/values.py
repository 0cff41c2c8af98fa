"""Loose request values as the messaging dialect's clients send them."""

from __future__ import annotations

from typing import Any


def as_flag(value: Any) -> bool | None:
    """true/false, 1/0 or their strings (an absent value is false); None when the value is none of these."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
        return value.strip().lower() in ("1", "true")
    return None
