"""Email address normalisation and matching keys, on top of email-validator."""

from __future__ import annotations

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email


def normalize_email(raw: str, *, allow_test_domains: bool = True) -> str | None:
    """The address with its domain lower-cased and the local part kept as given, or None if invalid.

    `allow_test_domains` accepts special-use names such as ".test" (sandbox installs and tests).
    """
    try:
        result = validate_email(raw.strip(), check_deliverability=False, test_environment=allow_test_domains)
    except EmailNotValidError:
        return None
    return str(result.normalized)


def email_key(addr: str) -> str:
    """Case-insensitive key for matching and de-duplication (suppressions, contacts, threads)."""
    normalized = normalize_email(addr, allow_test_domains=True)
    return (normalized if normalized is not None else addr.strip()).lower()


@lru_cache(maxsize=1024)
def email_domain(addr: str) -> str:
    """Lower-case domain of an address; raises ValueError when there is no '@'.

    Cached: the engine asks it for the same few sender addresses on every message.
    """
    normalized = normalize_email(addr, allow_test_domains=True)
    text = normalized if normalized is not None else addr.strip()
    local, sep, domain = text.rpartition("@")
    if not sep or not local or not domain:
        raise ValueError(f"not an email address: {addr!r}")
    return domain.lower()
