"""The dispatcher: moves accepted messages to the carriers.

One loop per process: claim a batch of queued messages (one transaction), submit each
connector's share, record the answers (one transaction per connector).  A connector that
answers from the database itself (the simulator's ``submit_in``) is submitted to and
recorded inside the claiming transaction
(:func:`pigeon.services.dispatch.claim_and_submit`).  The loop runs at once when the send
path calls :meth:`Pigeon.wake_dispatcher` and otherwise polls every :data:`POLL_SECONDS`, so
messages accepted by another process (another API node, a CLI) are picked up too.  A full
batch loops without waiting; a wake-up lingers :data:`LINGER_SECONDS` first, so that a
burst of accepts shares one pass.

It also owns the connectors (:class:`Fleet`): builds the enabled ones of the ``connectors``
table (:func:`pigeon.carriers.registry.create`), starts them with a sink that writes their
receipts and replies to the database, and every :data:`RELOAD_SECONDS` reloads the table and
the routing rules — starting connectors added or enabled, stopping those removed or disabled,
restarting those whose settings changed — and stops them all on the way out.  Every
:data:`~pigeon.services.connectors.STATE_SECONDS` it writes their live state for
``pigeon connector list``.

Rows a crashed dispatcher left ``sending`` are requeued at start-up and every
:data:`SWEEP_SECONDS` (see :mod:`pigeon.services.dispatch`); receipts kept because they
arrived before their message's carrier id was recorded are matched again every
:data:`EARLY_SECONDS` (see :func:`pigeon.services.delivery.apply_receipts`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from pigeon.carriers import registry
from pigeon.carriers.base import Connector, Inbound, Outbound, Receipt, Submitted
from pigeon.core.routing import Rule
from pigeon.services import connectors, delivery, dispatch, routes

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
SWEEP_SECONDS = 30.0
RELOAD_SECONDS = 2.0
"""How soon a connector or route added, changed or removed (on any node) takes effect."""
EARLY_SECONDS = 1.0
LINGER_SECONDS = 0.005
"""How long a pass waits after a wake-up for more accepts to gather (bench/README.md)."""
PURGE_SECONDS = 300.0


class DatabaseSink:
    """Where connectors hand receipts and replies: straight into the database."""

    def __init__(self, pigeon: Pigeon) -> None:
        self.pigeon = pigeon

    async def receipts(self, receipts: list[Receipt]) -> None:
        await self.pigeon.db.write(delivery.apply_receipts, receipts,
                                   self.pigeon.settings.timezone, self.pigeon.now())

    async def inbound(self, messages: list[Inbound]) -> None:
        await self.pigeon.db.write(delivery.accept_inbound_many, messages,
                                   self.pigeon.settings.timezone)


class Fleet:
    """The connectors this process runs, kept in step with the ``connectors`` table, and the
    routing rules, cached here so that routing a message costs no query."""

    def __init__(self, pigeon: Pigeon, sink: DatabaseSink) -> None:
        self.pigeon = pigeon
        self.sink = sink
        self.running: dict[str, tuple[tuple, Connector]] = {}
        self.rules: tuple[Rule, ...] = ()
        self.node = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    @property
    def connectors(self) -> dict[str, Connector]:
        return {name: connector for name, (_key, connector) in self.running.items()}

    def routing(self) -> dispatch.Routing:
        """This moment's routing: the cached rules and the connectors that are up."""
        up = frozenset(name for name, (_key, connector) in self.running.items()
                       if connector.up())
        return dispatch.Routing(self.rules, up)

    async def reload(self) -> None:
        """Bring the running connectors and the cached rules in line with the database."""
        specs = await self.pigeon.db.read(connectors.specs, self.pigeon.box)
        self.rules = tuple(await self.pigeon.db.read(routes.load))
        wanted = {spec.name: spec for spec in specs if spec.enabled}
        for name, (key, _connector) in list(self.running.items()):
            if name not in wanted or wanted[name].key != key:
                await self._stop(name)
        for name, spec in wanted.items():
            if name in self.running:
                continue
            try:
                connector = registry.create(self.pigeon, spec)
                await connector.start(self.sink)
            except Exception:
                log.exception("dispatcher: connector %s cannot start; its messages wait", name)
                continue
            self.running[name] = (spec.key, connector)
            log.info("dispatcher: connector %s (%s) started", name, spec.protocol)

    async def _stop(self, name: str) -> None:
        _key, connector = self.running.pop(name)
        try:
            await connector.stop()
        except Exception:
            log.exception("dispatcher: stopping connector %s failed", name)
        else:
            log.info("dispatcher: connector %s stopped", name)

    async def stop(self) -> None:
        for name in list(self.running):
            await self._stop(name)

    def states(self) -> dict[str, dict]:
        return {name: connector.state() for name, (_key, connector) in self.running.items()}


