"""Rows written by plain executemany statements: changed rows before the unit of work runs, new rows in bulk.

The unit of work and Core's executemany both spend most of an UPDATE's cost on per-row parameter
handling (about 40 µs a row on the engine's hot paths: a message sent, a receipt, an enrollment moved
on). Our models are plain column mappings (no relationships, version counters, onupdate defaults or
mapper events), so a changed row is fully described by its changed columns: this listener writes
each table's changed rows in primary-key order (as the unit of work does, so concurrent writers take
row locks in the same order), runs of rows with the same changed columns as one executemany of a
statement compiled once (on PostgreSQL one UPDATE from arrays, which the server executes once instead of
once a row), with the columns' own bind processors, and marks them clean. The unit of work then only sees
what is left (new and deleted objects, anything unusual), and writes it as before.
`insert_rows` writes many new rows given as dicts (events, queued messages) with a statement compiled once: an
executemany on SQLite, one INSERT from arrays on PostgreSQL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from itertools import groupby
from typing import Any, cast

from sqlalchemy import JSON, Table, bindparam, event, insert, inspect, select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ColumnProperty, Mapper, Session, UOWTransaction
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.state import InstanceState

from tidings.db.bulk import alike_params, array_casts, column_defaults
from tidings.db.tracked import TrackedRow

_PK = "id"
_PK_BIND = "pk_"

# Per mapper: attribute key -> column name, or None when the mapper needs the unit of work.
_COLUMNS: dict[Mapper[Any], dict[str, str] | None] = {}
# Per mapper: attribute key -> its type's equality, as the unit of work compares old and new values.
_COMPARE: dict[Mapper[Any], dict[str, Callable[[Any, Any], bool]]] = {}
# Per (mapper, changed keys, dialect): the SQL, per position the attribute and its bind processor, and on
# PostgreSQL what the same UPDATE with its values from arrays is made of, for a run of several rows (None:
# executemany).
_Compiled = tuple[str, list[tuple[str, Callable[[Any], Any] | None]], "_ArrayUpdate | None"]
_STATEMENTS: dict[tuple[Mapper[Any], tuple[str, ...], str], _Compiled | None] = {}


def _columns(mapper: Mapper[Any]) -> dict[str, str] | None:
    if mapper not in _COLUMNS:
        table = mapper.local_table
        plain = (isinstance(table, Table) and mapper.inherits is None and not mapper.relationships
                 and mapper.version_id_col is None and [c.key for c in mapper.primary_key] == [_PK]
                 and not any(c.onupdate is not None or c.server_onupdate is not None for c in table.columns)
                 and not (mapper.dispatch.before_update or mapper.dispatch.after_update))
        columns: dict[str, str] | None = None
        if plain:
            columns = {}
            for prop in mapper.column_attrs:
                if isinstance(prop, ColumnProperty) and len(prop.columns) == 1 and prop.columns[0].table is table:
                    columns[prop.key] = prop.columns[0].name
            _COMPARE[mapper] = {key: mapper.columns[key].type.compare_values for key in columns}
        _COLUMNS[mapper] = columns
    return _COLUMNS[mapper]


def _compiled(mapper: Mapper[Any], keys: tuple[str, ...], columns: dict[str, str],
              dialect: Dialect) -> _Compiled | None:
    cache_key = (mapper, keys, dialect.name)
    if cache_key not in _STATEMENTS:
        table = mapper.local_table
        assert isinstance(table, Table)
        stmt = (table.update().where(table.c[_PK] == bindparam(_PK_BIND, type_=table.c[_PK].type))
                .values({columns[k]: bindparam(k, type_=table.c[columns[k]].type) for k in keys}))
        compiled = stmt.compile(dialect=dialect)
        order = compiled.positiontup
        entry: _Compiled | None = None
        if order is not None and not compiled.escaped_bind_names and set(order) == {*keys, _PK_BIND}:
            binds = compiled.binds
            arrays = _array_update(table, columns, dialect, order) if dialect.name == "postgresql" else None
            entry = (str(compiled), [(name, binds[name].type._cached_bind_processor(dialect)) for name in order],
                     arrays)
        _STATEMENTS[cache_key] = entry
    return _STATEMENTS[cache_key]


class _ArrayUpdate:
    """PostgreSQL: the UPDATE of many rows at once, its values from one array per parameter (`unnest`) in the
    parameters' order, but a value every row has alike bound once (`bulk.alike`); its text per such mask."""

    def __init__(self, table: Table, columns: dict[str, str], dialect: Dialect, order: Sequence[str]) -> None:
        quote = dialect.identifier_preparer
        targets = [table.c[_PK] if name == _PK_BIND else table.c[columns[name]] for name in order]
        self.casts = array_casts(targets, dialect)  # TypeError or CompileError: no plain array form
        self.columns = [None if name == _PK_BIND else quote.format_column(column)
                        for name, column in zip(order, targets, strict=True)]
        self.target = quote.format_table(table)
        self.pk = quote.format_column(table.c[_PK])
        self._texts: dict[tuple[bool, ...], str] = {}

    def sql(self, same: tuple[bool, ...]) -> str:
        text = self._texts.get(same)
        if text is None:
            sets = [f"{column} = {cast.removesuffix('[]') if once else f'v.v{i}'}"
                    for i, (column, cast, once) in enumerate(zip(self.columns, self.casts, same, strict=True), 1)
                    if column is not None]
            arrays = [cast for cast, once in zip(self.casts, same, strict=True) if not once]
            names = [f"v{i}" for i, once in enumerate(same, 1) if not once]
            pk = next(f"v.v{i}" for i, column in enumerate(self.columns, 1) if column is None)
            text = self._texts[same] = (
                f"UPDATE {self.target} SET {', '.join(sets)} FROM unnest({', '.join(arrays)}) AS "
                f"v({', '.join(names)}) WHERE {self.target}.{self.pk} = {pk}")
        return text


