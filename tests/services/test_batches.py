"""Batch Sending below the console, on SQLite and PostgreSQL: reading CSV (UTF-8, BOM, GBK) and
XLSX files, the checks and figures of the preview, scheduling by the Pigeon's clock,
cancelling, and resuming after a crash without sending a row twice."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from pigeon.app import Pigeon
from pigeon.core.errors import PigeonError
from pigeon.services import accounts, batch_files, batches, billing
from pigeon.store.tables import batch_rows, messages, signatures, templates
from pigeon.workers.batches import send_batches

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday
SIGN = "云雀科技"
NOTICE = "SMS_100000001"  # 您的订单${order}已发货… (notification, one variable)
GREETING = "SMS_100000002"  # ${name}您好… (notification, a name: long names take 2 segments)
PROMO = "SMS_100000003"  # promotional, no variable
FIXED_TEXT = "，您在本店购买的商品已由快递公司揽收发出，预计三天之内送达，请保持电话畅通并注意查收包裹，谢谢您的支持。"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def pigeon(settings, clock):
    """A Pigeon whose ``now`` is the test's clock: the batch worker runs on it."""
    instance = Pigeon(settings, now=clock)
    yield instance
    instance.close()


def make_account(pigeon, name: str = "Lark", *, money: int = 100_000,
                 extension: str = "1234") -> int:
    account_id = int(pigeon.db.write_sync(accounts.create_account, name, NOW)["AccountId"])
    if money:
        pigeon.db.write_sync(billing.topup, account_id, money, NOW)

    def compliance(conn):
        conn.execute(insert(signatures).values(
            account_id=account_id, name=SIGN, name_key=SIGN, source=0, sign_type=1, status=1,
            extension_code=extension, created_at=NOW))
        suffix = extension  # template codes are unique across accounts
        for code, kind, content, rule in (
                (NOTICE, 1, "您的订单${order}已发货，请注意查收。", {"order": "other_number2"}),
                (GREETING, 1, "尊敬的${name}" + FIXED_TEXT, {"name": "name"}),
                (PROMO, 2, "云雀会员日全场八折，欢迎选购。拒收请回复R", None)):
            conn.execute(insert(templates).values(
                code=code + suffix, account_id=account_id, name=code, type=kind, status=1,
                content=content, variable_attribute=rule, created_at=NOW))

    pigeon.db.write_sync(compliance)
    return account_id


@pytest.fixture
def account_id(pigeon) -> int:
    return make_account(pigeon)


def code(name: str, extension: str = "1234") -> str:
    return name + extension


def upload(pigeon, account_id, data: bytes | str, template=NOTICE, file_name="list.csv",
           extension="1234") -> int:
    if isinstance(data, str):
        data = data.encode()
    return pigeon.db.write_sync(batches.upload, account_id, SIGN, code(template, extension),
                                file_name, data, NOW)


def refused_upload(pigeon, account_id, data, **kwargs) -> str:
    with pytest.raises(PigeonError) as caught:
        upload(pigeon, account_id, data, **kwargs)
    return caught.value.message


def rows_of(pigeon, batch_id) -> list[dict]:
    return pigeon.db.read_sync(lambda conn: [dict(r) for r in conn.execute(
        select(batch_rows).where(batch_rows.c.batch_id == batch_id)
        .order_by(batch_rows.c.line)).mappings()])


def sent_messages(pigeon, account_id) -> list[dict]:
    return pigeon.db.read_sync(lambda conn: [dict(r) for r in conn.execute(
        select(messages).where(messages.c.account_id == account_id)
        .order_by(messages.c.id)).mappings()])


def run_worker(pigeon) -> int:
    return asyncio.run(send_batches(pigeon))


def progress(pigeon, account_id, batch_id) -> dict:
    return pigeon.db.read_sync(batches.progress, account_id, batch_id)


# -- reading files -------------------------------------------------------------------------------

CSV_TEXT = "PhoneNumber,order\n13700137000,A1001\n13700137001,A1002\n"


