"""What happens to a message after the carrier: final status, refunds, reports, replies.

Receipts are matched to messages by (connector, carrier message id) — or, for the receipts of
single parts of a multipart message, by the part ids stored at submission — and a receipt that
arrives before its message's carrier id is recorded is kept until it is (:func:`match_early`).
A final status is written once (a duplicate receipt changes nothing); a failed message is
refunded — failed messages are not charged — and every final status queues an ``SmsReport``
for the tenant.
Replies (MO) are matched to a tenant and signature by the extension code they were sent to,
and queue an ``SmsUp``; replies that match nobody are kept for operators.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, insert, select, update

from pigeon import metrics
from pigeon.carriers.base import Inbound, Receipt
from pigeon.services import billing, ext_codes, reports
from pigeon.services.review import emit_report
from pigeon.store.database import Driver, after_commit
from pigeon.store.tables import (
    balances,
    early_receipts,
    ledger,
    message_parts,
    messages,
    mo_messages,
    packages,
)

FINAL = ("delivered", "failed")
DELIVERED_TEXT = "用户接收成功"

EARLY_KEEP = timedelta(hours=1)
"""How long a receipt that matches no message is kept.  One whose message is merely not yet
recorded matches within seconds; one still unmatched after an hour belongs to a submission that
was never recorded (a crash between the SMSC's answer and the commit: the message was sent
again under a new id) or to traffic Pigeon did not send."""
EARLY_BATCH = 1000
PARTS_KEEP = timedelta(days=7)
"""Part ids of a multipart message that never got its final receipt are forgotten after this
(SMSCs give up on a message after its validity period, 72 hours at most in practice)."""


@functools.lru_cache(maxsize=1024)
def _local(ts: datetime | None, zone: ZoneInfo) -> str:
    # Cached: a batch of reports shares a few times (its receipts' second, its submission).
    return ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def report_payload(row: dict, zone: ZoneInfo) -> dict:
    """The SmsReport push shape (spec/dysmsapi.md §6.1.1), plus fields receivers may use to
    de-duplicate and correlate (``message_id``, ``sign_name``, ``template_code``)."""
    delivered = row["status"] == "delivered"
    return {
        "phone_number": row["phone"],
        "send_time": _local(row["sent_at"] or row["created_at"], zone),
        "report_time": _local(row["done_at"], zone),
        "success": delivered,
        "err_code": row["err_code"] or ("DELIVERED" if delivered else "UNKNOWN"),
        "err_msg": DELIVERED_TEXT if delivered else (row["err_msg"] or row["err_code"] or ""),
        "sms_size": str(row["segments"]),
        "biz_id": row["biz_id"],
        "out_id": row["out_id"] or "",
        "message_id": str(row["id"]),
        "sign_name": row["sign_name"],
        "template_code": row["template_code"],
    }


def queue_report_for(conn: Connection, message_id: int, zone: ZoneInfo, now: datetime) -> None:
    row = conn.execute(select(messages).where(messages.c.id == message_id)).mappings().one()
    emit_report(conn, row["account_id"], "SmsReport", report_payload(dict(row), zone), now)


def refund(conn: Connection, message_id: int, now: datetime) -> int:
    """Give back what a message was charged (package units and money); returns the amount.
    The caller holds the account's lock (:func:`pigeon.services.billing.lock_account`) and
    makes sure it refunds a message once (the status change to ``failed`` is conditional)."""
    parts = conn.execute(select(ledger).where(ledger.c.message_id == message_id,
                                              ledger.c.kind == "charge")).mappings().all()
    returned = 0
    for part in parts:
        if part["package_id"] is not None:
            conn.execute(update(packages).where(packages.c.id == part["package_id"])
                         .values(remaining=packages.c.remaining - part["units"]))
        returned -= part["amount"]
        conn.execute(insert(ledger).values(
            account_id=part["account_id"], message_id=message_id, kind="refund",
            package_id=part["package_id"], units=-part["units"], amount=-part["amount"],
            note="carrier reported failure", created_at=now))
    if returned and parts:
        conn.execute(update(balances).where(balances.c.account_id == parts[0]["account_id"])
                     .values(amount=balances.c.amount + returned))
    conn.execute(update(messages).where(messages.c.id == message_id).values(charged=False))
    return returned


# What finish_many returns of each row it finished: what the report, the refund and its callers
# read.  Not the whole row: on the receipt path, converting the other columns of every
# finished row (params JSON, more timestamps) is a measurable share of the cost.
_FINISHED = tuple(messages.c[name] for name in (
    "id", "account_id", "status", "phone", "created_at", "sent_at", "done_at", "err_code",
    "err_msg", "segments", "biz_id", "out_id", "sign_name", "template_code", "extend_code",
    "content", "charged", "connector", "carrier_message_id", "template_type"))


_FINISHED_NAMES = tuple(column.name for column in _FINISHED)
# The final status of the messages (a list of ids) that have none yet, on the driver
# (store.database.Driver): SQLAlchemy's processing of the 1,000 ids and of the returned rows'
# times was most of this statement's cost.
_FINISH_SQL = (
    "UPDATE messages SET status = ?, err_code = ?, err_msg = ?, done_at = ? "
    "WHERE id {ids} AND status NOT IN ('delivered', 'failed') "
    "RETURNING " + ", ".join(_FINISHED_NAMES))


@dataclass(frozen=True)
class Final:
    """A message's final status, as :func:`finish_many` takes it."""

    message_id: int
    delivered: bool
    err_code: str
    err_msg: str | None = None


