"""Reports for tenants (SmsReport, SmsUp, SignSmsReport, TemplateSmsReport) and their delivery.

Producers queue them with :func:`pigeon.services.review.emit_report` in the same transaction as
the change they report, so a report exists exactly when its change committed (an outbox).  The
report worker (``pigeon.workers.reporter``) then routes each by the tenant's setting for its
type:

- ``http``: pushed to the tenant's URL as a JSON array (several reports of one tenant and type
  merged into one request; review reports one per request, as Alibaba does).  Acknowledged
  only by HTTP 200 with a JSON body whose ``code`` is a number; otherwise retried after each
  wait of ``PIGEON_REPORT_RETRY_SCHEDULE`` and then kept as ``failed``;
- ``queue``: moved into the tenant's queue ``Alicom-Queue-<AccountId>-<Type>``
  (``pigeon.services.queues``), in the same transaction;
- ``off`` (or no setting): marked ``skipped``.

Event states: ``pending`` → ``delivered`` | ``queued`` | ``skipped`` | ``failed``.  A worker
*claims* pending events before pushing them by moving their ``next_attempt_at`` a lease into
the future with a conditional UPDATE; if it dies mid-push, the events are due again when the
lease runs out and another pass pushes them (at-least-once).  Every delivered report carries
``report_id`` (the event id, stable across re-deliveries) so receivers can de-duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from pigeon import push_targets
from pigeon.core import json_input
from pigeon.core.errors import PigeonError
from pigeon.services import audit
from pigeon.services.accounts import require_account
from pigeon.store.database import BulkInsert, Database, Driver, Rows
from pigeon.store.tables import report_attempts, report_events, report_settings

TYPES = ("SmsReport", "SmsUp", "SignSmsReport", "TemplateSmsReport")
# Review results are pushed one per request (spec/dysmsapi.md §6.1: "review notifications
# contain exactly one element").
SINGLE_TYPES = frozenset({"SignSmsReport", "TemplateSmsReport"})
MODES = ("http", "queue", "off")
STATES = ("pending", "delivered", "queued", "failed", "skipped")
MAX_URL_LENGTH = 2000
# Reports routed to a queue or skipped in one claim (one transaction).
ROUTE_BATCH = 500

events = report_events
# A list of event ids bound as one parameter (``{"ids": [...]}``): building a bound literal per
# id costs more than the statement itself for a batch of a hundred.
_IDS = bindparam("ids", expanding=True)


# -- settings ----------------------------------------------------------------------------------

def _check_type(report_type: str) -> str:
    if report_type not in TYPES:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"The report type must be one of {', '.join(TYPES)}, "
                          f"not {report_type!r}.")
    return report_type


def check_url(url: str | None, targets: str = push_targets.ANY) -> str:
    """An absolute ``http://`` or ``https://`` URL with a host (not a forbidden address
    literal under ``PIGEON_PUSH_TARGETS``, see :mod:`pigeon.push_targets`), or a coded
    error."""
    text = (url or "").strip()
    parts = urlsplit(text) if len(text) <= MAX_URL_LENGTH else None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or any(ch.isspace() for ch in text)):
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"The report URL must be an http:// or https:// URL with a host, "
                          f"not {url!r}.")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"The report URL has a bad port: {url!r}.") from None
    refusal = push_targets.literal_refusal(text, targets)
    if refusal:
        raise PigeonError("isv.INVALID_PARAMETERS", f"The report URL is refused: {refusal}")
    return text


def set_mode(conn: Connection, account_id: int, report_type: str, mode: str,
             url: str | None, now: datetime, targets: str = push_targets.ANY) -> dict:
    """How ``account_id`` receives ``report_type``: ``http`` (to ``url``), ``queue`` or ``off``.

    Takes effect for every report not yet delivered, including pending retries.
    """
    require_account(conn, account_id)
    _check_type(report_type)
    if mode not in MODES:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"The report mode must be one of {', '.join(MODES)}, not {mode!r}.")
    if mode == "http":
        url = check_url(url, targets)
    elif url is not None:
        raise PigeonError("isv.INVALID_PARAMETERS", "A URL is only for mode http.")
    values = {"account_id": account_id, "type": report_type, "mode": mode, "url": url,
              "updated_at": now}
    before = conn.execute(select(report_settings.c.mode, report_settings.c.url).where(
        report_settings.c.account_id == account_id,
        report_settings.c.type == report_type)).first()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(report_settings).values(**values)
    conn.execute(statement.on_conflict_do_update(
        index_elements=[report_settings.c.account_id, report_settings.c.type],
        set_={"mode": mode, "url": url, "updated_at": now}))
    audit.record(conn, "reports.set", f"report_settings:{report_type}", account_id=account_id,
                 before=None if before is None else {"mode": before.mode, "url": before.url},
                 after={"mode": mode, "url": url}, now=now)
    return {"type": report_type, "mode": mode, "url": url, "updated_at": now}


def settings_of(conn: Connection, account_id: int) -> list[dict]:
    """One row per report type; a type never set is ``off``."""
    rows = {r["type"]: r for r in conn.execute(
        select(report_settings).where(report_settings.c.account_id == account_id)).mappings()}
    return [{"type": t, "mode": rows[t]["mode"] if t in rows else "off",
             "url": rows[t]["url"] if t in rows else None,
             "updated_at": rows[t]["updated_at"] if t in rows else None} for t in TYPES]


def counts(conn: Connection, account_id: int) -> list[dict]:
    """Events by type and state: ``[{"type": …, "pending": n, "delivered": n, …}]``."""
    found = conn.execute(select(events.c.type, events.c.state, func.count())
                         .where(events.c.account_id == account_id)
                         .group_by(events.c.type, events.c.state)).all()
    table = {t: dict.fromkeys(STATES, 0) for t in TYPES}
    for report_type, state, n in found:
        table.setdefault(report_type, dict.fromkeys(STATES, 0))[state] = n
    return [{"type": t, **by_state} for t, by_state in table.items()]


def recent_attempts(conn: Connection, account_id: int, report_type: str | None = None,
                    limit: int = 20) -> list[dict]:
    """The last HTTP pushes to the tenant's endpoints, newest first."""
    query = (select(report_attempts).where(report_attempts.c.account_id == account_id)
             .order_by(report_attempts.c.id.desc()).limit(limit))
    if report_type:
        query = query.where(report_attempts.c.type == _check_type(report_type))
    return [{"id": r["id"], "type": r["type"], "url": r["url"], "reports": r["reports"],
             "ok": r["ok"], "status_code": r["status_code"], "error": r["error"],
             "duration_ms": r["duration_ms"], "at": r["created_at"]}
            for r in conn.execute(query).mappings()]


