"""Email verdicts against a real DNS server (dnsmasq) and a real SMTP server (aiosmtpd): no mocks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from tidings.config import Settings
from tidings.messaging.validation.checks import Checker, Verdict

from dns_server import dns_server
from smtp_sink import free_port


@dataclass
class MailHost:
    """A mail server that knows some mailboxes (or all of them, a catch-all) and records every RCPT."""

    mailboxes: set[str] = field(default_factory=set)
    catch_all: bool = False
    temporary: bool = False
    rcpts: list[str] = field(default_factory=list)
    data_calls: int = 0

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        self.rcpts.append(address)
        if self.temporary:
            return "451 4.7.1 greylisted, try later"
        if self.catch_all or address.lower() in self.mailboxes:
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return "550 5.1.1 no such user"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.data_calls += 1
        return "250 queued"


@pytest.fixture(scope="module")
def resolver() -> Iterator[str]:
    with dns_server() as address:
        yield address


@pytest.fixture
def mail_host() -> Iterator[tuple[MailHost, int]]:
    host = MailHost(mailboxes={"ana@good.test", "info@good.test", "bob@amx.test"})
    port = free_port()
    controller = Controller(host, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield host, port
    finally:
        controller.stop()


def _settings(resolver: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {"outbound_allow_private": True, "validation_dns_timeout": 2.0, **extra}
    return Settings(secret_key="k", public_url="http://tidings.test", validation_resolver=resolver, **values)


async def _check(settings: Settings, *addresses: str) -> list[Verdict]:
    checker = Checker(settings)
    try:
        return [await checker.check(a) for a in addresses]
    finally:
        checker.close()


async def test_dns_verdicts(resolver: str) -> None:
    verdicts = await _check(_settings(resolver), "ana@good.test", "not an address", "x@missing.test",
                            "x@nullmx.test", "bob@amx.test", "x@dangling.test", "x@mailinator.com",
                            "Info@good.test", "postmaster+tag@good.test")
    assert verdicts == [
        Verdict("valid"),
        Verdict("invalid", "syntax"),
        Verdict("invalid", "no_domain"),
        Verdict("invalid", "null_mx"),  # RFC 7505: the domain says it takes no mail
        Verdict("valid"),  # no MX: the domain's own A record is its mail host (RFC 5321 5.1)
        Verdict("invalid", "no_mail_host"),
        Verdict("risky", "disposable"),
        Verdict("risky", "role_account"),
        Verdict("risky", "role_account"),
    ]


async def test_private_mail_hosts_are_undeliverable_without_the_operator_allowing_them(
        resolver: str, mail_host: tuple[MailHost, int]) -> None:
    host, port = mail_host
    settings = _settings(resolver, outbound_allow_private=False, validation_smtp_probe=True,
                         validation_smtp_port=port)
    assert await _check(settings, "ana@good.test") == [Verdict("invalid", "mail_host_not_public")]
    assert host.rcpts == [], "the probe never reached a loopback mail host"


async def test_an_unreachable_resolver_is_risky_not_invalid() -> None:
    settings = _settings(f"127.0.0.1:{free_port()}").model_copy(update={"validation_dns_timeout": 0.3})
    assert await _check(settings, "ana@good.test") == [Verdict("risky", "dns_unavailable")]


async def test_smtp_probe_asks_rcpt_without_data(resolver: str, mail_host: tuple[MailHost, int]) -> None:
    host, port = mail_host
    settings = _settings(resolver, validation_smtp_probe=True, validation_smtp_host="127.0.0.1",
                         validation_smtp_port=port)
    verdicts = await _check(settings, "ana@good.test", "ghost@good.test", "bob@amx.test", "x@nullmx.test")
    assert verdicts == [Verdict("valid"), Verdict("invalid", "mailbox_refused"), Verdict("valid"),
                        Verdict("invalid", "null_mx")]
    assert host.data_calls == 0, "a probe never sends a message"
    assert "ana@good.test" in host.rcpts and "ghost@good.test" in host.rcpts
    random_checks = [r for r in host.rcpts if r.startswith("tidings-check-")]
    assert len(random_checks) == 2, "one catch-all test per domain, not per address"


async def test_smtp_probe_catch_all_and_greylisting(resolver: str, mail_host: tuple[MailHost, int]) -> None:
    host, port = mail_host
    settings = _settings(resolver, validation_smtp_probe=True, validation_smtp_host="127.0.0.1",
                         validation_smtp_port=port)
    host.catch_all = True
    assert await _check(settings, "ana@good.test") == [Verdict("risky", "catch_all")]
    host.catch_all, host.temporary = False, True
    assert await _check(settings, "ana@good.test") == [Verdict("risky", "smtp_temporary")]


async def test_a_mute_mail_host_keeps_the_dns_verdict(resolver: str) -> None:
    settings = _settings(resolver, validation_smtp_probe=True, validation_smtp_host="127.0.0.1",
                         validation_smtp_port=free_port(), validation_smtp_timeout=1.0)
    assert await _check(settings, "ana@good.test", "x@mailinator.com") == [Verdict("valid"),
                                                                          Verdict("risky", "disposable")]


async def test_the_probe_never_connects_to_a_private_host_unless_allowed(
        resolver: str, mail_host: tuple[MailHost, int]) -> None:
    host, port = mail_host
    settings = _settings(resolver, validation_smtp_probe=True, validation_smtp_host="127.0.0.1",
                         validation_smtp_port=port, outbound_allow_private=False)
    # The relay named by the operator is loopback; the guard refuses it, so nothing is learnt from SMTP.
    checker = Checker(settings)
    try:
        assert await checker._rcpt("ana@good.test", ["127.0.0.1"]) is None
    finally:
        checker.close()
    assert host.rcpts == []
