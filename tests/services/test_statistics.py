"""Business Statistics' figures, on SQLite and PostgreSQL: by day (the same as
QuerySendStatistics, asked through the official SDK), by type, signature and template, and
the cost from the ledger."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pigeon.core.errors import PigeonError
from pigeon.services import billing, statistics
from tests.support.statistics import BALANCE_CNY, query_send_statistics, sent_history


@pytest.fixture
def history(pigeon, server, tenant, core_sdk, sdk):
    return sent_history(pigeon, core_sdk, sdk, tenant.account_id)


def figures(pigeon, account_id, first, last, **filters):
    return pigeon.db.read_sync(statistics.business_statistics, account_id,
                               pigeon.calendar.zone, first=first, last=last, **filters)


def test_every_day_of_the_range_agrees_with_query_send_statistics(pigeon, tenant, sdk,
                                                                  history):
    first, last = history.day1 - timedelta(days=2), history.day2 + timedelta(days=1)
    data = figures(pigeon, tenant.account_id, first, last)

    assert [d["day"] for d in data["days"]] == [first + timedelta(days=n) for n in range(5)]
    from_api = query_send_statistics(sdk, first, last)
    assert from_api  # the SDK saw the two days
    for day in data["days"]:
        expected = from_api.get(day["day"].strftime("%Y%m%d"), (0, 0, 0, 0))
        assert (day["total"], day["delivered"], day["failed"], day["waiting"]) == expected
    assert [(d["total"], d["delivered"], d["failed"]) for d in data["days"]
            if d["total"]] == [(5, 1, 1), (1, 0, 0)]
    assert data["days"][2]["success_rate"] == 0.5 and data["days"][3]["success_rate"] is None


def test_totals_count_messages_segments_and_what_the_ledger_charged(pigeon, tenant, history):
    data = figures(pigeon, tenant.account_id, history.day1, history.day2)
    totals = data["totals"]
    assert (totals["messages"], totals["segments"]) == (5, 6)
    assert (totals["delivered"], totals["failed"], totals["waiting"]) == (1, 1, 4)
    assert totals["success_rate"] == 0.5
    # The failed message was refunded: the cost is what left the balance, to the milli-CNY.
    spent = BALANCE_CNY * 1000 - pigeon.db.read_sync(billing.balance, tenant.account_id)
    assert totals["cost_milli"] == spent > 0
    assert totals["package_units"] == 0


def test_breakdowns_by_type_signature_and_template(pigeon, tenant, history):
    sender = history.sender
    data = figures(pigeon, tenant.account_id, history.day1, history.day2)
    by_type = {r["key"]: (r["messages"], r["segments"]) for r in data["by_type"]}
    assert by_type == {1: (3, 4), 0: (1, 1), 2: (1, 1)}
    assert [r["key"] for r in data["by_type"]][0] == 1  # largest first
    by_sign = {r["key"]: r["segments"] for r in data["by_signature"]}
    assert by_sign == {sender.sign: 5, sender.otp_sign: 1}
    by_template = {r["key"]: (r["name"], r["segments"], r["failed"])
                   for r in data["by_template"]}
    assert by_template[sender.notice] == ("发货通知", 2, 1)
    assert by_template[sender.long_notice] == ("揽收通知", 2, 0)
    assert sum(r["cost_milli"] for r in data["by_template"]) == data["totals"]["cost_milli"]
    notice = next(r for r in data["by_template"] if r["key"] == sender.notice)
    assert notice["success_rate"] == 0.5


def test_type_and_signature_filters_narrow_everything(pigeon, tenant, sdk, history):
    otp = figures(pigeon, tenant.account_id, history.day1, history.day2, template_type=0)
    assert otp["totals"]["segments"] == 1 and [r["key"] for r in otp["by_type"]] == [0]
    signed = figures(pigeon, tenant.account_id, history.day1, history.day2,
                     sign_name=history.sender.sign)
    assert signed["totals"]["segments"] == 5
    assert [r["key"] for r in signed["by_signature"]] == [history.sender.sign]
    assert sum(d["total"] for d in signed["days"]) == 5


def test_a_range_without_messages_has_zero_days_and_no_rows(pigeon, tenant):
    data = figures(pigeon, tenant.account_id, date(2025, 1, 1), date(2025, 1, 30))
    assert len(data["days"]) == 30 and not any(d["total"] for d in data["days"])
    assert data["by_type"] == data["by_signature"] == data["by_template"] == []
    assert data["totals"]["messages"] == 0 and data["totals"]["success_rate"] is None


def test_another_tenant_sees_none_of_it(pigeon, other_tenant, history):
    data = figures(pigeon, other_tenant.account_id, history.day1, history.day2)
    assert data["totals"]["messages"] == 0


@pytest.mark.parametrize("first, last, fragment", [
    (date(2025, 2, 1), date(2025, 1, 1), "after it ends"),
    (date(2024, 1, 1), date(2025, 1, 1), "at most 366 days"),
])
def test_a_bad_range_is_refused(pigeon, tenant, first, last, fragment):
    with pytest.raises(PigeonError) as caught:
        figures(pigeon, tenant.account_id, first, last)
    assert caught.value.code == "isv.INVALID_PARAMETERS" and fragment in caught.value.message


def test_an_unknown_template_type_is_refused(pigeon, tenant):
    with pytest.raises(PigeonError):
        figures(pigeon, tenant.account_id, date(2025, 1, 1), date(2025, 1, 2), template_type=9)


def test_the_default_range_is_the_last_thirty_days():
    assert statistics.default_range(date(2025, 3, 30)) == (date(2025, 3, 1), date(2025, 3, 30))


def test_segments_from_a_package_count_as_package_units_not_cost(pigeon, server, tenant,
                                                                 core_sdk, sdk):
    from datetime import timedelta as td

    from tests.support.sending import ready_to_send
    from tests.support.statistics import A, send

    sender = ready_to_send(pigeon, core_sdk, tenant.account_id, balance_cny=0)
    pigeon.db.write_sync(billing.add_package, tenant.account_id, "general", 100,
                         pigeon.now() + td(days=30), pigeon.now())
    send(sdk, A, sender.sign, sender.notice, {"order": "A1"})
    today = pigeon.calendar.local_date(pigeon.now())
    totals = figures(pigeon, tenant.account_id, today, today)["totals"]
    assert (totals["segments"], totals["package_units"], totals["cost_milli"]) == (1, 1, 0)