def show(conn: Connection, account_id: int, attempts: int = 10) -> dict:
    """Settings, events by state and the last push attempts of one tenant."""
    require_account(conn, account_id)
    return {"account_id": str(account_id), "settings": settings_of(conn, account_id),
            "counts": counts(conn, account_id),
            "attempts": recent_attempts(conn, account_id, None, attempts)}


def failed(conn: Connection, account_id: int, report_type: str | None = None,
           limit: int = 100) -> list[dict]:
    """Reports whose last push failed after the whole retry schedule, newest first."""
    require_account(conn, account_id)
    query = (select(events).where(events.c.account_id == account_id,
                                  events.c.state == "failed")
             .order_by(events.c.id.desc()).limit(limit))
    if report_type:
        query = query.where(events.c.type == _check_type(report_type))
    return [{"report_id": str(r["id"]), "type": r["type"], "attempts": r["attempts"],
             "last_error": r["last_error"], "created_at": r["created_at"],
             "payload": r["payload"]} for r in conn.execute(query).mappings()]


def retry_failed(conn: Connection, account_id: int, report_type: str | None,
                 now: datetime) -> int:
    """Give failed reports a new round (the whole retry schedule again); returns how many.

    The operator's tool once a tenant's endpoint is fixed.  Routed by the current setting.
    """
    require_account(conn, account_id)
    query = update(events).where(events.c.account_id == account_id, events.c.state == "failed")
    if report_type:
        query = query.where(events.c.type == _check_type(report_type))
    again = conn.execute(query.values(state="pending", attempts=0,
                                      next_attempt_at=None)).rowcount
    audit.record(conn, "reports.retry", f"account:{account_id}", account_id=account_id,
                 after={"type": report_type, "reports": again}, now=now)
    return again


def queued(conn: Connection, account_id: int, report_type: str | None = None) -> list[dict]:
    """Every report event of a tenant, oldest first (any state)."""
    query = (select(events).where(events.c.account_id == account_id).order_by(events.c.id))
    if report_type:
        query = query.where(events.c.type == report_type)
    return [dict(r) for r in conn.execute(query).mappings()]


