"""Accepting messages: SendSms and SendBatchSms.

Everything a message must pass is decided here before the BizId is answered: the signature
and template (the tenant's, approved, of compatible types), the numbers, the variables, length
and segments, quiet hours, the account's caps, the per-number limits, and the price (packages
first, then the balance).  A message is accepted exactly when its row commits; the dispatcher
takes it from there.  :func:`accept` is both halves in one write transaction; the API runs the
first, :func:`prepare` (what needs no lock), before its write and the second, :func:`record`,
in it.

Counting and inserting happen in one transaction under the account's lock (the one
:func:`pigeon.services.billing.lock_account` takes), so two requests — on one node or on
several — can never both squeeze under a limit, a cap, or the same money.  On PostgreSQL the
lock and the reads it guards travel in one round trip, and so do the counters, the ledger and
the debit (:meth:`~pigeon.store.database.Driver.run_all`): a unit's statements, one after the
other, were what the writer waited for most.

Speed (bench/send_sms.py, bench/README.md).  What every call reads and operators rarely change
— the account's status, sending settings, whitelist and prices, the tenant's templates and
signatures — is cached per process (:class:`_Cache`): a write to those tables made in this
process drops the copies at once (:class:`~pigeon.store.database.WriteLog`), and one made by
another process (the CLI, another node) is seen within :data:`CACHE_SECONDS`, as AccessKeys
are.  Money, packages and the per-number counts are read fresh in every call.  The hot
statements are built once, at import, and a batch's numbers share one limits query and one
INSERT per table.
"""

from __future__ import annotations

import dataclasses
import random
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select

from pigeon import metrics
from pigeon.core import limits, pricing
from pigeon.core.errors import PigeonError
from pigeon.core.numbers import PhoneNumber, parse_number
from pigeon.core.review_rules import check_variable_value
from pigeon.core.segments import check_length, count_segments, signed_text
from pigeon.core.templates import render, variables
from pigeon.services import billing, otp_protection
from pigeon.services import signatures as signatures_service
from pigeon.services import templates as templates_service
from pigeon.services.delivery import queue_report_for
from pigeon.store import locks
from pigeon.store.database import (
    BulkInsert,
    Conflict,
    Declined,
    Driver,
    Raised,
    WriteLog,
    after_commit,
    defer,
    deferred,
    deferring,
    mergeable,
)
from pigeon.store.tables import (
    accounts,
    balances,
    ledger,
    messages,
    number_lists,
    prices,
    sending_settings,
)

MAX_SEND_SMS_NUMBERS = 1000
MAX_BATCH_NUMBERS = 100
MAX_EXTEND_CODE = 7
"""Digits of SmsUpExtendCode (spec/dysmsapi.md §7.1: "7 digits or fewer")."""
LIMIT_FAILURE = "MOBILE_SEND_LIMIT"  # the receipt code for a number over its limit

CACHE_SECONDS = 2.0
"""How long a cached account state, template or signature is trusted at most.  Writes made in
this process invalidate at once; this bounds what another process's writes (``pigeon account
suspend``, a review decided on another node) take to apply here — the same bound as the
AccessKey cache's (``pigeon.app.KEY_CACHE_SECONDS``), which already lets a suspended account's
keys sign for that long."""

CACHE_ENTRIES = 10_000  # per process; the cache starts over when it is full

_clock = time.monotonic  # what the time to live counts in (tests move it)

_CACHED_TABLES = ("accounts", "sending_settings", "number_lists", "prices", "templates",
                  "signatures")


@dataclass(frozen=True)
class SendPolicy:
    zone: ZoneInfo
    quiet_hours: tuple[dtime, dtime] | None  # promotional messages are held back inside it
    access_code: str  # the platform's sender number; extension codes are appended


@dataclass(frozen=True)
class Recipient:
    phone: str  # as the caller wrote it
    sign_name: str
    params: dict | None  # TemplateParam for this number, already JSON-decoded
    extend_code: str | None = None  # SmsUpExtendCode


@dataclass(frozen=True)
class SendRequest:
    template_code: str
    recipients: list[Recipient]
    out_id: str | None = None
    source_ip: str | None = None  # the API caller's address, kept for SMS-pumping detection


@dataclass
class _Prepared:
    recipient: Recipient
    number: PhoneNumber
    signature: dict
    content: str
    segments: int
    encoding: str
    params: dict | None  # the values of the template's variables: what is stored
    failure: tuple[str, str] | None = None  # refused per number (over its limit)
    charge: pricing.Charge | None = field(default=None)


@dataclass(frozen=True)
class _Account:
    """What a call needs to know about the account, beyond its money."""

    status: str | None  # None: no such account
    settings: dict  # the sending_settings row; {} when the account has none
    whitelist: frozenset[str]  # wire forms
    prices: dict[int, int]  # price per segment in force, by template type (if not default)
    number_limits: limits.NumberLimits


