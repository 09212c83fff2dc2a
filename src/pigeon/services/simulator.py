"""The carrier simulator's state: scheduled receipts, delivery to virtual handsets, replies.

The simulator keeps its network in Pigeon's database, so each of its steps is one transaction
with the message's own bookkeeping:

* accepting a submission (:func:`schedule`) runs inside the dispatcher's transaction that
  marks the message ``sent`` — a message is in the network exactly when it was recorded sent;
* delivering (:func:`deliver_due`) takes the due receipts out of the network, puts delivered
  messages into their handsets' inboxes and records the final status (refund and ``SmsReport``
  included) in one transaction — a crash never delivers twice nor loses a receipt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from pigeon.carriers.base import Inbound
from pigeon.carriers.simulator import network
from pigeon.core.errors import PigeonError
from pigeon.core.numbers import parse_number
from pigeon.services import delivery, handsets
from pigeon.store.database import BulkInsert, Driver
from pigeon.store.tables import sign_registrations, simulator_deliveries

CONNECTOR = "simulator"
DELIVER_BATCH = 1000  # receipts per transaction; the loop comes back at once for more


def registrations(conn: Connection, signature_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Carrier registration states (carrier → RegisterStatus) of each signature."""
    found: dict[int, dict[str, int]] = {i: {} for i in signature_ids}
    if not found:
        return found
    rows = conn.execute(select(sign_registrations.c.signature_id, sign_registrations.c.carrier,
                               sign_registrations.c.status)
                        .where(sign_registrations.c.signature_id.in_(list(found))))
    for signature_id, carrier, status in rows:
        found[signature_id][carrier] = status
    return found


@dataclass(frozen=True)
class Entry:
    """A message entering the simulated network: its receipt (``fate``) is due at ``due_at``."""

    message_id: int
    carrier_message_id: str
    fate: network.Fate
    due_at: datetime


def schedule(conn: Connection, entries: list[Entry]) -> int:
    """Put submitted messages in the network; returns how many entered it.

    Run as the submission's ``effect``, in the transaction that records it.  Only messages
    recorded as sent *with these carrier ids* enter: one the dispatcher skipped (another
    dispatcher holds it now) is left to that dispatcher's own submission.
    """
    if not entries:
        return 0
    # The connector in a form no index serves: compared plainly, SQLite walks the
    # (connector, carrier_message_id) index through every message the simulator ever took
    # (10 ms a batch at 65,000 messages, growing with the table) instead of looking the ids up.
    # Both statements on the driver (store.database.Driver): the simulator schedules every
    # message it accepts.
    driver = Driver.of(conn)
    recorded = set(driver.run(conn, None, _RECORDED_SQL.format(ids=driver.in_ids),
                              (driver.ids([e.message_id for e in entries]), CONNECTOR)))
    rows = [{"message_id": e.message_id, "carrier_message_id": e.carrier_message_id,
             "stat": e.fate.stat, "err_code": e.fate.err_code, "due_at": e.due_at}
            for e in entries if (e.message_id, e.carrier_message_id) in recorded]
    _insert_deliveries.run(conn, rows)
    return len(rows)


_RECORDED_SQL = ("SELECT id, carrier_message_id FROM messages "
                 "WHERE id {ids} AND connector || '' = ?")
_insert_deliveries = BulkInsert(simulator_deliveries, (
    "message_id", "carrier_message_id", "stat", "err_code", "due_at"))


# deliver_due()'s taking of the due receipts, on the driver (store.database.Driver); on
# PostgreSQL as store.claiming.taken_by writes it (FOR UPDATE SKIP LOCKED in a CTE).
_DUE = "SELECT message_id FROM simulator_deliveries WHERE due_at <= ? ORDER BY due_at LIMIT ?"
_TAKE_DUE_SQL = (f"DELETE FROM simulator_deliveries WHERE message_id IN ({_DUE}) "
                 "RETURNING message_id, err_code")
_TAKE_DUE_SQL_PG = (f"WITH taken AS MATERIALIZED ({_DUE} FOR UPDATE SKIP LOCKED) "
                    "DELETE FROM simulator_deliveries USING taken "
                    "WHERE simulator_deliveries.message_id = taken.message_id "
                    "RETURNING simulator_deliveries.message_id, simulator_deliveries.err_code")


def deliver_due(conn: Connection, zone: ZoneInfo, now: datetime, access_code: str,
                limit: int = DELIVER_BATCH) -> int:
    """Deliver what is due: handset inbox, final status, refund, ``SmsReport``; returns how
    many receipts were applied.

    The due rows are deleted first and only what the delete returned is processed, so two
    passes (two nodes on PostgreSQL, or a pass repeated after a crash) never handle the same
    receipt; and a message already final is neither finished nor delivered again.
    """
    driver = Driver.of(conn)
    taken = driver.run(conn, "simulator_deliveries",
                       _TAKE_DUE_SQL if driver.sqlite else _TAKE_DUE_SQL_PG,
                       (driver.time(now), limit))
    if not taken:
        return 0
    finished = delivery.finish_many(conn, [
        delivery.Final(message_id, code == network.DELIVERED_CODE, code,
                       None if code == network.DELIVERED_CODE else network.DESCRIPTIONS.get(code))
        for message_id, code in taken], zone, now)
    handsets.deliver_many(conn, [(row["phone"], access_code + (row["extend_code"] or ""),
                                  row["content"]) for row in finished
                                 if row["status"] == "delivered"], now)
    return len(finished)


def dest_code_of(address: str, access_code: str) -> str:
    """The extension code a handset replies to, given either the code itself or the sender
    address as the inbox shows it (the platform's access code followed by the code)."""
    address = address.strip()
    if address.startswith(access_code) and len(address) > len(access_code):
        return address[len(access_code):]
    return address


def reply(conn: Connection, phone: str, text: str, dest_code: str, zone: ZoneInfo,
          now: datetime) -> dict:
    """A virtual handset's user replies (MO) to ``dest_code``, an extension code.

    The reply reaches Pigeon as any carrier's MO does: stored, matched to the tenant whose
    signature owns the code, and queued as an ``SmsUp`` report.
    """
    number = parse_number(phone)
    if not text:
        raise PigeonError("isv.INVALID_PARAMETERS", "A reply needs some text.")
    if not dest_code.isdigit():
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"The destination {dest_code!r} must be digits (an extension code).")
    matched = delivery.accept_inbound(conn, Inbound(
        connector=CONNECTOR, phone=number.wire, dest_code=dest_code, content=text,
        received_at=now), zone)
    return {"MoId": matched["id"], "PhoneNumber": number.wire, "DestCode": dest_code,
            "AccountId": matched["account_id"], "Matched": matched["account_id"] is not None}
