"""The faults of a real SMSC, shown by one nobody here wrote, to ``pigeon serve`` as shipped.

The peer is the npm ``smpp`` package's server (tests/peers/smpp/smsc.js, its switches
documented there; installed as tests/support/peers.py says).  Each test starts it with one
fault switched on, starts a real ``pigeon serve`` on the embedded SQLite database with an SMPP
connector and a route to it (tests/support/nodes.py), sends through the official SDK
(SendBatchSms and SendSms from several threads), waits for every message to be final, and
then holds what the peer saw against what the database says: statuses, attempts, the ledger,
the tenant's reports and QuerySendDetails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from sqlalchemy import select

from pigeon.app import Pigeon
from pigeon.services import billing, connectors, reports, routes
from pigeon.store.tables import ledger, messages
from tests.conftest import make_tenant
from tests.support.node_smsc import PASSWORD, SYSTEM_ID, NodeSmsc
from tests.support.nodes import Deployment, sqlite_processes
from tests.support.sdk import CoreClient, Tenant, tea_client
from tests.support.sending import Sender, ready_to_send
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

RT = RuntimeOptions(read_timeout=10_000, connect_timeout=5_000)
PRICE = 45  # milli-CNY a segment, the default notification price
THROTTLED = 0x58
BIND_FAILED = 0x0D
WINDOW = 10
FINAL = ("delivered", "failed")


@dataclass
class Scene:
    deployment: Deployment
    local: Pigeon  # the test's own view of the database
    endpoint: str
    tenant: Tenant
    sender: Sender

    def rows(self) -> list[dict]:
        """The tenant's messages by phone (one each in these tests)."""
        def read(conn):
            return [dict(r) for r in conn.execute(select(messages).where(
                messages.c.account_id == self.tenant.account_id).order_by(messages.c.id))
                .mappings()]

        found = self.local.db.read_sync(read)
        assert len({r["phone"] for r in found}) == len(found), "a phone has two messages"
        return found

    def wait_final(self, count: int, timeout: float = 90.0) -> dict[str, dict]:
        """Until ``count`` messages are all delivered or failed; them, by phone."""
        def final():
            found = self.rows()
            return len(found) == count and all(r["status"] in FINAL for r in found) and found

        return {r["phone"]: r for r in wait_until(
            final, timeout=timeout, interval=0.1, what=f"{count} final messages")}

    def charges(self) -> dict[int, list[tuple[str, int]]]:
        """(kind, amount) of each message's ledger rows."""
        entries = self.local.db.read_sync(lambda conn: conn.execute(
            select(ledger.c.message_id, ledger.c.kind, ledger.c.amount).where(
                ledger.c.account_id == self.tenant.account_id,
                ledger.c.message_id.is_not(None)).order_by(ledger.c.id)).all())
        by_message: dict[int, list[tuple[str, int]]] = {}
        for message_id, kind, amount in entries:
            by_message.setdefault(message_id, []).append((kind, amount))
        return by_message

    def sms_reports(self) -> dict[str, list[dict]]:
        """The SmsReport payloads queued for the tenant, by phone."""
        by_phone: dict[str, list[dict]] = {}
        for event in self.local.db.read_sync(reports.queued, self.tenant.account_id,
                                             "SmsReport"):
            by_phone.setdefault(event["payload"]["phone_number"], []).append(event["payload"])
        return by_phone

    def details(self, phone: str) -> list:
        """QuerySendDetails for ``phone`` today, through the SDK."""
        day = self.local.calendar.local_date(self.local.now()).strftime("%Y%m%d")
        answer = tea_client(self.endpoint, self.tenant).query_send_details_with_options(
            models.QuerySendDetailsRequest(phone_number=phone, send_date=day, page_size=10,
                                           current_page=1), RT).body
        assert answer.code == "OK", answer.message
        return answer.sms_send_detail_dtos.sms_send_detail_dto


@contextmanager
def pigeon_with(tmp_path: Path, peer: NodeSmsc, *, enabled: bool = True) -> Iterator[Scene]:
    """``pigeon serve`` with one SMPP connector to ``peer`` and a route sending everything
    there, and a tenant ready to send (its ready_to_send workflow goes through the SDK)."""
    deployment = sqlite_processes(tmp_path)
    local = deployment.local
    local.db.write_sync(connectors.add, local.box, "peer", "smpp", local.now(),
                        host="127.0.0.1", port=peer.port, system_id=SYSTEM_ID,
                        password=PASSWORD, window=WINDOW)
    if not enabled:
        local.db.write_sync(connectors.set_enabled, "peer", False)
    local.db.write_sync(routes.add, connector="peer", now=local.now())
    deployment.start()
    try:
        [server] = deployment.api
        tenant = make_tenant(local)
        sender = ready_to_send(local, CoreClient(server.endpoint, tenant), tenant.account_id)
        yield Scene(deployment, local, server.endpoint, tenant, sender)
    finally:
        deployment.close()


