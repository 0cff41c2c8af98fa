"""A small SMPP server (SMSC) for tests and benchmarks, built on smpplib's PDU classes.

It binds transceivers (checking system_id and password), answers submit_sm with an id and, when a
receipt was asked for, sends a deliver_sm receipt ("id:... stat:DELIVRD err:000") with the chosen
stat; it answers enquire_link and unbind. With `receipts_any_bind` a receipt goes to the bound sessions in turn,
not only to the one that submitted its message, as many SMSCs deliver them. Run alone:
`python tests/fakes/smsc.py --port 2775 [--receipts-any-bind]`.

Receipts are written as bytes (`deliver_sm_pdu`, equal to smpplib's output by a test) and their answers
counted from the header: a real SMSC does this work on its own machine, and smpplib's generic PDU
object (about 40 µs a receipt) made the benchmarks measure the fake's CPU on the shared cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from smpplib import consts

from tidings.channels.sms.smpp import _DELIVER_SM, _DELIVER_SM_RESP, _cstr, make_pdu, parse_pdu, read_pdu

_RESP_COMMAND = struct.pack(">L", _DELIVER_SM_RESP)


def deliver_sm_pdu(sequence: int, *, source_addr: str, destination_addr: str, short_message: bytes) -> bytes:
    """A receipt's deliver_sm (source TON/NPI 1/1, esm_class 0x04), as smpplib generates it."""
    body = b"".join((b"\0\1\1", _cstr(source_addr, 21), b"\0\0", _cstr(destination_addr, 21),
                     b"\4\0\0\0\0\0\0\0\0", bytes((len(short_message),)), short_message))
    return struct.pack(">LLLL", 16 + len(body), _DELIVER_SM, 0, sequence) + body


