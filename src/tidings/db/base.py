"""Declarative base, naming conventions and the column types every model shares."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    TextClause,
    TypeDecorator,
    any_,
    bindparam,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.sqlite import DATETIME as sqlite_DATETIME  # noqa: N811
from sqlalchemy.dialects.sqlite.base import SQLiteDialect as sqlite_dialect  # noqa: N813
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from tidings.core import clock

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
PK = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back aware datetimes, also from SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else clock.as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else clock.as_utc(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_bind
        if dialect.driver == "asyncpg":
            return _aware  # asyncpg takes aware datetimes as they are: one call instead of the decorator's three
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_result
        if dialect.driver == "asyncpg":
            return _aware  # asyncpg hands timestamptz back in UTC (a claim reads twelve a message)
        return super().result_processor(dialect, coltype)


def _aware(value: Any) -> Any:
    return value if value is None or getattr(value, "tzinfo", None) is UTC else clock.as_utc(value)


# SQLite keeps datetimes as text: SQLAlchemy writes "YYYY-MM-DD HH:MM:SS.ffffff" (its DATETIME's storage format)
# and parses it back naive. Done in one C call each way (isoformat, fromisoformat), the same text and values:
# the stock path (a format with seven named fields, a parse, then the zone put back) was ~4 % of a cold email.

def _sqlite_bind(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, datetime):
        return _STOCK_BIND(value)
    return clock.as_utc(value).isoformat(" ", "microseconds")[:-6]


def _sqlite_result(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 26:
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:
            pass
    parsed = _STOCK_RESULT(value)
    return None if parsed is None else clock.as_utc(parsed)


_STOCK_BIND: Callable[[Any], Any] = sqlite_DATETIME().bind_processor(sqlite_dialect()) or str
_STOCK_RESULT: Callable[[Any], Any] = sqlite_DATETIME().result_processor(sqlite_dialect(), None) or str


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


M = TypeVar("M", bound="Base")


async def get_loaded(session: AsyncSession, model: type[M], pk: int) -> M | None:
    """`session.get`, answered from the identity map when the row is already in the session.

    For lookups made per message of a batch whose rows were loaded up front: `session.get` itself
    costs tens of microseconds even when it finds the row there.
    """
    found = session.sync_session.identity_map.get((model, (pk,), None))
    if found is not None:
        return found
    return await session.get(model, pk)


def attach(session: AsyncSession, objects: Iterable[Any]) -> None:
    """`session.add_all` for loaded (detached) rows of our models, without the save-update cascade walk.

    Our models have no relationships (docs/design.md), so the cascade finds nothing; walking it was most of
    re-attaching a batch's rows (6.4 -> 1.6 µs a row). A new object, or a model that has relationships, takes
    the public path.
    """
    sync = session.sync_session
    for obj in objects:
        state = inspect(obj)
        if state.key is None or state.mapper.relationships:
            sync.add(obj)
        else:
            sync._update_impl(state)  # noqa: SLF001 - what add() does for a detached row, minus the cascade


class _OneOf(ColumnElement[bool]):
    """`column IN (:name)` with the list given at execution (see `one_of`)."""

    inherit_cache = True
    _is_implicitly_boolean = True  # a comparison: WHERE takes it as is (no "= 1" where booleans are integers)
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement), ("name", InternalTraversal.dp_string)]
    type = Boolean()

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column, self.name = column, name


class _JsonList(TypeDecorator[list[Any]]):
    """A list bound as one JSON array (text), for SQLite's `json_each`."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(list(value))


@compiles(_OneOf)
def _one_of_in(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(_OneOf, "sqlite")
def _one_of_json(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    # One JSON array parameter, as PostgreSQL's one array: an expanding IN renders its statement again at each
    # execution with a placeholder and a parameter per value (about a microsecond and a half each, in the event
    # loop's thread); SQLite reads the array in C and still searches the column's index for each value.
    values = compiler.process(bindparam(element.name, type_=_JsonList()), **kw)
    return f"{compiler.process(element.column, **kw)} IN (SELECT value FROM json_each({values}))"


@compiles(_OneOf, "postgresql")
def _one_of_any(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column == any_(bindparam(element.name, type_=ARRAY(element.column.type))), **kw)


def one_of(column: Any, name: str = "ids") -> ColumnElement[bool]:
    """`column` is one of the list passed as parameter `name` when the statement runs.

    On PostgreSQL `column = ANY(:name)`: one array parameter, so the SQL is the same whatever the list's length
    (an expanding IN is rendered again for each execution, one bound parameter per value, and each length is
    another statement for the server to prepare). Elsewhere an expanding IN.
    """
    return _OneOf(column, name)


class json_object(FunctionElement[Any]):  # noqa: N801 (used as a SQL function)
    """A JSON object built by the database from alternating keys and values (bound values or columns):
    `json_object` on SQLite, `json_build_object` on PostgreSQL; for INSERT ... SELECT of JSON documents."""

    type = JSON()
    inherit_cache = True
    name = "json_object"


@compiles(json_object)
def _json_object(element: json_object, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "postgresql")
def _json_build_object(element: json_object, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


_BY_IDS: dict[type[Any], Any] = {}


def by_ids(model: type[M]) -> Select[M]:
    """SELECT model WHERE id is one of :ids (`one_of`), built once per model: run it with {"ids": [...]}.

    Building a statement (with its IN list) for each batch cost more than running it.
    """
    stmt = _BY_IDS.get(model)
    if stmt is None:
        cls: Any = model
        stmt = _BY_IDS[model] = select(cls).where(one_of(cls.id))
    return stmt


_COLUMN_KEYS: dict[type[Base], frozenset[str]] = {}


def build(model: type[M], values: dict[str, Any]) -> M:
    """A new (transient) object with these column values, as `model(**values)` makes it, without the ORM's
    per-attribute events: about 1 µs instead of 20 for a message, for callers that build thousands at once.

    Only column attributes; anything else (a relationship) goes through the constructor.
    """
    keys = _COLUMN_KEYS.get(model)
    if keys is None:
        keys = _COLUMN_KEYS[model] = frozenset(a.key for a in model.__mapper__.column_attrs)
    if not keys.issuperset(values):
        return model(**values)
    obj: M = model.__mapper__.class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


def partial_index(name: str, *columns: str | TextClause, where: str | None = None,
                  sqlite_where: str | None = None) -> Index:
    """An index of the rows where its last column is set (or `where` holds), on both databases."""
    where = where or f"{columns[-1]} IS NOT NULL"
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(sqlite_where or where))


def table_of(model: type[Base]) -> Table:
    """The model's Core table, for bulk statements that need no ORM objects (and skip the ORM's per-row work)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class IdMixin:
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class TenantMixin:
    """Every tenant-owned row carries its account; the scoping helper filters on it."""

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)


class UnindexedTenantMixin(TenantMixin):
    """A tenant-owned row whose account has no index of its own: the table's other indexes lead with it, or no
    read goes by it (an index that nothing reads is one more entry written with every row)."""

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))


class DueMixin:
    """A row the engine claims when due: see tidings.db.queue."""

    due_at: Mapped[datetime | None] = mapped_column(default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    locked_by: Mapped[str | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
