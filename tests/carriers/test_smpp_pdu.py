"""SMPP PDUs and what they carry: the codec, text, receipts — and the decoders under fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.carriers.smpp import pdu
from pigeon.carriers.smpp.pdu import PduError
from pigeon.carriers.smpp.text import (
    ReceiptInfo,
    decode_gsm7,
    decode_text,
    encode_gsm7,
    message_parts,
    parse_receipt,
    receipt_outcome,
    split_udh,
)
from pigeon.core.segments import GSM7_BASIC, GSM7_EXTENSION
from tests.support.smsc import decode_submit, deliver_sm_body

GSM7_TEXT = st.text(alphabet=[c for c in GSM7_BASIC if c != "\x1b"] + list(GSM7_EXTENSION))


def deliver(message: bytes, *, esm_class: int = 0x04, data_coding: int = 0,
            tlvs: dict[int, bytes] | None = None) -> pdu.DeliverSm:
    return pdu.decode_deliver_sm(deliver_sm_body(
        source="8613800138000", destination="1069001", esm_class=esm_class,
        data_coding=data_coding, message=message, tlvs=tlvs))


# -- the codec ---------------------------------------------------------------------------------


def test_a_submit_sm_reads_back_field_by_field_in_an_independent_decoder():
    body = pdu.submit_sm_body(
        source=pdu.address("1069001"), source_ton=0, source_npi=1,
        destination=pdu.address("8613800138000"), dest_ton=1, dest_npi=1, esm_class=0x40,
        registered_delivery=1, data_coding=8, short_message=b"\x05\x00\x03\x01\x02\x01\x4e\x2d")
    submit = decode_submit(1, 1, body)
    assert (submit.source_addr, submit.source_addr_ton, submit.source_addr_npi) == (
        "1069001", 0, 1)
    assert (submit.destination_addr, submit.dest_addr_ton, submit.dest_addr_npi) == (
        "8613800138000", 1, 1)
    assert (submit.esm_class, submit.registered_delivery, submit.data_coding) == (0x40, 1, 8)
    assert (submit.udh, submit.text) == (b"\x05\x00\x03\x01\x02\x01", "中")
    assert submit.tlvs == {}


def test_frames_keep_an_incomplete_pdu_for_the_next_read():
    whole = pdu.encode(pdu.ENQUIRE_LINK, 7)
    buffer = bytearray(whole + whole[:10])
    assert list(pdu.frames(buffer)) == [(pdu.ENQUIRE_LINK, 0, 7, b"")]
    assert buffer == whole[:10]
    buffer += whole[10:]
    assert list(pdu.frames(buffer)) == [(pdu.ENQUIRE_LINK, 0, 7, b"")]
    assert buffer == b""


@pytest.mark.parametrize("length", [0, 15, pdu.MAX_PDU_SIZE + 1])
def test_a_command_length_out_of_range_is_a_pdu_error(length):
    buffer = bytearray(struct.pack(">IIII", length, pdu.DELIVER_SM, 0, 42))
    with pytest.raises(PduError) as raised:
        list(pdu.frames(buffer))
    assert raised.value.sequence == 42


def test_bind_fields_too_long_are_refused_before_binding():
    with pytest.raises(ValueError):
        pdu.bind_body("a" * 16, "secret")
    with pytest.raises(ValueError):
        pdu.bind_body("pigeon", "123456789")


def test_a_deliver_sm_with_tlvs_decodes():
    decoded = deliver(b"id:1", tlvs={0x001E: b"ABC\x00", 0x0427: b"\x02"})
    assert decoded.is_receipt and decoded.source_addr == "8613800138000"
    assert decoded.tlvs == {0x001E: b"ABC\x00", 0x0427: b"\x02"}


def test_the_message_payload_tlv_stands_in_for_an_empty_short_message():
    assert deliver(b"", esm_class=0, tlvs={0x0424: b"long text"}).message == b"long text"


# -- text --------------------------------------------------------------------------------------


@given(GSM7_TEXT)
def test_gsm7_round_trips(text):
    assert decode_gsm7(encode_gsm7(text)) == text


def test_a_character_outside_gsm7_is_refused_by_the_gsm7_encoder():
    with pytest.raises(ValueError):
        encode_gsm7("中")


def test_a_message_counted_as_gsm7_that_is_not_goes_as_ucs2():
    [part] = message_parts("中", "gsm7", 1)
    assert (part.data_coding, part.short_message) == (8, b"\x4e\x2d")


def test_parts_carry_one_reference_and_their_sequence():
    parts = message_parts("中" * 140, "mainland", 300)
    assert [p.short_message[:6] for p in parts] == [
        bytes([5, 0, 3, 300 & 0xFF, 3, seq]) for seq in (1, 2, 3)]
    assert all(p.esm_class == 0x40 for p in parts)


@pytest.mark.parametrize(("coding", "data", "text"), [
    (0x00, b"Hi \x00\x1b\x65", "Hi @€"),
    (0x01, b"STOP", "STOP"),
    (0x03, "café".encode("latin-1"), "café"),
    (0x08, "退订".encode("utf-16-be"), "退订"),
    (0xF0, b"Hi", "Hi"),
])
def test_mo_text_is_decoded_by_its_data_coding(coding, data, text):
    assert decode_text(coding, data) == text


def test_both_concatenation_headers_are_read():
    assert split_udh(0x40, bytes([5, 0, 3, 9, 2, 1]) + b"ab") == ((9, 2, 1), b"ab")
    assert split_udh(0x40, bytes([6, 8, 4, 1, 2, 3, 1]) + b"ab") == ((258, 3, 1), b"ab")
    assert split_udh(0x00, b"ab") == (None, b"ab")


# -- receipts ----------------------------------------------------------------------------------

TEXT = ("id:0A1B sub:001 dlvrd:001 submit date:2611280930 done date:2611280931 stat:DELIVRD "
        "err:000 text:stat:UNDELIV is text")


def test_the_receipt_text_is_read():
    info = parse_receipt(deliver(TEXT.encode()))
    assert info == ReceiptInfo("0A1B", "DELIVRD", "000", "2611280931")


def test_the_receipted_message_id_tlv_wins_over_the_text_id():
    # Some SMSCs print the id in decimal in the text and give it in hex everywhere else.
    info = parse_receipt(deliver(b"id:2587 stat:DELIVRD err:000",
                                 tlvs={0x001E: b"A1B\x00"}))
    assert info.message_id == "A1B"


def test_a_receipt_with_tlvs_only_takes_its_state_from_message_state():
    info = parse_receipt(deliver(b"", tlvs={0x001E: b"A1B\x00", 0x0427: b"\x05"}))
    assert (info.message_id, info.stat) == ("A1B", "UNDELIV")


def test_receipt_keys_are_read_whatever_their_case():
    info = parse_receipt(deliver(b"Id:77 Sub:001 Dlvrd:000 Stat:EXPIRED Err:001"))
    assert (info.message_id, info.stat, info.err) == ("77", "EXPIRED", "001")


def test_a_receipt_without_an_id_is_none():
    assert parse_receipt(deliver(b"stat:DELIVRD")) is None


@pytest.mark.parametrize(("stat", "err", "final", "delivered", "code"), [
    ("DELIVRD", "000", True, True, "DELIVERED"),
    ("UNDELIV", "001", True, False, "UNDELIV"),
    ("UNDELIV", "MK:0005", True, False, "MK:0005"),
    ("MK:0001", "000", True, False, "MK:0001"),
    ("MI:0013", "", True, False, "MI:0013"),
    ("EXPIRED", "", True, False, "EXPIRED"),
    ("REJECTD", "045", True, False, "REJECTD"),
    ("DELETED", "000", True, False, "DELETED"),
    ("UNKNOWN", "000", True, False, "UNKNOWN"),
    ("ACCEPTD", "000", False, False, "ACCEPTD"),
    ("ENROUTE", "000", False, False, "ENROUTE"),
])
def test_receipt_states_map_to_final_statuses_and_codes(stat, err, final, delivered, code):
    outcome = receipt_outcome(ReceiptInfo("1", stat, err, None))
    assert (outcome.final, outcome.delivered, outcome.err_code) == (final, delivered, code)


# -- fuzzing the decoders ----------------------------------------------------------------------

VALID = [
    pdu.encode(pdu.DELIVER_SM, 3, deliver_sm_body(
        source="8613800138000", destination="1069001", esm_class=0x04, data_coding=0,
        message=TEXT.encode(), tlvs={0x001E: b"0A1B\x00", 0x0427: b"\x02"})),
    pdu.encode(pdu.DELIVER_SM, 4, deliver_sm_body(
        source="8613800138000", destination="1069001", esm_class=0x40, data_coding=8,
        message=bytes([5, 0, 3, 1, 2, 1]) + "退订".encode("utf-16-be"))),
    pdu.encode(pdu.SUBMIT_SM | pdu.RESPONSE, 5, b"M0001\x00"),
    pdu.encode(pdu.BIND_TRANSCEIVER | pdu.RESPONSE, 1, b"SMSC\x00"),
]


def decode_everything(data: bytes) -> None:
    """Run every decoder a session runs on what arrives; only PduError may come out."""
    buffer = bytearray(data)
    for command_id, _status, _sequence, body in pdu.frames(buffer):
        if command_id == pdu.DELIVER_SM:
            decoded = pdu.decode_deliver_sm(body)
            if decoded.is_receipt:
                info = parse_receipt(decoded)
                if info is not None:
                    receipt_outcome(info)
            else:
                _concat, payload = split_udh(decoded.esm_class, decoded.message)
                decode_text(decoded.data_coding, payload)
        elif command_id == pdu.SUBMIT_SM | pdu.RESPONSE:
            pdu.message_id(body)
        else:
            pdu.bind_resp_system_id(body)


def fuzz(data: bytes) -> None:
    try:
        decode_everything(data)
    except PduError:
        pass


@given(st.binary(max_size=600))
def test_random_bytes_raise_nothing_but_pdu_error(data):
    fuzz(data)


@given(st.sampled_from(VALID), st.data())
def test_mutated_pdus_raise_nothing_but_pdu_error(valid, data):
    mutated = bytearray(valid)
    for _ in range(data.draw(st.integers(1, 8))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "length"]))
        if action == "flip" and mutated:
            at = data.draw(st.integers(0, len(mutated) - 1))
            mutated[at] = data.draw(st.integers(0, 255))
        elif action == "cut" and mutated:
            del mutated[data.draw(st.integers(0, len(mutated) - 1)):]
        elif action == "insert":
            at = data.draw(st.integers(0, len(mutated)))
            mutated[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            # keep the framing consistent with the body so the body decoders get the junk
            mutated[0:4] = struct.pack(">I", len(mutated))
    fuzz(bytes(mutated))


@given(st.integers(0, 255), st.binary(max_size=300), st.integers(0, 255))
def test_the_body_decoders_take_any_body(esm_class, body, data_coding):
    try:
        decoded = pdu.decode_deliver_sm(body)
    except PduError:
        decoded = None
    if decoded is not None:
        parse_receipt(decoded)
    split_udh(esm_class, body)
    decode_text(data_coding, body)
    try:
        pdu.message_id(body)
    except PduError:
        pass
