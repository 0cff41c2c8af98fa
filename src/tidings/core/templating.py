"""Template rendering: outreach merge fields and spintax, 360nrs custom fields, Wavy ``{{tags}}``.

Written here rather than with Jinja2 because the syntaxes are fixed by the documents we are
wire-compatible with, and spintax needs a deterministic, per-contact choice Jinja does not offer.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "MissingFieldError",
    "fields_used",
    "merge_values",
    "missing_fields",
    "normalize_field_name",
    "render_custom_fields",
    "render_outreach",
    "render_tags",
    "render_values",
]


class MissingFieldError(ValueError):
    """A merge field used without a fallback has no value for this contact."""

    def __init__(self, field_names: list[str]) -> None:
        self.field_names = list(field_names)
        super().__init__("missing merge fields: " + ", ".join(self.field_names))


# --------------------------------------------------------------------------------------------
# Outreach syntax
# --------------------------------------------------------------------------------------------

_FIELD_RE = re.compile(r"\{\{([^{}|]*)(?:\|([^{}]*))?\}\}")
_SEPARATORS_RE = re.compile(r"[\s_\-]+")


@functools.lru_cache(maxsize=4096)
def normalize_field_name(name: str) -> str:
    """Canonical merge-field key: case-folded, trimmed; spaces, dashes and underscores are equivalent."""
    return _SEPARATORS_RE.sub("_", name.strip().casefold()).strip("_")


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    fallback: str | None


@dataclass(frozen=True, slots=True)
class _Spin:
    offset: int
    options: tuple[tuple[_Node, ...], ...]


_Node: TypeAlias = "_Text | _Field | _Spin"


def _match_field(s: str, i: int, end: int) -> re.Match[str] | None:
    m = _FIELD_RE.match(s, i, end)
    if m is None or not m.group(1).strip():
        return None
    return m


def _find_close(s: str, start: int, end: int) -> tuple[int, list[int]] | None:
    """Index of the brace closing the group opened at ``start`` and the positions of its top-level bars."""
    depth = 0
    bars: list[int] = []
    i = start + 1
    while i < end:
        c = s[i]
        if c == "{":
            m = _match_field(s, i, end)
            if m is not None:
                i = m.end()
                continue
            depth += 1
        elif c == "}":
            if depth == 0:
                return i, bars
            depth -= 1
        elif c == "|" and depth == 0:
            bars.append(i)
        i += 1
    return None


def _parse(s: str, start: int, end: int) -> list[_Node]:
    nodes: list[_Node] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            nodes.append(_Text("".join(buf)))
            buf.clear()

    i = start
    while i < end:
        c = s[i]
        if c != "{":
            buf.append(c)
            i += 1
            continue
        m = _match_field(s, i, end)
        if m is not None:
            flush()
            fallback = None if m.group(2) is None else m.group(2).strip()
            nodes.append(_Field(normalize_field_name(m.group(1)), fallback))
            i = m.end()
            continue
        found = _find_close(s, i, end)
        if found is None or not found[1]:
            # Not spintax (no closing brace or no bar): the brace is literal text, e.g. CSS in HTML.
            buf.append(c)
            i += 1
            continue
        close, bars = found
        flush()
        bounds = [i, *bars, close]
        options = tuple(tuple(_parse(s, a + 1, b)) for a, b in zip(bounds, bounds[1:], strict=False))
        nodes.append(_Spin(i, options))
        i = close + 1
    flush()
    return nodes


@functools.lru_cache(maxsize=512)
def _parsed(template: str) -> tuple[_Node, ...]:
    """The template's nodes; cached because a campaign renders the same few templates for every contact."""
    return tuple(_parse(template, 0, len(template)))


def _walk(nodes: list[_Node] | tuple[_Node, ...]) -> Iterator[_Field]:
    for node in nodes:
        if isinstance(node, _Field):
            yield node
        elif isinstance(node, _Spin):
            for option in node.options:
                yield from _walk(option)


def _choose(seed: str, offset: int, count: int) -> int:
    digest = hashlib.sha256(f"{seed}\x00{offset}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def merge_values(fields: Mapping[str, str | None]) -> dict[str, str]:
    """The fields as templates look them up: normalized names, blank values left out, the first spelling kept."""
    out: dict[str, str] = {}
    for key, value in fields.items():
        if value is None or not str(value).strip():
            continue
        out.setdefault(normalize_field_name(key), str(value).strip())
    return out


def fields_used(template: str) -> set[str]:
    """Normalized names of every merge field in the template, in every spintax branch."""
    return {f.name for f in _walk(_parsed(template))}


def _missing(nodes: list[_Node] | tuple[_Node, ...], values: Mapping[str, str]) -> list[str]:
    missing: list[str] = []
    for f in _walk(nodes):
        if f.fallback is None and f.name not in values and f.name not in missing:
            missing.append(f.name)
    return missing


def missing_fields(template: str, fields: Mapping[str, str | None]) -> list[str]:
    """Fields used without a fallback that are absent or blank, in order of first use."""
    return _missing(_parsed(template), merge_values(fields))


def render_outreach(template: str, fields: Mapping[str, str | None], seed: str) -> str:
    """Render merge fields and spintax; the same ``seed`` always picks the same spintax options.

    Every branch is checked for missing fields, so whether a contact lacks data never depends on the seed.
    """
    return render_values(template, merge_values(fields), seed)


def render_values(template: str, values: Mapping[str, str], seed: str) -> str:
    """`render_outreach` with the fields already through `merge_values` (a contact's several templates)."""
    nodes = _parsed(template)
    missing = _missing(nodes, values)
    if missing:
        raise MissingFieldError(missing)
    out: list[str] = []
    _render(nodes, values, seed, out)
    return "".join(out)


def _render(
    nodes: list[_Node] | tuple[_Node, ...], values: Mapping[str, str], seed: str, out: list[str]
) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Field):
            value = values.get(node.name)
            out.append(value if value is not None else node.fallback or "")
        else:
            _render(node.options[_choose(seed, node.offset, len(node.options))], values, seed, out)


