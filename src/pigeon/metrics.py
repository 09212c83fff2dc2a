"""Pigeon's Prometheus metrics: what is counted where, and how processes add up.

The functions below are what the rest of Pigeon calls (``metrics.api_request(...)``); the
metric objects are prometheus_client's own.  ``/metrics`` renders them
(:mod:`pigeon.api.operations`), with the cluster-wide gauges read from the database at the
scrape (the backlog, the connectors' live state: :mod:`pigeon.services.health`).

**Cost.**  A request counts itself once (a counter and a histogram), a message a few times
in its life.  Each value is a plain number under a lock in this process (:class:`_Value`): an
increment costs a fraction of a microsecond, and labelled children are looked up in a dict of
ours, not through ``labels()`` and its lock (bench/README.md has the measurements).

**Several processes.**  ``pigeon serve --workers N`` runs N API processes and the workers in
the parent; a scrape reaches one of them, and must show what all of them counted.  The parent
points ``PROMETHEUS_MULTIPROC_DIR`` at ``<data dir>/metrics`` (emptied at every start:
:func:`prepare_directory`) before the API processes start, so that every process keeps
prometheus_client's multiprocess file of its own (``counter_<pid>.db`` …).  What a process
counted is added to its file every :data:`FLUSH_SECONDS` and before it answers a scrape; the
scrape reads every file (prometheus_client's ``MultiProcessCollector``): counters and
histograms summed over the processes, dead ones included (a restarted API process does not
make a counter go back), gauges summed over the live ones.  So a scrape is exact for the
process that answers it and at most :data:`FLUSH_SECONDS` behind for the others.  One
process alone (``--workers 1``, ``pigeon worker``, the tests) keeps no files.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import threading
import time
import weakref
from bisect import bisect_left
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FLUSH_SECONDS = 1.0
DIRECTORY = "metrics"
"""Under the data directory: the multiprocess files of ``pigeon serve --workers N``."""

TEMPLATE_TYPES = {0: "otp", 1: "notification", 2: "promotional", 3: "international"}


class _Value:
    """One metric value in this process: increments add to a plain number under a lock;
    :meth:`flush` hands what accumulated to the process's multiprocess file (prometheus_client's
    mmap value, ~1.7 µs a write with its global lock) when there is one.  Gauges are set
    straight through."""

    _multiprocess = False

    def __init__(self, typ, metric_name, name, labelnames, labelvalues, help_text,
                 multiprocess_mode="", **_kwargs) -> None:
        self._params = (typ, metric_name, name, labelnames, labelvalues, help_text,
                        multiprocess_mode)
        self._lock = threading.Lock()
        self._pending = 0.0  # counted here, not in the shared file yet
        self._shared = None  # the mmap value, once there are files
        _ALL.add(self)

    def inc(self, amount: float) -> None:
        with self._lock:
            self._pending += amount

    def set(self, value: float, timestamp=None) -> None:
        with self._lock:
            shared = self._backing()
            if shared is None:
                self._pending = value
            else:
                self._pending = 0.0
                shared.set(value)

    def set_exemplar(self, exemplar) -> None:  # exemplars are not kept
        return

    def get(self) -> float:
        with self._lock:
            shared = self._shared
            return self._pending + (shared.get() if shared is not None else 0.0)

    def get_exemplar(self):
        return None

    def flush(self) -> None:
        """Add what was counted here to the shared file (nothing without one)."""
        if not self._pending or _mmap_class is None:
            return
        with self._lock:
            shared = self._backing()
            pending, self._pending = self._pending, 0.0
            shared.inc(pending)

    def _backing(self):
        if self._shared is None and _mmap_class is not None:
            self._shared = _mmap_class(*self._params[:6], multiprocess_mode=self._params[6])
        return self._shared


_ALL: weakref.WeakSet[_Value] = weakref.WeakSet()
_mmap_class = None  # prometheus_client's mmap value class, in multiprocess mode
_flusher: threading.Thread | None = None
_flush_lock = threading.Lock()

# Every metric below gets our value class (prometheus_client reads values.ValueClass when a
# metric or labelled child is made).
values.ValueClass = _Value
disable_created_metrics()  # the _created series double the output and nobody graphs them

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LAG = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

API_REQUESTS = Counter("pigeon_api_requests", "RPC API requests answered, by action and Code.",
                       ["action", "code"], registry=REGISTRY)
API_LATENCY = Histogram("pigeon_api_request_duration_seconds",
                        "Time to answer an RPC API request, by action.", ["action"],
                        buckets=_LATENCY, registry=REGISTRY)
BALANCE_REFUSALS = Counter("pigeon_balance_refusals",
                           "Sending requests refused for want of money "
                           "(isv.AMOUNT_NOT_ENOUGH), by action.", ["action"],
                           registry=REGISTRY)
ACCEPTED = Counter("pigeon_messages_accepted", "Messages accepted (committed), by template "
                   "type.", ["template_type"], registry=REGISTRY)
SENT = Counter("pigeon_messages_sent", "Messages a carrier (or the simulator) accepted, by "
               "connector and template type.", ["connector", "template_type"],
               registry=REGISTRY)
DELIVERED = Counter("pigeon_messages_delivered", "Messages delivered (final receipt), by "
                    "connector and template type.", ["connector", "template_type"],
                    registry=REGISTRY)
FAILED = Counter("pigeon_messages_failed", "Messages failed for good, by connector (none: "
                 "failed before any carrier took it) and template type.",
                 ["connector", "template_type"], registry=REGISTRY)
CONNECTOR_SUBMITS = Counter("pigeon_connector_submits", "Message parts a carrier connection "
                            "accepted (submit_sm_resp OK); rate() is the submit rate.",
                            ["connector"], registry=REGISTRY)
CONNECTOR_THROTTLES = Counter("pigeon_connector_throttles", "Submissions the carrier "
                              "throttled (ESME_RTHROTTLED, ESME_RMSGQFUL).", ["connector"],
                              registry=REGISTRY)
CONNECTOR_ERRORS = Counter("pigeon_connector_errors", "Carrier connection errors: bind "
                           "(connecting or binding failed, or a bind closed), submit (a part "
                           "refused), timeout (no answer to a part).", ["connector", "kind"],
                           registry=REGISTRY)
REPORT_PUSHES = Counter("pigeon_report_pushes", "HTTP pushes of reports to tenants' "
                        "endpoints, by report type and outcome (acknowledged, failed).",
                        ["type", "outcome"], registry=REGISTRY)
REPORT_LAG = Histogram("pigeon_report_delivery_lag_seconds", "From a report's making (a "
                       "message's final status) to its acknowledged push, by report type.",
                       ["type"], buckets=_LAG, registry=REGISTRY)
REPORTS_GIVEN_UP = Counter("pigeon_reports_failed", "Reports whose every push failed: kept "
                           "as failed, no more retries.", ["type"], registry=REGISTRY)
ALERTS_FIRED = Counter("pigeon_alerts_fired", "Alerts raised (a new incident, not a reopened "
                       "one), by kind and scope (tenant, platform).", ["kind", "scope"],
                       registry=REGISTRY)
WRITER_QUEUE = Gauge("pigeon_db_writer_queue", "Units of work the database writer took into "
                     "its last group commit plus those waiting behind it, summed over "
                     "processes.", registry=REGISTRY, multiprocess_mode="livesum")
WRITER_COMMIT = Histogram("pigeon_db_commit_seconds", "Time the database writer's COMMIT "
                          "took (one per group of units).", buckets=_LATENCY,
                          registry=REGISTRY)
WRITER_CONFLICTS = Counter("pigeon_db_group_conflicts", "Group commits undone whole at their "
                           "end because another node had spent what their units counted on "
                           "(their units ran again, under the account's lock).",
                           registry=REGISTRY)
WRITER_MERGED = Counter("pigeon_db_merged_units", "Units of work the database writer ran "
                        "merged with others of their group as one call (SendSms calls of one "
                        "tenant, template and signature; other requests' nonces).",
                        registry=REGISTRY)
STORAGE_FAULTS = Counter("pigeon_storage_faults", "Writes and requests that met a storage "
                         "fault (disk full, read-only, database unreachable).",
                         registry=REGISTRY)

# -- the calls --------------------------------------------------------------------------------
# The hot ones keep their labelled children in dicts of their own and add to the children's
# values directly: prometheus_client's labels() takes a lock and builds its key every time
# (~1.5 µs), inc() and observe() check their arguments and walk the buckets (~1 µs more).
# tests/test_metrics.py checks that what they add is what inc() and observe() would.

def _counter(child) -> _Value:
    return child._value


class _Observer:
    """A histogram child's values: ``observe`` without prometheus_client's checks, the bucket
    found by bisection."""

    __slots__ = ("sum", "buckets", "bounds")

    def __init__(self, child) -> None:
        self.sum = child._sum
        self.buckets = child._buckets
        self.bounds = child._upper_bounds

    def observe(self, amount: float) -> None:
        self.sum.inc(amount)
        self.buckets[bisect_left(self.bounds, amount)].inc(1)


_api: dict[tuple[str, str], tuple[_Value, _Observer]] = {}


def api_request(action: str, code: str, seconds: float) -> None:
    """One RPC request answered: ``action`` (a known name, else "other"), its ``Code``."""
    children = _api.get((action, code))
    if children is None:
        children = _api[(action, code)] = (_counter(API_REQUESTS.labels(action, code)),
                                           _Observer(API_LATENCY.labels(action)))
        if code == "isv.AMOUNT_NOT_ENOUGH":
            BALANCE_REFUSALS.labels(action)  # shown at 0 until the first
    children[0].inc(1)
    children[1].observe(seconds)
    if code == "isv.AMOUNT_NOT_ENOUGH":
        BALANCE_REFUSALS.labels(action).inc()


def _type(template_type: int | None) -> str:
    return TEMPLATE_TYPES.get(template_type, "unknown")


_accepted: dict[int, _Value] = {}


def accepted(template_type: int, count: int) -> None:
    value = _accepted.get(template_type)
    if value is None:
        value = _accepted[template_type] = _counter(ACCEPTED.labels(_type(template_type)))
    value.inc(count)


def accepted_rows(template_type: int, rows: list[dict]) -> None:
    """A send call's messages, committed: every row accepted; those already failed (a
    per-number limit in a batch) failed too, before any connector."""
    accepted(template_type, len(rows))
    refused = sum(1 for row in rows if row["status"] == "failed")
    if refused:
        FAILED.labels("none", _type(template_type)).inc(refused)


def _by(counter: Counter, pairs) -> None:
    tally: dict[tuple[str, str], int] = {}
    for connector, template_type in pairs:
        key = (connector or "none", _type(template_type))
        tally[key] = tally.get(key, 0) + 1
    for key, count in tally.items():
        counter.labels(*key).inc(count)


def sent(pairs) -> None:
    """Messages submitted: (connector, template type) of each."""
    _by(SENT, pairs)


def finished(rows) -> None:
    """Messages that reached a final status: rows with ``status``, ``connector`` and
    ``template_type``."""
    _by(DELIVERED, ((r["connector"], r["template_type"]) for r in rows
                    if r["status"] == "delivered"))
    _by(FAILED, ((r["connector"], r["template_type"]) for r in rows
                 if r["status"] != "delivered"))


_answers: dict[tuple[str, str], _Value] = {}


def connector_answer(connector: str, outcome: str) -> None:
    """One part's answer from a carrier: ``ok``, ``throttled``, ``refused`` or ``timeout``
    (on every part an SMSC answers: the child is looked up in a dict of ours)."""
    value = _answers.get((connector, outcome))
    if value is None:
        if outcome == "ok":
            child = CONNECTOR_SUBMITS.labels(connector)
        elif outcome == "throttled":
            child = CONNECTOR_THROTTLES.labels(connector)
        else:
            child = CONNECTOR_ERRORS.labels(connector, "timeout" if outcome == "timeout"
                                            else "submit")
        value = _answers[(connector, outcome)] = _counter(child)
    value.inc(1)


def connector_bind_error(connector: str) -> None:
    CONNECTOR_ERRORS.labels(connector, "bind").inc()


def report_push(report_type: str, ok: bool, lags: list[float] = ()) -> None:
    REPORT_PUSHES.labels(report_type, "acknowledged" if ok else "failed").inc()
    if lags:
        histogram = REPORT_LAG.labels(report_type)
        for lag in lags:
            histogram.observe(max(lag, 0.0))


def reports_given_up(report_type: str, count: int) -> None:
    if count:
        REPORTS_GIVEN_UP.labels(report_type).inc(count)


def alert_fired(kind: str, scope: str) -> None:
    ALERTS_FIRED.labels(kind, scope).inc()


def writer_group(units: int, waiting: int) -> None:
    WRITER_QUEUE.set(units + waiting)


def writer_commit(seconds: float) -> None:
    WRITER_COMMIT.observe(seconds)


def writer_conflict() -> None:
    WRITER_CONFLICTS.inc()


def writer_merged(units: int) -> None:
    WRITER_MERGED.inc(units)


def storage_fault() -> None:
    STORAGE_FAULTS.inc()


# -- several processes ------------------------------------------------------------------------

def prepare_directory(data_dir: Path) -> Path:
    """The parent of ``pigeon serve --workers N``, before its API processes start: an empty
    ``<data dir>/metrics`` named by ``PROMETHEUS_MULTIPROC_DIR`` (they inherit it), and this
    process's own values kept there from now on."""
    path = Path(data_dir) / DIRECTORY
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
    _start_files()
    return path


