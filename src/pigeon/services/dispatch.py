"""Dispatch: claim queued messages, route them to a connector, record what the carrier said.

A message row is the only state, and every step is one conditional transaction on it::

    queued ──claim──▶ sending ──record──▶ sent      (accepted; the receipt comes later)
      ▲                  │          └───▶ failed    (refused for good; refunded, reported)
      └──────────────────┴── retry ─────  queued    (refused for now; tried again later)

* :func:`claim` moves due ``queued`` rows that a connector that is up can take (see
  :class:`Routing`) to ``sending`` with one ``UPDATE … WHERE status='queued' AND id IN (…)
  RETURNING``; on PostgreSQL the inner select takes its rows ``FOR UPDATE SKIP LOCKED``
  (:mod:`pigeon.store.claiming`).  However many dispatchers run, on however many machines, a
  row is claimed by one of them.
* :func:`record` applies the connector's answers, again only to rows still ``sending``, and
  runs each accepted submission's ``effect`` in the same transaction; it stores the part ids
  of multipart messages and applies the receipts that arrived before it (kept in
  ``early_receipts`` by :func:`pigeon.services.delivery.apply_receipts`).
* Every claim names the node that made it (``claimed_by``).  When a node dies its claims go
  back to the queue (:func:`pigeon.services.nodes.reap`); :func:`record` only records a
  node's own claims.  :func:`requeue_stale` gives back claims made outside any node (tests,
  tools) after :data:`STALE_AFTER`.

What a crash can cost.  For the simulator nothing: its submission *is* the ``effect`` that
commits with the ``sent`` status, so a message requeued after a crash was never in the
simulated network, and is submitted exactly once.  For a carrier on the network (SMPP, CMPP),
a crash after the SMSC accepted a message and before :func:`record` committed leaves the row
``sending``; it is requeued and submitted again, and the handset may get it twice.  No
protocol lets a client ask an SMSC "did you get this already?", so at-least-once is the
limit there; the window is one batch's round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, update

from pigeon import metrics
from pigeon.carriers.base import Outbound, Submitted
from pigeon.core.routing import SIMULATOR, Rule, choose
from pigeon.services import delivery
from pigeon.store.database import Driver, after_commit
from pigeon.store.tables import messages

__all__ = ["SIMULATOR", "Routing", "backoff", "claim", "claim_and_submit", "record",
           "requeue_stale", "route"]

log = logging.getLogger(__name__)

BATCH = 500
"""Messages claimed per transaction."""

MAX_ATTEMPTS = 10
"""Submissions a message gets while carriers refuse it "for now" (throttled, link down);
after the tenth it fails with the carrier's code (or :data:`GAVE_UP`)."""

BACKOFF_FIRST = timedelta(seconds=5)
BACKOFF_MAX = timedelta(minutes=10)
"""Retry n waits 5 s × 2ⁿ⁻¹, at most 10 minutes: 5 s, 10 s, 20 s … about 30 minutes in all
over the ten attempts."""

GAVE_UP = "SP_UNKNOWN_ERROR"
GAVE_UP_TEXT = "运营商持续拒绝提交，已放弃重试"

STALE_AFTER = timedelta(seconds=60)
"""A row ``sending`` for longer than this belongs to a dispatcher that is gone.  Connectors
answer :meth:`submit` well within it (they report "retry" rather than wait on a dead link)."""

_CLAIMED = (messages.c.id, messages.c.phone, messages.c.country_code, messages.c.carrier,
            messages.c.extend_code, messages.c.content, messages.c.encoding,
            messages.c.segments, messages.c.signature_id, messages.c.template_type)

_CLAIMED_NAMES = tuple(column.name for column in _CLAIMED)


