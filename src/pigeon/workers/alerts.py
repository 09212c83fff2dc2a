"""The alert evaluator: every ``PIGEON_ALERT_INTERVAL`` it evaluates every tenant's rules and
the platform's checks, records what fired, and sends the notifications that are due (retrying
failed ones on ``PIGEON_ALERT_RETRY_SCHEDULE``).

Everything is in the database — alerts, notifications and their leases, and since when each
connector has been seen down — so a restart loses nothing, and a restarted evaluator (or
another node's) carries on the connector-down grace period where the last pass left it.  Tests
call :meth:`Evaluator.run_pass` with an explicit ``now`` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

import httpx

from pigeon import push_targets
from pigeon.alerts import channels
from pigeon.alerts.channels import SmtpSettings, Undelivered
from pigeon.core import alert_rules
from pigeon.services import alert_config, alert_evaluation, leases
from pigeon.services.alert_evaluation import Due, PlatformLimits, Source
from pigeon.store.database import Database
from pigeon.store.secrets import SecretBox

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)

CONCURRENCY = 8  # notifications sent at once
LEASE = "worker:alert-evaluator"


class _NotLeading(Exception):
    """Another node holds the evaluator's lease."""


def _nothing(_conn) -> None:
    return None


def _done(conn, fn, *args) -> tuple:
    """``fn``'s result, boxed: under leases.under, None means "not leading"."""
    return (fn(conn, *args),)


@dataclass
class PassResult:
    rules: int = 0
    fired: list[int] = field(default_factory=list)  # alert ids
    resolved: list[int] = field(default_factory=list)
    protections: list[int] = field(default_factory=list)
    sent: int = 0
    retrying: int = 0
    failed: int = 0


