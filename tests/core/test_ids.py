"""Public ids: reversible for us, unguessable and non-sequential for everyone else."""

from __future__ import annotations

import random
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.core import ids
from tidings.core.ids import MAX_INT_PK, IdCodec, Kind


@given(st.integers(min_value=1, max_value=MAX_INT_PK))
def test_integer_ids_round_trip_and_stay_exact_in_javascript(pk: int) -> None:
    codec = IdCodec("secret")
    public = codec.to_int(Kind.MESSAGE, pk)
    assert 0 < public < 2**53
    assert codec.from_int(Kind.MESSAGE, public) == pk


def test_integer_ids_are_not_sequential_and_do_not_decode_as_another_kind() -> None:
    codec = IdCodec("secret")
    ids = [codec.to_int(Kind.MESSAGE, pk) for pk in range(1, 200)]
    assert ids != sorted(ids)
    assert min(b - a for a, b in zip(sorted(ids), sorted(ids)[1:], strict=False)) > 1000
    assert sum(codec.from_int(Kind.SENDING, public) is not None for public in ids) < 3
    assert all(IdCodec("other").from_int(Kind.MESSAGE, public) != pk for pk, public in enumerate(ids, 1))


def test_an_integer_id_is_the_same_every_time_and_per_kind() -> None:
    codec = IdCodec("secret")
    first = [codec.to_int(kind, pk) for kind in (Kind.MESSAGE, Kind.CAMPAIGN) for pk in (1, 2, 1)]
    again = [codec.to_int(kind, pk) for kind in (Kind.MESSAGE, Kind.CAMPAIGN) for pk in (1, 2, 1)]
    fresh = IdCodec("secret")  # worked out anew, not remembered
    assert first == again == [fresh.to_int(kind, pk) for kind in (Kind.MESSAGE, Kind.CAMPAIGN) for pk in (1, 2, 1)]
    assert first[0] == first[2] and first[0] != first[3]
    with pytest.raises(ValueError):
        codec.to_int(Kind.MESSAGE, 0)


def test_guessing_integer_ids_rarely_hits_one() -> None:
    codec = IdCodec("secret")
    hits = sum(codec.from_int(Kind.MESSAGE, guess) is not None for guess in range(1, 40_001))
    assert hits < 40  # about 10 expected: one tag in 4,096


@pytest.mark.parametrize("bad", [0, -1, 2**52, 2**63])
def test_out_of_range_integer_ids_decode_to_nothing(bad: int) -> None:
    assert IdCodec("secret").from_int(Kind.MESSAGE, bad) is None


def test_outreach_ids_are_sqids_own_encoding() -> None:
    """The precomputed encoder gives sqids' strings, blocked words included (they go to sqids itself)."""
    c = ids.IdCodec("another install secret")
    pairs = c._pairs
    assert pairs is not None
    rng = random.Random(7)
    keys = list(range(0, 5_000)) + [rng.randrange(1, 1 << 62) for _ in range(5_000)] + [sys.maxsize]
    for kind in (ids.Kind.MESSAGE, ids.Kind.CONTACT, ids.Kind.AUDIO):
        for pk in keys:
            assert c.encode(kind, pk) == c._sqids.encode([int(kind), pk])
    blocked = [pk for pk in range(1, 50_000) if pairs.encode(int(ids.Kind.MESSAGE), pk) is None]
    assert blocked  # a few ids hold a blocked word: sqids encodes them again with another offset
    for pk in blocked:
        assert c.encode(ids.Kind.MESSAGE, pk) == c._sqids.encode([int(ids.Kind.MESSAGE), pk])
    reference = c._sqids._Sqids__is_blocked_id  # type: ignore[attr-defined]
    words = [*pairs.exact, *pairs.ends, *(w for group in pairs.anywhere.values() for w in group)]
    for _ in range(20_000):
        text = "".join(rng.choice(pairs.alphabet) for _ in range(rng.choice([3, 4, 20, 25])))
        if rng.random() < 0.5:
            word, at = rng.choice(words), rng.randrange(len(text))
            text = (text[:at] + word + text[at:])[:max(len(text), len(word))]
        assert pairs.blocked(text) == reference(text), text