# -- queueing -----------------------------------------------------------------------------------

_insert_events = BulkInsert(report_events, ("account_id", "type", "payload", "created_at"))


def emit_many(conn: Connection, reports: list[tuple[int, str, dict]], now: datetime) -> None:
    """Queue many reports (account id, type, payload) at once, as
    :func:`pigeon.services.review.emit_reports` does, on the driver
    (:class:`~pigeon.store.database.BulkInsert`): the hot path's copy — every final status
    queues one."""
    if reports:
        _insert_events.run(conn, [
            {"account_id": account_id, "type": report_type, "payload": payload,
             "created_at": now} for account_id, report_type, payload in reports])


# -- waking the worker ---------------------------------------------------------------------------

def watch(db: Database, notify: Callable[[], None]) -> Callable[[], None]:
    """Call ``notify()`` whenever a transaction of ``db``'s writer that queued reports has
    committed, so that a worker in this process can push them at once instead of at its next
    poll.  Returns the function that stops watching.

    ``notify`` runs in the writer's thread: it should only schedule a look elsewhere.
    Producers in other processes are not seen; workers poll for those.
    """
    def committed(tables: frozenset[str]) -> None:
        if events.name in tables or "*" in tables:  # "*": raw SQL, which may have
            notify()

    return db.writes.on_commit(committed)


# -- delivery ----------------------------------------------------------------------------------

@dataclass
class DueGroup:
    """Due events of one tenant and type, with the route they had when found."""

    account_id: int
    type: str
    mode: str
    url: str | None
    first_id: int  # the oldest of its due events that the pass saw

    @property
    def key(self) -> tuple[int, str]:
        return (self.account_id, self.type)

    @property
    def after_id(self) -> int:
        """Where claiming starts: just below the oldest due event seen."""
        return self.first_id - 1


@dataclass
class Claim:
    """What :func:`claim` took: ``events`` (id, payload) to push to ``url`` when ``mode`` is
    ``http``; in the other modes they were routed in the claiming transaction (``routed``)."""

    mode: str
    url: str | None
    events: list[tuple[int, dict]]
    routed: int = 0
    last_id: int | None = None  # the highest id taken; None: nothing was due


# claim() on the driver: SQLAlchemy's statement building and row handling were most of what
# a claim cost the dispatching process (bench/README.md).  The candidates walk the
# (account_id, type, id) index from after_id.  Their state is compared as ``state || ''``, a
# form no index serves: the query names its rows by id, and SQLite would otherwise walk the
# (state, next_attempt_at) index through every pending row instead of looking the ids up.  On
# PostgreSQL the rows another transaction holds are skipped, not waited for.
_CANDIDATES = ("SELECT id FROM report_events WHERE account_id = ? AND type = ? AND id > ? "
               "AND state || '' = 'pending' "
               "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?")
_CANDIDATES_PG = _CANDIDATES + " FOR UPDATE SKIP LOCKED"
_SKIP = ("UPDATE report_events SET state = 'skipped', next_attempt_at = NULL, "
         "delivered_at = NULL WHERE id IN ({candidates}) RETURNING id")
_TAKEN = Rows(events, ("id", "payload"))
_LEASE = ("UPDATE report_events SET next_attempt_at = ? WHERE id IN ({candidates}) "
          "RETURNING " + ", ".join(_TAKEN.names))


# A pass's three windows, each reduced in the database to the oldest event of every tenant and
# type in it: a window of a thousand events comes back as a row or a few, not a thousand read
# into Python (the dispatching process made ~75 passes a second under load, bench/README.md).
_DUE_WINDOWS = tuple(
    "SELECT account_id, type, min(id) FROM (SELECT id, account_id, type FROM report_events"
    f" WHERE state = 'pending' AND {when} ORDER BY {order} LIMIT ?) AS w"
    " GROUP BY account_id, type"
    for when, order in (("next_attempt_at IS NULL", "id"),  # the oldest new events
                        ("next_attempt_at IS NULL", "id DESC"),  # the newest new events
                        ("next_attempt_at <= ?", "next_attempt_at")))  # due retries


