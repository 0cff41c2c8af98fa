"""Index changes for migrations that leave the tables writable: CONCURRENTLY on PostgreSQL, plain on SQLite."""

from __future__ import annotations

from typing import Any

from alembic import op
from sqlalchemy import text


def _where(where: str | None) -> dict[str, Any]:
    return {} if where is None else {"postgresql_where": text(where), "sqlite_where": text(where)}


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def create_index(name: str, table: str, columns: list[str], where: str | None = None) -> None:
    """A new index (partial with `where`); on PostgreSQL built without blocking writes."""
    if not _postgresql():
        op.create_index(name, table, columns, **_where(where))
        return
    with op.get_context().autocommit_block():
        # IF EXISTS: a concurrent build that failed half way leaves an invalid index behind; the upgrade runs again.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        op.create_index(name, table, columns, postgresql_concurrently=True, **_where(where))


def replace_index(name: str, table: str, columns: list[str], where: str | None = None) -> None:
    """The index of that name, rebuilt on other columns; on PostgreSQL beside the old one, which its queries keep
    using until the new one is swapped in."""
    if not _postgresql():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, **_where(where))
        return
    create_index(f"{name}_new", table, columns, where)
    drop_index(name, table)
    op.execute(f"ALTER INDEX {name}_new RENAME TO {name}")


def drop_index(name: str, table: str) -> None:
    """Drop an index; on PostgreSQL without blocking writes."""
    if not _postgresql():
        op.drop_index(name, table_name=table)
        return
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
