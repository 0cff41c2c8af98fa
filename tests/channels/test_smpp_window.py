"""SMPP windowing and several binds: answers matched by sequence number, the same outcome as one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from tidings.channels.base import OutboundMessage, ProviderError
from tidings.channels.registry import build_provider
from tidings.channels.sms import MultipartResult, Receipt
from tidings.channels.sms.smpp import SmppProvider, _Window
from tidings.core import sms
from tidings.db.engine import Database
from tidings.db.models import Event, Message, StatCounter
from tidings.engine.runner import Runner
from tidings.messaging import outbox
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from fakes.smsc import FakeSmsc


@pytest.fixture
async def smsc() -> AsyncIterator[FakeSmsc]:
    async with FakeSmsc() as server:
        yield server


def _outbound(recipient: str, body: str, reference: str) -> OutboundMessage:
    encoding = sms.detect_encoding(body)
    return OutboundMessage("sms", "TIDINGS", recipient, body=body, parts=sms.split_parts(body, encoding),
                           encoding=encoding, reference=reference)


async def _receipts(provider: SmppProvider, count: int) -> list[Receipt]:
    out: list[Receipt] = []
    for _ in range(200):
        while not provider.receipts.empty():
            out.append(provider.receipts.get_nowait())
        if len(out) >= count:
            return out
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(out)} receipts of {count}")


def test_window_and_binds_options() -> None:
    provider = build_provider("sms", "smpp://sys:pw@smsc.example?window=10&binds=2")
    assert isinstance(provider, SmppProvider) and (provider.window, provider.binds, provider.concurrency) == (10, 2, 20)
    plain = build_provider("sms", "smpp://sys:pw@smsc.example")
    assert isinstance(plain, SmppProvider) and plain.concurrency == 1
    for bad in ("window=0", "binds=0", "binds=99", "window=lots"):
        with pytest.raises(ProviderError):
            build_provider("sms", f"smpp://sys:pw@smsc.example?{bad}")
    # A URL written before windowing (window was the part ids remembered) keeps its meaning.
    old = build_provider("sms", "smpp://sys:pw@smsc.example?window=100000")
    assert isinstance(old, SmppProvider) and (old.window, old.remember, old.concurrency) == (1, 100000, 1)


async def test_answers_out_of_order_reach_their_own_message(smsc: FakeSmsc) -> None:
    # Every fifth recipient is answered late, so answers come back out of submission order.
    smsc.answer_delay = 0.02
    smsc.answer_delay_for = {f"3466600{i:04d}": 0.12 for i in range(0, 24, 5)}
    provider = build_provider("sms", smsc.url(window="4", binds="2"))
    assert isinstance(provider, SmppProvider)
    bodies = {f"3466600{i:04d}": (f"message {i} " + "x" * (170 if i % 6 == 0 else 0)) for i in range(24)}
    try:
        results = await asyncio.gather(*(provider.send(_outbound(to, body, str(1000 + n)))
                                         for n, (to, body) in enumerate(bodies.items())))
        assert smsc.binds == 2
        assert 1 < smsc.max_in_flight <= 4, "several submit_sm in flight, never more than the window per bind"
        for (to, body), result in zip(bodies.items(), results, strict=True):
            assert result.accepted
            mine = [s for s in smsc.submitted if s.destination == to]
            # The ids a message got are the ids the SMSC gave to its own parts, in part order.
            ordered = sorted(mine, key=lambda s: s.udh[5] if s.udh else 1)
            ids = result.part_ids if isinstance(result, MultipartResult) else [result.provider_id]
            assert ids == [s.message_id for s in ordered]
            assert "".join(s.payload.decode("gsm03.38") for s in ordered) == body
        receipts = await _receipts(provider, len(smsc.submitted))
        reference_of = {to: str(1000 + n) for n, to in enumerate(bodies)}
        by_id = {s.message_id: s for s in smsc.submitted}
        for receipt in receipts:
            submitted = by_id[receipt.provider_id]
            assert receipt.reference == reference_of[submitted.destination]
            assert receipt.part == (submitted.udh[5] if submitted.udh else 1)
    finally:
        await provider.close()


async def test_a_long_message_never_overfills_the_window(smsc: FakeSmsc) -> None:
    smsc.answer_delay = 0.02
    provider = build_provider("sms", smsc.url(window="2"))
    try:
        result = await provider.send(_outbound("34666000001", "y" * 153 * 5, "1"))
        assert isinstance(result, MultipartResult) and len(result.part_ids) == 5
        assert smsc.max_in_flight == 2
    finally:
        await provider.close()


async def test_an_unanswered_submit_times_out_and_frees_its_window_slot(smsc: FakeSmsc) -> None:
    smsc.answer_delay = 2.0
    provider = build_provider("sms", smsc.url(window="2", timeout="0.2s"))
    try:
        result = await asyncio.wait_for(provider.send(_outbound("34666000001", "late", "1")), 1.5)
        assert (result.accepted, result.permanent, result.code) == (False, False, "timeout")
        smsc.answer_delay = 0
        results = await asyncio.wait_for(asyncio.gather(
            *(provider.send(_outbound(f"3466600000{i}", "on time", str(i))) for i in range(2, 6))), 5)
        assert all(r.accepted for r in results)
    finally:
        await provider.close()


async def test_a_window_slot_handed_to_a_cancelled_waiter_goes_to_the_next() -> None:
    window = _Window(1)
    await window.acquire()
    first = asyncio.create_task(window.acquire())
    second = asyncio.create_task(window.acquire())
    await asyncio.sleep(0)
    window.release()  # handed to `first`, which is cancelled before it runs
    first.cancel()
    await asyncio.wait_for(second, 1)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert window.free == 0
    window.release()
    assert window.free == 1


async def _outcome(db: Database, account: NewAccount, runner: Runner, app: Any, smsc: FakeSmsc, query: dict[str, str],
                   ) -> tuple[list[tuple[str, str, int, list[str]]], dict[str, int]]:
    """Queue a mixed batch, run the engine until every receipt is applied; messages, events and counters."""
    app.state.providers.set("sms", build_provider("sms", smsc.url(**query)))
    smsc.refuse = {"34666000007": 0x0B}  # invalid destination: rejected for good
    smsc.stat_for = {"34666000003": "UNDELIV"}
    async with db.transaction() as s:
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="sms", source="test")
        for i in range(12):
            await outbox.queue(s, outbox.new_message(
                account_id=account.account_id, channel="sms", sender="TIDINGS", recipient=f"3466600{i:04d}",
                sending=sending, body=f"hello {i}" + ("z" * 200 if i == 5 else ""), extra={"kind": "transactional"}))
        sending_id = sending.id
    for _ in range(200):
        await runner.run_until_idle()
        async with db.sessions() as s:
            open_ = (await s.execute(select(Message.id).where(Message.status.in_(("queued", "sending", "sent")))
                                     )).first()
        if open_ is None:
            break
        await asyncio.sleep(0.02)
    async with db.sessions() as s:
        messages = (await s.execute(select(Message).where(Message.sending_id == sending_id).order_by(Message.id)
                                    )).scalars().all()
        out = []
        for m in messages:
            kinds = (await s.execute(select(Event.kind).where(Event.message_id == m.id).order_by(Event.id))).scalars()
            out.append((m.recipient, m.status, m.parts, list(kinds)))
        counters = {c.metric: c.value for c in (await s.execute(
            select(StatCounter).where(StatCounter.scope == "sending", StatCounter.scope_id == sending_id))).scalars()}
    return out, counters


@pytest.mark.parametrize("query", [{}, {"window": "10", "binds": "2"}], ids=["one-at-a-time", "window-10-binds-2"])
async def test_engine_outcome_is_the_same_with_a_window(app: Any, db: Database, account: NewAccount, runner: Runner,
                                                        smsc: FakeSmsc, query: dict[str, str]) -> None:
    smsc.answer_delay = 0.005
    messages, counters = await _outcome(db, account, runner, app, smsc, query)
    expected = []
    for i in range(12):
        to = f"3466600{i:04d}"
        if i == 7:
            expected.append((to, "rejected", 1, ["rejected"]))
        elif i == 3:
            expected.append((to, "undelivered", 1, ["sent", "undelivered"]))
        else:
            expected.append((to, "delivered", 2 if i == 5 else 1, ["sent", "delivered"]))
    assert messages == expected
    assert counters["sent"] == 11 and counters["delivered"] == 10 and counters["undelivered"] == 1
    assert counters["rejected"] == 1
    assert len(smsc.submitted) == 12, "every part submitted once"


async def test_a_refused_second_bind_costs_no_message(smsc: FakeSmsc) -> None:
    provider = build_provider("sms", smsc.url(window="2", binds="2"))
    assert isinstance(provider, SmppProvider)
    try:
        assert (await provider.send(_outbound("34666000001", "first", "1"))).accepted
        smsc.password = "changed"  # the SMSC now refuses every new bind
        await provider.listen()
        results = await asyncio.gather(*(provider.send(_outbound(f"3466600{i:04d}", "more", str(i)))
                                         for i in range(2, 8)))
        assert all(r.accepted for r in results), "all sent on the session that is bound"
        assert smsc.binds == 1
    finally:
        await provider.close()


async def test_pdus_of_one_turn_leave_together_in_order_and_an_smsc_unbind_is_answered_before_the_close() -> None:
    """Queued PDUs are written at the end of the event loop's turn: none is lost or reordered, not even the answer
    to an unbind the SMSC sends, which the bind writes just before it closes the connection."""
    from tidings.channels.sms.smpp import make_pdu, parse_pdu, read_pdu

    seen: list[tuple[str, int]] = []
    closed = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        bind = parse_pdu(await read_pdu(reader))
        writer.write(make_pdu("bind_transceiver_resp", bind.sequence, system_id="raw").generate())
        submits = [parse_pdu(await read_pdu(reader)) for _ in range(5)]
        seen.extend((p.command, p.sequence) for p in submits)
        # Five answers in one packet wake five lanes in one turn; then the SMSC ends the session.
        writer.write(b"".join(make_pdu("submit_sm_resp", p.sequence, message_id=f"m{p.sequence}").generate()
                              for p in submits) + make_pdu("unbind", 900).generate())
        answer = parse_pdu(await read_pdu(reader))
        seen.append((answer.command, answer.sequence))
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.readexactly(1)  # the client closes after answering
        closed.set()
        writer.close()

    async with _raw_smsc(serve, window=5) as provider:
        results = await asyncio.gather(*(provider.send(_outbound(f"3460000000{i}", "Hi", str(i))) for i in range(5)))
        assert all(r.accepted for r in results)
        await asyncio.wait_for(closed.wait(), 5)
        sequences = [seq for command, seq in seen if command == "submit_sm"]
        assert sequences == sorted(sequences) and len(sequences) == 5
        assert seen[-1] == ("unbind_resp", 900)


@contextlib.asynccontextmanager
async def _raw_smsc(serve: Any, *, window: int) -> AsyncIterator[SmppProvider]:
    """A provider bound to a hand-written SMSC (`serve` answers each connection), both closed after."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    provider = build_provider("sms", f"smpp://sys:pw@127.0.0.1:{port}?window={window}")
    assert isinstance(provider, SmppProvider)
    try:
        yield provider
    finally:
        await provider.close()
        server.close()
        await server.wait_closed()


