"""What a template needs and what a send makes of it: its positional variables, the Cloud API
components filled with a recipient's values, and the text as the user reads it (a conversation's content).

Variables are positional (`{{1}}`, `{{2}}` ...): a header's go in headerFields (for an image, video or
document header, its one value is the media's https URL, which the provider fetches), the body's in bodyFields,
and those of URL buttons, in button order, in callToActionFields. An authentication template's
copy-code button repeats the code, the body's first value, as the Cloud API requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tidings.db.models import WhatsappTemplate

_VARIABLE = re.compile(r"\{\{\s*(\d{1,3})\s*\}\}")
CODE_BUTTONS = ("OTP", "COPY_CODE")
MEDIA_HEADERS = ("IMAGE", "VIDEO", "DOCUMENT")
QUICK_REPLY = "QUICK_REPLY"
BUTTON_PAYLOAD = "tidings-button-"  # + the button's index: how a press names its button


def count(text: str | None) -> int:
    """How many positional variables a text has: the highest {{n}}."""
    return max((int(n) for n in _VARIABLE.findall(text or "")), default=0)


def fill(text: str | None, values: list[str]) -> str:
    """The text with {{n}} replaced by the n-th value (left as written when there is none)."""
    return _VARIABLE.sub(lambda m: values[int(m.group(1)) - 1] if 0 < int(m.group(1)) <= len(values)
                         else m.group(0), text or "")


@dataclass(frozen=True)
class Needs:
    """The values one send of a template must carry."""

    header: int
    body: int
    actions: int
    location: bool
    quick_replies: int
    media: bool = False  # the header's one value is a media URL


def _is_code_button(template: WhatsappTemplate, button: dict[str, Any]) -> bool:
    """A button that repeats the code: OTP / COPY_CODE, or an authentication template's URL button."""
    kind = str(button.get("type")).upper()
    return kind in CODE_BUTTONS or (kind == "URL" and template.category.upper() == "AUTHENTICATION")


def needs(template: WhatsappTemplate) -> Needs:
    header = template.header or {}
    fmt = str(header.get("format") or "").upper()
    buttons = [b for b in template.buttons or [] if isinstance(b, dict)]
    header_values = count(header.get("text")) if fmt == "TEXT" else 1 if fmt in MEDIA_HEADERS else 0
    return Needs(header=header_values, body=count(template.body),
                 actions=sum(count(b.get("url")) for b in buttons
                           if str(b.get("type")).upper() == "URL" and not _is_code_button(template, b)),
                 location=fmt == "LOCATION", media=fmt in MEDIA_HEADERS,
                 quick_replies=sum(1 for b in buttons if str(b.get("type")).upper() == QUICK_REPLY))


@dataclass
class Values:
    """One recipient's values (already checked against the template's Needs)."""

    header: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    location: dict[str, str] | None = None
    with_payloads: bool = False  # quick-reply buttons carry their index, for the automatic answers


def _text(values: list[str]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": v} for v in values]


def components(template: WhatsappTemplate, values: Values) -> list[dict[str, Any]]:
    """The `template.components` of a Cloud API send."""
    out: list[dict[str, Any]] = []
    header = template.header or {}
    fmt = str(header.get("format") or "").upper()
    if fmt == "TEXT" and values.header:
        out.append({"type": "header", "parameters": _text(values.header)})
    elif fmt in MEDIA_HEADERS and values.header:
        media = fmt.lower()
        out.append({"type": "header", "parameters": [{"type": media, media: {"link": values.header[0]}}]})
    elif fmt == "LOCATION" and values.location:
        loc = values.location
        location = {"latitude": loc["lat"], "longitude": loc["long"]}
        location.update({k: loc[k] for k in ("name", "address") if loc.get(k)})
        out.append({"type": "header", "parameters": [{"type": "location", "location": location}]})
    if values.body:
        out.append({"type": "body", "parameters": _text(values.body)})
    actions = list(values.actions)
    for index, button in enumerate(b for b in template.buttons or [] if isinstance(b, dict)):
        kind = str(button.get("type")).upper()
        if _is_code_button(template, button):
            if values.body:
                out.append({"type": "button", "sub_type": "url", "index": str(index),
                            "parameters": _text(values.body[:1])})
        elif kind == "URL" and (n := count(button.get("url"))):
            taken, actions = actions[:n], actions[n:]
            out.append({"type": "button", "sub_type": "url", "index": str(index), "parameters": _text(taken)})
        elif kind == QUICK_REPLY and values.with_payloads:
            out.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                        "parameters": [{"type": "payload", "payload": f"{BUTTON_PAYLOAD}{index}"}]})
    return out


def message_object(template: WhatsappTemplate, values: Values) -> dict[str, Any]:
    """The Cloud API message of a template send (without `messaging_product` and `to`)."""
    return {"type": "template", "template": {"name": template.name, "language": {"code": template.language},
                                             "components": components(template, values)}}


def content(template: WhatsappTemplate, values: Values) -> str:
    """The template's text with the recipient's values, as the user reads it."""
    header = template.header or {}
    fmt = str(header.get("format") or "").upper()
    lines: list[str] = []
    if fmt == "TEXT" and header.get("text"):
        lines.append(fill(str(header["text"]), values.header))
    elif fmt == "LOCATION" and values.location:
        lines.append(" ".join(v for v in (values.location.get("name"), values.location.get("address")) if v)
                     or f"{values.location['lat']},{values.location['long']}")
    lines.append(fill(template.body, values.body))
    if template.footer:
        lines.append(template.footer)
    return "\n".join(line for line in lines if line)


def button_index(template: WhatsappTemplate, payload: str | None, text: str | None) -> int | None:
    """Which quick-reply button (0-based, among the quick replies) a press names, by payload or by its text."""
    quick = [b for b in template.buttons or [] if isinstance(b, dict) and str(b.get("type")).upper() == QUICK_REPLY]
    all_buttons = [b for b in template.buttons or [] if isinstance(b, dict)]
    if payload and payload.startswith(BUTTON_PAYLOAD) and payload[len(BUTTON_PAYLOAD):].isdigit():
        position = int(payload[len(BUTTON_PAYLOAD):])
        if position < len(all_buttons) and all_buttons[position] in quick:
            return quick.index(all_buttons[position])
    for i, button in enumerate(quick):
        if text is not None and str(button.get("text") or "").strip() == text.strip():
            return i
    return None


def from_provider(raw: dict[str, Any]) -> dict[str, Any] | None:
    """A template of the Cloud API's template list as our columns, or None when it is not one."""
    name, language = raw.get("name"), raw.get("language")
    if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
        return None
    row: dict[str, Any] = {"name": name[:512], "language": language[:16],
                           "category": str(raw.get("category") or "MARKETING").upper()[:32],
                           "status": str(raw.get("status") or "PENDING").upper()[:32],
                           "provider_id": str(raw["id"])[:64] if raw.get("id") else None,
                           "header": {}, "body": "", "footer": None, "buttons": []}
    for component in raw.get("components") or []:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type") or "").upper()
        if kind == "HEADER":
            fmt = str(component.get("format") or "TEXT").upper()
            row["header"] = {"format": fmt, **({"text": str(component["text"])} if component.get("text") else {})}
        elif kind == "BODY":
            row["body"] = str(component.get("text") or "")
        elif kind == "FOOTER":
            row["footer"] = str(component.get("text") or "") or None
        elif kind == "BUTTONS":
            row["buttons"] = [{k: str(v) for k, v in b.items() if k in ("type", "text", "url", "phone_number")}
                              for b in component.get("buttons") or [] if isinstance(b, dict)]
    return row
