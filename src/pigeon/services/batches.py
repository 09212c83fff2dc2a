"""Batch Sending: a tenant's file of numbers and variables, checked, then sent in chunks.

The way of a batch (``batches.status``)::

    draft ──send now / schedule──▶ scheduled ──due──▶ sending ──last row──▶ done
      └──────────────┴──── cancel ────┴────────────────────┴──▶ cancelled

* **Upload.**  :func:`~pigeon.services.batch_files.read_file` turns the bytes of a CSV (UTF-8
  with or without BOM, GBK as Excel in China saves it, UTF-16) or an XLSX workbook into a
  header and rows (at most 10,000 rows and 4 MB);
  :func:`check_rows` checks every row as the send path would (number, variables, URL in a
  value, length, segments — the same ``core`` functions :mod:`pigeon.services.sending` calls)
  and :func:`save_draft` stores the batch and its rows.  Rows that fail a check are kept as
  ``invalid`` with the reason and are never sent.
* **Send.**  :func:`send` makes a draft due now or at a future local time; :func:`send_due`,
  called by the batch worker (:mod:`pigeon.workers.batches`), sends the next
  :data:`CHUNK` pending rows of a due batch through :func:`pigeon.services.sending.accept` —
  the SendBatchSms path, so every rule applies: approval, caps, per-number limits, quiet
  hours, packages before balance.
* **Exactly once.**  The accepted messages and the rows marked ``sent`` (with their BizId)
  commit in one transaction, the worker's unit of work: a crash before the commit leaves the
  rows ``pending`` and no message, a crash after it leaves both.  A restarted worker resumes
  with the rows still ``pending`` — the only rule there is — so no row is sent twice and none
  is lost.
* **Quiet hours.**  A promotional batch still sending when the quiet hours begin is scheduled
  again for their end rather than having its remaining rows refused.
* **Refusals.**  A chunk the send path refuses as a whole (a bad row, the balance short for
  all of it) is retried row by row, each in its own savepoint: a row then gets its own BizId
  or its own ``Code`` and message (``failed``), and the others go out.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from pigeon.core import limits, pricing
from pigeon.core.errors import PigeonError
from pigeon.core.numbers import parse_number
from pigeon.core.schedule import in_quiet_hours
from pigeon.core.segments import check_length, count_segments, signed_text
from pigeon.core.templates import render, variables
from pigeon.core.variable_values import check_variable_value
from pigeon.services import billing, sending
from pigeon.services import signatures as signatures_service
from pigeon.services import templates as templates_service
from pigeon.services.batch_files import Sheet, read_file
from pigeon.store.tables import batch_rows, batches, messages, packages

CHUNK = sending.MAX_BATCH_NUMBERS
"""Rows per send-path call: SendBatchSms's 100 numbers, each with its own variables."""
MAX_SCHEDULE_AHEAD = timedelta(days=30)
DRAFT_DAYS = 7
"""A draft nobody sent is deleted after this many days."""

DRAFT, SCHEDULED, SENDING, DONE, CANCELLED = "draft", "scheduled", "sending", "done", "cancelled"
INVALID, PENDING, SENT, FAILED = "invalid", "pending", "sent", "failed"
ROW_CANCELLED = "cancelled"

PHONE_HEADERS = frozenset({"phonenumber", "phonenumbers", "phone", "phone_number", "mobile",
                           "号码", "手机号", "手机号码", "电话号码"})
"""Headers (compared without case and spaces) that name the number column; without one the
first column holds the numbers."""

SAMPLE_NUMBERS = ("13800138000", "13900139000")
_SAMPLE_VALUES = {"numberCaptcha": "123456", "characterWithNumber": "a1b2",
                  "characterWithNumber2": "a1b2", "phone_number2": "13800138000",
                  "time": "2025-03-08 14:30", "money": "128.50", "name": "张三",
                  "other_number2": "A1024"}
_EXCEL_SCIENTIFIC = re.compile(r"\d(\.\d+)?[eE]\+\d+")


class NoSuchBatch(LookupError):
    """The batch does not exist in this account (another tenant's is one of those)."""


