"""Carrier receipts against the message rows: receipts that overtake the recording of their
message's carrier id, and the part receipts of multipart messages that the connector no longer
tracks (after a restart)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from pigeon.carriers.base import Receipt, Submitted
from pigeon.services import delivery, dispatch, reports
from pigeon.store.tables import early_receipts, message_parts
from tests.services.test_dispatch import NOW, balance, claim, queue, row
from tests.services.test_dispatch import account_id as account_id  # noqa: F401 (fixture)


def record(pigeon, results, connector="smsc-a", now=NOW):
    return pigeon.db.write_sync(dispatch.record, connector, results, pigeon.settings.timezone,
                                now)


def apply(pigeon, *receipts: Receipt, now=NOW) -> int:
    return pigeon.db.write_sync(delivery.apply_receipts, list(receipts),
                                pigeon.settings.timezone, now)


def receipt(carrier_id: str, delivered: bool = True, *, untracked: bool = False,
            err_code: str | None = None, at=NOW + timedelta(seconds=3)) -> Receipt:
    return Receipt("smsc-a", carrier_id, delivered,
                   err_code or ("DELIVERED" if delivered else "UNDELIV"), at,
                   None if delivered else f"stat:{err_code or 'UNDELIV'}", untracked)


def count(pigeon, table) -> int:
    return pigeon.db.read_sync(lambda conn: conn.scalar(select(func.count()).select_from(table)))


def sending(pigeon, account_id, count_=1, **values) -> list[int]:
    ids = queue(pigeon, account_id, count_, **values)
    claim(pigeon)
    return ids


def test_a_receipt_that_overtakes_the_record_is_kept_and_applied_when_it_commits(
        pigeon, account_id):
    [message_id] = sending(pigeon, account_id)

    assert apply(pigeon, receipt("M1")) == 0
    assert row(pigeon, message_id)["status"] == "sending"
    assert count(pigeon, early_receipts) == 1

    counts = record(pigeon, [Submitted(message_id, carrier_message_id="M1")])

    done = row(pigeon, message_id)
    assert counts["early"] == 1
    assert (done["status"], done["err_code"], done["done_at"]) == \
        ("delivered", "DELIVERED", NOW + timedelta(seconds=3))
    assert count(pigeon, early_receipts) == 0
    [event] = pigeon.db.read_sync(reports.queued, account_id, "SmsReport")
    assert event["payload"]["success"] is True


def test_a_kept_failure_receipt_refunds_when_it_finally_matches(pigeon, account_id):
    [message_id] = sending(pigeon, account_id)
    before = balance(pigeon, account_id)
    apply(pigeon, receipt("M1", False, err_code="MK:0001"))
    record(pigeon, [Submitted(message_id, carrier_message_id="M1")])
    failed = row(pigeon, message_id)
    assert (failed["status"], failed["err_code"], failed["charged"]) == \
        ("failed", "MK:0001", False)
    assert balance(pigeon, account_id) == before + 45


def test_the_sweep_matches_receipts_whose_message_another_node_recorded(pigeon, account_id):
    [message_id] = sending(pigeon, account_id)
    apply(pigeon, receipt("M1"))
    # Recorded without looking at early receipts, as a node racing this one would.
    pigeon.db.write_sync(lambda conn: conn.execute(
        dispatch._sent, [{"b_id": message_id, "b_carrier_id": "M1", "b_connector": "smsc-a",
                          "b_now": NOW}]))
    assert pigeon.db.read_sync(delivery.has_early)

    swept = pigeon.db.write_sync(delivery.sweep_early, pigeon.settings.timezone, NOW)

    assert swept["finished"] == 1 and row(pigeon, message_id)["status"] == "delivered"
    assert not pigeon.db.read_sync(delivery.has_early)


def test_receipts_that_never_match_are_dropped_after_an_hour(pigeon, account_id):
    apply(pigeon, receipt("NOBODY"), now=NOW)
    swept = pigeon.db.write_sync(delivery.sweep_early, pigeon.settings.timezone,
                                 NOW + delivery.EARLY_KEEP - timedelta(seconds=1))
    assert (swept["finished"], swept["dropped"]) == (0, 0)
    swept = pigeon.db.write_sync(delivery.sweep_early, pigeon.settings.timezone,
                                 NOW + delivery.EARLY_KEEP + timedelta(seconds=1))
    assert swept["dropped"] == 1 and count(pigeon, early_receipts) == 0


def test_the_connectors_combined_receipt_finishes_a_multipart_message_and_forgets_its_parts(
        pigeon, account_id):
    [message_id] = sending(pigeon, account_id, segments=3)
    record(pigeon, [Submitted(message_id, carrier_message_id="P1", part_ids=("P1", "P2", "P3"))])
    assert count(pigeon, message_parts) == 3

    apply(pigeon, receipt("P1"))

    assert row(pigeon, message_id)["status"] == "delivered"
    assert count(pigeon, message_parts) == 0


def test_after_a_restart_a_multipart_message_is_delivered_when_every_part_is(
        pigeon, account_id):
    [message_id] = sending(pigeon, account_id, segments=3)
    record(pigeon, [Submitted(message_id, carrier_message_id="P1", part_ids=("P1", "P2", "P3"))])

    # The restarted connector does not know these ids: each comes as one part's receipt.
    apply(pigeon, receipt("P1", untracked=True), receipt("P3", untracked=True))
    assert row(pigeon, message_id)["status"] == "sent"
    apply(pigeon, receipt("P2", untracked=True, at=NOW + timedelta(seconds=9)))

    done = row(pigeon, message_id)
    assert (done["status"], done["done_at"]) == ("delivered", NOW + timedelta(seconds=9))
    assert count(pigeon, message_parts) == 0
    assert len(pigeon.db.read_sync(reports.queued, account_id, "SmsReport")) == 1


def test_after_a_restart_one_failed_part_fails_a_multipart_message(pigeon, account_id):
    [message_id] = sending(pigeon, account_id, segments=2)
    record(pigeon, [Submitted(message_id, carrier_message_id="P1", part_ids=("P1", "P2"))])
    apply(pigeon, receipt("P1", untracked=True))
    apply(pigeon, receipt("P2", False, untracked=True, err_code="MK:0005"))
    failed = row(pigeon, message_id)
    assert (failed["status"], failed["err_code"]) == ("failed", "MK:0005")
    # A late receipt for a part of a finished message changes nothing.
    assert apply(pigeon, receipt("P1", untracked=True)) == 0


def test_a_part_receipt_before_the_record_waits_for_the_part_ids(pigeon, account_id):
    [message_id] = sending(pigeon, account_id, segments=2)
    apply(pigeon, receipt("P2", untracked=True))
    record(pigeon, [Submitted(message_id, carrier_message_id="P1", part_ids=("P1", "P2"))])
    assert row(pigeon, message_id)["status"] == "sent"
    assert count(pigeon, early_receipts) == 0
    apply(pigeon, receipt("P1", untracked=True))
    assert row(pigeon, message_id)["status"] == "delivered"


def test_an_untracked_receipt_of_a_one_part_message_matches_its_carrier_id(pigeon, account_id):
    [message_id] = sending(pigeon, account_id)
    record(pigeon, [Submitted(message_id, carrier_message_id="M7")])
    apply(pigeon, receipt("M7", untracked=True))
    assert row(pigeon, message_id)["status"] == "delivered"


def test_a_part_id_the_smsc_reuses_points_at_the_newer_message(pigeon, account_id):
    first, second = sending(pigeon, account_id, 2, segments=2)
    record(pigeon, [Submitted(first, carrier_message_id="P1", part_ids=("P1", "P2"))])
    record(pigeon, [Submitted(second, carrier_message_id="Q1", part_ids=("Q1", "P2"))])
    parts = pigeon.db.read_sync(lambda conn: dict(conn.execute(
        select(message_parts.c.part_id, message_parts.c.message_id)).all()))
    assert parts == {"P1": first, "P2": second, "Q1": second}
