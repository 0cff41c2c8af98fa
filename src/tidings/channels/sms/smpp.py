"""An SMPP 3.4 provider: bound transceiver sessions, windowed submit_sm with UDH concatenation, receipts.

`smpp://system_id:password@host:2775?system_type=&source_ton=&source_npi=&dest_ton=1&dest_npi=1`
Other options: `receipts=false` (do not ask for delivery receipts), `timeout=10s` (answer wait),
`enquire_link=30s` (keep-alive), `window=10` (submit_sm in flight per bind, answers matched by sequence
number; default 1: one message at a time, its parts together), `binds=2` (transceiver sessions, default
1), `remember=100000` (part ids kept in memory to map receipts to messages).

PDUs are built and parsed with smpplib's PDU classes; the session itself is asyncio streams, because
smpplib's client is blocking and aiosmpplib is not installed here. Parts come from core.sms (already
split, escape pairs kept whole); each is sent with an 8-bit concatenation UDH (IEI 0x00) and
data_coding 0x00 (GSM default alphabet, unpacked septets) or 0x08 (UCS-2). Receipts arriving as
deliver_sm go on `receipts` for the engine; the password never appears in logs or errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import re
import struct
from collections import OrderedDict, deque
from datetime import UTC, datetime
from typing import Any

import structlog
from smpplib import consts, smpp

from tidings.channels.base import SMS, OutboundMessage, ProviderError, ProviderUrl, SendResult, parse_duration
from tidings.channels.registry import register
from tidings.channels.sms import MESSAGE_STATE_TO_STAT, MultipartResult, Receipt, status_for_stat
from tidings.core import sms

log = structlog.get_logger("tidings.smpp")
_DRAIN_ABOVE = 64 * 1024  # bytes waiting in the socket's buffer before a writer waits for it to drain

BIND_STATUSES = {0x0D: "bind failed", 0x0E: "invalid password", 0x0F: "invalid system_id"}
# submit_sm_resp statuses worth retrying later: system error, queue full, throttled, temporary app error.
TRANSIENT = {0x08, 0x14, 0x45, 0x58, 0x64}
_RECEIPT_FIELD = re.compile(r"(id|stat|err|done date|submit date|sub|dlvrd):(\S+)", re.IGNORECASE)
# The receipt text as SMSCs write it (SMPP 3.4 appendix B), read in one match of its ASCII bytes; anything else by
# _RECEIPT_FIELD. Its text, if any, holds no colon, so no field again (the general reading's last one would win).
# In ASCII, str's \S also leaves out the separators 0x1C-0x1F: so does `_NOT_SPACE`.
_NOT_SPACE = rb"[^\s\x1c-\x1f]"
_STANDARD_RECEIPT = re.compile(
    rb"id:(%s+) sub:%s+ dlvrd:%s+ submit date:%s+ done date:(%s+) stat:(%s+) err:(%s+)(?: text:[^:]*)?\Z"
    % ((_NOT_SPACE,) * 7))
_MAX_PDU = 64 * 1024
_READ_SIZE = 64 * 1024
_LENGTH = struct.Struct(">L")


class _Seq:
    """smpplib's PDUs ask their client for sequence numbers; we set them ourselves, so this only satisfies them."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


_SEQ = _Seq()


def make_pdu(name: str, sequence: int, **fields: Any) -> Any:
    """An smpplib PDU with its sequence number set (smpplib ignores a `sequence` keyword)."""
    pdu = smpp.make_pdu(name, client=_SEQ, **fields)
    pdu.sequence = sequence
    return pdu


def parse_pdu(data: bytes) -> Any:
    """An smpplib PDU from its bytes (header included)."""
    return smpp.parse_pdu(data, client=_SEQ)


_SUBMIT_SM, _SUBMIT_SM_RESP, _DELIVER_SM, _DELIVER_SM_RESP = 0x00000004, 0x80000004, 0x00000005, 0x80000005


