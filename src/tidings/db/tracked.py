"""Rows read as plain objects with the model's attribute names, for code written against the model's objects.

The dispatcher's claimed messages are read by every gate, preparer and outcome hook: as ORM objects each row
cost its loading into the session and each attribute read an instrumented descriptor call (about 70 a message).
A tracked row holds the same attributes in slots, and keeps what is assigned to it as its changes, which the
caller writes with `plain_writes.update_plain` (`take_changes`). It is not in any session: code that needs the
object itself (an event listener without a plain form, the unit of work) gets the loaded object instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Column, inspect
from sqlalchemy.orm import ColumnProperty, Mapper


class TrackedRow:
    """Base of the generated classes: a row's attributes in slots and the changes assigned since it was read."""

    __slots__ = ("_changed",)
    _changed: dict[str, Any]

    def __setattr__(self, name: str, value: Any) -> None:
        # A value set to what it already is is no change, as for the unit of work (a preparer sets an SMS's parts
        # and encoding every time, almost always to what they were).
        same = getattr(self, name) == value  # an unknown name raises AttributeError (slots)
        object.__setattr__(self, name, value)
        if not same:
            self._changed[name] = value

    def take_changes(self) -> dict[str, Any]:
        """What was assigned since the last call (or the read), now counted as written."""
        changed = self._changed
        object.__setattr__(self, "_changed", {})
        return changed

    def set_written(self, values: dict[str, Any]) -> None:
        """Take values the caller wrote for this row, as if read with them."""
        for name, value in values.items():
            object.__setattr__(self, name, value)


_CLASSES: dict[type[Any], tuple[type[TrackedRow], list[str], list[Column[Any]]]] = {}


def _class_of(model: type[Any]) -> tuple[type[TrackedRow], list[str], list[Column[Any]]]:
    found = _CLASSES.get(model)
    if found is None:
        mapper = cast("Mapper[Any]", inspect(model))
        props = [p for p in mapper.column_attrs if isinstance(p, ColumnProperty) and len(p.columns) == 1]
        keys = [p.key for p in props]
        columns = [cast("Column[Any]", p.columns[0]) for p in props]
        cls = type(f"Tracked{model.__name__}", (TrackedRow,), {"__slots__": tuple(keys)})
        found = _CLASSES[model] = (cls, keys, columns)
    return found


def columns_of(model: type[Any]) -> list[Column[Any]]:
    """The model's columns in the order `tracked` expects a row's values."""
    return _class_of(model)[2]


def tracked(model: type[Any], rows: Iterable[Sequence[Any]]) -> list[Any]:
    """Tracked rows of `model` from result rows selecting `columns_of(model)`, typed as the model for its readers."""
    cls, keys, _ = _class_of(model)
    out = []
    setter = object.__setattr__
    for row in rows:
        obj = cls.__new__(cls)
        for key, value in zip(keys, row, strict=True):
            setter(obj, key, value)
        setter(obj, "_changed", {})
        out.append(obj)
    return out