@pytest.mark.parametrize(("data", "file_format"), [
    (CSV_TEXT.encode(), "CSV (UTF-8)"),
    (b"\xef\xbb\xbf" + CSV_TEXT.encode(), "CSV (UTF-8)"),
    (CSV_TEXT.replace("\n", "\r\n").encode("utf-16"), "CSV (UTF-16)"),
    ("手机号码,order,备注\r\n13700137000,A1001,张三\r\n13700137001,A1002,李四\r\n"
     .encode("gbk"), "CSV (GBK)"),
    (b"PhoneNumber\torder\n13700137000\tA1001\n13700137001\tA1002\n", "CSV (UTF-8)"),
])
def test_it_reads_csv_in_utf8_with_or_without_bom_and_gbk(pigeon, account_id, data,
                                                          file_format):
    batch_id = upload(pigeon, account_id, data)
    batch = pigeon.db.read_sync(batches.get, account_id, batch_id)
    assert batch["file_format"] == file_format
    assert (batch["status"], batch["total"], batch["valid"]) == ("draft", 2, 2)
    rows = rows_of(pigeon, batch_id)
    assert [(r["line"], r["phone"], r["params"]) for r in rows] == [
        (2, "13700137000", {"order": "A1001"}), (3, "13700137001", {"order": "A1002"})]
    assert rows[0]["content"] == "【云雀科技】您的订单A1001已发货，请注意查收。"
    if file_format == "CSV (GBK)":
        assert batch["ignored_columns"] == ["备注"]  # read as Chinese, not mojibake


def test_a_template_variable_called_phone_keeps_its_column(pigeon, account_id):
    def template(conn):
        conn.execute(insert(templates).values(
            code="SMS_100000009", account_id=account_id, name="客服", type=1, status=1,
            content="您的订单已发货，客服电话${phone}。", variable_attribute=None,
            created_at=NOW))

    pigeon.db.write_sync(template)
    batch_id = pigeon.db.write_sync(batches.upload, account_id, SIGN, "SMS_100000009",
                                    "a.csv", b"phone,PhoneNumber\n400-800-1234,13700137000\n",
                                    NOW)
    [row] = rows_of(pigeon, batch_id)
    assert (row["phone"], row["params"]) == ("13700137000", {"phone": "400-800-1234"})


def test_a_gbk_value_reaches_the_message_intact(pigeon, account_id):
    data = "PhoneNumber,name\n13700137000,张三\n".encode("gbk")
    batch_id = upload(pigeon, account_id, data, template=GREETING)
    assert rows_of(pigeon, batch_id)[0]["content"].startswith("【云雀科技】尊敬的张三，")


