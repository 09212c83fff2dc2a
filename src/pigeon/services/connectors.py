"""Connectors as operators configure them: stored, validated, listed with their live state.

A connector is one carrier connection — an SMSC account reached over SMPP — or the built-in
carrier simulator, which is a row like the others (``simulator``, protocol ``simulator``),
created on first start and never removed: operators who deliver through real carriers disable
it.  Passwords are stored encrypted (:mod:`pigeon.store.secrets`) and never shown.

Live state.  ``pigeon connector list`` runs in another process than the dispatcher that runs
the connectors (or on another machine), so every dispatcher writes what its connectors are
doing into ``connector_states`` every :data:`STATE_SECONDS` — one row per connector and node —
and deletes its rows when it stops.  A row older than :data:`LIVE_FOR` is a node that died;
the list ignores it.  The database is the one channel every node and the CLI already share:
no admin port to expose, secure and find.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from pigeon.core.errors import PigeonError
from pigeon.core.routing import SIMULATOR
from pigeon.services import audit
from pigeon.store.database import Database
from pigeon.store.secrets import SecretBox
from pigeon.store.tables import connector_states, connectors, routes

log = logging.getLogger(__name__)

PROTOCOLS = ("simulator", "smpp")
ADDABLE = ("smpp",)  # the simulator is built in: one, named "simulator"
BIND_MODES = ("transceiver", "transmitter+receiver")

STATE_SECONDS = 2.0
"""How often a running dispatcher writes its connectors' state."""
LIVE_FOR = timedelta(seconds=10)
"""A state row older than this belongs to a dispatcher that stopped without saying so."""
FORGET_AFTER = timedelta(hours=1)
"""State rows older than this are deleted by the next dispatcher that writes its own."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HOST = re.compile(r"^[A-Za-z0-9._:-]{1,253}$")

# SMPP 3.4 §4.1: C-Octet Strings of at most 16, 9 and 13 octets, the NUL included.
_SMPP_TEXT = {"system_id": 15, "password": 8, "system_type": 12}


def _invalid(message: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", message)


@dataclass(frozen=True)
class Spec:
    """What it takes to build and run one connector (the password decrypted)."""

    name: str
    protocol: str
    config: dict
    password: str | None
    enabled: bool

    @property
    def key(self) -> tuple:
        """Equal keys: the same connection; a changed key means restart the connector."""
        return (self.protocol, tuple(sorted(self.config.items())), self.password)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise _invalid(f"A connector name is 1 to 64 letters, digits, '.', '_' or '-', "
                       f"starting with a letter or digit; got {name!r}.")
    return name


def smpp_config(*, host: str, port: int, system_id: str, password: str,
                system_type: str = "", tps: float | None = None, window: int = 10,
                binds: int = 1, bind_mode: str = "transceiver") -> dict:
    """Validated SMPP settings (the password is checked, not included)."""
    if not isinstance(host, str) or not _HOST.match(host):
        raise _invalid(f"--host must be a host name or IP address, got {host!r}.")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise _invalid(f"--port must be a TCP port from 1 to 65535, got {port!r}.")
    for field, value in (("system_id", system_id), ("password", password),
                         ("system_type", system_type)):
        limit = _SMPP_TEXT[field]
        flag = "--" + field.replace("_", "-")
        if not isinstance(value, str) or not value.isascii() or not value.isprintable():
            raise _invalid(f"{flag} must be printable ASCII text.")
        if len(value) > limit:
            raise _invalid(f"{flag} is at most {limit} characters in SMPP 3.4, "
                           f"got {len(value)}.")
    if not system_id:
        raise _invalid("--system-id is required: the account name the SMSC gave you.")
    if tps is not None and (isinstance(tps, bool) or not isinstance(tps, int | float)
                            or not 0 < tps <= 100_000):
        raise _invalid(f"--tps must be a number of messages per second from 1 to 100000 "
                       f"(leave it out for no cap), got {tps!r}.")
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 1000:
        raise _invalid(f"--window must be from 1 to 1000 outstanding requests, got {window!r}.")
    if isinstance(binds, bool) or not isinstance(binds, int) or not 1 <= binds <= 32:
        raise _invalid(f"--binds must be from 1 to 32, got {binds!r}.")
    if bind_mode not in BIND_MODES:
        raise _invalid(f"--bind-mode is one of {', '.join(BIND_MODES)}, got {bind_mode!r}.")
    return {"host": host, "port": port, "system_id": system_id, "system_type": system_type,
            "tps": tps, "window": window, "binds": binds, "bind_mode": bind_mode}


def _find(conn: Connection, name: str) -> dict:
    row = conn.execute(select(connectors).where(connectors.c.name == name)).mappings().first()
    if row is None:
        raise _invalid(f"There is no connector {name!r} (see `pigeon connector list`).")
    return dict(row)


def describe(row: dict) -> dict:
    """A connector as operators see it (never its password)."""
    config = row["config"] or {}
    shown = {"name": row["name"], "protocol": row["protocol"], "enabled": row["enabled"]}
    if row["protocol"] == "smpp":
        shown |= {"address": f"{config['host']}:{config['port']}",
                  "system_id": config["system_id"], "system_type": config["system_type"],
                  "binds": config["binds"], "bind_mode": config["bind_mode"],
                  "window": config["window"], "tps": config["tps"]}
    else:
        shown |= {"address": "built-in", "system_id": None, "system_type": None,
                  "binds": None, "bind_mode": None, "window": None, "tps": None}
    return shown


# -- managing ---------------------------------------------------------------------------------

def ensure_simulator(conn: Connection, now: datetime) -> bool:
    """Create the built-in ``simulator`` row if it is absent; whether it was created."""
    if conn.scalar(select(connectors.c.name).where(connectors.c.name == SIMULATOR)):
        return False
    conn.execute(insert(connectors).values(name=SIMULATOR, protocol="simulator", config={},
                                           secret=None, enabled=True, created_at=now))
    return True


def has_simulator(conn: Connection) -> bool:
    return conn.scalar(select(connectors.c.name).where(connectors.c.name == SIMULATOR)) \
        is not None


def ensure_builtin(db: Database, now: datetime) -> None:
    """At start-up: the built-in ``simulator`` row exists (a read, and a write only the first
    time; two processes starting at once on PostgreSQL may both try, one wins)."""
    if db.read_sync(has_simulator):
        return
    try:
        db.write_sync(ensure_simulator, now)
    except IntegrityError:
        pass


def add(conn: Connection, box: SecretBox, name: str, protocol: str, now: datetime,
        **settings) -> dict:
    """Store a new connector; the dispatcher starts it within a few seconds.  ``settings``
    are :func:`smpp_config`'s for ``protocol="smpp"``."""
    check_name(name)
    if protocol not in ADDABLE:
        if protocol == "simulator":
            raise _invalid("The carrier simulator is built in (connector 'simulator'); "
                           "it cannot be added twice.")
        raise _invalid(f"--protocol is one of {', '.join(ADDABLE)}, got {protocol!r}.")
    config = smpp_config(**settings)
    if conn.scalar(select(connectors.c.name).where(connectors.c.name == name)):
        raise _invalid(f"A connector named {name!r} exists already.")
    conn.execute(insert(connectors).values(
        name=name, protocol=protocol, config=config, secret=box.encrypt(settings["password"]),
        enabled=True, created_at=now))
    made = describe(_find(conn, name))
    audit.record(conn, "connector.add", f"connector:{name}", after=made, now=now)
    return made