def due(conn: Connection, now: datetime, exclude: set[tuple[int, str]] | frozenset = frozenset(),
        window: int = 1000) -> list[DueGroup]:
    """Due events grouped by tenant and type, the group with the oldest event first, leaving
    out the groups in ``exclude`` (those a worker is pushing already, or resting after a
    failure).

    Looks at three windows of at most ``window`` events each, so that a pass costs the same
    whatever the backlog: the oldest new events (a backlog drains oldest first), the newest
    new events (a tenant with a large backlog does not hide another tenant's fresh reports)
    and the retries that are due, longest-waiting first.  The rest is found by later passes.
    """
    driver = Driver.of(conn)
    first: dict[tuple[int, str], int] = {}
    oldest, newest, retries = _DUE_WINDOWS
    for text, params in ((oldest, (window,)), (newest, (window,)),
                         (retries, (driver.time(now), window))):
        for account_id, report_type, event_id in driver.run(conn, None, text, params):
            key = (account_id, report_type)
            if key not in exclude and event_id < first.get(key, event_id + 1):
                first[key] = event_id
    groups = [DueGroup(*key, *_route(conn, *key), first_id=event_id)
              for key, event_id in first.items()]
    groups.sort(key=lambda group: group.first_id)
    return groups


_ROUTE = "SELECT mode, url FROM report_settings WHERE account_id = ? AND type = ?"


def _route(conn: Connection, account_id: int, report_type: str) -> tuple[str, str | None]:
    rows = Driver.of(conn).run(conn, None, _ROUTE, (account_id, report_type))
    if not rows:
        return "off", None
    mode, url = rows[0]
    return mode, url if mode == "http" else None


def delivery_payload(event_id: int, payload: dict) -> dict:
    """A report as it leaves Pigeon: the documented fields plus ``report_id``."""
    return {**payload, "report_id": str(event_id)}


def claim(conn: Connection, account_id: int, report_type: str, after_id: int, now: datetime,
          lease_until: datetime, per_push: int) -> Claim:
    """Take the tenant's due events of ``report_type`` with ids above ``after_id``, oldest
    first, routed by the tenant's current setting.

    ``http``: up to ``per_push`` of them are leased until ``lease_until`` and returned for
    pushing (then :func:`record_push`).  ``queue``/``off``: up to :data:`ROUTE_BATCH` are
    enqueued or skipped right here, in this transaction.  Safe with several workers: an event
    already taken is not due, so it is not taken again (conditional UPDATE; on PostgreSQL rows
    another transaction holds are skipped rather than waited for).
    """
    mode, url = _route(conn, account_id, report_type)
    driver = Driver.of(conn)
    candidates = _CANDIDATES if driver.sqlite else _CANDIDATES_PG
    picked = (account_id, report_type, after_id, driver.time(now),
              per_push if mode == "http" else ROUTE_BATCH)
    if mode == "off":
        # Skipped in one statement: no lease, and no payload read (and decoded) for nothing.
        skipped = [event_id for event_id, in driver.run(
            conn, "report_events", _SKIP.format(candidates=candidates), picked)]
        return Claim(mode, None, [], routed=len(skipped),
                     last_id=max(skipped) if skipped else None)
    taken = _TAKEN.read(conn, _LEASE.format(candidates=candidates),
                        (driver.time(lease_until), *picked), wrote="report_events")
    taken.sort(key=lambda row: row["id"])
    last_id = taken[-1]["id"] if taken else None
    if mode == "http":
        return Claim(mode, url, [(row["id"], row["payload"]) for row in taken], last_id=last_id)
    taken_ids = [row["id"] for row in taken]  # mode "queue"
    if taken:
        from pigeon.services import queues

        for row in taken:
            queues.enqueue(conn, account_id, report_type,
                           delivery_payload(row["id"], row["payload"]), now)
        conn.execute(update(events).where(events.c.id.in_(_IDS)).values(
            state="queued", next_attempt_at=None, delivered_at=now), {"ids": taken_ids})
    return Claim(mode, None, [], routed=len(taken_ids), last_id=last_id)


def acknowledgement_error(status_code: int, body: bytes) -> str | None:
    """None when the tenant's answer acknowledges a push, else why not.

    Acknowledged only by HTTP 200 with a JSON object whose ``code`` is a number (any number:
    Alibaba checks the type, not the value — spec/dysmsapi.md §6.1).
    """
    if status_code != 200:
        return f"HTTP {status_code}"
    try:
        answer = json_input.loads(body, max_length=len(body))
    except ValueError:  # also UnicodeDecodeError, and nesting deeper than anyone needs
        return f"HTTP 200 but the answer is not JSON: {_excerpt(body)}"
    code = answer.get("code") if isinstance(answer, dict) else None
    if isinstance(code, bool) or not isinstance(code, int | float):
        return f'HTTP 200 but the answer has no numeric "code": {_excerpt(body)}'
    return None


