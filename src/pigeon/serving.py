"""Running ``pigeon serve`` on every core of a machine: N API processes and one set of workers.

One Python process uses one core.  ``pigeon serve --workers N`` (N > 1) runs:

* a parent process that binds the port, applies the migrations, and runs the background
  workers (dispatcher, report pusher, reviewer, …) as one node of the cluster, in a thread of
  its own — they wake at once on what the API processes accept
  (:meth:`pigeon.store.database.Database.watch_others`);
* N API processes sharing the port (uvicorn's :class:`~uvicorn.supervisors.Multiprocess`
  supervisor: it restarts one that dies), each with ``PIGEON_WORKERS=off``.

Every guarantee that holds for one process holds across them, because it lives in the
database: nonces, limits, caps and balances under the account's lock, claims and leases.  An
API process dies with the parent (``PR_SET_PDEATHSIG``), so a parent killed outright never
leaves them holding the port.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import signal
import sys
import threading
import time

import uvicorn
from uvicorn.supervisors import Multiprocess

from pigeon import http_protocol, logs, metrics, workers
from pigeon.app import Pigeon, create_app
from pigeon.config import Settings
from pigeon.store import faults

log = logging.getLogger(__name__)

LOG_FORMAT = logs.TEXT_FORMAT
_PR_SET_PDEATHSIG = 1
BIND_PATIENCE = 10.0
_PARENT = "PIGEON_SERVE_PARENT"  # the parent's pid, for an API process to check it still has it

# How many container objects a process may allocate (net) before CPython's cyclic garbage
# collector looks at the youngest generation: 700 by default.  A SendSms request keeps a few
# hundred alive while in flight, so with 32 in flight the default collected every couple of
# requests and a full collection of the ~130,000 objects start-up left every ~1,000: about
# 100 µs of CPU a request (bench/README.md, "The garbage collector").  Raised, a collection
# looks at ≤ 10,000 young objects, about a millisecond.
GC_YOUNG_THRESHOLD = 10_000


def settle_gc() -> None:
    """Once a process has started (imports done, app built): move what start-up allocated out
    of the garbage collector's sight (``gc.freeze``: it lives as long as the process, and a
    full collection no longer walks it) and collect the young generation less often
    (:data:`GC_YOUNG_THRESHOLD`).  Garbage in reference cycles is still collected, in fewer,
    larger passes.  For the processes of ``pigeon serve`` and ``pigeon worker`` only: the
    process's own decision, not the library's."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def server_options(settings: Settings) -> dict:
    """What every ``pigeon serve`` process gives uvicorn (besides its limits:
    :func:`server_config`)."""
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from any local peer as
    # the client; Pigeon reads it itself, from PIGEON_TRUSTED_PROXIES only.
    # log_config=None: uvicorn leaves the handlers to Pigeon's (pigeon.logs: text or JSON).
    return {"log_level": settings.log_level, "access_log": False, "proxy_headers": False,
            "log_config": None}


def server_config(app, settings: Settings, **options) -> uvicorn.Config:
    """uvicorn's configuration of a ``pigeon serve`` process: the options above, and the
    connection limits of :mod:`pigeon.http_protocol` (request line, headers, their time,
    keep-alive, connections)."""
    return http_protocol.server_config(app, settings, **(server_options(settings) | options))


def quiet_storage_faults() -> None:
    """Log a storage incident once, not a traceback per failed attempt
    (:class:`pigeon.store.faults.QuietFaults`); after logging is configured."""
    faults.install_log_filter()
    faults.install_log_filter(logging.getLogger("uvicorn"))


def process_count(settings: Settings, workers: int | None) -> int:
    """``--workers``, else ``PIGEON_SERVE_WORKERS``, else one per CPU core."""
    return workers or settings.serve_workers or os.cpu_count() or 1


def serve_many(settings: Settings, pigeon: Pigeon, host: str, port: int, count: int,
               on_ready=None) -> None:
    """Run ``count`` API processes on ``host:port``, and the workers here (unless
    ``PIGEON_WORKERS=off``), until a signal stops them.  ``on_ready()``, called once the
    metrics are shared, may return a function to call at the end (the metrics listener's
    stop)."""
    background = _Workers(pigeon) if settings.workers == "on" else None
    os.environ["PIGEON_WORKERS"] = "off"  # the API processes' (they inherit the environment)
    # Every process keeps its metrics in a file there; a scrape of any one sums them all.
    metrics.prepare_directory(settings.data_dir)
    stop = on_ready() if on_ready is not None else None
    os.environ[_PARENT] = str(os.getpid())
    config = server_config("pigeon.serving:api_process", settings, factory=True, host=host,
                           port=port, workers=count)
    sock = _bind(config)
    if background is not None:
        pigeon.watch_others = True  # the API processes accept; this one dispatches
        background.start()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if background is not None:
            background.stop()
        if stop is not None:
            stop()
        sock.close()


def _bind(config: uvicorn.Config, patience: float = BIND_PATIENCE):
    """The listening socket; while the port is still held (the API processes of a server
    that was just killed take a moment to go), try again for up to ``patience`` seconds."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return config.bind_socket()
        except SystemExit:  # uvicorn logs the error and exits on EADDRINUSE
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def api_process():
    """The app of one API process (uvicorn's factory, in the child)."""
    _die_with_parent()
    settings = Settings.from_env()
    logs.configure(settings)
    quiet_storage_faults()
    app = create_app(Pigeon(settings), workers=False, close=True)
    settle_gc()
    return app


def _die_with_parent() -> None:
    """Ask Linux to stop this process when the parent dies, however it dies."""
    parent = int(os.environ.pop(_PARENT, "0")) or os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        # SIGKILL: the parent is gone (killed, crashed), so is the server; a process that
        # lingered over its requests would hold the port its restart needs.
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the parent's SIGTERM still stops us
        return
    if os.getppid() != parent:  # it died before the request took effect (we are adopted)
        sys.exit(0)


class _Workers:
    """The background workers in a thread of the parent, on an event loop of their own."""

    def __init__(self, pigeon: Pigeon) -> None:
        self.pigeon = pigeon
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pigeon-workers", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            import uvloop
            run = uvloop.run
        except ImportError:  # uvicorn[standard] brings it; asyncio's loop does the same work
            run = asyncio.run
        try:
            run(self._main())
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.pigeon.db.attach()
        self._task = asyncio.create_task(workers.run(self.pigeon))
        self._ready.set()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("the background workers stopped")
        finally:
            self.pigeon.db.detach()