def _start_files() -> None:
    global _mmap_class, _flusher
    if _mmap_class is None:
        _mmap_class = values.MultiProcessValue()
    if _flusher is None:
        _flusher = threading.Thread(target=_flush_forever, name="pigeon-metrics",
                                    daemon=True)
        _flusher.start()
        atexit.register(flush)


def multiprocess_directory() -> str | None:
    """The shared directory when this process is one of several, else None."""
    return os.environ.get(MULTIPROC_ENV) if _mmap_class is not None else None


def flush() -> None:
    """Add everything counted in this process to its file (a no-op without files)."""
    if _mmap_class is None:
        return
    with _flush_lock:
        for value in list(_ALL):
            value.flush()


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        try:
            flush()
        except Exception:  # a full disk: the counts stay here and go at the next flush
            pass


def _drop_dead_processes(path: str) -> None:
    """Forget the live gauges of processes that are gone (an API process restarted): they
    would be summed forever otherwise.  Their counters stay (counters never go back)."""
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        try:
            pid = int(Path(name).stem.rsplit("_", 1)[1])
        except ValueError:
            continue
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exposition(*extra) -> bytes:
    """The text of ``/metrics``: this process's metrics, or every process's in multiprocess
    mode, and the ``extra`` collectors (the database's gauges)."""
    path = multiprocess_directory()
    if path is None:
        registry = REGISTRY
        for collector in extra:
            registry = _with(registry, collector)
        return generate_latest(registry)
    flush()
    _drop_dead_processes(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


def _with(registry: CollectorRegistry, collector) -> CollectorRegistry:
    """A registry of ``registry``'s metrics and ``collector``'s (without registering the
    collector for good)."""
    combined = CollectorRegistry()
    combined.register(_Both(registry, collector))
    return combined


class _Both:
    def __init__(self, registry, collector) -> None:
        self.registry = registry
        self.collector = collector

    def collect(self):
        yield from self.registry.collect()
        yield from self.collector.collect()


if os.environ.get(MULTIPROC_ENV):  # an API process of `pigeon serve --workers N`
    _start_files()