def xlsx(rows: list[list]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_it_reads_xlsx_with_numbers_typed_as_numbers(pigeon, account_id):
    data = xlsx([["PhoneNumber", "order"], [13700137000, "A1001"], [None, None],
                 ["13700137001", 1024]])
    batch_id = upload(pigeon, account_id, data, file_name="名单.xlsx")
    batch = pigeon.db.read_sync(batches.get, account_id, batch_id)
    assert (batch["file_format"], batch["file_name"], batch["valid"]) == ("XLSX", "名单.xlsx", 2)
    assert [(r["line"], r["phone"], r["params"]) for r in rows_of(pigeon, batch_id)] == [
        (2, "13700137000", {"order": "A1001"}), (4, "13700137001", {"order": "1024"})]


def test_a_file_of_bare_numbers_serves_a_template_without_variables(pigeon, account_id):
    batch_id = upload(pigeon, account_id, "13700137000\n13700137001\n", template=PROMO)
    assert [r["phone"] for r in rows_of(pigeon, batch_id)] == ["13700137000", "13700137001"]
    message = refused_upload(pigeon, account_id, "13700137000\n13700137001\n")
    assert "header naming the columns: PhoneNumber,order" in message


@pytest.mark.parametrize(("data", "file_name", "expected"), [
    (b"", "list.csv", "The file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "list.csv", "neither a CSV text file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "list.xls", "old Excel .xls"),
    (b"PK\x03\x04garbage", "list.xlsx", "XLSX workbook cannot be read"),
    (b"PhoneNumber,order\n", "list.csv", "header but no number"),
    (b"PhoneNumber,code\n13700137000,1234\n", "list.csv",
     "no column for the template variable(s) order"),
    (b"a" * (batch_files.MAX_FILE_BYTES + 1), "list.csv", "at most 4 MB"),
])
def test_bad_files_get_a_clear_error(pigeon, account_id, data, file_name, expected):
    assert expected in refused_upload(pigeon, account_id, data, file_name=file_name)


def test_a_workbook_that_would_expand_too_far_is_not_opened(pigeon, account_id):
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("[Content_Types].xml", "<Types/>")
        bomb.writestr("xl/sharedStrings.xml", b" " * (batch_files.MAX_XLSX_EXPANDED + 1))
    assert len(out.getvalue()) < batch_files.MAX_FILE_BYTES
    assert "expands to 64 MB" in refused_upload(pigeon, account_id, out.getvalue(),
                                                file_name="list.xlsx")


def test_a_file_may_hold_at_most_the_maximum_rows(pigeon, account_id):
    lines = ["PhoneNumber"] + [f"1370{n:07d}" for n in range(batch_files.MAX_ROWS + 1)]
    message = refused_upload(pigeon, account_id, "\n".join(lines), template=PROMO)
    assert "more than 10,000 rows" in message
    batch_id = upload(pigeon, account_id, "\n".join(lines[:-1]), template=PROMO)
    assert pigeon.db.read_sync(batches.get, account_id, batch_id)["valid"] == batch_files.MAX_ROWS


def test_the_sample_file_names_the_variables_and_passes_the_checks(pigeon, account_id):
    sample = pigeon.db.read_sync(batches.sample_for, account_id, code(NOTICE))
    assert sample.splitlines()[0] == "PhoneNumber,order"
    batch_id = upload(pigeon, account_id, sample)
    assert pigeon.db.read_sync(batches.get, account_id, batch_id)["valid"] == 2


def test_only_an_approved_signature_and_template_of_the_account_are_accepted(pigeon,
                                                                            account_id):
    other = make_account(pigeon, "Other", extension="5678")
    with pytest.raises(PigeonError, match="no template"):
        pigeon.db.read_sync(batches.choose, account_id, SIGN, code(NOTICE, "5678"))
    pigeon.db.write_sync(lambda conn: conn.execute(
        update(templates).where(templates.c.account_id == other).values(status=2)))
    with pytest.raises(PigeonError, match="not approved"):
        pigeon.db.read_sync(batches.choose, other, SIGN, code(NOTICE, "5678"))


# -- the preview -------------------------------------------------------------------------------

def test_each_row_is_checked_as_the_send_path_checks_it(pigeon, account_id):
    data = ("PhoneNumber,order\n"
            "13700137000,A1001\n"
            "12345,A1002\n"
            "13700137001,\n"
            "13700137002,see www.example.com\n"
            "13700137000,A1003\n"
            "1.37001E+10,A1004\n"
            "+447911123456,A1005\n"
            "13700137003,A-1006\n")
    batch_id = upload(pigeon, account_id, data)
    batch = pigeon.db.read_sync(batches.get, account_id, batch_id)
    assert (batch["total"], batch["valid"], batch["segments"]) == (8, 2, 2)
    invalid = pigeon.db.read_sync(batches.preview_rows, account_id, batch_id,
                                  state=batches.INVALID, limit=50)
    reasons = {r["line"]: (r["err_code"], r["err_msg"]) for r in invalid}
    assert reasons[3][0] == "isv.MOBILE_NUMBER_ILLEGAL"
    assert reasons[4] == ("isv.TEMPLATE_MISSING_PARAMETERS",
                          "No value for the template variable ${order}.")
    assert reasons[5][0] == "isv.PARAM_NOT_SUPPORT_URL"
    assert reasons[6][0] == "isv.INVALID_PARAMETERS" and "already on line 2" in reasons[6][1]
    assert "scientific notation" in reasons[7][1]
    assert reasons[8][0] == "isv.SMS_TEMPLATE_ILLEGAL"  # international number, mainland text
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]


