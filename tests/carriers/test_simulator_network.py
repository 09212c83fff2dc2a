"""The simulated network's rules, as tables: magic numbers, carrier registration, delays."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pigeon.carriers.simulator import network
from pigeon.carriers.simulator.network import DELIVERED, PORT_NOT_REGISTERED, fate, magic_fate
from pigeon.core.numbers import parse_number

ALL_REGISTERED = {"mobile": 3, "unicom": 3, "telecom": 3}


def fate_of(phone: str, registrations=ALL_REGISTERED) -> network.Fate:
    number = parse_number(phone)
    return fate(number.wire, number.carrier, registrations)


@pytest.mark.parametrize(("phone", "err_code", "stat"), [
    ("13800138000", "DELIVERED", "DELIVRD"),
    ("13800138001", "MK:0001", "UNDELIV"),
    ("13800138002", "MOBILE_NOT_ON_SERVICE", "UNDELIV"),
    ("13800138003", "MOBILE_IN_BLACK", "UNDELIV"),
    ("13800138004", "UNDELIV", "UNDELIV"),
    ("13800138005", "EXPIRED", "EXPIRED"),
    ("13800138008", "DELIVERED", "DELIVRD"),
    ("13800138009", "DELIVERED", "DELIVRD"),
    ("13912345671", "DELIVERED", "DELIVRD"),  # ends in 1 but is not a magic number
])
def test_the_last_digit_of_a_magic_number_picks_its_receipt(phone, err_code, stat):
    outcome = fate_of(phone)
    assert (outcome.err_code, outcome.stat) == (err_code, stat)
    assert outcome.receipt and not outcome.refused
    assert outcome.delivered == (err_code == "DELIVERED")


@pytest.mark.parametrize(("phone", "carrier"), [
    ("18600138001", "unicom"), ("18900138001", "telecom"), ("19200138001", "broadnet"),
    ("17000138001", "telecom"),  # 1700, a virtual operator's segment: still digits 4–11
])
def test_magic_numbers_exist_on_every_carrier(phone, carrier):
    assert parse_number(phone).carrier == carrier
    assert fate_of(phone).err_code == "MK:0001"


def test_number_six_never_gets_a_receipt():
    outcome = fate_of("13800138006")
    assert not outcome.receipt and not outcome.refused


def test_number_seven_is_refused_at_submission():
    outcome = fate_of("13800138007")
    assert outcome.refused and not outcome.receipt
    assert outcome.err_code == "INVALID_NUMBER"


def test_number_eight_is_throttled_once_then_delivered():
    outcome = fate_of("13800138008")
    assert outcome.throttled_once and outcome.delivered


def test_expired_receipts_come_late():
    assert fate_of("13800138005").delay > fate_of("13800138000").delay


def test_international_numbers_are_never_magic_and_need_no_registration():
    assert fate("85200138001", None, {}) is DELIVERED
    assert magic_fate("85200138001") is None


# carrier of the number, its signature's registrations, expected
REGISTRATION_CASES = [
    ("13700137000", ALL_REGISTERED, DELIVERED),
    ("13700137000", {"mobile": -1, "unicom": 3, "telecom": 3}, PORT_NOT_REGISTERED),
    ("13700137000", {"mobile": 1, "unicom": -1, "telecom": -1}, DELIVERED),  # verifying
    ("13700137000", {"mobile": 0, "unicom": 3, "telecom": 3}, PORT_NOT_REGISTERED),  # failed
    ("13700137000", {"mobile": 2, "unicom": 3, "telecom": 3}, PORT_NOT_REGISTERED),  # expired
    ("13700137000", {}, PORT_NOT_REGISTERED),  # never submitted
    ("18612345678", {"mobile": 3, "unicom": -1, "telecom": 3}, PORT_NOT_REGISTERED),
    ("18612345678", {"mobile": -1, "unicom": 3, "telecom": -1}, DELIVERED),
    ("18912345678", {"mobile": 3, "unicom": 3, "telecom": -1}, PORT_NOT_REGISTERED),
    ("18912345678", {"mobile": -1, "unicom": -1, "telecom": 3}, DELIVERED),
    # China Broadnet's numbers ride on China Mobile's network and registration
    ("19212345678", {"mobile": 3, "unicom": -1, "telecom": -1}, DELIVERED),
    ("19212345678", {"mobile": -1, "unicom": 3, "telecom": 3}, PORT_NOT_REGISTERED),
]


@pytest.mark.parametrize(("phone", "registrations", "expected"), REGISTRATION_CASES)
def test_a_carrier_delivers_only_for_signatures_registered_with_it(phone, registrations,
                                                                   expected):
    assert fate_of(phone, registrations) is expected


def test_registration_is_checked_before_the_handset_and_after_the_gateway():
    pending = {"mobile": -1, "unicom": -1, "telecom": -1}
    assert fate_of("13800138001", pending) is PORT_NOT_REGISTERED
    assert fate_of("13800138006", pending) is PORT_NOT_REGISTERED
    assert fate_of("13800138007", pending).err_code == "INVALID_NUMBER"


@pytest.mark.parametrize(("jitter", "seconds"), [(-1, 0.8), (0, 1.0), (1, 1.2), (5, 1.2),
                                                 (-5, 0.8)])
def test_receipts_come_after_the_delay_with_a_little_jitter(jitter, seconds):
    assert network.receipt_delay(timedelta(seconds=1), DELIVERED, jitter) == \
        timedelta(seconds=seconds)


def test_expired_receipts_take_ten_times_the_delay():
    assert network.receipt_delay(timedelta(seconds=1), magic_fate("13800138005"), 0) == \
        timedelta(seconds=10)


def test_a_zero_delay_means_receipts_at_once():
    assert network.receipt_delay(timedelta(0), DELIVERED, 1) == timedelta(0)


def test_message_ids_are_twenty_hex_digits():
    assert network.message_id(0) == "0" * 20
    assert network.message_id(2**80 - 1) == "f" * 20
    assert len(network.message_id(12345)) == 20


def test_every_receipt_code_has_a_description():
    for outcome in [*network.MAGIC.values(), DELIVERED, PORT_NOT_REGISTERED]:
        if outcome.receipt:
            assert network.DESCRIPTIONS[outcome.err_code]


def test_carrier_ids_sort_by_time_and_stay_distinct():
    from datetime import UTC, datetime, timedelta

    early = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
    later = early + timedelta(milliseconds=1)
    ids = [network.timed_message_id(early, bits) for bits in (0, 1, 2**32 - 1)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert network.timed_message_id(later, 0) > max(ids)
    assert all(len(i) == 20 for i in ids)
