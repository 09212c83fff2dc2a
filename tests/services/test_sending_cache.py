"""The send path's cache of account state, templates and signatures: a change made in this
process applies to the very next message; one made by another process within
``sending.CACHE_SECONDS``."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, insert, select, update

from pigeon.core.errors import PigeonError
from pigeon.services import accounts, billing, number_lists, sending, sending_settings
from pigeon.services.sending import Recipient, SendRequest
from pigeon.store.tables import messages, signatures, templates

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SIGN = "云雀科技"
CODE = "SMS_100000001"


@pytest.fixture
def account_id(pigeon) -> int:
    """An account with money, an approved signature and an approved notification template."""
    account_id = int(pigeon.db.write_sync(accounts.create_account, "Lark", NOW)["AccountId"])
    pigeon.db.write_sync(billing.topup, account_id, 100_000, NOW)

    def compliance(conn):
        conn.execute(insert(signatures).values(
            account_id=account_id, name=SIGN, name_key=SIGN, source=0, sign_type=1, status=1,
            extension_code="1234", created_at=NOW))
        conn.execute(insert(templates).values(
            code=CODE, account_id=account_id, name="发货通知", type=1, status=1,
            content="您的订单${order}已发货，请注意查收。",
            variable_attribute={"order": "other_number2"}, created_at=NOW))

    pigeon.db.write_sync(compliance)
    return account_id


def send(pigeon, account_id: int, phone: str = "13700137000") -> dict:
    request = SendRequest(template_code=CODE, recipients=[
        Recipient(phone=phone, sign_name=SIGN, params={"order": "A1"})])
    return pigeon.db.write_sync(sending.accept, pigeon.send_policy, account_id, request, NOW)


def refused(pigeon, account_id: int, phone: str = "13700137000") -> PigeonError:
    with pytest.raises(PigeonError) as caught:
        send(pigeon, account_id, phone)
    return caught.value


def test_a_suspension_applies_to_the_next_message(pigeon, account_id):
    send(pigeon, account_id)  # the account's state is now cached
    pigeon.db.write_sync(accounts.set_account_status, account_id, "suspended")
    assert refused(pigeon, account_id).code == "isv.OUT_OF_SERVICE"
    pigeon.db.write_sync(accounts.set_account_status, account_id, "active")
    assert send(pigeon, account_id)["BizId"]


@pytest.mark.parametrize(("table", "key", "code"), [
    (templates, "code", "isv.SMS_TEMPLATE_ILLEGAL"),
    (signatures, "name", "isv.SMS_SIGNATURE_ILLEGAL"),
])
def test_a_rejection_applies_to_the_next_message(pigeon, account_id, table, key, code):
    send(pigeon, account_id)
    pigeon.db.write_sync(lambda conn: conn.execute(
        update(table).where(table.c.account_id == account_id).values(status=2)))
    assert refused(pigeon, account_id).code == code


def test_limits_and_the_whitelist_apply_to_the_next_message(pigeon, account_id):
    pigeon.db.write_sync(sending_settings.set_limits, account_id, other_per_day=1)
    send(pigeon, account_id)
    assert refused(pigeon, account_id).code == "isv.BUSINESS_LIMIT_CONTROL"
    pigeon.db.write_sync(number_lists.add, account_id, "whitelist", "13700137000", NOW)
    assert send(pigeon, account_id)["BizId"]


def test_a_new_price_applies_to_the_next_message(pigeon, account_id):
    send(pigeon, account_id)
    pigeon.db.write_sync(billing.set_price, 1, 40, account_id)
    send(pigeon, account_id, "13900139000")
    charged = pigeon.db.read_sync(lambda conn: conn.execute(
        select(messages.c.phone, messages.c.price).order_by(messages.c.id)).all())
    assert [tuple(row) for row in charged] == [("13700137000", 45), ("13900139000", 40)]


def test_a_unit_rolled_back_after_reading_leaves_no_stale_copy(pigeon, account_id):
    """A unit that suspends the account, lets the send path cache that, and then fails: the
    suspension is undone, and so is the cached copy."""
    send(pigeon, account_id)

    def suspend_send_fail(conn):
        accounts.set_account_status(conn, account_id, "suspended")
        with pytest.raises(PigeonError):
            sending.accept(conn, pigeon.send_policy, account_id, SendRequest(
                template_code=CODE, recipients=[Recipient("13700137000", SIGN, {"order": "A"})]),
                NOW)
        raise RuntimeError("roll it all back")

    with pytest.raises(RuntimeError):
        pigeon.db.write_sync(suspend_send_fail)
    assert send(pigeon, account_id)["BizId"]


def test_another_process_s_change_applies_within_the_time_to_live(pigeon, account_id,
                                                                   monkeypatch):
    send(pigeon, account_id)
    # Another process (the CLI, another node): a write this process's writer never saw.
    other = create_engine(pigeon.database_url)
    with other.begin() as conn:
        accounts.set_account_status(conn, account_id, "suspended")
    other.dispose()
    assert send(pigeon, account_id, "13900139000")["BizId"]  # still the cached state

    later = time.monotonic() + sending.CACHE_SECONDS + 0.1
    monkeypatch.setattr(sending, "_clock", lambda: later)
    assert refused(pigeon, account_id).code == "isv.OUT_OF_SERVICE"
