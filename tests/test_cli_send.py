"""`pigeon send`, `pigeon billing`, `pigeon limits`, `pigeon whitelist` and `pigeon testnumber`
as operators and scripts use them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine

from pigeon.store.tables import messages
from tests.support.cli import cli_runner
from tests.support.sending import ready_to_send, rows, tomorrow_at


@pytest.fixture
def cli(settings, database_url):
    return cli_runner(settings.data_dir, database_url, PIGEON_REVIEW_MODE="rules", COLUMNS="200")


@pytest.fixture
def sender(pigeon, server, tenant, core_sdk):
    return ready_to_send(pigeon, core_sdk, tenant.account_id)


def _json(result):
    return json.loads(result.stdout)


# -- send ---------------------------------------------------------------------------------------


def test_send_accepts_a_message_to_several_numbers_as_send_sms_does(pigeon, cli, sender):
    answer = _json(cli("send", "--account", sender.account_id, "--sign", sender.sign,
                       "--template", sender.notice, "--param", '{"order":"A1"}',
                       "--out-id", "cli-1", "13800138000", "+8613900139000", "--json"))

    assert answer["Numbers"] == 2
    stored = rows(pigeon, messages, sender.account_id)
    assert [(m["phone"], m["biz_id"], m["out_id"]) for m in stored] == [
        ("13800138000", answer["BizId"], "cli-1"), ("13900139000", answer["BizId"], "cli-1")]
    assert stored[0]["content"] == "【云雀科技】您的订单A1已发货，请注意查收。"


def test_send_prints_the_biz_id_for_people(pigeon, cli, sender):
    # A promotional template: at 10:00, clear of the quiet hours (20:00–08:00 platform time).
    with time_machine.travel(tomorrow_at(pigeon, 10), tick=True):
        result = cli("send", "--account", sender.account_id, "--sign", sender.sign,
                     "--template", sender.promo, "13800138000")
    assert "BizId" in result.stdout and "^0" in result.stdout


@pytest.mark.parametrize("args, line", [
    (["--template", "SMS_000000001"], "error: isv.SMS_TEMPLATE_ILLEGAL: "),
    (["--param", "{order"], "error: isv.INVALID_JSON_PARAM: "),
    (["--param", '{"order":1}'], "error: isv.INVALID_JSON_PARAM: "),
    (["--sign", ""], "error: MissingSignName: "),
    (["--account", "1234"], "error: isv.ACCOUNT_NOT_EXISTS: "),
    (["--out-id", "x" * 256], "error: isv.INVALID_PARAMETERS: "),
])
def test_send_errors_are_one_line_with_the_code(pigeon, cli, sender, args, line):
    base = {"--account": sender.account_id, "--sign": sender.sign, "--template": sender.notice,
            "--param": '{"order":"A1"}'}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli("send", *[x for pair in base.items() for x in pair], "13800138000", code=1)
    assert result.stderr.startswith(line), result.stderr
    assert rows(pigeon, messages, sender.account_id) == []


def test_send_needs_numbers_or_a_csv_file(cli, sender):
    result = cli("send", "--account", sender.account_id, code=2)
    assert "NUMBERS" in result.stderr


CSV = """phone,sign_name,template_code,order,code,out_id
13800138000,,,A1,,row-2
13900139000,云雀,{otp},,1234,
12345,,,A3,,
13700137000,,,,,
,,,A5,,
15000150000,,,A6,,,surplus
18600186000,,,A7,,
"""


def test_a_csv_sends_row_by_row_and_reports_every_refused_row(pigeon, cli, sender, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text(CSV.format(otp=sender.otp), encoding="utf-8")

    result = cli("send", "--csv", path, "--account", sender.account_id, "--sign", sender.sign,
                 "--template", sender.notice, "--json", code=1)

    answer = _json(result)
    assert [(a["line"], a["phone"]) for a in answer["accepted"]] == [
        (2, "13800138000"), (3, "13900139000"), (8, "18600186000")]
    assert [(r["line"], r["Code"]) for r in answer["refused"]] == [
        (4, "isv.MOBILE_NUMBER_ILLEGAL"), (5, "isv.TEMPLATE_MISSING_PARAMETERS"),
        (6, "MissingPhoneNumbers"), (7, "isv.INVALID_PARAMETERS")]
    assert all(r["Message"] for r in answer["refused"])
    stored = {m["phone"]: m for m in rows(pigeon, messages, sender.account_id)}
    assert set(stored) == {"13800138000", "13900139000", "18600186000"}
    assert stored["13800138000"]["out_id"] == "row-2"
    assert stored["13900139000"]["content"].startswith("【云雀】您的验证码为1234")
    assert len({m["biz_id"] for m in stored.values()}) == 3  # one call per row


def test_a_csv_summary_for_people(cli, sender, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("\ufeffphone,order\n13800138000,A1\n1,A2\n", encoding="utf-8")  # Excel BOM

    result = cli("send", "--csv", path, "--account", sender.account_id, "--sign", sender.sign,
                 "--template", sender.notice, code=1)

    assert "accepted 1 of 2 rows, refused 1" in result.stdout
    assert "isv.MOBILE_NUMBER_ILLEGAL" in result.stdout


def test_a_csv_that_is_all_accepted_exits_0(cli, sender, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("phone,order\n13800138000,A1\n13900139000,A2\n", encoding="utf-8")
    answer = _json(cli("send", "--csv", path, "--account", sender.account_id, "--sign",
                       sender.sign, "--template", sender.notice, "--json"))
    assert len(answer["accepted"]) == 2 and answer["refused"] == []


def test_a_csv_without_a_phone_column_is_refused(cli, sender, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("number,order\n13800138000,A1\n", encoding="utf-8")
    result = cli("send", "--csv", path, "--account", sender.account_id, "--sign", sender.sign,
                 "--template", sender.notice, code=1)
    assert result.stderr.startswith("error: isv.INVALID_PARAMETERS: ")
    assert "phone" in result.stderr


# -- billing --------------------------------------------------------------------------------------


@pytest.fixture
def account(cli) -> str:
    return _json(cli("account", "create", "Lark Technology", "--json"))["AccountId"]


def test_billing_round_trip_as_json(cli, account, pigeon):
    assert _json(cli("billing", "topup", account, "12.5", "--json"))["balance"] == "12.500"
    assert _json(cli("billing", "topup", account, "100", "--note", "invoice 7",
                     "--json"))["balance_milli"] == 112_500
    last_day = (pigeon.calendar.local_date(pigeon.now()) + timedelta(days=30)).isoformat()
    package = _json(cli("billing", "package", "add", account, "--type", "general", "--count",
                        "1000", "--expires", last_day, "--json"))
    assert package["remaining"] == 1000
    assert package["expires_at"].endswith("T00:00:00+08:00")  # the day after, platform time
    price = _json(cli("billing", "price", "set", "0.06", "--type", "promotional", "--account",
                      account, "--json"))
    assert (price["price"], price["AccountId"]) == ("0.060", account)

    shown = _json(cli("billing", "show", account, "--json"))
    assert shown["balance"] == "112.500"
    assert [p["type"] for p in shown["packages"]] == ["general"]
    assert {p["type"]: p["price"] for p in shown["prices"]}["promotional"] == "0.060"
    assert [(e["kind"], e["note"]) for e in shown["ledger"]] == [
        ("package", "general package of 1000"), ("topup", "invoice 7"), ("topup", "top-up")]
    text = cli("billing", "show", account).stdout
    assert "balance 112.500 CNY" in text and "general" in text


@pytest.mark.parametrize("args, fragment", [
    (["topup", "{account}", "1.2345"], "at most three"),
    (["topup", "{account}", "1,000"], "such as 100"),
    (["package", "add", "{account}", "--type", "otp", "--count", "5", "--expires",
      "2020-01-01"], "already past"),
    (["package", "add", "{account}", "--type", "otp", "--count", "5", "--expires",
      "next week"], "YYYY-MM-DD"),
    (["package", "add", "{account}", "--type", "gold", "--count", "5", "--expires",
      "2099-01-01"], "package type"),
    (["price", "set", "0.05", "--type", "fax"], "--type is one of"),
])
def test_billing_mistakes_are_refused(cli, account, args, fragment):
    result = cli("billing", *[a.format(account=account) for a in args], code=1)
    assert result.stderr.startswith("error: isv.INVALID_PARAMETERS: ")
    assert fragment in result.stderr.replace("\n", " ")


# -- limits and number lists -----------------------------------------------------------------------


def test_limits_set_and_show(cli, account):
    shown = _json(cli("limits", "set", account, "--day-limit", "500", "--otp-per-minute", "1",
                      "--otp-per-hour", "3", "--json"))
    assert (shown["day_limit"], shown["in_force"]["otp_per_hour"]) == (500, 3)
    result = cli("limits", "set", account, "--otp-per-day", "20", code=1)
    assert "may only be lowered" in result.stderr.replace("\n", " ")

    shown = _json(cli("limits", "show", account, "--json"))
    assert (shown["day_limit"], shown["sent_today"], shown["sent_this_month"]) == (500, 0, 0)
    assert "otp_per_hour" in cli("limits", "show", account).stdout

    shown = _json(cli("limits", "set", account, "--reset", "--json"))
    assert shown["day_limit"] is None and shown["in_force"]["otp_per_hour"] == 5


def test_whitelist_and_test_numbers(cli, account):
    assert _json(cli("whitelist", "add", account, "+8613800138000", "--json"))["number"] == \
        "13800138000"
    assert [n["number"] for n in _json(cli("whitelist", "list", account, "--json"))] == [
        "13800138000"]
    cli("whitelist", "remove", account, "13800138000")
    assert _json(cli("whitelist", "list", account, "--json")) == []

    for n in range(5):
        cli("testnumber", "add", account, f"1390013900{n}")
    result = cli("testnumber", "add", account, "13900139009", code=1)
    assert result.stderr.startswith("error: isv.INVALID_PARAMETERS: ")
    assert len(_json(cli("testnumber", "list", account, "--json"))) == 5
    assert cli("testnumber", "remove", account, "13900139009", code=1).stderr.startswith(
        "error: isv.INVALID_PARAMETERS: ")
