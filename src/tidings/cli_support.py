"""How every `tidings` operator command reaches the database: migrated, booted, disposed, errors as messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import get_settings
from tidings.core.errors import DomainError
from tidings.db.engine import Database, is_sqlite
from tidings.db.migrate import upgrade
from tidings.runtime import boot

T = TypeVar("T")


def with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run an operator task against the configured database (migrating SQLite first); domain errors exit 2."""
    settings = get_settings()
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)

    async def main() -> T:
        db = boot(settings)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        detail = "; ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message
        typer.echo(f"error: {detail}", err=True)
        raise typer.Exit(2) from None


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run an operator task in one transaction."""

    async def run(db: Database) -> T:
        async with db.transaction() as session:
            return await work(session)

    return with_database(run)