def finish(conn: Connection, message_id: int, *, delivered: bool, err_code: str,
           err_msg: str | None, zone: ZoneInfo, now: datetime) -> bool:
    """Record a message's final status once; False when it already had one."""
    return bool(finish_many(conn, [Final(message_id, delivered, err_code, err_msg)], zone, now))


def finish_many(conn: Connection, finals: Iterable[Final], zone: ZoneInfo,
                now: datetime) -> list[dict]:
    """:func:`finish` for many messages in a few statements (one UPDATE per distinct outcome,
    one INSERT of all the reports); returns the rows finished now, as updated, by id (the
    columns of :data:`_FINISHED`).  Messages that already had a final status are left out."""
    outcomes: dict[tuple, list[int]] = defaultdict(list)
    for final in finals:
        outcomes[(final.delivered, final.err_code, final.err_msg)].append(final.message_id)
    finished: list[dict] = []
    driver = Driver.of(conn)
    text = _FINISH_SQL.format(ids=driver.in_ids)
    done_at = driver.time(now)
    read_time = driver.read_time
    for (delivered, err_code, err_msg), ids in outcomes.items():
        for values in driver.run(conn, "messages", text, (
                "delivered" if delivered else "failed", err_code, err_msg, done_at,
                driver.ids(ids))):
            row = dict(zip(_FINISHED_NAMES, values, strict=True))
            row["created_at"] = read_time(row["created_at"])
            row["sent_at"] = read_time(row["sent_at"])
            row["done_at"] = read_time(row["done_at"])
            row["charged"] = bool(row["charged"])
            finished.append(row)
    finished.sort(key=lambda row: row["id"])
    billing.lock_accounts(conn, {row["account_id"] for row in finished
                                 if row["status"] == "failed"})
    for row in finished:
        if row["status"] == "failed":
            refund(conn, row["id"], now)
            row["charged"] = False
    reports.emit_many(conn, [(row["account_id"], "SmsReport", report_payload(row, zone))
                             for row in finished], now)
    if finished:
        after_commit(conn, lambda: metrics.finished(finished))
    return finished


def apply_receipts(conn: Connection, receipts: list[Receipt], zone: ZoneInfo,
                   now: datetime | None = None) -> int:
    """Final statuses from carrier receipts; returns how many messages they finished.

    A receipt is matched by (connector, carrier message id); an ``untracked`` one (the
    receipt of one part, see :class:`~pigeon.carriers.base.Receipt`) first by the part ids
    stored at submission: a failed part fails its message, and the message is delivered once
    every part has a delivered receipt.  A receipt that matches nothing *yet* is kept in
    ``early_receipts`` (received at ``now``) and matched when the dispatcher records the id
    (:func:`match_early`): SMPP lets a receipt overtake the submission's answer.
    """
    finals, unknown = _resolve(conn, receipts)
    if unknown:
        received = now or max(r.done_at for r in unknown)
        conn.execute(insert(early_receipts), [
            {"connector": r.connector, "carrier_message_id": r.carrier_message_id,
             "delivered": r.delivered, "err_code": r.err_code, "err_msg": r.err_message,
             "done_at": r.done_at, "untracked": r.untracked, "received_at": received}
            for r in unknown])
    return len(_finish_timed(conn, finals, zone))