def _load_account(conn: Connection, account_id: int) -> _Account:
    status = conn.scalar(select(accounts.c.status).where(accounts.c.id == account_id))
    row = conn.execute(select(sending_settings)
                       .where(sending_settings.c.account_id == account_id)).mappings().first()
    settings = dict(row) if row else {}
    whitelist = frozenset(conn.scalars(select(number_lists.c.phone).where(
        number_lists.c.account_id == account_id, number_lists.c.list == "whitelist")))
    # The account's own price of a type, else the platform's, else Pigeon's default.
    own: dict[int, int] = {}
    platform: dict[int, int] = {}
    for row_account, template_type, price in conn.execute(
            select(prices.c.account_id, prices.c.template_type, prices.c.price).where(
                (prices.c.account_id == account_id) | prices.c.account_id.is_(None))):
        (own if row_account is not None else platform).setdefault(template_type, price)
    return _Account(status=status, settings=settings, whitelist=whitelist,
                    prices={**platform, **own}, number_limits=_number_limits(settings))


class _Cache:
    """Copies of rows that every call reads and operators rarely change, keyed by what they
    are (``("template", account_id, code)`` …), each valid while no write to
    :data:`_CACHED_TABLES` happened in this process and for at most :data:`CACHE_SECONDS`.
    One per database (per :class:`WriteLog`); without a write log nothing is cached."""

    _of: weakref.WeakKeyDictionary[WriteLog, _Cache] = weakref.WeakKeyDictionary()
    _uncached: _Cache | None = None

    def __init__(self, log: WriteLog | None) -> None:
        self.log = log
        self.entries: dict[tuple, tuple[float, tuple, object]] = {}

    @classmethod
    def of(cls, conn: Connection) -> _Cache:
        log = WriteLog.of(conn)
        if log is None:
            if cls._uncached is None:
                cls._uncached = cls(None)
            return cls._uncached
        cache = cls._of.get(log)
        if cache is None:
            cache = cls._of[log] = cls(log)
        return cache

    def get(self, key: tuple, load: Callable[[], object]):
        if self.log is None:
            return load()
        version = self.log.version(_CACHED_TABLES)
        now = _clock()
        hit = self.entries.get(key)
        if hit is not None and hit[0] > now and hit[1] == version:
            return hit[2]
        if self.log.pending(_CACHED_TABLES):
            # A write of this process to these tables is not committed yet (on PostgreSQL reads
            # run in threads of their own, beside the writer's): a copy read now, kept under
            # the version the write already moved, would outlive it.
            return load()
        value = load()
        if len(self.entries) >= CACHE_ENTRIES:
            self.entries.clear()
        self.entries[key] = (now + CACHE_SECONDS, version, value)
        return value


def new_biz_id(now: datetime) -> str:
    """An id like Alibaba's ``900619746936498440^0``: 18 digits, time-ordered, random tail.

    The tail comes from ``random`` (seeded from the OS, and again in a forked child), as the
    RequestId's (api/rpc/endpoint.py): a BizId names the tenant's own messages only to the
    tenant's key, so it needs to be unique, not unpredictable — and ``secrets`` reads
    ``os.urandom``, a system call that lets go of the GIL, once a request (1.6 % of a
    SendSms profile, bench/README.md)."""
    micros = int(now.timestamp() * 1_000_000) % 10**15
    return f"{micros:015d}{random.randrange(1000):03d}^0"


def accept(conn: Connection, policy: SendPolicy, account_id: int, request: SendRequest,
           now: datetime) -> dict:
    """Decide and record one SendSms/SendBatchSms call; returns ``{"BizId": ...}``."""
    return record(conn, prepare(conn, policy, account_id, request, now))


@dataclass
class ReadyCall:
    """A call checked and rendered by :func:`prepare`, for :func:`record` to decide and write:
    everything that needs no lock, done."""

    account_id: int
    account: _Account
    template: dict
    items: list[_Prepared]  # one per recipient, in the call's order
    counting: _NumberCounts  # the per-number counts' statements and their check
    count_sent: tuple[str, str, tuple]  # the day and month counters' statement
    rows: list[dict]  # the messages' rows, as accepted
    values: list[tuple]  # the same as the INSERT's parameters
    price: int  # per segment
    biz_id: str
    request: SendRequest
    zone: ZoneInfo  # the platform's, for days and reports
    now: datetime


