"""Long-running loops started with the API (or alone by ``pigeon worker``).

:func:`run` runs them all as one node of the cluster (:mod:`pigeon.services.nodes`): it
registers the node, keeps it alive, and on the way out gives its leases and claims back.
Loops that must not run twice in the cluster do their work under a lease
(:func:`singleton_step`); the others claim their rows one by one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pigeon.services import leases, nodes

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)


def all_workers():
    from pigeon.workers.alerts import alert_evaluator
    from pigeon.workers.batches import batch_sender
    from pigeon.workers.compliance import registrar, reviewer
    from pigeon.workers.dispatcher import dispatcher
    from pigeon.workers.node import node_keeper
    from pigeon.workers.reporter import reporter

    return [node_keeper, reviewer, registrar, dispatcher, reporter, alert_evaluator,
            batch_sender]


def host_id() -> str:
    """This machine as :func:`pigeon.services.nodes.reap` tells them apart: its name, and the
    process-id namespace (two containers may share a name, never a pid namespace)."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}/{namespace}"


def node_name() -> str:
    """``host:pid``: how people (and :func:`pigeon.services.nodes.reap`) know a node."""
    return f"{host_id()}:{os.getpid()}"


async def run(pigeon: Pigeon) -> None:
    """Every worker, until cancelled, as a node of the cluster."""
    pigeon.node = await pigeon.db.write(nodes.register, node_name(), pigeon.now())
    log.info("node %s (%s) started", pigeon.node, node_name())
    tasks = [asyncio.create_task(worker(pigeon), name=worker.__name__)
             for worker in all_workers()]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await pigeon.db.write(nodes.unregister, pigeon.node)
        except Exception:  # the others notice it is gone within nodes.DEAD_AFTER
            log.warning("node %s could not unregister", pigeon.node)


async def singleton_step(pigeon: Pigeon, name: str, step: Callable[..., Any], *args) -> Any:
    """``step(conn, *args)`` in a write transaction, only on the node that holds the lease
    ``worker:<name>`` (taken or renewed in that same transaction); None on the others.  Outside
    a node (tests, tools) the step just runs."""
    if pigeon.node is None:
        return await pigeon.db.write(step, *args)
    return await pigeon.db.write(leases.under, f"worker:{name}", pigeon.node, pigeon.now(),
                                 step, *args)
