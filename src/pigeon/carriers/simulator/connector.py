"""The built-in carrier simulator as a connector.

``submit`` answers at once, as a fast SMSC does: a carrier message id for each accepted
message, and an ``effect`` — one for the whole batch, shared by its results — that puts the
messages into the simulated network (rows in ``simulator_deliveries`` with their fate and
receipt time) inside the transaction that records the submission.  A background task then delivers what is due, every
:data:`DELIVER_INTERVAL`, one write transaction per pass
(:func:`pigeon.services.simulator.deliver_due`).  The network's state lives in the database,
so a restart — or a second Pigeon node on PostgreSQL — carries on where the last pass stopped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from pigeon.carriers.base import Outbound, Sink, Submitted
from pigeon.carriers.simulator import network
from pigeon.services import simulator
from pigeon.store.database import Database

log = logging.getLogger(__name__)

DELIVER_INTERVAL = 0.15  # seconds between delivery passes when nothing was due


class SimulatorConnector:
    kind = "simulator"

    def __init__(self, name: str, db: Database, *, zone: ZoneInfo, delay: timedelta,
                 access_code: str, now: Callable[[], datetime],
                 rng: random.Random | None = None) -> None:
        self.name = name
        self.db = db
        self.zone = zone
        self.delay = delay
        self.access_code = access_code
        self.now = now
        self.rng = rng or random.Random()
        # Messages the network has throttled once (magic digit 8).  Kept in memory: after a
        # restart such a message is throttled once more, which is harmless.
        self._throttled: set[int] = set()
        self._task: asyncio.Task | None = None
        self._counts = {"submitted": 0, "refused": 0, "throttled": 0, "receipts": 0}

    async def start(self, sink: Sink) -> None:
        # Receipts and replies go straight to the database (deliver_due, services.simulator
        # .reply); the sink is for connectors whose network lives outside it.
        if self._task is None:
            self._task = asyncio.create_task(self._deliver_loop(), name=f"{self.name}-deliver")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def submit(self, batch: list[Outbound]) -> list[Submitted]:
        signature_ids = {m.signature_id for m in batch if m.carrier is not None}
        registered = (await self.db.read(simulator.registrations, signature_ids)
                      if signature_ids else {})
        return self._results(batch, registered, self.now())

    def submit_in(self, conn: Connection, batch: list[Outbound],
                  now: datetime) -> list[Submitted]:
        """:meth:`submit` inside the dispatcher's claiming transaction, on its connection
        (see :func:`pigeon.services.dispatch.claim_and_submit`): the simulator answers at once
        from the database, so claiming, submitting and recording a batch take one write
        instead of two writes and a read."""
        signature_ids = {m.signature_id for m in batch if m.carrier is not None}
        registered = simulator.registrations(conn, signature_ids) if signature_ids else {}
        return self._results(batch, registered, now)

    def _results(self, batch: list[Outbound], registered: dict[int, dict[str, int]],
                 now: datetime) -> list[Submitted]:
        # One effect for the whole batch: a single INSERT when the dispatcher records it.
        entries: list[simulator.Entry] = []
        effect = functools.partial(simulator.schedule, entries=entries)
        results = []
        for message in batch:
            fate = network.fate(message.phone, message.carrier,
                                registered.get(message.signature_id, {}))
            results.append(self._answer(message, fate, now, entries, effect))
        return results

    def _answer(self, message: Outbound, fate: network.Fate, now: datetime,
                entries: list[simulator.Entry], effect: Callable) -> Submitted:
        if fate.refused:
            self._counts["refused"] += 1
            return Submitted(message.message_id, error=fate.err_code, error_message=fate.text)
        if fate.throttled_once and message.message_id not in self._throttled:
            self._throttled.add(message.message_id)
            self._counts["throttled"] += 1
            return Submitted(message.message_id, retry=True,
                             error_message="运营商限流，稍后重试")
        self._throttled.discard(message.message_id)
        self._counts["submitted"] += 1
        carrier_id = network.timed_message_id(now, self.rng.getrandbits(32))
        if not fate.receipt:
            return Submitted(message.message_id, carrier_message_id=carrier_id)
        due = now + network.receipt_delay(self.delay, fate, self.rng.uniform(-1, 1))
        entries.append(simulator.Entry(message.message_id, carrier_id, fate, due))
        return Submitted(message.message_id, carrier_message_id=carrier_id, effect=effect)

    async def _deliver_loop(self) -> None:
        while True:
            done = 0
            try:
                done = await self.db.write(simulator.deliver_due, self.zone, self.now(),
                                           self.access_code)
                self._counts["receipts"] += done
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("simulator: delivery pass failed; retrying")
            if done < simulator.DELIVER_BATCH:
                await asyncio.sleep(DELIVER_INTERVAL)

    def up(self) -> bool:
        return self._task is not None

    def state(self) -> dict:
        return {"name": self.name, "kind": self.kind, "running": self._task is not None,
                "up": self.up(),
                "delay_seconds": self.delay.total_seconds(), **self._counts}