def _invalid(message: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", message)


# -- checking the rows ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    """The signature and template a batch sends with."""

    sign_name: str
    template_code: str
    template_type: int
    content: str
    rule: dict
    names: tuple[str, ...]  # the template's variables


def choose(conn: Connection, account_id: int, sign_name: str, template_code: str) -> Choice:
    """The tenant's approved signature and template, checked together as the send path does
    (an OTP-only signature sends OTP templates only)."""
    if not sign_name:
        raise _invalid("Choose a signature.")
    if not template_code:
        raise _invalid("Choose a template.")
    signature = signatures_service.require(conn, account_id, sign_name)
    template = templates_service.require(conn, account_id, template_code)
    if signature["status"] != signatures_service.APPROVED:
        raise PigeonError("isv.SMS_SIGNATURE_ILLEGAL",
                          f"Signature {signature['name']!r} is not approved.")
    if template["status"] != templates_service.APPROVED:
        raise PigeonError("isv.SMS_TEMPLATE_ILLEGAL",
                          f"Template {template['code']} is not approved.")
    if signature["sign_type"] == 0 and template["type"] != limits.OTP:
        raise PigeonError("isv.SMS_SIGNATURE_SCENE_ILLEGAL",
                          f"Signature {signature['name']!r} may only send verification-code "
                          f"templates; {template['code']} is not one.")
    return Choice(sign_name=signature["name"], template_code=template["code"],
                  template_type=template["type"], content=template["content"],
                  rule=template["variable_attribute"] or {},
                  names=tuple(variables(template["content"])))


@dataclass
class Row:
    line: int
    phone: str
    params: dict | None
    content: str | None = None
    segments: int | None = None
    state: str = PENDING
    err_code: str | None = None
    err_msg: str | None = None


@dataclass
class Checked:
    rows: list[Row]
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return sum(1 for row in self.rows if row.state == PENDING)

    @property
    def segments(self) -> int:
        return sum(row.segments or 0 for row in self.rows if row.state == PENDING)


def _looks_like_a_number(cell: str) -> bool:
    digits = cell.removeprefix("+")
    return len(digits) >= 5 and digits.isdigit()


def check_rows(choice: Choice, sheet: Sheet) -> Checked:
    """Every row of ``sheet`` checked for sending with ``choice``.

    The number column is the one headed ``PhoneNumber`` (or phone, mobile, 号码, 手机号…),
    else the first; each template variable is the column headed by its name.  A file whose
    first row is a number has no header: it may only serve a template without variables.
    Raises ``isv.INVALID_PARAMETERS`` when a variable's column is missing; a row's own
    problem (a bad number, a missing value, a URL, too long …) makes that row ``invalid``.
    """
    headers = sheet.first
    data = sheet.rows
    keys = [header.replace(" ", "").lower() for header in headers]
    # A template variable may itself be called "phone" (客服电话${phone}): its column is the
    # variable's when another column names the number.
    candidates = [i for i, key in enumerate(keys) if key in PHONE_HEADERS]
    phone_at = next((i for i in candidates if headers[i] not in choice.names),
                    candidates[0] if candidates else None)
    if phone_at is None and headers and _looks_like_a_number(headers[0]):
        if choice.names:
            raise _invalid(f"The first row must be a header naming the columns: PhoneNumber,"
                           f"{','.join(choice.names)}. Download the sample file for "
                           f"{choice.template_code} to see the layout.")
        data = [(1, headers), *data]  # no header: every row is a number
        headers, phone_at = [], 0
    if phone_at is None:
        phone_at = 0
    columns: dict[str, int] = {}
    missing = []
    for name in choice.names:
        at = next((i for i, h in enumerate(headers) if h == name), None)
        if at is None:
            at = next((i for i, h in enumerate(headers) if h.lower() == name.lower()), None)
        if at is None or at == phone_at:
            missing.append(name)
        else:
            columns[name] = at
    if missing:
        found = ", ".join(h for h in headers if h) or "none"
        raise _invalid(f"The file has no column for the template variable(s) "
                       f"{', '.join(missing)}. Its header must name them (found: {found}); "
                       f"download the sample file for {choice.template_code}.")
    if not data:
        raise _invalid("The file has a header but no number below it.")
    used = {phone_at, *columns.values()}
    ignored = [h for i, h in enumerate(headers) if i not in used and h]
    seen: dict[str, int] = {}
    rows = [_check_row(choice, line, cells, phone_at, columns, seen) for line, cells in data]
    return Checked(rows=rows, ignored_columns=ignored)


def _check_row(choice: Choice, line: int, cells: list[str], phone_at: int,
               columns: dict[str, int], seen: dict[str, int]) -> Row:
    def cell(at: int) -> str:
        return cells[at] if at < len(cells) else ""

    written = cell(phone_at)
    params = {name: cell(at) for name, at in columns.items()} if choice.names else None
    row = Row(line=line, phone=written[:64], params=params)
    try:
        if _EXCEL_SCIENTIFIC.fullmatch(written):
            raise PigeonError("isv.MOBILE_NUMBER_ILLEGAL",
                              f"{written} is a number Excel shortened to scientific notation; "
                              "format the number column as Text and save again.")
        number = parse_number(written)
        row.phone = number.wire
        earlier = seen.get(number.wire)
        if earlier is not None:
            raise _invalid(f"{number.wire} is already on line {earlier}; a batch sends once "
                           "per number.")
        seen[number.wire] = line
        # The same checks, in the same order, as the send path's (services/sending.py).
        if choice.template_type == limits.INTERNATIONAL and number.is_mainland:
            raise PigeonError("isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
                              f"Template {choice.template_code} is international; "
                              f"{number.wire} is a mainland number.")
        if choice.template_type != limits.INTERNATIONAL and not number.is_mainland:
            raise PigeonError("isv.SMS_TEMPLATE_ILLEGAL",
                              f"Template {choice.template_code} is for mainland numbers; "
                              f"{number.wire} needs an international template.")
        for name in choice.names:
            if not params[name]:
                raise PigeonError("isv.TEMPLATE_MISSING_PARAMETERS",
                                  f"No value for the template variable ${{{name}}}.")
        text = render(choice.content, params or {})
        for name in choice.names:
            check_variable_value(choice.rule.get(name), params[name])
        international = not number.is_mainland
        content = signed_text(choice.sign_name, text, international=international)
        seg = count_segments(content, international=international)
        check_length(seg)
    except PigeonError as exc:
        row.state, row.err_code, row.err_msg = INVALID, exc.code, exc.message
        return row
    row.content, row.segments = content, seg.segments
    return row


def sample_csv(names: tuple[str, ...] | list[str], rule: dict) -> str:
    """A CSV to fill in for a template with the variables ``names`` (attributes ``rule``):
    the header and two example rows that pass the checks."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["PhoneNumber", *names])
    for phone in SAMPLE_NUMBERS:
        writer.writerow([phone, *(_SAMPLE_VALUES.get(rule.get(name), "示例") for name in names)])
    return out.getvalue()


def sample_for(conn: Connection, account_id: int, template_code: str) -> str:
    """:func:`sample_csv` for the account's template ``template_code``."""
    template = templates_service.require(conn, account_id, template_code)
    return sample_csv(variables(template["content"]), template["variable_attribute"] or {})


# -- drafts -------------------------------------------------------------------------------------

def save_draft(conn: Connection, account_id: int, file_name: str, sheet: Sheet, choice: Choice,
               checked: Checked, now: datetime) -> int:
    """Store a checked file as a draft batch; its id."""
    batch_id = conn.execute(insert(batches).values(
        account_id=account_id, file_name=(file_name or "upload")[:255],
        file_format=sheet.file_format, sign_name=choice.sign_name,
        template_code=choice.template_code, template_type=choice.template_type, status=DRAFT,
        total=len(checked.rows), valid=checked.valid, segments=checked.segments, sent=0,
        failed=0, ignored_columns=checked.ignored_columns or None, created_at=now,
    )).inserted_primary_key[0]
    conn.execute(insert(batch_rows), [
        {"batch_id": batch_id, "line": row.line, "phone": row.phone, "params": row.params,
         "content": row.content, "segments": row.segments, "state": row.state,
         "err_code": row.err_code, "err_msg": row.err_msg, "biz_id": None}
        for row in checked.rows])
    return batch_id


def upload(conn: Connection, account_id: int, sign_name: str, template_code: str,
           file_name: str, data: bytes, now: datetime) -> int:
    """Read, check and store a file as a draft in one go (the console splits these steps to
    keep the parsing out of the write transaction)."""
    choice = choose(conn, account_id, sign_name, template_code)
    sheet = read_file(file_name, data)
    return save_draft(conn, account_id, file_name, sheet, choice, check_rows(choice, sheet), now)


def purge_drafts(conn: Connection, now: datetime) -> int:
    """Delete drafts older than :data:`DRAFT_DAYS` (never sent); how many."""
    old = select(batches.c.id).where(batches.c.status == DRAFT,
                                     batches.c.created_at < now - timedelta(days=DRAFT_DAYS))
    ids = list(conn.scalars(old))
    if ids:
        conn.execute(delete(batch_rows).where(batch_rows.c.batch_id.in_(ids)))
        conn.execute(delete(batches).where(batches.c.id.in_(ids)))
    return len(ids)


# -- reading batches -------------------------------------------------------------------------------

def _batch(conn: Connection, account_id: int, batch_id: int, *, lock: bool = False) -> dict:
    query = select(batches).where(batches.c.id == batch_id, batches.c.account_id == account_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NoSuchBatch(batch_id)
    return dict(row)


def get(conn: Connection, account_id: int, batch_id: int) -> dict | None:
    """The batch, or None when the account has no such batch."""
    try:
        return _batch(conn, account_id, batch_id)
    except NoSuchBatch:
        return None


def listing(conn: Connection, account_id: int, limit: int = 100) -> list[dict]:
    """The account's batches, newest first."""
    return [dict(row) for row in conn.execute(
        select(batches).where(batches.c.account_id == account_id)
        .order_by(batches.c.id.desc()).limit(limit)).mappings()]


def preview_rows(conn: Connection, account_id: int, batch_id: int, *, state: str,
                 limit: int) -> list[dict]:
    """The first ``limit`` rows of the batch in ``state``, in file order."""
    _batch(conn, account_id, batch_id)
    return [dict(row) for row in conn.execute(
        select(batch_rows).where(batch_rows.c.batch_id == batch_id, batch_rows.c.state == state)
        .order_by(batch_rows.c.line).limit(limit)).mappings()]


def all_rows(conn: Connection, account_id: int, batch_id: int) -> list[dict]:
    """Every row of the batch with its outcome, in file order (the results export)."""
    _batch(conn, account_id, batch_id)
    return [dict(row) for row in conn.execute(
        select(batch_rows).where(batch_rows.c.batch_id == batch_id)
        .order_by(batch_rows.c.line)).mappings()]


def estimate(conn: Connection, account_id: int, template_type: int, segments: int,
             now: datetime) -> dict:
    """What ``segments`` segments of ``template_type`` would cost the account now.

    ``upper``: every segment at the account's price, as if no package covered any;
    ``covered``: the segments its usable packages could pay (packages are used first);
    ``from_balance``: the rest at the price, and whether the balance holds it.  Only an
    estimate: other sending uses the same packages and money, and the per-number limits may
    refuse numbers (not charged).
    """
    price = next(p["price_milli"] for p in billing.price_list(conn, account_id)
                 if p["TemplateType"] == template_type)
    usable = [pricing.Package(id=r.id, kind=r.kind, remaining=r.remaining,
                              expires_at=r.expires_at)
              for r in conn.execute(select(packages.c.id, packages.c.kind, packages.c.remaining,
                                           packages.c.expires_at).where(
                  packages.c.account_id == account_id, packages.c.remaining > 0))]
    in_packages = sum(p.remaining for p in usable if p.usable(template_type, now))
    covered = min(segments, in_packages)
    from_balance = (segments - covered) * price
    balance = billing.balance(conn, account_id)
    return {"segments": segments, "price": price, "upper": segments * price,
            "covered": covered, "from_balance": from_balance, "balance": balance,
            "short": max(0, from_balance - balance)}


def progress(conn: Connection, account_id: int, batch_id: int) -> dict:
    """The batch's counts: rows by state, and the delivery of the rows sent (by the
    messages' status, matched by BizId and number)."""
    batch = _batch(conn, account_id, batch_id)
    by_state = dict(conn.execute(
        select(batch_rows.c.state, func.count()).where(batch_rows.c.batch_id == batch_id)
        .group_by(batch_rows.c.state)).all())
    delivery = dict(conn.execute(
        select(messages.c.status, func.count())
        .select_from(batch_rows.join(messages, (messages.c.biz_id == batch_rows.c.biz_id)
                                     & (messages.c.phone == batch_rows.c.phone)))
        .where(batch_rows.c.batch_id == batch_id, batch_rows.c.state == SENT,
               messages.c.account_id == account_id)
        .group_by(messages.c.status)).all()) if by_state.get(SENT) else {}
    sent, failed = by_state.get(SENT, 0), by_state.get(FAILED, 0)
    valid = batch["valid"]
    decided = sent + failed
    return {
        "id": batch["id"], "status": batch["status"], "total": batch["total"], "valid": valid,
        "invalid": by_state.get(INVALID, 0), "pending": by_state.get(PENDING, 0),
        "sent": sent, "failed": failed, "cancelled": by_state.get(ROW_CANCELLED, 0),
        "delivered": delivery.get("delivered", 0),
        "undelivered": delivery.get("failed", 0),
        "waiting": sum(n for status, n in delivery.items()
                       if status not in ("delivered", "failed")),
        "percent": 100 if not valid else round(100 * decided / valid),
        "finished": batch["status"] in (DONE, CANCELLED),
    }


# -- sending, scheduling, cancelling -------------------------------------------------------------

def parse_local_time(text: str, zone: ZoneInfo) -> datetime:
    """A local date-time as a form gives it (``2027-03-01T10:00``) in the platform zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _invalid(f"The time {text!r} must look like 2027-03-01 10:00 (platform time, "
                       f"{zone}).") from None
    if moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone)


def send(conn: Connection, policy: sending.SendPolicy, account_id: int, batch_id: int,
         at: datetime | None, now: datetime) -> dict:
    """Make a draft (or a scheduled batch: rescheduling) due now (``at`` None) or at ``at``,
    which must be in the future and within :data:`MAX_SCHEDULE_AHEAD`.  A promotional batch
    may not be due inside the quiet hours."""
    batch = _batch(conn, account_id, batch_id, lock=True)
    if batch["status"] not in (DRAFT, SCHEDULED):
        raise _invalid(f"This batch is {batch['status']}; only a draft or a scheduled batch "
                       "can be sent or scheduled.")
    if not batch["valid"]:
        raise _invalid("No row of this batch can be sent: every row has a problem. Fix the "
                       "file and upload it again.")
    choose(conn, account_id, batch["sign_name"], batch["template_code"])  # still approved?
    due = now if at is None else at
    if at is not None:
        if at <= now:
            raise _invalid("The scheduled time must be in the future.")
        if at > now + MAX_SCHEDULE_AHEAD:
            raise _invalid(f"A batch can be scheduled at most {MAX_SCHEDULE_AHEAD.days} days "
                           "ahead.")
    if policy.quiet_hours is not None:
        limits.check_quiet_hours(batch["template_type"], due, policy.zone, policy.quiet_hours)
    conn.execute(update(batches).where(batches.c.id == batch_id)
                 .values(status=SCHEDULED, scheduled_at=due))
    return _batch(conn, account_id, batch_id)


def cancel(conn: Connection, account_id: int, batch_id: int, now: datetime) -> dict:
    """Cancel a draft, a scheduled batch, or one that is sending: its rows not sent yet never
    will be.  Rows already sent stay sent."""
    batch = _batch(conn, account_id, batch_id, lock=True)
    if batch["status"] not in (DRAFT, SCHEDULED, SENDING):
        raise _invalid(f"This batch is {batch['status']} already; there is nothing left to "
                       "cancel.")
    conn.execute(update(batch_rows).where(batch_rows.c.batch_id == batch_id,
                                          batch_rows.c.state == PENDING)
                 .values(state=ROW_CANCELLED))
    conn.execute(update(batches).where(batches.c.id == batch_id)
                 .values(status=CANCELLED, finished_at=now))
    return _batch(conn, account_id, batch_id)


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether a batch is sending or due: a read, so that an idle worker never takes the
    writer."""
    return conn.scalar(select(batches.c.id).where(
        (batches.c.status == SENDING)
        | ((batches.c.status == SCHEDULED) & (batches.c.scheduled_at <= now))).limit(1)) \
        is not None


def _due(conn: Connection, now: datetime) -> dict | None:
    query = (select(batches).where(
        (batches.c.status == SENDING)
        | ((batches.c.status == SCHEDULED) & (batches.c.scheduled_at <= now)))
        .order_by(batches.c.scheduled_at, batches.c.id).limit(1))
    if conn.dialect.name == "postgresql":
        # Another node's worker busy with a batch holds its row: take the next one.
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


_mark_sent = (update(batch_rows)
              .where(batch_rows.c.batch_id == bindparam("b_batch"),
                     batch_rows.c.line == bindparam("b_line"))
              .values(state=bindparam("b_state"), biz_id=bindparam("b_biz"),
                      err_code=bindparam("b_code"), err_msg=bindparam("b_msg")))


def send_due(conn: Connection, policy: sending.SendPolicy, now: datetime,
             chunk: int = CHUNK) -> dict | None:
    """The batch worker's step: send the next ``chunk`` pending rows of the oldest due batch
    (or finish it when none is left).  Returns ``{"batch_id", "sent", "failed", "done",
    "paused_until"}``, or None when no batch is due.  A promotional batch inside the quiet
    hours is not sent but scheduled again for their end (``paused_until``).  Runs in one transaction with the send path's: see the
    module docstring."""
    batch = _due(conn, now)
    if batch is None:
        return None
    batch_id = batch["id"]
    window = policy.quiet_hours
    if window is not None and batch["template_type"] == limits.PROMOTIONAL \
            and in_quiet_hours(now, policy.zone, window):
        # A promotional batch still sending when the quiet hours begin waits for their end,
        # instead of having every remaining row refused.
        resume = _quiet_end(now, policy.zone, window)
        conn.execute(update(batches).where(batches.c.id == batch_id)
                     .values(status=SCHEDULED, scheduled_at=resume))
        return {"batch_id": batch_id, "sent": 0, "failed": 0, "done": False,
                "paused_until": resume}
    if batch["status"] == SCHEDULED:
        conn.execute(update(batches).where(batches.c.id == batch_id)
                     .values(status=SENDING, started_at=batch["started_at"] or now))
    rows = conn.execute(select(batch_rows.c.line, batch_rows.c.phone, batch_rows.c.params)
                        .where(batch_rows.c.batch_id == batch_id,
                               batch_rows.c.state == PENDING)
                        .order_by(batch_rows.c.line).limit(chunk)).all()
    if not rows:
        conn.execute(update(batches).where(batches.c.id == batch_id)
                     .values(status=DONE, finished_at=now))
        return {"batch_id": batch_id, "sent": 0, "failed": 0, "done": True,
                "paused_until": None}
    outcomes = _send_rows(conn, policy, batch, rows, now)
    conn.execute(_mark_sent, [{"b_batch": batch_id, "b_line": line, "b_state": state,
                               "b_biz": biz_id, "b_code": code, "b_msg": message}
                              for line, (state, biz_id, code, message) in outcomes.items()])
    sent = sum(1 for state, *_rest in outcomes.values() if state == SENT)
    failed = len(outcomes) - sent
    conn.execute(update(batches).where(batches.c.id == batch_id).values(
        sent=batches.c.sent + sent, failed=batches.c.failed + failed))
    return {"batch_id": batch_id, "sent": sent, "failed": failed, "done": False,
            "paused_until": None}


def _quiet_end(now: datetime, zone: ZoneInfo, window: tuple[time, time]) -> datetime:
    """When the quiet hours that ``now`` is in end (UTC)."""
    start, end = window
    local = now.astimezone(zone)
    day = local.date()
    if start > end and local.time() >= start:  # the evening part of a window across midnight
        day += timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def _send_rows(conn: Connection, policy: sending.SendPolicy, batch: dict, rows,
               now: datetime) -> dict[int, tuple[str, str | None, str | None, str | None]]:
    """Each row's outcome, line → (state, BizId, Code, Message): the whole chunk in one
    send-path call, or, if that is refused, row by row."""

    def request(chosen) -> sending.SendRequest:
        return sending.SendRequest(
            template_code=batch["template_code"], out_id=f"batch-{batch['id']}",
            recipients=[sending.Recipient(phone=r.phone, sign_name=batch["sign_name"],
                                          params=r.params) for r in chosen])

    savepoint = conn.begin_nested()
    try:
        answer = sending.accept(conn, policy, batch["account_id"], request(rows), now)
    except PigeonError as exc:
        savepoint.rollback()
        if len(rows) == 1:
            return {rows[0].line: (FAILED, None, exc.code, exc.message)}
    else:
        savepoint.commit()
        return {r.line: (SENT, answer["BizId"], None, None) for r in rows}
    outcomes = {}
    for r in rows:
        savepoint = conn.begin_nested()
        try:
            answer = sending.accept(conn, policy, batch["account_id"], request([r]), now)
        except PigeonError as exc:
            savepoint.rollback()
            outcomes[r.line] = (FAILED, None, exc.code, exc.message)
        else:
            savepoint.commit()
            outcomes[r.line] = (SENT, answer["BizId"], None, None)
    return outcomes
