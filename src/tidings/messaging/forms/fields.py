"""Form elements of the messaging dialect's annex: what a definition may hold and how answers are checked.

Pure logic (no database): the service checks definitions with `check_definition` and answers with
`check_answers`, so the REST routes and the public page agree on every rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import pycountry

from tidings.core.emails import normalize_email
from tidings.core.errors import ValidationFailed

HEADINGS: Final = ("h1", "h2", "h3", "h4")
STATIC: Final = (*HEADINGS, "p", "blockquote")
TEXTUAL: Final = ("text", "password", "email", "number", "textarea", "date", "color")
CHOICES: Final = ("select", "radio")
INPUTS: Final = (*TEXTUAL, "countrySelector", *CHOICES, "checkbox")
TYPES: Final = (*STATIC, *INPUTS)
MAX_FIELDS: Final = 100
MAX_OPTIONS: Final = 200
MAX_LABEL: Final = 1000
MAX_TEXT: Final = 1000
MAX_TEXTAREA: Final = 10_000
MAX_ROWS: Final = 50
CUSTOM_FIELD: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")
_COLOR: Final = re.compile(r"^#[0-9a-fA-F]{6}$")
_NUMBER: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def countries() -> list[tuple[str, str]]:
    """ISO 3166-1 alpha-2 codes and names, by name, for the country selector."""
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda c: c[1])


_COUNTRY_CODES: Final = frozenset(c.alpha_2 for c in pycountry.countries)


def key_of(element: Mapping[str, Any], index: int) -> str:
    """The name an answer is stored and reported under: its customField, else `field_<n>` (1-based)."""
    return str(element.get("customField") or f"field_{index + 1}")


def check_definition(elements: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The formFields as stored (keys of the document only); 422 naming the element for a rule the model cannot say."""
    if not elements:
        raise ValidationFailed.on("formFields", "The formFields field must have at least one element.")
    if not any(e.get("type") in INPUTS for e in elements):
        raise ValidationFailed.on("formFields", "A form needs at least one input element.")
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, element in enumerate(elements):
        kind = element["type"]
        where = f"formFields.{i}"
        label = str(element.get("label") or "").strip()
        if not label:
            raise ValidationFailed.on(f"{where}.label", "The label field is required.")
        stored: dict[str, Any] = {"type": kind, "label": label}
        if kind in INPUTS:
            stored["required"] = bool(element.get("required"))
            for name in ("description", "placeholder"):
                if element.get(name):
                    stored[name] = str(element[name])
            custom = element.get("customField")
            if custom:
                if not CUSTOM_FIELD.match(custom):
                    raise ValidationFailed.on(f"{where}.customField", "The customField must start with a letter "
                                              "and hold only letters, digits, _ . - (at most 64).")
                stored["customField"] = custom
            key = key_of(stored, i)
            if key in seen:
                raise ValidationFailed.on(f"{where}.customField",
                                          f"The customField {key} is already used by formFields.{seen[key]}.")
            seen[key] = i
        if kind in CHOICES:
            options = element.get("options") or []
            if not options:
                raise ValidationFailed.on(f"{where}.options", f"A {kind} element needs at least one option.")
            values = [str(o["value"]) for o in options]
            if len(set(values)) != len(values):
                raise ValidationFailed.on(f"{where}.options", "Option values must be unique.")
            stored["options"] = [{"label": str(o["label"]), "value": str(o["value"])} for o in options]
        elif element.get("options"):
            raise ValidationFailed.on(f"{where}.options", "Only select and radio elements have options.")
        if kind == "textarea":
            stored["rows"] = int(element.get("rows") or 3)
        out.append(stored)
    return out


@dataclass
class Checked:
    """Valid answers by key (what form_submitted reports), or the errors by key to show on the page."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _one(kind: str, element: Mapping[str, Any], raw: str) -> tuple[str | None, str | None]:
    """(value, error) of one non-empty answer."""
    if kind in ("text", "password"):
        return (raw, None) if len(raw) <= MAX_TEXT else (None, f"At most {MAX_TEXT} characters.")
    if kind == "textarea":
        return (raw, None) if len(raw) <= MAX_TEXTAREA else (None, f"At most {MAX_TEXTAREA} characters.")
    if kind == "email":
        address = normalize_email(raw)
        return (address, None) if address else (None, "Enter a valid email address.")
    if kind == "number":
        try:
            number = Decimal(raw) if _NUMBER.match(raw) else None
        except InvalidOperation:
            number = None
        return (str(number), None) if number is not None else (None, "Enter a number.")
    if kind == "date":
        try:
            return date.fromisoformat(raw).isoformat(), None
        except ValueError:
            return None, "Enter a date as YYYY-MM-DD."
    if kind == "color":
        return (raw.lower(), None) if _COLOR.match(raw) else (None, "Enter a colour as #rrggbb.")
    if kind == "countrySelector":
        code = raw.upper()
        return (code, None) if code in _COUNTRY_CODES else (None, "Choose a country from the list.")
    if kind in CHOICES:
        allowed = [str(o["value"]) for o in element.get("options") or []]
        return (raw, None) if raw in allowed else (None, "Choose one of the options.")
    return None, "Not an input."


def check_answers(elements: Sequence[Mapping[str, Any]], posted: Mapping[str, str]) -> Checked:
    """Every answer of a submitted page, checked against its element (server-side: the browser's checks are a help)."""
    result = Checked()
    for i, element in enumerate(elements):
        kind = str(element.get("type"))
        if kind not in INPUTS:
            continue
        key = key_of(element, i)
        raw = posted.get(key, "")
        raw = raw.strip() if kind != "password" else raw
        if "\x00" in raw:  # no text column can store a NUL
            result.errors[key] = "Contains a character that cannot be stored."
            continue
        if kind == "checkbox":
            checked = raw not in ("", "0")
            if element.get("required") and not checked:
                result.errors[key] = "This box must be checked."
            else:
                result.values[key] = "1" if checked else "0"
            continue
        if not raw:
            if element.get("required"):
                result.errors[key] = "This field is required."
            continue
        value, error = _one(kind, element, raw)
        if error is not None or value is None:
            result.errors[key] = error or "Not valid."
        else:
            result.values[key] = value
    return result