def _array_update(table: Table, columns: dict[str, str], dialect: Dialect, order: Sequence[str],
                  ) -> _ArrayUpdate | None:
    try:
        return _ArrayUpdate(table, columns, dialect, order)
    except (TypeError, CompileError):  # a column's type has no plain array form
        return None


def _changed(state: InstanceState[Any]) -> list[str] | None:
    """A loaded row's changed plain columns, sorted; None when its changes are the unit of work's to write."""
    mapper = state.mapper
    columns = _columns(mapper)
    values = state.dict
    committed = state.committed_state
    if columns is None or _PK in committed or type(values.get(_PK)) is not int:
        return None
    compare = _COMPARE[mapper]
    changed: list[str] = []
    for key, old in committed.items():
        if key not in compare or key not in values:
            return None  # not a plain column write: the unit of work's
        # A value set back to what it was is no change, as for the unit of work (which then writes nothing).
        if old is NO_VALUE or not compare[key](old, values[key]):
            changed.append(key)
    changed.sort()
    return changed


def take_changes(obj: Any) -> dict[str, Any] | None:
    """A loaded row's changed columns, which it then counts as written: the caller writes them (`update_plain`).

    None when the row has changes only the unit of work can write (it keeps them). A tracked row
    (`db.tracked`) gives what was assigned to it.
    """
    if isinstance(obj, TrackedRow):
        return obj.take_changes()
    state = cast("InstanceState[Any]", inspect(obj))
    if not state.modified:
        return {}
    changed = _changed(state)
    if changed is None:
        return None
    values = state.dict
    taken = {key: values[key] for key in changed}
    state._commit_all(values, state.session.identity_map if state.session else None)  # noqa: SLF001
    return taken


def mark_written(obj: Any, changes: dict[str, Any]) -> None:
    """Give a loaded row the values the caller wrote for it (`update_plain`), as if loaded with them."""
    if isinstance(obj, TrackedRow):
        obj.set_written(changes)
        return
    cast("InstanceState[Any]", inspect(obj)).dict.update(changes)


