"""The merge fields of an outreach contact and the templates of a campaign's steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tidings.core.errors import ValidationFailed
from tidings.core.templating import MissingFieldError, missing_fields, render_outreach
from tidings.db.models import Contact, Step

# Documented contact columns, in the documented order; each is also a merge field.
CONTACT_FIELDS = ("email", "first_name", "last_name", "company", "industry", "website", "title", "phone",
                  "address", "city", "state", "country")

_LOADED = frozenset((*CONTACT_FIELDS, "custom_fields"))


def merge_fields(contact: Contact | Mapping[str, Any]) -> dict[str, str | None]:
    """Standard columns and custom merge fields as the templating engine expects them."""
    source: Mapping[str, Any]
    if isinstance(contact, Mapping):
        source = contact
    else:
        # A loaded row's values are in its __dict__ (read there: the attributes' descriptors cost more than the
        # rest); an expired or unloaded one goes through them.
        source = getattr(contact, "__dict__", {})  # a tracked row (db.tracked) has slots
        if not _LOADED.issubset(source):
            source = {k: getattr(contact, k, None) for k in _LOADED}
    values: dict[str, str | None] = {k: source.get(k) for k in CONTACT_FIELDS}
    for key, value in dict(source.get("custom_fields") or {}).items():
        values.setdefault(str(key), None if value is None else str(value))
    return values


def templates(steps: Iterable[Step]) -> list[str]:
    """Every subject and body of the steps, variants included."""
    out: list[str] = []
    for step in steps:
        out += [step.subject or "", step.body or ""]
        for variant in step.variants or []:
            if isinstance(variant, dict):
                out += [str(variant.get("subject") or ""), str(variant.get("body") or "")]
    return out


def is_missing_data(fields: Mapping[str, str | None], tmpls: list[str]) -> bool:
    """Whether a contact lacks a field some step uses without a fallback."""
    return any(missing_fields(t, fields) for t in tmpls if "{{" in t)


def check_template(template: str, field: str) -> None:
    """Render a preview so a template that cannot render is refused now, not at send time."""
    try:
        render_outreach(template, {}, seed="preview")
    except MissingFieldError:
        pass
    except Exception as exc:  # noqa: BLE001 - any parser failure is the caller's input error
        raise ValidationFailed.on(field, f"The {field} template cannot be rendered: {exc}") from exc