def _claim_sql(sqlite: bool, condition: str) -> str:
    """claim()'s statement, on the driver, for the messages that meet ``condition``
    (:meth:`Routing.claimable`); on PostgreSQL as store.claiming.taken_by writes it (FOR
    UPDATE SKIP LOCKED in a MATERIALIZED CTE)."""
    due = ("SELECT id FROM messages WHERE status = 'queued' "
           f"AND (next_attempt_at IS NULL OR next_attempt_at <= ?) AND ({condition}) "
           "ORDER BY id LIMIT ?")
    if sqlite:
        return ("UPDATE messages SET status = 'sending', claimed_at = ?, claimed_by = ? "
                f"WHERE id IN ({due}) AND status = 'queued' "
                "RETURNING " + ", ".join(_CLAIMED_NAMES))
    return (f"WITH taken AS MATERIALIZED ({due} FOR UPDATE SKIP LOCKED) "
            "UPDATE messages SET status = 'sending', claimed_at = ?, claimed_by = ? "
            "FROM taken WHERE messages.id = taken.id AND messages.status = 'queued' "
            "RETURNING " + ", ".join(f"messages.{name}" for name in _CLAIMED_NAMES))


_sent = (update(messages)
         .where(messages.c.id == bindparam("b_id"), messages.c.status == "sending")
         .values(status="sent", carrier_message_id=bindparam("b_carrier_id"),
                 connector=bindparam("b_connector"), sent_at=bindparam("b_now"),
                 attempts=messages.c.attempts + 1))
# _sent as record() runs it, on the driver (_sent is for callers off the hot path: tests).
_SENT_SQL = ("UPDATE messages SET status = 'sent', carrier_message_id = ?, connector = ?, "
             "sent_at = ?, attempts = attempts + 1 WHERE id = ? AND status = 'sending'")


def _held_sql(driver: Driver) -> str:
    """The rows of a list of ids still ``sending`` and claimed by a given node, with their
    attempts; on PostgreSQL locked, so that a late twin of this record() waits, then sees
    none."""
    return ("SELECT id, attempts, template_type FROM messages WHERE id " + driver.in_ids
            + " AND status = 'sending' AND claimed_by IS NOT DISTINCT FROM ?"
            + ("" if driver.sqlite else " FOR UPDATE"))


_again = (update(messages)
          .where(messages.c.id == bindparam("b_id"), messages.c.status == "sending")
          .values(status="queued", claimed_by=None, attempts=bindparam("b_attempts"),
                  next_attempt_at=bindparam("b_next")))


@dataclass(frozen=True)
class Routing:
    """What one claim routes by: the rules in the order they are tried
    (:func:`pigeon.core.routing.ordered`), the names of the connectors that are up anywhere in
    the cluster, and of those, the ones this node runs (``local``; ``None``: all of them).
    An immutable snapshot, taken once per pass, so the claim (on the database's writer
    thread) and the routing of what it claimed agree.  The default is the embedded setup: no
    rules, the simulator up here."""

    rules: tuple[Rule, ...] = ()
    up: frozenset[str] = frozenset({SIMULATOR})
    local: frozenset[str] | None = None

    def runs_here(self, name: str) -> bool:
        return self.local is None or name in self.local

    def claimable(self) -> tuple[str, tuple] | None:
        """The messages whose route leads to a connector of this node, as a condition on
        ``messages`` in driver SQL (store.database.Driver) and its parameters (``None``:
        none).  The claim leaves the others queued without touching them: no attempt is spent
        on a message that has nowhere to go (it flows as soon as a connector for it is up),
        and a message routed to a connector another node runs is that node's to claim.

        A message counts as taken by an earlier rule only where that rule's conditions are
        true, as :func:`pigeon.core.routing.choose` decides in Python: a message without a
        carrier (an international number) is not "another carrier's" for SQL's NULL."""
        if not self.rules:
            return ("1 = 1", ()) if SIMULATOR in self.up and self.runs_here(SIMULATOR) \
                else None
        alternatives: list[str] = []
        params: list[object] = []
        earlier: list[tuple[str, tuple]] = []  # what the usable rules before took
        for rule in self.rules:
            target = rule.usable(self.up)
            if target is None:
                continue
            conditions = rule.conditions
            matches = " AND ".join(f"{name} = ?" for name in conditions) or "1 = 1"
            if self.runs_here(target):
                if earlier:
                    taken = " OR ".join(f"({text})" for text, _ in earlier)
                    alternatives.append(f"({matches}) AND NOT COALESCE({taken}, FALSE)")
                    params += [*conditions.values(),
                               *(value for _, values in earlier for value in values)]
                else:
                    alternatives.append(f"({matches})")
                    params += conditions.values()
            if not conditions:
                break  # every later rule's messages are this one's
            earlier.append((matches, tuple(conditions.values())))
        if not alternatives:
            return None
        return " OR ".join(f"({text})" for text in alternatives), tuple(params)


