"""Builds Pigeon: the database, the services' shared state, the ASGI app and its workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from pigeon import clock
from pigeon.api.guard import BodyLimits, Guard
from pigeon.api.mns import MnsEndpoint
from pigeon.api.operations import Operations
from pigeon.api.rpc.auth import Authenticator, DatabaseNonces, KeyRecord
from pigeon.api.rpc.endpoint import Direct, RpcEndpoint
from pigeon.api.short_links import ShortLinks
from pigeon.api.uploads import UploadEndpoint
from pigeon.config import Settings
from pigeon.console import create_console
from pigeon.core.schedule import Calendar, parse_window
from pigeon.services import connectors, ip_allow_list
from pigeon.services.review import ReviewPolicy
from pigeon.services.sending import SendPolicy
from pigeon.store import migrate
from pigeon.store.database import Database
from pigeon.store.secrets import SecretBox, load_or_create_key

log = logging.getLogger(__name__)

# How long an AccessKey lookup is cached.  Disabling a key takes effect within this time on
# every node; the cache spares a database round trip on every signed request.
KEY_CACHE_SECONDS = 2.0


class Pigeon:
    """What every part of a running Pigeon shares: settings, database, calendar, keys."""

    def __init__(self, settings: Settings, *, now: Callable[[], datetime] = clock.utcnow):
        self.settings = settings
        self.now = now
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = settings.effective_database_url
        migrate.upgrade(self.database_url)
        self.db = Database(self.database_url).start()
        self.box = SecretBox(load_or_create_key(settings))
        connectors.ensure_builtin(self.db, now())
        self.calendar = Calendar(zone=settings.timezone,
                                 review_hours=parse_window(settings.review_hours),
                                 extra_holidays=settings.extra_holidays)
        self.policy = ReviewPolicy(mode=settings.review_mode, delay=settings.review_delay,
                                   calendar=self.calendar,
                                   registration_delay=settings.registration_delay)
        self.send_policy = SendPolicy(zone=settings.timezone, quiet_hours=settings.quiet_hours,
                                      access_code=settings.access_code)
        self.authenticator = Authenticator(self.lookup_key, settings.signature_window,
                                           DatabaseNonces(self.db))
        self._keys: dict[str, tuple[float, KeyRecord | None]] = {}
        # This process's id as a node of the cluster (services/nodes.py), once its workers
        # run (workers.run); None in a process that runs none.
        self.node: int | None = None
        # Whether workers here watch for other processes' commits (Database.watch_others):
        # always on PostgreSQL (a LISTEN costs nothing while idle); on SQLite only where other
        # processes accept messages (`pigeon serve --workers N`): the watch polls.
        self.watch_others = not self.db.is_sqlite
        # The running dispatcher's wake-up (workers/dispatcher.py creates it on its loop); the
        # send path sets it so new messages are claimed at once instead of at the next poll.
        self.dispatcher_wake: asyncio.Event | None = None
        # The task running this process's workers, when it runs them (/readyz looks).
        self.workers_task: asyncio.Task | None = None

    async def lookup_key(self, key_id: str) -> KeyRecord | None:
        cached = self._keys.get(key_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        # The account's IP allow-list comes with the key: cached together, no query a request.
        found = await self.db.read(ip_allow_list.find_access_key, self.box, key_id)
        record = None if found is None else KeyRecord(
            access_key_id=found.key.id, account_id=found.key.account_id,
            secret=found.key.secret, enabled=found.key.enabled, allow_list=found.allow_list)
        if len(self._keys) > 100_000:
            self._keys.clear()
        self._keys[key_id] = (time.monotonic() + KEY_CACHE_SECONDS, record)
        return record

    def wake_dispatcher(self) -> None:
        """Tell this process's dispatcher that messages were queued (call on its event
        loop).  Other processes' dispatchers find them at their next poll."""
        if self.dispatcher_wake is not None:
            self.dispatcher_wake.set()

    def close(self) -> None:
        self.db.close()


def create_app(pigeon: Pigeon, *, workers: bool | None = None,
               close: bool = False) -> Starlette:
    """The ASGI app; its lifespan runs the background workers (by default as
    ``PIGEON_WORKERS`` says) and, with ``close``, closes ``pigeon`` at shutdown."""
    from pigeon import workers as background

    run_workers = pigeon.settings.workers == "on" if workers is None else workers

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        pigeon.db.attach()  # SQLite: this process's writes run on this loop
        task = asyncio.create_task(background.run(pigeon), name="workers") if run_workers \
            else None
        pigeon.workers_task = task
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            pigeon.db.detach()
            if close:
                pigeon.close()

    rpc = RpcEndpoint(pigeon)
    routes = [Route("/", rpc.handle, methods=["GET", "POST"])]
    routes.append(Route("/oss{tail:path}", UploadEndpoint(pigeon).handle, methods=["POST", "GET"]))
    routes.append(Route("/queues{tail:path}", MnsEndpoint(pigeon).handle,
                        methods=["GET", "PUT", "POST", "DELETE"]))
    routes.append(Route("/s/{code}", ShortLinks(pigeon).handle, methods=["GET"]))
    operations = Operations(pigeon)  # /metrics, /healthz, /readyz (docs/operations.md)
    routes.append(Route("/metrics", operations.metrics, methods=["GET"]))
    routes.append(Route("/healthz", operations.healthz, methods=["GET"]))
    routes.append(Route("/readyz", operations.readyz, methods=["GET"]))
    routes.extend(create_console(pigeon))  # /console (tenants) and /ops (operators)
    # Every request's body is bounded in size, time and memory before a route reads it.
    guard = Middleware(Guard, limits=BodyLimits.of(pigeon.settings))
    return Starlette(routes=routes, middleware=[guard, Middleware(Direct, endpoint=rpc)],
                     lifespan=lifespan)
