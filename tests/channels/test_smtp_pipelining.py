"""SMTP PIPELINING (RFC 2920): the envelope in one write, answers read in order, refusals as before."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage

import pytest
from aiosmtplib.email import parse_address
from aiosmtplib.protocol import normalize_message_line_endings
from hypothesis import given
from hypothesis import strategies as st

from tidings.channels.base import OutboundMessage, ProviderUrl, SendResult
from tidings.channels.email.pipelining import envelope_path, message_data
from tidings.channels.email.smtp import SmtpProvider, SmtpSettings

from smtp_sink import smtp_sink


def _email(to: str = "bob@example.test", body: str = "Hi Bob", **options: list[str]) -> OutboundMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.test", to, "Hello"
    msg.set_content(body)
    return OutboundMessage("email", "alice@acme.test", to, raw=msg.as_bytes(), options=dict(options))


def test_message_data_normalises_line_endings_and_doubles_leading_periods() -> None:
    data, size = message_data(b"a\n.b\r\n..c\rd")
    assert data == b"a\r\n..b\r\n...c\r\nd\r\n.\r\n"
    assert size == len(b"a\r\n.b\r\n..c\r\nd\r\n")


async def test_pipelined_relay_delivers_messages_intact_over_one_connection() -> None:
    body = "Hi Bob\n.\n..leading periods\nbye"
    with smtp_sink(credentials={"relay": "pw"}) as sink:
        provider = SmtpProvider(SmtpSettings("127.0.0.1", sink.port, "relay", "pw"))
        results = [await provider.send(_email(body=body, cc=["carol@example.test"], bcc=["dan@example.test"])),
                   await provider.send(_email("erin@example.test")),
                   await provider.send(_email("frank@example.test"))]
        await provider.close()
    assert all(r.accepted and r.provider_id and r.provider_id.startswith("2.0.0 queued") for r in results)
    assert [r.recipients for r in sink.received] == [
        ["bob@example.test", "carol@example.test", "dan@example.test"], ["erin@example.test"], ["frank@example.test"]]
    assert sink.received[0].message.get_content().replace("\r\n", "\n").rstrip("\n") == body
    assert sink.handler.sessions == 1


async def test_pipelined_refusals_read_as_they_do_without_pipelining() -> None:
    with smtp_sink() as sink:
        sink.handler.refuse = {"gone@example.test": "550 5.1.1 no such user",
                               "busy@example.test": "451 4.7.1 try later",
                               "carol@example.test": "550 5.1.1 no such user"}
        provider = SmtpProvider(SmtpSettings("127.0.0.1", sink.port))
        gone = await provider.send(_email("gone@example.test"))
        busy = await provider.send(_email("busy@example.test"))
        copy_refused = await provider.send(_email(cc=["carol@example.test"]))
        sink.handler.refuse["alice@acme.test"] = "553 5.7.1 sender not allowed"
        sender = await provider.send(_email())
        del sink.handler.refuse["alice@acme.test"]
        sink.handler.refuse_data = "554 5.7.1 looks like spam"
        data = await provider.send(_email())
        sink.handler.refuse_data = None
        after = await provider.send(_email("erin@example.test"))
        await provider.close()
    assert not gone.accepted and gone.permanent and gone.code == "550" and "no such user" in gone.detail
    assert not busy.accepted and not busy.permanent and busy.code == "451"
    assert copy_refused.accepted
    assert not sender.accepted and sender.permanent and sender.code == "553"
    assert not data.accepted and data.permanent and data.code == "554" and "spam" in data.detail
    assert after.accepted
    assert [r.recipients for r in sink.received] == [["bob@example.test"], ["erin@example.test"]]


class _Scripted:
    """A hand-written SMTP server: what each connection received, and how it misbehaves on request."""

    def __init__(self, pipelining: bool = True, hold_mail_until_data: bool = False,
                 close_after_first: bool = False, silent_after_data: bool = False, smtputf8: bool = False,
                 mail_delay: float = 0.0, flood_after_first: bool = False, rcpt_answer: bytes = b"250 OK",
                 queued_with_next_mail: bool = False) -> None:
        self.pipelining, self.hold, self.close_after_first = pipelining, hold_mail_until_data, close_after_first
        self.silent_after_data, self.smtputf8 = silent_after_data, smtputf8
        self.mail_delay, self.flood_after_first, self.rcpt_answer = mail_delay, flood_after_first, rcpt_answer
        # The answer to a content held back until the next MAIL has arrived (or half a second went by): counts
        # the clients that write the next envelope without waiting for it.
        self.queued_with_next_mail = queued_with_next_mail
        self.answered_with_next_mail = 0
        self.mail_lines: list[bytes] = []
        self.verbs: list[bytes] = []
        self.bodies = 0  # message contents read, answered or not
        self.connections = 0
        self.messages: list[bytes] = []
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        writer.write(b"220 scripted ESMTP\r\n")
        held: list[bytes] = []
        try:
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), 0.5 if held and self.queued_with_next_mail
                                                  else None)
                except TimeoutError:  # no next MAIL came: the held answer goes now
                    writer.write(b"".join(held))
                    held.clear()
                    continue
                if not line:
                    break
                verb = line[:4].upper()
                self.verbs.append(verb)
                if verb in (b"MAIL", b"QUIT") and self.queued_with_next_mail and held:
                    self.answered_with_next_mail += verb == b"MAIL"
                    writer.write(b"".join(held))
                    held.clear()
                if verb == b"MAIL":
                    self.mail_lines.append(line)
                    await asyncio.sleep(self.mail_delay)
                if verb == b"EHLO":
                    writer.write(b"250-scripted\r\n" + (b"250-PIPELINING\r\n" if self.pipelining else b"") +
                                 (b"250-SMTPUTF8\r\n" if self.smtputf8 else b"") + b"250 8BITMIME\r\n")
                elif verb in (b"MAIL", b"RCPT") and self.hold:
                    held.append(b"250 OK\r\n")  # answered only once DATA has arrived: a lockstep client waits forever
                elif verb == b"RCPT":
                    writer.write(self.rcpt_answer + b"\r\n")
                elif verb in (b"MAIL", b"RSET"):
                    writer.write(b"250 OK\r\n")
                elif verb == b"DATA":
                    writer.write(b"".join(held) + b"354 go ahead\r\n")
                    held.clear()
                    body = b""
                    while (chunk := await reader.readline()) != b".\r\n":
                        if not chunk:
                            return  # the client went away in the middle of the message: nothing is delivered
                        body += chunk
                    self.bodies += 1
                    if self.silent_after_data:
                        continue
                    self.messages.append(body)
                    if self.queued_with_next_mail:
                        held.append(b"250 2.0.0 queued\r\n")
                        continue
                    writer.write(b"250 2.0.0 queued\r\n")
                    if self.flood_after_first:
                        await writer.drain()
                        await asyncio.sleep(0.1)  # after the client has its answer: while it is idle
                        writer.write(b"250 unasked\r\n" * 10_000)
                    if self.close_after_first:
                        writer.write(b"421 4.4.2 closing: idle\r\n")
                        await writer.drain()
                        writer.close()
                        return
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                await writer.drain()
        finally:
            writer.close()


@asynccontextmanager
async def _scripted(server: _Scripted) -> AsyncIterator[int]:
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    try:
        yield listener.sockets[0].getsockname()[1]
    finally:
        listener.close()
        for task in server.tasks:
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)


async def _send(server: _Scripted, *messages: OutboundMessage, answer_timeout: float = 5.0,
                pipelining: bool = True) -> list[SendResult]:
    """Each message in turn through one provider to the scripted server, then the provider closed."""
    async with _scripted(server) as port:
        provider = SmtpProvider(SmtpSettings("127.0.0.1", port, timeout=answer_timeout, pipelining=pipelining))
        results = [await provider.send(message) for message in messages]
        await provider.close()
    return results


async def test_the_envelope_goes_in_one_write() -> None:
    server = _Scripted(hold_mail_until_data=True)
    [result] = await _send(server, _email(cc=["carol@example.test"]), answer_timeout=2)
    assert result.accepted and len(server.messages) == 1


async def test_pipelining_can_be_turned_off_and_is_not_used_unless_offered() -> None:
    assert SmtpSettings.from_url(ProviderUrl.parse("smtp://relay.test?pipelining=false")).pipelining is False
    assert SmtpSettings.from_url(ProviderUrl.parse("smtp://relay.test")).pipelining is True
    for server, pipelining in ((_Scripted(pipelining=False), True), (_Scripted(), False)):
        results = await _send(server, _email(), _email(), answer_timeout=2, pipelining=pipelining)
        assert all(r.accepted for r in results)
        assert len(server.messages) == 2 and server.connections == 1


async def test_a_server_that_closes_after_a_message_gets_a_fresh_connection() -> None:
    server = _Scripted(close_after_first=True)
    async with _scripted(server) as port:
        provider = SmtpProvider(SmtpSettings("127.0.0.1", port, timeout=2))
        first = await provider.send(_email())
        await asyncio.sleep(0.05)  # the 421 and the close arrive while the connection is idle
        second = await provider.send(_email("erin@example.test"))
        await provider.close()
    assert first.accepted and second.accepted
    assert len(server.messages) == 2 and server.connections == 2


@pytest.mark.parametrize("pipelining", [True, False])
async def test_non_ascii_addresses_go_with_smtputf8_where_the_server_offers_it(pipelining: bool) -> None:
    message = OutboundMessage("email", "jörg@acme.test", "zoë@example.test", raw=_email().raw)
    server = _Scripted(pipelining=pipelining, smtputf8=True)
    [result] = await _send(server, message, answer_timeout=2)
    assert result.accepted and server.mail_lines[0].rstrip().endswith(b"SMTPUTF8")
    assert server.mail_lines[0].startswith("MAIL FROM:<jörg@acme.test>".encode())
    plain = _Scripted(pipelining=pipelining)
    [refused] = await _send(plain, message, answer_timeout=2)
    assert not refused.accepted and refused.permanent and refused.code == "553" and not plain.mail_lines


@given(st.from_regex(r"[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*", fullmatch=True)
       | st.text(max_size=30))
def test_envelope_paths_are_what_aiosmtplib_would_write(address: str) -> None:
    try:
        expected: bytes | type[Exception] = f"<{parse_address(address)}>".encode()
    except (ValueError, UnicodeEncodeError):
        expected = ValueError
    if isinstance(expected, bytes) and re.search(rb"[\x00-\x1f\x7f]", expected):
        expected = ValueError  # aiosmtplib refuses the command line itself
    try:
        got: bytes | type[Exception] = envelope_path(address)
    except (ValueError, UnicodeEncodeError):
        got = ValueError
    assert got == expected


@given(st.lists(st.sampled_from([b"a", b".", b"\r", b"\n", b"\r\n", b"..", b"x.y"]), max_size=30).map(b"".join))
def test_message_data_is_what_aiosmtplib_would_send(raw: bytes) -> None:
    expected = normalize_message_line_endings(raw)
    data, size = message_data(raw)
    assert size == len(expected)
    assert data == re.sub(rb"(?m)^\.", b"..", expected) + b".\r\n"


async def test_a_cancelled_send_leaves_no_answers_for_the_next_message() -> None:
    server = _Scripted(mail_delay=0.3)
    async with _scripted(server) as port:
        provider = SmtpProvider(SmtpSettings("127.0.0.1", port, timeout=5))
        first = asyncio.create_task(provider.send(_email(body="for bob")))
        await asyncio.sleep(0.1)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        server.mail_delay = 0.0
        second = await provider.send(_email("erin@example.test", body="for erin"))
        await provider.close()
    assert second.accepted
    assert [b"for erin" in body for body in server.messages] == [True]  # erin's own, not inside bob's


async def test_answers_nobody_asked_for_end_the_connection() -> None:
    server = _Scripted(flood_after_first=True)
    async with _scripted(server) as port:
        provider = SmtpProvider(SmtpSettings("127.0.0.1", port, timeout=5))
        first = await provider.send(_email())
        await asyncio.sleep(0.2)
        assert provider._client is not None and not provider._client.is_connected
        second = await provider.send(_email("erin@example.test"))
        await provider.close()
    assert first.accepted and second.accepted and server.connections == 2


async def test_a_server_that_goes_quiet_after_the_content_is_a_transient_failure_sent_once() -> None:
    server = _Scripted(silent_after_data=True)
    [result] = await _send(server, _email(), answer_timeout=0.3)
    assert not result.accepted and not result.permanent and result.code == "connection"
    assert server.bodies == 1  # the dispatcher retries later; the provider did not send it again at once


async def test_a_421_ends_the_session_without_a_reset() -> None:
    server = _Scripted(rcpt_answer=b"421 4.3.2 shutting down")
    [result] = await _send(server, _email())
    assert not result.accepted and not result.permanent and result.code == "421"
    assert b"RSET" not in server.verbs and server.bodies == 0


async def test_a_host_that_cannot_be_encoded_is_a_transient_failure_not_a_bounce() -> None:
    provider = SmtpProvider(SmtpSettings("foo..example.com", 25, timeout=2))
    result = await provider.send(_email())
    assert not result.accepted and not result.permanent


def test_no_control_character_reaches_a_command_line() -> None:
    for address in ("a\x00b@example.test", "a\x7f@example.test", '"a\x01"@example.test'):
        with pytest.raises(ValueError):
            envelope_path(address)
    # What the parser makes of a line break (as aiosmtplib does): never a second command.
    assert b"\r" not in envelope_path("bob@example.test\r\nRCPT TO:<x@y.z>")


async def test_a_server_inviting_a_message_it_has_no_recipient_for_gets_none() -> None:
    server = _Scripted(rcpt_answer=b"550 5.1.1 no such user")  # and, wrongly, 354 to DATA
    async with _scripted(server) as port:
        provider = SmtpProvider(SmtpSettings("127.0.0.1", port, timeout=5))
        refused = await provider.send(_email())
        server.rcpt_answer = b"250 OK"
        after = await provider.send(_email("erin@example.test"))
        await provider.close()
    assert not refused.accepted and refused.permanent and refused.code == "550"
    assert after.accepted and server.bodies == 1 and server.connections == 2  # not even an empty message


async def test_the_next_envelope_follows_a_content_without_waiting_for_its_answer() -> None:
    server = _Scripted(queued_with_next_mail=True)
    bodies = [f"message {i}" for i in range(6)]
    async with _scripted(server) as port:
        provider = SmtpProvider(SmtpSettings("127.0.0.1", port, timeout=2))
        assert provider.concurrency == 2
        results = await asyncio.gather(*(provider.send(_email(f"r{i}@example.test", body=body))
                                         for i, body in enumerate(bodies)))
        await provider.close()
    assert all(r.accepted for r in results) and server.connections == 1
    assert server.answered_with_next_mail == 5  # every content but the last was followed by the next envelope
    assert [m.decode().split("\r\n\r\n", 1)[1].strip() for m in server.messages] == bodies  # in order, intact


async def test_a_refusal_between_overlapping_sends_fails_that_message_alone() -> None:
    with smtp_sink() as sink:
        sink.handler.refuse = {"gone@example.test": "550 5.1.1 no such user", "busy@example.test": "451 4.7.1 later"}
        provider = SmtpProvider(SmtpSettings("127.0.0.1", sink.port))
        to = ["a@example.test", "gone@example.test", "b@example.test", "busy@example.test", "c@example.test"]
        results = await asyncio.gather(*(provider.send(_email(r, body=f"for {r}")) for r in to))
        sink.handler.refuse_data = "554 5.7.1 looks like spam"
        spam = await provider.send(_email("d@example.test"))
        sink.handler.refuse_data = "451 4.3.0 try again later"
        later = await provider.send(_email("d@example.test"))
        sink.handler.refuse_data = None
        after = await asyncio.gather(*(provider.send(_email(r)) for r in ("e@example.test", "f@example.test")))
        await provider.close()
    assert [r.accepted for r in results] == [True, False, True, False, True]
    assert results[1].permanent and results[1].code == "550" and not results[3].permanent and results[3].code == "451"
    assert not spam.accepted and spam.permanent and spam.code == "554"
    assert not later.accepted and not later.permanent and later.code == "451"
    assert all(r.accepted for r in after)
    assert [r.recipients for r in sink.received] == [["a@example.test"], ["b@example.test"], ["c@example.test"],
                                                     ["e@example.test"], ["f@example.test"]]
    assert sink.handler.sessions == 1  # refusals, transient ones included, end the transaction, not the session


async def test_a_cancelled_send_waiting_for_its_turn_does_not_let_the_next_one_overtake() -> None:
    server = _Scripted(mail_delay=0.2)
    async with _scripted(server) as port:
        provider = SmtpProvider(SmtpSettings("127.0.0.1", port, timeout=5))
        first = asyncio.create_task(provider.send(_email("a@example.test", body="for a")))
        second = asyncio.create_task(provider.send(_email("b@example.test", body="for b")))
        third = asyncio.create_task(provider.send(_email("c@example.test", body="for c")))
        await asyncio.sleep(0.05)
        second.cancel()  # while it waits for the first one's content to go
        results = await asyncio.gather(first, third)
        with contextlib.suppress(asyncio.CancelledError):
            await second
        await provider.close()
    assert all(r.accepted for r in results)
    assert [b"for a" in m for m in server.messages] == [True, False]
    assert [b"for c" in m for m in server.messages] == [False, True]


async def test_closing_during_a_send_quits_after_its_content_not_inside_it() -> None:
    server = _Scripted(mail_delay=0.2)
    async with _scripted(server) as port:
        provider = SmtpProvider(SmtpSettings("127.0.0.1", port, timeout=5))
        sending = asyncio.create_task(provider.send(_email(body="for bob")))
        await asyncio.sleep(0.05)  # its envelope is out, the server has not answered yet
        await provider.close()
        result = await sending
    assert result.accepted
    assert [b"QUIT" in body for body in server.messages] == [False]
    assert server.verbs[-1] == b"QUIT"