def receipt_text(message_id: str, stat: str, stamp: str) -> bytes:
    """The standard receipt text, its submit and done dates both `stamp` (YYMMDDhhmm)."""
    err = "000" if stat == "DELIVRD" else "001"
    return (f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:{stamp} done date:{stamp} stat:{stat} err:{err} text:").encode()


@dataclass
class Submitted:
    """One submit_sm the SMSC accepted."""

    message_id: str
    source: str
    destination: str
    esm_class: int
    data_coding: int
    short_message: bytes
    registered_delivery: int
    source_ton: int
    source_npi: int

    @property
    def udh(self) -> bytes:
        return self.short_message[: self.short_message[0] + 1] if self.esm_class & 0x40 else b""

    @property
    def payload(self) -> bytes:
        return self.short_message[len(self.udh):]


@dataclass
class FakeSmsc:
    """Set `stat` (or `stat_for[destination]`), `refuse[destination] = status`, `receipt_delay` as needed.

    `answer_delay` (or `answer_delay_for[destination]`) holds each submit_sm_resp back that long, so
    answers can overlap and come back out of order; `max_in_flight` is the most submit_sm one
    connection had unanswered at once.
    """

    system_id: str = "tidings"
    password: str = "secret"
    host: str = "127.0.0.1"
    port: int = 0
    stat: str = "DELIVRD"
    stat_for: dict[str, str] = field(default_factory=dict)
    refuse: dict[str, int] = field(default_factory=dict)
    receipt_delay: float = 0.0
    answer_delay: float = 0.0
    answer_delay_for: dict[str, float] = field(default_factory=dict)
    keep: bool = True
    on_submit: Any = None  # called with each accepted Submitted (the soak's counter)
    submitted: list[Submitted] = field(default_factory=list)
    binds: int = 0
    enquire_links: int = 0
    receipts_acked: int = 0
    max_in_flight: int = 0
    _in_flight: dict[asyncio.StreamWriter, int] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _ids: Any = field(default_factory=lambda: itertools.count(0x1000))
    _seq: Any = field(default_factory=lambda: itertools.count(1))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _minute: tuple[int, ...] = ()
    _stamp: str = ""
    receipts_any_bind: bool = False
    _bound: list[asyncio.StreamWriter] = field(default_factory=list)
    _turn: Any = field(default_factory=itertools.count)

    async def start(self) -> FakeSmsc:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, **query: str) -> str:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return f"smpp://{self.system_id}:{self.password}@{self.host}:{self.port}" + (f"?{qs}" if qs else "")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def drop_connections(self) -> None:
        """Close every client connection (a restarted SMSC)."""
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def __aenter__(self) -> FakeSmsc:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        bound = False
        try:
            while True:
                data = await read_pdu(reader)
                if data[4:8] == _RESP_COMMAND:  # deliver_sm_resp: only counted
                    self.receipts_acked += 1
                    continue
                pdu = parse_pdu(data)
                name, seq = pdu.command, pdu.sequence
                if name in ("bind_transceiver", "bind_transmitter", "bind_receiver"):
                    ok = pdu.system_id.decode() == self.system_id and pdu.password.decode() == self.password
                    bound = ok
                    self.binds += ok
                    if ok:
                        self._bound.append(writer)
                    status = consts.SMPP_ESME_ROK if ok else consts.SMPP_ESME_RINVPASWD
                    await self._send(writer, make_pdu(name + "_resp", seq, status=status,
                                                      system_id="fakesmsc").generate())
                elif name == "submit_sm":
                    if not bound:
                        await self._send(writer, make_pdu("submit_sm_resp", seq, status=0x04).generate())
                        continue
                    delay = self.answer_delay_for.get(pdu.destination_addr.decode(), self.answer_delay)
                    if delay:
                        self._in_flight[writer] = self._in_flight.get(writer, 0) + 1
                        self.max_in_flight = max(self.max_in_flight, self._in_flight[writer])
                        self._spawn(self._submit_later(writer, pdu, delay))
                    else:
                        await self._submit(writer, pdu)
                elif name == "enquire_link":
                    self.enquire_links += 1
                    await self._send(writer, make_pdu("enquire_link_resp", seq).generate())
                elif name == "unbind":
                    await self._send(writer, make_pdu("unbind_resp", seq).generate())
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(ValueError):
                self._bound.remove(writer)
            writer.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit_later(self, writer: asyncio.StreamWriter, pdu: Any, delay: float) -> None:
        await asyncio.sleep(delay)
        self._in_flight[writer] -= 1
        if not writer.is_closing():
            await self._submit(writer, pdu)

    async def _submit(self, writer: asyncio.StreamWriter, pdu: Any) -> None:
        destination = pdu.destination_addr.decode()
        if destination in self.refuse:
            await self._send(writer, make_pdu("submit_sm_resp", pdu.sequence, status=self.refuse[destination])
                             .generate())
            return
        message_id = f"{next(self._ids):x}"
        submitted = Submitted(message_id, pdu.source_addr.decode(), destination, int(pdu.esm_class or 0),
                              int(pdu.data_coding or 0), bytes(pdu.short_message or b""),
                              int(pdu.registered_delivery or 0), int(pdu.source_addr_ton or 0),
                              int(pdu.source_addr_npi or 0))
        if self.keep:
            self.submitted.append(submitted)
        if self.on_submit is not None:
            self.on_submit(submitted)
        await self._send(writer, make_pdu("submit_sm_resp", pdu.sequence, message_id=message_id).generate())
        if submitted.registered_delivery & 1:
            if self.receipt_delay:
                self._spawn(self._receipt_later(writer, submitted))
            else:  # after this answer, as a receipt comes: a later turn of the loop
                asyncio.get_running_loop().call_soon(self._receipt, writer, submitted)

    async def _receipt_later(self, writer: asyncio.StreamWriter, submitted: Submitted) -> None:
        await asyncio.sleep(self.receipt_delay)
        self._receipt(writer, submitted)
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    def _receipt(self, writer: asyncio.StreamWriter, submitted: Submitted) -> None:
        if self.receipts_any_bind and self._bound:
            writer = self._bound[next(self._turn) % len(self._bound)]
        if writer.is_closing():
            return
        now = datetime.now(UTC)
        minute = (now.year, now.month, now.day, now.hour, now.minute)
        if minute != self._minute:
            self._minute, self._stamp = minute, now.strftime("%y%m%d%H%M")
        text = receipt_text(submitted.message_id, self.stat_for.get(submitted.destination, self.stat), self._stamp)
        writer.write(deliver_sm_pdu(next(self._seq), source_addr=submitted.destination,
                                    destination_addr=submitted.source, short_message=text))


async def _main(port: int, stat: str, receipts_any_bind: bool) -> None:
    smsc = await FakeSmsc(port=port, stat=stat, keep=False, receipts_any_bind=receipts_any_bind).start()
    print(f"fake SMSC listening: {smsc.url()}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--stat", default="DELIVRD")
    parser.add_argument("--receipts-any-bind", action="store_true")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.port, args.stat, args.receipts_any_bind))
