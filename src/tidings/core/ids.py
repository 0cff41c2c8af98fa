"""Public identifiers: reversible, install-secret encodings of integer primary keys.

Outreach ids are 20 lower-case alphanumerics (sqids with a secret-shuffled alphabet); email-dialect
ids are UUIDs made by encrypting one AES block; the messaging dialect's integer ids are a keyed
52-bit permutation (a Feistel network over HMAC-SHA256) of the key and a per-kind tag, so none of
them reveals the row count or the order of creation, and integers stay exact in JavaScript.
"""

from __future__ import annotations

import hashlib
import random
import string
import sys
import uuid
from enum import IntEnum
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqids import Sqids


class Kind(IntEnum):
    """What a public id points at; mixing it into the id keeps one kind from decoding as another."""

    ACCOUNT = 1
    CLIENT = 2
    CAMPAIGN = 3
    CONTACT = 4
    ENROLLMENT = 5
    MAILBOX = 6
    MESSAGE = 7
    THREAD = 8
    SENDING = 9
    USER = 10
    INVITATION = 11
    SUPPRESSION = 12
    TEMPLATE = 13
    BATCH = 14
    FLOW = 15
    REPLY = 16
    JOB = 17
    SENDER = 18
    GROUP = 19
    VALIDATION = 20
    FORM = 21
    IMAGE = 22
    CALLER = 23
    WHATSAPP_TEMPLATE = 24
    WHATSAPP_SENDER = 25
    ATTACHMENT = 26
    LANDING = 27
    AUDIO = 28


_INT_BITS = 52  # below 2**53: exact in JavaScript numbers and JSON parsers that read doubles
_TAG_BITS = 12  # a wrong guess decodes to a valid id of the kind once in 4,096 tries at most
_HALF = _INT_BITS // 2
_HALF_MASK = (1 << _HALF) - 1
_ROUNDS = 4
MAX_INT_PK = (1 << (_INT_BITS - _TAG_BITS)) - 1


_INTS_KEPT = 20_000  # about 4 MB


class _PairEncoder:
    """Sqids' encoding of [kind, pk] with its alphabets worked out once per offset: the same strings.

    Sqids shuffles its alphabet up to five times an id and scans its blocklist word by word, in Python
    (most of the CPU of a cold email's unsubscribe link); for two numbers the shuffles depend only on a
    36-way offset, and the blocklist is looked up by three-letter windows. A blocked result, or a sqids
    without the internals this reads, goes to sqids itself; tests compare both on many ids.
    """

    def __init__(self, sqids: Sqids) -> None:
        shuffle = sqids._Sqids__shuffle  # type: ignore[attr-defined]
        alphabet: str = sqids._Sqids__alphabet  # type: ignore[attr-defined]
        self.min_length: int = sqids._Sqids__min_length  # type: ignore[attr-defined]
        self.exact: frozenset[str] = frozenset(sqids._Sqids__blocklist_exact_match)  # type: ignore[attr-defined]
        self.ends: frozenset[str] = frozenset(sqids._Sqids__blocklist_match_at_ends)  # type: ignore[attr-defined]
        self.end_lengths = sorted({len(word) for word in self.ends})
        anywhere: dict[str, list[str]] = {}
        for word in sqids._Sqids__blocklist_match_anywhere:  # type: ignore[attr-defined]
            anywhere.setdefault(word[:3], []).append(word)  # sqids keeps words of three letters or more
        self.anywhere = {window: tuple(words) for window, words in anywhere.items()}
        self.alphabet = alphabet
        self.offsets: list[tuple[str, str, str, str, str]] = []
        for offset in range(len(alphabet)):
            turned = (alphabet[offset:] + alphabet[:offset])[::-1]
            after = shuffle(turned)
            padding = after[0]
            shuffled = after
            while len(padding) < self.min_length:
                shuffled = shuffle(shuffled)
                padding += shuffled
            # prefix, the first number's digits, the separator, the second number's digits, the padding
            self.offsets.append((alphabet[offset], turned[1:], turned[0], after[1:], padding))

    def blocked(self, public: str) -> bool:
        """Sqids' blocklist rule: a three-letter id matched whole, words at either end, others anywhere."""
        public = public.lower()
        if len(public) == 3:
            return public in self.exact
        for length in self.end_lengths:
            if public[:length] in self.ends or public[-length:] in self.ends:
                return True
        for at in range(len(public) - 2):
            words = self.anywhere.get(public[at:at + 3])
            if words is not None and any(public.startswith(word, at) for word in words):
                return True
        return False

    @staticmethod
    def _digits(number: int, digits: str) -> str:
        base, out = len(digits), ""
        while True:
            out = digits[number % base] + out
            number //= base
            if not number:
                return out

    def encode(self, first: int, second: int) -> str | None:
        alphabet = self.alphabet
        size = len(alphabet)
        offset = (ord(alphabet[first % size]) + ord(alphabet[second % size]) + 3) % size
        prefix, digits1, separator, digits2, padding = self.offsets[offset]
        public = prefix + self._digits(first, digits1) + separator + self._digits(second, digits2)
        if len(public) < self.min_length:
            public += padding[:self.min_length - len(public)]
        return None if self.blocked(public) else public


