"""Public identifiers: reversible, install-secret encodings of integer primary keys.

Outreach ids are 20 lower-case alphanumerics (sqids with a secret-shuffled alphabet); email-dialect
ids are UUIDs made by encrypting one AES block, so neither reveals the row count.
"""

from __future__ import annotations

import hashlib
import random
import string
import uuid
from enum import IntEnum

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


class IdCodec:
    """Encodes and decodes public ids for one install secret."""

    def __init__(self, secret: str) -> None:
        digest = hashlib.sha256(("tidings-ids:" + secret).encode()).digest()
        alphabet = list(string.ascii_lowercase + string.digits)
        random.Random(digest).shuffle(alphabet)
        self._sqids = Sqids(alphabet="".join(alphabet), min_length=20)
        self._aes = Cipher(algorithms.AES(digest[:16]), modes.ECB())

    def encode(self, kind: Kind, pk: int) -> str:
        return self._sqids.encode([int(kind), pk])

    def decode(self, kind: Kind, public: str) -> int | None:
        if not public or len(public) > 64 or not public.isalnum():
            return None
        numbers = self._sqids.decode(public)
        if len(numbers) != 2 or numbers[0] != int(kind):
            return None
        # Sqids can decode several strings to the same numbers; only the canonical one is valid.
        return numbers[1] if self._sqids.encode(numbers) == public else None

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
