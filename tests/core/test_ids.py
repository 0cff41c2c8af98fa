"""Public ids: reversible for us, unguessable and non-sequential for everyone else."""

from __future__ import annotations

import hashlib
import hmac
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


def test_integer_ids_never_change_across_releases() -> None:
    """Clients store these ids: the same install secret must always give the same ones."""
    codec = IdCodec("secret")
    assert [codec.to_int(kind, pk) for kind, pk in (
        (Kind.MESSAGE, 1), (Kind.MESSAGE, 2), (Kind.MESSAGE, 123456789), (Kind.MESSAGE, MAX_INT_PK),
        (Kind.SENDING, 1), (Kind.CONTACT, 42))] == [
        209301523529190, 2665862519997836, 872740471905778, 1783429955026921, 3524671009493310, 558460017424424]


def _reference_to_int(secret: str, kind: Kind, pk: int) -> int:
    """The Feistel network over one-shot `hmac.digest`, as the ids were first defined."""
    digest = hashlib.sha256(("tidings-ids:" + secret).encode()).digest()
    key = hashlib.sha256(b"tidings-int-ids:" + digest).digest()

    def prf(rnd: int, half: int) -> int:
        mac = hmac.digest(key, bytes((int(kind), rnd)) + half.to_bytes(4, "big"), "sha256")
        return int.from_bytes(mac[:4], "big") & ((1 << 26) - 1)

    value = (pk << 12) | (prf(255, 0) & 0xFFF)
    left, right = value >> 26, value & ((1 << 26) - 1)
    for rnd in range(4):
        left, right = right, left ^ prf(rnd, right)
    return (left << 26) | right


@given(st.sampled_from(list(Kind)), st.integers(min_value=1, max_value=MAX_INT_PK))
def test_integer_ids_are_the_hmac_feistel_network_they_were_defined_as(kind: Kind, pk: int) -> None:
    codec = IdCodec("another secret")
    public = codec.to_int(kind, pk)
    assert public == _reference_to_int("another secret", kind, pk)
    assert codec.from_int(kind, public) == pk


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
