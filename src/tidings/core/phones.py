"""Phone number normalisation to the 360nrs form: international digits without '+' (e.g. 34666555444)."""

from __future__ import annotations

import functools
import re
from typing import Final

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberFormat,
    PhoneNumberType,
    carrier,
    region_code_for_country_code,
)
from phonenumbers.phonenumberutil import (  # the general parse's own steps, for digits (see _parse)
    _MAX_LENGTH_FOR_NSN,
    _MIN_LENGTH_FOR_NSN,
    ValidationResult,
    _maybe_strip_national_prefix_carrier_code,
    _set_italian_leading_zeros_for_phone_number,
    _test_number_length,
)

# Separators people type; letters are refused so vanity numbers and typos do not become recipients.
_ALLOWED: Final = re.compile(r"\(?\+?[0-9 ()./\-]+")
_MOBILE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_MIN_NSN: Final[int] = _MIN_LENGTH_FOR_NSN
_MAX_NSN: Final[int] = _MAX_LENGTH_FOR_NSN
_MAX_DIGITS: Final = 250  # phonenumbers' longest input (_MAX_INPUT_STRING_LENGTH) less the '+'


# Parsed numbers and their type by international digits: a few MB. normalize_phone (at accept) fills it
# too, so the dispatcher's gates in the same process do not parse a recipient again.
_PARSED: dict[str, tuple[phonenumbers.PhoneNumber, int] | None] = {}
_PARSED_MAX: Final = 20_000
# The types phonenumbers' carrier lookup names a carrier for (carrier._is_mobile).
_CARRIER_TYPES: Final = frozenset({*_MOBILE_TYPES, PhoneNumberType.PAGER})
_UNKNOWN: Final = PhoneNumberType.UNKNOWN
_TOO_SHORT_OR_LOCAL: Final = frozenset({ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
                                        ValidationResult.INVALID_LENGTH})


def parse_international(digits: str) -> phonenumbers.PhoneNumber | None:
    """The parsed number of valid international digits, else None; cached (callers must not modify it).

    The dispatcher's gates (pricing, carrier, country restrictions) each need the parsed number of
    every recipient; parsing and validating once is most of what they cost.
    """
    typed = _typed(digits)
    return None if typed is None else typed[0]


def carrier_of(digits: str) -> str:
    """The carrier phonenumbers names for valid international digits of a mobile line, else ''."""
    typed = _typed(digits)
    if typed is None or typed[1] not in _CARRIER_TYPES:
        return ""
    return str(carrier.name_for_valid_number(typed[0], "en") or "")


def _typed(digits: str) -> tuple[phonenumbers.PhoneNumber, int] | None:
    try:
        return _PARSED[digits]
    except KeyError:
        number = _parse(digits)
        typed = None
        if number is not None:
            kind = phonenumbers.number_type(number)
            typed = None if kind == _UNKNOWN else (number, kind)
        _remember(digits, typed)
        return typed


def _remember(digits: str, typed: tuple[phonenumbers.PhoneNumber, int] | None) -> None:
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[digits] = typed


def _parse(digits: str) -> phonenumbers.PhoneNumber | None:
    """What `phonenumbers.parse("+" + digits)` returns for international digits (None where it raises), unvalidated.

    The general parse spends ~25 µs a number on reading free text (extensions, punctuation, letters); digits
    need only its country-code and national-prefix steps, taken here with its own helpers in its own order.
    Equality with the general parse is a test.
    """
    if not digits.isdigit() or len(digits) > _MAX_DIGITS or digits[0] == "0":
        return None
    for length in (1, 2, 3):
        code = int(digits[:length])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[length:]
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region_code_for_country_code(code))
    if metadata is None or len(national) < _MIN_NSN:
        return None
    _carrier_code, stripped, _ = _maybe_strip_national_prefix_carrier_code(national, metadata)
    if _test_number_length(stripped, metadata) not in _TOO_SHORT_OR_LOCAL:
        national = stripped
    if not _MIN_NSN <= len(national) <= _MAX_NSN:
        return None
    number = phonenumbers.PhoneNumber(country_code=code)
    _set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number


@functools.lru_cache(maxsize=20_000)  # accept and the dispatcher's blacklist gate normalise the same numbers
def normalize_phone(raw: str, default_region: str | None = None) -> str | None:
    """International digits without '+', or None when the number is not valid.

    Accepts "+34 666 55 54 44", "0034666555444" and "34666555444"; with `default_region` (ISO
    alpha-2) a national number such as "666555444" is read in that region first.
    """
    typed = _read(raw, default_region)
    if typed is None:
        return None
    digits = phonenumbers.format_number(typed[0], PhoneNumberFormat.E164).removeprefix("+")
    if digits not in _PARSED:
        _remember(digits, typed)  # a valid number's E.164 digits parse back to the same number
    return digits


def normalize_phone_typed(raw: str, default_region: str | None = None) -> tuple[str, bool] | None:
    """As `normalize_phone`, with whether the number may be a mobile line (one parse for both)."""
    typed = _read(raw, default_region)
    if typed is None:
        return None
    digits = phonenumbers.format_number(typed[0], PhoneNumberFormat.E164).removeprefix("+")
    return digits, typed[1] in _MOBILE_TYPES


def _read(raw: str, default_region: str | None) -> tuple[phonenumbers.PhoneNumber, int] | None:
    """The first valid reading of typed text, with its number type (UNKNOWN is what makes a number invalid)."""
    text = raw.strip()
    if not _ALLOWED.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    if not digits:
        return None
    candidates: list[tuple[str, str | None]] = []
    if text.lstrip("(").startswith("+"):
        candidates.append((digits, None))
    else:
        if default_region:
            candidates.append((digits, default_region.upper()))
        candidates.append((digits[2:] if digits.startswith("00") else digits, None))
    for candidate, region in candidates:
        if region is None:
            number = _parse(candidate)
        else:
            try:
                number = phonenumbers.parse(candidate, region)
            except NumberParseException:
                number = None
        if number is not None:
            kind = phonenumbers.number_type(number)
            if kind != _UNKNOWN:
                return number, kind
    return None


def phone_country(digits: str) -> str | None:
    """ISO alpha-2 region of an international number in digits, or None (invalid or non-geographic)."""
    number = parse_international(digits)
    if number is None:
        return None
    region = phonenumbers.region_code_for_number(number)
    if not region or region in ("001", "ZZ"):
        return None
    return str(region)


def is_mobile(digits: str) -> bool:
    """Whether international digits are a valid number that may be a mobile (SMS-capable) line."""
    typed = _typed(digits)
    return typed is not None and typed[1] in _MOBILE_TYPES