class Evaluator:
    def __init__(self, db: Database, box: SecretBox, *, zone: tzinfo, quiet: timedelta,
                 schedule: tuple[timedelta, ...], timeout: timedelta, smtp: SmtpSettings,
                 limits: PlatformLimits, connector_grace: timedelta,
                 wall: Callable[[], float] = time.time, sms_signature: str = "Pigeon",
                 wake: Callable[[], None] | None = None,
                 targets: str = push_targets.ANY,
                 node: Callable[[], int | None] = lambda: None) -> None:
        self.db = db
        self.box = box
        self.zone = zone
        self.quiet = quiet
        self.schedule = schedule
        self.timeout = timeout.total_seconds()
        self.smtp = smtp
        self.limits = limits
        self.connector_grace = connector_grace
        self.wall = wall
        self.sms_signature = sms_signature
        self.wake = wake
        # This process's node (None outside a cluster's worker): evaluation is recorded under
        # the evaluator's lease, so that two nodes never record one finding twice.
        self.node = node
        # Webhooks and DingTalk robots are tenants' URLs: PIGEON_PUSH_TARGETS applies.
        self.http = push_targets.client(targets, follow_redirects=False,
                                        timeout=httpx.Timeout(self.timeout))

    @classmethod
    def for_pigeon(cls, pigeon: Pigeon) -> Evaluator:
        s = pigeon.settings
        return cls(pigeon.db, pigeon.box, zone=s.timezone, quiet=s.alert_quiet_period,
                   schedule=s.alert_retry_schedule, timeout=s.alert_timeout,
                   smtp=SmtpSettings(host=s.smtp_host, port=s.smtp_port, user=s.smtp_user,
                                     password=s.smtp_password, sender=s.smtp_from,
                                     tls=s.smtp_tls),
                   limits=PlatformLimits(backlog_age=s.alert_backlog_age,
                                         backlog_messages=s.alert_backlog_messages,
                                         report_failures=s.alert_report_failures),
                   connector_grace=s.alert_connector_grace,
                   sms_signature=s.alert_sms_signature, wake=pigeon.wake_dispatcher,
                   targets=s.push_targets, node=lambda: pigeon.node)

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- a pass -----------------------------------------------------------------------------

    async def run_pass(self, now: datetime) -> PassResult:
        """Evaluate everything at ``now``, then send what is due (waiting for the sends)."""
        result = PassResult()
        await self.evaluate(now, result)
        await self.notify(now, result)
        return result

    async def _write_led(self, now: datetime, fn, *args):
        """``fn(conn, *args)`` as a write, under the evaluator's lease when this is a node:
        :class:`_NotLeading` where another node holds it."""
        node = self.node()
        if node is None:
            return await self.db.write(fn, *args)
        done = await self.db.write(leases.under, LEASE, node, now, _done, fn, *args)
        if done is None:
            raise _NotLeading
        return done[0]

    async def evaluate(self, now: datetime, result: PassResult | None = None) -> PassResult:
        result = result or PassResult()
        try:
            await self._write_led(now, _nothing)
        except _NotLeading:
            return result  # another node evaluates; this one only sends what is due
        for rule in await self.db.read(alert_config.enabled_rules):
            result.rules += 1
            source = Source(rule["account_id"], rule["id"], rule["kind"],
                            timedelta(seconds=rule["quiet_seconds"]), rule["channels"],
                            timedelta(seconds=alert_rules.settle_seconds(rule["kind"],
                                                                         rule["params"])))
            try:
                findings = await self.db.read(alert_evaluation.evaluate_rule, rule, now)
                self._merge(result, await self._write_led(now, alert_evaluation.record, source,
                                                          findings, now))
            except _NotLeading:
                return result
            except Exception:  # one broken rule must not silence the others
                log.exception("alerts: evaluating rule %s failed", rule["id"])
        await self._platform(now, result)
        return result

    async def _platform(self, now: datetime, result: PassResult) -> None:
        try:
            checks = await self.db.read(alert_evaluation.platform_findings, self.limits, now)
        except Exception:
            log.exception("alerts: platform checks failed")
            checks = {}
        try:
            rows = await self.db.read(alert_evaluation.connector_rows, now)
            remembered = await self.db.read(alert_evaluation.remembered_down, now,
                                            self.connector_grace)
            found, since = alert_rules.connector_findings(rows, remembered, now,
                                                          self.connector_grace)
            await self._write_led(now, alert_evaluation.remember_down, since, now)
        except _NotLeading:
            return
        except Exception:
            log.exception("alerts: checking connector states failed")
        else:
            checks["connector_down"] = found
        for kind, findings in checks.items():
            # A connector back up must stay up for the grace period before "resolved" is told.
            settle = self.connector_grace if kind == "connector_down" else timedelta(0)
            source = Source(None, None, kind, self.quiet, settle=settle)
            try:
                self._merge(result, await self._write_led(now, alert_evaluation.record, source,
                                                          findings, now))
            except _NotLeading:
                return
            except Exception:
                log.exception("alerts: recording platform check %s failed", kind)

    @staticmethod
    def _merge(result: PassResult, recorded: alert_evaluation.Recorded) -> None:
        result.fired += recorded.fired
        result.resolved += recorded.resolved
        result.protections += recorded.protections

    # -- notifications ----------------------------------------------------------------------

    async def notify(self, now: datetime, result: PassResult | None = None, *,
                     alert_id: int | None = None) -> PassResult:
        """Send every due notification (batch after batch) — only ``alert_id``'s when given —
        recording each outcome."""
        result = result or PassResult()
        lease = timedelta(seconds=self.timeout * 3 + 30)
        slots = asyncio.Semaphore(CONCURRENCY)
        while True:
            due = await self.db.write(alert_evaluation.claim_notifications, self.box,
                                      self.zone, now, lease, alert_evaluation.NOTIFY_BATCH,
                                      alert_id)
            if not due:
                return result

            async def one(item: Due) -> None:
                async with slots:
                    state = await self._send(item, now)
                if state == "sent":
                    result.sent += 1
                elif state == "pending":
                    result.retrying += 1
                else:
                    result.failed += 1

            await asyncio.gather(*(one(item) for item in due))
            if len(due) < alert_evaluation.NOTIFY_BATCH:
                return result

    async def _send(self, item: Due, now: datetime) -> str:
        target, error, final = None, None, False
        if item.channel is None:
            error, final = "the channel was removed", True
        else:
            module = channels.KINDS[item.channel.kind]
            ctx = channels.Context(http=self.http, smtp=self.smtp, db=self.db, now=now,
                                   timeout=self.timeout, wall=self.wall,
                                   sms_signature=self.sms_signature, wake=self.wake)
            try:
                target = await module.send(ctx, item.channel, item.notice)
            except Undelivered as exc:
                error = str(exc)
                target = module.describe(item.channel.config)
            except Exception as exc:  # a bug must not keep the others from being sent
                log.exception("alerts: channel %s failed", item.channel.id)
                error = f"{type(exc).__name__}: {exc}"
        if error:
            log.info("alerts: notification %s of alert %s failed: %s", item.notification_id,
                     item.notice.alert_id, error)
        return await self.db.write(alert_evaluation.record_notification, item.notification_id,
                                   target=target, error=error, now=now,
                                   schedule=self.schedule, final=final)


async def alert_evaluator(pigeon: Pigeon) -> None:
    """The worker: a pass every ``PIGEON_ALERT_INTERVAL`` until cancelled."""
    evaluator = Evaluator.for_pigeon(pigeon)
    interval = pigeon.settings.alert_interval.total_seconds()
    try:
        while True:
            try:
                result = await evaluator.run_pass(pigeon.now())
                if result.fired or result.sent or result.failed:
                    log.info("alerts: %d fired, %d notifications sent, %d failed",
                             len(result.fired), result.sent, result.failed)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alerts: pass failed; retrying")
            await asyncio.sleep(interval)
    finally:
        await evaluator.aclose()
