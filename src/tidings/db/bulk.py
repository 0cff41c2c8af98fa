"""Insert many new ORM objects in a few statements and keep them in the session with their ids.

The unit of work inserts one row per statement on SQLite whenever it needs the new ids back
(SQLAlchemy cannot tie RETURNING rows to parameter sets there), which made accepting 1,000 SMS
cost 1,000 round trips. Here each chunk is one multi-row INSERT ... RETURNING id: on PostgreSQL
one statement for all rows, each column's values bound as one array; on SQLite as one VALUES list
under the write lock the connection holds (BEGIN IMMEDIATE), where rows get consecutive rowids in
the order listed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import ARRAY, Column, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict  # the object's __dict__, without inspect()'s lookups

from tidings.db.base import Base, table_of

# SQLite allows 32,766 bound parameters per statement; a message row has about 45 columns.
SQLITE_ROWS_PER_STATEMENT = 500


def _fill_defaults(obj: Base, plan: Sequence[tuple[str, Any, bool]]) -> None:
    """Give every column its Python-side default, as a flush would, so the row is complete without a reload.

    Written to the instance dict directly: the history is reset when the object becomes detached.
    """
    state = instance_dict(obj)
    for key, default, call in plan:
        if key not in state:
            state[key] = default(None) if call else default


@lru_cache(maxsize=64)
def column_defaults(table: Table) -> list[tuple[str, Any, bool]]:
    """(key, value or callable, whether to call it) per column but the primary key, worked out once per table."""
    plan: list[tuple[str, Any, bool]] = []
    for column in table.columns:
        if column.primary_key:
            continue
        default = column.default
        if default is None and column.server_default is not None:
            # Writing NULL would override it, and the value is not known here without a reload.
            raise TypeError(f"{column.key}: only a server default; give it a Python default for insert_all")
        if default is None:
            plan.append((column.key, None, False))
        elif default.is_scalar:
            plan.append((column.key, default.arg, False))  # type: ignore[attr-defined]
        elif default.is_callable:
            plan.append((column.key, default.arg, True))  # type: ignore[attr-defined]
        else:
            raise TypeError(f"{column.key}: unsupported column default {default!r}")
    return plan


_PROCESSORS: dict[tuple[Table, str, tuple[str, ...]], list[Any]] = {}


def _processors(table: Table, columns: Sequence[Column[Any]], dialect: Dialect) -> list[Any]:
    """Each column's bind processor for this dialect (None: the value goes as it is), worked out once per table
    and set of columns."""
    key = (table, dialect.name, tuple(c.name for c in columns))
    if key not in _PROCESSORS:
        _PROCESSORS[key] = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    return _PROCESSORS[key]


_SQLITE_SQL: dict[tuple[Table, int, tuple[bool, ...]], str] = {}


def _sqlite_sql(table: Table, pk: Column[Any], columns: Sequence[Column[Any]], dialect: Dialect, rows: int,
                same: tuple[bool, ...]) -> str:
    """`INSERT ... VALUES (...), (...) RETURNING id` with numbered parameters: a column alike in every row
    (`same`) is one parameter that every row names; then each other column's values, column after column."""
    key = (table, rows, same)
    if key not in _SQLITE_SQL:
        if len(_SQLITE_SQL) >= 64:  # a text per chunk length and mask, each tens of kilobytes
            _SQLITE_SQL.clear()
        quote = dialect.identifier_preparer.quote
        # Per column its first parameter and its step from row to row: the alike ones first, numbered 1, 2 ...
        alike_before, varying_before, alike_count = 0, 0, sum(same)
        ordered: list[tuple[int, int]] = []
        for once in same:
            if once:
                alike_before += 1
                ordered.append((alike_before, 0))
            else:
                ordered.append((alike_count + 1 + varying_before * rows, 1))
                varying_before += 1
        groups = ", ".join("(" + ", ".join(f"?{first + step * row}" for first, step in ordered) + ")"
                           for row in range(rows))
        _SQLITE_SQL[key] = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
                            f"VALUES {groups} RETURNING {quote(pk.name)}")
    return _SQLITE_SQL[key]


async def _sqlite_insert(session: AsyncSession, table: Table, pk: Column[Any], columns: Sequence[Column[Any]],
                         objects: Sequence[Base]) -> list[int]:
    """One `INSERT ... VALUES (...), (...) RETURNING id` per chunk, values bound through each column's type.

    Written out rather than built with `insert().values([...])`: SQLAlchemy compiles such a statement
    anew for every chunk (tens of milliseconds for 500 rows of 45 columns). A column alike in every row of the
    chunk is bound once (most of an SMS's: one parameter each instead of one a row, processed once).
    """
    conn = await session.connection()
    dialect = conn.dialect
    processors = _processors(table, columns, dialect)
    ids: list[int] = []
    for i in range(0, len(objects), SQLITE_ROWS_PER_STATEMENT):
        states = [instance_dict(obj) for obj in objects[i:i + SQLITE_ROWS_PER_STATEMENT]]
        by_column = [[state[column.key] for state in states] for column in columns]
        same = tuple(alike(values) for values in by_column)
        params: list[Any] = []
        for values, process, once in zip(by_column, processors, same, strict=True):
            if once:
                params.append(_bound(values[0], process))
        for values, process, once in zip(by_column, processors, same, strict=True):
            if once:
                continue
            if process is None:
                params.extend(values)
            else:
                params.extend([None if value is None else process(value) for value in values])
        sql = _sqlite_sql(table, pk, columns, dialect, len(states), same)
        got = sorted(int(row[0]) for row in (await conn.exec_driver_sql(sql, tuple(params))).all())
        if len(got) != len(states) or got[-1] - got[0] != len(states) - 1:
            raise RuntimeError("rowids of a multi-row INSERT were not consecutive")
        ids.extend(got)
    return ids


