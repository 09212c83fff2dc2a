"""``/metrics``, ``/healthz`` and ``/readyz``: what monitoring and load balancers ask.

* ``GET /healthz`` — the process answers: 200 ``{"status": "ok"}``, nothing else checked
  (an orchestrator's liveness probe restarts a process that stops answering it).
* ``GET /readyz`` — 200 when this process can do its job, 503 with what is wrong otherwise:
  the database answers and is migrated to this code's schema, workers run (this process's
  own, or some node's for an API process without workers), every enabled connector is up
  (:func:`pigeon.services.health.readiness`).
* ``GET /metrics`` — the Prometheus exposition (:mod:`pigeon.metrics`, plus the cluster-wide
  gauges read from the database now).  On the API port only with
  ``Authorization: Bearer <PIGEON_METRICS_TOKEN>`` (404 without the setting, 401 with a wrong
  token); ``PIGEON_METRICS_ADDRESS`` serves it without a token on an address of its own
  (:func:`start_listener`), for a private interface — and for ``pigeon worker`` nodes,
  which have no API port.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import anyio.to_thread
from prometheus_client.core import GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import Response

from pigeon import metrics
from pigeon.services import health
from pigeon.store import faults, migrate

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)

# The classic text format, which every Prometheus reads (what generate_latest writes).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
READY_TIMEOUT = 5.0
"""How long ``/readyz`` waits for the database before it says the database is unreachable."""


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


class DatabaseGauges:
    """A collector of the cluster-wide gauges, read from the database at each scrape."""

    def __init__(self, pigeon: Pigeon) -> None:
        self.pigeon = pigeon

    def describe(self):
        return []

    def collect(self):
        now = self.pigeon.now()
        try:
            backlog, gauges = self.pigeon.db.read_sync(_read_gauges, now)
        except Exception as error:  # the scrape still shows the process's own metrics
            if not faults.incidents.report(error):
                log.exception("metrics: reading the backlog and connectors failed")
            return
        count = GaugeMetricFamily("pigeon_backlog_messages", "Messages not final yet (queued, "
                                  "sending, sent: awaiting a receipt) and reports not pushed "
                                  "yet (report), cluster-wide.", labels=["state"])
        oldest = GaugeMetricFamily("pigeon_backlog_oldest_seconds", "Age of the oldest of "
                                   "them (since it was accepted or made), cluster-wide.",
                                   labels=["state"])
        for item in backlog:
            count.add_metric([item.state], item.count)
            oldest.add_metric([item.state], item.oldest_seconds)
        yield count
        yield oldest
        families = {
            "up": ("pigeon_connector_up", "1 if the enabled connector is up on some node."),
            "binds": ("pigeon_connector_binds", "Binds the connector's nodes run."),
            "binds_up": ("pigeon_connector_binds_up", "Of them, bound now."),
            "window_in_use": ("pigeon_connector_window_in_use",
                              "Submissions awaiting their answer (the SMPP window in use)."),
            "window_size": ("pigeon_connector_window_size",
                            "The window: outstanding submissions allowed over every bind."),
            "throughput": ("pigeon_connector_throughput",
                           "Parts accepted per second, as the connector measures it."),
        }
        made = {key: GaugeMetricFamily(name, text + " Cluster-wide.", labels=["connector"])
                for key, (name, text) in families.items()}
        for gauge in gauges:
            for key, family in made.items():
                family.add_metric([gauge.name], float(getattr(gauge, key)))
        yield from made.values()


def _read_gauges(conn, now):
    return health.backlog(conn, now), health.connector_gauges(conn, now)


class Operations:
    """The three routes of one app."""

    def __init__(self, pigeon: Pigeon) -> None:
        self.pigeon = pigeon
        self.gauges = DatabaseGauges(pigeon)
        self.schema = migrate.head()

    async def healthz(self, request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        pigeon = self.pigeon
        task = getattr(pigeon, "workers_task", None)
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                found = await pigeon.db.read(
                    health.readiness, pigeon.now(), schema=self.schema, node=pigeon.node,
                    offload=True)
        except Exception as error:
            reason = "timeout" if isinstance(error, TimeoutError) else type(error).__name__
            # A storage fault is logged once per incident; anything else only at debug level:
            # the answer says it, and a probe every few seconds must not flood the log.
            if not faults.incidents.report(error):
                log.debug("readyz: the database check failed: %s", reason, exc_info=True)
            return _json({"status": "not ready",
                          "checks": {"database": f"unreachable ({reason})"}}, 503)
        if task is not None and task.done():
            found.checks["workers"] = "this process's workers stopped"
        return _json(found.as_dict(), 200 if found.ready else 503)

    async def metrics(self, request: Request) -> Response:
        token = self.pigeon.settings.metrics_token
        if token is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), token.reveal().encode()):
            return Response("Unauthorized", status_code=401, media_type="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        body = await anyio.to_thread.run_sync(metrics.exposition, self.gauges)
        return Response(body, media_type=CONTENT_TYPE)


def start_listener(pigeon: Pigeon) -> Callable[[], None] | None:
    """Serve ``/metrics`` (and ``/healthz``) on ``PIGEON_METRICS_ADDRESS``, in a thread;
    the function that stops it, or None when the setting is off."""
    address = pigeon.settings.metrics_address
    if address is None:
        return None
    gauges = DatabaseGauges(pigeon)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, kind, status = metrics.exposition(gauges), CONTENT_TYPE, 200
            elif path == "/healthz":
                body, kind, status = b'{"status": "ok"}', "application/json", 200
            else:
                body, kind, status = b"Not Found", "text/plain", 404
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # a scrape is not an event worth a line
            return

    server = ThreadingHTTPServer(address, Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="pigeon-metrics-listener",
                              daemon=True)
    thread.start()
    log.info("metrics: serving /metrics on %s:%s", *server.server_address[:2])

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
