"""Every guarantee of one process holds across processes, nodes and restarts.

Two deployments, as operators run them, with real processes driven by the official SDK:

* ``postgresql``: two API nodes (``pigeon serve`` with ``PIGEON_WORKERS=off``) and a worker
  node (``pigeon worker``) on one PostgreSQL database, each with a data directory of its own;
* ``sqlite``: one ``pigeon serve --workers 2`` on the embedded SQLite database (two API
  processes sharing the port, the workers in the parent).

Requests are spread over every API endpoint (on SQLite the kernel spreads them over the
processes).  Each test works for a tenant of its own, so the deployment is shared by the
module; the tests that kill processes make deployments of their own.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from sqlalchemy import func, select

from pigeon.services import accounts, billing, connectors, leases, nodes, routes, sending_settings
from pigeon.services.console_users import MAX_FAILURES_PER_PAIR
from pigeon.store.tables import handset_messages, ledger, messages
from tests.conftest import make_tenant
from tests.console.test_http import add_user, sign_in
from tests.support import signer
from tests.support.nodes import Deployment, Node, postgres_cluster, sqlite_processes
from tests.support.sdk import CoreClient, Tenant, tea_client
from tests.support.sending import Sender, ready_to_send
from tests.support.smsc_thread import BackgroundSmsc
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

FINAL = ("delivered", "failed")
# Generous: many requests queue behind one another on a loaded two-core machine.
RT = RuntimeOptions(read_timeout=30_000, connect_timeout=5_000)
_phones = itertools.count(13800138100)


def make(kind: str, tmp, postgres, **options) -> Deployment:
    if kind == "sqlite":
        return sqlite_processes(tmp, **options).start()
    if postgres is None:
        pytest.fail("the cluster tests need PostgreSQL (see tests/support/postgres.py)")
    return postgres_cluster(tmp, postgres.fresh_database(), **options).start()


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def deployment(request, tmp_path_factory, postgres):
    made = make(request.param, tmp_path_factory.mktemp(request.param), postgres)
    yield made
    made.close()


def tenant_of(deployment: Deployment, *, balance_cny: int = 100) -> tuple[Tenant, Sender]:
    """A new tenant with approved signatures and templates, set up through the first node."""
    local = deployment.local
    tenant = make_tenant(local)
    sender = ready_to_send(local, CoreClient(deployment.endpoints[0], tenant),
                           tenant.account_id, balance_cny=balance_cny,
                           admin_phone=str(next(_phones)))
    return tenant, sender


def send_everywhere(deployment: Deployment, tenant: Tenant, requests: list, *,
                    threads: int = 16) -> list:
    """Send ``requests`` (SendSmsRequest) at once from ``threads`` threads, spread over every
    API endpoint; the answers' bodies in order."""
    clients = [tea_client(endpoint, tenant) for endpoint in deployment.endpoints]

    def send(numbered):
        number, request = numbered
        return clients[number % len(clients)].send_sms_with_options(request, RT).body

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(send, enumerate(requests)))


def codes(answers) -> Counter:
    return Counter(answer.code for answer in answers)


def post_signed(endpoint: str, params: dict) -> dict:
    with httpx.Client(base_url=f"http://{endpoint}", timeout=30) as http:
        return http.post("/", content=signer.form(params),
                         headers={"content-type": "application/x-www-form-urlencoded"}).json()


def message_count(deployment: Deployment, account_id: int) -> int:
    return deployment.local.db.read_sync(lambda conn: conn.scalar(
        select(func.count()).select_from(messages).where(messages.c.account_id == account_id,
                                                         messages.c.status != "failed")))


def accepted_times(deployment: Deployment, account_id: int) -> list:
    """When each of the account's messages was accepted."""
    return deployment.local.db.read_sync(lambda conn: list(conn.scalars(
        select(messages.c.created_at).where(messages.c.account_id == account_id,
                                            messages.c.status != "failed"))))


# -- nonces ----------------------------------------------------------------------------------

def test_a_signed_request_is_accepted_once_wherever_and_whenever_it_is_replayed(deployment):
    tenant, sender = tenant_of(deployment)
    # Signed as the official SDK signs (its own signing function), then sent byte for byte.
    params = signer.v1_params(tenant, "SendSms", {
        "PhoneNumbers": "13900139000", "SignName": sender.sign,
        "TemplateCode": sender.notice, "TemplateParam": '{"order":"1001"}'})
    first = post_signed(deployment.endpoints[0], params)
    assert first["Code"] == "OK", first

    for endpoint in deployment.endpoints * 5:  # every node (every process on SQLite)
        assert post_signed(endpoint, params)["Code"] == "SignatureNonceUsed"
    for node in deployment.api:
        node.stop()
        node.start().wait_ready(deployment.local)
    for endpoint in deployment.endpoints:
        assert post_signed(endpoint, params)["Code"] == "SignatureNonceUsed"
    assert message_count(deployment, tenant.account_id) == 1


