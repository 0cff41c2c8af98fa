"""Email address normalisation and matching keys, on top of email-validator."""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

# Plain ASCII addresses are by far the common case (an import of 100,000 rows, every recipient of an API
# call) and email-validator costs tens of microseconds each, so an address of this strict shape is
# answered here, as email-validator answers it. Anything else (quoted or international parts, a "--" in
# the domain, which may be Punycode, a special-use top-level domain) goes through email-validator.
_PLAIN = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})")
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test", "internal", "alt", "example"})


def normalize_email(raw: str, *, allow_test_domains: bool = True) -> str | None:
    """The address with its domain lower-cased and the local part kept as given, or None if invalid.

    `allow_test_domains` accepts special-use names such as ".test" (sandbox installs and tests).
    """
    text = raw.strip()
    match = _PLAIN.fullmatch(text)
    if match is not None and len(text) <= 254:
        local, domain = text[:match.start(1) - 1], match.group(1)
        if len(local) <= 64 and "--" not in domain and domain.rpartition(".")[2].lower() not in _SPECIAL_TLDS:
            return f"{local}@{domain.lower()}"
    try:
        result = validate_email(text, check_deliverability=False, test_environment=allow_test_domains)
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