EMBEDDED = Routing()


def route(message: Mapping, routing: Routing = EMBEDDED) -> str | None:
    """The connector that carries ``message`` (a claimed row), or ``None``: no rule sends it
    anywhere now (see :mod:`pigeon.core.routing`)."""
    return choose(routing.rules, routing.up, carrier=message["carrier"],
                  country_code=message["country_code"], template_type=message["template_type"])


def backoff(attempts: int) -> timedelta:
    """How long to wait before the next submission, after ``attempts`` refused ones."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def claim(conn: Connection, limit: int, now: datetime, access_code: str,
          routing: Routing = EMBEDDED, node: int | None = None) -> list[tuple[str, Outbound]]:
    """Claim up to ``limit`` due queued messages that ``routing`` sends through a connector
    of this node, oldest first, for ``node`` (:mod:`pigeon.services.nodes`); returns them
    routed, as (connector name, :class:`Outbound`).  ``access_code`` is the platform's sender
    number, to which each message's extension code is appended."""
    claimable = routing.claimable()
    if claimable is None:
        return []
    condition, condition_params = claimable
    driver = Driver.of(conn)
    at = driver.time(now)
    text = _claim_sql(driver.sqlite, condition)
    params = ((at, node, at, *condition_params, limit) if driver.sqlite
              else (at, *condition_params, limit, at, node))
    rows = [dict(zip(_CLAIMED_NAMES, values, strict=True))
            for values in driver.run(conn, "messages", text, params)]
    claimed = []
    unrouted = []
    for row in sorted(rows, key=lambda r: r["id"]):
        name = route(row, routing)
        if name is None or not routing.runs_here(name):
            # Cannot happen with one snapshot for both; never lose a message.
            unrouted.append(row["id"])
            continue
        claimed.append((name, Outbound(
            message_id=row["id"], phone=row["phone"], country_code=row["country_code"],
            carrier=row["carrier"], sender=access_code + (row["extend_code"] or ""),
            content=row["content"], encoding=row["encoding"], segments=row["segments"],
            signature_id=row["signature_id"], template_type=row["template_type"])))
    if unrouted:
        conn.execute(update(messages).where(messages.c.id.in_(unrouted))
                     .values(status="queued", claimed_by=None))
    return claimed


InlineSubmit = Callable[[Connection, list[Outbound], datetime], list[Submitted]]
"""A connector that answers from the database at once (the simulator's ``submit_in``):
submits a batch inside the transaction that claimed it."""


def claim_and_submit(conn: Connection, limit: int, now: datetime, access_code: str,
                     routing: Routing, inline: Mapping[str, InlineSubmit],
                     zone: ZoneInfo, node: int | None = None
                     ) -> tuple[int, list[tuple[str, Outbound]]]:
    """:func:`claim`, and for the messages routed to a connector in ``inline`` also the
    submission and :func:`record`, all in this one transaction; returns how many messages
    were claimed and those left to submit (routed to other connectors) as :func:`claim` does.

    A failing ``inline`` submission is a "retry" for its batch, as a failing ``submit`` is
    for the dispatcher.  A crash loses nothing: the claim, the answers and their effects
    commit together or not at all.
    """
    claimed = claim(conn, limit, now, access_code, routing, node)
    rest: list[tuple[str, Outbound]] = []
    batches: dict[str, list[Outbound]] = {}
    for name, message in claimed:
        if name in inline:
            batches.setdefault(name, []).append(message)
        else:
            rest.append((name, message))
    for name, batch in batches.items():
        try:
            results = inline[name](conn, batch, now)
        except Exception:
            log.exception("dispatch: connector %s failed to submit %d message(s)", name,
                          len(batch))
            results = []
        answered = {r.message_id for r in results}
        results = [*results, *(Submitted(m.message_id, retry=True) for m in batch
                               if m.message_id not in answered)]
        record(conn, name, results, zone, now, node=node)
    return len(claimed), rest


