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
import time
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from pigeon import logs
from pigeon.carriers import registry
from pigeon.carriers.base import Connector, Inbound, Outbound, Receipt, Submitted
from pigeon.core.routing import Rule
from pigeon.services import connectors, delivery, dispatch, leases, routes
from pigeon.workers import node_name

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
SWEEP_SECONDS = 30.0
RELOAD_SECONDS = 2.0
"""How soon a connector or route added, changed or removed (on any node) takes effect, and
how often the leases of the connectors this node runs are renewed."""
FENCE_SHARE = 0.8
"""A connector whose lease was last renewed this share of leases.TTL ago is stopped: well
before another node may take the lease over."""
SHARED = frozenset({"simulator"})
"""Connector kinds whose network is the database itself: they run on every node."""
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
    routing rules, cached here so that routing a message costs no query.

    A connector whose network lives in the database (the simulator) runs on every node.  One
    that holds binds to a carrier runs on one node at a time, the holder of its lease
    (``connector:<name>``, :mod:`pigeon.services.leases`): its bind count and TPS cap are the
    carrier's, not each node's.  Every reload renews the leases held; a node that cannot
    renew one stops that connector before the lease runs out (:meth:`fence`), and another
    node takes it over once it has.  Routing sees the connectors up on other nodes too (from
    their published state), and a claim takes only the messages routed to a connector of this
    node (:class:`pigeon.services.dispatch.Routing`)."""

    def __init__(self, pigeon: Pigeon, sink: DatabaseSink) -> None:
        self.pigeon = pigeon
        self.sink = sink
        self.running: dict[str, tuple[tuple, Connector]] = {}
        self.rules: tuple[Rule, ...] = ()
        self.elsewhere: frozenset[str] = frozenset()  # up on other nodes
        # Leases held, by connector: until when (monotonic) this node may run it without
        # renewing.
        self._held: dict[str, float] = {}

    @property
    def node(self) -> str:
        """This node's name in ``connector_states`` (pigeon.services.nodes buries the rows
        of a dead node by its id)."""
        return f"{node_name()}#{self.pigeon.node}"

    @property
    def connectors(self) -> dict[str, Connector]:
        return {name: connector for name, (_key, connector) in self.running.items()}

    def routing(self) -> dispatch.Routing:
        """This moment's routing: the cached rules, the connectors that are up here and
        elsewhere, and which of them run here."""
        here = frozenset(self.running)
        up = frozenset(name for name, (_key, connector) in self.running.items()
                       if connector.up())
        return dispatch.Routing(self.rules, up | (self.elsewhere - here), here)

    async def reload(self) -> None:
        """Bring the running connectors, their leases and the cached rules in line with the
        database."""
        db = self.pigeon.db
        specs = await db.read(connectors.specs, self.pigeon.box)
        self.rules = tuple(await db.read(routes.load))
        wanted = {spec.name: spec for spec in specs if spec.enabled}
        leased = [name for name, spec in wanted.items() if spec.protocol not in SHARED]
        held = set(leased)
        if leased and self.pigeon.node is not None:
            renewed_at = time.monotonic()
            held = await db.write(leases.hold_each, [f"connector:{n}" for n in leased],
                                  self.pigeon.node, self.pigeon.now())
            held = {name.removeprefix("connector:") for name in held}
            for name in held:
                self._held[name] = renewed_at + leases.TTL.total_seconds() * FENCE_SHARE
        self.elsewhere = await db.read(connectors.up_elsewhere, self.node, self.pigeon.now())
        for name, (key, _connector) in list(self.running.items()):
            if name not in wanted or wanted[name].key != key or (
                    name in leased and name not in held):
                await self._stop(name)
        for name, spec in wanted.items():
            if name in self.running or (name in leased and name not in held):
                continue
            try:
                connector = registry.create(self.pigeon, spec)
                await connector.start(self.sink)
            except Exception:
                log.exception("dispatcher: connector %s cannot start; its messages wait", name)
                continue
            self.running[name] = (spec.key, connector)
            log.info("dispatcher: connector %s (%s) started", name, spec.protocol)

    async def fence(self) -> None:
        """Stop the connectors whose lease this node could not renew in time: another node
        may take them over once the lease has run out, and must find their binds closed."""
        now = time.monotonic()
        for name, until in list(self._held.items()):
            if until < now and name in self.running:
                log.warning("dispatcher: could not renew the lease of connector %s; stopping "
                            "it", name)
                await self._stop(name)
                del self._held[name]

    async def _stop(self, name: str) -> None:
        _key, connector = self.running.pop(name)
        self._held.pop(name, None)
        try:
            await connector.stop()
        except Exception:
            log.exception("dispatcher: stopping connector %s failed", name)
        else:
            log.info("dispatcher: connector %s stopped", name)

    async def stop(self) -> None:
        names = list(self.running)
        for name in names:
            await self._stop(name)
        if self.pigeon.node is not None:
            for name in names:  # the next node need not wait for the leases to run out
                await _guarded("releasing a lease", self.pigeon.db.write(
                    leases.release, f"connector:{name}", self.pigeon.node))

    def states(self) -> dict[str, dict]:
        return {name: connector.state() for name, (_key, connector) in self.running.items()}


async def dispatcher(pigeon: Pigeon) -> None:
    fleet = Fleet(pigeon, DatabaseSink(pigeon))
    unwatch = None
    try:
        await _guarded("loading connectors", fleet.reload())
        now = time.monotonic()
        swept = reloaded = published = early = purged = now
        wake = pigeon.dispatcher_wake = asyncio.Event()
        if pigeon.watch_others:  # messages accepted by other processes (API workers, nodes)
            loop = asyncio.get_running_loop()
            unwatch = pigeon.db.watch_others("messages",
                                             lambda: loop.call_soon_threadsafe(wake.set))
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
            await fleet.fence()
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
                    async with asyncio.timeout(POLL_SECONDS):
                        await wake.wait()
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
        if unwatch is not None:
            unwatch()
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
        routing, inline, pigeon.settings.timezone, pigeon.node)
    if not claimed:
        return count
    by_connector: dict[str, list[Outbound]] = defaultdict(list)
    for name, message in claimed:
        by_connector[name].append(message)
    for name, batch in by_connector.items():
        started = pigeon.now()
        results = await _submit(connectors.get(name), name, batch)
        await pigeon.db.write(dispatch.record, name, results, pigeon.settings.timezone,
                              pigeon.now(), started, node=pigeon.node)
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
                      len(batch), extra={"context": logs.fields() | {
                          "connector": name, "message_id": [m.message_id for m in batch[:20]]}})
        return [Submitted(m.message_id, retry=True) for m in batch]
    if len(results) != len(batch):
        log.error("dispatcher: connector %s answered %d of %d message(s)", name,
                  len(results), len(batch))
        answered = {r.message_id for r in results}
        results = [*results, *(Submitted(m.message_id, retry=True) for m in batch
                               if m.message_id not in answered)]
    return results
