"""SMTP transactions pipelined (RFC 2920) on a session aiosmtplib has set up (connected, TLS, signed in).

MAIL, every RCPT and DATA go in one write, then the message: two round trips a message instead of four.
aiosmtplib reads one answer per command written and drops what arrives between commands, so a
connection whose server offers PIPELINING is handed to this protocol, which reads answers in order as
they come. It raises aiosmtplib's exceptions, so callers handle both kinds of connection alike.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re

import aiosmtplib
from aiosmtplib.email import parse_address

_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_PERIOD = re.compile(rb"(?m)^\.")
_MAX_ANSWER = 32 * 1024  # bytes of one answer (a long multi-line one included); more is not SMTP


# A plain dot-atom address, which aiosmtplib's parsing (email.utils.parseaddr, 7 µs) returns unchanged.
_PLAIN = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def envelope_path(address: str) -> bytes:
    """`<address>` for a MAIL or RCPT line; ValueError when it holds what no command line may carry."""
    if _PLAIN.fullmatch(address):
        return b"<" + address.encode() + b">"
    return _parsed_path(address)


_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


@functools.lru_cache(maxsize=1024)
def _parsed_path(address: str) -> bytes:
    path = f"<{parse_address(address)}>".encode()
    if _CONTROL.search(path):  # as aiosmtplib refuses in any command (older releases' parsing let some pass)
        raise ValueError(f"the address {address!r} holds control characters")
    return path


def smtputf8_needed(offered: bool, addresses: list[str]) -> bool:
    """Whether a transaction needs SMTPUTF8 (a non-ASCII address); a permanent 553 where the server lacks it."""
    if all(address.isascii() for address in addresses):
        return False
    if not offered:
        raise aiosmtplib.SMTPResponseException(553, "the server does not accept non-ASCII addresses")
    return True


def message_data(raw: bytes) -> tuple[bytes, int]:
    """The DATA payload (CRLF line endings, leading periods doubled, the final `.`) and the size to declare."""
    crlf = raw.count(b"\r\n")
    # Our MIME builder already writes CRLF and few lines start with a period: counting is cheaper than rewriting.
    normalized = raw if raw.count(b"\n") == crlf == raw.count(b"\r") else _LINE_ENDINGS.sub(b"\r\n", raw)
    if not normalized.endswith(b"\r\n"):
        normalized += b"\r\n"
    stuffed = _LEADING_PERIOD.sub(b"..", normalized) if normalized.startswith(b".") or b"\n." in normalized \
        else normalized
    return stuffed + b".\r\n", len(normalized)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("timed out waiting for the SMTP server's answer"))


class PipelinedSession(asyncio.Protocol):
    """One SMTP connection taken over from aiosmtplib after its EHLO announced PIPELINING."""

    def __init__(self, client: aiosmtplib.SMTP, timeout: float) -> None:
        transport = client.transport
        if transport is None:
            raise aiosmtplib.SMTPServerDisconnected("not connected")
        self._transport: asyncio.Transport = transport  # type: ignore[assignment]
        self._timeout = timeout
        self._size = client.supports_extension("size")
        self._smtputf8 = client.supports_extension("smtputf8")
        self._buffer = bytearray()
        self._answers: collections.deque[aiosmtplib.SMTPResponse] = collections.deque()
        self._wanted = 0
        self._waiter: asyncio.Future[None] | None = None
        self._lost: Exception | None = None
        # Whether the current message's content went out: after that, a failure may still have delivered it.
        self.data_written = False
        transport.set_protocol(self)

    @staticmethod
    def offered(client: aiosmtplib.SMTP) -> bool:
        return client.supports_extension("pipelining")

    @property
    def is_connected(self) -> bool:
        return self._lost is None and not self._transport.is_closing()

    # -- asyncio.Protocol

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            answer = self._next_answer()
            if answer is None:
                break
            self._answers.append(answer)
        if len(self._answers) > self._wanted + 1 or len(self._buffer) > _MAX_ANSWER:
            # More answers than commands (one spoken while idle, a 421, is read by the next send): not SMTP.
            self._fail(aiosmtplib.SMTPResponseException(-1, "unsolicited answers or an answer too long"))
            self._transport.abort()
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done() and len(self._answers) >= self._wanted:
            waiter.set_result(None)

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("the server closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(aiosmtplib.SMTPServerDisconnected(f"connection lost: {exc}" if exc else "connection lost"))

    def _fail(self, exc: Exception) -> None:
        if self._lost is None:
            self._lost = exc
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(self._lost)
            waiter.exception()  # retrieved: nobody may be waiting any more

    def _next_answer(self) -> aiosmtplib.SMTPResponse | None:
        """Take one complete (possibly multi-line) answer off the buffer."""
        buffer, offset, lines = self._buffer, 0, []
        while True:
            end = buffer.find(b"\n", offset)
            if end == -1:
                return None
            line = bytes(buffer[offset:end + 1])
            offset = end + 1
            try:
                code = int(line[:3])
            except ValueError:
                self._fail(aiosmtplib.SMTPResponseException(-1, "malformed SMTP answer"))
                self._transport.close()
                del buffer[:]
                return None
            lines.append(line[4:].strip(b" \t\r\n").decode("utf-8", "surrogateescape"))
            if line[3:4] != b"-":
                del buffer[:offset]
                return aiosmtplib.SMTPResponse(code, "\n".join(lines))

    # -- commands

    async def _read(self, count: int) -> list[aiosmtplib.SMTPResponse]:
        if len(self._answers) < count:
            if self._lost is not None:
                raise self._lost
            self._wanted = count
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            # A timer on the future rather than asyncio.timeout, which cancels the task (costlier, twice a message).
            timer = loop.call_later(self._timeout, _expire, waiter)
            try:
                await waiter
            except BaseException:
                # Timed out, lost, or cancelled: answers still on their way would pair with the next message.
                self.close()
                raise
            finally:
                timer.cancel()
                self._waiter = None
        return [self._answers.popleft() for _ in range(count)]

    def _write(self, data: bytes) -> None:
        if not self.is_connected:
            raise self._lost or aiosmtplib.SMTPServerDisconnected("connection closed")
        self._transport.write(data)

    async def _reset(self, answers: list[aiosmtplib.SMTPResponse]) -> None:
        """End a failed transaction; a server closing the session (421) or not answering is dropped."""
        if any(answer.code == 421 for answer in answers):
            self.close()
            return
        try:
            self._write(b"RSET\r\n")
            await self._read(1)
        except (aiosmtplib.SMTPException, TimeoutError, OSError):
            self.close()

    async def sendmail(self, sender: str, recipients: list[str],
                       raw: bytes) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        """Send one message; as aiosmtplib's sendmail: (the refused among the recipients, the final answer)."""
        if self._answers or self._buffer:
            # Something arrived while idle (a 421 before the server closed, say): the answers would pair wrongly.
            self.close()
            raise aiosmtplib.SMTPServerDisconnected("the server spoke while idle")
        self.data_written = False
        data, size = message_data(raw)
        envelope = [envelope_path(sender), *(envelope_path(r) for r in recipients)]
        options = b" SMTPUTF8" if smtputf8_needed(self._smtputf8, [sender, *recipients]) else b""
        if self._size:
            options += b" SIZE=%d" % size
        commands = [b"MAIL FROM:" + envelope[0] + options + b"\r\n"]
        commands += [b"RCPT TO:" + path + b"\r\n" for path in envelope[1:]]
        commands.append(b"DATA\r\n")
        self._write(b"".join(commands))
        answers = await self._read(len(commands))
        mail, accepted, go = answers[0], answers[1:-1], answers[-1]
        closing = next((a for a in answers if a.code == 421), None)
        if closing is not None:  # the server is ending the session: nothing more goes on this connection
            self.close()
            raise aiosmtplib.SMTPResponseException(closing.code, closing.message)
        refused = {r: a for r, a in zip(recipients, accepted, strict=True) if a.code not in (250, 251)}
        invited = go.code == 354 and (mail.code != 250 or len(refused) == len(recipients))
        if invited:
            # A server that invites the message after refusing its envelope gets none: the connection ends
            # without the final ".", so it cannot deliver even an empty one.
            self.close()
        error: Exception | None = None
        if mail.code != 250:
            error = aiosmtplib.SMTPSenderRefused(mail.code, mail.message, sender)
        elif len(refused) == len(recipients):
            error = aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(a.code, a.message, r) for r, a in refused.items()])
        elif go.code != 354:
            error = aiosmtplib.SMTPDataError(go.code, go.message)
        if error is not None:
            if not invited:
                await self._reset(answers)
            raise error
        self.data_written = True
        self._write(data)
        (done,) = await self._read(1)
        if done.code != 250:
            await self._reset([done])
            raise aiosmtplib.SMTPDataError(done.code, done.message)
        return refused, done.message

    async def quit(self) -> None:
        try:
            self._write(b"QUIT\r\n")
            await self._read(1)
        finally:
            self.close()

    def close(self) -> None:
        if self._lost is None:
            self._lost = aiosmtplib.SMTPServerDisconnected("connection closed")
        # Not a graceful close: the rest of a message cut short must not reach the server (it would deliver it).
        self._transport.abort()


def take_over(client: aiosmtplib.SMTP, answer_timeout: float) -> PipelinedSession | aiosmtplib.SMTP:
    """The pipelined session when the greeted server offers PIPELINING, else aiosmtplib's client as it is."""
    return PipelinedSession(client, answer_timeout) if PipelinedSession.offered(client) else client

