"""Phone normalisation to 360nrs international digits."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType, carrier

from tidings.core import phones
from tidings.core.phones import is_mobile, normalize_phone, phone_country


@pytest.mark.parametrize(
    "raw",
    [
        "+34 666 55 54 44",
        "0034666555444",
        "34666555444",
        "+34666555444",
        " (+34) 666-55-54-44 ",
        "0034 666.55.54.44",
    ],
)
def test_spanish_mobile_forms(raw: str) -> None:
    assert normalize_phone(raw) == "34666555444"


def test_national_number_needs_region() -> None:
    assert normalize_phone("666555444") is None
    assert normalize_phone("666555444", "ES") == "34666555444"
    assert normalize_phone("666 55 54 44", "es") == "34666555444"


def test_region_does_not_block_international_forms() -> None:
    assert normalize_phone("34666555444", "US") == "34666555444"
    assert normalize_phone("0034666555444", "US") == "34666555444"
    assert normalize_phone("+44 7911 123456", "ES") == "447911123456"


def test_uk_national_with_trunk_prefix() -> None:
    assert normalize_phone("07911 123456", "GB") == "447911123456"


def test_us_number() -> None:
    assert normalize_phone("+1 (650) 253-0000") == "16502530000"
    assert normalize_phone("(650) 253-0000", "US") == "16502530000"


@pytest.mark.parametrize(
    "raw", ["", "   ", "34", "+34 666", "abc", "34666ABC444", "+34 666 55 54 44 99 99", "++34666555444"]
)
def test_invalid(raw: str) -> None:
    assert normalize_phone(raw) is None


def test_unknown_region_is_harmless() -> None:
    assert normalize_phone("666555444", "XX") is None
    assert normalize_phone("34666555444", "XX") == "34666555444"


def test_phone_country() -> None:
    assert phone_country("34666555444") == "ES"
    assert phone_country("16502530000") == "US"
    assert phone_country("33612345678") == "FR"
    assert phone_country("573001234567") == "CO"
    assert phone_country("80012345678") is None  # international freephone, no country
    assert phone_country("34") is None
    assert phone_country("+34666555444") is None  # digits only


def test_is_mobile() -> None:
    assert is_mobile("34666555444")
    assert not is_mobile("34915555555")
    assert not is_mobile("123")


def _samples() -> list[str]:
    """Every region's example numbers of every type, and pseudo-random digits after every country code."""
    rng = random.Random(13)
    found: list[str] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.append(phonenumbers.format_number(example, PhoneNumberFormat.E164)[1:])
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        found += [f"{code}{rng.randrange(10 ** rng.randint(0, 14)):0{rng.randint(1, 14)}d}" for _ in range(25)]
    found += ["".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18))) for _ in range(2_000)]
    return found


def test_digits_read_as_phonenumbers_reads_them() -> None:
    # The fast reading of international digits must be the library's own, number for number and in validity.
    for digits in _samples():
        try:
            expected: phonenumbers.PhoneNumber | None = phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            expected = None
        assert phones._parse(digits) == expected, digits
        valid = expected is not None and phonenumbers.is_valid_number(expected)
        assert (phones.parse_international(digits) is not None) == valid, digits
        mobile = valid and phonenumbers.number_type(expected) in {PhoneNumberType.MOBILE,
                                                                  PhoneNumberType.FIXED_LINE_OR_MOBILE}
        assert is_mobile(digits) == mobile, digits
        assert phones.carrier_of(digits) == (carrier.name_for_number(expected, "en") if expected else ""), digits


def test_normalised_forms_of_every_region_are_the_library_s() -> None:
    for digits in _samples()[:3_000]:
        for raw, region in ((f"+{digits}", None), (f"00{digits}", None), (digits, "GB"), (digits[2:], "US")):
            expected = None
            for candidate, default in ([(raw, region)] if raw.startswith("+") else
                                       [*([(raw, region)] if region else []), ("+" + raw.removeprefix("00"), None)]):
                try:
                    number = phonenumbers.parse(candidate, default)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(number):
                    expected = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
                    break
            assert normalize_phone(raw, region) == expected, (raw, region)


def test_number_types_are_the_library_s() -> None:
    # Every region's example number of every type, random digits, and many numbers of the codes several regions
    # share (the region is found by typing the number), typed as phonenumbers types them.
    rng = random.Random(7)
    shared = [code for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items() if len(regions) > 1]
    for digits in [*_samples(), *(f"{code}{rng.randrange(10 ** 10):010d}"[:rng.randint(8, 14)]
                                  for code in shared for _ in range(300))]:
        try:
            number = phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            continue
        assert phones.number_type(number) == phonenumbers.number_type(number), digits