async def dispatcher(pigeon: Pigeon) -> None:
    fleet = Fleet(pigeon, DatabaseSink(pigeon))
    try:
        await _guarded("loading connectors", fleet.reload())
        # On SQLite this process is the database's only dispatcher (the embedded setup), so
        # whatever is left "sending" is a previous run's and goes back at once.  On PostgreSQL
        # other nodes may be mid-batch: only rows older than STALE_AFTER are theirs to lose.
        await _requeue(pigeon, timedelta(0) if pigeon.db.is_sqlite else dispatch.STALE_AFTER)
        now = time.monotonic()
        swept = reloaded = published = early = purged = now
        wake = pigeon.dispatcher_wake = asyncio.Event()
        while True:
            moved = 0
            try:
                moved = await dispatch_once(pigeon, fleet.connectors, fleet.routing())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher: pass failed; retrying")
                await asyncio.sleep(1)
            now = time.monotonic()
            if now - swept > SWEEP_SECONDS:
                swept = now
                await _requeue(pigeon, dispatch.STALE_AFTER)
            if now - reloaded > RELOAD_SECONDS:
                reloaded = now
                await _guarded("reloading connectors and routes", fleet.reload())
            if now - published > connectors.STATE_SECONDS:
                published = now
                await _guarded("publishing connector state", pigeon.db.write(
                    connectors.publish_states, fleet.node, fleet.states(), pigeon.now()))
            if now - early > EARLY_SECONDS:
                early = now
                purge = now - purged > PURGE_SECONDS
                if purge:
                    purged = now
                await _guarded("matching early receipts", _match_early(pigeon, purge))
            if moved < dispatch.BATCH:
                try:
                    await asyncio.wait_for(wake.wait(), POLL_SECONDS)
                except TimeoutError:
                    pass
                else:
                    # Woken by an accept: let the accepts right behind it queue up too, so
                    # that one claim and one record carry them all (at moderate load every
                    # accept would otherwise cost a pass of its own for one message).
                    await asyncio.sleep(LINGER_SECONDS)
                wake.clear()
    finally:
        pigeon.dispatcher_wake = None
        await fleet.stop()
        try:
            await pigeon.db.write(connectors.clear_states, fleet.node)
        except Exception:
            log.warning("dispatcher: could not clear its connector state rows")


async def _guarded(what: str, work) -> None:
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("dispatcher: %s failed; trying again later", what)


async def _match_early(pigeon: Pigeon, purge: bool) -> None:
    if purge or await pigeon.db.read(delivery.has_early):
        await pigeon.db.write(delivery.sweep_early, pigeon.settings.timezone, pigeon.now())


async def _requeue(pigeon: Pigeon, older_than: timedelta) -> None:
    try:
        count = await pigeon.db.write(dispatch.requeue_stale, pigeon.now(), older_than)
    except Exception:
        log.exception("dispatcher: requeueing stale claims failed")
        return
    if count:
        log.warning("dispatcher: %d message(s) left sending by a stopped dispatcher requeued",
                    count)


async def dispatch_once(pigeon: Pigeon, connectors: Mapping[str, Connector],
                        routing: dispatch.Routing = dispatch.EMBEDDED) -> int:
    """One pass: claim what ``routing`` can send, submit, record.  Returns how many messages
    were claimed."""
    if routing.claimable() is None:
        return 0  # nothing is up that any rule sends to: everything waits, untouched
    # Connectors that answer from the database (the simulator) submit inside the claiming
    # transaction: one write per pass for their messages instead of two and a read.
    inline = {name: connector.submit_in for name, connector in connectors.items()
              if getattr(connector, "submit_in", None) is not None}
    count, claimed = await pigeon.db.write(
        dispatch.claim_and_submit, dispatch.BATCH, pigeon.now(), pigeon.settings.access_code,
        routing, inline, pigeon.settings.timezone)
    if not claimed:
        return count
    by_connector: dict[str, list[Outbound]] = defaultdict(list)
    for name, message in claimed:
        by_connector[name].append(message)
    for name, batch in by_connector.items():
        started = pigeon.now()
        results = await _submit(connectors.get(name), name, batch)
        await pigeon.db.write(dispatch.record, name, results, pigeon.settings.timezone,
                              pigeon.now(), started)
    return count


async def _submit(connector: Connector | None, name: str,
                  batch: list[Outbound]) -> list[Submitted]:
    """The connector's answers; any failure of the connector itself means "try later"."""
    if connector is None:
        log.error("dispatcher: no connector named %r runs here; %d message(s) wait", name,
                  len(batch))
        return [Submitted(m.message_id, retry=True) for m in batch]
    try:
        results = await connector.submit(batch)
    except Exception:
        log.exception("dispatcher: connector %s failed to submit %d message(s)", name,
                      len(batch))
        return [Submitted(m.message_id, retry=True) for m in batch]
    if len(results) != len(batch):
        log.error("dispatcher: connector %s answered %d of %d message(s)", name,
                  len(results), len(batch))
        answered = {r.message_id for r in results}
        results = [*results, *(Submitted(m.message_id, retry=True) for m in batch
                               if m.message_id not in answered)]
    return results