def prepare(conn: Connection, policy: SendPolicy, account_id: int, request: SendRequest,
            now: datetime) -> ReadyCall:
    """Check and render a call with what does not change under a send: the account's status,
    the template and signatures (cached), quiet hours, each number, its text and segments, the
    statements :func:`record` will run.  Reads only, and only through the cache (what is
    done before a read can be done twice: ``Database.read(..., cached=True)``); a PigeonError
    refuses the call.

    The API runs this before the write (api/rpc/actions/sending.py): the write holds locks
    other writers wait for — on SQLite the database's, on PostgreSQL the numbers' until its
    group commits — so whatever leaves it lets them write sooner."""
    cache = _Cache.of(conn)
    account = cache.get(("account", account_id), lambda: _load_account(conn, account_id))
    if account.status != "active":
        raise PigeonError("isv.OUT_OF_SERVICE",
                          "The service is suspended for this account; sending is refused.")
    template = cache.get(("template", account_id, request.template_code),
                         lambda: templates_service.require(conn, account_id,
                                                           request.template_code))
    if template["status"] != templates_service.APPROVED:
        raise PigeonError("isv.SMS_TEMPLATE_ILLEGAL",
                          f"Template {template['code']} is not approved.")
    template_type = template["type"]
    if policy.quiet_hours is not None:
        limits.check_quiet_hours(template_type, now, policy.zone, policy.quiet_hours)

    signature_of = _signature_lookup(conn, cache, account_id, template)
    items = [_prepare(signature_of, template, r) for r in request.recipients]
    driver = Driver.of(conn)
    price = account.prices.get(template_type, pricing.DEFAULT_PRICES[template_type])
    biz_id = new_biz_id(now)
    rows = [_row(account_id, biz_id, template, item, request.out_id, price, now)
            | {"source_ip": request.source_ip} for item in items]
    return ReadyCall(
        account_id=account_id, account=account, template=template, items=items,
        counting=_number_counts(driver, account_id, account, template, items, now,
                                policy.zone),
        count_sent=_count_sent(driver, account_id, len(items), now, policy.zone),
        rows=rows, values=_insert_messages_bulk.tuples(driver, rows),
        price=price, biz_id=biz_id, request=request, zone=policy.zone, now=now)


def _merge_key(ready: ReadyCall) -> tuple | None:
    """What the calls :func:`_record_all` decides as one share: one number each, the same
    cached copies of the account's state, the template and the signature, the same zone; and
    no day or month cap (counted under the account's lock, call after call).  None: the call
    is recorded alone."""
    if len(ready.items) != 1:
        return None
    settings = ready.account.settings
    if settings.get("day_limit") is not None or settings.get("month_limit") is not None:
        return None
    return (ready.account_id, id(ready.account), id(ready.template),
            id(ready.items[0].signature), ready.zone)


def _record_all(conn: Connection, calls: list[tuple[ReadyCall]]) -> list[dict | Raised]:
    """:func:`record` for one-number calls that share :func:`_merge_key`, queued together in
    the writer's group (SendSms under load): their counts and money read once, their messages
    written by one INSERT, each call decided, in order, as :func:`record` would decide it after
    the earlier ones — its number's count holding their messages, the money less their
    charges.  Each call's answer, or its refusal (Raised: nothing written for it).  Declines
    (store.database.Declined) what it would not decide exactly so: a unit run again under the
    account's lock, an OTP template of an account under an SMS-pumping protection."""
    if not deferring(conn):
        raise Declined("the money is debited at once")
    readies = [ready for ready, in calls]
    first = readies[0]
    account_id, template = first.account_id, first.template
    template_type = template["type"]
    if template_type == limits.OTP and otp_protection.any_active(
            conn, account_id, min(ready.now for ready in readies)):
        raise Declined("an SMS-pumping protection is active")
    driver = Driver.of(conn)
    items = [ready.items[0] for ready in readies]
    taking = locks.statement_all(conn, locks.NUMBER, (locks.number_ident(account_id,
                                                                          item.number.wire)
                                                      for item in items))
    statements: list[tuple[str | None, str, tuple]] = \
        [] if taking is None else [(None, taking.sql, taking.params)]
    counted = [ready for ready in readies if ready.counting.statements]
    if counted:
        per_template = _per_template(template)
        statements.append((None, *_counted(
            driver, per_template, account_id, items[0].signature["id"],
            {ready.items[0].number.wire for ready in counted},
            min(ready.counting.since for ready in counted),
            _count_scope(template, per_template))))
    results = driver.run_all(conn, [*statements, (None, _USABLE_PACKAGES, (account_id,)),
                                    (None, _BALANCE_OF, (account_id,))])
    if taking is not None:
        taking.check(results.pop(0))
    sent: dict[str, list[tuple]] = {}
    for row in results[0] if counted else ():
        sent.setdefault(row[0], []).append(row)
    packages, balance = _unsettled(conn, account_id, _packages(driver, results[-2]),
                                   results[-1][0][0] if results[-1] else 0)

    answers: list[dict | Raised] = []
    accepted: list[ReadyCall] = []
    for ready, item in zip(readies, items, strict=True):
        item.failure = item.charge = None
        phone = item.number.wire
        try:
            ready.counting.check([sent.get(phone, [])] if ready.counting.statements else [])
            item.charge = pricing.plan_batch(template_type, [item.segments], ready.price,
                                             packages, balance, ready.now)[0]
        except PigeonError as refused:
            answers.append(Raised(refused))
            continue
        packages, balance = pricing.apply(item.charge, packages, balance)
        sent.setdefault(phone, []).append((phone, driver.time(ready.now)))
        answers.append({"BizId": ready.biz_id})
        accepted.append(ready)
    if accepted:
        ids = _insert_messages_bulk.returning_ids_of(conn, [ready.values[0]
                                                            for ready in accepted])
        for ready, message_id in zip(accepted, ids, strict=True):
            _record_charges(conn, account_id, ready.items, [message_id], ready.now,
                            ready.count_sent, True)
        rows = [ready.rows[0] for ready in accepted]
        after_commit(conn, lambda: metrics.accepted_rows(template_type, rows))
    return answers