def test_forty_parallel_sign_in_guesses_across_nodes_get_exactly_five_checks(deployment):
    tenant, _sender = tenant_of(deployment)
    email = f"owner-{tenant.account_id}@lark.example"
    add_user(deployment.local, tenant.account_id, email)
    urls = [f"http://{endpoint}" for endpoint in deployment.endpoints]

    def guess(n):  # every node (every process on SQLite), all from one address
        with httpx.Client(base_url=urls[n % len(urls)], timeout=30) as browser:
            return sign_in(browser, email, f"wrong password {n}").status_code

    with ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(guess, range(40)))
    assert statuses.count(401) == MAX_FAILURES_PER_PAIR, statuses
    assert statuses.count(429) == 40 - MAX_FAILURES_PER_PAIR, statuses
    for url in urls:  # cooling down everywhere, even with the right password
        with httpx.Client(base_url=url, timeout=30) as browser:
            assert sign_in(browser, email).status_code == 429


def test_a_disabled_key_is_refused_by_every_node_within_seconds(deployment):
    tenant, _sender = tenant_of(deployment)
    clients = [tea_client(endpoint, tenant) for endpoint in deployment.endpoints]
    for client in clients:  # every node has the key cached now
        assert client.query_sms_sign_list(models.QuerySmsSignListRequest()).body.code == "OK"
    deployment.local.db.write_sync(accounts.set_access_key_status, tenant.key_id, "Inactive")

    def refused(client) -> bool:
        try:
            client.query_sms_sign_list(models.QuerySmsSignListRequest())
        except Exception as error:
            return "InvalidAccessKeyId.Inactive" in str(error)
        return False

    # Keys are cached for 2 s (pigeon.app.KEY_CACHE_SECONDS); the deadline is the suite's.
    for client in clients * 3:  # on SQLite, three tries meet both API processes' caches
        wait_until(lambda client=client: refused(client), what="the key refused")


# -- limits and caps -------------------------------------------------------------------------

MERGED = "pigeon_db_merged_units_total"


def test_200_parallel_codes_to_one_number_are_one_accepted(deployment):
    tenant, sender = tenant_of(deployment)
    merged = deployment.counter(MERGED)
    answers = send_everywhere(deployment, tenant, [models.SendSmsRequest(
        phone_numbers="13900139001", sign_name=sender.sign, template_code=sender.otp,
        template_param=f'{{"code":"{100000 + n}"}}') for n in range(200)])
    # One code a clock minute (spec: the minute is the clock's, 14:03:00–14:03:59): a run that
    # straddles a minute's end may rightly get one code in each of the two minutes.
    accepted = accepted_times(deployment, tenant.account_id)
    minutes = [moment.replace(second=0, microsecond=0) for moment in accepted]
    assert len(set(minutes)) == len(minutes) and len(minutes) in (1, 2)
    assert codes(answers) == {"OK": len(minutes), "isv.BUSINESS_LIMIT_CONTROL": 200 - len(minutes)}
    # Calls queued together in a node's writer were decided as one (sending._record_all):
    # the count held across them too.
    assert deployment.counter(MERGED) > merged


def test_a_number_gets_exactly_its_daily_limit_under_concurrency(deployment):
    tenant, sender = tenant_of(deployment)
    deployment.local.db.write_sync(sending_settings.set_limits, tenant.account_id,
                                   other_per_day=3)
    answers = send_everywhere(deployment, tenant, [models.SendSmsRequest(
        phone_numbers="13900139002", sign_name=sender.sign, template_code=sender.notice,
        template_param=f'{{"order":"{n}"}}') for n in range(60)])
    assert codes(answers) == {"OK": 3, "isv.BUSINESS_LIMIT_CONTROL": 57}
    assert message_count(deployment, tenant.account_id) == 3


def test_the_account_day_cap_is_never_passed_under_concurrency(deployment):
    tenant, sender = tenant_of(deployment)
    deployment.local.db.write_sync(sending_settings.set_limits, tenant.account_id, day_limit=7)
    answers = send_everywhere(deployment, tenant, [models.SendSmsRequest(
        phone_numbers=str(13700000000 + n), sign_name=sender.sign,
        template_code=sender.notice, template_param=f'{{"order":"{n}"}}') for n in range(60)])
    assert codes(answers)["OK"] == 7
    assert message_count(deployment, tenant.account_id) == 7


# -- money -----------------------------------------------------------------------------------