def record(conn: Connection, connector_name: str, results: list[Submitted], zone: ZoneInfo,
           now: datetime, sent_at: datetime | None = None, *,
           node: int | None = None) -> dict[str, int]:
    """Apply one connector's answers for messages ``node``'s dispatcher claimed.

    Accepted (``carrier_message_id``): ``sent`` at ``sent_at`` (when the submission began;
    default ``now``: a receipt may come back before this runs, and ``SendDate`` must not
    follow its ``ReceiveDate``), and the submission's ``effect`` runs here,
    after the rows are updated (once per effect object: several results may share one).
    Refused for good (``error``): ``failed`` with that code, refunded, reported.  Refused for
    now (``retry``; ``error`` then names why): back to ``queued`` after :func:`backoff`, and
    failed after :data:`MAX_ATTEMPTS`.  Rows no longer ``sending`` by ``node`` (given back
    after its node was declared dead while paused — :mod:`pigeon.services.nodes` — and taken
    over by another dispatcher) are left alone, effects included.  Returns counts.
    """
    ids = [r.message_id for r in results]
    # The hot statements of record() run on the driver (store.database.Driver): SQLAlchemy's
    # per-row parameter processing was most of their cost.
    driver = Driver.of(conn)
    held = driver.run(conn, None, _held_sql(driver), (driver.ids(ids), node)) if ids else []
    attempts = {message_id: tries for message_id, tries, _type in held}
    counts = {"sent": 0, "failed": 0, "retry": 0, "skipped": 0}
    sent, again, failed = [], [], []
    for result in results:
        if result.message_id not in attempts:
            counts["skipped"] += 1
        elif result.retry:
            tries = attempts[result.message_id] + 1
            if tries >= MAX_ATTEMPTS:
                failed.append(delivery.Final(result.message_id, False, result.error or GAVE_UP,
                                             result.error_message or GAVE_UP_TEXT))
            else:
                again.append({"b_id": result.message_id, "b_attempts": tries,
                              "b_next": now + backoff(tries)})
        elif result.carrier_message_id:
            sent.append(result)
        else:
            failed.append(delivery.Final(result.message_id, False, result.error or GAVE_UP,
                                         result.error_message))
    if sent:
        stored_at = driver.time(sent_at or now)
        driver.run_many(conn, "messages", _SENT_SQL, [
            (r.carrier_message_id, connector_name, stored_at, r.message_id) for r in sent])
        delivery.store_parts(conn, connector_name, [
            (r.message_id, part_id) for r in sent for part_id in r.part_ids if part_id], now)
        ran: set[int] = set()
        for result in sent:
            # An effect shared by several results (a connector's batch effect) runs once.
            if result.effect is not None and id(result.effect) not in ran:
                ran.add(id(result.effect))
                result.effect(conn)
        counts["sent"] = len(sent)
        types = {message_id: template_type for message_id, _tries, template_type in held}
        after_commit(conn, lambda: metrics.sent(
            (connector_name, types[r.message_id]) for r in sent))
        # Receipts that overtook this record() wait in early_receipts: match them now.
        if delivery.has_early(conn):
            counts["early"] = delivery.match_early(
                conn, zone, connector=connector_name,
                ids=[r.carrier_message_id for r in sent]
                + [part_id for r in sent for part_id in r.part_ids if part_id])
    if again:
        conn.execute(_again, again)
        counts["retry"] = len(again)
    if failed:
        counts["failed"] = len(delivery.finish_many(conn, failed, zone, now))
    return counts


def requeue_stale(conn: Connection, now: datetime, older_than: timedelta = STALE_AFTER) -> int:
    """Give rows claimed by no node (outside a running Pigeon's dispatcher) before ``now -
    older_than`` and never recorded back to the queue; returns how many.  A node's claims go
    back when the node dies (:func:`pigeon.services.nodes.reap`).  See the module's note on
    what this may duplicate."""
    result = conn.execute(update(messages).where(
        messages.c.status == "sending", messages.c.claimed_by.is_(None),
        messages.c.claimed_at <= now - older_than)
        .values(status="queued"))
    return result.rowcount or 0