@mergeable(_merge_key, _record_all)
def record(conn: Connection, ready: ReadyCall) -> dict:
    """Decide what the counts, caps and money allow for a prepared call and write it; returns
    ``{"BizId": ...}``.  May run again for the same call (the writer retries a unit that met a
    lock): nothing of an earlier run is kept.

    On PostgreSQL, where several nodes write at once, the numbers' locks make their counts
    exact.  The money — the balance, the packages' units, the day and month counters, rows
    every message of the tenant touches — is debited at the end of the writer's group
    (:func:`_settle`), each debit on condition that it is still covered: the account's lock is
    held for the commit only, not for the whole group, so two nodes' groups for one tenant run
    side by side.  Where that condition failed (the group runs again, :data:`CAUTIOUS`), where
    the account has caps (their counts must be exact too), or outside the writer, the account's
    lock is taken first and the money debited at once."""
    account_id, account, template, now = ready.account_id, ready.account, ready.template, \
        ready.now
    prepared = ready.items
    for item in prepared:
        item.failure = item.charge = None
    template_type = template["type"]
    zone = ready.zone
    driver = Driver.of(conn)
    settings = account.settings
    later = deferring(conn) and settings.get("day_limit") is None \
        and settings.get("month_limit") is None
    # Under the locks, every count and sum read from here on is the last committed, on every
    # node.  The locks and the reads go together: one round trip on PostgreSQL.  The numbers'
    # before the account's (store/locks.py: a group's end waits for the account's holding the
    # numbers').
    takings = [locks.statement_all(conn, locks.NUMBER,  # hashed only where there are locks
                                   (locks.number_ident(account_id, p.number.wire)
                                    for p in prepared))]
    if not later:
        takings.append(billing.account_lock(conn, account_id))
    takings = [taking for taking in takings if taking is not None]
    counting = ready.counting
    results = driver.run_all(conn, [*((None, t.sql, t.params) for t in takings),
                                    *counting.statements,
                                    (None, _USABLE_PACKAGES, (account_id,)),
                                    (None, _BALANCE_OF, (account_id,))])
    for taking in takings:
        taking.check(results.pop(0))
    *counted, package_rows, balance_rows = results

    # SMS-pumping protection switched on by the tenant's alert rules (alerts issue).  Its
    # count of the account's codes is exact under the account's lock.
    otp_protection.check(conn, account_id, template_type, [p.number for p in prepared], now,
                         exact=(lambda: billing.lock_account(conn, account_id)) if later
                         else None)
    _check_caps(conn, account_id, settings, len(prepared), now, zone)
    counting.check(counted)
    chargeable = [p for p in prepared if p.failure is None]
    price = ready.price
    if chargeable:
        packages, balance = _unsettled(conn, account_id, _packages(driver, package_rows),
                                       balance_rows[0][0] if balance_rows else 0)
        plans = pricing.plan_batch(template_type, [p.segments for p in chargeable], price,
                                   packages, balance, now)
        for item, plan in zip(chargeable, plans, strict=True):
            item.charge = plan

    # The rows were made in prepare() as accepted; those that failed here change.
    rows, values = list(ready.rows), list(ready.values)
    for at, item in enumerate(prepared):
        if item.failure is not None:
            rows[at] = rows[at] | (failed := _failed(item, now))
            values[at] = _insert_messages_bulk.changed(driver, values[at], failed)
    ids = _insert_messages_bulk.returning_ids_of(conn, values)
    _record_charges(conn, account_id, prepared, ids, now, ready.count_sent, later)
    for item, message_id in zip(prepared, ids, strict=True):
        if item.failure is not None:
            queue_report_for(conn, message_id, zone, now)
    after_commit(conn, lambda: metrics.accepted_rows(template_type, rows))
    return {"BizId": ready.biz_id}