async def test_pdus_split_anywhere_across_reads_are_read_whole_and_a_bad_length_ends_the_session() -> None:
    """The bind splits what the socket holds into PDUs itself: answers and receipts cut at any byte, or several in
    one read, are each read once; a length no PDU can have ends the session, and the waiting send fails."""
    from tidings.channels.sms.smpp import make_pdu, parse_pdu, read_pdu

    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections > 1:
            writer.close()  # the send's second try finds the SMSC gone
            return
        bind = parse_pdu(await read_pdu(reader))
        writer.write(make_pdu("bind_transceiver_resp", bind.sequence, system_id="raw").generate())
        submits = [parse_pdu(await read_pdu(reader)) for _ in range(3)]
        stream = b"".join(
            make_pdu("submit_sm_resp", p.sequence, message_id=f"m{p.sequence}").generate()
            + make_pdu("deliver_sm", 500 + p.sequence, esm_class=4,
                       short_message=f"id:m{p.sequence} sub:001 dlvrd:001 submit date:2612051300 "
                                     f"done date:2612051301 stat:DELIVRD err:000 text:".encode()).generate()
            for p in submits)
        for cut in (1, 3, 7, 20, 33, 100, 1000):  # pieces of every size, each its own write and read
            piece, stream = stream[:cut], stream[cut:]
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(stream)
        acks = [parse_pdu(await read_pdu(reader)) for _ in range(3)]
        assert [a.command for a in acks] == ["deliver_sm_resp"] * 3
        late = parse_pdu(await read_pdu(reader))
        writer.write(struct.pack(">LLLL", 9, 0x80000004, 0, late.sequence))  # shorter than any PDU's header
        await writer.drain()
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.read()

    async with _raw_smsc(serve, window=3) as provider:
        results = await asyncio.gather(*(provider.send(_outbound(f"3460000000{i}", "Hi", str(i))) for i in range(3)))
        assert [r.provider_id for r in results] == ["m2", "m3", "m4"]
        receipts = [await asyncio.wait_for(provider.receipts.get(), 5) for _ in range(3)]
        assert sorted((r.provider_id, r.status, r.reference) for r in receipts) == [
            ("m2", "delivered", "0"), ("m3", "delivered", "1"), ("m4", "delivered", "2")]
        failed = await provider.send(_outbound("34600000009", "Hi", "9"))
        assert not failed.accepted and failed.code == "connection" and connections == 2
