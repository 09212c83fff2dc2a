"""``/metrics`` of ``pigeon serve --workers 2``: whichever process a scrape reaches, it shows
what every process counted — the API processes' requests and the parent's dispatches — and
so does the separate listener of ``PIGEON_METRICS_ADDRESS``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client import multiprocess

from tests.api.test_delivery import send
from tests.conftest import make_tenant
from tests.support.nodes import free_port, sqlite_processes
from tests.support.scrape import TOKEN, parse, scrape, total, value
from tests.support.sdk import CoreClient, tea_client
from tests.support.sending import ready_to_send
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

BATCH = 20
MAX_REQUESTS = 400


def test_a_scrape_sums_every_process_of_pigeon_serve(tmp_path):
    listener = free_port()
    deployment = sqlite_processes(tmp_path, processes=2, PIGEON_METRICS_TOKEN=TOKEN,
                                  PIGEON_METRICS_ADDRESS=f"127.0.0.1:{listener}",
                                  PIGEON_LOG_LEVEL="info").start()
    try:
        [endpoint] = deployment.endpoints
        url = f"http://{endpoint}"
        tenant = make_tenant(deployment.local)
        before = scrape(url)

        def query(_n: int) -> str:
            # A connection of its own each time: the kernel hands connections to the two
            # API processes as they are free.
            return CoreClient(endpoint, tenant).common("QuerySmsSignList", {
                "PageIndex": "1", "PageSize": "10"})["Code"]

        def per_process() -> list[float]:
            files = list((tmp_path / "data" / "metrics").glob("counter_*.db"))
            return [value(_samples(f), "pigeon_api_requests_total", action="QuerySmsSignList",
                          code="OK") for f in files]

        # On a busy machine one process may take many connections in a row: batches until
        # both have answered (each process counts in its own file).
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while sent < MAX_REQUESTS and len([n for n in per_process() if n]) < 2:
                assert set(pool.map(query, range(BATCH))) == {"OK"}
                sent += BATCH

        def counted(samples) -> float:
            return value(samples, "pigeon_api_requests_total", action="QuerySmsSignList",
                         code="OK") - value(before, "pigeon_api_requests_total",
                                            action="QuerySmsSignList", code="OK")

        # The process answering a scrape counts itself at once; the others within a second.
        wait_until(lambda: counted(scrape(url)) == sent, timeout=10,
                   what=f"the scrape to show all {sent} requests")
        answered = per_process()
        assert sum(answered) == sent
        assert len([n for n in answered if n]) == 2, answered  # both API processes served

        # A message sent through an API process is dispatched by the parent: its count is
        # in the parent's file, and the API process answering the scrape shows it.
        sender = ready_to_send(deployment.local, CoreClient(endpoint, tenant),
                               tenant.account_id)
        sent_before = total(scrape(url), "pigeon_messages_delivered_total")
        send(tea_client(endpoint, tenant), "13700137000", sender.sign, sender.notice,
             '{"order":"1"}')
        wait_until(lambda: total(scrape(url), "pigeon_messages_delivered_total")
                   == sent_before + 1, timeout=20, what="the delivery counted")

        # The separate listener serves the same sums without a token.
        plain = parse(httpx.get(f"http://127.0.0.1:{listener}/metrics", timeout=10).text)
        assert counted(plain) == sent
        assert total(plain, "pigeon_messages_delivered_total") == sent_before + 1
    finally:
        deployment.close()


def _samples(path) -> dict:
    """One process's file, as samples."""
    found = {}
    for family in multiprocess.MultiProcessCollector.merge([str(path)]):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found