def _cstr(text: str, limit: int) -> bytes:
    # smpplib's rule: a C-Octet String longer than its field is cut to limit - 1 characters, then NUL.
    return text[:limit - 1].encode("latin-1") + b"\0"


def submit_sm_pdu(sequence: int, *, source_addr: str, source_addr_ton: int, source_addr_npi: int,
                  destination_addr: str, dest_addr_ton: int, dest_addr_npi: int, esm_class: int,
                  registered_delivery: int, data_coding: int, short_message: bytes, service_type: str = "",
                  ) -> bytes:
    """A submit_sm's bytes, exactly as smpplib generates them, without building its PDU object.

    smpplib spends most of a submit on generic field handling (about 40 attribute sets per PDU);
    this writes the mandatory fields of the one PDU the hot path sends. Equality with smpplib's
    output is a test.
    """
    if len(short_message) > 254:
        raise ValueError("short_message longer than 254 octets")
    body = b"".join((
        _cstr(service_type, 6), bytes((source_addr_ton, source_addr_npi)), _cstr(source_addr, 21),
        bytes((dest_addr_ton, dest_addr_npi)), _cstr(destination_addr, 21),
        bytes((esm_class, 0, 0)), b"\0\0",  # protocol_id, priority_flag; no schedule or validity times
        bytes((registered_delivery, 0, data_coding, 0, len(short_message))), short_message))
    return struct.pack(">LLLL", 16 + len(body), _SUBMIT_SM, 0, sequence) + body


def deliver_sm_resp_pdu(sequence: int) -> bytes:
    """A deliver_sm_resp's bytes (status 0, empty message_id), as smpplib generates them."""
    return struct.pack(">LLLL", 17, _DELIVER_SM_RESP, 0, sequence) + b"\0"


class SubmitAccepted:
    """A successful submit_sm_resp read without smpplib (the common answer on the hot path)."""

    __slots__ = ("message_id", "sequence")
    command = "submit_sm_resp"
    status = consts.SMPP_ESME_ROK

    def __init__(self, sequence: int, message_id: str) -> None:
        self.sequence, self.message_id = sequence, message_id

    def is_response(self) -> bool:
        return True


class DeliverSm:
    """The fields of a deliver_sm that receipts are read from, parsed without smpplib."""

    __slots__ = ("esm_class", "message_payload", "message_state", "receipted_message_id", "sequence",
                 "short_message")
    command = "deliver_sm"

    def __init__(self, sequence: int) -> None:
        self.sequence = sequence
        self.esm_class = 0
        self.short_message: bytes | None = None
        self.message_payload: bytes | None = None
        self.receipted_message_id: bytes | None = None
        self.message_state: int | None = None

    def is_response(self) -> bool:
        return False


_TLV_RECEIPTED_MESSAGE_ID, _TLV_MESSAGE_STATE, _TLV_MESSAGE_PAYLOAD = 0x001E, 0x0427, 0x0424


def _deliver_sm(sequence: int, body: bytes) -> DeliverSm:
    pdu = DeliverSm(sequence)
    index = body.index  # a field's end missing raises ValueError: smpplib reads the PDU instead
    at = index(b"\0") + 3  # service_type; source_addr_ton, source_addr_npi
    at = index(b"\0", at) + 3  # source_addr; dest_addr_ton, dest_addr_npi
    at = index(b"\0", at) + 1  # destination_addr
    pdu.esm_class = body[at]
    at = index(b"\0", at + 3) + 1  # esm_class, protocol_id, priority_flag; schedule_delivery_time
    at = index(b"\0", at) + 5  # validity_period; registered_delivery, replace_if_present_flag, data_coding, default id
    length = body[at]
    pdu.short_message = body[at + 1:at + 1 + length] or None
    at += 1 + length
    while at + 4 <= len(body):
        tag, size = struct.unpack_from(">HH", body, at)
        value = body[at + 4:at + 4 + size]
        at += 4 + size
        if tag == _TLV_RECEIPTED_MESSAGE_ID:
            pdu.receipted_message_id = value.rstrip(b"\0")
        elif tag == _TLV_MESSAGE_STATE and value:
            pdu.message_state = value[0]
        elif tag == _TLV_MESSAGE_PAYLOAD:
            pdu.message_payload = value
    if at != len(body):
        raise ValueError("truncated deliver_sm")
    return pdu


