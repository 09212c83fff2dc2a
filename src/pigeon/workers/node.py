"""The node keeper: this process's heartbeat, and the burial of nodes that died.

Every :data:`~pigeon.services.nodes.HEARTBEAT` it says this node is alive and buries the dead
ones (:func:`pigeon.services.nodes.reap`): their claimed messages go back to the queue and
their leases are freed, so that the surviving nodes carry on their work.  Every
:data:`PURGE_SECONDS` it drops the signature nonces past their window, and every
:data:`AUDIT_PURGE_SECONDS` the audit entries past ``PIGEON_AUDIT_RETENTION``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING

from pigeon.services import audit, nodes, nonces

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)

PURGE_SECONDS = 60.0
AUDIT_PURGE_SECONDS = 600.0


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        return True
    return True


async def keep(pigeon: Pigeon) -> None:
    """One heartbeat: beat (registering again if this node was declared dead), then bury the
    dead."""
    from pigeon.workers import host_id, node_name

    db = pigeon.db
    if not await db.write(nodes.beat, pigeon.node, pigeon.now()):
        old = pigeon.node
        pigeon.node = await db.write(nodes.register, node_name(), pigeon.now())
        log.warning("node %s was declared dead (paused too long?); it is node %s now", old,
                    pigeon.node)
    buried = await db.write(nodes.reap, pigeon.now(), host=host_id(),
                            pid_alive=pid_alive)
    if buried["nodes"]:
        log.warning("%d dead node(s): %d claimed message(s) requeued, %d lease(s) freed",
                    buried["nodes"], buried["messages"], buried["leases"])


async def purge_nonces(pigeon: Pigeon) -> int:
    dropped = 0
    while True:
        count = await pigeon.db.write(nonces.purge, pigeon.now())
        dropped += count
        if count < nonces.PURGE_CHUNK:
            return dropped
        await asyncio.sleep(0)


async def node_keeper(pigeon: Pigeon) -> None:
    purged = audited = 0.0
    while True:
        try:
            await keep(pigeon)
            if time.monotonic() - purged > PURGE_SECONDS:
                purged = time.monotonic()
                await purge_nonces(pigeon)
            if time.monotonic() - audited > AUDIT_PURGE_SECONDS:
                audited = time.monotonic()
                gone = await audit.purge(pigeon.db, pigeon.now(),
                                         pigeon.settings.audit_retention)
                if gone:
                    log.info("audit trail: %d entries past retention dropped", gone)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("node keeper: heartbeat failed; retrying")
        await asyncio.sleep(nodes.HEARTBEAT.total_seconds())
