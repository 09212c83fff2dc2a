"""SMS alerts go out the way every message does: queued by the alert evaluator as messages of
the platform account, claimed by a running dispatcher, routed by the operators' routes — to the
carrier simulator (the contact's virtual handset) by default, or to a real SMSC over SMPP when a
route says so (the test SMSC of tests/support/smsc.py on loopback)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from pigeon.app import Pigeon
from pigeon.services import accounts, alert_config, alert_sms, billing, handsets
from pigeon.store.tables import messages
from tests.api.test_smpp_delivery import add_connector, add_route
from tests.support.alerts import Passes
from tests.support.server import LiveServer
from tests.support.smsc_thread import BackgroundSmsc
from tests.support.waiting import wait_until

PHONE = "13800138000"


@pytest.fixture
def smsc():
    with BackgroundSmsc() as server:
        yield server


@pytest.fixture
def running(settings, monkeypatch):
    """A Pigeon with its workers (dispatcher, simulator) after ``setup(pigeon)`` — but for
    the alert evaluator: the test's own passes (tests/support/alerts.py) are the ones under
    test, and a second evaluator would race them to fire the alert."""
    from pigeon import workers

    every = workers.all_workers
    monkeypatch.setattr(workers, "all_workers", lambda: [
        worker for worker in every() if worker.__name__ != "alert_evaluator"])
    started = []

    def start(setup=lambda pigeon: None):
        pigeon = Pigeon(replace(settings, simulator_delay=timedelta(milliseconds=50)))
        setup(pigeon)
        live = LiveServer(pigeon, workers=True).start()
        started.append((pigeon, live))
        return pigeon

    yield start
    for pigeon, live in started:
        live.stop()
        pigeon.close()


def low_balance_alert_by_sms(pigeon) -> int:
    """A tenant with a contact told by SMS and a balance rule that fires; one pass of the
    evaluator.  Returns the tenant's account id."""
    now = pigeon.now()
    account_id = int(pigeon.db.write_sync(accounts.create_account, "云雀科技", now)["AccountId"])
    pigeon.db.write_sync(alert_config.add_contact, account_id, "李雷", PHONE, None, now)
    pigeon.db.write_sync(alert_config.add_channel, pigeon.box, account_id, "sms", None, now)
    pigeon.db.write_sync(alert_config.add_rule, account_id, "balance", {"below": "1"},
                         timedelta(hours=1), None, now)
    passes = Passes(pigeon)
    try:
        result = passes(now)
    finally:
        passes.close()
    assert (len(result.fired), result.sent) == (1, 1)
    return account_id


def final_alert_message(pigeon) -> dict:
    def check():
        rows = pigeon.db.read_sync(lambda conn: [dict(r) for r in conn.execute(
            select(messages).where(messages.c.account_id == alert_sms.PLATFORM_ACCOUNT_ID))
            .mappings()])
        return rows[0] if len(rows) == 1 and rows[0]["status"] in ("delivered", "failed") \
            else None

    check.__doc__ = "the alert SMS has its final status"
    return wait_until(check)


def test_an_sms_alert_reaches_the_contacts_handset_through_the_dispatcher(running):
    pigeon = running()
    account_id = low_balance_alert_by_sms(pigeon)

    message = final_alert_message(pigeon)
    assert (message["status"], message["connector"]) == ("delivered", "simulator")
    [received] = pigeon.db.read_sync(handsets.inbox, PHONE)
    assert received["sender"] == pigeon.settings.access_code  # the platform's bare number
    assert received["text"] == message["content"]
    assert received["text"].startswith(f"【Pigeon】Balance low — 云雀科技 ({account_id})")
    assert pigeon.db.read_sync(billing.balance, account_id) == 0  # nobody was charged
    # The tenant's own console inbox never shows the platform's messages.
    assert pigeon.db.read_sync(handsets.inbox_for_account, account_id, PHONE,
                               pigeon.settings.access_code) == []


def test_an_sms_alert_goes_to_a_carrier_over_smpp_when_a_route_says_so(running, smsc):
    def setup(pigeon):
        add_connector(pigeon, "smsc-a", smsc.port)
        add_route(pigeon, "smsc-a", carrier="mobile")

    pigeon = running(setup)
    low_balance_alert_by_sms(pigeon)

    message = final_alert_message(pigeon)
    assert (message["status"], message["connector"]) == ("delivered", "smsc-a")
    [parts] = smsc.smsc.messages().values()  # one message, in as many parts as it needs
    assert len(parts) == message["segments"]
    assert {(pdu.destination_addr, pdu.source_addr) for pdu in parts} == \
        {("86" + PHONE, pigeon.settings.access_code)}
    text = "".join(pdu.text for pdu in sorted(parts, key=lambda pdu: pdu.udh[5]))
    assert text == message["content"]
    assert text.startswith("【Pigeon】Balance low — 云雀科技")
    assert pigeon.db.read_sync(handsets.inbox, PHONE) == []  # not the simulator's


def test_the_alert_signature_is_a_setting(running):
    pigeon = running()
    # What Evaluator.for_pigeon passes from PIGEON_ALERT_SMS_SIGNATURE.
    passes = Passes(pigeon, sms_signature="鸽子平台")
    now = pigeon.now()
    account_id = int(pigeon.db.write_sync(accounts.create_account, "Lark", now)["AccountId"])
    pigeon.db.write_sync(alert_config.add_contact, account_id, "Li", PHONE, None, now)
    pigeon.db.write_sync(alert_config.add_channel, pigeon.box, account_id, "sms", None, now)
    pigeon.db.write_sync(alert_config.add_rule, account_id, "balance", {"below": "1"},
                         timedelta(hours=1), None, now)
    try:
        passes(now)
    finally:
        passes.close()
    message = final_alert_message(pigeon)
    assert message["status"] == "delivered" and message["sign_name"] == "鸽子平台"
    assert message["content"].startswith("【鸽子平台】")