def _prepare(signature_of: Callable[[str], dict], template: dict,
             recipient: Recipient) -> _Prepared:
    signature = signature_of(recipient.sign_name)
    number = parse_number(recipient.phone)
    if template["type"] == limits.INTERNATIONAL and number.is_mainland:
        raise PigeonError("isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
                          f"Template {template['code']} is international; {number.wire} is a "
                          "mainland number.")
    if template["type"] != limits.INTERNATIONAL and not number.is_mainland:
        raise PigeonError("isv.SMS_TEMPLATE_ILLEGAL",
                          f"Template {template['code']} is for mainland numbers; "
                          f"{number.wire} needs an international template (TemplateType 3).")
    rule = template["variable_attribute"] or {}
    names = variables(template["content"])
    values = recipient.params or {}
    if names and recipient.params is None:
        raise PigeonError("isv.TEMPLATE_MISSING_PARAMETERS",
                          f"Template {template['code']} needs TemplateParam with "
                          f"{', '.join(names)}.")
    text = render(template["content"], values)
    for name in names:
        check_variable_value(rule.get(name), values[name])
    content = signed_text(signature["name"], text, international=not number.is_mainland)
    seg = count_segments(content, international=not number.is_mainland)
    check_length(seg)
    extend = recipient.extend_code
    if extend is not None and not (extend.isascii() and extend.isdigit()
                                   and len(extend) <= MAX_EXTEND_CODE):
        raise PigeonError("isv.EXTEND_CODE_ERROR",
                          f"SmsUpExtendCode {extend[:20]!r}{'…' if len(extend) > 20 else ''} "
                          f"must be 1 to {MAX_EXTEND_CODE} digits.")
    # Only the variables the template uses are kept with the message: keys it does not use
    # would otherwise be stored once per recipient (a large TemplateParam to many numbers).
    return _Prepared(recipient=recipient, number=number, signature=signature, content=content,
                     segments=seg.segments, encoding=seg.encoding,
                     params={name: values[name] for name in names} if names else None)


def _signature_lookup(conn: Connection, cache: _Cache, account_id: int,
                      template: dict) -> Callable[[str], dict]:
    """``name → approved signature`` for one call: each name is looked up (and checked) once
    per call, through the cache."""
    seen: dict[str, dict] = {}

    def signature_of(name: str) -> dict:
        found = seen.get(name)
        if found is None:
            if not name:
                raise PigeonError.missing("SignName")
            row = cache.get(("signature", account_id, name),
                            lambda: signatures_service.require(conn, account_id, name))
            found = seen[name] = _approved_signature(row, template)
        return found

    return signature_of


def _approved_signature(signature: dict, template: dict) -> dict:
    if signature["status"] != signatures_service.APPROVED:
        raise PigeonError("isv.SMS_SIGNATURE_ILLEGAL",
                          f"Signature {signature['name']!r} is not approved.")
    if signature["sign_type"] == 0 and template["type"] != limits.OTP:
        raise PigeonError("isv.SMS_SIGNATURE_SCENE_ILLEGAL",
                          f"Signature {signature['name']!r} may only send verification-code "
                          f"templates; {template['code']} is not one.")
    return signature


_COUNT_OF = ("SELECT messages FROM account_counts "
             "WHERE account_id = ? AND period = ? AND starts_at = ?")
_COUNT_SINCE = "SELECT count(*) FROM messages WHERE account_id = ? AND created_at >= ?"
_NEW_COUNT = ("INSERT INTO account_counts (account_id, period, starts_at, messages) "
              "VALUES (?, ?, ?, ?)")
_ADD_COUNT = ("UPDATE account_counts SET messages = messages + ? WHERE account_id = ? AND "
              "((period = 'day' AND starts_at = ?) OR (period = 'month' AND starts_at = ?))")