# A batch's receipts matched to their messages (or parts) on the driver, by the SMSC's ids: one
# lookup each in (connector, id) order.
_MESSAGES_OF = ("SELECT carrier_message_id, id FROM messages "
                "WHERE connector = ? AND carrier_message_id ")
_PARTS_OF = "SELECT part_id, message_id FROM message_parts WHERE connector = ? AND part_id "


def _resolve(conn: Connection, receipts: list[Receipt],
             ) -> tuple[list[tuple[Final, datetime]], list[Receipt]]:
    """The final statuses the receipts decide (with their times), and the receipts that
    match no message."""
    driver = Driver.of(conn)
    finals: list[tuple[Final, datetime]] = []
    unknown: list[Receipt] = []
    by_connector: dict[str, list[Receipt]] = defaultdict(list)
    for receipt in receipts:
        by_connector[receipt.connector].append(receipt)
    for connector, group in by_connector.items():
        untracked = {r.carrier_message_id for r in group if r.untracked}
        parts: dict[str, int] = {}
        if untracked:
            parts = dict(driver.run(conn, None, _PARTS_OF + driver.in_ids,
                                    (connector, driver.ids(untracked))))
        plain = {r.carrier_message_id for r in group
                 if not (r.untracked and r.carrier_message_id in parts)}
        ids: dict[str, int] = {}
        if plain:
            ids = dict(driver.run(conn, None, _MESSAGES_OF + driver.in_ids,
                                  (connector, driver.ids(plain))))
        delivered_parts: dict[int, list[Receipt]] = defaultdict(list)
        for receipt in group:
            key = receipt.carrier_message_id
            if receipt.untracked and key in parts:
                if receipt.delivered:
                    delivered_parts[parts[key]].append(receipt)
                else:
                    finals.append((Final(parts[key], False, receipt.err_code,
                                         receipt.err_message), receipt.done_at))
            elif key in ids:
                finals.append((Final(ids[key], receipt.delivered, receipt.err_code,
                                     receipt.err_message), receipt.done_at))
            else:
                unknown.append(receipt)
        if delivered_parts:
            conn.execute(update(message_parts).where(
                message_parts.c.connector == connector,
                message_parts.c.part_id.in_([r.carrier_message_id
                                             for rs in delivered_parts.values() for r in rs]))
                .values(delivered=True))
            waiting = set(conn.execute(select(message_parts.c.message_id).where(
                message_parts.c.message_id.in_(list(delivered_parts)),
                message_parts.c.delivered.is_(False))).scalars())
            for message_id, got in delivered_parts.items():
                if message_id not in waiting:
                    last = max(got, key=lambda r: r.done_at)
                    finals.append((Final(message_id, True, last.err_code), last.done_at))
    return finals, unknown


def _finish_timed(conn: Connection, finals: list[tuple[Final, datetime]],
                  zone: ZoneInfo) -> list[dict]:
    """:func:`finish_many` for finals with their own times.  Finals of the same second are
    finished together at the latest of their times (``ReceiveDate`` and ``report_time`` show
    seconds), so a batch of receipts costs a few statements, not a few per receipt."""
    by_second: dict[datetime, list[tuple[Final, datetime]]] = defaultdict(list)
    for final, done_at in finals:
        by_second[done_at.replace(microsecond=0)].append((final, done_at))
    finished: list[dict] = []
    for group in by_second.values():
        finished += finish_many(conn, [final for final, _ in group], zone,
                                max(done_at for _, done_at in group))
    multipart = [row["id"] for row in finished if row["segments"] > 1]
    if multipart:
        conn.execute(delete(message_parts).where(message_parts.c.message_id.in_(multipart)))
    return finished


def store_parts(conn: Connection, connector: str, parts: list[tuple[int, str]],
                now: datetime) -> None:
    """Remember the carrier ids of multipart messages' parts: (message id, part id).  An id
    the SMSC reuses replaces the old one (its message is long final, or lost)."""
    if not parts:
        return
    rows = [{"connector": connector, "part_id": part_id, "message_id": message_id,
             "delivered": False, "created_at": now} for message_id, part_id in parts]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    statement = upsert(message_parts)
    conn.execute(statement.on_conflict_do_update(
        index_elements=[message_parts.c.connector, message_parts.c.part_id],
        set_={"message_id": statement.excluded.message_id, "delivered": False,
              "created_at": statement.excluded.created_at}), rows)


