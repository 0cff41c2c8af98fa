"""The checks behind an email verdict: syntax, DNS (MX, else A/AAAA, null MX), disposable, role, SMTP probe.

Syntax is email-validator's, the disposable list is the `disposable-email-domains` package, DNS is
dnspython's async resolver (pointed at TIDINGS_VALIDATION_RESOLVER when set) and the probe is
aiosmtplib: EHLO, MAIL FROM, RCPT TO, then RCPT TO a random local part of the same domain (a server
that accepts both is a catch-all), and QUIT without DATA. One `Checker` serves one job: it caches
each domain's DNS answer and catch-all test, so a list full of gmail.com asks once.

The outbound address guard applies to the mail hosts: unless TIDINGS_OUTBOUND_ALLOW_PRIVATE is on,
a domain whose mail hosts resolve only to private, loopback or link-local addresses cannot receive
mail from the internet (undeliverable), and the probe never connects to such an address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import aiosmtplib
import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
import structlog
from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS

from tidings.config import Settings
from tidings.core.emails import normalize_email
from tidings.messaging import netguard

log = structlog.get_logger("tidings.validation")

VALID: Final = "valid"
RISKY: Final = "risky"
INVALID: Final = "invalid"

# Local parts that reach a team or a robot, not a person (RFC 2142 and common practice).
ROLE_ACCOUNTS: Final = frozenset({
    "abuse", "admin", "administrator", "billing", "compliance", "contact", "contactus", "customerservice",
    "devnull", "dns", "enquiries", "feedback", "ftp", "help", "helpdesk", "hostmaster", "hr", "info",
    "inquiries", "it", "jobs", "legal", "list", "mail", "mailer-daemon", "marketing", "media", "news",
    "newsletter", "no-reply", "noc", "noreply", "office", "postmaster", "press", "privacy", "remove", "root",
    "sales", "security", "service", "spam", "support", "sysadmin", "team", "tech", "unsubscribe", "usenet",
    "uucp", "webmaster", "www",
})


@dataclass(frozen=True)
class Verdict:
    """valid / risky / invalid, and why (empty when valid)."""

    result: str
    reason: str = ""


@dataclass(frozen=True)
class DomainAnswer:
    """What DNS says about a domain's mail: a verdict when it settles the question, else the hosts' addresses."""

    verdict: Verdict | None
    addresses: tuple[str, ...] = ()


def parse_servers(text: str) -> list[dns.nameserver.Nameserver]:
    """`ip[:port],ip[:port]` (IPv6 as [addr]:port) as dnspython nameservers; ValueError for anything else."""
    servers: list[dns.nameserver.Nameserver] = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        parts = urlsplit("//" + raw)
        try:
            host, port = str(ipaddress.ip_address(parts.hostname or raw)), parts.port or 53
        except ValueError:
            raise ValueError(f"TIDINGS_VALIDATION_RESOLVER: {raw!r} is not an IP address[:port]") from None
        servers.append(dns.nameserver.Do53Nameserver(host, port))
    return servers


def resolver_for(settings: Settings) -> dns.asyncresolver.Resolver:
    """The resolver of the settings: TIDINGS_VALIDATION_RESOLVER's servers, else the system's."""
    servers = parse_servers(settings.validation_resolver)
    resolver = dns.asyncresolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = servers
    resolver.lifetime = settings.validation_dns_timeout
    resolver.timeout = settings.validation_dns_timeout
    # A validation asks about the same few domains again and again (within one job and across jobs).
    resolver.cache = dns.resolver.LRUCache(10_000)
    return resolver


def static_verdict(address: str) -> tuple[Verdict | None, str, str]:
    """(a verdict when syntax alone settles it, local part, domain) without any network."""
    normalized = normalize_email(address, allow_test_domains=True)
    if normalized is None:
        return Verdict(INVALID, "syntax"), "", ""
    local, _, domain = normalized.rpartition("@")
    return None, local, domain.lower()


class Checker:
    """Checks the addresses of one job, caching each domain's DNS answer and catch-all test."""

    def __init__(self, settings: Settings, resolver: dns.asyncresolver.Resolver | None = None) -> None:
        self.settings = settings
        self.resolver = resolver or resolver_for(settings)
        self.allow_private = settings.outbound_allow_private
        self._domains: dict[str, asyncio.Task[DomainAnswer]] = {}
        self._catch_all: dict[str, asyncio.Task[bool | None]] = {}
        self.helo = settings.validation_smtp_helo or urlsplit(settings.public_url).hostname or "localhost"

    async def check(self, address: str) -> Verdict:
        """The verdict on one address; never raises for anything the address or the network does."""
        verdict, local, domain = static_verdict(address)
        if verdict is not None:
            return verdict
        answer = await self._domain(domain)
        if answer.verdict is not None and answer.verdict.result == INVALID:
            return answer.verdict
        if self.settings.validation_smtp_probe and answer.verdict is None:
            probed = await self._probe(f"{local}@{domain}", domain, answer.addresses)
            if probed is not None:
                return probed
        if answer.verdict is not None:
            return answer.verdict
        if domain in DISPOSABLE_DOMAINS:
            return Verdict(RISKY, "disposable")
        if local.lower().split("+", 1)[0] in ROLE_ACCOUNTS:
            return Verdict(RISKY, "role_account")
        return Verdict(VALID)

    def _domain(self, domain: str) -> asyncio.Task[DomainAnswer]:
        task = self._domains.get(domain)
        if task is None:
            task = self._domains[domain] = asyncio.ensure_future(self._lookup(domain))
        return task

    async def _lookup(self, domain: str) -> DomainAnswer:
        """MX (RFC 5321 5.1: else the domain's own A/AAAA), a null MX (RFC 7505), then the hosts' addresses."""
        try:
            mx = await self.resolver.resolve(domain, "MX", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return DomainAnswer(Verdict(INVALID, "no_domain"))
        except (dns.exception.DNSException, OSError) as exc:
            log.info("validation dns failure", domain=domain, error=type(exc).__name__)
            return DomainAnswer(Verdict(RISKY, "dns_unavailable"))
        records = sorted(((r.preference, r.exchange) for r in mx.rrset or ()), key=lambda item: item[0])
        if records and all(exchange == dns.name.root for _, exchange in records):
            return DomainAnswer(Verdict(INVALID, "null_mx"))
        hosts = [exchange.to_text(omit_final_dot=True) for _, exchange in records if exchange != dns.name.root]
        if not hosts:
            hosts = [domain]
        addresses: list[str] = []
        unavailable = False
        for host in hosts:
            found, failed = await self._addresses(host)
            addresses.extend(a for a in found if a not in addresses)
            unavailable = unavailable or failed
        if not addresses:
            if unavailable:
                return DomainAnswer(Verdict(RISKY, "dns_unavailable"))
            return DomainAnswer(Verdict(INVALID, "no_mail_host"))
        if not self.allow_private:
            addresses = [a for a in addresses if netguard.is_public_address(a)]
            if not addresses:
                return DomainAnswer(Verdict(INVALID, "mail_host_not_public"))
        return DomainAnswer(None, tuple(addresses))

    async def _addresses(self, host: str) -> tuple[list[str], bool]:
        """(A and AAAA addresses of a host, whether a lookup failed for a reason other than 'none')."""
        answers = await asyncio.gather(*(self.resolver.resolve(host, rdtype, raise_on_no_answer=False)
                                         for rdtype in ("A", "AAAA")), return_exceptions=True)
        found: list[str] = []
        failed = False
        for answer in answers:
            if isinstance(answer, dns.resolver.NXDOMAIN):
                continue
            if isinstance(answer, (dns.exception.DNSException, OSError)):
                failed = True
            elif isinstance(answer, BaseException):
                raise answer
            else:
                found.extend(r.to_text() for r in answer.rrset or ())
        return found, failed

    # --- SMTP probe ------------------------------------------------------------------------------------

    def _targets(self, addresses: tuple[str, ...]) -> list[str]:
        if self.settings.validation_smtp_host:
            return [self.settings.validation_smtp_host]
        return list(addresses[:2])

    async def _probe(self, address: str, domain: str, addresses: tuple[str, ...]) -> Verdict | None:
        """A verdict from the mail host (refused: invalid; 4xx: risky; catch-all: risky), None when it is mute."""
        code = await self._rcpt(address, self._targets(addresses))
        if code is None:
            # No answer (port 25 filtered, host down) says nothing about the mailbox: keep the DNS verdict.
            return None
        if 500 <= code < 600:
            return Verdict(INVALID, "mailbox_refused")
        if 400 <= code < 500:
            return Verdict(RISKY, "smtp_temporary")
        task = self._catch_all.get(domain)
        if task is None:
            random_local = "tidings-check-" + secrets.token_hex(8)
            task = self._catch_all[domain] = asyncio.ensure_future(self._accepts(f"{random_local}@{domain}",
                                                                                   self._targets(addresses)))
        if await task:
            return Verdict(RISKY, "catch_all")
        return None

    async def _accepts(self, address: str, targets: list[str]) -> bool | None:
        code = await self._rcpt(address, targets)
        return None if code is None else 200 <= code < 300

    async def _rcpt(self, address: str, targets: list[str]) -> int | None:
        """The reply code to RCPT TO at the first mail host that talks, or None when none does."""
        for target in targets:
            if not self.allow_private and not await self._public(target):
                continue
            client = aiosmtplib.SMTP(hostname=target, port=self.settings.validation_smtp_port,
                                     timeout=self.settings.validation_smtp_timeout, start_tls=False,
                                     local_hostname=self.helo)
            try:
                await client.connect()
                await client.ehlo()
                sender = self.settings.validation_smtp_from
                mail = await client.execute_command(b"MAIL FROM:<" + sender.encode() + b">")
                if mail.code >= 400:
                    return None  # the host refuses our sender, not the recipient
                reply = await client.execute_command(b"RCPT TO:<" + address.encode() + b">")
                return int(reply.code)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                log.info("validation probe failed", host=target, error=type(exc).__name__)
                continue
            finally:
                if client.is_connected:
                    try:
                        await client.quit()
                    except (aiosmtplib.SMTPException, OSError, TimeoutError):
                        client.close()
        return None

    async def _public(self, host: str) -> bool:
        """Whether every address of an operator-given host (or an IP) is public."""
        try:
            addresses = await netguard.resolve(host, self.settings.validation_smtp_port)
        except OSError:
            return False
        return all(netguard.is_public_address(a) for a in addresses)

    def close(self) -> None:
        """Cancel lookups still running (a job that stops half-way)."""
        for task in [*self._domains.values(), *self._catch_all.values()]:
            task.cancel()
