"""Attachments as the sending dialects receive them: a name, base64 content, and one size budget per request."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from tidings.core.errors import ValidationFailed

MAX_ATTACHMENTS = 20
# Decoded bytes of all attachments of one request; relays commonly cap a whole message at 10-25 MB
# and base64 adds a third, so 10 MB of files stays under the usual limits once encoded.
MAX_TOTAL_BYTES = 10 * 1024 * 1024


def check_count(raw: list[Any]) -> None:
    if len(raw) > MAX_ATTACHMENTS:
        raise ValidationFailed.on("attachments", f"At most {MAX_ATTACHMENTS} attachments are allowed.")


def checked_name(name: Any, field: str) -> str:
    """The file name, stripped; one header value of at most 255 characters."""
    if not isinstance(name, str) or not name.strip() or len(name) > 255 or any(c in name for c in "\r\n"):
        raise ValidationFailed.on(field, "The attachment name is required (at most 255 characters).")
    return name.strip()


def decoded(content: Any, field: str, label: str, total: int) -> bytes:
    """The base64 `content` decoded; 422 on `field` when missing or invalid, on attachments past the budget."""
    if not isinstance(content, str) or not content:
        raise ValidationFailed.on(field, f"The attachment {label} is required (base64).")
    try:
        data = base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed.on(field, f"The attachment {label} is not valid base64.") from None
    if total + len(data) > MAX_TOTAL_BYTES:
        limit = MAX_TOTAL_BYTES // 1048576
        raise ValidationFailed.on("attachments", f"Attachments may not exceed {limit} MB in total.")
    return data