def test_a_balance_for_k_messages_pays_for_exactly_k_and_never_goes_negative(deployment):
    k = 15
    tenant, sender = tenant_of(deployment, balance_cny=0)
    local = deployment.local
    price = 45  # milli-CNY per segment: the default notification price
    local.db.write_sync(billing.topup, tenant.account_id, k * price, local.now(), "exactly k")
    merged = deployment.counter(MERGED)
    answers = send_everywhere(deployment, tenant, [models.SendSmsRequest(
        phone_numbers=str(13600000000 + n), sign_name=sender.sign,
        template_code=sender.notice, template_param=f'{{"order":"{n}"}}')
        for n in range(4 * k)])
    assert codes(answers) == {"OK": k, "isv.AMOUNT_NOT_ENOUGH": 3 * k}
    assert local.db.read_sync(billing.balance, tenant.account_id) == 0
    assert message_count(deployment, tenant.account_id) == k
    assert deployment.counter(MERGED) > merged  # decided merged, the money held


# -- nodes dying -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_killed_nodes_lose_no_acknowledged_message_and_deliver_none_twice(kind, tmp_path,
                                                                          postgres):
    deployment = make(kind, tmp_path, postgres)
    try:
        local = deployment.local
        tenant, sender = tenant_of(deployment, balance_cny=1000)
        acknowledged: list[str] = []
        lock = threading.Lock()
        counter = itertools.count()
        stop = threading.Event()
        endpoints = deployment.endpoints

        def load(first: int) -> None:
            clients = [tea_client(endpoint, tenant) for endpoint in endpoints]
            turn = first
            while not stop.is_set():
                for _ in endpoints:  # as a load balancer would: the next node if one is down
                    # A number of its own per attempt: an attempt that got no answer may still
                    # have been accepted (the node died after its commit), and sending the same
                    # message again would be the client's duplicate, not Pigeon's.
                    with lock:
                        n = next(counter)
                    request = models.SendSmsRequest(
                        phone_numbers=str(13500000000 + n), sign_name=sender.sign,
                        template_code=sender.notice, template_param=f'{{"order":"{n}"}}')
                    turn += 1
                    try:
                        answer = clients[turn % len(clients)].send_sms_with_options(
                            request, RuntimeOptions(read_timeout=10_000,
                                                    connect_timeout=1_000)).body
                    except Exception:
                        continue  # unanswered: not acknowledged, whatever became of it
                    assert answer.code == "OK", answer.message
                    with lock:
                        acknowledged.append(answer.biz_id)
                    break
                else:
                    time.sleep(0.05)  # every node down for now (SQLite: the one restarting)

        with ThreadPoolExecutor(6) as pool:
            loads = [pool.submit(load, first) for first in range(6)]
            wait_until(lambda: len(acknowledged) >= 150, timeout=120,
                       what="150 acknowledged messages before the kill")
            victims = [deployment.api[0], *deployment.workers]
            for node in victims:
                node.kill()
            mid = len(acknowledged)
            if len(endpoints) > 1:  # the surviving API node goes on accepting meanwhile
                wait_until(lambda: len(acknowledged) >= mid + 50, timeout=120,
                           what="50 more acknowledged messages through the surviving node")
            for node in victims:
                node.start()
            for node in victims:
                node.wait_ready(local)
            wait_until(lambda: len(acknowledged) >= mid + 100, timeout=120,
                       what="100 more acknowledged messages after the restart")
            stop.set()
            for done in loads:
                done.result(timeout=120)

        def unfinished() -> int:
            return local.db.read_sync(lambda conn: conn.scalar(
                select(func.count()).select_from(messages).where(
                    messages.c.account_id == tenant.account_id,
                    messages.c.status.not_in(FINAL))))

        wait_until(lambda: unfinished() == 0, timeout=120,
                   what="every message to reach a final status")
        rows = local.db.read_sync(lambda conn: conn.execute(
            select(messages.c.biz_id, messages.c.phone, messages.c.status)
            .where(messages.c.account_id == tenant.account_id)).all())
        stored = {row.biz_id for row in rows}
        assert set(acknowledged) <= stored  # every acknowledged BizId was kept
        assert {row.status for row in rows} == {"delivered"}
        inbox = Counter(local.db.read_sync(lambda conn: conn.scalars(
            select(handset_messages.c.phone).where(
                handset_messages.c.phone.in_([row.phone for row in rows]))).all()))
        assert set(inbox.values()) == {1}, "a handset got a message twice"
        assert len(inbox) == len(rows)
        spent = local.db.read_sync(lambda conn: conn.scalar(
            select(func.sum(ledger.c.amount)).where(ledger.c.account_id == tenant.account_id,
                                                    ledger.c.kind.in_(("charge", "refund")))))
        assert -spent == 45 * len(rows)  # one charge a message, nothing twice
        assert local.db.read_sync(billing.balance, tenant.account_id) == 1000_000 + spent
    finally:
        deployment.close()


# -- connectors ------------------------------------------------------------------------------