def phones(count: int, start: int = 0) -> list[str]:
    return [f"137{n:08d}" for n in range(start, start + count)]


def send_load(scene: Scene, batch: list[str], singles: list[str],
              long: tuple[str, ...] = ()) -> None:
    """``batch`` in one SendBatchSms, ``singles`` by SendSms from four threads (the
    two-segment template for the phones in ``long``); every answer must be OK."""
    sender = scene.sender

    def batch_sms() -> None:
        answer = tea_client(scene.endpoint, scene.tenant).send_batch_sms_with_options(
            models.SendBatchSmsRequest(
                phone_number_json=str(batch).replace("'", '"'),
                sign_name_json=str([sender.sign] * len(batch)).replace("'", '"'),
                template_code=sender.notice,
                template_param_json=str([{"order": p[-4:]} for p in batch]).replace("'", '"')),
            RT).body
        assert answer.code == "OK", answer.message

    def sms(phone: str) -> None:
        if phone in long:
            template, param = sender.long_notice, '{"name":"张三丰先生李四女士们"}'
        else:
            template, param = sender.notice, f'{{"order":"{phone[-4:]}"}}'
        answer = tea_client(scene.endpoint, scene.tenant).send_sms_with_options(
            models.SendSmsRequest(phone_numbers=phone, sign_name=sender.sign,
                                  template_code=template, template_param=param), RT).body
        assert answer.code == "OK", answer.message

    with ThreadPoolExecutor(4) as pool:
        done = [pool.submit(sms, phone) for phone in singles]
        if batch:
            done.append(pool.submit(batch_sms))
        for future in done:
            future.result()


def wire(phone: str) -> str:
    """The destination_addr Pigeon sends for a mainland number."""
    return "86" + phone


def accepted_parts(peer: NodeSmsc) -> Counter:
    """How many times the peer took each (destination, part number) — 0 for a single part."""
    return Counter((s["destination_addr"], int(s["udh"][0][-2:], 16) if s["udh"] else 0)
                   for s in peer.events("submit_sm") if s["id"])


def assert_charged_once(scene: Scene, rows: dict[str, dict]) -> None:
    charges = scene.charges()
    for row in rows.values():
        assert charges[row["id"]] == [("charge", -PRICE * row["segments"])], row["phone"]


def test_throttled_submissions_are_retried_and_each_message_is_delivered_once(tmp_path):
    with NodeSmsc("--throttle", "5") as peer, pigeon_with(tmp_path, peer) as scene:
        batch, singles, long = phones(10), phones(5, 100), phones(2, 200)
        send_load(scene, batch, singles + long, long=tuple(long))
        rows = scene.wait_final(len(batch) + len(singles) + len(long))
        reported = scene.sms_reports()
        throttled = Counter(s["destination_addr"] for s in peer.events("submit_sm")
                            if s["command_status"] == THROTTLED)
        [detail] = scene.details(next(p for p in batch + singles if throttled[wire(p)]))

    assert sum(throttled.values()) >= 3, "the peer throttled every fifth submit_sm"
    # A throttled submit_sm was refused, not taken: each part reached the peer once.
    accepted = accepted_parts(peer)
    assert set(accepted.values()) == {1}
    assert sorted(accepted) == sorted((wire(p), 0) for p in batch + singles) + sorted(
        (wire(p), part) for p in long for part in (1, 2))
    assert {r["status"] for r in rows.values()} == {"delivered"}
    for phone in batch + singles:
        # A throttled message went back to the queue and was submitted again.
        assert rows[phone]["attempts"] == 1 + throttled[wire(phone)], phone
    for phone in long:
        # A throttled part of a long message is sent again by the connector itself: sending
        # the whole message again would repeat the parts the peer took.
        assert (rows[phone]["segments"], rows[phone]["attempts"]) == (2, 1)
    assert_charged_once(scene, rows)
    assert {phone: [r["success"] for r in got] for phone, got in reported.items()} == {
        phone: [True] for phone in rows}
    assert (detail.send_status, detail.err_code) == (3, "DELIVERED")


# stat and err in the receipt → the code Pigeon reports (carriers/smpp/text.py:
# receipt_outcome: a carrier code with letters in err is the code, a numeric err leaves stat).
FAILING = {"13700000001": ("UNDELIV", "MK:0005", "MK:0005"),
           "13700000002": ("REJECTD", "MI:0013", "MI:0013"),
           "13700000003": ("REJECTD", "045", "REJECTD")}


