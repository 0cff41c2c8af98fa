"""Values that end up in email headers (subjects, display names, addresses) must be one line.

A CR or LF in a header value would either inject headers or make the MIME builder refuse the
message at send time, so such values are refused when they are saved, naming the field.
"""

from __future__ import annotations

import re
from typing import Any

from tidings.core.errors import ValidationFailed

_LINE_BREAK = re.compile(r"[\r\n]")
_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def has_line_break(value: Any) -> bool:
    return isinstance(value, str) and _LINE_BREAK.search(value) is not None


def require_single_line(value: Any, field: str) -> None:
    """422 naming the field when a header-bound value contains a CR or LF."""
    if has_line_break(value):
        label = field.replace("_", " ")
        raise ValidationFailed.on(field, f"The {label} must be a single line (no line breaks).")


def one_line(text: str) -> str:
    """Line breaks (and the spaces around them) as one space, as header unfolding would read them."""
    return _BREAKS.sub(" ", text)
