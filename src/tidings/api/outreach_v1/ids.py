"""Outreach public ids at the lengths the Wavo document shows for each kind.

Clients and campaigns are 20 characters (`tidings.core.ids`); contacts and threads are 25 and
messages 30. The longer ids are the 20-character id plus a keyed check suffix, so they decode
through the same install-secret codec and a mangled suffix is a 404 like any unknown id.
"""

from __future__ import annotations

import hashlib

from tidings.core import ids
from tidings.core.ids import Kind

LENGTHS = {Kind.ENROLLMENT: 25, Kind.THREAD: 25, Kind.MESSAGE: 30}
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _suffix(base: str, n: int) -> str:
    digest = hashlib.sha256(("tidings-outreach-id:" + base).encode()).digest()
    return "".join(_ALPHABET[b % 36] for b in digest[:n])


def encode(kind: Kind, pk: int) -> str:
    """The public id of a row, at its documented length."""
    base = ids.encode(kind, pk)
    extra = LENGTHS.get(kind, 20) - 20
    return base + _suffix(base, extra) if extra > 0 else base


def decode(kind: Kind, public: str | None) -> int | None:
    """The primary key of a public id, or None when it is not a valid id of this kind."""
    if not public or not isinstance(public, str):
        return None
    extra = LENGTHS.get(kind, 20) - 20
    if extra > 0:
        if len(public) <= extra:
            return None
        base, tail = public[:-extra], public[-extra:]
        if _suffix(base, extra) != tail:
            return None
        public = base
    pk = ids.decode(kind, public)
    # A crafted id can decode to a number no BIGINT holds; the database would reject it with a 500.
    return pk if pk is not None and 0 < pk < 2**62 else None