def parse_fast(data: bytes) -> Any:
    """A successful submit_sm_resp and a deliver_sm without smpplib objects (the two PDUs every message
    brings), anything else through smpplib; a deliver_sm we cannot read goes to smpplib too."""
    command, status, sequence = struct.unpack_from(">LLL", data, 4)
    if command == _SUBMIT_SM_RESP and status == 0 and len(data) > 16:
        return SubmitAccepted(sequence, data[16:].split(b"\0", 1)[0].decode("latin-1"))
    if command == _DELIVER_SM:
        with contextlib.suppress(ValueError, IndexError, struct.error):
            return _deliver_sm(sequence, data[16:])
    return parse_pdu(data)


async def read_pdu(reader: asyncio.StreamReader) -> bytes:
    """One whole PDU from the stream; raises IncompleteReadError at EOF."""
    header = await reader.readexactly(4)
    (length,) = struct.unpack(">L", header)
    if not 16 <= length <= _MAX_PDU:
        raise ConnectionError(f"bad PDU length {length}")
    return header + await reader.readexactly(length - 4)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def data_coding(encoding: str | None, flash: bool = False) -> int:
    """0x00 GSM default alphabet or 0x08 UCS-2; with `flash`, the class-0 variant (0x10 / 0x18)."""
    ucs2 = encoding == "utf-16"
    if flash:
        return 0x18 if ucs2 else 0x10
    return 0x08 if ucs2 else 0x00


def encode_parts(parts: list[str], encoding: str | None, ref: int, *, concatenate: bool = True,
                 ) -> tuple[list[bytes], bool]:
    """Each part's short_message (UDH first when there are several) and whether UDH is present.

    With `concatenate=False` (the splitParts option) the parts go out as separate SMS, without the
    concatenation header.
    """
    enc = encoding if encoding in sms.ENCODINGS else "gsm"
    payloads = [sms.encode(p, enc) for p in parts] or [b""]
    shift = b""
    if enc == "gsm-pt":
        # National language locking and single shift tables, Portuguese (3GPP TS 23.038 6.2.1.2.4).
        shift = bytes((0x25, 0x01, 0x04, 0x24, 0x01, 0x04))
    if len(payloads) == 1 or not concatenate:
        return ([bytes((len(shift),)) + shift + p for p in payloads], True) if shift else (payloads, False)
    total = len(payloads)
    out = []
    for i, payload in enumerate(payloads, start=1):
        ies = bytes((0x00, 0x03, ref & 0xFF, total, i)) + shift
        out.append(bytes((len(ies),)) + ies + payload)
    return out, True


def parse_receipt(pdu: Any) -> Receipt | None:
    """A Receipt from a deliver_sm that is an SMSC delivery receipt, else None (a mobile-originated SMS)."""
    raw = getattr(pdu, "short_message", None) or getattr(pdu, "message_payload", None)
    if isinstance(raw, bytes) and raw.isascii():
        # The fields the general reading would find, read from the bytes in one match, without decoding the text
        # or the general reading's list and dict of every field (most of the CPU of a receipt's deliver_sm).
        standard = _STANDARD_RECEIPT.match(raw)
        if standard is not None:
            provider, done, stat_field, err = (group.decode("ascii") for group in standard.groups())
            stat = stat_field.upper()
            return Receipt(SMS, _text(getattr(pdu, "receipted_message_id", None)) or provider, stat,
                           status_for_stat(stat), err, _done_date(done))
    text = _text(raw)
    fields = {k.lower(): v for k, v in _RECEIPT_FIELD.findall(text)}
    is_receipt = (int(getattr(pdu, "esm_class", 0) or 0) & 0x3C) == 0x04 or ("id" in fields and "stat" in fields)
    if not is_receipt:
        return None
    provider_id = _text(getattr(pdu, "receipted_message_id", None)) or fields.get("id", "")
    state = getattr(pdu, "message_state", None)
    stat = fields.get("stat", "").upper() or MESSAGE_STATE_TO_STAT.get(int(state or 0), "UNKNOWN")
    if not provider_id:
        return None
    return Receipt(SMS, provider_id, stat, status_for_stat(stat), fields.get("err", ""),
                   _done_date(fields.get("done date", "")))