def has_early(conn: Connection) -> bool:
    """Whether any receipt waits for its message (a cheap read before :func:`sweep_early`)."""
    return conn.scalar(select(early_receipts.c.id).limit(1)) is not None


def match_early(conn: Connection, zone: ZoneInfo, *, connector: str | None = None,
                ids: list[str] | None = None, limit: int = EARLY_BATCH) -> int:
    """Apply kept receipts whose message is now known — those of ``connector`` with one of
    ``ids`` (what :func:`pigeon.services.dispatch.record` just recorded), or any; returns how
    many messages they finished.  Receipts still unmatched stay."""
    query = select(early_receipts).order_by(early_receipts.c.id).limit(limit)
    if connector is not None:
        if not ids:
            return 0
        query = query.where(early_receipts.c.connector == connector,
                            early_receipts.c.carrier_message_id.in_(ids))
    rows = conn.execute(query).mappings().all()
    if not rows:
        return 0
    receipts = [Receipt(row["connector"], row["carrier_message_id"], row["delivered"],
                        row["err_code"], row["done_at"], row["err_msg"], row["untracked"])
                for row in rows]
    finals, unknown = _resolve(conn, receipts)
    left = {id(receipt) for receipt in unknown}
    matched = [row["id"] for row, receipt in zip(rows, receipts, strict=True)
               if id(receipt) not in left]
    if matched:
        conn.execute(delete(early_receipts).where(early_receipts.c.id.in_(matched)))
    return len(_finish_timed(conn, finals, zone))


def sweep_early(conn: Connection, zone: ZoneInfo, now: datetime) -> dict[str, int]:
    """Match kept receipts (those whose id another node recorded, say) and forget what is too
    old to ever match: receipts kept longer than :data:`EARLY_KEEP`, part ids older than
    :data:`PARTS_KEEP`."""
    finished = match_early(conn, zone)
    dropped = conn.execute(delete(early_receipts).where(
        early_receipts.c.received_at < now - EARLY_KEEP)).rowcount or 0
    forgotten = conn.execute(delete(message_parts).where(
        message_parts.c.created_at < now - PARTS_KEEP)).rowcount or 0
    return {"finished": finished, "dropped": dropped, "forgotten_parts": forgotten}


def accept_inbound(conn: Connection, inbound: Inbound, zone: ZoneInfo) -> dict:
    """Store a reply and queue its SmsUp for the tenant whose signature owns the code."""
    # Extension codes are prefixes: one of a signature's codes (services/ext_codes.py), then
    # any SmsUpExtendCode the sender appended.  The longest code that prefixes dest_code wins.
    owner = ext_codes.owner_of(conn, inbound.dest_code)
    mo_id = conn.execute(insert(mo_messages).values(
        account_id=owner.account_id if owner else None,
        signature_id=owner.id if owner else None, phone=inbound.phone,
        dest_code=inbound.dest_code, content=inbound.content, connector=inbound.connector,
        created_at=inbound.received_at)).inserted_primary_key[0]
    if owner is not None:
        emit_report(conn, owner.account_id, "SmsUp", {
            "phone_number": inbound.phone,
            "content": inbound.content,
            "send_time": _local(inbound.received_at, zone),
            "dest_code": inbound.dest_code,
            "sequence_id": str(mo_id),
            "sign_name": owner.name,
        }, inbound.received_at)
    return {"id": mo_id, "account_id": owner.account_id if owner else None}


def accept_inbound_many(conn: Connection, messages_in: list[Inbound],
                        zone: ZoneInfo) -> list[dict]:
    """:func:`accept_inbound` for a connector's batch of replies, in one transaction."""
    return [accept_inbound(conn, inbound, zone) for inbound in messages_in]


def unmatched_replies(conn: Connection, limit: int = 50) -> list[dict]:
    """Replies whose extension code matched no signature, newest first (kept for operators)."""
    rows = conn.execute(select(mo_messages.c.id, mo_messages.c.phone, mo_messages.c.dest_code,
                               mo_messages.c.content, mo_messages.c.connector,
                               mo_messages.c.created_at)
                        .where(mo_messages.c.account_id.is_(None))
                        .order_by(mo_messages.c.id.desc()).limit(limit)).mappings()
    return [dict(r) for r in rows]
