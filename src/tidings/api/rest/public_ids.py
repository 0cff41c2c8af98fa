"""The messaging dialect's integer ids: every id it shows or reads goes through `tidings.core.ids`.

Rows keep sequential primary keys; what a client sees is a keyed permutation of them, so ids tell
nothing about the platform's volume and a guessed id is a 404 like another account's.
"""

from __future__ import annotations

from typing import Any, overload

from tidings.core import ids
from tidings.core.errors import NotFound
from tidings.core.ids import Kind

# Never a primary key: an id that does not decode filters everything out instead of matching NULL.
NO_ROW = -1
# The largest integer id (2**52 - 1): what a client can have been given.
MAX_PUBLIC = (1 << 52) - 1


@overload
def show(kind: Kind, pk: int) -> int: ...
@overload
def show(kind: Kind, pk: None) -> None: ...
@overload
def show(kind: Kind, pk: int | None) -> int | None: ...
def show(kind: Kind, pk: int | None) -> int | None:
    """The public integer id of a row (None stays None)."""
    return None if pk is None else ids.to_int(kind, pk)


def text(kind: Kind, pk: int | None, empty: str = "") -> str:
    """The public id as decimal text, as the document shows SMS ids, guids and notification fields."""
    return empty if pk is None else str(ids.to_int(kind, pk))


def decode(kind: Kind, raw: Any) -> int | None:
    """The primary key behind a public id (int or decimal text), None when it is not one of ours."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return None
    return ids.from_int(kind, raw.strip() if isinstance(raw, str) else raw)


def parse(kind: Kind, raw: Any) -> int:
    """A path id's primary key; anything that is not one of our ids of this kind is a 404."""
    pk = decode(kind, raw)
    if pk is None:
        raise NotFound("Resource not found")
    return pk


def filter_pk(kind: Kind, raw: Any) -> int:
    """A filter's primary key; an id that is not ours matches nothing."""
    return decode(kind, raw) or NO_ROW