def test_segments_and_the_estimate_count_packages_before_the_balance(pigeon, account_id):
    # 6 + 55 + 9 characters is one segment; a 10-character name makes it 71: two.
    data = "PhoneNumber,name\n13700137000,欧阳娜娜娜娜娜娜娜\n13700137001,欧阳娜娜娜娜娜娜娜娜\n"
    batch_id = upload(pigeon, account_id, data, template=GREETING)
    assert [r["segments"] for r in rows_of(pigeon, batch_id)] == [1, 2]
    batch = pigeon.db.read_sync(batches.get, account_id, batch_id)
    assert batch["segments"] == 3

    def estimate():
        return pigeon.db.read_sync(batches.estimate, account_id, 1, batch["segments"], NOW)

    before = estimate()
    assert before == {"segments": 3, "price": 45, "upper": 135, "covered": 0,
                      "from_balance": 135, "balance": 100_000, "short": 0}
    pigeon.db.write_sync(billing.add_package, account_id, "general", 2, NOW + timedelta(days=9),
                         NOW)
    pigeon.db.write_sync(billing.add_package, account_id, "promotional", 50,
                         NOW + timedelta(days=9), NOW)  # does not pay for notifications
    after = estimate()
    assert (after["upper"], after["covered"], after["from_balance"]) == (135, 2, 45)


# -- sending -------------------------------------------------------------------------------------

def numbers(count: int, first: int = 0) -> str:
    return "PhoneNumber,order\n" + "".join(f"1370013{n:04d},A{n}\n"
                                           for n in range(first, first + count))


def test_send_now_goes_through_the_send_path_in_chunks_and_records_each_row(pigeon,
                                                                          account_id):
    batch_id = upload(pigeon, account_id, numbers(250) + "12345,A9\n")
    pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, None, NOW)
    assert run_worker(pigeon) == 250
    sent = sent_messages(pigeon, account_id)
    assert len(sent) == 250 and len({m["phone"] for m in sent}) == 250
    assert len({m["biz_id"] for m in sent}) == 3  # chunks of 100, 100 and 50
    assert {m["out_id"] for m in sent} == {f"batch-{batch_id}"}
    rows = [r for r in rows_of(pigeon, batch_id) if r["state"] != "invalid"]
    by_phone = {m["phone"]: m["biz_id"] for m in sent}
    assert all(r["state"] == "sent" and r["biz_id"] == by_phone[r["phone"]] for r in rows)
    shown = progress(pigeon, account_id, batch_id)
    assert (shown["status"], shown["sent"], shown["failed"], shown["invalid"],
            shown["percent"]) == ("done", 250, 0, 1, 100)
    assert shown["waiting"] == 250  # queued for the dispatcher, no receipt yet
    # Charged as SendBatchSms is: 250 × 0.045 CNY.
    assert pigeon.db.read_sync(billing.balance, account_id) == 100_000 - 250 * 45


def test_delivered_counts_follow_the_messages(pigeon, account_id):
    batch_id = upload(pigeon, account_id, numbers(3))
    pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, None, NOW)
    run_worker(pigeon)
    first, second, _third = sent_messages(pigeon, account_id)
    pigeon.db.write_sync(lambda conn: (
        conn.execute(update(messages).where(messages.c.id == first["id"])
                     .values(status="delivered")),
        conn.execute(update(messages).where(messages.c.id == second["id"])
                     .values(status="failed"))))
    shown = progress(pigeon, account_id, batch_id)
    assert (shown["delivered"], shown["undelivered"], shown["waiting"]) == (1, 1, 1)


def test_a_chunk_the_balance_cannot_pay_is_sent_row_by_row_while_money_lasts(pigeon):
    account_id = make_account(pigeon, money=100)  # two messages at 0.045 CNY
    batch_id = upload(pigeon, account_id, numbers(3))
    pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, None, NOW)
    run_worker(pigeon)
    rows = rows_of(pigeon, batch_id)
    assert [r["state"] for r in rows] == ["sent", "sent", "failed"]
    assert rows[2]["err_code"] == "isv.AMOUNT_NOT_ENOUGH" and rows[2]["biz_id"] is None
    assert len(sent_messages(pigeon, account_id)) == 2
    assert progress(pigeon, account_id, batch_id)["failed"] == 1