# --------------------------------------------------------------------------------------------
# 360nrs custom fields: {FIELD}, {field|filter|filter}, {UNSUB_URL}, [unsubscribe_link]
# --------------------------------------------------------------------------------------------

_CUSTOM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.\-]*)((?:\|[A-Za-z]+)*)\}")
_UNSUB_LINK = "[unsubscribe_link]"
_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_NUMBER_RE = re.compile(r"^([+-]?)(\d[\d.,]*)$")


def _capitalize_all(value: str) -> str:
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), value.lower())


def _format_number(value: str, thousands: str, decimal: str) -> str:
    """Group a number's thousands; the input may use either separator, the last one is the decimal mark."""
    m = _NUMBER_RE.match(value.strip())
    if m is None:
        return value
    sign, digits = m.groups()
    if digits.endswith((".", ",")):
        return value
    seps = [c for c in digits if c in ".,"]
    integer, fraction = digits, ""
    if seps:
        last = seps[-1]
        # One kind of separator used more than once is a thousands separator, never a decimal mark.
        if len(set(seps)) == 1 and len(seps) > 1:
            integer = digits
        else:
            integer, fraction = digits.rsplit(last, 1)
        integer = integer.replace(".", "").replace(",", "")
    integer = integer.lstrip("0") or "0"
    groups: list[str] = []
    while len(integer) > 3:
        groups.insert(0, integer[-3:])
        integer = integer[:-3]
    groups.insert(0, integer)
    text = thousands.join(groups)
    return f"{sign}{text}{decimal}{fraction}" if fraction else f"{sign}{text}"


def _apply_filter(
    name: str, value: str, shorten: Callable[[str], str] | None
) -> str | None:
    if name == "lower":
        return value.lower()
    if name == "upper":
        return value.upper()
    if name == "capitalize":
        return value[:1].upper() + value[1:].lower()
    if name == "capitalizeAll":
        return _capitalize_all(value)
    if name == "formatDotComma":
        return _format_number(value, ".", ",")
    if name == "formatCommaDot":
        return _format_number(value, ",", ".")
    if name == "shorten":
        url = value.strip()
        # The document requires a valid URL; anything else is left as it is rather than failing a send.
        if shorten is None or not _URL_RE.match(url):
            return value
        return shorten(url)
    return None


def render_custom_fields(
    template: str,
    values: Mapping[str, str],
    unsub_url: str | None = None,
    shorten: Callable[[str], str] | None = None,
) -> str:
    """Replace 360nrs ``{field}``/``{field|filter}`` variables; unknown fields or filters are left as written.

    ``{UNSUB_URL}`` and ``[unsubscribe_link]`` become ``unsub_url`` when given, and stay otherwise.
    Field names match exactly first, then case-insensitively.
    """
    folded = {k.casefold(): v for k, v in values.items()}

    def lookup(name: str) -> str | None:
        if name in values:
            return values[name]
        return folded.get(name.casefold())

    def replace(m: re.Match[str]) -> str:
        name, filters = m.group(1), [f for f in m.group(2).split("|") if f]
        if name == "UNSUB_URL" and "UNSUB_URL" not in values:
            return unsub_url if unsub_url is not None else m.group(0)
        raw = lookup(name)
        if raw is None:
            return m.group(0)
        value = str(raw)
        for f in filters:
            filtered = _apply_filter(f, value, shorten)
            if filtered is None:
                return m.group(0)
            value = filtered
        return value

    out = _CUSTOM_RE.sub(replace, template)
    if unsub_url is not None:
        out = out.replace(_UNSUB_LINK, unsub_url)
    return out


# --------------------------------------------------------------------------------------------
# Wavy email API: {{tag}} substitution data
# --------------------------------------------------------------------------------------------

_TAG_RE = re.compile(r"\{\{\{\s*([^{}\s]+)\s*\}\}\}|\{\{\s*([^{}\s]+)\s*\}\}")
_MISSING = object()


def _resolve(data: Mapping[str, Any], path: str) -> Any:
    if path in data:
        return data[path]
    current: Any = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list | tuple) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _to_text(value: Any) -> str:
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_tags(template: str, data: Mapping[str, Any], *, escape: bool = False) -> str:
    """Replace ``{{tag}}`` (dotted paths reach into nested data); unknown tags become empty strings.

    With ``escape`` the values of ``{{tag}}`` are HTML-escaped; ``{{{tag}}}`` is always inserted raw.
    """

    def replace(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return _to_text(_resolve(data, m.group(1)))
        text = _to_text(_resolve(data, m.group(2)))
        return html.escape(text) if escape else text

    return _TAG_RE.sub(replace, template)