def remove(conn: Connection, name: str) -> dict:
    """Delete a connector that no route names; the dispatcher stops it within seconds."""
    row = _find(conn, name)
    if name == SIMULATOR:
        raise _invalid("The built-in simulator cannot be removed; "
                       "`pigeon connector disable simulator` stops it.")
    used = conn.execute(select(routes.c.id).where(
        or_(routes.c.connector == name, routes.c.fallback == name))
        .order_by(routes.c.id)).scalars().all()
    if used:
        raise _invalid(f"Connector {name!r} is used by route(s) {', '.join(map(str, used))}; "
                       "remove them first (`pigeon route remove ID`).")
    conn.execute(delete(connectors).where(connectors.c.name == name))
    conn.execute(delete(connector_states).where(connector_states.c.connector == name))
    audit.record(conn, "connector.remove", f"connector:{name}", before=describe(row))
    return describe(row) | {"removed": True}


def set_enabled(conn: Connection, name: str, enabled: bool) -> dict:
    """Enable or disable a connector.  A disabled connector is stopped: no message is routed
    to it (rules naming it fall back or wait), and its binds are closed."""
    before = describe(_find(conn, name))
    conn.execute(update(connectors).where(connectors.c.name == name).values(enabled=enabled))
    after = describe(_find(conn, name))
    audit.record(conn, "connector.enable" if enabled else "connector.disable",
                 f"connector:{name}", before=before, after=after)
    return after