def _plan(session: Session, dialect: Dialect) -> list[tuple[Mapper[Any], _Compiled | None, list[InstanceState[Any]]]]:
    """The changed persistent rows this listener can write, in key order, by table and changed columns, each run
    with its statement (None: only values set back to what they were, nothing to write)."""
    wanted: list[tuple[str, int, Mapper[Any], tuple[str, ...], InstanceState[Any]]] = []
    deleted = session._deleted  # noqa: SLF001 - a row deleted in this flush is the unit of work's
    for state in list(session.identity_map._modified):  # noqa: SLF001 - the unit of work's own dirty list
        if not state.key or state._deleted or state in deleted:  # noqa: SLF001
            continue
        changed = _changed(state)
        if changed is not None:
            mapper = state.mapper
            wanted.append((mapper.local_table.name, state.dict[_PK], mapper, tuple(changed),  # type: ignore[attr-defined]
                           state))
    wanted.sort(key=lambda item: (item[0], item[1]))
    runs = []
    for (mapper, keys), items in groupby(wanted, key=lambda item: (item[2], item[3])):
        columns = _columns(mapper)
        assert columns is not None
        compiled = _compiled(mapper, keys, columns, dialect) if keys else None
        if compiled is not None or not keys:
            runs.append((mapper, compiled, [item[4] for item in items]))
    return runs


def write_updates(session: Session, _flush: UOWTransaction, objects: Any) -> None:
    """before_flush: write the changed rows of plain models with executemany; the unit of work does the rest."""
    if objects is not None or not session.identity_map._modified:  # noqa: SLF001 - flush(objects): all to the unit of work
        return
    dialect = session.get_bind().dialect
    runs = _plan(session, dialect)
    if not runs:
        return
    connection = session.connection()
    identity_map = session.identity_map
    for mapper, compiled, states in runs:
        if compiled is None:  # only values set back to what they were: nothing to write
            for state in states:
                state._commit_all(state.dict, identity_map)  # noqa: SLF001
            continue
        _write_run(connection, mapper, compiled, [state.dict for state in states])
        for state in states:
            state._commit_all(state.dict, identity_map)  # noqa: SLF001 - as the unit of work does after writing


def _write_run(connection: Connection, mapper: Mapper[Any], compiled: _Compiled, rows: list[dict[str, Any]]) -> None:
    """One run of rows (their id and the same changed keys), in key order: one executemany, or one UPDATE from
    arrays on PostgreSQL."""
    sql, params, arrays = compiled
    values = [tuple(process(row[_PK if name == _PK_BIND else name]) if process is not None
                    else row[_PK if name == _PK_BIND else name] for name, process in params) for row in rows]
    many = len(values) > 1
    if many and arrays is not None:
        # One execution for the run (the rows in key order, so locks are still taken in that order): asyncpg's
        # executemany executes the statement once per row. The ids differ: their array gives the rows.
        same, bound = alike_params(list(zip(*values, strict=True)),
                                   keep=next(i for i, (name, _) in enumerate(params) if name == _PK_BIND))
        result = connection.exec_driver_sql(arrays.sql(same), bound)
        many = False
    else:
        result = connection.exec_driver_sql(sql, values) if many else connection.exec_driver_sql(sql, values[0])
    dialect = connection.dialect
    sane = dialect.supports_sane_multi_rowcount if many else dialect.supports_sane_rowcount
    if sane and result.rowcount not in (-1, len(values)):
        raise StaleDataError(f"UPDATE statement on table '{mapper.local_table.name}' expected to update "  # type: ignore[attr-defined]
                             f"{len(values)} row(s); {result.rowcount} were matched.")


