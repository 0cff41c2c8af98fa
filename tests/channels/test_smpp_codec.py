"""The hot path's own submit_sm, deliver_sm_resp and submit_sm_resp codec agrees with smpplib byte for byte."""

from __future__ import annotations

import re

import pytest

from tidings.channels.sms import smpp
from tidings.channels.sms.smpp import (
    DeliverSm,
    SubmitAccepted,
    deliver_sm_resp_pdu,
    make_pdu,
    parse_fast,
    parse_pdu,
    parse_receipt,
    submit_sm_pdu,
)

CASES = [
    {"source_addr": "TIDINGS", "source_addr_ton": 5, "source_addr_npi": 0, "destination_addr": "34666555444",
     "dest_addr_ton": 1, "dest_addr_npi": 1, "esm_class": 0, "registered_delivery": 1, "data_coding": 0,
     "short_message": b"Your code is 1234"},
    {"source_addr": "34911222333", "source_addr_ton": 1, "source_addr_npi": 1, "destination_addr": "447700900123",
     "dest_addr_ton": 1, "dest_addr_npi": 1, "esm_class": 0x40, "registered_delivery": 0, "data_coding": 0x08,
     "short_message": bytes((5, 0, 3, 0x2A, 2, 1)) + "ñ€😀".encode("utf-16-be")},
    # Longer than the fields allow: cut as smpplib cuts them.
    {"source_addr": "A" * 30, "source_addr_ton": 5, "source_addr_npi": 0, "destination_addr": "9" * 25,
     "dest_addr_ton": 1, "dest_addr_npi": 1, "esm_class": 0, "registered_delivery": 1, "data_coding": 0x10,
     "short_message": b"x" * 160, "service_type": "CMTXYZ"},
    {"source_addr": "", "source_addr_ton": 0, "source_addr_npi": 0, "destination_addr": "1", "dest_addr_ton": 0,
     "dest_addr_npi": 0, "esm_class": 0, "registered_delivery": 0, "data_coding": 0, "short_message": b""},
]


@pytest.mark.parametrize("fields", CASES)
def test_submit_sm_bytes_are_smpplibs(fields: dict[str, object]) -> None:
    ours = submit_sm_pdu(77, **fields)  # type: ignore[arg-type]
    theirs = make_pdu("submit_sm", 77, protocol_id=0, priority_flag=0,
                      **{"service_type": "", **fields}).generate()
    assert ours == theirs
    parsed = parse_pdu(ours)
    assert parsed.short_message in (fields["short_message"], None) and parsed.sequence == 77


def test_deliver_sm_resp_bytes_are_smpplibs() -> None:
    assert deliver_sm_resp_pdu(0x7FFFFFFE) == make_pdu("deliver_sm_resp", 0x7FFFFFFE).generate()


def test_submit_sm_resp_is_read_the_same() -> None:
    ok = parse_fast(make_pdu("submit_sm_resp", 9, message_id="a1b2c3").generate())
    assert isinstance(ok, SubmitAccepted) and (ok.sequence, ok.message_id, ok.status) == (9, "a1b2c3", 0)
    assert ok.is_response() and ok.command == "submit_sm_resp"
    refused = parse_fast(make_pdu("submit_sm_resp", 10, status=0x0B).generate())
    assert not isinstance(refused, SubmitAccepted) and refused.status == 0x0B and refused.get_status_desc()
    receipt = parse_fast(make_pdu("deliver_sm", 11, esm_class=4, short_message=b"id:1 stat:DELIVRD").generate())
    assert receipt.command == "deliver_sm" and not receipt.is_response()


RECEIPTS = [
    make_pdu("deliver_sm", 21, source_addr="34666555444", destination_addr="TIDINGS", esm_class=4,
             short_message=b"id:abc123 sub:001 dlvrd:000 submit date:2401011200 done date:2401011201 "
                           b"stat:UNDELIV err:034 text:hi"),
    make_pdu("deliver_sm", 22, esm_class=4, short_message=b"", receipted_message_id="X9", message_state=3),
    make_pdu("deliver_sm", 23, esm_class=4, short_message=b"id:77 stat:DELIVRD err:000", receipted_message_id="77",
             message_state=2),
    make_pdu("deliver_sm", 24, esm_class=0, short_message=b"STOP"),
    make_pdu("deliver_sm", 25, esm_class=4, message_payload=b"id:pp1 stat:EXPIRED err:001 done date:2401011201"),
]


@pytest.mark.parametrize("pdu", RECEIPTS, ids=["text", "tlv", "both", "mobile-originated", "payload"])
def test_deliver_sm_is_read_as_smpplib_reads_it(pdu: object) -> None:
    data = pdu.generate()  # type: ignore[attr-defined]
    fast, slow = parse_fast(data), parse_pdu(data)
    assert (fast.command, fast.sequence, fast.is_response()) == ("deliver_sm", slow.sequence, False)
    assert parse_receipt(fast) == parse_receipt(slow)


def test_a_deliver_sm_we_cannot_read_goes_to_smpplib() -> None:
    truncated = RECEIPTS[0].generate()[:40]
    fast = parse_fast(truncated)
    assert not isinstance(fast, DeliverSm) and fast.command == "deliver_sm"
    assert isinstance(parse_fast(RECEIPTS[0].generate()), DeliverSm)


@pytest.mark.parametrize("text", [
    "id:a1 sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD err:000 text:",
    "id:a1 sub:001 dlvrd:000 submit date:2612050433 done date:261205043359 stat:undeliv err:034 text:Hello",
    "id:a1 sub:001 dlvrd:001 submit date:2612050433 done date:bad stat:DELIVRD err:000",
    # A field again in the text: the general reading's last one wins, so the one-match reading steps aside.
    "id:a1 sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD err:000 text:stat:FAKE",
    "id:a1 sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD err:000 text:STAT:x",
    # Separators that str's \S leaves out but a bytes pattern's would not.
    "id:a1\x1c sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD\x1f err:000 text:",
    "id:a1 sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD err:000\x1dtext:",
    "id:a1 sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD err:000 text:at 10:30",
    "id:a1 sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD err:000 text:line\nnext",
    "id:a1 sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD err:000 TEXT:x",
    "id:a1 sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD err:000 text:x xid:9",
    # Not ASCII: the general reading.
    "id:añ sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD err:000 text:ñ",
    "ID:a1 SUB:001 DLVRD:001 SUBMIT DATE:2612050433 DONE DATE:2612050433 STAT:DELIVRD ERR:000 TEXT:",
    "id:a1  sub:001 dlvrd:001 submit date:2612050433 done date:2612050433 stat:DELIVRD err:000",
    "id:a1 stat:DELIVRD",
])
def test_a_standard_receipt_text_is_read_as_the_general_reading_reads_it(text: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pdu = parse_fast(make_pdu("deliver_sm", 30, esm_class=4, short_message=text.encode()).generate())
    read = parse_receipt(pdu)
    monkeypatch.setattr(smpp, "_STANDARD_RECEIPT", re.compile(rb"(?!)"))  # never matches: the general reading
    assert read == parse_receipt(pdu) and read is not None