def _periods(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants ``now``'s day and month began in ``zone``, kept per minute: a day
    begins on a whole minute in every zone in use (offsets are whole minutes since 1972)."""
    minute = now.replace(second=0, microsecond=0)
    key = (zone, minute)
    found = _PERIODS.get(key)
    if found is None:
        if len(_PERIODS) >= 64:
            _PERIODS.clear()
        found = _PERIODS[key] = (limits.day_start(minute, zone), limits.month_start(minute, zone))
    return found


_PERIODS: dict[tuple[ZoneInfo, datetime], tuple[datetime, datetime]] = {}


def _check_caps(conn: Connection, account_id: int, settings: dict, adding: int, now: datetime,
                zone: ZoneInfo) -> None:
    if settings.get("day_limit") is None and settings.get("month_limit") is None:
        return
    day, month = _periods(now, zone)
    limits.check_account(_period_count(conn, account_id, "day", day),
                         _period_count(conn, account_id, "month", month),
                         day_limit=settings.get("day_limit"),
                         month_limit=settings.get("month_limit"), adding=adding)


def _period_count(conn: Connection, account_id: int, period: str, start: datetime) -> int:
    """The account's messages since ``start`` (its day or month): the period's counter, made
    from the messages the first time it is asked for (then kept by :func:`_count_sent`)."""
    driver = Driver.of(conn)
    at = driver.time(start)
    rows = driver.run(conn, None, _COUNT_OF, (account_id, period, at))
    if rows:
        return rows[0][0]
    counted = driver.run(conn, None, _COUNT_SINCE, (account_id, at))[0][0]
    driver.run(conn, "account_counts", _NEW_COUNT, (account_id, period, at, counted))
    return counted


def _count_sent(driver: Driver, account_id: int, count: int, now: datetime,
                zone: ZoneInfo) -> tuple[str, str, tuple]:
    """The statement adding ``count`` messages to the account's day and month counters, where
    they exist (a period whose caps were never checked has none; it is counted when first
    asked for)."""
    day, month = _periods(now, zone)
    return ("account_counts", _ADD_COUNT, (count, account_id, driver.time(day),
                                           driver.time(month)))


def _number_limits(settings: dict) -> limits.NumberLimits:
    return limits.tightened(**{k: settings[k] for k in
                               ("otp_per_minute", "otp_per_hour", "otp_per_day", "other_per_day")
                               if settings.get(k) is not None})


# The messages that count towards a number's limits: those accepted to the number under the
# signature within the day window — of the same template (notification, promotional) or of
# any OTP template of the signature (OTP: the count is per signature).  Numbers refused for
# their limit were never submitted: they do not count.  On the driver (Driver): SQLAlchemy's
# statement execution was most of what each of accept()'s reads cost.  Keyed by (per template?,
# one number?): one number (every SendSms to one number) needs no list parameter.
_COUNTED_SQL = {
    (per_template, one): (
        "SELECT phone, created_at FROM messages{indexed} WHERE account_id = ? AND "
        "signature_id = ? AND "
        + ("phone = ?" if one else "phone {in_ids}")
        + " AND created_at >= ? AND (err_code IS NULL OR err_code != '" + LIMIT_FAILURE + "')"
        + (" AND template_id = ?" if per_template else " AND template_type = ?"))
    for per_template in (True, False) for one in (True, False)}


def _counted(driver: Driver, per_template: bool, account_id: int, signature_id: int,
             phones: set[str], since: Any, scope: int) -> tuple[str, tuple]:
    """The statement (and its parameters) that reads what ``phones`` were sent already."""
    one = len(phones) == 1
    text = _COUNTED_SQL[per_template, one]
    # On SQLite the index is named: with no statistics its planner takes a list of ten numbers
    # or more for a large share of the table and walks the account's whole day instead — with
    # millions of messages stored, a thousand times the work (bench/README.md, "history").
    indexed = " INDEXED BY ix_messages_lookup" if driver.sqlite else ""
    if one:
        phone_params: tuple = (next(iter(phones)),)
        text = text.format(indexed=indexed)
    elif driver.sqlite:
        text = text.format(indexed=indexed, in_ids=f"IN ({', '.join('?' * len(phones))})")
        phone_params = tuple(sorted(phones))
    else:
        text = text.format(indexed=indexed, in_ids=driver.in_ids)
        phone_params = (driver.ids(sorted(phones)),)
    return text, (account_id, signature_id, *phone_params, since, scope)


@dataclass
class _NumberCounts:
    """Per-number limits: the statements reading what the call's numbers were sent already
    (one per signature, for all its numbers), and the check of what they read."""

    statements: list[tuple[None, str, tuple]]
    check: Callable[[list[list[tuple]]], None]
    since: Any  # the earliest instant counted (the rolling day's start), as stored


def _number_counts(driver: Driver, account_id: int, account: _Account, template: dict,
                   prepared: list[_Prepared], now: datetime, zone: ZoneInfo) -> _NumberCounts:
    """Per-number limits.  A one-number call over its limit is refused with
    ``isv.BUSINESS_LIMIT_CONTROL``; in a call with several numbers only the numbers over their
    limit fail, reported as ``MOBILE_SEND_LIMIT`` and not charged (as Alibaba does)."""
    number_limits = account.number_limits
    whitelist = account.whitelist
    template_type = template["type"]
    window = limits.windows(now, zone)
    per_template = _per_template(template)
    checked = [item for item in prepared
               if limits.applies(template_type, mainland=item.number.is_mainland,
                                 whitelisted=item.number.wire in whitelist)]
    phones_by_signature: dict[int, set[str]] = {}
    for item in checked:
        phones_by_signature.setdefault(item.signature["id"], set()).add(item.number.wire)
    since = driver.time(window.day)
    scope = _count_scope(template, per_template)
    statements = [(None, *_counted(driver, per_template, account_id, signature_id, phones,
                                   since, scope))
                  for signature_id, phones in phones_by_signature.items()]

    def check(counted: list[list[tuple]]) -> None:
        sent: dict[tuple[int, str], list[datetime]] = {}
        for signature_id, found in zip(phones_by_signature, counted, strict=True):
            for phone, created_at in found:
                sent.setdefault((signature_id, phone), []).append(driver.read_time(created_at))
        earlier: dict[tuple, list[datetime]] = {}  # this call's own earlier messages, per scope
        for item in checked:
            key = (item.signature["id"], item.number.wire, per_template)
            accepted = sent.get((item.signature["id"], item.number.wire), []) \
                + earlier.get(key, [])
            try:
                limits.check_number(template_type, window.counts(accepted), number_limits,
                                    mainland=item.number.is_mainland,
                                    whitelisted=item.number.wire in whitelist)
            except PigeonError as refused:
                if len(prepared) == 1:
                    raise
                item.failure = (LIMIT_FAILURE, refused.message)
                continue
            earlier.setdefault(key, []).append(now)

    return _NumberCounts(statements, check, since)


def _per_template(template: dict) -> bool:
    """Whether a number's count is the template's (else every OTP template of the
    signature's)."""
    return limits.scope(template["type"]) != "signature"


def _count_scope(template: dict, per_template: bool) -> int:
    """What :data:`_COUNTED_SQL` counts a number's messages by, besides the signature: the
    template's id, or the OTP type — every OTP template of the signature, and only those,
    shares the count.  ``per_template``: :func:`_per_template` of the template."""
    return template["id"] if per_template else template["type"]


_USABLE_PACKAGES = ("SELECT id, kind, remaining, expires_at FROM packages "
                    "WHERE account_id = ? AND remaining > 0")
_BALANCE_OF = "SELECT amount FROM balances WHERE account_id = ?"


def _packages(driver: Driver, rows: list[tuple]) -> list[pricing.Package]:
    """The account's usable packages, from what :data:`_USABLE_PACKAGES` read."""
    return [pricing.Package(id=package_id, kind=kind, remaining=remaining,
                            expires_at=driver.read_time(expires_at))
            for package_id, kind, remaining, expires_at in rows]


def _row(account_id: int, biz_id: str, template: dict, item: _Prepared, out_id: str | None,
         price: int, now: datetime) -> dict:
    """A message's row, accepted (queued, charged); :func:`_failed` changes one that failed."""
    extend = item.signature["extension_code"] + (item.recipient.extend_code or "")
    return dict(
        biz_id=biz_id, account_id=account_id, phone=item.number.wire,
        country_code=item.number.country_code, carrier=item.number.carrier,
        signature_id=item.signature["id"], sign_name=item.signature["name"],
        template_id=template["id"], template_code=template["code"],
        template_type=template["type"], params=item.params, content=item.content,
        segments=item.segments, encoding=item.encoding, extend_code=extend, out_id=out_id,
        status="queued", err_code=None, err_msg=None, attempts=0, price=price, charged=True,
        created_at=now, done_at=None)


def _failed(item: _Prepared, now: datetime) -> dict:
    """The columns of a message that failed at acceptance (its per-number limit): final at
    once, not charged."""
    code, message = item.failure
    return {"status": "failed", "err_code": code, "err_msg": message, "charged": False,
            "done_at": now}


# The columns _row() fills, and the caller's address.
_MESSAGE_COLUMNS = (
    "biz_id", "account_id", "phone", "country_code", "carrier", "signature_id", "sign_name",
    "template_id", "template_code", "template_type", "params", "content", "segments",
    "encoding", "extend_code", "out_id", "status", "err_code", "err_msg", "attempts", "price",
    "charged", "created_at", "done_at", "source_ip")
# Both INSERTs on the driver (store.database.BulkInsert): SQLAlchemy's per-row parameter
# processing of a batch's 100 rows was most of their cost.  On SQLite one multi-row INSERT
# (SQLAlchemy cannot promise RETURNING's order there, and sent one INSERT per row).
_insert_messages_bulk = BulkInsert(messages, _MESSAGE_COLUMNS)
_insert_ledger = BulkInsert(ledger, ("account_id", "message_id", "kind", "package_id", "units",
                                     "amount", "created_at"))


_TAKE_UNITS = "UPDATE packages SET remaining = remaining - ? WHERE id = ?"
_SPEND = "UPDATE balances SET amount = amount - ? WHERE account_id = ? RETURNING account_id"
# At a group's end: taken only while still covered (another node may have spent meanwhile).
_TAKE_UNITS_COVERED = ("UPDATE packages SET remaining = remaining - ? "
                       "WHERE id = ? AND remaining >= ? RETURNING id")
_SPEND_COVERED = ("UPDATE balances SET amount = amount - ? "
                  "WHERE account_id = ? AND amount >= ? RETURNING account_id")


_LEDGER_ROWS = 1000  # a call's most (MAX_SEND_SMS_NUMBERS), 7,000 parameters


@dataclass(frozen=True)
class _Owed:
    """What one call's messages owe, left for its group's end (:func:`_settle`)."""

    account_id: int
    spent: int  # milli-CNY from the balance
    units: dict[int, int]  # package id → units
    counting: tuple[str, str, tuple]  # the day and month counters' statement
    entries: list[dict]  # its ledger rows


def _unsettled(conn: Connection, account_id: int, packages: list[pricing.Package],
               balance: int) -> tuple[list[pricing.Package], int]:
    """The packages and balance as read, less what the earlier calls of the running group owe
    and have not yet paid (:func:`_settle` pays at the group's end)."""
    units: dict[int, int] = {}
    for owed in deferred(conn, _settle, account_id):
        balance -= owed.spent
        for package_id, taken in owed.units.items():
            units[package_id] = units.get(package_id, 0) + taken
    if units:
        packages = [dataclasses.replace(p, remaining=p.remaining - units.get(p.id, 0))
                    for p in packages if p.remaining > units.get(p.id, 0)]
    return packages, balance


def _settle(conn: Connection, owed: list[_Owed]) -> None:
    """At the end of a writer's group: take what its calls owe — under each account's lock,
    held only until the commit that follows — each package's units and each balance's debit
    on condition that they are still there, and write their ledger rows.  Raises
    :class:`Conflict` where one is not (another node spent it since the calls read it): the
    group runs again, under the account's lock."""
    driver = Driver.of(conn)
    spent: dict[int, int] = {}
    units: dict[int, int] = {}
    counts: dict[tuple, int] = {}
    for item in owed:
        spent[item.account_id] = spent.get(item.account_id, 0) + item.spent
        for package_id, taken in item.units.items():
            units[package_id] = units.get(package_id, 0) + taken
        key = item.counting[2][1:]
        counts[key] = counts.get(key, 0) + item.counting[2][0]
    taking = billing.accounts_lock(conn, spent)  # it waits: the group's end (store/locks.py)
    statements: list[tuple[str | None, str, tuple]] = \
        [] if taking is None else [(None, taking.sql, taking.params)]
    locked = len(statements)
    covered = [("packages", _TAKE_UNITS_COVERED, (taken, package_id, taken))
               for package_id, taken in units.items()]
    covered += [("balances", _SPEND_COVERED, (amount, account_id, amount))
                for account_id, amount in spent.items() if amount]
    statements += covered
    statements += [("account_counts", _ADD_COUNT, (count, *key)) for key, count in counts.items()]
    # The group's ledger rows, an INSERT a thousand (a statement's parameters are bounded).
    entries = [entry for item in owed for entry in item.entries]
    statements += [_insert_ledger.statement(driver, entries[at:at + _LEDGER_ROWS])
                   for at in range(0, len(entries), _LEDGER_ROWS)]
    results = driver.run_all(conn, statements)
    for (_table, _sql, params), rows in zip(covered, results[locked:], strict=False):
        if not rows:
            raise Conflict(f"no longer covered at the group's end: {_sql.split()[1]} "
                           f"{params[1]} ({params[0]})")


def _record_charges(conn: Connection, account_id: int, prepared: list[_Prepared],
                    ids: list[int], now: datetime, counting: tuple[str, str, tuple],
                    later: bool) -> None:
    """One ledger row per charge part (one INSERT for the call), each package's units taken
    once, the balance debited once — sent together with ``counting`` (the day and month
    counters' statement): one round trip on PostgreSQL.  ``later``: the units, the debit, the
    counters and the ledger rows are left for the group's end (:func:`_settle`)."""
    spent = 0
    entries: list[dict] = []
    units: dict[int, int] = {}  # package id → units taken, in first-use order
    for item, message_id in zip(prepared, ids, strict=True):
        if item.charge is None:
            continue
        for part in item.charge.parts:
            if part.package_id is not None:
                units[part.package_id] = units.get(part.package_id, 0) + part.units
            spent += part.amount
            entries.append({"account_id": account_id, "message_id": message_id,
                            "kind": "charge", "package_id": part.package_id,
                            "units": -part.units, "amount": -part.amount, "created_at": now})
    if later:
        defer(conn, _settle, account_id, _Owed(account_id, spent, units, counting, entries))
        return
    driver = Driver.of(conn)
    statements = [counting]
    statements += [("packages", _TAKE_UNITS, (taken, package_id))
                   for package_id, taken in units.items()]
    if entries:
        statements.append(_insert_ledger.statement(driver, entries))
    if spent:
        statements.append(("balances", _SPEND, (spent, account_id)))
    if not driver.run_all(conn, statements)[-1] and spent:
        # Only reachable with a zero balance and a free plan.
        conn.execute(insert(balances).values(account_id=account_id, amount=-spent))