def _excerpt(body: bytes, size: int = 200) -> str:
    text = body[:size].decode("utf-8", "replace")
    return text + ("…" if len(body) > size else "")


@dataclass(frozen=True)
class Pushed:
    """What one recorded push did: how long each acknowledged report had waited since it
    was made (seconds), and how many reports it gave up on."""

    lags: list[float] = field(default_factory=list)
    given_up: int = 0


def record_push(conn: Connection, account_id: int, report_type: str, url: str, ids: list[int],
                *, error: str | None, status_code: int | None, duration_ms: int,
                now: datetime, schedule: tuple[timedelta, ...]) -> Pushed:
    """Record one HTTP push of the events ``ids``: ``error`` None means acknowledged.

    A failed push schedules each event's next try by the number of tries it has had:
    ``schedule[k]`` after its (k+1)-th failure; after ``len(schedule) + 1`` failures it is
    ``failed``, kept with ``last_error``.  Returns what the metrics count of it.
    """
    conn.execute(insert(report_attempts).values(
        account_id=account_id, type=report_type, url=url, reports=len(ids),
        status_code=status_code, ok=error is None, error=error, duration_ms=duration_ms,
        created_at=now))
    # The state in a form no index serves: see _CANDIDATES.
    mine = and_(events.c.id.in_(_IDS), events.c.state.op("||")(literal("")) == "pending")
    if error is None:
        made = conn.execute(update(events).where(mine).values(
            state="delivered", delivered_at=now, attempts=events.c.attempts + 1,
            next_attempt_at=None, last_error=None).returning(events.c.created_at),
            {"ids": ids}).scalars().all()
        return Pushed(lags=[(now - created).total_seconds() for created in made])
    tries = conn.execute(select(events.c.attempts, func.count()).where(mine)
                         .group_by(events.c.attempts), {"ids": ids}).all()
    given_up = 0
    for before, n in tries:
        after = before + 1
        values: dict = {"attempts": after, "last_error": error[:1000]}
        if after > len(schedule):
            values.update(state="failed", next_attempt_at=None)
            given_up += n
        else:
            values.update(next_attempt_at=now + schedule[after - 1])
        conn.execute(update(events).where(mine, events.c.attempts == before).values(**values),
                     {"ids": ids})
    return Pushed(given_up=given_up)


def queue_test_report(conn: Connection, account_id: int, report_type: str, local_time: str,
                      now: datetime) -> dict:
    """The console's "send a test report": one report of ``report_type`` with sample values
    (BizId ``000000000000000000^0``, OutId ``pigeon-test``), delivered like any other by the
    tenant's current setting.  ``local_time`` is ``now`` as reports write times."""
    require_account(conn, account_id)
    samples = {
        "SmsReport": {"phone_number": "13800138000", "send_time": local_time,
                      "report_time": local_time, "success": True, "err_code": "DELIVERED",
                      "err_msg": "用户接收成功", "sms_size": "1",
                      "biz_id": "000000000000000000^0", "out_id": "pigeon-test",
                      "message_id": "0"},
        "SmsUp": {"phone_number": "13800138000", "content": "test reply", "send_time": local_time,
                  "dest_code": "0000", "sequence_id": "0", "sign_name": "PigeonTest"},
        "SignSmsReport": {"sign_name": "PigeonTest", "sign_status": "approved", "reason": "",
                          "orderId": "0", "remark": "pigeon-test", "sign_source": "",
                          "sign_scene": "", "create_date": local_time},
        "TemplateSmsReport": {"template_code": "SMS_000000000", "template_name": "pigeon-test",
                              "template_type": "", "template_content": "test",
                              "template_status": "approved", "reason": "", "orderId": "0",
                              "remark": "pigeon-test", "create_date": local_time},
    }
    payload = samples[_check_type(report_type)]
    event_id = conn.execute(insert(events).values(
        account_id=account_id, type=report_type, payload=payload,
        created_at=now)).inserted_primary_key[0]
    return {"report_id": str(event_id), "type": report_type}