def alike(values: Sequence[Any]) -> bool:
    """Whether every value is the first one (==, identity first, in C), so one parameter can stand for all:
    equal values are written alike, but for a float's -0.0 and 0.0, so never a float."""
    first = values[0]
    return values.count(first) == len(values) and not isinstance(first, float)


def _bound(value: Any, process: Callable[[Any], Any] | None) -> Any:
    return value if value is None or process is None else process(value)


def alike_params(columns: Sequence[Sequence[Any]], processors: Sequence[Callable[[Any], Any] | None] | None = None,
                 keep: int = 0) -> tuple[tuple[bool, ...], tuple[Any, ...]]:
    """A statement from arrays: per column whether every row has one value (`alike`), and its parameter, that value
    once or the list of values, each through its column's processor (an alike one processed once). Column `keep`
    stays a list when every column is alike: one array gives the rows."""
    same = [alike(values) for values in columns]
    if all(same):
        same[keep] = False
    params: list[Any] = []
    for index, (values, once) in enumerate(zip(columns, same, strict=True)):
        process = processors[index] if processors is not None else None
        if once:
            params.append(_bound(values[0], process))
        elif process is None:
            params.append(list(values))
        else:
            params.append([None if value is None else process(value) for value in values])
    return tuple(same), tuple(params)


def array_casts(columns: Sequence[Column[Any]], dialect: Dialect) -> list[str]:
    """PostgreSQL: `$1::type[]`, `$2::type[]` ... one array parameter per column, for `unnest`."""
    if any(isinstance(c.type, ARRAY) for c in columns):
        raise TypeError("unnest would flatten an array column")
    return [f"${i}::{c.type.compile(dialect=dialect)}[]" for i, c in enumerate(columns, start=1)]


_UNNEST_SQL: dict[tuple[Table, str, tuple[bool, ...]], str] = {}


def _unnest_sql(table: Table, pk: Column[Any], columns: Sequence[Column[Any]], dialect: Dialect,
                same: tuple[bool, ...]) -> str:
    """`INSERT ... SELECT ... FROM unnest($1::type[], ...) WITH ORDINALITY ... ORDER BY ordinality RETURNING id`,
    a column whose rows all have the same value (`same`) bound once as `$n::type` instead of as an array."""
    key = (table, dialect.name, same)
    if key not in _UNNEST_SQL:
        if len(_UNNEST_SQL) >= 256:  # callers vary a few columns; a pathological mix only costs the texts again
            _UNNEST_SQL.clear()
        try:
            arrays = array_casts(columns, dialect)
        except TypeError:
            raise TypeError(f"{table.name}: an array column; insert_all does not take one") from None
        quote = dialect.identifier_preparer.quote
        names = [quote(c.name) for c in columns]
        values = [cast.removesuffix("[]") if once else f"rows.{name}"
                  for cast, once, name in zip(arrays, same, names, strict=True)]
        varying = [name for once, name in zip(same, names, strict=True) if not once]
        unnested = [cast for once, cast in zip(same, arrays, strict=True) if not once]
        _UNNEST_SQL[key] = (f"INSERT INTO {quote(table.name)} ({', '.join(names)}) SELECT {', '.join(values)} "
                            f"FROM unnest({', '.join(unnested)}) WITH ORDINALITY AS rows ({', '.join(varying)}, "
                            f"tidings_ordinal) ORDER BY tidings_ordinal RETURNING {quote(pk.name)}")
    return _UNNEST_SQL[key]


async def _postgresql_insert(session: AsyncSession, table: Table, pk: Column[Any], columns: Sequence[Column[Any]],
                             objects: Sequence[Base]) -> list[int]:
    """One INSERT of every row, a column's values as one array (asyncpg encodes it in C): SQLAlchemy's
    insertmanyvalues renders and binds a parameter per value, most of accepting an SMS on PostgreSQL.

    A column with the same value in every row (most of an SMS's 44: its account, sender, text, the NULLs of
    other channels) is one parameter instead: asyncpg checks every array element against three ABCs in Python,
    which was a fifth of accepting an SMS. The rows are inserted in order of the ordinal, so the sequence gives
    them ascending ids in that order (as SQLAlchemy's own ordered insertmanyvalues relies on): sorted, the
    returned ids are the objects' in order.
    """
    conn = await session.connection()
    dialect = conn.dialect
    processors = _processors(table, columns, dialect)
    states = [instance_dict(obj) for obj in objects]
    same, params = alike_params([[state[column.key] for state in states] for column in columns], processors)
    sql = _unnest_sql(table, pk, columns, dialect, same)
    return sorted(int(row[0]) for row in (await conn.exec_driver_sql(sql, params)).all())


async def insert_all(session: AsyncSession, objects: Sequence[Base], *, track: bool = True) -> None:
    """INSERT transient objects of one model; they become persistent with their ids, as after a flush.

    `track=False` leaves them out of the session (ids set, read-only from then on): a thousand objects
    added to the session cost more than inserting them, for callers that only read them back.
    """
    if not objects:
        return
    table = table_of(type(objects[0]))
    (pk,) = table.primary_key.columns
    columns = [c for c in table.columns if c is not pk]
    plan = column_defaults(table)
    for obj in objects:
        _fill_defaults(obj, plan)
    if session.get_bind().dialect.name == "sqlite":
        ids = await _sqlite_insert(session, table, pk, columns, objects)
    else:
        ids = await _postgresql_insert(session, table, pk, columns, objects)
    for obj, new_id in zip(objects, ids, strict=True):
        instance_dict(obj)[pk.key] = new_id  # as a flush leaves it: no change to track on the object
        if track:
            make_transient_to_detached(obj)
            session.add(obj)
