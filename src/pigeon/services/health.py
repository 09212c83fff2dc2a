"""What the platform's state looks like from the database, for ``/readyz`` and the
cluster-wide gauges of ``/metrics``: the backlog of messages and reports, the connectors'
live state, the nodes, the schema.

All of it is read at the moment it is asked for (a probe, a scrape), never on a request's way;
each query reads an index range (``ix_messages_dispatch``, ``ix_report_events_due``) or a
small table.  These are cluster-wide facts: every node answers the same, so in Prometheus
they are aggregated with ``max``, not ``sum`` (docs/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select

from pigeon.services import connectors
from pigeon.services.nodes import DEAD_AFTER
from pigeon.store import migrate
from pigeon.store.tables import messages, nodes, report_events

BACKLOG_STATES = ("queued", "sending", "sent")
"""Messages not final yet: waiting for a dispatcher, being submitted, awaiting a receipt."""


@dataclass(frozen=True)
class Backlog:
    state: str
    count: int
    oldest_seconds: float  # since the oldest one was accepted; 0 when there is none


def _oldest(conn: Connection, table, first_id: int | None, now: datetime) -> float:
    if first_id is None:
        return 0.0
    created = conn.scalar(select(table.c.created_at).where(table.c.id == first_id))
    return max((now - created).total_seconds(), 0.0) if created is not None else 0.0


def backlog(conn: Connection, now: datetime) -> list[Backlog]:
    """Messages in each of :data:`BACKLOG_STATES`, and pending reports (``report``), with the
    age of the oldest (ids grow with acceptance, so the lowest id is the oldest)."""
    found = []
    for state in BACKLOG_STATES:
        count, first = conn.execute(select(func.count(), func.min(messages.c.id))
                                    .where(messages.c.status == state)).one()
        found.append(Backlog(state, count or 0, _oldest(conn, messages, first, now)))
    count, first = conn.execute(select(func.count(), func.min(report_events.c.id))
                                .where(report_events.c.state == "pending")).one()
    found.append(Backlog("report", count or 0, _oldest(conn, report_events, first, now)))
    return found


@dataclass(frozen=True)
class ConnectorGauges:
    name: str
    protocol: str
    up: bool
    binds: int
    binds_up: int
    window_in_use: int
    window_size: int
    throughput: float


def connector_gauges(conn: Connection, now: datetime) -> list[ConnectorGauges]:
    """Every enabled connector's live state summed over the nodes that run it (what
    ``pigeon connector list`` shows)."""
    found = []
    for row in connectors.listing(conn, now):
        if not row["enabled"]:
            continue
        states = row["detail"]
        binds = sum(len(s.get("binds", ())) for s in states)
        found.append(ConnectorGauges(
            name=row["name"], protocol=row["protocol"], up=row["state"] == "up",
            binds=binds, binds_up=sum(s.get("bound", 0) for s in states),
            window_in_use=sum(s.get("outstanding", 0) for s in states),
            window_size=sum((s.get("window") or 0) * len(s.get("binds", ())) for s in states),
            throughput=float(sum(s.get("throughput", 0) for s in states))))
    return found


@dataclass
class Readiness:
    """The checks of ``/readyz``: each ``ok`` or why not."""

    checks: dict[str, str] = field(default_factory=dict)
    connectors: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values()) and all(
            v == "up" for v in self.connectors.values())

    def as_dict(self) -> dict:
        return {"status": "ready" if self.ready else "not ready", "checks": self.checks,
                "connectors": self.connectors}


def readiness(conn: Connection, now: datetime, *, schema: str, node: int | None) -> Readiness:
    """The database answers (this runs), its schema is ``schema``, workers run — this
    process's node has beaten lately, or (a process without workers) some node has — and
    every enabled connector is up."""
    found = Readiness()
    found.checks["database"] = "ok"
    version = migrate.current(conn)
    found.checks["migrations"] = "ok" if version == schema else \
        f"the schema is at {version}, this code needs {schema}"
    fresh = nodes.c.seen_at >= now - DEAD_AFTER
    if node is not None:
        alive = conn.scalar(select(nodes.c.id).where(nodes.c.id == node, fresh))
        found.checks["workers"] = "ok" if alive else "this node's heartbeat is late"
    else:
        alive = conn.scalar(select(func.count()).select_from(nodes).where(fresh))
        found.checks["workers"] = "ok" if alive else "no node runs the workers"
    for row in connectors.listing(conn, now):
        if row["enabled"]:
            found.connectors[row["name"]] = row["state"]
    return found
