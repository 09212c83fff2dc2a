"""The batch worker: sends the console's batches when they are due (services/batches.py).

Each step is one write transaction that sends one chunk of a due batch through the send path
and marks its rows, so a crash or restart at any moment loses no row and sends none twice:
the next pass goes on with the rows still pending.  It polls every :data:`POLL_SECONDS`
(a batch sent "now" starts within that) and loops without waiting while a batch has rows left,
waking the dispatcher after every chunk.  Once an hour it deletes drafts nobody sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from pigeon.services import batches
from pigeon.workers import singleton_step

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
PURGE_SECONDS = 3600.0


async def send_batches(pigeon: Pigeon) -> int:
    """Send every chunk that is due now; how many rows were decided (sent or failed)."""
    decided = 0
    if not await pigeon.db.read(batches.any_due, pigeon.now()):
        return decided
    while True:
        # Chunk by chunk on the node holding the batch sender's lease (the lease is checked
        # in the chunk's own transaction): two nodes never send one row.
        step = await singleton_step(pigeon, "batch-sender", batches.send_due,
                                    pigeon.send_policy, pigeon.now())
        if step is None:
            return decided
        decided += step["sent"] + step["failed"]
        if step["sent"]:
            pigeon.wake_dispatcher()
        if step["done"]:
            log.info("batch %s: done", step["batch_id"])
        await asyncio.sleep(0)  # let the API's requests in between chunks


async def batch_sender(pigeon: Pigeon) -> None:
    purged_at = 0.0
    while True:
        try:
            await send_batches(pigeon)
            if time.monotonic() - purged_at > PURGE_SECONDS:
                purged_at = time.monotonic()
                purged = await pigeon.db.write(batches.purge_drafts, pigeon.now())
                if purged:
                    log.info("batch sender: %d old draft(s) deleted", purged)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("batch sender pass failed; retrying")
        await asyncio.sleep(POLL_SECONDS)
