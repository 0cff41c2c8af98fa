"""Email normalisation and matching keys."""

from __future__ import annotations

import pytest

from tidings.core.emails import email_domain, email_key, normalize_email


def test_domain_lower_cased_local_part_kept() -> None:
    assert normalize_email("Foo.Bar@ExAmple.COM") == "Foo.Bar@example.com"
    assert normalize_email("  someone@Example.org\n") == "someone@example.org"


def test_internationalised_domain() -> None:
    assert normalize_email("x@Bücher.DE") == "x@bücher.de"
    assert normalize_email("x@xn--bcher-kva.de") == "x@bücher.de"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plainaddress",
        "@example.com",
        "a@",
        "a@b",
        "a b@example.com",
        "a@@example.com",
        "John <j@example.com>",
    ],
)
def test_invalid(raw: str) -> None:
    assert normalize_email(raw) is None


def test_special_use_test_domains() -> None:
    assert normalize_email("a@Example.TEST") == "a@example.test"
    assert normalize_email("a@example.test", allow_test_domains=False) is None
    assert normalize_email("a@host.localhost") is None
    assert normalize_email("a@host.invalid") is None


def test_email_key_matches_case_insensitively() -> None:
    assert email_key("Foo.Bar@ExAmple.COM") == email_key("foo.bar@example.com") == "foo.bar@example.com"
    assert email_key("x@xn--bcher-kva.de") == email_key("X@BÜCHER.de")


def test_email_key_of_garbage_is_still_a_key() -> None:
    assert email_key("  Not An Address ") == "not an address"


def test_email_domain() -> None:
    assert email_domain("Foo@Example.COM") == "example.com"
    assert email_domain("weird@Host") == "host"
    with pytest.raises(ValueError):
        email_domain("no-at-sign")
