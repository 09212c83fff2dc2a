"""The operator's billing and sending settings: top-ups, packages, prices, number lists and
limits — every movement in the ledger, every bad value refused with a clear code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from pigeon.core.errors import PigeonError
from pigeon.services import accounts, billing, number_lists, sending_settings
from pigeon.store.tables import balances, ledger

NOW = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def account_id(pigeon) -> int:
    return int(pigeon.db.write_sync(accounts.create_account, "Lark Technology", NOW)["AccountId"])


def refused(pigeon, fn, *args, code="isv.INVALID_PARAMETERS", **kwargs) -> str:
    with pytest.raises(PigeonError) as raised:
        pigeon.db.write_sync(fn, *args, **kwargs)
    assert raised.value.code == code, raised.value.message
    return raised.value.message


def ledger_sum(pigeon, account_id) -> int:
    return pigeon.db.read_sync(lambda conn: conn.scalar(
        select(func.sum(ledger.c.amount)).where(ledger.c.account_id == account_id)))


# -- top-ups and packages --------------------------------------------------------------------


def test_top_ups_add_up_and_each_is_a_ledger_row(pigeon, account_id):
    pigeon.db.write_sync(billing.topup, account_id, 12_500, NOW, "first")
    answer = pigeon.db.write_sync(billing.topup, account_id, 100_000, NOW)

    assert (answer["balance"], answer["balance_milli"]) == ("112.500", 112_500)
    assert pigeon.db.read_sync(lambda conn: conn.scalar(
        select(balances.c.amount).where(balances.c.account_id == account_id))) == 112_500
    assert ledger_sum(pigeon, account_id) == 112_500
    shown = pigeon.db.read_sync(billing.overview, account_id, NOW)
    assert [(e["kind"], e["amount"], e["note"]) for e in shown["ledger"]] == [
        ("topup", "100.000", "top-up"), ("topup", "12.500", "first")]


@pytest.mark.parametrize("amount", [0, -5, 10**16, 1.5, True])
def test_a_top_up_must_be_positive(pigeon, account_id, amount):
    refused(pigeon, billing.topup, account_id, amount, NOW)
    assert ledger_sum(pigeon, account_id) is None


def test_an_unknown_account_has_no_billing(pigeon):
    refused(pigeon, billing.topup, 1234, 1000, NOW, code="isv.ACCOUNT_NOT_EXISTS")


def test_a_package_is_added_with_its_ledger_row(pigeon, account_id):
    expires = datetime(2026, 6, 1, tzinfo=SHANGHAI)
    package = pigeon.db.write_sync(billing.add_package, account_id, "otp", 500, expires, NOW)

    assert (package["type"], package["total"], package["remaining"]) == ("otp", 500, 500)
    assert package["expires_at"] == "2026-06-01T00:00:00+08:00"
    entries = pigeon.db.read_sync(lambda conn: conn.execute(
        select(ledger).where(ledger.c.account_id == account_id)).mappings().all())
    assert [(e["kind"], e["package_id"], e["units"], e["amount"]) for e in entries] == [
        ("package", package["id"], 500, 0)]


@pytest.mark.parametrize("kind, count, expires_in, fragment", [
    ("international", 10, timedelta(days=1), "general, otp, notification, promotional"),
    ("otp", 0, timedelta(days=1), "1 to 1000000000"),
    ("otp", 10, timedelta(0), "already past"),
])
def test_a_bad_package_is_refused(pigeon, account_id, kind, count, expires_in, fragment):
    message = refused(pigeon, billing.add_package, account_id, kind, count, NOW + expires_in,
                      NOW)
    assert fragment in message


def test_the_overview_lists_usable_packages_first(pigeon, account_id):
    soon = pigeon.db.write_sync(billing.add_package, account_id, "general", 5,
                                NOW + timedelta(days=1), NOW)
    later = pigeon.db.write_sync(billing.add_package, account_id, "promotional", 5,
                                 NOW + timedelta(days=60), NOW)

    shown = pigeon.db.read_sync(billing.overview, account_id, NOW + timedelta(days=2),
                                SHANGHAI)

    assert [(p["id"], p["expired"]) for p in shown["packages"]] == [
        (later["id"], False), (soon["id"], True)]
    assert shown["balance"] == "0.000"


# -- prices ------------------------------------------------------------------------------------


def test_an_account_price_overrides_the_platform_price_which_overrides_the_default(
        pigeon, account_id):
    pigeon.db.write_sync(billing.set_price, 1, 40)
    pigeon.db.write_sync(billing.set_price, 1, 42)  # set again: replaced, not duplicated
    pigeon.db.write_sync(billing.set_price, 2, 60, account_id)

    listed = {p["type"]: (p["price"], p["source"])
              for p in pigeon.db.read_sync(billing.price_list, account_id)}
    assert listed == {"otp": ("0.045", "default"), "notification": ("0.042", "platform"),
                      "promotional": ("0.060", "account"), "international": ("0.300", "default")}
    platform = {p["type"]: p["source"] for p in pigeon.db.read_sync(billing.price_list)}
    assert platform["promotional"] == "default"


@pytest.mark.parametrize("template_type, price", [(7, 45), (1, -1), (1, 10**10)])
def test_a_bad_price_is_refused(pigeon, template_type, price):
    refused(pigeon, billing.set_price, template_type, price)


# -- number lists -------------------------------------------------------------------------------


def test_a_number_is_on_a_list_once_however_it_is_written(pigeon, account_id):
    for form in ("+8613800138000", "13800138000", "008613800138000"):
        pigeon.db.write_sync(number_lists.add, account_id, "whitelist", form, NOW)
    assert [n["number"] for n in pigeon.db.read_sync(
        number_lists.numbers, account_id, "whitelist")] == ["13800138000"]
    assert pigeon.db.read_sync(number_lists.numbers, account_id, "test") == []

    pigeon.db.write_sync(number_lists.remove, account_id, "whitelist", "8613800138000")
    assert pigeon.db.read_sync(number_lists.numbers, account_id, "whitelist") == []
    assert "not on the whitelist" in refused(pigeon, number_lists.remove, account_id,
                                             "whitelist", "13800138000")


def test_at_most_five_test_numbers(pigeon, account_id):
    for n in range(5):
        pigeon.db.write_sync(number_lists.add, account_id, "test", f"1380013800{n}", NOW)
    message = refused(pigeon, number_lists.add, account_id, "test", "13800138009", NOW)
    assert "at most 5" in message
    pigeon.db.write_sync(number_lists.add, account_id, "test", "13800138004", NOW)  # already on


def test_an_invalid_number_cannot_be_listed(pigeon, account_id):
    refused(pigeon, number_lists.add, account_id, "whitelist", "12345", NOW,
            code="isv.MOBILE_NUMBER_ILLEGAL")


# -- sending settings -----------------------------------------------------------------------------


def test_limits_may_only_be_tightened_and_are_kept_until_reset(pigeon, account_id):
    shown = pigeon.db.write_sync(sending_settings.set_limits, account_id, day_limit=100,
                                 otp_per_hour=3)
    assert (shown["day_limit"], shown["otp_per_hour"], shown["month_limit"]) == (100, 3, None)
    assert shown["in_force"] == {"otp_per_minute": 1, "otp_per_hour": 3, "otp_per_day": 10,
                                 "other_per_day": 50}

    shown = pigeon.db.write_sync(sending_settings.set_limits, account_id, other_per_day=20)
    assert (shown["day_limit"], shown["otp_per_hour"], shown["other_per_day"]) == (100, 3, 20)

    assert "may only be lowered" in refused(pigeon, sending_settings.set_limits, account_id,
                                            otp_per_day=11)
    assert "at least 1" in refused(pigeon, sending_settings.set_limits, account_id,
                                   month_limit=0)
    assert pigeon.db.read_sync(sending_settings.settings, account_id)["other_per_day"] == 20

    shown = pigeon.db.write_sync(sending_settings.set_limits, account_id, reset=True,
                                 month_limit=1000)
    assert (shown["day_limit"], shown["otp_per_hour"], shown["month_limit"]) == (None, None, 1000)


def test_the_overview_counts_todays_and_this_months_messages(pigeon, account_id):
    shown = pigeon.db.read_sync(sending_settings.overview, account_id, NOW, SHANGHAI)
    assert (shown["sent_today"], shown["sent_this_month"]) == (0, 0)
    assert shown["in_force"]["otp_per_minute"] == 1
