"""The templates' custom links: `[form_{ID}]` (also `{FORM_{ID}}`), `[show_link]` and `[attachment_{ID}]`.

Each becomes a link of the message it is sent in, signed like the tracking links (tidings.messaging.tracking),
so a form knows whose answer it receives, the web view shows that recipient's own message, and an
attachment is served only through a message of the account that stored it. `[unsubscribe_link]` is
the preparers' (tidings.messaging.preparers), filled at the same moment.
"""

from __future__ import annotations

import re
from typing import Final

from tidings.messaging import tracking

_FORM: Final = re.compile(r"\[form_(\d{1,20})\]|\{FORM_(\d{1,20})\}")
_ATTACHMENT: Final = re.compile(r"\[attachment_(\d{1,20})\]")
SHOW_LINK: Final = "[show_link]"


def form_url(public_url: str, message_id: int, form_id: int | str) -> str:
    return f"{public_url.rstrip('/')}/f/{tracking.token(message_id)}/{form_id}"


def show_url(public_url: str, message_id: int) -> str:
    return f"{public_url.rstrip('/')}/v/{tracking.token(message_id)}"


def attachment_url(public_url: str, message_id: int, attachment_id: int | str) -> str:
    return f"{public_url.rstrip('/')}/a/{tracking.token(message_id)}/{attachment_id}"


def has_links(text: str | None) -> bool:
    return bool(text) and (SHOW_LINK in str(text) or bool(_FORM.search(str(text))) or
                           bool(_ATTACHMENT.search(str(text))))


def fill(text: str | None, public_url: str, message_id: int, *, show: str | None = None) -> str | None:
    """The text with its custom links made this message's; `show` overrides where [show_link] points."""
    if not text or not has_links(text):
        return text
    text = _FORM.sub(lambda m: form_url(public_url, message_id, m.group(1) or m.group(2)), text)
    text = _ATTACHMENT.sub(lambda m: attachment_url(public_url, message_id, m.group(1)), text)
    return text.replace(SHOW_LINK, show or show_url(public_url, message_id))
