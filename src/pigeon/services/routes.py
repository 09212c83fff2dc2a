"""Routing rules as operators manage them (``pigeon route``), and as the dispatcher loads them.

What a rule means is in :mod:`pigeon.core.routing`.  The dispatcher keeps the rules in memory
and reloads them every few seconds (:data:`pigeon.workers.dispatcher.RELOAD_SECONDS`), so a
rule added or removed here takes effect on every node within that time, and routing a message
costs no query.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from pigeon.core.errors import PigeonError
from pigeon.core.routing import CARRIERS, Rule, ordered
from pigeon.services import audit
from pigeon.services.billing import TEMPLATE_TYPE_NAMES
from pigeon.store.tables import connectors, routes

_TYPE_NAME = {number: name for name, number in TEMPLATE_TYPE_NAMES.items()}
PRIORITY_STEP = 10


def _invalid(message: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", message)


def _country(value: str | int | None) -> int | None:
    if value is None or value == "":
        return None
    text = str(value).strip().removeprefix("+").removeprefix("00")
    if not text.isdigit() or not 1 <= len(text) <= 3 or text.startswith("0"):
        raise _invalid(f"--country is a country calling code such as 86 or 852, got {value!r}.")
    return int(text)


def _rule(row) -> Rule:
    return Rule(id=row.id, priority=row.priority, connector=row.connector,
                fallback=row.fallback, carrier=row.carrier, country_code=row.country_code,
                template_type=row.template_type)


def describe(row) -> dict:
    return {"id": row.id, "priority": row.priority, "connector": row.connector,
            "fallback": row.fallback, "carrier": row.carrier, "country": row.country_code,
            "template_type": _TYPE_NAME.get(row.template_type) if row.template_type is not None
            else None}


def add(conn: Connection, *, connector: str, now: datetime, priority: int | None = None,
        carrier: str | None = None, country: str | int | None = None,
        template_type: str | None = None, fallback: str | None = None) -> dict:
    """Add a rule; without ``priority`` it goes after every existing rule."""
    names = set(conn.execute(select(connectors.c.name)).scalars())
    if connector not in names:
        raise _invalid(f"There is no connector {connector!r}; add it first "
                       "(`pigeon connector add`).")
    if fallback is not None:
        if fallback not in names:
            raise _invalid(f"There is no connector {fallback!r} to fall back to.")
        if fallback == connector:
            raise _invalid("--fallback must name another connector than --connector.")
    if carrier is not None and carrier not in CARRIERS:
        raise _invalid(f"--carrier is one of {', '.join(CARRIERS)}, got {carrier!r}.")
    country_code = _country(country)
    if carrier is not None:
        if country_code not in (None, 86):
            raise _invalid("--carrier names a mainland China carrier: it goes with --country "
                           "86 or no --country.")
    if template_type is not None and template_type not in TEMPLATE_TYPE_NAMES:
        raise _invalid(f"--template-type is one of {', '.join(TEMPLATE_TYPE_NAMES)}, "
                       f"got {template_type!r}.")
    if priority is None:
        last = conn.scalar(select(func.max(routes.c.priority)))
        priority = PRIORITY_STEP if last is None else last + PRIORITY_STEP
    elif isinstance(priority, bool) or not isinstance(priority, int) \
            or not 0 <= priority <= 1_000_000:
        raise _invalid(f"--priority must be from 0 to 1000000, got {priority!r}.")
    route_id = conn.execute(insert(routes).values(
        priority=priority, connector=connector, fallback=fallback, carrier=carrier,
        country_code=country_code,
        template_type=TEMPLATE_TYPE_NAMES[template_type] if template_type else None,
        created_at=now)).inserted_primary_key[0]
    made = describe(conn.execute(select(routes).where(routes.c.id == route_id)).one())
    audit.record(conn, "route.add", f"route:{route_id}", after=made, now=now)
    return made


def remove(conn: Connection, route_id: int) -> dict:
    row = conn.execute(select(routes).where(routes.c.id == route_id)).first()
    if row is None:
        raise _invalid(f"There is no route {route_id} (see `pigeon route list`).")
    conn.execute(delete(routes).where(routes.c.id == route_id))
    audit.record(conn, "route.remove", f"route:{route_id}", before=describe(row))
    return describe(row) | {"removed": True}


def load(conn: Connection) -> list[Rule]:
    """Every rule, in the order they are tried."""
    return ordered([_rule(row) for row in conn.execute(select(routes))])


def listing(conn: Connection) -> list[dict]:
    """Every rule, in the order they are tried."""
    rows = {row.id: row for row in conn.execute(select(routes))}
    return [describe(rows[rule.id]) for rule in ordered([_rule(r) for r in rows.values()])]
