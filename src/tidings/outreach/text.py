"""Text that no database column can store: NUL characters and lone UTF-16 surrogates.

JSON can carry both (`\\u0000`, `\\ud800`); PostgreSQL rejects the first and every driver the
second, so they are refused as validation errors instead of surfacing as database errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.core.errors import ValidationFailed

MESSAGE = "The {field} must not contain NUL characters or invalid unicode."


def is_storable(text: str) -> bool:
    """Whether a string holds neither NUL nor a lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def find_unstorable(value: Any, where: str = "") -> str | None:
    """The dotted path of the first unstorable string (key or value) in a JSON value, or None."""
    if isinstance(value, str):
        return None if is_storable(value) else (where or "body")
    if isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and not is_storable(key):
                return where or "body"
            found = find_unstorable(item, path)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = find_unstorable(item, f"{where}.{i}" if where else str(i))
            if found is not None:
                return found
    return None


def require_storable(value: Any, field: str) -> None:
    """Raise a validation error naming the field when a value holds unstorable text."""
    found = find_unstorable(value, field)
    if found is not None:
        raise ValidationFailed.on(found, MESSAGE.format(field=found))
