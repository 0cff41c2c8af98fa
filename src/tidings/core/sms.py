"""SMS text encoding, length and parts for the 360nrs dialect ('gsm', 'gsm-pt', 'utf-16').

Plain GSM 03.38 comes from the `gsm0338` library. GSM-PT (the 3GPP TS 23.038 Portuguese
national language tables, as printed in the 360nrs annex) has no maintained Python codec, so its
basic and extension tables are written here as data. Part splitting is our own because no library
keeps escape pairs and surrogate pairs whole while following the 360nrs limits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

import gsm0338  # noqa: F401  (importing registers the "gsm03.38" codec)

SmsEncoding = Literal["gsm", "gsm-pt", "utf-16"]
ENCODINGS: Final[tuple[SmsEncoding, ...]] = ("gsm", "gsm-pt", "utf-16")

SINGLE_PART_SEPTETS: Final = 160
MULTI_PART_SEPTETS: Final = 153
SINGLE_PART_UCS2: Final = 70
MULTI_PART_UCS2: Final = 67
MAX_PARTS: Final = 15
"""Largest `parts` value 360nrs accepts."""

ESC: Final = "\x1b"

# GSM-PT basic table in code order (0x00..0x7F), column by column as in the annex.
GSM_PT_BASIC: Final[str] = (
    "@£$¥êéúíóç\nÔô\rÁá"
    "Δ_ªÇÀ∞^\\€Ó|\x1bÂâÊÉ"
    " !\"#º%&'()*+,-./"
    "0123456789:;<=>?"
    "ÍABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÃÕÚ\u00dc\u00a7"  # Ü §
    "~abcdefghijklmno"
    "pqrstuvwxyzãõ`üà"
)

# GSM-PT extension table (each entry is sent as ESC + code, two septets). CR2 (0x0D) and SS2 (0x1B)
# are control codes, not characters, so they are absent.
GSM_PT_EXTENDED: Final[dict[str, int]] = {
    "ê": 0x05, "ç": 0x09, "\x0c": 0x0A, "Ô": 0x0B, "ô": 0x0C, "Á": 0x0E, "á": 0x0F,
    "Φ": 0x12, "Γ": 0x13, "^": 0x14, "Ω": 0x15, "Π": 0x16, "Ψ": 0x17, "Σ": 0x18, "Θ": 0x19, "Ê": 0x1F,
    "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E,
    "|": 0x40, "À": 0x41, "Í": 0x49, "Ó": 0x4F, "Ú": 0x55, "Ã": 0x5B, "Õ": 0x5C,
    "Â": 0x61, "€": 0x65, "í": 0x69, "ó": 0x6F, "ú": 0x75, "ã": 0x7B, "õ": 0x7C, "â": 0x7F,
}  # fmt: skip

_PT_BASIC_CODES: Final[dict[str, int]] = {ch: i for i, ch in enumerate(GSM_PT_BASIC) if ch != ESC}

# The `trans=1` table, verbatim from the 360nrs `trans` parameter.
TRANSLATION_TABLE: Final[dict[str, str]] = {
    "á": "a", "í": "i", "ó": "o", "ú": "u", "ç": "Ç",
    "Á": "A", "Í": "I", "Ó": "O", "Ú": "U",
    "À": "A", "È": "E", "Ì": "I", "Ò": "O", "Ù": "U",
    "º": "", "ª": "",
    "Õ": "O", "õ": "o",
    "â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u",
    "Â": "A", "Ê": "E", "Î": "I", "Ô": "O", "Û": "U",
    "ã": "a", "Ã": "A",
}  # fmt: skip
_TRANS: Final = str.maketrans(TRANSLATION_TABLE)

_NUMERIC_SENDER = re.compile(r"[0-9]{1,15}")
_ALNUM_SENDER = re.compile(r"[A-Za-z0-9]{1,11}")


class UnencodableText(ValueError):
    """The text holds a character the chosen encoding cannot represent."""

    def __init__(self, encoding: str, char: str, position: int) -> None:
        super().__init__(f"character {char!r} at position {position} cannot be encoded in {encoding}")
        self.encoding = encoding
        self.char = char
        self.position = position


@dataclass(frozen=True, slots=True)
class SmsLength:
    """Size of a text once encoded: units are septets (gsm, gsm-pt) or UCS-2 code units (utf-16)."""

    encoding: SmsEncoding
    units: int
    parts: int
    per_part_limit: int


def _check_encoding(encoding: str) -> SmsEncoding:
    if encoding == "gsm":
        return "gsm"
    if encoding == "gsm-pt":
        return "gsm-pt"
    if encoding == "utf-16":
        return "utf-16"
    raise ValueError(f"unknown SMS encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")


@lru_cache(maxsize=4096)
def _gsm_cost(ch: str) -> int:
    if ch == ESC:
        return 0
    try:
        return len(ch.encode("gsm03.38"))
    except UnicodeEncodeError:
        return 0


def _gsm_pt_cost(ch: str) -> int:
    if ch in _PT_BASIC_CODES:
        return 1
    return 2 if ch in GSM_PT_EXTENDED else 0


def _utf16_cost(ch: str) -> int:
    if 0xD800 <= ord(ch) <= 0xDFFF:
        return 0  # a lone surrogate has no UTF-16 encoding
    return 2 if ord(ch) > 0xFFFF else 1


def char_units(ch: str, encoding: str) -> int:
    """Units one character takes in `encoding` (1 or 2), or 0 when it cannot be represented."""
    enc = _check_encoding(encoding)
    if enc == "gsm":
        return _gsm_cost(ch)
    if enc == "gsm-pt":
        return _gsm_pt_cost(ch)
    return _utf16_cost(ch)


# A bulk send has one text for thousands of recipients: accept, the gates, the preparer and the SMPP
# encoder each measure it, character by character, for every message.
@lru_cache(maxsize=2048)
def _costs(text: str, encoding: str) -> tuple[int, ...]:
    enc = _check_encoding(encoding)
    costs = tuple(char_units(ch, enc) for ch in text)
    for i, cost in enumerate(costs):
        if cost == 0:
            raise UnencodableText(enc, text[i], i)
    return costs


def _limits(encoding: SmsEncoding) -> tuple[int, int]:
    if encoding == "utf-16":
        return SINGLE_PART_UCS2, MULTI_PART_UCS2
    return SINGLE_PART_SEPTETS, MULTI_PART_SEPTETS


@lru_cache(maxsize=2048)
def fits(text: str, encoding: str) -> bool:
    """Whether every character of `text` is representable in `encoding`."""
    enc = _check_encoding(encoding)
    return all(char_units(ch, enc) for ch in text)


def detect_encoding(text: str) -> SmsEncoding:
    """'gsm' when the text is representable in GSM 03.38, else 'utf-16'."""
    return "gsm" if fits(text, "gsm") else "utf-16"


def _split_indices(costs: tuple[int, ...], limit: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start, used = 0, 0
    for i, cost in enumerate(costs):
        if used + cost > limit:
            spans.append((start, i))
            start, used = i, 0
        used += cost
    spans.append((start, len(costs)))
    return spans


def split_parts(text: str, encoding: str) -> list[str]:
    """Split text into SMS parts; an escape pair or surrogate pair is never cut. Empty text has no parts.

    Raises UnencodableText when a character is not representable in `encoding`.
    """
    enc = _check_encoding(encoding)
    costs = _costs(text, enc)
    if not text:
        return []
    single, multi = _limits(enc)
    if sum(costs) <= single:
        return [text]
    return [text[a:b] for a, b in _split_indices(costs, multi)]


def count_parts(text: str, encoding: str) -> SmsLength:
    """Units and number of parts the text needs; raises UnencodableText when not representable."""
    enc = _check_encoding(encoding)
    costs = _costs(text, enc)
    units = sum(costs)
    single, multi = _limits(enc)
    if units <= single:
        return SmsLength(enc, units, 1 if units else 0, single)
    return SmsLength(enc, units, len(_split_indices(costs, multi)), multi)


def min_parts(units: int, encoding: str) -> int:
    """Lower bound on parts for `units` units, ignoring pairs that may not be split."""
    single, multi = _limits(_check_encoding(encoding))
    if units <= single:
        return 1 if units else 0
    return math.ceil(units / multi)


@lru_cache(maxsize=2048)  # as `_costs`: one text for a bulk send's every message, encoded once
def encode(text: str, encoding: str) -> bytes:
    """Unpacked septets (one a byte, extensions ESC-prefixed) for gsm and gsm-pt; UTF-16BE for utf-16."""
    enc = _check_encoding(encoding)
    _costs(text, enc)
    if enc == "gsm":
        return text.encode("gsm03.38")
    if enc == "utf-16":
        return text.encode("utf-16-be")
    out = bytearray()
    for ch in text:
        code = _PT_BASIC_CODES.get(ch)
        if code is None:
            out += bytes((0x1B, GSM_PT_EXTENDED[ch]))
        else:
            out.append(code)
    return bytes(out)


def translate(text: str) -> str:
    """Apply the 360nrs `trans=1` table, replacing common non-GSM accented letters."""
    return text.translate(_TRANS)


def validate_sender(sender: str) -> bool:
    """360nrs `from`: at most 15 digits, or at most 11 ASCII letters and digits."""
    return bool(_NUMERIC_SENDER.fullmatch(sender) or _ALNUM_SENDER.fullmatch(sender))
