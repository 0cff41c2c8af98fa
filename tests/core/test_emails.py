"""Email normalisation and matching keys."""

from __future__ import annotations

import random
import string

import pytest
from email_validator import EmailNotValidError, validate_email

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


def _validator(raw: str, allow_test_domains: bool) -> str | None:
    try:
        return str(validate_email(raw.strip(), check_deliverability=False,
                                  test_environment=allow_test_domains).normalized)
    except EmailNotValidError:
        return None


@pytest.mark.parametrize("raw", [
    "a@ab--cd.com", "a@xn--bcher-kva.de", "a@xn--zz.com", "a@x.COM", "a@x.c", "a@x.123", "a@x.co1",
    "a@-x.com", "a@x-.com", "a..b@x.com", ".a@x.com", "a.@x.com", f"{'a' * 64}@x.com", f"{'a' * 65}@x.com",
    f"a@{'b' * 63}.com", f"a@{'b' * 64}.com", f"{'a' * 60}@{'.'.join(['b' * 60] * 3)}.com",
    f"{'a' * 64}@{'.'.join(['b' * 60] * 3)}.com", "a/b=c?d^e{f}|g~h@x.org", "a@x.Test", "a@mail.example",
    "a@host.ARPA", "a@host.onion", "a@x.com.", "Ab.C@X.Example.COM",
])
@pytest.mark.parametrize("allow_test_domains", [True, False])
def test_plain_addresses_get_email_validators_answer(raw: str, allow_test_domains: bool) -> None:
    # Plain ASCII addresses skip email-validator; they must get the answer it would give.
    assert normalize_email(raw, allow_test_domains=allow_test_domains) == _validator(raw, allow_test_domains)


def test_random_addresses_get_email_validators_answer() -> None:
    rnd = random.Random(11)
    atext = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"

    def text(chars: str, lo: int, hi: int) -> str:
        return "".join(rnd.choice(chars) for _ in range(rnd.randint(lo, hi)))

    for _ in range(5000):
        local = ".".join(text(atext + ".", 1, 25) for _ in range(rnd.randint(1, 3)))
        labels = [text(string.ascii_letters + string.digits + "-", 0, 12) for _ in range(rnd.randint(1, 3))]
        raw = f"{local}@{'.'.join(labels)}.{rnd.choice(['com', 'ORG', 'test', 'x', 'c0m', 'arpa', 'io'])}"
        for allow in (True, False):
            assert normalize_email(raw, allow_test_domains=allow) == _validator(raw, allow), raw
