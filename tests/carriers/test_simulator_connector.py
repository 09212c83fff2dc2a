"""The simulator connector's answers at submission: carrier ids, refusals, throttling, and the
batch effect that puts accepted messages into the network."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from pigeon.carriers.base import Outbound
from pigeon.carriers.simulator.connector import SimulatorConnector
from pigeon.services import accounts, dispatch
from pigeon.store.tables import messages, sign_registrations, signatures, simulator_deliveries

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
DELAY = timedelta(seconds=2)


@pytest.fixture
def connector(pigeon):
    return SimulatorConnector("simulator", pigeon.db, zone=pigeon.settings.timezone,
                              delay=DELAY, access_code="1069", now=lambda: NOW,
                              rng=random.Random(7))


@pytest.fixture
def signature_id(pigeon) -> int:
    account_id = int(pigeon.db.write_sync(accounts.create_account, "Lark", NOW)["AccountId"])

    def create(conn):
        signature = conn.execute(insert(signatures).values(
            account_id=account_id, name="云雀科技", name_key="云雀科技", source=0, sign_type=1,
            status=1, extension_code="1234", created_at=NOW)).inserted_primary_key[0]
        conn.execute(insert(sign_registrations), [
            dict(signature_id=signature, carrier=c, status=s, reason_code="", started_at=NOW)
            for c, s in (("mobile", 3), ("unicom", -1), ("telecom", 3))])
        return signature

    return pigeon.db.write_sync(create)


def outbound(message_id: int, phone: str, carrier: str | None, signature_id: int) -> Outbound:
    return Outbound(message_id=message_id, phone=phone, country_code=86, carrier=carrier,
                    sender="10691234", content="【云雀科技】hello", encoding="mainland",
                    segments=1, signature_id=signature_id, template_type=1)


def submit(connector, batch):
    return asyncio.run(connector.submit(batch))


def test_submission_answers_each_message_by_its_fate(connector, signature_id):
    results = submit(connector, [
        outbound(1, "13700137000", "mobile", signature_id),
        outbound(2, "13800138007", "mobile", signature_id),
        outbound(3, "13800138006", "mobile", signature_id),
        outbound(4, "18612345678", "unicom", signature_id),
        outbound(5, "13800138008", "mobile", signature_id),
    ])
    delivered, refused, silent, unregistered, throttled = results

    assert len(delivered.carrier_message_id) == 20 and delivered.effect is not None
    assert (refused.carrier_message_id, refused.error, refused.retry) == \
        (None, "INVALID_NUMBER", False)
    assert silent.carrier_message_id and silent.effect is None  # no receipt will come
    assert unregistered.carrier_message_id and unregistered.effect is delivered.effect
    assert throttled.retry and throttled.carrier_message_id is None

    [again] = submit(connector, [outbound(5, "13800138008", "mobile", signature_id)])
    assert again.carrier_message_id and not again.retry


def test_recording_the_batch_puts_its_messages_in_the_network_with_their_receipts(
        pigeon, connector, signature_id):
    account_id = pigeon.db.read_sync(lambda conn: conn.scalar(
        select(signatures.c.account_id).where(signatures.c.id == signature_id)))
    base = dict(biz_id="1^0", account_id=account_id, country_code=86, carrier="mobile",
                signature_id=signature_id, sign_name="云雀科技", template_id=1,
                template_code="SMS_1", template_type=1, content="【云雀科技】hello", segments=1,
                encoding="mainland", extend_code="1234", status="queued", attempts=0,
                price=0, charged=False, created_at=NOW)
    pigeon.db.write_sync(lambda conn: conn.execute(insert(messages), [
        base | {"phone": "13700137000"}, base | {"phone": "13800138005"},
        base | {"phone": "18612345678", "carrier": "unicom"}]))
    claimed = pigeon.db.write_sync(dispatch.claim, 10, NOW, "1069")
    results = submit(connector, [m for _, m in claimed])
    pigeon.db.write_sync(dispatch.record, "simulator", results, pigeon.settings.timezone, NOW)

    rows = pigeon.db.read_sync(lambda conn: conn.execute(
        select(simulator_deliveries).order_by(simulator_deliveries.c.message_id)).all())
    assert [(r.stat, r.err_code) for r in rows] == [
        ("DELIVRD", "DELIVERED"), ("EXPIRED", "EXPIRED"), ("REJECTD", "PORT_NOT_REGISTERED")]
    assert [r.carrier_message_id for r in rows] == [r.carrier_message_id for r in results]
    delivered, expired, unregistered = (r.due_at - NOW for r in rows)
    assert DELAY * 0.8 <= delivered <= DELAY * 1.2
    assert DELAY * 8 <= expired <= DELAY * 12
    assert DELAY * 0.8 <= unregistered <= DELAY * 1.2
