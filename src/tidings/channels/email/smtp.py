"""An SMTP relay or mailbox provider (aiosmtplib), with one reused connection per provider.

`smtp://user:pass@host:587?starttls=true`, `smtps://user:pass@host:465` (implicit TLS),
`?verify=false` to accept a self-signed certificate. A 5xx answer for the recipient is a
permanent refusal (a hard bounce); 4xx and connection errors are transient. A server that offers
PIPELINING gets each message's envelope in one write, the next one's right after the content
(`channels.email.pipelining`, two sends at once on one connection);
`?pipelining=false` turns that off.

A customer's mailbox server is reached through a `connector` (the outbound address guard's checked
socket, given by the caller: channels know nothing of it); then every failure before the server's
greeting reads the same, so that refused, filtered and non-SMTP ports cannot be told apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiosmtplib

from tidings.channels.base import EMAIL, LOGIN_FAILED, OutboundMessage, ProviderError, ProviderUrl, SendResult
from tidings.channels.email.pipelining import PipelinedSession, Progress, envelope_path, smtputf8_needed, take_over


@dataclass
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    security: str = "none"  # none | starttls | tls
    verify: bool = True
    timeout: float = 30.0
    # (host, port, timeout) -> a connected socket; None: aiosmtplib resolves and connects itself.
    connector: Callable[[str, int, float], Awaitable[socket.socket]] | None = None
    pipelining: bool = True

    @classmethod
    def from_url(cls, url: ProviderUrl) -> SmtpSettings:
        if not url.host:
            raise ProviderError("an smtp:// URL needs a host")
        implicit = url.scheme == "smtps" or url.flag("tls")
        security = "tls" if implicit else ("starttls" if url.flag("starttls") else "none")
        port = url.port or (465 if implicit else 587 if security == "starttls" else 25)
        return cls(url.host, port, url.username, url.password, security, url.flag("verify", True),
                   pipelining=url.flag("pipelining", True))


@dataclass
class SmtpProvider:
    settings: SmtpSettings
    channel: str = EMAIL
    url_scheme: str = "smtp"
    _client: aiosmtplib.SMTP | PipelinedSession | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _connecting: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.settings.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def _connect(self) -> aiosmtplib.SMTP | PipelinedSession:
        client = await self._session()
        return take_over(client, self.settings.timeout) if self.settings.pipelining else client

    async def _session(self) -> aiosmtplib.SMTP:
        """Connected, in TLS when asked, signed in: aiosmtplib's client."""
        s = self.settings
        tls = self._tls_context() if s.security != "none" else None
        if s.connector is None:
            client = aiosmtplib.SMTP(hostname=s.host, port=s.port, timeout=s.timeout, use_tls=s.security == "tls",
                                     start_tls=s.security == "starttls", tls_context=tls)
            await client.connect()
        else:
            sock = await s.connector(s.host, s.port, s.timeout)
            # The host name stays for TLS (certificate check, SNI); the socket is the checked address.
            client = aiosmtplib.SMTP(hostname=s.host, sock=sock, timeout=s.timeout, use_tls=s.security == "tls",
                                     start_tls=s.security == "starttls", tls_context=tls)
            try:
                await client.connect()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                client.close()
                sock.close()
                raise ConnectionError(f"cannot connect to {s.host}:{s.port}") from None
        if s.username:
            await client.login(s.username, s.password or "")
        if client.is_ehlo_or_helo_needed:  # aiosmtplib greets lazily; its extensions are read from the greeting
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                if not client.is_connected:
                    raise
                await client.helo()
        return client

    @property
    def concurrency(self) -> int:
        """Sends the dispatcher may run at once: two overlap on a pipelined session (one writes its content while
        the next writes its envelope); without PIPELINING they take turns on the connection."""
        return 2 if self.settings.pipelining else 1

    async def _connected(self) -> aiosmtplib.SMTP | PipelinedSession:
        async with self._connecting:
            if self._client is None or not self._client.is_connected:
                self._client = await self._connect()
            return self._client

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.raw is None:
            raise ProviderError("an email needs its MIME bytes")
        # The Cc header alone delivers nothing: Cc copies need their own RCPT, like Bcc.
        rcpts = [message.recipient, *message.options.get("cc", []), *message.options.get("bcc", [])]
        try:
            for address in (message.sender, *rcpts):
                envelope_path(address)
        except ValueError as exc:  # an address no command line may carry: no server will take it
            return SendResult(False, permanent=True, code="address", detail=str(exc))
        for attempt in (1, 2):
            client: aiosmtplib.SMTP | PipelinedSession | None = None
            progress = Progress()
            try:
                client = await self._connected()
                if isinstance(client, PipelinedSession):
                    errors, response = await client.sendmail(message.sender, rcpts, message.raw, progress)
                else:
                    async with self._lock:  # aiosmtplib's client: one transaction at a time
                        utf8 = smtputf8_needed(client.supports_extension("smtputf8"), [message.sender, *rcpts])
                        errors, response = await client.sendmail(message.sender, rcpts, message.raw,
                                                                 mail_options=["SMTPUTF8"] if utf8 else [])
            except aiosmtplib.SMTPAuthenticationError as exc:
                await self._drop(client)
                return SendResult(False, permanent=False, code=str(exc.code),
                                  detail=f"{LOGIN_FAILED}: {exc.message}")
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refusal = exc.recipients[0] if exc.recipients else None
                code = refusal.code if refusal else 550
                return SendResult(False, permanent=500 <= code < 600, code=str(code),
                                  detail=refusal.message if refusal else str(exc))
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code >= 500:
                    return SendResult(False, permanent=True, code=str(exc.code), detail=exc.message)
                if not isinstance(client, PipelinedSession):
                    # A pipelined session has ended the transaction itself (reset, or closed on a 421): the other
                    # send on it goes on.
                    await self._drop(client)
                return SendResult(False, permanent=False, code=str(exc.code), detail=exc.message)
            except (TimeoutError, aiosmtplib.SMTPException, OSError, ValueError) as exc:
                # ValueError: a host name that cannot be encoded (IDNA), or aiosmtplib's own argument checks.
                # Once the content went out the server may have taken it: no second copy at once (the
                # dispatcher's retry comes later). aiosmtplib's lockstep client does not say, so it retries.
                await self._drop(client)
                if attempt == 1 and not progress.data_written:
                    continue  # a reused connection may have been closed by the server
                return SendResult(False, permanent=False, code="connection", detail=str(exc) or type(exc).__name__)
            if message.recipient in errors:
                # A refused Cc or Bcc copy does not fail the message; a refused main recipient does.
                code, text = errors[message.recipient]
                return SendResult(False, permanent=code >= 500, code=str(code), detail=text)
            return SendResult(True, provider_id=response.strip()[:255] or None)
        return SendResult(False, permanent=False, code="connection", detail="unreachable")

    async def check(self) -> str | None:
        """Connect and sign in once, then quit: None when that works, else why (without secrets)."""
        try:
            client = await self._session()
        except aiosmtplib.SMTPAuthenticationError as exc:
            return f"{LOGIN_FAILED}: {exc.code} {exc.message}"
        except ConnectionError as exc:
            return str(exc) or "could not connect"  # the guard's words: the same for refused, filtered, timed out
        except (TimeoutError, aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
            return "could not connect: " + (type(exc).__name__ if isinstance(exc, OSError) else str(exc))
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
        return None

    async def _drop(self, client: aiosmtplib.SMTP | PipelinedSession | None = None) -> None:
        """Close the connection (the one a failed send used, if it is still the provider's)."""
        if client is not None and client is not self._client:
            client.close()  # another send has already replaced it
            return
        client, self._client = self._client, None
        if client is not None:
            # Closing a broken connection must not raise.
            with contextlib.suppress(Exception):
                client.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
