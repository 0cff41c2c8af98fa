"""The hot path's own submit_sm, deliver_sm_resp and submit_sm_resp codec agrees with smpplib byte for byte."""

from __future__ import annotations

import pytest

from tidings.channels.sms.smpp import (
    SubmitAccepted,
    deliver_sm_resp_pdu,
    make_pdu,
    parse_fast,
    parse_pdu,
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
