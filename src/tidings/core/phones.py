"""Phone number normalisation to the 360nrs form: international digits without '+' (e.g. 34666555444).

phonenumbers decides everything here; two of its steps are re-run with its own data and helpers for speed (every
SMS accepted reads its recipient): the parse of bare digits (`_parse`) and number typing (`number_type`), each
tested equal to the library's over every region.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

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
    national_significant_number,
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


# A number description as the type checks use it: the national lengths it allows (None: any) and its pattern.
_Desc = tuple[frozenset[int] | None, re.Pattern[str]] | None
# The checks of number_type in its order: the general description, the types tried first, fixed line, mobile,
# whether those two share a pattern, and by national length the types tried first as one pattern (`_first_type`).
_Checks = tuple[_Desc, tuple[tuple[_Desc, int], ...], _Desc, _Desc, bool,
                dict[int, tuple[re.Pattern[str], tuple[int, ...]] | None]]
_FIRST_TYPES: Final = (("premium_rate", PhoneNumberType.PREMIUM_RATE), ("toll_free", PhoneNumberType.TOLL_FREE),
                       ("shared_cost", PhoneNumberType.SHARED_COST), ("voip", PhoneNumberType.VOIP),
                       ("personal_number", PhoneNumberType.PERSONAL_NUMBER), ("pager", PhoneNumberType.PAGER),
                       ("uan", PhoneNumberType.UAN), ("voicemail", PhoneNumberType.VOICEMAIL))
_CHECKS: dict[int, tuple[PhoneMetadata, _Checks]] = {}  # by the metadata's id (kept alive beside its checks)


def _desc(desc: Any) -> _Desc:
    if desc is None or not desc.national_number_pattern:
        return None
    return (frozenset(desc.possible_length) or None), re.compile(desc.national_number_pattern)


def _checks(metadata: PhoneMetadata) -> _Checks:
    found = _CHECKS.get(id(metadata))
    if found is None:
        found = _CHECKS[id(metadata)] = (metadata, (
            _desc(metadata.general_desc), tuple((_desc(getattr(metadata, name)), kind) for name, kind in _FIRST_TYPES),
            _desc(metadata.fixed_line), _desc(metadata.mobile), bool(metadata.same_mobile_and_fixed_line_pattern),
            {}))
    return found[1]


def _matches(national: str, desc: _Desc) -> bool:
    return desc is not None and (desc[0] is None or len(national) in desc[0]) and \
        desc[1].fullmatch(national) is not None


def _first_type(national: str, first: tuple[tuple[_Desc, int], ...],
                by_length: dict[int, tuple[re.Pattern[str], tuple[int, ...]] | None]) -> int | None:
    """The first of the types tried first that matches, in their order: one pattern alternating those that allow
    the number's length, each its own named group (a full match takes the first alternative that matches whole),
    instead of a match a type (eight, most of a mobile's typing)."""
    length = len(national)
    if length not in by_length:
        kinds = [(desc[1].pattern, kind) for desc, kind in first
                 if desc is not None and (desc[0] is None or length in desc[0])]
        by_length[length] = (re.compile("|".join(f"(?P<t{i}>{pattern})" for i, (pattern, _) in enumerate(kinds))),
                             tuple(kind for _, kind in kinds)) if kinds else None
    combined = by_length[length]
    if combined is None:
        return None
    found = combined[0].fullmatch(national)
    if found is None:
        return None
    return next(kind for i, kind in enumerate(combined[1]) if found.group(f"t{i}") is not None)


def _type_in(national: str, metadata: PhoneMetadata) -> int:
    """phonenumbers' _number_type_helper with the patterns compiled once (it compiles them at every call)."""
    general, first, fixed, mobile, same, by_length = _checks(metadata)
    if not _matches(national, general):
        return _UNKNOWN
    kind = _first_type(national, first, by_length)
    if kind is not None:
        return kind
    if _matches(national, fixed):
        return PhoneNumberType.FIXED_LINE_OR_MOBILE if same or _matches(national, mobile) else \
            PhoneNumberType.FIXED_LINE
    return PhoneNumberType.MOBILE if not same and _matches(national, mobile) else _UNKNOWN


def number_type(number: phonenumbers.PhoneNumber) -> int:
    """What `phonenumbers.number_type` returns (UNKNOWN for an invalid number), two to three times faster: it was
    most of what accepting an SMS spent on its recipient (equality is a test over every region's examples)."""
    code = number.country_code
    if code is None:
        return _UNKNOWN
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code)
    national = national_significant_number(number)
    region = "ZZ"  # what metadata_for_region_or_calling_code is given for an unknown region (it reads the code)
    if regions is not None and len(regions) == 1:
        region = regions[0]
    elif regions is not None:
        # region_code_for_number for a code several regions share (+1, +7, +44 ...), with the same checks.
        for candidate in regions:
            metadata = PhoneMetadata.metadata_for_region(candidate.upper(), None)
            if metadata is None:
                continue
            if metadata.leading_digits is not None:
                if re.match(metadata.leading_digits, national):
                    region = candidate
                    break
            elif _type_in(national, metadata) != _UNKNOWN:
                region = candidate
                break
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    return _UNKNOWN if metadata is None else _type_in(national, metadata)


def _typed(digits: str) -> tuple[phonenumbers.PhoneNumber, int] | None:
    try:
        return _PARSED[digits]
    except KeyError:
        number = _parse(digits)
        typed = None
        if number is not None:
            kind = number_type(number)
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
            kind = number_type(number)
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
