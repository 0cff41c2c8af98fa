"""Phone normalisation to 360nrs international digits."""

from __future__ import annotations

import pytest

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
