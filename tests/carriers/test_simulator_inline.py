"""The simulator submitted to inside the dispatcher's claiming transaction
(dispatch.claim_and_submit): claimed, answered, recorded and put into the network in one
write, with the same outcomes as the separate claim, submit and record."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from pigeon.carriers.simulator.connector import SimulatorConnector
from pigeon.services import accounts, dispatch
from pigeon.store.tables import messages, sign_registrations, signatures, simulator_deliveries

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
DELAY = timedelta(seconds=2)


def setup(pigeon) -> list[int]:
    account_id = int(pigeon.db.write_sync(accounts.create_account, "Lark", NOW)["AccountId"])

    def create(conn):
        signature_id = conn.execute(insert(signatures).values(
            account_id=account_id, name="云雀科技", name_key="云雀科技", source=0, sign_type=1,
            status=1, extension_code="1234", created_at=NOW)).inserted_primary_key[0]
        conn.execute(insert(sign_registrations), [
            dict(signature_id=signature_id, carrier=c, status=3, reason_code="", started_at=NOW)
            for c in ("mobile", "unicom", "telecom")])
        base = dict(biz_id="1^0", account_id=account_id, country_code=86, carrier="mobile",
                    signature_id=signature_id, sign_name="云雀科技", template_id=1,
                    template_code="SMS_1", template_type=1, content="【云雀科技】hello",
                    segments=1, encoding="mainland", extend_code="1234", status="queued",
                    attempts=0, price=0, charged=False, created_at=NOW)
        # delivered, refused (INVALID_NUMBER), throttled once
        return conn.execute(insert(messages).returning(messages.c.id,
                                                       sort_by_parameter_order=True), [
            base | {"phone": "13700137000"}, base | {"phone": "13800138007"},
            base | {"phone": "13800138008"}]).scalars().all()

    return pigeon.db.write_sync(create)


def connector(pigeon) -> SimulatorConnector:
    return SimulatorConnector("simulator", pigeon.db, zone=pigeon.settings.timezone,
                              delay=DELAY, access_code="1069", now=lambda: NOW,
                              rng=random.Random(7))


def statuses(pigeon) -> list[tuple]:
    return pigeon.db.read_sync(lambda conn: [tuple(r) for r in conn.execute(
        select(messages.c.status, messages.c.attempts, messages.c.err_code)
        .order_by(messages.c.id))])


def test_one_write_claims_submits_records_and_schedules(pigeon):
    ids = setup(pigeon)
    simulator = connector(pigeon)
    count, rest = pigeon.db.write_sync(
        dispatch.claim_and_submit, 10, NOW, "1069", dispatch.EMBEDDED,
        {"simulator": simulator.submit_in}, pigeon.settings.timezone)

    assert (count, rest) == (3, [])
    assert statuses(pigeon) == [("sent", 1, None), ("failed", 0, "INVALID_NUMBER"),
                                ("queued", 1, None)]
    scheduled = pigeon.db.read_sync(lambda conn: conn.execute(
        select(simulator_deliveries.c.message_id, simulator_deliveries.c.carrier_message_id,
               messages.c.carrier_message_id)
        .join(messages, messages.c.id == simulator_deliveries.c.message_id)).all())
    assert [(m, a == b) for m, a, b in scheduled] == [(ids[0], True)]


def test_other_connectors_messages_are_left_to_submit(pigeon):
    setup(pigeon)
    count, rest = pigeon.db.write_sync(
        dispatch.claim_and_submit, 10, NOW, "1069", dispatch.EMBEDDED, {},
        pigeon.settings.timezone)

    assert count == 3 and [name for name, _ in rest] == ["simulator"] * 3
    assert [s for s, _a, _e in statuses(pigeon)] == ["sending"] * 3


def test_a_failing_inline_submission_is_a_retry(pigeon):
    setup(pigeon)

    def broken(conn, batch, now):
        raise RuntimeError("network down")

    count, rest = pigeon.db.write_sync(
        dispatch.claim_and_submit, 10, NOW, "1069", dispatch.EMBEDDED, {"simulator": broken},
        pigeon.settings.timezone)

    assert (count, rest) == (3, [])
    assert statuses(pigeon) == [("queued", 1, None)] * 3
