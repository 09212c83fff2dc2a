"""Nodes: the Pigeon processes working on one database, and what happens when one dies.

Each process that runs workers registers itself (:func:`register`), beats every
:data:`HEARTBEAT` (:func:`beat`) and says goodbye when it stops (:func:`unregister`).  A node
not heard of for :data:`DEAD_AFTER` — or, on the same machine, whose process is gone — is
dead: :func:`reap` gives the messages it had claimed back to the queue and frees its leases,
so that another node carries on its work.  Every message claim carries the claiming node's id
(``messages.claimed_by``), and recording a submission checks it: a node that was declared dead
while merely paused cannot record over the node that took its messages over.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, or_, select, update

from pigeon.services import leases
from pigeon.store.tables import connector_states, messages, nodes

HEARTBEAT = timedelta(seconds=2)
DEAD_AFTER = timedelta(seconds=10)
"""A node silent this long is dead (five missed heartbeats)."""


def register(conn: Connection, name: str, now: datetime) -> int:
    """A new node (``name``: host:pid, for people); its id."""
    return conn.execute(insert(nodes).values(name=name, started_at=now, seen_at=now)
                        ).inserted_primary_key[0]


def beat(conn: Connection, node: int, now: datetime) -> bool:
    """Say the node is alive; False if it was declared dead meanwhile (it must register
    again: what it had claimed was given to others)."""
    return bool(conn.execute(update(nodes).where(nodes.c.id == node).values(seen_at=now))
                .rowcount)


def unregister(conn: Connection, node: int) -> None:
    """A node stopping cleanly: its leases go at once, its claims back to the queue."""
    _bury(conn, [node])


def reap(conn: Connection, now: datetime, *, host: str,
         pid_alive: Callable[[int], bool]) -> dict[str, int]:
    """Bury the dead nodes: silent for :data:`DEAD_AFTER`, or on ``host`` with a process that
    is gone (``pid_alive``), which a restart on one machine notices at once.  Returns how many
    nodes, requeued messages and leases."""
    dead = []
    for node_id, name, seen_at in conn.execute(select(nodes.c.id, nodes.c.name,
                                                      nodes.c.seen_at)):
        node_host, _, pid = name.rpartition(":")
        if seen_at < now - DEAD_AFTER or (node_host == host and pid.isdigit()
                                          and not pid_alive(int(pid))):
            dead.append(node_id)
    if not dead:
        return {"nodes": 0, "messages": 0, "leases": 0}
    return {"nodes": len(dead), **_bury(conn, dead)}


def _bury(conn: Connection, dead: list[int]) -> dict[str, int]:
    requeued = conn.execute(update(messages).where(
        messages.c.status == "sending", messages.c.claimed_by.in_(dead))
        .values(status="queued", claimed_by=None)).rowcount or 0
    freed = sum(leases.release_all(conn, node) for node in dead)
    conn.execute(delete(connector_states).where(or_(
        *(connector_states.c.node.like(f"%#{node}") for node in dead))))
    conn.execute(delete(nodes).where(nodes.c.id.in_(dead)))
    return {"messages": requeued, "leases": freed}


def live(conn: Connection) -> list[dict]:
    """The nodes that are registered, oldest first (for ``pigeon node list``)."""
    return [dict(row) for row in conn.execute(select(nodes).order_by(nodes.c.id)).mappings()]
