"""SMTP transactions pipelined (RFC 2920) on a session aiosmtplib has set up (connected, TLS, signed in).

MAIL, every RCPT and DATA go in one write, then the message; the next message's envelope follows the
content without waiting for its answer: one round trip a message instead of four.
aiosmtplib reads one answer per command written and drops what arrives between commands, so a
connection whose server offers PIPELINING is handed to this protocol, which reads answers in order as
they come. It raises aiosmtplib's exceptions, so callers handle both kinds of connection alike.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re
from dataclasses import dataclass

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


def _expire(waiter: asyncio.Future[list[aiosmtplib.SMTPResponse]]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("timed out waiting for the SMTP server's answer"))


def _pass_turn(turn: asyncio.Future[None]) -> None:
    if not turn.done():
        turn.set_result(None)


@dataclass
class Progress:
    """How far one message got: once its content went out, a failure may still have delivered it."""

    data_written: bool = False


class PipelinedSession(asyncio.Protocol):
    """One SMTP connection taken over from aiosmtplib after its EHLO announced PIPELINING.

    Transactions may overlap: each writes its envelope as soon as the one before it has written its content
    (RFC 2920 allows the content and the next MAIL, RCPT and DATA in one group; nothing may follow DATA before
    its 354), so the answer to one message's content and the next envelope's answers come back together: one
    round trip a message instead of two. Answers are handed out in the order their commands were written.
    """

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
        # Who waits for how many answers, in the order the commands were written.
        self._expected: collections.deque[tuple[int, asyncio.Future[list[aiosmtplib.SMTPResponse]]]] = \
            collections.deque()
        self._awaited = 0  # answers the expected waiters take together
        self._turn: asyncio.Future[None] | None = None  # done once the last transaction let the next one write
        self._lost: Exception | None = None
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
        expected, answers = self._expected, self._answers
        while expected and len(answers) >= expected[0][0]:
            count, waiter = expected.popleft()
            self._awaited -= count
            taken = [answers.popleft() for _ in range(count)]
            if not waiter.done():
                waiter.set_result(taken)
        if len(answers) > self._awaited or len(self._buffer) > _MAX_ANSWER:
            # More answers than commands (one spoken while idle, say a 421 before closing): the answers would pair
            # with the wrong commands from here on. Those asked for above have theirs.
            self._fail(aiosmtplib.SMTPServerDisconnected("the server spoke unasked, or an answer too long"))
            self._transport.abort()

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("the server closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(aiosmtplib.SMTPServerDisconnected(f"connection lost: {exc}" if exc else "connection lost"))

    def _fail(self, exc: Exception) -> None:
        if self._lost is None:
            self._lost = exc
        expected, self._expected, self._awaited = self._expected, collections.deque(), 0
        for _, waiter in expected:
            if not waiter.done():
                waiter.set_exception(self._lost)
                waiter.exception()  # retrieved: its sender may have stopped waiting

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

    def _command(self, data: bytes, answers: int) -> asyncio.Future[list[aiosmtplib.SMTPResponse]]:
        """Write commands; the future gets their `answers` answers, after those of everything written before."""
        if not self.is_connected:
            raise self._lost or aiosmtplib.SMTPServerDisconnected("connection closed")
        waiter: asyncio.Future[list[aiosmtplib.SMTPResponse]] = asyncio.get_running_loop().create_future()
        self._expected.append((answers, waiter))
        self._awaited += answers
        self._transport.write(data)
        return waiter

    async def _answers_to(self, waiter: asyncio.Future[list[aiosmtplib.SMTPResponse]]
                          ) -> list[aiosmtplib.SMTPResponse]:
        # A timer on the future rather than asyncio.timeout, which cancels the task (costlier, twice a message).
        timer = asyncio.get_running_loop().call_later(self._timeout, _expire, waiter)
        try:
            return await waiter
        except BaseException:
            # Timed out, lost, or cancelled: answers still on their way would pair with the next commands.
            self.close()
            raise
        finally:
            timer.cancel()

    async def _reset(self, answers: list[aiosmtplib.SMTPResponse]) -> None:
        """End a failed transaction; a server closing the session (421) or not answering is dropped."""
        if any(answer.code == 421 for answer in answers):
            self.close()
            return
        try:
            await self._answers_to(self._command(b"RSET\r\n", 1))
        except (aiosmtplib.SMTPException, TimeoutError, OSError):
            self.close()

    async def sendmail(self, sender: str, recipients: list[str], raw: bytes, progress: Progress | None = None
                       ) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        """Send one message; as aiosmtplib's sendmail: (the refused among the recipients, the final answer).

        Several may run at once on one session: each takes its turn to write its envelope after the content
        of the one before.
        """
        data, size = message_data(raw)
        envelope = [envelope_path(sender), *(envelope_path(r) for r in recipients)]
        options = b" SMTPUTF8" if smtputf8_needed(self._smtputf8, [sender, *recipients]) else b""
        if self._size:
            options += b" SIZE=%d" % size
        commands = [b"MAIL FROM:" + envelope[0] + options + b"\r\n"]
        commands += [b"RCPT TO:" + path + b"\r\n" for path in envelope[1:]]
        commands.append(b"DATA\r\n")
        previous, turn = self._turn, asyncio.get_running_loop().create_future()
        self._turn = turn
        try:
            if previous is not None and not previous.done():
                # Shielded: cancelling this send must not let the next envelope overtake the one before.
                await asyncio.shield(previous)
            answers = await self._answers_to(self._command(b"".join(commands), len(commands)))
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
            if progress is not None:
                progress.data_written = True
            sent = self._command(data, 1)
        finally:
            # The next transaction's envelope may follow our content at once; if this one was cancelled before its
            # turn, only once the one before has had its turn.
            if previous is not None and not previous.done():
                previous.add_done_callback(lambda _: _pass_turn(turn))
            else:
                _pass_turn(turn)
        (done,) = await self._answers_to(sent)
        if done.code != 250:
            # The answer to the content ends the transaction (RFC 5321 4.1.1.4): no RSET, which would reset the
            # next message's envelope already on its way.
            if done.code == 421:
                self.close()
            raise aiosmtplib.SMTPDataError(done.code, done.message)
        return refused, done.message

    async def quit(self) -> None:
        try:
            if self._turn is not None and not self._turn.done():
                await asyncio.shield(self._turn)  # never inside a send's envelope: it would be taken as content
            await self._answers_to(self._command(b"QUIT\r\n", 1))
        finally:
            self.close()

    def close(self) -> None:
        self._fail(aiosmtplib.SMTPServerDisconnected("connection closed"))
        # Not a graceful close: the rest of a message cut short must not reach the server (it would deliver it).
        self._transport.abort()


def take_over(client: aiosmtplib.SMTP, answer_timeout: float) -> PipelinedSession | aiosmtplib.SMTP:
    """The pipelined session when the greeted server offers PIPELINING, else aiosmtplib's client as it is."""
    return PipelinedSession(client, answer_timeout) if PipelinedSession.offered(client) else client