@contextlib.contextmanager
def smpp_cluster(tmp_path, postgres, **connector):
    """Two API nodes and two worker nodes on PostgreSQL with an SMPP connector to a test SMSC
    (``connector``: its settings) and a route of everything to it; a tenant ready to send.
    Yields (deployment, smsc, tenant, sender)."""
    if postgres is None:
        pytest.fail("the cluster tests need PostgreSQL (see tests/support/postgres.py)")
    deployment = postgres_cluster(tmp_path, postgres.fresh_database(), workers=2)
    try:
        with BackgroundSmsc() as smsc:
            local = deployment.local
            # Before the nodes start: each loads it at once (later, within two seconds).
            local.db.write_sync(connectors.add, local.box, "smsc", "smpp", local.now(),
                                host="127.0.0.1", port=smsc.port, system_id="pigeon",
                                password="secret", **connector)
            local.db.write_sync(routes.add, connector="smsc", now=local.now())
            deployment.start()
            tenant, sender = tenant_of(deployment)
            yield deployment, smsc, tenant, sender
    finally:
        deployment.close()


def send_batches(deployment: Deployment, tenant: Tenant, sender: Sender, first: int,
                 total: int) -> None:
    """``total`` messages in SendBatchSms requests of 100, to numbers from ``first`` on."""
    sdk = tea_client(deployment.endpoints[0], tenant)
    for start in range(first, first + total, 100):
        numbers = [str(start + n) for n in range(100)]
        answer = sdk.send_batch_sms_with_options(models.SendBatchSmsRequest(
            phone_number_json=json.dumps(numbers), sign_name_json=json.dumps([sender.sign] * 100),
            template_code=sender.notice,
            template_param_json=json.dumps([{"order": "1"}] * 100)), RT).body
        assert answer.code == "OK", answer.message


def test_a_connector_capped_at_100_per_second_is_held_by_one_node_at_a_time(tmp_path, postgres):
    with smpp_cluster(tmp_path, postgres, tps=100, binds=2) as (deployment, smsc, tenant, sender):
        local = deployment.local
        total = 400
        send_batches(deployment, tenant, sender, 13400000000, total)

        def statuses() -> dict:
            return local.db.read_sync(lambda conn: dict(conn.execute(
                select(messages.c.status, func.count()).group_by(messages.c.status)).all()))

        try:
            wait_until(lambda: len(smsc.smsc.submits) >= total, timeout=120,
                       what=f"{total} submit_sm at the SMSC")
        except AssertionError as waited:
            raise AssertionError(f"{waited}: got {len(smsc.smsc.submits)}, messages "
                                 f"{statuses()}") from None
        # One node holds the connector: two binds, not two per node.
        assert len({bind.session for bind in smsc.smsc.binds}) <= 2
        times = sorted(smsc.smsc.submitted_at)
        busiest = max(sum(1 for t in times[i:] if t < start + 1.0)
                      for i, start in enumerate(times))
        assert busiest <= 100, f"{busiest} submit_sm in one second"
        assert Counter(s.destination_addr for s in smsc.smsc.submits).most_common(1)[0][1] \
            == 1


def test_when_the_node_holding_a_connector_dies_another_takes_it_over(tmp_path, postgres):
    with smpp_cluster(tmp_path, postgres, tps=50) as (deployment, smsc, tenant, sender):
        local = deployment.local

        def holder() -> Node | None:
            owner = local.db.read_sync(leases.holders, local.now()).get("connector:smsc")
            names = {row["id"]: row["name"] for row in local.db.read_sync(nodes.live)}
            pid = names.get(owner, ":").rpartition(":")[2]
            return next((node for node in deployment.workers
                         if str(node.process.pid) == pid), None)

        first = wait_until(holder, what="a worker node to hold the connector's lease")
        total = 300
        send_batches(deployment, tenant, sender, 13300000000, total)
        wait_until(lambda: len(smsc.smsc.submits) >= 50, timeout=60,
                   what="the first submit_sm at the SMSC")
        first.kill()  # mid-way: some messages sent, some in flight, most waiting

        second = wait_until(lambda: (found := holder()) not in (None, first) and found,
                            timeout=60, what="the other worker to take the lease over")
        assert second in deployment.workers and second is not first

        def destinations() -> set[str]:
            return {submit.destination_addr for submit in smsc.smsc.submits}

        wait_until(lambda: len(destinations()) >= total, timeout=120,
                   what="every message at the SMSC")
        assert destinations() == {"86" + str(13300000000 + n) for n in range(total)}

        def finals() -> dict:
            return local.db.read_sync(lambda conn: dict(conn.execute(
                select(messages.c.status, func.count()).where(
                    messages.c.account_id == tenant.account_id)
                .group_by(messages.c.status)).all()))

        wait_until(lambda: finals() == {"delivered": total}, timeout=120,
                   what="every message delivered")