def specs(conn: Connection, box: SecretBox) -> list[Spec]:
    """Every stored connector, password decrypted, for the dispatcher to run.  A connector
    whose password cannot be decrypted (``PIGEON_SECRET_KEY`` changed) is left out, logged:
    the others still run."""
    found = []
    for row in conn.execute(select(connectors).order_by(connectors.c.name)).mappings():
        try:
            password = box.decrypt(row["secret"]) if row["secret"] else None
        except RuntimeError:
            log.error("connector %s: its password cannot be decrypted with this "
                      "PIGEON_SECRET_KEY; add it again", row["name"])
            continue
        found.append(Spec(name=row["name"], protocol=row["protocol"],
                          config=dict(row["config"] or {}), password=password,
                          enabled=row["enabled"]))
    return found


# -- live state -------------------------------------------------------------------------------

def publish_states(conn: Connection, node: str, states: dict[str, dict],
                   now: datetime) -> None:
    """Replace this node's state rows with ``states`` (connector name → its state())."""
    conn.execute(delete(connector_states).where(or_(
        connector_states.c.node == node, connector_states.c.updated_at < now - FORGET_AFTER)))
    if states:
        conn.execute(insert(connector_states), [
            {"connector": name, "node": node, "state": state, "updated_at": now}
            for name, state in states.items()])


def up_elsewhere(conn: Connection, node: str, now: datetime) -> frozenset[str]:
    """The connectors other live nodes say are up: where routing may send messages that
    this node does not carry itself (another node holds their binds)."""
    up = set()
    for name, state in conn.execute(select(connector_states.c.connector,
                                           connector_states.c.state).where(
            connector_states.c.node != node, connector_states.c.updated_at >= now - LIVE_FOR)):
        if (state or {}).get("up"):
            up.add(name)
    return frozenset(up)


def clear_states(conn: Connection, node: str) -> None:
    conn.execute(delete(connector_states).where(connector_states.c.node == node))


def _live(row: dict, states: list[dict]) -> dict:
    """The list's live columns: the connector's state summed over the nodes running it."""
    if not row["enabled"]:
        status = "disabled"
    elif not states:
        status = "not running"
    else:
        status = "up" if any(s.get("up") for s in states) else "down"
    live = {"state": status, "bound": None, "throughput": None, "queue": None,
            "outstanding": None, "last_error": None, "nodes": len(states)}
    if states and row["protocol"] == "smpp":
        bound = sum(s.get("bound", 0) for s in states)
        total = sum(len(s.get("binds", ())) for s in states)
        errors = [b["last_error"] for s in states for b in s.get("binds", ())
                  if b.get("last_error") and not b.get("bound")]
        live |= {"bound": f"{bound}/{total}",
                 "throughput": round(sum(s.get("throughput", 0) for s in states), 1),
                 "queue": sum(s.get("queue", 0) for s in states),
                 "outstanding": sum(s.get("outstanding", 0) for s in states),
                 "last_error": errors[0] if errors else None}
    return live


def listing(conn: Connection, now: datetime) -> list[dict]:
    """Every connector with its live state (``state``: up, down, disabled or not running —
    no dispatcher has reported on it within :data:`LIVE_FOR`)."""
    rows = [dict(r) for r in conn.execute(select(connectors).order_by(
        connectors.c.name != SIMULATOR, connectors.c.name)).mappings()]
    fresh: dict[str, list[dict]] = {}
    for state_row in conn.execute(select(connector_states).where(
            connector_states.c.updated_at >= now - LIVE_FOR)).mappings():
        fresh.setdefault(state_row["connector"], []).append(
            dict(state_row["state"]) | {"node": state_row["node"]})
    listed = []
    for row in rows:
        states = fresh.get(row["name"], [])
        shown = describe(row) | _live(row, states)
        shown["detail"] = states  # per node, for --json
        listed.append(shown)
    return listed
