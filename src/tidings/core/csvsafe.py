"""CSV for spreadsheets: every export writes through here, so no cell is read as a formula.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel, LibreOffice
and Google Sheets (`=HYPERLINK(...)`, `@SUM(...)`); such cells get a leading `'`, as OWASP advises and
spreadsheet-safe writers do. A plain signed number (`+34666555444`, `-1.5`) is left alone: a spreadsheet
reads it as the number it is, and phone numbers in E.164 must stay readable. Small enough not to
warrant a dependency (defusedcsv also rewrites `|` and `%`, which our exports need verbatim).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"^[+-]?[0-9]+(?:[.,][0-9]+)*$")


def cell(value: Any) -> Any:
    """The value as it is safe to write: text that would start a formula gets a leading apostrophe."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START) and not _SIGNED_NUMBER.match(text):
        return "'" + text
    return text


class SafeWriter:
    """csv.writer with every cell passed through `cell`."""

    def __init__(self, out: Any, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: Any, **options: Any) -> SafeWriter:
    """A spreadsheet-safe csv writer on `out` (the csv module's options)."""
    return SafeWriter(out, **options)


def render(rows: Iterable[Iterable[Any]], **options: Any) -> str:
    """Rows as spreadsheet-safe CSV text."""
    out = io.StringIO()
    writer(out, **options).writerows(rows)
    return out.getvalue()
