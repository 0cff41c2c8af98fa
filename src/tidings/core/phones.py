"""Phone number normalisation to the 360nrs form: international digits without '+' (e.g. 34666555444)."""

from __future__ import annotations

import functools
import re
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

# Separators people type; letters are refused so vanity numbers and typos do not become recipients.
_ALLOWED: Final = re.compile(r"\(?\+?[0-9 ()./\-]+")
_MOBILE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


# Parsed numbers by international digits: a few MB. normalize_phone (at accept) fills it too, so the
# dispatcher's gates in the same process do not parse a recipient again.
_PARSED: dict[str, phonenumbers.PhoneNumber | None] = {}
_PARSED_MAX: Final = 20_000


def parse_international(digits: str) -> phonenumbers.PhoneNumber | None:
    """The parsed number of valid international digits, else None; cached (callers must not modify it).

    The dispatcher's gates (pricing, carrier, country restrictions) each need the parsed number of
    every recipient; parsing and validating once is most of what they cost.
    """
    try:
        return _PARSED[digits]
    except KeyError:
        number = _parse(digits)
        _remember(digits, number)
        return number


def _remember(digits: str, number: phonenumbers.PhoneNumber | None) -> None:
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[digits] = number


def _parse(digits: str) -> phonenumbers.PhoneNumber | None:
    if not digits.isdigit():
        return None
    try:
        number = phonenumbers.parse("+" + digits, None)
    except NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


@functools.lru_cache(maxsize=20_000)  # accept and the dispatcher's blacklist gate normalise the same numbers
def normalize_phone(raw: str, default_region: str | None = None) -> str | None:
    """International digits without '+', or None when the number is not valid.

    Accepts "+34 666 55 54 44", "0034666555444" and "34666555444"; with `default_region` (ISO
    alpha-2) a national number such as "666555444" is read in that region first.
    """
    number = _read(raw, default_region)
    if number is None:
        return None
    digits = phonenumbers.format_number(number, PhoneNumberFormat.E164).removeprefix("+")
    if digits not in _PARSED:
        _remember(digits, number)  # a valid number's E.164 digits parse back to the same number
    return digits


def normalize_phone_typed(raw: str, default_region: str | None = None) -> tuple[str, bool] | None:
    """As `normalize_phone`, with whether the number may be a mobile line (one parse for both)."""
    number = _read(raw, default_region)
    if number is None:
        return None
    digits = phonenumbers.format_number(number, PhoneNumberFormat.E164).removeprefix("+")
    return digits, phonenumbers.number_type(number) in _MOBILE_TYPES


def _read(raw: str, default_region: str | None) -> phonenumbers.PhoneNumber | None:
    text = raw.strip()
    if not _ALLOWED.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    if not digits:
        return None
    candidates: list[tuple[str, str | None]] = []
    if text.lstrip("(").startswith("+"):
        candidates.append(("+" + digits, None))
    else:
        if default_region:
            candidates.append((digits, default_region.upper()))
        candidates.append(("+" + (digits[2:] if digits.startswith("00") else digits), None))
    for candidate, region in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
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
    number = _parse(digits)
    return number is not None and phonenumbers.number_type(number) in _MOBILE_TYPES
