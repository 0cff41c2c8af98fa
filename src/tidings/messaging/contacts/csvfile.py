"""The CSV form of contacts: columns of an import file, and safe cells in an export.

A column named `key:type` (type string, date or decimal) is a typed custom field; any column that
is not a contact field is a string custom field. Export cells that a spreadsheet would read as a
formula (starting with = + - @ tab or CR) get a leading apostrophe (OWASP's CSV-injection advice),
and the import takes that apostrophe off again, so an export imports back unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tidings.core.errors import ValidationFailed

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FIELD_TYPES = ("string", "date", "decimal")
# Header (lower-cased, without separators) -> the API's field name.
_ALIASES = {
    "email": "email", "emailaddress": "email", "phone": "phone", "mobile": "phone", "mobilephone": "phone",
    "landline": "landline", "countryiso": "countryIso", "country": "countryIso", "name": "name",
    "firstname": "name", "surname": "surname", "lastname": "surname", "externalid": "externalId",
}
IGNORED = {"id", "createdat", "updatedat"}
EXPORT_COLUMNS = ["id", "email", "phone", "landline", "countryIso", "name", "surname", "externalId"]


def escape(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def unescape(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_START) else cell


@dataclass
class Columns:
    """Where each field of a contact is in an import file's rows."""

    fields: list[tuple[int, str]] = field(default_factory=list)
    custom: list[tuple[int, str, str]] = field(default_factory=list)  # (index, key, type)

    @classmethod
    def of(cls, header: Sequence[str]) -> Columns:
        cols = cls()
        seen: set[str] = set()
        for i, raw in enumerate(header):
            name = raw.strip().lstrip("\ufeff")
            if not name:
                continue
            key = "".join(c for c in name.lower() if c.isalnum())
            if key in IGNORED:
                continue
            target = _ALIASES.get(key)
            if target is not None:
                if target in seen:
                    raise ValidationFailed.on("header", f"The file has two {target} columns ({name!r}).")
                seen.add(target)
                cols.fields.append((i, target))
                continue
            custom, _, kind = name.rpartition(":")
            if custom and kind.strip().lower() in FIELD_TYPES:
                name, kind = custom.strip(), kind.strip().lower()
            else:
                kind = "string"
            if name in seen:
                raise ValidationFailed.on("header", f"The file has two {name!r} columns.")
            seen.add(name)
            cols.custom.append((i, name, kind))
        if not seen & {"email", "phone", "landline"}:
            raise ValidationFailed.on("header", "The file needs an email, phone or landline column.")
        return cols

    def raw(self, row: Sequence[str], default_country: str | None) -> dict[str, Any]:
        """A row as the API's request fields; empty cells are not given (they keep stored values)."""
        out: dict[str, Any] = {}
        for i, name in self.fields:
            if i < len(row) and (cell := unescape(row[i].strip())):
                out[name] = cell
        custom = [{"key": key, "type": kind, "value": unescape(row[i].strip())}
                  for i, key, kind in self.custom if i < len(row) and row[i].strip()]
        if custom:
            out["customFields"] = custom
        if default_country and "countryIso" not in out:
            out["countryIso"] = default_country
        return out


def export_header(custom: dict[str, str]) -> list[str]:
    """The fixed columns, then one per custom field (`key:type` unless a string)."""
    return EXPORT_COLUMNS + [k if t == "string" else f"{k}:{t}" for k, t in sorted(custom.items())]


def export_row(values: Sequence[Any], custom_keys: Sequence[str], custom: dict[str, Any]) -> list[str]:
    cells = ["" if v is None else str(v) for v in values]
    cells += ["" if custom.get(k) is None else str(custom[k]) for k in custom_keys]
    return [escape(c) for c in cells]