@functools.lru_cache(maxsize=256)  # a burst of receipts shares a few minutes
def _done_date(done: str) -> datetime | None:
    """A receipt's "done date", YYMMDDhhmm[ss], in UTC (read as strptime's %y would: 69-99 are 19xx)."""
    if len(done) not in (10, 12) or not (done.isascii() and done.isdigit()):
        return None
    year = int(done[0:2])
    try:
        return datetime(year + (1900 if year >= 69 else 2000), int(done[2:4]), int(done[4:6]), int(done[6:8]),
                        int(done[8:10]), int(done[10:12] or 0), tzinfo=UTC)
    except ValueError:
        return None


class SmppError(Exception):
    """A failed SMPP exchange; `status` is the command_status when the SMSC answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _Window:
    """At most `size` submit_sm in flight, waiters served in order.

    asyncio.Semaphore (3.11) scans all its waiters on every acquire; with a full window that is the hot path.
    """

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just as the waiter was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot goes straight to the first waiter
                return
        self.free += 1


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class _Bind:
    """One bound transceiver session: its connection, sequence numbers and submit_sm in flight."""

    def __init__(self, owner: SmppProvider) -> None:
        self.owner = owner
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._seq = itertools.count(1)
        self._lock = asyncio.Lock()
        self._part_of: dict[int, tuple[str, int]] = {}  # submit_sm sequence -> (message reference, part no.)
        self._out: list[bytes] = []  # PDUs queued for the end of this turn of the event loop
        # submit_sm in flight on this bind; with a window of one, a message's parts still go out together.
        self.window = _Window(owner.window) if owner.window > 1 else None
        self.sending = 0  # messages being sent on this bind, to pick the least busy one

    @property
    def bound(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    def _next_seq(self) -> int:
        seq = next(self._seq)
        if seq >= 0x7FFFFFFF:
            self._seq = itertools.count(1)
            seq = next(self._seq)
        return seq

    async def submit(self, part: tuple[str, int], **fields: Any) -> Any:
        """One submit_sm (within the window); the answer PDU."""
        if self.window is None:
            return await self._request("submit_sm", part, **fields)
        await self.window.acquire()
        try:
            return await self._request("submit_sm", part, **fields)
        finally:
            self.window.release()

    async def _request(self, name: str, part: tuple[str, int] | None = None, **fields: Any) -> Any:
        if self._writer is None:
            raise SmppError("not connected")
        seq = self._next_seq()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[seq] = future
        if part is not None:
            self._part_of[seq] = part
        # A timer on the answer instead of asyncio.wait_for, which costs a task's worth of callbacks per PDU.
        expiry = loop.call_later(self.owner.timeout, _expire, future)
        try:
            data = submit_sm_pdu(seq, **fields) if name == "submit_sm" else make_pdu(name, seq, **fields).generate()
            await self._write(data)
            return await future
        finally:
            expiry.cancel()
            self._pending.pop(seq, None)
            self._part_of.pop(seq, None)

    async def _write(self, data: bytes) -> None:
        """Queue a whole PDU, in call order, for this turn's write (write() does not yield before it is queued)."""
        writer = self._writer
        if writer is None or writer.is_closing():
            raise SmppError("not connected")
        self._out.append(data)
        if len(self._out) == 1:
            # The PDUs of one turn of the event loop (the lanes that answers read in it woke, the receipts'
            # acknowledgements) leave in one write: a send call each cost the worker and the SMSC a wake-up each.
            asyncio.get_running_loop().call_soon(self._flush)
        elif writer.transport.get_write_buffer_size() > _DRAIN_ABOVE:
            self._flush()
            await writer.drain()

    def _flush(self) -> None:
        out, self._out = self._out, []
        writer = self._writer
        if out and writer is not None and not writer.is_closing():
            writer.write(out[0] if len(out) == 1 else b"".join(out))

    async def ensure(self) -> None:
        if self.bound:
            return  # every send asks: the lock only when there is binding to do
        owner = self.owner
        async with self._lock:
            if self.bound:
                return
            await self.drop()
            try:
                self._reader, self._writer = await asyncio.wait_for(
                    asyncio.open_connection(owner.host, owner.port), owner.timeout)
            except (OSError, TimeoutError) as exc:
                raise SmppError(f"cannot connect to {owner.host}:{owner.port}: {type(exc).__name__}") from None
            self._tasks = [asyncio.create_task(self._read_loop())]
            resp = await self._request("bind_transceiver", system_id=owner.system_id, password=owner.password,
                                       system_type=owner.system_type, interface_version=0x34, addr_ton=0,
                                       addr_npi=0, address_range="")
            if resp.status != consts.SMPP_ESME_ROK:
                await self.drop()
                raise SmppError(BIND_STATUSES.get(resp.status, f"bind refused (status 0x{resp.status:02X})"),
                                resp.status)
            if owner.keepalive > 0:
                self._tasks.append(asyncio.create_task(self._keepalive_loop()))
            log.info("smpp bound", url=owner.url.redacted())

    async def _read_loop(self) -> None:
        reader = self._reader
        assert reader is not None
        redacted = self.owner.url.redacted()
        try:
            # What the socket holds, split into PDUs here: two readexactly() a PDU cost more than the PDU's reading.
            rest = b""
            while True:
                chunk = await reader.read(_READ_SIZE)
                if not chunk:
                    raise asyncio.IncompleteReadError(rest, None)
                data = rest + chunk if rest else chunk
                at, size = 0, len(data)
                while size - at >= 4:
                    (length,) = _LENGTH.unpack_from(data, at)
                    if not 16 <= length <= _MAX_PDU:
                        raise ConnectionError(f"bad PDU length {length}")
                    if size - at < length:
                        break
                    pdu = parse_fast(data[at:at + length])
                    at += length
                    if pdu.is_response():
                        self._on_response(pdu)
                    else:
                        await self._on_request(pdu)
                rest = data[at:]
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            log.info("smpp connection closed", url=redacted, reason=type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - a garbled PDU ends the session, never the worker
            log.warning("smpp session failed", url=redacted, error=type(exc).__name__)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(SmppError("connection lost"))
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.close()

    def _on_response(self, pdu: Any) -> None:
        part = self._part_of.get(pdu.sequence)
        if part is not None and pdu.status == consts.SMPP_ESME_ROK and pdu.command == "submit_sm_resp":
            # Remembered here, not in send(): the receipt can be the very next PDU.
            self.owner._remember(_text(pdu.message_id), part)
        future = self._pending.get(pdu.sequence)
        if future is not None and not future.done():
            future.set_result(pdu)

    async def _on_request(self, pdu: Any) -> None:
        if pdu.command == "deliver_sm":
            receipt = parse_receipt(pdu)
            if receipt is not None:
                known = self.owner._parts.get(receipt.provider_id)
                if known is not None:
                    receipt.reference, receipt.part = known
                self.owner.receipts.put_nowait(receipt)
            await self._write(deliver_sm_resp_pdu(pdu.sequence))
        elif pdu.command == "enquire_link":
            await self._write(make_pdu("enquire_link_resp", pdu.sequence).generate())
        elif pdu.command == "unbind":
            await self._write(make_pdu("unbind_resp", pdu.sequence).generate())
            self._flush()
            if self._writer is not None:
                self._writer.close()
        else:
            await self._write(make_pdu("generic_nack", pdu.sequence, status=consts.SMPP_ESME_RINVCMDID).generate())

    async def _keepalive_loop(self) -> None:
        while self.bound:
            await asyncio.sleep(self.owner.keepalive)
            try:
                await self._request("enquire_link")
            except (SmppError, TimeoutError, OSError):
                await self.drop()
                return

    async def drop(self) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for task in self._tasks:
            if task is not current:
                with contextlib.suppress(BaseException):
                    await task
        self._tasks = []
        self._flush()  # an unbind's answer queued this turn still leaves
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            # Closing a broken connection must not raise.
            with contextlib.suppress(Exception):
                writer.close()

    async def close(self) -> None:
        if self.bound:
            with contextlib.suppress(SmppError, TimeoutError, OSError):
                await asyncio.wait_for(self._request("unbind"), 2)
        await self.drop()


class SmppProvider:
    """`binds` transceiver sessions; send() submits each part on the least busy one, returns the first part's id.

    `concurrency` tells the dispatcher how many messages it may have in send() at once: `window`
    submit_sm in flight per bind, answers matched by sequence number; `connections` how many binds.
    """

    channel = SMS
    url_scheme = "smpp"

    def __init__(self, url: ProviderUrl) -> None:
        if not url.host or not url.username:
            raise ProviderError("an smpp:// URL needs system_id@host, e.g. smpp://sysid:secret@smsc:2775")
        self.url = url
        self.host, self.port = url.host, url.port or 2775
        self.system_id, self.password = url.username, url.password or ""
        q = url.query
        self.system_type = q.get("system_type", "")
        try:
            self.source_ton = int(q["source_ton"]) if q.get("source_ton") else None
            self.source_npi = int(q["source_npi"]) if q.get("source_npi") else None
            self.dest_ton, self.dest_npi = int(q.get("dest_ton") or 1), int(q.get("dest_npi") or 1)
            self.timeout = parse_duration(q.get("timeout") or "10s")
            self.keepalive = parse_duration(q.get("enquire_link") or "30s")
            self.window = int(q.get("window") or 1)
            self.binds = int(q.get("binds") or 1)
            self.remember = int(q.get("remember") or 100_000)
        except ValueError as exc:
            raise ProviderError("an smpp:// URL option is not a number") from exc
        if self.window > 1000 and not q.get("remember"):
            # Before windowing, `window` was the number of part ids remembered (documented as window=100000).
            log.warning("smpp window= above 1000 read as remember=; window now counts submit_sm in flight",
                        url=url.redacted())
            self.remember, self.window = self.window, 1
        if not (1 <= self.window <= 1000 and 1 <= self.binds <= 32 and self.remember >= 1):
            raise ProviderError("smpp:// window must be 1-1000, binds 1-32, remember at least 1")
        self.concurrency = self.window * self.binds
        self.connections = self.binds
        self.want_receipts = url.flag("receipts", True)
        self.receipts: asyncio.Queue[Receipt] = asyncio.Queue()
        self._ref = itertools.count(1)
        self._parts: OrderedDict[str, tuple[str, int]] = OrderedDict()  # part id -> (message reference, part no.)
        self._binds = [_Bind(self) for _ in range(self.binds)]
        self._retry_after = 0.0

    @property
    def bound(self) -> bool:
        return any(b.bound for b in self._binds)

    def _source(self, sender: str) -> tuple[int, int]:
        numeric = sender.isdigit()
        ton = self.source_ton if self.source_ton is not None else (1 if numeric else 5)
        npi = self.source_npi if self.source_npi is not None else (1 if numeric else 0)
        return ton, npi

    def _remember(self, part_id: str, part: tuple[str, int]) -> None:
        self._parts[part_id] = part
        while len(self._parts) > self.remember:
            self._parts.popitem(last=False)

    def _pick(self) -> _Bind:
        # The least busy bound session (ties go to the first, so one bind serves a trickle and the rest a
        # burst); an unbound one only when none is bound: listen() binds the others, and an SMSC that
        # refuses a second bind then costs no message a failed send.
        return min(self._binds, key=lambda b: (not b.bound, b.sending))

    async def send(self, message: OutboundMessage) -> SendResult:
        parts = message.parts or [message.body]
        try:
            payloads, udh = encode_parts(parts, message.encoding, next(self._ref),
                                         concatenate=not message.options.get("split_parts"))
        except (sms.UnencodableText, ValueError) as exc:
            return SendResult(False, permanent=True, code="encoding", detail=str(exc))
        ton, npi = self._source(message.sender)
        coding = data_coding(message.encoding, bool(message.options.get("flash")))
        bind = self._pick()
        bind.sending += 1
        try:
            return await self._send_on(bind, message, payloads, udh, ton, npi, coding)
        finally:
            bind.sending -= 1

    async def _send_on(self, bind: _Bind, message: OutboundMessage, payloads: list[bytes], udh: bool, ton: int,
                       npi: int, coding: int) -> SendResult:
        for attempt in (1, 2):
            try:
                await bind.ensure()
                submits = [bind.submit(
                    (message.reference, n), source_addr_ton=ton, source_addr_npi=npi,
                    source_addr=message.sender, dest_addr_ton=self.dest_ton, dest_addr_npi=self.dest_npi,
                    destination_addr=message.recipient, esm_class=0x40 if udh else 0x00,
                    registered_delivery=1 if self.want_receipts else 0, data_coding=coding,
                    short_message=payload) for n, payload in enumerate(payloads, start=1)]
                # All parts go out before any answer is awaited (within the bind's window); one part needs no task.
                answers = [await submits[0]] if len(submits) == 1 else await asyncio.gather(*submits)
            except SmppError as exc:
                if exc.status in BIND_STATUSES:
                    return SendResult(False, permanent=False, code="bind", detail=str(exc))
                await bind.drop()
                if attempt == 1:
                    continue  # the SMSC may have closed an idle session; bind again once
                return SendResult(False, permanent=False, code="connection", detail=str(exc))
            except TimeoutError:
                await bind.drop()
                return SendResult(False, permanent=False, code="timeout", detail="no submit_sm_resp in time")
            refused = next((a for a in answers if a.status != consts.SMPP_ESME_ROK), None)
            if refused is not None:
                status = int(refused.status)
                return SendResult(False, permanent=status not in TRANSIENT, code=f"0x{status:02X}",
                                  detail=refused.get_status_desc())
            part_ids = [_text(a.message_id) for a in answers]
            if len(part_ids) > 1:
                return MultipartResult(True, part_ids[0], part_ids=part_ids)
            return SendResult(True, part_ids[0])
        return SendResult(False, permanent=False, code="connection", detail="unreachable")

    async def listen(self) -> None:
        """Bind every session that is not bound, so receipts waiting at the SMSC arrive; failures back off a minute."""
        loop = asyncio.get_running_loop()
        if all(b.bound for b in self._binds) or loop.time() < self._retry_after:
            return
        for bind in self._binds:
            try:
                await bind.ensure()
            except (SmppError, TimeoutError, OSError):
                self._retry_after = loop.time() + 60
                return

    async def close(self) -> None:
        for bind in self._binds:
            await bind.close()


@register(SMS, "smpp")
def smpp_provider(url: ProviderUrl) -> SmppProvider:
    """The smpp:// factory."""
    return SmppProvider(url)
