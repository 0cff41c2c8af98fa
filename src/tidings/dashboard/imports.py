"""CSV imports from the dashboard: upload, map columns, then import in chunks the page follows.

The upload is kept under the data directory by an unguessable name; each chunk request imports the
next rows through the outreach import service and answers the progress bar, which asks for the next
chunk until the file is done. No state lives in the server process, so any server can take a chunk.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from tidings.core.errors import NotFound, ValidationFailed
from tidings.outreach.fields import CONTACT_FIELDS

CHUNK = 2000
MAX_BYTES = 50 * 1024 * 1024
TARGETS = (*CONTACT_FIELDS, "timezone")
_ALIASES = {"e-mail": "email", "mail": "email", "first name": "first_name", "firstname": "first_name",
            "last name": "last_name", "lastname": "last_name", "surname": "last_name", "organisation": "company",
            "organization": "company", "job title": "title", "url": "website", "time zone": "timezone"}


def _folder(data_dir: Path, account_id: int) -> Path:
    folder = Path(data_dir) / "imports" / str(account_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store(data_dir: Path, account_id: int, raw: bytes) -> str:
    """Keep an uploaded CSV; returns its token. Refuses what is not UTF-8 CSV with a header row."""
    if not raw.strip():
        raise ValidationFailed.on("file", "The file is empty.")
    if len(raw) > MAX_BYTES:
        raise ValidationFailed.on("file", "The file may not be greater than 50 MB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.on("file", "The file must be UTF-8 CSV.") from None
    header = next(csv.reader(io.StringIO(text)), [])
    if not any(h.strip() for h in header):
        raise ValidationFailed.on("file", "The first row must name the columns.")
    token = secrets.token_urlsafe(18)
    (_folder(data_dir, account_id) / f"{token}.csv").write_text(text, encoding="utf-8")
    return token


def _path(data_dir: Path, account_id: int, token: str) -> Path:
    if not token or not all(c.isalnum() or c in "-_" for c in token):
        raise NotFound("Import not found.")
    path = _folder(data_dir, account_id) / f"{token}.csv"
    if not path.is_file():
        raise NotFound("Import not found.")
    return path


def header_and_sample(data_dir: Path, account_id: int, token: str) -> tuple[list[str], list[list[str]], int]:
    """Column names, the first rows, and how many data rows the file has."""
    with _path(data_dir, account_id, token).open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        sample = list(islice(reader, 3))
        total = len(sample) + sum(1 for _ in reader)
    return header, sample, total


def guess(column: str) -> str:
    """The field a column probably holds, or '' to leave it out."""
    name = column.strip().lower()
    name = _ALIASES.get(name, name.replace(" ", "_"))
    return name if name in TARGETS else ""


def rows(data_dir: Path, account_id: int, token: str, mapping: dict[int, str], start: int
         ) -> Iterator[tuple[int, dict[str, Any]]]:
    """Up to CHUNK rows from data row `start` on, as the import service takes them (line, values)."""
    with _path(data_dir, account_id, token).open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        for offset, record in enumerate(islice(reader, start, start + CHUNK)):
            values: dict[str, Any] = {}
            custom: dict[str, str] = {}
            for index, target in mapping.items():
                cell = record[index].strip() if index < len(record) else ""
                if target == "custom" and cell:
                    custom[header[index].strip()[:64]] = cell
                elif target in TARGETS and cell:
                    values[target] = cell
            if custom:
                values["custom_merge_fields"] = custom
            yield start + offset + 2, values


def discard(data_dir: Path, account_id: int, token: str) -> None:
    _path(data_dir, account_id, token).unlink(missing_ok=True)