def _update_plain(session: Session, model: type[Any], changed: dict[int, dict[str, Any]]) -> None:
    mapper = cast("Mapper[Any]", inspect(model))
    columns = _columns(mapper)
    if columns is None:
        raise TypeError(f"{model.__name__} is not a plain model")
    connection = session.connection()
    rows = sorted(({**values, _PK: pk} for pk, values in changed.items() if values), key=lambda row: row[_PK])
    for keys, run in groupby(rows, key=lambda row: tuple(sorted(k for k in row if k != _PK))):
        compiled = _compiled(mapper, keys, columns, connection.dialect)
        if compiled is None:
            raise TypeError(f"no plain UPDATE of {model.__name__} setting {keys}")
        _write_run(connection, mapper, compiled, list(run))


async def update_plain(session: AsyncSession, model: type[Any], changed: dict[int, dict[str, Any]],
                       loaded: Iterable[Any] = ()) -> None:
    """UPDATE rows of a plain model not loaded as objects: `changed` maps an id to its changed attributes.

    In key order, rows with the same changed attributes as one statement, as `write_updates` writes loaded rows.
    `loaded`: objects of the model whose changes are written in the same pass (`take_changes`), so that all the
    rows are locked in one key order (concurrent writers of the same rows cannot deadlock on it).
    """
    rows = dict(changed)
    for obj in loaded:
        pk = getattr(obj, _PK)
        if pk not in rows and (taken := take_changes(obj)):
            rows[pk] = taken
    await session.run_sync(_update_plain, model, rows)


event.listen(Session, "before_flush", write_updates)


# Per (table, the rows' columns, dialect): the SQL and, per position, the column, its bind processor, for a
# column the rows leave out its Python default (a value, or a callable run per row as Core runs it), and whether
# its values are JSON documents.
_InsertParam = tuple[str, Callable[[Any], Any] | None, bool, Any, bool]
_INSERTS: dict[tuple[Table, tuple[str, ...], str], tuple[str, list[_InsertParam]] | None] = {}


def _insert_compiled(table: Table, keys: tuple[str, ...], dialect: Dialect) -> tuple[str, list[_InsertParam]] | None:
    cache_key = (table, keys, dialect.name)
    if cache_key not in _INSERTS:
        entry: tuple[str, list[_InsertParam]] | None = None
        try:
            defaults = {key: (call, default) for key, default, call in column_defaults(table)}
        except TypeError:  # a column with only a server default: Core's path, which leaves it out
            defaults = None
        if defaults is not None:
            written = [*keys, *(key for key in defaults if key not in keys)]
            compiled = insert(table).values({k: bindparam(k, type_=table.c[k].type) for k in written}).compile(
                dialect=dialect)
            if compiled.positiontup is not None and not compiled.escaped_bind_names:
                entry = (str(compiled), [
                    (name, compiled.binds[name].type._cached_bind_processor(dialect),
                     *(defaults[name] if name not in keys else (False, None)), isinstance(table.c[name].type, JSON))
                    for name in compiled.positiontup])
        _INSERTS[cache_key] = entry
    return _INSERTS[cache_key]


def _insert_row(row: dict[str, Any], params: list[_InsertParam], documents: dict[int, Any]) -> tuple[Any, ...]:
    """One row's parameters; a JSON document the rows share (the same object) is serialised once, in `documents`."""
    out = []
    for name, process, call, default, document in params:
        if name in row:
            value = row[name]
            if document:
                # Keyed by identity: the rows hold these objects for the whole call, so no id is reused.
                key = id(value)
                if key not in documents:
                    documents[key] = process(value) if process is not None else value
                out.append(documents[key])
                continue
        else:
            value = default(None) if call else default
        out.append(process(value) if process is not None else value)
    return tuple(out)