class IdCodec:
    """Encodes and decodes public ids for one install secret."""

    def __init__(self, secret: str) -> None:
        digest = hashlib.sha256(("tidings-ids:" + secret).encode()).digest()
        alphabet = list(string.ascii_lowercase + string.digits)
        random.Random(digest).shuffle(alphabet)
        self._sqids = Sqids(alphabet="".join(alphabet), min_length=20)
        try:
            self._pairs: _PairEncoder | None = _PairEncoder(self._sqids)
        except AttributeError:  # another sqids release: its own encode is right, only slower
            self._pairs = None
        self._aes = Cipher(algorithms.AES(digest[:16]), modes.ECB())
        self._int_key = hashlib.sha256(b"tidings-int-ids:" + digest).digest()
        # HMAC-SHA256 (RFC 2104) from keyed states worked out once: `hmac.digest` sets the key up again at every
        # call, and a fresh id (each accepted SMS's, in the answer) took 14 µs of its four rounds, 6.6 from these.
        block = self._int_key.ljust(hashlib.sha256().block_size, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self._kind_states: dict[int, tuple[Any, ...]] = {}
        self._tags: dict[int, int] = {}  # constant per kind; the hot path encodes thousands of ids a second
        # Integer ids already worked out: a message's id goes into each of its notifications, and every
        # notification of a sending carries the same campaign and sending ids (four HMACs each).
        self._ints: dict[tuple[int, int], int] = {}

    def encode(self, kind: Kind, pk: int) -> str:
        if self._pairs is not None and 0 <= pk <= sys.maxsize:
            public = self._pairs.encode(int(kind), pk)
            if public is not None:
                return public
        return self._sqids.encode([int(kind), pk])

    def decode(self, kind: Kind, public: str) -> int | None:
        if not public or len(public) > 64 or not public.isalnum():
            return None
        numbers = self._sqids.decode(public)
        if len(numbers) != 2 or numbers[0] != int(kind):
            return None
        # Sqids can decode several strings to the same numbers; only the canonical one is valid.
        return numbers[1] if self._sqids.encode(numbers) == public else None

    def to_int(self, kind: Kind, pk: int) -> int:
        """The messaging dialect's integer id of a row: non-sequential, 1 to 2**52 - 1."""
        k = int(kind)  # an enum member hashes in Python, its int in C: the keys below are ints
        found = self._ints.get((k, pk))
        if found is not None:
            return found
        if not 0 < pk <= MAX_INT_PK:
            raise ValueError("primary key out of range for an integer public id")
        states = self._states(k)
        value = (pk << _TAG_BITS) | self._tag(k)
        left, right = value >> _HALF, value & _HALF_MASK
        for state in states[:_ROUNDS]:
            left, right = right, left ^ self._prf(state, right)
        if len(self._ints) >= _INTS_KEPT:
            self._ints.clear()
        found = self._ints[(k, pk)] = (left << _HALF) | right
        return found

    def from_int(self, kind: Kind, public: int) -> int | None:
        """The primary key behind an integer id, or None when it is not one of ours of this kind."""
        if not 0 < public < (1 << _INT_BITS):
            return None
        k = int(kind)
        left, right = public >> _HALF, public & _HALF_MASK
        for state in reversed(self._states(k)[:_ROUNDS]):
            left, right = right ^ self._prf(state, left), left
        value = (left << _HALF) | right
        if value & ((1 << _TAG_BITS) - 1) != self._tag(k):
            return None
        return (value >> _TAG_BITS) or None

    def _tag(self, k: int) -> int:
        tag = self._tags.get(k)
        if tag is None:
            tag = self._tags[k] = self._prf(self._states(k)[_ROUNDS], 0) & ((1 << _TAG_BITS) - 1)
        return tag

    def _states(self, k: int) -> tuple[Any, ...]:
        """A kind's inner HMAC states with (kind, round) fed: its rounds', then its tag's (round 255)."""
        states = self._kind_states.get(k)
        if states is None:
            fed = []
            for rnd in (*range(_ROUNDS), 255):
                state = self._inner.copy()
                state.update(bytes((k, rnd)))
                fed.append(state)
            states = self._kind_states[k] = tuple(fed)
        return states

    def _prf(self, state: Any, half: int) -> int:
        """The first 26 bits of HMAC-SHA256(key, kind, round, half), as `hmac.digest` gives them."""
        inner = state.copy()
        inner.update(half.to_bytes(4, "big"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return int.from_bytes(outer.digest()[:4], "big") & _HALF_MASK

    def to_uuid(self, kind: Kind, pk: int) -> str:
        block = int(kind).to_bytes(4, "big") + pk.to_bytes(8, "big") + b"TDNG"
        enc = self._aes.encryptor()
        return str(uuid.UUID(bytes=enc.update(block) + enc.finalize()))

    def from_uuid(self, kind: Kind, public: str) -> int | None:
        try:
            raw = uuid.UUID(public).bytes
        except (ValueError, AttributeError, TypeError):
            return None
        dec = self._aes.decryptor()
        block = dec.update(raw) + dec.finalize()
        if block[12:] != b"TDNG" or int.from_bytes(block[:4], "big") != int(kind):
            return None
        return int.from_bytes(block[4:12], "big")


_codec: IdCodec | None = None


def configure(secret: str) -> None:
    """Set the install secret that public ids derive from."""
    global _codec
    _codec = IdCodec(secret)


def codec() -> IdCodec:
    if _codec is None:
        raise RuntimeError("ids.configure() was not called")
    return _codec


def encode(kind: Kind, pk: int) -> str:
    return codec().encode(kind, pk)


def decode(kind: Kind, public: str) -> int | None:
    return codec().decode(kind, public)


def to_int(kind: Kind, pk: int) -> int:
    return codec().to_int(kind, pk)


def from_int(kind: Kind, public: int | str) -> int | None:
    """Accepts the integer or its decimal text (a path segment); anything else is None."""
    if isinstance(public, str):
        if not (public.isascii() and public.isdigit()) or len(public) > 20:
            return None
        public = int(public)
    return codec().from_int(kind, public)