def test_a_failed_receipt_fails_its_message_with_the_carriers_code_and_refunds_it(tmp_path):
    switches = [arg for phone, (stat, err, _code) in FAILING.items()
                for arg in ("--fail", f"{wire(phone)}={stat}:{err}")]
    with NodeSmsc(*switches) as peer, pigeon_with(tmp_path, peer) as scene:
        balance = scene.local.db.read_sync(billing.balance, scene.tenant.account_id)
        everyone = phones(10)
        send_load(scene, everyone[:6], everyone[6:])
        rows = scene.wait_final(len(everyone))
        details = {phone: scene.details(phone) for phone in FAILING}
        reported = scene.sms_reports()
        charges = scene.charges()
        left = scene.local.db.read_sync(billing.balance, scene.tenant.account_id)

    assert set(accepted_parts(peer).values()) == {1}
    for phone, row in rows.items():
        if phone in FAILING:
            stat, err, code = FAILING[phone]
            assert (row["status"], row["err_code"], row["err_msg"], row["charged"]) == (
                "failed", code, f"stat:{stat} err:{err}", False)
            [shown] = details[phone]
            assert (shown.send_status, shown.err_code) == (2, code)
            [report] = reported[phone]
            assert (report["success"], report["err_code"]) == (False, code)
            kinds = [kind for kind, _amount in charges[row["id"]]]
            assert kinds == ["charge", "refund"]
            assert sum(amount for _kind, amount in charges[row["id"]]) == 0
        else:
            assert (row["status"], row["err_code"]) == ("delivered", "DELIVERED")
            assert charges[row["id"]] == [("charge", -PRICE)]
            assert [r["success"] for r in reported[phone]] == [True]
    assert left == balance - PRICE * (len(everyone) - len(FAILING))


def test_refused_binds_are_retried_until_one_succeeds_and_then_everything_goes(tmp_path):
    refusals = 3
    with NodeSmsc("--refuse-binds", str(refusals)) as peer, \
            pigeon_with(tmp_path, peer, enabled=False) as scene:
        everyone = phones(12)
        send_load(scene, everyone[:8], everyone[8:])
        # The connector is off: every message waits, no attempt spent.
        assert [(r["status"], r["attempts"]) for r in scene.rows()] == [("queued", 0)] * 12
        assert peer.events("bind") == []
        scene.local.db.write_sync(connectors.set_enabled, "peer", True)
        rows = scene.wait_final(len(everyone))

    binds = peer.events("bind")
    assert [b["command_status"] for b in binds[:refusals + 1]] == [BIND_FAILED] * refusals + [0]
    bound = {b["session"] for b in binds if b["command_status"] == 0}
    submits = peer.events("submit_sm")
    assert {s["session"] for s in submits} <= bound
    assert sorted(accepted_parts(peer).elements()) == sorted((wire(p), 0) for p in everyone)
    # Waiting for a bind cost no attempt: each message was submitted once.
    assert {(r["status"], r["attempts"]) for r in rows.values()} == {("delivered", 1)}
    assert_charged_once(scene, rows)


def test_a_dropped_link_loses_no_acknowledged_message(tmp_path):
    drop_after = 25
    with NodeSmsc("--drop-after", str(drop_after)) as peer, pigeon_with(tmp_path, peer) as scene:
        everyone = phones(50)
        send_load(scene, everyone[:40], everyone[40:])
        rows = scene.wait_final(len(everyone))
        reported = scene.sms_reports()

    [drop] = peer.events("drop")
    submits = peer.events("submit_sm")
    [dropping] = [s for s in submits if s["command_status"] is None]
    assert dropping["session"] == drop["session"]
    assert len([b for b in peer.events("bind") if b["command_status"] == 0]) >= 2

    assert {r["status"] for r in rows.values()} == {"delivered"}
    assert_charged_once(scene, rows)
    assert {phone: len(got) for phone, got in reported.items()} == dict.fromkeys(rows, 1)
    # At least once: every acknowledged message reached the peer …
    accepted = Counter(s["destination_addr"] for s in submits if s["id"])
    assert set(accepted) == {wire(p) for p in everyone}
    # … and only those in flight at the drop were submitted again: at most a window of them
    # (the unanswered one, those Pigeon had written that the peer never read, and any whose
    # answer the reset swallowed).  The peer took twice only what it had taken on the dropped
    # link, and only for messages Pigeon retried.
    retried = {wire(phone) for phone, row in rows.items() if row["attempts"] > 1}
    assert dropping["destination_addr"] in retried
    assert len(retried) <= WINDOW
    assert all(rows[phone]["attempts"] == 2 for phone in everyone if wire(phone) in retried)
    on_dropped_link = {s["destination_addr"] for s in submits
                       if s["session"] == drop["session"] and s["id"]}
    twice = {destination for destination, count in accepted.items() if count > 1}
    assert twice <= retried & on_dropped_link
    assert max(accepted.values()) <= 2
