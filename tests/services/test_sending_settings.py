"""Putting sending settings as a form does: an emptied value goes back to the default."""

from __future__ import annotations

import pytest

from pigeon.core.errors import PigeonError
from pigeon.services import sending_settings


def test_put_sets_exactly_the_given_settings_and_keeps_the_others(pigeon, tenant):
    account = tenant.account_id
    pigeon.db.write_sync(sending_settings.set_limits, account, day_limit=100, otp_per_day=5)
    shown = pigeon.db.write_sync(sending_settings.put, account, day_limit=None,
                                 month_limit=2000)
    assert (shown["day_limit"], shown["month_limit"], shown["otp_per_day"]) == (None, 2000, 5)
    shown = pigeon.db.write_sync(sending_settings.put, account, otp_per_day=None,
                                 otp_per_minute=1)
    assert shown["otp_per_day"] is None and shown["in_force"]["otp_per_day"] == 10
    assert shown["month_limit"] == 2000


@pytest.mark.parametrize("values, fragment", [
    ({"otp_per_hour": 6}, "may only be lowered"),
    ({"day_limit": 0}, "at least 1"),
])
def test_put_checks_like_set_limits_and_changes_nothing_when_refused(pigeon, tenant, values,
                                                                      fragment):
    pigeon.db.write_sync(sending_settings.set_limits, tenant.account_id, month_limit=50)
    with pytest.raises(PigeonError) as caught:
        pigeon.db.write_sync(sending_settings.put, tenant.account_id, **values)
    assert fragment in caught.value.message
    assert pigeon.db.read_sync(sending_settings.settings,
                               tenant.account_id)["month_limit"] == 50
