"""The report worker: delivers tenants' reports by HTTP push (and routes queue / off).

A pass finds due ``pending`` report events (a few small windows, see
:func:`pigeon.services.reports.due`), groups them by tenant and type — one URL per group — and
gives each group a task: claim the group's next batch, oldest first (leased with a conditional
UPDATE, :func:`pigeon.services.reports.claim`), POST it as one JSON array, record the outcome,
and so on until nothing is due.  Up to ``PIGEON_REPORT_CONCURRENCY`` groups are pushed at once
and a group being pushed is left out of the next passes, so one slow or dead endpoint holds one
slot, never the others.  A group starts with one request in flight and opens more lanes after
an acknowledgement (a backlog drains fast; a dead endpoint gets one request).  After a failed
push the group rests in this worker until its first retry is due.

Everything durable is in the database: a restart or a crash loses nothing — events a dead
worker had claimed are due again when their lease runs out.  Tests drive
:meth:`Reporter.run_pass` with an explicit ``now`` instead of sleeping through the retry
schedule.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from pigeon import __version__, logs, metrics, push_targets
from pigeon.services import reports, retention

if TYPE_CHECKING:
    from pigeon.app import Pigeon
    from pigeon.store.database import Database

log = logging.getLogger(__name__)

# How often an idle worker looks for reports queued by other processes (or missed by the
# wake-up below).  A pass that finds nothing costs three indexed reads.
POLL_SECONDS = 0.25
# The least time between the starts of two passes.  Under load every commit of receipts and
# every push that ends wakes the worker, and a pass (its three windows' reads) found the same
# groups again dozens of times a second; the groups being pushed go on claiming meanwhile, so
# a new pass is only for other tenants' reports and retries, which can wait this long.
PASS_GAP = 0.05
PURGE_INTERVAL = timedelta(minutes=10)
# How many due events a pass looks at in each of its windows (see reports.due); the next
# pass finds the rest.  Small enough that a pass costs little whatever the backlog.
SCAN_WINDOW = 1000
# Pushes one endpoint may have in flight at once, when it has that many batches waiting and
# few other endpoints are being pushed to.
LANES = 4
# Batches one group's task pushes before it ends and lets a new pass look again (for retries
# that came due, and for other tenants when every slot is taken).
TASK_BATCHES = 100
# An answer that keeps trickling in is cut off after this many PIGEON_REPORT_TIMEOUTs.
TRICKLE_FACTOR = 3
# How long stopping the worker may wait for pushes and connections to close.
CLOSE_SECONDS = 5
# A tenant's acknowledgement is a small JSON object; more than this is not read.
MAX_ANSWER_BYTES = 64 * 1024
HEADERS = {"Content-Type": "application/json; charset=utf-8",
           "User-Agent": f"Pigeon-Reports/{__version__}"}


@dataclass
class PassResult:
    groups: int = 0  # tenant/type groups worked on
    pushes: int = 0  # HTTP requests made
    acknowledged: int = 0  # requests the tenant acknowledged
    delivered: int = 0  # reports in acknowledged requests
    routed: int = 0  # reports moved to a queue or skipped


@dataclass(frozen=True)
class Push:
    error: str | None  # None: acknowledged
    status_code: int | None
    duration_ms: int


class Reporter:
    """Pushes reports; one per worker process, sharing one HTTP client (connection reuse)."""

    def __init__(self, db: Database, *, schedule: tuple[timedelta, ...],
                 timeout: timedelta = timedelta(seconds=5), batch: int = 100,
                 concurrency: int = 16, lease: timedelta = timedelta(minutes=1),
                 scan_window: int = SCAN_WINDOW, retention: timedelta | None = None,
                 targets: str = push_targets.ANY) -> None:
        self.db = db
        self.retention = retention  # None: keep everything (see services/retention.py)
        self._purged: datetime | None = None
        self.schedule = schedule
        self.timeout = timeout.total_seconds()
        self.batch = batch
        self.concurrency = concurrency
        # A lease shorter than a push would let a second worker push the same reports while
        # the first is still waiting for the answer.
        self.lease = max(lease, (TRICKLE_FACTOR + 1) * timeout)
        self.scan_window = scan_window
        # Room for every lane of every slot: waiting for a pooled connection must never be
        # what times a push out.
        connections = concurrency * LANES
        self.client = push_targets.client(
            targets, timeout=httpx.Timeout(self.timeout), follow_redirects=False,
            limits=httpx.Limits(max_connections=connections,
                                max_keepalive_connections=connections))
        self._busy: set[tuple[int, str]] = set()  # groups being pushed by this worker
        self._held: dict[tuple[int, str], datetime] = {}  # groups resting after a failure
        self._tasks: set[asyncio.Task] = set()
        self._wake = asyncio.Event()

    @classmethod
    def for_pigeon(cls, pigeon: Pigeon) -> Reporter:
        s = pigeon.settings
        return cls(pigeon.db, schedule=s.report_retry_schedule, timeout=s.report_timeout,
                   batch=s.report_batch, concurrency=s.report_concurrency, lease=s.report_lease,
                   retention=s.retention, targets=s.push_targets)

    async def aclose(self) -> None:
        """Stop the pushes under way (their reports stay leased and come back after the lease)
        and close the HTTP client; never waits more than a few seconds."""
        for task in list(self._tasks):
            task.cancel()
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await self.client.aclose()
        except TimeoutError:
            log.warning("report worker: pushes or connections did not close in %ss",
                        CLOSE_SECONDS)

    # -- passes ----------------------------------------------------------------------------

    async def run_pass(self, now: datetime) -> PassResult:
        """One pass at time ``now``, waiting for every push it started."""
        result = PassResult()
        await asyncio.gather(*await self._start(now, result))
        return result

    async def run(self, clock: Callable[[], datetime], *, watch_others: bool = False) -> None:
        """Pass after pass until cancelled; a pass does not wait for the pushes it starts.

        A new pass starts when a push ends, when this process queues reports (see
        :func:`reports.watch`), with ``watch_others`` when another process does
        (:meth:`~pigeon.store.database.Database.watch_others`), and otherwise every
        :data:`POLL_SECONDS` — never sooner than :data:`PASS_GAP` after the last began.
        """
        loop = asyncio.get_running_loop()
        wake = lambda: loop.call_soon_threadsafe(self._wake.set)  # noqa: E731
        unwatch = reports.watch(self.db, wake)
        unwatch_others = self.db.watch_others("report_events", wake) if watch_others else None
        try:
            while True:
                self._wake.clear()
                began = loop.time()
                try:
                    now = clock()
                    await self._start(now, PassResult())
                    await self.purge_if_due(now)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("report pass failed; retrying")
                try:
                    # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that
                    # arrives as the wait ends, and the worker would never stop.
                    async with asyncio.timeout(POLL_SECONDS):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                rest = began + PASS_GAP - loop.time()
                if rest > 0:
                    await asyncio.sleep(rest)
        finally:
            unwatch()
            if unwatch_others is not None:
                unwatch_others()

    async def purge_if_due(self, now: datetime) -> dict[str, int] | None:
        """Every :data:`PURGE_INTERVAL` (and at start), drop what is past retention."""
        if self.retention is None or (self._purged is not None
                                      and now - self._purged < PURGE_INTERVAL):
            return None
        self._purged = now
        dropped = await retention.purge(self.db, now, self.retention)
        if any(dropped.values()):
            log.info("retention: dropped %s", ", ".join(f"{n} from {t}"
                                                         for t, n in dropped.items() if n))
        return dropped

    async def _start(self, now: datetime, result: PassResult) -> list[asyncio.Task]:
        room = self.concurrency - len(self._busy)  # the slots: groups pushed at once
        if room <= 0:
            return []
        self._held = {key: until for key, until in self._held.items() if until > now}
        groups = await self.db.read(reports.due, now, frozenset(self._busy | self._held.keys()),
                                    self.scan_window)
        started = []
        base, t0 = now, time.monotonic()

        def clock() -> datetime:
            return base + timedelta(seconds=time.monotonic() - t0)

        for group in groups[:room]:
            self._busy.add(group.key)
            result.groups += 1
            task = asyncio.create_task(self._work(group, clock, result))
            self._tasks.add(task)
            started.append(task)
        return started

    async def _work(self, group: reports.DueGroup, clock: Callable[[], datetime],
                    result: PassResult) -> None:
        try:
            await self._push_group(group, clock, result)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Claimed events stay leased and come back when the lease runs out.
            log.exception("pushing %s reports of account %s failed", group.type,
                          group.account_id)
        finally:
            self._busy.discard(group.key)
            self._tasks.discard(asyncio.current_task())
            self._wake.set()

    async def _push_group(self, group: reports.DueGroup, clock: Callable[[], datetime],
                          result: PassResult) -> None:
        """Claim and push (or route) the group's due events batch after batch, oldest first;
        after a failed push, stop and rest until the first retry is due.

        One push at a time to begin with; after an acknowledged one, more lanes open (up to
        :data:`LANES`, fewer when many groups share the slots), so a backlog drains quickly
        while a dead endpoint never ties up more than one request.
        """
        per_push = 1 if group.type in reports.SINGLE_TYPES else self.batch
        lanes = max(1, min(LANES, self.concurrency // max(1, len(self._busy))))
        after = group.after_id
        budget = TASK_BATCHES
        done = False
        opened = 0

        async def lane() -> None:
            nonlocal after, budget, done
            while not done and budget > 0:
                budget -= 1
                now = clock()
                claim = await self.db.write(reports.claim, group.account_id, group.type,
                                            after, now, now + self.lease, per_push)
                if claim.last_id is None:  # nothing left
                    done = True
                    return
                after = max(after, claim.last_id)
                result.routed += claim.routed
                if not claim.events:
                    continue
                if not await self._push(group, claim, clock, result):
                    done = True
                    return
                open_lane()

        def open_lane() -> None:
            nonlocal opened
            if opened < lanes:
                opened += 1
                tasks.create_task(lane())

        async with asyncio.TaskGroup() as tasks:
            open_lane()

    async def _push(self, group: reports.DueGroup, claim: reports.Claim,
                    clock: Callable[[], datetime], result: PassResult) -> bool:
        body = json.dumps([reports.delivery_payload(event_id, payload)
                           for event_id, payload in claim.events],
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        push = await self.post(claim.url, body)
        taken = [event_id for event_id, _payload in claim.events]
        done = clock()
        pushed = await self.db.write(
            reports.record_push, group.account_id, group.type, claim.url, taken,
            error=push.error, status_code=push.status_code, duration_ms=push.duration_ms,
            now=done, schedule=self.schedule)
        metrics.report_push(group.type, push.error is None, pushed.lags)
        metrics.reports_given_up(group.type, pushed.given_up)
        result.pushes += 1
        if push.error is not None:
            log.info("push of %d %s report(s) to %s failed: %s", len(taken), group.type,
                     claim.url, push.error,
                     extra={"context": logs.fields() | _about(group, claim)})
            # Rest until the first retry is due; the rest of the group waits with it.
            rest = self.schedule[0] if self.schedule else self.lease
            self._held[group.key] = done + rest
            return False
        result.acknowledged += 1
        result.delivered += len(taken)
        return True

    # -- HTTP ------------------------------------------------------------------------------

    async def post(self, url: str, body: bytes) -> Push:
        """POST one JSON array; what the tenant answered (or why there was no answer)."""
        started = time.monotonic()
        status_code = None
        try:
            # httpx's own timeouts (connect, write, each read) end a silent endpoint cleanly.
            # The outer deadline is only for an endpoint trickling its answer byte by byte: it
            # cancels the request, which httpcore handles less gracefully (a cancelled request
            # can leave its connection pool short of a slot), so it is kept well apart.
            async with asyncio.timeout(self.timeout * TRICKLE_FACTOR):
                async with self.client.stream("POST", url, content=body,
                                              headers=HEADERS) as response:
                    status_code = response.status_code
                    answer = bytearray()
                    async for piece in response.aiter_bytes():
                        answer += piece
                        if len(answer) > MAX_ANSWER_BYTES:
                            break
            error = reports.acknowledgement_error(status_code, bytes(answer))
        except TimeoutError:
            error = f"no complete answer within {self.timeout * TRICKLE_FACTOR:g}s"
        except httpx.TimeoutException:
            error = f"no answer within {self.timeout:g}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Push(error, status_code,
                    round((time.monotonic() - started) * 1000))


def _about(group: reports.DueGroup, claim: reports.Claim) -> dict:
    """A push's log context: the account, and the messages its reports are about (their
    BizId and message id, the first few)."""
    payloads = [payload for _id, payload in claim.events if isinstance(payload, dict)]
    about: dict[str, object] = {"account_id": group.account_id}
    biz_ids = [p["biz_id"] for p in payloads if p.get("biz_id")][:MENTIONED]
    if biz_ids:
        about["biz_id"] = biz_ids
        about["message_id"] = [p["message_id"] for p in payloads
                               if p.get("message_id")][:MENTIONED]
    return about


MENTIONED = 20
"""How many of a push's messages its log line names."""


async def reporter(pigeon: Pigeon) -> None:
    """The worker: runs passes until cancelled."""
    worker = Reporter.for_pigeon(pigeon)
    try:
        await worker.run(pigeon.now, watch_others=pigeon.watch_others)
    finally:
        await worker.aclose()