def test_a_scheduled_batch_is_sent_only_once_it_is_due(pigeon, account_id, clock):
    batch_id = upload(pigeon, account_id, numbers(2))
    at = batches.parse_local_time("2027-03-01T15:30", pigeon.calendar.zone)
    assert at == datetime(2027, 3, 1, 7, 30, tzinfo=UTC)
    pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, at, NOW)
    clock.now = at - timedelta(seconds=1)
    assert run_worker(pigeon) == 0
    assert sent_messages(pigeon, account_id) == []
    assert progress(pigeon, account_id, batch_id)["status"] == "scheduled"
    clock.now = at
    assert run_worker(pigeon) == 2
    assert [m["created_at"] for m in sent_messages(pigeon, account_id)] == [at, at]
    batch = pigeon.db.read_sync(batches.get, account_id, batch_id)
    assert (batch["status"], batch["started_at"], batch["finished_at"]) == ("done", at, at)


@pytest.mark.parametrize(("at", "template", "expected"), [
    (NOW, NOTICE, "must be in the future"),
    (NOW - timedelta(hours=1), NOTICE, "must be in the future"),
    (NOW + timedelta(days=31), NOTICE, "at most 30 days ahead"),
    (datetime(2027, 3, 1, 13, 0, tzinfo=UTC), PROMO, "not sent from 20:00 to 08:00"),  # 21:00
])
def test_a_schedule_must_be_in_the_future_and_respect_quiet_hours(pigeon, account_id, at,
                                                                  template, expected):
    data = numbers(1) if template == NOTICE else "PhoneNumber\n13700137000\n"
    batch_id = upload(pigeon, account_id, data, template=template)
    with pytest.raises(PigeonError, match=expected):
        pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, at, NOW)
    assert pigeon.db.read_sync(batches.get, account_id, batch_id)["status"] == "draft"


def test_a_promotional_batch_reaching_the_quiet_hours_waits_for_their_end(pigeon, account_id,
                                                                          clock):
    data = "PhoneNumber\n" + "".join(f"1370013{n:04d}\n" for n in range(3))
    batch_id = upload(pigeon, account_id, data, template=PROMO)
    evening = datetime(2027, 3, 1, 11, 59, tzinfo=UTC)  # 19:59 in Shanghai
    pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, evening, NOW)
    assert pigeon.db.write_sync(batches.send_due, pigeon.send_policy, evening, 1)["sent"] == 1
    quiet = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # 20:00
    morning = datetime(2027, 3, 2, 0, 0, tzinfo=UTC)  # 08:00 the next day
    step = pigeon.db.write_sync(batches.send_due, pigeon.send_policy, quiet, 1)
    assert (step["sent"], step["paused_until"]) == (0, morning)
    clock.now = morning - timedelta(seconds=1)
    assert run_worker(pigeon) == 0
    assert progress(pigeon, account_id, batch_id)["status"] == "scheduled"
    clock.now = morning
    assert run_worker(pigeon) == 2
    batch = pigeon.db.read_sync(batches.get, account_id, batch_id)
    assert (batch["status"], batch["sent"], batch["failed"]) == ("done", 3, 0)
    assert batch["started_at"] == evening
    assert [m["created_at"] for m in sent_messages(pigeon, account_id)] == [evening, morning,
                                                                             morning]


def test_a_batch_without_a_valid_row_cannot_be_sent(pigeon, account_id):
    batch_id = upload(pigeon, account_id, "PhoneNumber,order\n12345,A1\n")
    with pytest.raises(PigeonError, match="every row has a problem"):
        pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, None, NOW)


def test_a_cancelled_scheduled_batch_never_sends(pigeon, account_id, clock):
    batch_id = upload(pigeon, account_id, numbers(2))
    at = NOW + timedelta(hours=1)
    pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, at, NOW)
    pigeon.db.write_sync(batches.cancel, account_id, batch_id, NOW)
    clock.now = at + timedelta(hours=1)
    assert run_worker(pigeon) == 0
    assert sent_messages(pigeon, account_id) == []
    shown = progress(pigeon, account_id, batch_id)
    assert (shown["status"], shown["cancelled"], shown["finished"]) == ("cancelled", 2, True)
    with pytest.raises(PigeonError, match="nothing left to cancel"):
        pigeon.db.write_sync(batches.cancel, account_id, batch_id, NOW)
    with pytest.raises(PigeonError, match="only a draft or a scheduled batch"):
        pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, None, NOW)


