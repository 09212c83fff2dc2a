"""The automatic reviewer (``realistic`` review mode) and the simulated carrier registrar.

Both poll the database: the work they find is already durable there, so a crash or restart
loses nothing — the next pass picks it up.  Each pass runs on the node holding the loop's
lease (:func:`pigeon.workers.singleton_step`), so a cluster decides nothing twice and carries
on when that node dies.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from pigeon.services import audit, review, signatures
from pigeon.workers import singleton_step

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


async def _loop(pigeon: Pigeon, name: str, step) -> None:
    audit.acting(audit.system(name))  # this task's changes are the automatic reviewer's &c.
    while True:
        try:
            # On one node of the cluster at a time: a review decided twice would report twice.
            done = await singleton_step(pigeon, name, step, pigeon.policy, pigeon.now())
            if done:
                log.info("%s: %d done", name, done)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s pass failed; retrying", name)
        await asyncio.sleep(POLL_SECONDS)


async def reviewer(pigeon: Pigeon) -> None:
    if pigeon.policy.mode != "realistic":
        return
    await _loop(pigeon, "reviewer", review.review_due)


async def registrar(pigeon: Pigeon) -> None:
    if pigeon.policy.registration_delay is None:
        return
    await _loop(pigeon, "registrar", signatures.complete_due_registrations)
