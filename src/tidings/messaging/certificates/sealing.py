"""What the preparers record when a certified message is handed to its provider.

Kept apart from the facts so the preparers can import it without importing themselves back.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from tidings.db.models import Message

# Message.extra key holding the digest of what a certified message handed to its provider.
AS_SENT: Final = "as_sent"


def record_as_sent(message: Message, data: bytes, *, text: str | None = None) -> None:
    """Keep the SHA-256 of the bytes a certified message hands to its provider (and an SMS's text)."""
    extra = message.extra or {}
    if not extra.get("certified"):
        return
    sealed: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    if text is not None:
        # Kept so the certificate shows the text as sent even if TIDINGS_PUBLIC_URL (in {UNSUB_URL}) changes.
        sealed["text"] = text
    message.extra = {**extra, AS_SENT: sealed}