def test_cancelling_while_sending_stops_the_rows_not_sent_yet(pigeon, account_id):
    batch_id = upload(pigeon, account_id, numbers(5))
    pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, None, NOW)
    step = pigeon.db.write_sync(batches.send_due, pigeon.send_policy, NOW, 2)
    assert step == {"batch_id": batch_id, "sent": 2, "failed": 0, "done": False,
                    "paused_until": None}
    pigeon.db.write_sync(batches.cancel, account_id, batch_id, NOW)
    assert run_worker(pigeon) == 0
    assert [r["state"] for r in rows_of(pigeon, batch_id)] == ["sent"] * 2 + ["cancelled"] * 3
    assert len(sent_messages(pigeon, account_id)) == 2


def test_a_crash_mid_chunk_sends_nothing_of_it_and_the_restart_sends_each_row_once(
        pigeon, account_id, settings, clock, monkeypatch):
    batch_id = upload(pigeon, account_id, numbers(5))
    pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, batch_id, None, NOW)
    assert pigeon.db.write_sync(batches.send_due, pigeon.send_policy, NOW, 2)["sent"] == 2

    real = batches._send_rows

    def accepted_then_crash(*args, **kwargs):
        real(*args, **kwargs)  # the send path accepted the chunk …
        raise RuntimeError("power cut")  # … and the process died before the commit

    monkeypatch.setattr(batches, "_send_rows", accepted_then_crash)
    with pytest.raises(RuntimeError, match="power cut"):
        pigeon.db.write_sync(batches.send_due, pigeon.send_policy, NOW, 2)
    monkeypatch.setattr(batches, "_send_rows", real)
    assert len(sent_messages(pigeon, account_id)) == 2  # the crashed chunk left no message
    assert [r["state"] for r in rows_of(pigeon, batch_id)] == ["sent"] * 2 + ["pending"] * 3

    # A new process on the same database resumes with the rows still pending.
    pigeon.close()
    restarted = Pigeon(settings, now=clock)
    try:
        assert asyncio.run(send_batches(restarted)) == 3
        sent = sent_messages(restarted, account_id)
        assert sorted(m["phone"] for m in sent) == [f"1370013{n:04d}" for n in range(5)]
        assert progress(restarted, account_id, batch_id)["status"] == "done"
        assert restarted.db.read_sync(lambda conn: conn.scalar(
            select(func.count()).select_from(batch_rows).where(
                batch_rows.c.batch_id == batch_id, batch_rows.c.state == "sent"))) == 5
    finally:
        restarted.close()


def test_another_tenants_batch_does_not_exist_for_you(pigeon, account_id):
    other = make_account(pigeon, "Other", extension="5678")
    batch_id = upload(pigeon, account_id, numbers(1))
    assert pigeon.db.read_sync(batches.get, other, batch_id) is None
    assert pigeon.db.read_sync(batches.listing, other) == []
    for call in (lambda conn: batches.progress(conn, other, batch_id),
                 lambda conn: batches.all_rows(conn, other, batch_id)):
        with pytest.raises(batches.NoSuchBatch):
            pigeon.db.read_sync(call)
    with pytest.raises(batches.NoSuchBatch):
        pigeon.db.write_sync(batches.send, pigeon.send_policy, other, batch_id, None, NOW)
    with pytest.raises(batches.NoSuchBatch):
        pigeon.db.write_sync(batches.cancel, other, batch_id, NOW)


def test_drafts_nobody_sent_are_deleted_after_a_week(pigeon, account_id):
    draft = upload(pigeon, account_id, numbers(1))
    sent = upload(pigeon, account_id, numbers(1, first=1))
    pigeon.db.write_sync(batches.send, pigeon.send_policy, account_id, sent, None, NOW)
    assert pigeon.db.write_sync(batches.purge_drafts, NOW + timedelta(days=6)) == 0
    assert pigeon.db.write_sync(batches.purge_drafts, NOW + timedelta(days=8)) == 1
    assert pigeon.db.read_sync(batches.get, account_id, draft) is None
    assert rows_of(pigeon, draft) == []
    assert pigeon.db.read_sync(batches.get, account_id, sent) is not None
