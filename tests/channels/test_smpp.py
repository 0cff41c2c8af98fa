"""The SMPP provider against a fake SMSC: binding, UDH concatenation, encodings, refusals, receipts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tidings.channels.base import OutboundMessage, ProviderError
from tidings.channels.registry import build_provider
from tidings.channels.sms import MultipartResult, status_for_stat
from tidings.channels.sms.smpp import SmppProvider, data_coding, encode_parts, make_pdu, parse_pdu, parse_receipt
from tidings.core import sms

from fakes.smsc import FakeSmsc, deliver_sm_pdu, receipt_text


@pytest.fixture
async def smsc() -> AsyncIterator[FakeSmsc]:
    async with FakeSmsc() as server:
        yield server


def _outbound(body: str, recipient: str = "34666555444", sender: str = "TIDINGS", **options: object) -> OutboundMessage:
    encoding = sms.detect_encoding(body)
    return OutboundMessage("sms", sender, recipient, body=body, parts=sms.split_parts(body, encoding),
                           encoding=encoding, reference="7", options=dict(options))


async def _receipts(provider: SmppProvider, count: int) -> list:  # type: ignore[type-arg]
    out = []
    for _ in range(200):
        while not provider.receipts.empty():
            out.append(provider.receipts.get_nowait())
        if len(out) >= count:
            return out
        await asyncio.sleep(0.01)
    raise AssertionError(f"expected {count} receipts, got {out}")


def test_udh_and_data_coding() -> None:
    payloads, udh = encode_parts(["a" * 153, "b"], "gsm", ref=0x1FF)
    assert udh and [p[:6].hex() for p in payloads] == ["050003ff0201", "050003ff0202"]
    assert payloads[1][6:] == b"b"
    single, udh = encode_parts(["hola"], "gsm", ref=1)
    assert not udh and single == [b"hola"]
    ucs2, _ = encode_parts(["ñ€😀"], "utf-16", ref=1)
    assert ucs2 == ["ñ€😀".encode("utf-16-be")]
    assert (data_coding("gsm"), data_coding("utf-16"), data_coding("gsm", flash=True),
            data_coding("utf-16", flash=True)) == (0x00, 0x08, 0x10, 0x18)
    pt, udh = encode_parts(["ã"], "gsm-pt", ref=1)
    assert udh and pt[0][:7] == bytes((6, 0x25, 1, 4, 0x24, 1, 4))


@pytest.mark.parametrize(("done", "expected"), [
    ("2401011201", datetime(2024, 1, 1, 12, 1, tzinfo=UTC)),
    ("240101120159", datetime(2024, 1, 1, 12, 1, 59, tzinfo=UTC)),
    ("991231235959", datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ("2413011201", None), ("24010112", None), ("24010112xx", None)])
def test_receipt_done_date(done: str, expected: datetime | None) -> None:
    pdu = parse_pdu(make_pdu("deliver_sm", 3, esm_class=4,
                             short_message=f"id:abc1 done date:{done} stat:DELIVRD err:000".encode()).generate())
    receipt = parse_receipt(pdu)
    assert receipt is not None and receipt.done_at == expected


def test_receipt_parsing_and_stat_mapping() -> None:
    pdu = parse_pdu(make_pdu("deliver_sm", 3, source_addr="34666555444", destination_addr="TIDINGS", esm_class=4,
                             short_message=b"id:abc123 sub:001 dlvrd:000 submit date:2401011200 "
                                           b"done date:2401011201 stat:UNDELIV err:034 text:hi").generate())
    receipt = parse_receipt(pdu)
    assert receipt is not None
    assert (receipt.provider_id, receipt.stat, receipt.status, receipt.error) == ("abc123", "UNDELIV", "undelivered",
                                                                                 "034")
    assert receipt.done_at is not None and receipt.done_at.minute == 1
    tlv = parse_pdu(make_pdu("deliver_sm", 4, esm_class=4, short_message=b"", receipted_message_id="X9",
                             message_state=3).generate())
    got = parse_receipt(tlv)
    assert got is not None and (got.provider_id, got.stat, got.status) == ("X9", "EXPIRED", "expired")
    mo = parse_pdu(make_pdu("deliver_sm", 5, esm_class=0, short_message=b"STOP").generate())
    assert parse_receipt(mo) is None
    assert [status_for_stat(s) for s in ("DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN",
                                         "ACCEPTD", "ENROUTE", "weird")] == [
        "delivered", "undelivered", "expired", "rejected", "undelivered", "undelivered", None, None, "undelivered"]


def test_the_fake_smscs_receipt_is_the_deliver_sm_smpplib_builds() -> None:
    text = receipt_text("1a2b", "UNDELIV", "2612051500")
    ours = deliver_sm_pdu(9, source_addr="34666555444", destination_addr="TIDINGS", short_message=text)
    theirs = make_pdu("deliver_sm", 9, service_type="", source_addr_ton=1, source_addr_npi=1,
                      source_addr="34666555444", dest_addr_ton=0, dest_addr_npi=0, destination_addr="TIDINGS",
                      esm_class=0x04, data_coding=0, short_message=text).generate()
    assert ours == theirs
    receipt = parse_receipt(parse_pdu(ours))
    assert receipt is not None and (receipt.provider_id, receipt.stat, receipt.error) == ("1a2b", "UNDELIV", "001")


def test_url_validation() -> None:
    with pytest.raises(ProviderError):
        build_provider("sms", "smpp://smsc.example:2775")
    with pytest.raises(ProviderError):
        build_provider("sms", "smpp://sys:pw@smsc.example:2775?timeout=soon")
    provider = build_provider("sms", "smpp://sys:pw@smsc.example")
    assert isinstance(provider, SmppProvider) and provider.port == 2775


async def test_multipart_gsm_with_receipts(smsc: FakeSmsc) -> None:
    provider = build_provider("sms", smsc.url())
    assert isinstance(provider, SmppProvider)
    try:
        result = await provider.send(_outbound("Hola € " + "x" * 155))
        assert result.accepted and isinstance(result, MultipartResult)
        assert result.part_ids == [s.message_id for s in smsc.submitted] and result.provider_id == result.part_ids[0]
        first, second = smsc.submitted
        assert first.esm_class & 0x40 and first.data_coding == 0
        assert first.udh[:4] == second.udh[:4] == bytes((5, 0, 3, first.udh[3]))
        assert (first.udh[4], first.udh[5], second.udh[5]) == (2, 1, 2)
        assert first.payload.decode("gsm03.38") + second.payload.decode("gsm03.38") == "Hola € " + "x" * 155
        assert (first.source_ton, first.source_npi) == (5, 0), "alphanumeric sender"
        receipts = await _receipts(provider, 2)
        assert {(r.provider_id, r.reference, r.part, r.status) for r in receipts} == {
            (result.part_ids[0], "7", 1, "delivered"), (result.part_ids[1], "7", 2, "delivered")}
        assert smsc.binds == 1
        await asyncio.sleep(0.05)
        assert smsc.receipts_acked == 2
    finally:
        await provider.close()


async def test_split_parts_go_out_as_separate_sms(smsc: FakeSmsc) -> None:
    provider = build_provider("sms", smsc.url())
    try:
        message = _outbound("Hola " + "x" * 160)
        message.options["split_parts"] = True
        result = await provider.send(message)
        assert result.accepted
        first, second = smsc.submitted
        assert not first.esm_class & 0x40 and not second.esm_class & 0x40, "no concatenation header"
        assert first.payload.decode("gsm03.38") + second.payload.decode("gsm03.38") == "Hola " + "x" * 160
    finally:
        await provider.close()


async def test_ucs2_numeric_sender_and_flash(smsc: FakeSmsc) -> None:
    provider = build_provider("sms", smsc.url(receipts="false"))
    try:
        result = await provider.send(_outbound("Привет 😀", sender="34911222333", flash=True))
        assert result.accepted and not isinstance(result, MultipartResult)
        (sub,) = smsc.submitted
        assert sub.data_coding == 0x18 and sub.esm_class == 0 and sub.registered_delivery == 0
        assert sub.payload.decode("utf-16-be") == "Привет 😀"
        assert (sub.source_ton, sub.source_npi) == (1, 1)
    finally:
        await provider.close()


async def test_refusals_and_bind_failure(smsc: FakeSmsc) -> None:
    smsc.refuse = {"34600000001": 0x0B, "34600000002": 0x58}
    provider = build_provider("sms", smsc.url())
    try:
        bad = await provider.send(_outbound("hi", recipient="34600000001"))
        assert not bad.accepted and bad.permanent and bad.code == "0x0B"
        throttled = await provider.send(_outbound("hi", recipient="34600000002"))
        assert not throttled.accepted and not throttled.permanent and throttled.code == "0x58"
    finally:
        await provider.close()
    wrong = build_provider("sms", f"smpp://tidings:hunter2@127.0.0.1:{smsc.port}")
    try:
        result = await wrong.send(_outbound("hi"))
        assert not result.accepted and not result.permanent and result.code == "bind"
        assert "hunter2" not in result.detail and "hunter2" not in repr(result)
    finally:
        await wrong.close()


async def test_reconnects_after_the_smsc_drops_the_session(smsc: FakeSmsc) -> None:
    provider = build_provider("sms", smsc.url(enquire_link="50ms"))
    assert isinstance(provider, SmppProvider)
    try:
        assert (await provider.send(_outbound("one"))).accepted
        await asyncio.sleep(0.2)
        assert smsc.enquire_links >= 1, "keep-alive runs"
        await smsc.drop_connections()
        await asyncio.sleep(0.05)
        assert (await provider.send(_outbound("two"))).accepted
        assert smsc.binds == 2
    finally:
        await provider.close()


async def test_unreachable_smsc_is_transient() -> None:
    provider = build_provider("sms", "smpp://tidings:secret@127.0.0.1:9?timeout=1s")
    assert isinstance(provider, SmppProvider)
    result = await provider.send(_outbound("hi"))
    assert not result.accepted and not result.permanent and result.code == "connection"
    await provider.listen()  # backs off quietly
    await provider.close()
