"""The send path's reads search an index, whatever is stored: their query plans on SQLite.
And what sending.accept decides when called directly: with a chosen time and zone, and the
writes it leaves in the write log."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from pigeon import metrics
from pigeon.core import limits
from pigeon.core.errors import PigeonError
from pigeon.services import accounts, billing, sending, sending_settings
from pigeon.store import locks
from pigeon.store.database import Driver
from pigeon.store.tables import ledger, messages
from tests.support.sending import ready_to_send

A, B, C = "13800138000", "13900139000", "13700137000"
SHANGHAI = ZoneInfo("Asia/Shanghai")
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30: its clock hours are not UTC's


def plan(pigeon, sql: str, params: tuple) -> str:
    database = pigeon.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as raw:
        return " ".join(row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.mark.parametrize("count", [1, 2, 10, 100])
@pytest.mark.parametrize("per_template", [True, False], ids=["per template", "per signature"])
def test_the_per_number_count_reads_the_numbers_own_rows(pigeon, count, per_template):
    if not pigeon.db.is_sqlite:
        pytest.skip("reads SQLite's query plans")
    driver = Driver("sqlite")
    phones = {str(13800138000 + n) for n in range(count)}
    sql, params = sending._counted(driver, per_template, 1, 2, phones,
                                   driver.time(datetime(2027, 1, 1, tzinfo=UTC)), 3)
    found = plan(pigeon, sql, params)
    assert "SEARCH messages USING INDEX ix_messages_lookup (account_id=? AND phone=?" in found, \
        found


@pytest.mark.parametrize("per_template", [True, False], ids=["per template", "per signature"])
def test_on_postgresql_the_count_stays_an_index_lookup_as_messages_grow_from_none(
        pigeon, per_template):
    """psycopg prepares a statement run five times on a connection, and PostgreSQL may then
    keep one generic plan, costed with the statistics of that moment.  Costed on an empty
    table, the count's plan walked every message of the signature (ix_messages_signature): a
    SendSms cost 0.3 ms more at 2,000 stored messages and 2.5 ms at 16,000.  Pigeon's
    connections plan each execution for its values (store/database.py, _CUSTOM_PLANS)."""
    if pigeon.db.is_sqlite:
        pytest.skip("PostgreSQL's plan cache")
    since = datetime(2027, 1, 1, tzinfo=UTC)

    def count_then_grow_then_explain(conn):
        driver = Driver.of(conn)
        sql, params = sending._counted(driver, per_template, 1, 2, {"13800138000"},
                                       driver.time(since), 3)
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, name, status, created_at) VALUES (1, 'Lark', 'active', "
            "now())")
        messages = (
            "INSERT INTO messages (biz_id, account_id, phone, country_code, carrier, "
            "signature_id, sign_name, template_id, template_code, template_type, content, "
            "segments, encoding, extend_code, status, attempts, price, charged, created_at) "
            "SELECT 'b' || g, 1, (13900000000 + g)::text, 86, 'mobile', 2, 's', 3, 'SMS_3', 3, "
            "'c', 1, 'mainland', '', 'queued', 0, 45, true, '2027-01-02' "
            "FROM generate_series(%d, %d) AS g")
        # A new deployment: a message at a time while psycopg prepares the count (at its fifth
        # run) and PostgreSQL, five runs of the prepared statement later, weighs a generic
        # plan for it; then thousands more messages.
        for n in range(1, 21):
            conn.exec_driver_sql(messages % (n, n))
            driver.run(conn, None, sql, params)
        conn.exec_driver_sql(messages % (21, 5000))
        name = conn.exec_driver_sql(
            "SELECT name FROM pg_prepared_statements WHERE statement LIKE 'SELECT phone%%'"
        ).scalar_one()
        values = ", ".join(f"'{value.isoformat()}'" if isinstance(value, datetime)
                           else repr(value) for value in params)
        return " ".join(row[0] for row in conn.exec_driver_sql(
            f"EXPLAIN EXECUTE {name}({values})"))

    found = pigeon.db.write_sync(count_then_grow_then_explain)
    assert "ix_messages_lookup" in found, found


def test_the_count_statement_on_sqlite_and_on_postgresql():
    since = datetime(2027, 1, 1, tzinfo=UTC)
    lite = Driver("sqlite")
    sql, params = sending._counted(lite, True, 1, 2, {B, A}, lite.time(since), 3)
    assert sql.startswith("SELECT phone, created_at FROM messages INDEXED BY "
                          "ix_messages_lookup WHERE account_id = ? AND signature_id = ? AND "
                          "phone IN (?, ?) AND created_at >= ?"), sql
    assert params == (1, 2, A, B, lite.time(since), 3)

    postgres = Driver("postgresql")
    for phones, phone_params in (({B, A}, ([A, B],)), ({A}, (A,))):
        sql, params = sending._counted(postgres, False, 1, 2, phones, postgres.time(since), 3)
        assert sql.startswith("SELECT phone, created_at FROM messages WHERE account_id = ? AND "
                              "signature_id = ? AND phone "
                              + ("= ANY(?)" if len(phones) > 1 else "= ?")), sql
        assert sql.endswith(" AND template_type = ?"), sql
        assert params == (1, 2, *phone_params, postgres.time(since), 3)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Kathmandu", "America/St_Johns"])
def test_the_periods_kept_per_minute_are_the_periods_of_every_instant(zone):
    zone = ZoneInfo(zone)
    midnight = datetime(2027, 4, 1, tzinfo=zone).astimezone(UTC)  # a day and a month begin
    for offset in (-61, -60, -1, -0.000001, 0, 0.000001, 1, 59, 60):
        now = midnight + timedelta(seconds=offset)
        assert sending._periods(now, zone) == (limits.day_start(now, zone),
                                               limits.month_start(now, zone)), (zone, offset)


# -- sending.accept called directly ----------------------------------------------------------------


@pytest.fixture
def sender(pigeon, server, tenant, core_sdk):
    return ready_to_send(pigeon, core_sdk, tenant.account_id)


def accept(pigeon, sender, numbers: list[str], now: datetime, *, zone: ZoneInfo = SHANGHAI,
           otp: bool = False, promo: bool = False, quiet_hours=None, extend_code=None,
           account_id: int | None = None) -> dict:
    policy = dataclasses.replace(pigeon.send_policy, zone=zone, quiet_hours=quiet_hours)
    template, params = ((sender.otp, {"code": "1234"}) if otp else (sender.promo, None)
                        if promo else (sender.notice, {"order": "A1"}))
    request = sending.SendRequest(template_code=template, recipients=[
        sending.Recipient(phone=n, sign_name=sender.sign, params=params,
                          extend_code=extend_code) for n in numbers])
    return pigeon.db.write_sync(sending.accept, policy, account_id or sender.account_id,
                                request, now)


def refused(pigeon, sender, numbers: list[str], now: datetime, **options) -> PigeonError:
    with pytest.raises(PigeonError) as raised:
        accept(pigeon, sender, numbers, now, **options)
    return raised.value


class _Undo(Exception):
    """Raised after a record() to roll its transaction back."""


@pytest.mark.parametrize("first_over", [True, False],
                         ids=["over its limit, then not", "within it, then over"])
def test_a_prepared_call_recorded_again_is_decided_again(pigeon, sender, first_over):
    """The writer runs a unit again when it met a lock (store/database.py): record() then
    decides from what it reads that time, not from what an undone run decided."""
    start = datetime(2031, 3, 3, 10, 0, 10, tzinfo=SHANGHAI)
    accept(pigeon, sender, [A], start, otp=True)  # A has had its code of the minute
    policy = dataclasses.replace(pigeon.send_policy, zone=SHANGHAI)
    request = sending.SendRequest(template_code=sender.otp, recipients=[
        sending.Recipient(phone=n, sign_name=sender.sign, params={"code": "1234"})
        for n in (A, B)])
    ready = pigeon.db.read_sync(sending.prepare, policy, sender.account_id, request,
                                start + timedelta(seconds=20))

    def count_or_not(conn, counts: bool) -> None:  # the earlier code to A counts, or not
        conn.execute(update(messages).where(messages.c.account_id == sender.account_id,
                                            messages.c.phone == A)
                     .values(err_code=None if counts else sending.LIMIT_FAILURE))

    def record_then_undo(conn):
        sending.record(conn, ready)
        raise _Undo

    pigeon.db.write_sync(count_or_not, first_over)
    with pytest.raises(_Undo):
        pigeon.db.write_sync(record_then_undo)
    assert (ready.items[0].failure is not None) is first_over
    pigeon.db.write_sync(count_or_not, not first_over)
    pigeon.db.write_sync(sending.record, ready)

    found = pigeon.db.read_sync(lambda conn: conn.execute(
        select(messages.c.phone, messages.c.status, messages.c.err_code, messages.c.charged,
               func.count(ledger.c.id))
        .select_from(messages.outerjoin(ledger, ledger.c.message_id == messages.c.id))
        .where(messages.c.biz_id == ready.biz_id).group_by(messages.c.id)
        .order_by(messages.c.phone)).all())
    a_row = ((A, "queued", None, True, 1) if first_over
             else (A, "failed", sending.LIMIT_FAILURE, False, 0))
    assert [tuple(row) for row in found] == sorted([a_row, (B, "queued", None, True, 1)])


def test_a_numbers_hour_is_the_clock_hour_of_the_platform_zone(pigeon, sender):
    start = datetime(2031, 3, 3, 10, 20, 30, tzinfo=KOLKATA)  # 04:50:30 UTC
    for minute in range(5):
        accept(pigeon, sender, [A], start + timedelta(minutes=minute), zone=KOLKATA, otp=True)
    # 10:35 in Kolkata is 05:05 UTC: a new UTC hour, but the same local one.
    over = refused(pigeon, sender, [A], start + timedelta(minutes=15), zone=KOLKATA, otp=True)
    assert (over.code, over.message) == ("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5")


def test_the_caps_count_the_platform_zones_day_and_month(pigeon, sender):
    pigeon.db.write_sync(sending_settings.set_limits, sender.account_id, day_limit=1,
                         month_limit=1)
    # 20:00 on 31 January in Shanghai; the next morning is 1 February there, but still
    # 31 January in UTC.
    accept(pigeon, sender, [A], datetime(2031, 1, 31, 20, 0, tzinfo=SHANGHAI))
    accept(pigeon, sender, [B], datetime(2031, 2, 1, 7, 30, tzinfo=SHANGHAI))
    assert refused(pigeon, sender, [C], datetime(2031, 2, 1, 23, 59, tzinfo=SHANGHAI)
                   ).code == "isv.MONTH_LIMIT_CONTROL"


# What a call writes past SQLAlchemy is counted in the write log under its table, as SQLAlchemy
# would have counted it: caches and commit listeners (store.database.WriteLog) rely on it.
WRITTEN = ("messages", "ledger", "packages", "balances", "account_counts")


def test_an_accepted_call_counts_every_table_it_writes(pigeon, sender):
    now = pigeon.now()
    pigeon.db.write_sync(billing.add_package, sender.account_id, "general", 1,
                         now + timedelta(days=30), now)
    before = dict(zip(WRITTEN, pigeon.db.writes.version(WRITTEN)[1:], strict=True))

    accept(pigeon, sender, [A, B], now)  # one from the package, one from the balance

    after = dict(zip(WRITTEN, pigeon.db.writes.version(WRITTEN)[1:], strict=True))
    assert [table for table in WRITTEN if after[table] == before[table]] == []


def test_a_cap_counter_a_refused_call_made_is_counted_and_undone(pigeon, sender):
    pigeon.db.write_sync(sending_settings.set_limits, sender.account_id, day_limit=1)
    before = pigeon.db.writes.version(("account_counts",))[1]

    assert refused(pigeon, sender, [A, B], pigeon.now()).code == "isv.DAY_LIMIT_CONTROL"
    assert pigeon.db.writes.version(("account_counts",))[1] > before


def test_a_tenants_otp_hour_and_day_limits_apply(pigeon, sender):
    pigeon.db.write_sync(sending_settings.set_limits, sender.account_id, otp_per_hour=1,
                         otp_per_day=2)
    start = datetime(2031, 3, 3, 10, 0, 30, tzinfo=SHANGHAI)
    accept(pigeon, sender, [A], start, otp=True)
    over = refused(pigeon, sender, [A], start + timedelta(minutes=5), otp=True)
    assert (over.code, over.message) == ("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:1")
    accept(pigeon, sender, [A], start + timedelta(hours=1), otp=True)
    over = refused(pigeon, sender, [A], start + timedelta(hours=2), otp=True)
    assert (over.code, over.message) == ("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:2")


def test_the_quiet_hours_are_the_platforms(pigeon, sender):
    evening = datetime(2031, 3, 3, 21, 0, tzinfo=SHANGHAI)  # quiet by default, not here
    accept(pigeon, sender, [A], evening, promo=True, quiet_hours=(time(22), time(7)))
    assert refused(pigeon, sender, [B], evening + timedelta(hours=1), promo=True,
                   quiet_hours=(time(22), time(7))).code == "isv.BUSINESS_LIMIT_CONTROL"


@pytest.mark.parametrize("code, message", [
    ("12a", "SmsUpExtendCode '12a' must be 1 to 7 digits."),
    ("12345678", "SmsUpExtendCode '12345678' must be 1 to 7 digits."),
    ("１２", "SmsUpExtendCode '１２' must be 1 to 7 digits."),  # digits, but not ASCII ones
    ("1" * 20, f"SmsUpExtendCode '{'1' * 20}' must be 1 to 7 digits."),
    ("1" * 21, f"SmsUpExtendCode '{'1' * 20}'… must be 1 to 7 digits."),
])
def test_a_bad_extension_code_is_refused(pigeon, sender, code, message):
    over = refused(pigeon, sender, [A], pigeon.now(), extend_code=code)
    assert (over.code, over.message) == ("isv.EXTEND_CODE_ERROR", message)


def test_accepted_and_failed_messages_are_counted_in_the_metrics(pigeon, sender):
    def sample(name: str, **labels) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0

    otp = {"template_type": metrics._type(0)}
    failed = {"connector": "none", **otp}
    accept(pigeon, sender, [A], pigeon.now(), otp=True)
    before = (sample("pigeon_messages_accepted_total", **otp),
              sample("pigeon_messages_failed_total", **failed))
    accept(pigeon, sender, [A, B], pigeon.now(), otp=True)  # A: over its minute's limit
    after = (sample("pigeon_messages_accepted_total", **otp),
             sample("pigeon_messages_failed_total", **failed))
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)


def test_the_numbers_locks_come_first_and_the_accounts_at_the_group_end(pigeon, sender,
                                                                       monkeypatch):
    seen = record_locks(monkeypatch)
    accept(pigeon, sender, [A, B], pigeon.now())
    numbers = [locks.number_ident(sender.account_id, n) for n in (A, B)]
    assert seen == [("several", locks.NUMBER, numbers), [(7,)],
                    ("several", locks.ACCOUNT, [sender.account_id])]


def test_a_capped_account_is_locked_with_its_numbers_and_its_answer_checked(pigeon, sender,
                                                                            monkeypatch):
    pigeon.db.write_sync(sending_settings.set_limits, sender.account_id, day_limit=10)
    seen = record_locks(monkeypatch)
    accept(pigeon, sender, [A], pigeon.now())
    assert seen == [("several", locks.NUMBER, [locks.number_ident(sender.account_id, A)]),
                    ("one", locks.ACCOUNT, sender.account_id), [(7,)], [(7,)]]


def record_locks(monkeypatch) -> list:
    """Which locks the send path asks for, in order, and the answers it checks."""
    seen = []

    @dataclasses.dataclass
    class Taking:
        sql: str = "SELECT 7"
        params: tuple = ()

        def check(self, rows):
            seen.append(rows)

    def statement(conn, kind, ident):
        seen.append(("one", kind, ident))
        return Taking()

    def statement_all(conn, kind, idents):
        seen.append(("several", kind, list(idents)))
        return Taking()

    monkeypatch.setattr(locks, "statement", statement)
    monkeypatch.setattr(locks, "statement_all", statement_all)
    return seen


# The cache of account state, templates and signatures (sending._Cache): a write made in this
# process applies at once; one made by another process once the copy is CACHE_SECONDS old.


def test_another_processes_write_applies_when_the_copy_is_exactly_its_time_to_live_old(
        pigeon, sender, monkeypatch):
    from sqlalchemy import create_engine

    clock = [1000.0]
    monkeypatch.setattr(sending, "_clock", lambda: clock[0])
    accept(pigeon, sender, [A], pigeon.now())
    other = create_engine(pigeon.database_url)
    with other.begin() as conn:
        accounts.set_account_status(conn, sender.account_id, "suspended")
    other.dispose()
    clock[0] += sending.CACHE_SECONDS / 2
    accept(pigeon, sender, [B], pigeon.now())  # the copy, not yet too old
    clock[0] = 1000.0 + sending.CACHE_SECONDS
    assert refused(pigeon, sender, [C], pigeon.now()).code == "isv.OUT_OF_SERVICE"


def test_a_copy_read_while_a_write_to_its_tables_is_pending_is_not_kept(pigeon):
    """On PostgreSQL the send path's checks read in threads beside the writer's (store.
    database.Database.read, cached=True): a copy read before the writer's commit, kept under
    the version its write already moved, would be trusted after the commit."""
    from pigeon.store.tables import templates

    loads: list[int] = []

    def load() -> int:
        loads.append(len(loads) + 1)
        return loads[-1]

    def twice_inside_a_write(conn):
        conn.execute(update(templates).where(templates.c.id == -1).values(status=0))
        cache = sending._Cache.of(conn)
        return cache.get(("probe",), load), cache.get(("probe",), load)

    assert pigeon.db.write_sync(twice_inside_a_write) == (1, 2)  # loaded each time, not kept
    cache = pigeon.db.read_sync(sending._Cache.of)
    assert (cache.get(("probe",), load), cache.get(("probe",), load)) == (3, 3)  # kept


def test_accounts_do_not_share_their_cached_state(pigeon, sender):
    other = int(pigeon.db.write_sync(accounts.create_account, "Other", pigeon.now())["AccountId"])
    pigeon.db.write_sync(accounts.set_account_status, other, "suspended")
    accept(pigeon, sender, [A], pigeon.now())  # the active account's state is now cached
    assert refused(pigeon, sender, [A], pigeon.now(),
                   account_id=other).code == "isv.OUT_OF_SERVICE"


def test_a_failed_numbers_report_gives_the_platform_zones_time(pigeon, sender):
    from pigeon.store.tables import report_events
    from tests.support.sending import rows

    now = datetime(2031, 3, 3, 2, 0, 30, tzinfo=UTC)  # 10:00:30 in Shanghai
    accept(pigeon, sender, [A], now, otp=True)
    accept(pigeon, sender, [A, B], now + timedelta(seconds=10), otp=True)
    [report] = [r for r in rows(pigeon, report_events, sender.account_id)
                if r["type"] == "SmsReport"]
    assert (report["payload"]["phone_number"], report["payload"]["report_time"]) == (
        A, "2031-03-03 10:00:40")


def test_an_otp_protection_stops_otp_to_its_range_only(pigeon, sender):
    from pigeon.core.alert_rules import ProtectionPlan
    from pigeon.services import otp_protection

    now = datetime(2031, 3, 3, 2, 0, 30, tzinfo=UTC)
    plan = ProtectionPlan(kind="range", scope="1380013", limit=None,
                          expires_at=now + timedelta(hours=1))
    pigeon.db.write_sync(otp_protection.switch_on, sender.account_id, plan, None, "pumping",
                         now)
    stopped = refused(pigeon, sender, [B, A], now, otp=True)
    assert stopped.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert "range 1380013" in stopped.message and A in stopped.message
    accept(pigeon, sender, [B], now, otp=True)  # another range
    accept(pigeon, sender, [A], now)  # a notification


# Surviving mutants of services/sending.py, explained (scripts/mutation sending), as of
# aa9d1d1 — before the money moved to the group's end (_settle, _unsettled, _Owed, _failed
# are not yet in a run; the numbers below are that run's):
# - _counted: " indexed by ix_messages_lookup" or "IX_MESSAGES_LOOKUP" (#9, #10): SQLite's
#   keywords and index names are case-insensitive; the statement and its plan are the same.
# - _number_counts: whitelisted=None when choosing the numbers to count (#19): a whitelisted
#   number is then counted too, but check_number passes it (whitelisted=True) and adds no
#   refusal: one more read, no other difference.
# - _number_counts: whitelisted=None in check_number (#88): only numbers `applies` kept reach it,
#   and none of them is whitelisted, so None (falsy) says the same.
# - _number_counts, _record_charges, record: zip(..., strict=True) made strict=None/False or
#   dropped: the lists zipped are built one from the other (one read per signature, one plan per
#   chargeable message, one id per row), so their lengths are always equal.
# - _record_charges: the INSERT of a balance row when the debit found none (#66-#72): never
#   runs — with no balance row the plan is made against a balance of 0, and plan_charge refuses
#   any amount above the balance, so `spent` is 0 there (the call is refused otherwise; killed
#   by test_without_a_balance_even_the_smallest_price_is_refused when the 0 is mutated).
# - prepare, _signature_lookup: the cache keys' names ("XXaccountXX", "TEMPLATE", "SIGNATURE"…):
#   any names do while the three kinds stay distinct; the account id and code/name still key.
# - _signature_lookup: the per-call memo skipped (found = None, seen.get(None)): every number
#   with the same SignName looks it up again through the cache and gets the same row and the
#   same check; one dict lookup more per number.
# - _load_account: every price row put in one dict, the account's or the platform's (#43, #44;
#   #31, which reads NULL for every row's account, does the same):
#   the first row of a type then wins, and SQLite plans the query's OR as two lookups of the
#   unique index on (account_id, template_type), the account's rows first: its price, as
#   before.  No test on SQLite can tell; nothing promises that order elsewhere, so the two
#   dicts stay.
# - _Cache.get: the cache cleared at 10,001 entries instead of 10,000 (>= made >): memory only.
# - _Cache.of: the branches for a connection without a write log (`_uncached`): every engine of
#   a Database has one (store.database.WriteLog), so no caller of prepare takes them.
# - _number_limits: "otp_per_minute" misspelt: the platform's limit is 1 a minute and a tenant
#   may only lower a limit to 1 at least, so a tightened value equals the default it stays at.