class _ArrayInsert:
    """PostgreSQL: `INSERT ... SELECT ... FROM unnest($1::type[], ...)`, one array per column but a value every
    row has alike bound once (`bulk.alike`); its text per such mask."""

    def __init__(self, table: Table, params: list[_InsertParam], dialect: Dialect) -> None:
        quote = dialect.identifier_preparer
        self.casts = array_casts([table.c[name] for name, *_ in params], dialect)  # TypeError, CompileError
        self.columns = [quote.format_column(table.c[name]) for name, *_ in params]
        self.target = quote.format_table(table)
        self._texts: dict[tuple[bool, ...], str] = {}

    def sql(self, same: tuple[bool, ...]) -> str:
        text = self._texts.get(same)
        if text is None:
            values = [cast.removesuffix("[]") if once else f"v.c{i}"
                      for i, (cast, once) in enumerate(zip(self.casts, same, strict=True), 1)]
            arrays = [cast for cast, once in zip(self.casts, same, strict=True) if not once]
            names = [f"c{i}" for i, once in enumerate(same, 1) if not once]
            text = self._texts[same] = (
                f"INSERT INTO {self.target} ({', '.join(self.columns)}) SELECT {', '.join(values)} "
                f"FROM unnest({', '.join(arrays)}) AS v({', '.join(names)})")
        return text


_UNNESTS: dict[tuple[Table, tuple[str, ...]], tuple[_ArrayInsert, list[_InsertParam]] | None] = {}


def _unnest_compiled(table: Table, keys: tuple[str, ...], dialect: Dialect,
                     ) -> tuple[_ArrayInsert, list[_InsertParam]] | None:
    """PostgreSQL: the INSERT from arrays, and the columns and their parameters as `_insert_compiled` has them."""
    cache_key = (table, keys)
    if cache_key not in _UNNESTS:
        entry: tuple[_ArrayInsert, list[_InsertParam]] | None = None
        base = _insert_compiled(table, keys, dialect)
        if base is not None:
            with contextlib.suppress(TypeError, CompileError):  # a type without a plain array form: Core's path
                entry = (_ArrayInsert(table, base[1], dialect), base[1])
        _UNNESTS[cache_key] = entry
    return _UNNESTS[cache_key]


async def insert_rows(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows (dicts with the same columns, no ids back) in one statement or executemany.

    SQLite: one executemany of a statement compiled once. PostgreSQL: one INSERT of every row from arrays
    (`unnest`), executed once: asyncpg's executemany runs the statement once per row, and the server's CPU per
    event row fell from about 70 to 41 µs with it (36,000 rows in transactions of 45; session 21).
    """
    if not rows:
        return
    keys = tuple(rows[0])
    if session.sync_session.autoflush:
        await session.flush()  # as session.execute would: pending changes go first
    connection = await session.connection()
    dialect = connection.dialect
    compiled = (_insert_compiled(table, keys, dialect) if dialect.name == "sqlite"
                else _unnest_compiled(table, keys, dialect) if dialect.name == "postgresql" else None)
    if compiled is None or any(len(row) != len(keys) or row.keys() != rows[0].keys() for row in rows):
        await session.execute(insert(table), rows)
        return
    statement, params = compiled
    documents: dict[int, Any] = {}
    values = [_insert_row(row, params, documents) for row in rows]
    if isinstance(statement, str):
        await connection.exec_driver_sql(statement, values)
        return
    same, bound = alike_params(list(zip(*values, strict=True)))
    await connection.exec_driver_sql(statement.sql(same), bound)


async def insert_rows_returning_ids(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """INSERT rows as `insert_rows` does, and return their new ids in the rows' order."""
    if not rows:
        return []
    pk = table.c[_PK]
    if session.get_bind().dialect.name == "sqlite":
        # SQLAlchemy sends an ordered RETURNING insert one row at a time on SQLite. One executemany instead:
        # this transaction holds SQLite's only write lock from it to its commit, and a new rowid is one more
        # than the table's largest, so the table's newest len(rows) ids are these rows', in insertion order.
        await insert_rows(session, table, rows)
        return sorted((await session.execute(select(pk).order_by(pk.desc()).limit(len(rows)))).scalars())
    ids: list[int] = []
    for start in range(0, len(rows), 1000):
        result = await session.execute(insert(table).returning(pk, sort_by_parameter_order=True),
                                       rows[start:start + 1000])
        ids += result.scalars()
    return ids
