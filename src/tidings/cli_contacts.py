"""`tidings contacts import|export`: CSV files in and out of a group of an account's contact database.

The import streams the file and commits every batch, so memory stays flat whatever the file's size;
a row that cannot be imported is reported with its line and does not stop the others.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any, BinaryIO

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from tidings.cli_support import with_database
from tidings.core import ids
from tidings.core.errors import DomainError
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Account
from tidings.messaging.contacts import csvfile
from tidings.messaging.contacts import service as contacts
from tidings.tenancy.subject import AuthSubject

contacts_app = typer.Typer(help="An account's contact database: CSV import and export of a group.",
                           no_args_is_help=True)
BATCH = 2000
err = Console(stderr=True)


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read from it (the progress bar's position)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[:len(data)] = data
        self.count += len(data)
        return len(data)


@dataclass
class ImportResult:
    group_id: int
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)


async def run_import(db: Database, subject: AuthSubject, group: str, stream: BinaryIO, *,
                     country: str | None = None, batch: int = BATCH,
                     on_error: Callable[[int, str, str], None] | None = None,
                     on_progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import a CSV stream into the named group (created when missing), one transaction per batch."""
    counting = _Counting(stream)
    text = io.TextIOWrapper(io.BufferedReader(counting, 1 << 16), encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise DomainError(f"line 1: the file is not CSV ({exc}).") from None
    if header is None:
        raise DomainError("The file is empty.")
    columns = csvfile.Columns.of(header)
    default_country = country.strip().upper() if country else None
    async with db.transaction() as session:
        if await session.get(Account, subject.account_id) is None:
            raise DomainError(f"There is no account {subject.account_id}.")
        group_id = (await contacts.group_named(session, subject, group, create=True)).id
    result = ImportResult(group_id=group_id)

    async def flush(rows: list[tuple[int, dict[str, Any]]]) -> None:
        async with db.transaction() as session:
            report = await contacts.import_batch(session, subject, group_id, rows)
        result.created += report.created
        result.updated += report.updated
        for error in report.errors:
            if on_error is not None:
                on_error(*error)
            if len(result.errors) < 1000:
                result.errors.append(error)
        if on_progress is not None:
            on_progress(counting.count)

    pending: list[tuple[int, dict[str, Any]]] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            result.rows += 1
            pending.append((reader.line_num, columns.raw(row, default_country)))
            if len(pending) >= batch:
                await flush(pending)
                pending = []
    except csv.Error as exc:
        # The rows before it are imported (their batches are committed); say where the file broke.
        raise DomainError(f"line {reader.line_num}: the file is not valid CSV ({exc}); "
                          f"{result.created + result.updated} rows were imported before it.") from None
    if pending:
        await flush(pending)
    return result


async def run_export(db: Database, subject: AuthSubject, group: str, out: IO[str]) -> int:
    """Write a group's contacts as CSV (formula-safe cells); returns the number of contacts."""
    async with db.sessions() as session:
        group_id = (await contacts.group_named(session, subject, group, create=False)).id
        types = await contacts.custom_field_types(session, subject, group_id)
        keys = sorted(types)
        writer = csv.writer(out)
        writer.writerow(csvfile.export_header(types))
        count = 0
        async for page in contacts.member_pages(session, subject, group_id):
            for c in page:
                writer.writerow(csvfile.export_row(
                    [ids.to_int(Kind.CONTACT, c.id), c.email, c.phone, c.landline, c.country_iso, c.first_name,
                     c.last_name, c.external_id], keys, c.custom_fields or {}))
            count += len(page)
    return count




@contacts_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV file with a header row.", exists=True, dir_okay=False)],
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    group: Annotated[str, typer.Option("--group", help="Group name (created when missing).")],
    country: Annotated[str | None, typer.Option(help="countryIso for rows without one (e.g. ES).")] = None,
    errors_file: Annotated[Path | None, typer.Option("--errors", help="Write the refused rows' report here (CSV).")
                           ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
) -> None:
    """Import contacts into a group: email, phone, landline, countryIso, name, surname, externalId columns;
    any other column is a custom field (`key:date` or `key:decimal` for typed ones). Exit 1 if rows were refused."""
    subject = AuthSubject(account_id=account, user_id=0)
    report: IO[str] | None = errors_file.open("w", newline="", encoding="utf-8") if errors_file else None
    report_writer = csv.writer(report) if report is not None else None
    if report_writer is not None:
        report_writer.writerow(["line", "field", "error"])

    def on_error(line: int, name: str, message: str) -> None:
        if report_writer is not None:
            report_writer.writerow([line, name, message])
        else:
            # Through the console that draws the progress bar, so each line lands above the bar.
            err.print(f"line {line}: {name}: {message}", markup=False, highlight=False, soft_wrap=True)

    async def work(db: Database) -> ImportResult:
        with file.open("rb") as stream:
            if not err.is_terminal:
                return await run_import(db, subject, group, stream, country=country, on_error=on_error)
            with Progress(TextColumn("importing"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                          console=err, transient=True) as bar:
                task = bar.add_task("import", total=file.stat().st_size)
                return await run_import(db, subject, group, stream, country=country, on_error=on_error,
                                        on_progress=lambda done: bar.update(task, completed=done))

    try:
        result: ImportResult = with_database(work)
    finally:
        if report is not None:
            report.close()
    refused = result.rows - result.created - result.updated
    summary = {"group": group, "groupId": ids.to_int(Kind.GROUP, result.group_id), "rows": result.rows,
               "created": result.created, "updated": result.updated, "refused": refused}
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(f"{result.rows} rows: {result.created} created, {result.updated} updated, {refused} refused"
                   + (f" (see {errors_file})" if errors_file and refused else ""))
    if refused:
        raise typer.Exit(1)


@contacts_app.command("export")
def export_command(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    group: Annotated[str, typer.Option("--group", help="Group name.")],
    file: Annotated[Path | None, typer.Argument(help="Write here instead of standard output.", dir_okay=False)
                    ] = None,
) -> None:
    """Export a group's contacts as CSV (cells that a spreadsheet would run as a formula start with ')."""
    subject = AuthSubject(account_id=account, user_id=0)

    async def work(db: Database) -> int:
        if file is None:
            return await run_export(db, subject, group, sys.stdout)
        with file.open("w", newline="", encoding="utf-8") as out:
            return await run_export(db, subject, group, out)

    count = with_database(work)
    if file is not None:
        typer.echo(f"{count} contacts written to {file}", err=True)
