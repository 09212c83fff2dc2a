"""Evaluating alert rules and platform checks, recording alerts, and their notifications.

The evaluator (``pigeon.workers.alerts``) drives three steps, each a plain function on a
connection:

1. *Figures* (reads): :func:`evaluate_rule` counts what one tenant rule watches and asks the
   pure core (:mod:`pigeon.core.alert_rules`) for findings; :func:`platform_findings` does the
   same for the operators' built-in checks.
2. *Recording* (one write per rule): :func:`record` plans incidents against the latest alert
   of each subject (one incident → one alert; quiet periods), inserts new alerts with one
   pending notification per channel to tell, switches on the protection an SMS-pumping finding
   asks for, and resolves incidents whose finding is gone — with one pending *resolved*
   notification per channel told when it fired, due once the incident has stayed clear for
   the source's ``settle`` period (a relapse before that reopens the alert and withdraws it;
   an alert's resolution is told at most once).
3. *Notifications*: :func:`claim_notifications` leases due ones (a conditional UPDATE, so two
   evaluators never send the same one), the worker sends them, :func:`record_notification`
   keeps the outcome — ``sent`` with who was told, or the error and the next retry
   (``PIGEON_ALERT_RETRY_SCHEDULE``), then ``failed``.

Two evaluators on PostgreSQL may both see a new incident in the same instant and both fire it:
a race accepted on purpose (an alert told twice), the window being one pass.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import Connection, and_, delete, distinct, func, insert, or_, select, update

from pigeon import metrics
from pigeon.alerts.channels import Channel
from pigeon.alerts.notice import Notice
from pigeon.core import alert_rules, pumping
from pigeon.core.alert_rules import Finding
from pigeon.core.limits import OTP
from pigeon.services import alert_config, alert_conversions, otp_protection
from pigeon.services.billing import balance
from pigeon.store.claiming import taken_by
from pigeon.store.database import after_commit
from pigeon.store.secrets import SecretBox
from pigeon.store.tables import (
    accounts,
    alert_channels,
    alert_notifications,
    alerts,
    connector_down_since,
    messages,
    otp_protections,
    packages,
    report_events,
)

PHONE_CHUNK = 500  # numbers per IN (…) when looking for follow-up messages
NOTIFY_BATCH = 100


# -- figures ----------------------------------------------------------------------------------

def _count(conn: Connection, account_id: int, since: datetime, until: datetime) -> int:
    return conn.scalar(select(func.count()).select_from(messages).where(
        messages.c.account_id == account_id, messages.c.created_at > since,
        messages.c.created_at <= until)) or 0


def evaluate_rule(conn: Connection, rule: dict, now: datetime) -> list[Finding]:
    """What one tenant rule finds at ``now`` (reads only)."""
    account_id, kind, p = rule["account_id"], rule["kind"], rule["params"]
    if kind == "balance":
        found = alert_rules.balance_finding(balance(conn, account_id), p["below"])
    elif kind == "package":
        rows = conn.execute(select(packages).where(packages.c.account_id == account_id,
                                                   packages.c.expires_at > now)).mappings()
        found = alert_rules.package_finding(
            [alert_rules.PackageLeft(r["id"], r["kind"], r["remaining"], r["total"],
                                     r["expires_at"]) for r in rows], p["below"], now)
    elif kind == "volume":
        period = timedelta(hours=1) if p["per"] == "hour" else timedelta(days=1)
        found = alert_rules.volume_finding(_count(conn, account_id, now - period, now),
                                           p["above"], p["per"])
    elif kind == "spike":
        window, baseline = timedelta(seconds=p["window"]), timedelta(seconds=p["baseline"])
        found = alert_rules.spike_finding(
            _count(conn, account_id, now - window, now),
            _count(conn, account_id, now - window - baseline, now - window),
            window=p["window"], baseline=p["baseline"], factor=p["factor"], minimum=p["min"])
    elif kind == "success_rate":
        counts = dict(conn.execute(select(messages.c.status, func.count()).where(
            messages.c.account_id == account_id,
            messages.c.created_at > now - timedelta(seconds=p["window"]),
            messages.c.created_at <= now, messages.c.status.in_(("delivered", "failed")))
            .group_by(messages.c.status)).all())
        found = alert_rules.success_finding(counts.get("delivered", 0), counts.get("failed", 0),
                                            below=p["below"], minimum=p["min"])
    elif kind == "otp_pumping":
        return pumping.pumping_findings(otp_traffic(conn, account_id, p, now), p, now)
    else:
        raise ValueError(f"unknown rule kind {kind!r}")
    return [found] if found else []


def otp_traffic(conn: Connection, account_id: int, p: dict, now: datetime
                ) -> pumping.OtpTraffic:
    """The OTP traffic an ``otp_pumping`` rule looks at, grouped in the database (only the
    groups at or above their threshold come back)."""
    since = now - timedelta(seconds=p["window"])
    otp = and_(messages.c.account_id == account_id, messages.c.template_type == OTP,
               messages.c.created_at > since, messages.c.created_at <= now)
    numbers = func.count(distinct(messages.c.phone))
    prefix = func.substr(messages.c.phone, 1, p["prefix"])
    ranges = dict(conn.execute(select(prefix, numbers).where(
        otp, messages.c.country_code == alert_rules.MAINLAND).group_by(prefix)
        .having(numbers >= p["range_numbers"])).all())
    countries = dict(conn.execute(select(messages.c.country_code, numbers).where(
        otp, messages.c.country_code != alert_rules.MAINLAND)
        .group_by(messages.c.country_code).having(numbers >= p["country_numbers"])).all())
    ips = {} if p["ip_numbers"] is None else dict(conn.execute(
        select(messages.c.source_ip, numbers).where(otp, messages.c.source_ip.is_not(None))
        .group_by(messages.c.source_ip).having(numbers >= p["ip_numbers"])).all())
    followed, unconverted, conversions = (0, 0), {}, False
    if p["unverified_numbers"] is not None:
        conversions = alert_conversions.reports_conversions(conn, account_id, now)
        if conversions:
            unconverted = _unconverted(conn, account_id, p, now)
        else:
            followed = _followed(conn, account_id, p, now)
    return pumping.OtpTraffic(ranges=ranges, countries=countries, ips=ips,
                              followed=followed, conversions=conversions,
                              unconverted=unconverted)


def _unconverted(conn: Connection, account_id: int, p: dict, now: datetime
                 ) -> dict[str, tuple[int, int]]:
    """Per range or country, (numbers, numbers with no reported conversion) among the OTP
    sends of the window that ends ``follow_up`` ago, for an account that reports conversions."""
    end = now - timedelta(seconds=p["follow_up"])
    start = end - timedelta(seconds=p["window"])
    sends = conn.execute(select(messages.c.phone, messages.c.country_code).where(
        messages.c.account_id == account_id, messages.c.template_type == OTP,
        messages.c.created_at > start, messages.c.created_at <= end).distinct()).all()
    if len(sends) < p["unverified_numbers"]:
        return {}  # too few to fire anywhere
    done = alert_conversions.converted(conn, account_id, sorted({s[0] for s in sends}), start,
                                       now)
    return pumping.count_unconverted([(s[0], s[1]) for s in sends], done, p["prefix"])


def _followed(conn: Connection, account_id: int, p: dict, now: datetime) -> tuple[int, int]:
    """(numbers, numbers that never came back) among the OTP sends of the window that ends
    ``follow_up`` ago — the latest whose follow-up period is over."""
    follow_up = timedelta(seconds=p["follow_up"])
    end = now - follow_up
    start = end - timedelta(seconds=p["window"])
    sends = conn.execute(select(messages.c.phone, messages.c.created_at).where(
        messages.c.account_id == account_id, messages.c.template_type == OTP,
        messages.c.created_at > start, messages.c.created_at <= end)).all()
    phones = sorted({phone for phone, _at in sends})
    if len(phones) < p["unverified_numbers"]:
        return len(phones), 0  # too few to fire: spare the follow-up query
    later: dict[str, list[datetime]] = {}
    for index in range(0, len(phones), PHONE_CHUNK):
        chunk = phones[index:index + PHONE_CHUNK]
        for phone, at in conn.execute(select(messages.c.phone, messages.c.created_at).where(
                messages.c.account_id == account_id, messages.c.phone.in_(chunk),
                messages.c.created_at > start, messages.c.created_at <= now)):
            later.setdefault(phone, []).append(at)
    return pumping.count_unverified(sends, later, follow_up)


@dataclass(frozen=True)
class PlatformLimits:
    backlog_age: timedelta
    backlog_messages: int
    report_failures: int


def platform_findings(conn: Connection, limits: PlatformLimits,
                      now: datetime) -> dict[str, list[Finding]]:
    """The built-in operator checks other than connectors: queue backlog, report pushes."""
    count, oldest = conn.execute(select(func.count(), func.min(messages.c.created_at)).where(
        messages.c.status.in_(("queued", "sending")),
        messages.c.created_at <= now - limits.backlog_age)).one()
    backlog = alert_rules.backlog_finding(count or 0, oldest, now, age=limits.backlog_age,
                                          minimum=limits.backlog_messages)
    piles: dict[int, list[int]] = {}
    for account_id, n in conn.execute(select(report_events.c.account_id, func.count()).where(
            report_events.c.state == "failed").group_by(report_events.c.account_id)):
        piles.setdefault(account_id, [0, 0])[0] = n
    for account_id, n in conn.execute(select(report_events.c.account_id, func.count()).where(
            report_events.c.state == "pending", report_events.c.attempts > 0)
            .group_by(report_events.c.account_id)):
        piles.setdefault(account_id, [0, 0])[1] = n
    return {"queue_backlog": [backlog] if backlog else [],
            "report_failures": alert_rules.report_failure_findings(
                {a: (f, r) for a, (f, r) in piles.items()}, limits.report_failures)}


def connector_rows(conn: Connection, now: datetime) -> dict[str, dict]:
    """Every enabled connector with its live state (``pigeon connector list``), by name."""
    from pigeon.services import connectors

    return {row["name"]: row for row in connectors.listing(conn, now) if row["enabled"]}


DOWN_MEMORY = timedelta(minutes=15)
"""A "down since" last confirmed longer ago than this (or than the grace period, if longer) is
forgotten: Pigeon was stopped, and what happened meanwhile is unknown."""


def remembered_down(conn: Connection, now: datetime, grace: timedelta) -> dict[str, datetime]:
    """Since when each connector has been seen down, as the evaluators (this one before a
    restart, or another node's) recorded it."""
    forget = now - max(grace, DOWN_MEMORY)
    return {row.connector: row.since for row in conn.execute(select(connector_down_since))
            if row.seen_at >= forget}


def remember_down(conn: Connection, since: dict[str, datetime], now: datetime) -> None:
    """Keep ``since`` (connector → down since) for the next pass, whichever evaluator makes it;
    connectors not in it are up again.  A connector already recorded keeps its earlier
    "since" (two evaluators may both record it)."""
    gone = delete(connector_down_since)
    if since:
        gone = gone.where(connector_down_since.c.connector.not_in(list(since)))
    conn.execute(gone)
    if not since:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    statement = upsert(connector_down_since)
    conn.execute(statement.on_conflict_do_update(
        index_elements=[connector_down_since.c.connector],
        set_={"seen_at": statement.excluded.seen_at}),
        [{"connector": name, "since": at, "seen_at": now} for name, at in since.items()])


# -- recording --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """Whose findings: a tenant rule (``rule_id``), or a platform check (``account_id`` and
    ``rule_id`` None, ``kind`` the check)."""

    account_id: int | None
    rule_id: int | None
    kind: str
    quiet: timedelta
    channels: list[int] | None = None  # a rule's chosen channels; None: all the owner's
    settle: timedelta = timedelta(0)  # how long an incident stays clear before it is told over


@dataclass
class Recorded:
    fired: list[int]
    resolved: list[int]
    protections: list[int]


def _latest(conn: Connection, source: Source, now: datetime) -> dict[str, alert_rules.Incident]:
    mine = alerts.c.rule_id == source.rule_id if source.rule_id is not None else and_(
        alerts.c.rule_id.is_(None), alerts.c.kind == source.kind)
    rows = conn.execute(select(alerts.c.id, alerts.c.subject, alerts.c.fired_at,
                               alerts.c.resolved_at).where(
        mine, or_(alerts.c.resolved_at.is_(None), alerts.c.fired_at >= now - source.quiet,
                  alerts.c.resolved_at >= now - source.settle))
        .order_by(alerts.c.id)).all()
    return {r.subject: alert_rules.Incident(r.id, r.fired_at, r.resolved_at is not None,
                                            r.resolved_at)
            for r in rows}  # the newest row of each subject wins


def record(conn: Connection, source: Source, findings: list[Finding],
           now: datetime) -> Recorded:
    """Turn one source's findings into alerts, protections and pending notifications."""
    plan = alert_rules.plan_incidents(findings, _latest(conn, source, now), source.quiet, now,
                                      settle=source.settle)
    done = Recorded([], plan.resolve, [])
    for alert_id, _finding in plan.ongoing:
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(last_seen_at=now))
    for alert_id, _finding in plan.reopen:
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
            last_seen_at=now, resolved_at=None))
    if plan.reopen:  # back before it settled: "resolved" was never true, so never told
        conn.execute(delete(alert_notifications).where(
            alert_notifications.c.alert_id.in_([a for a, _f in plan.reopen]),
            alert_notifications.c.event == "resolved",
            alert_notifications.c.state == "pending"))
    if plan.resolve:
        conn.execute(update(alerts).where(alerts.c.id.in_(plan.resolve)).values(resolved_at=now))
        _queue_resolved(conn, plan.resolve, now + source.settle, now)
    tell = alert_config.channels_to_tell(conn, source.account_id, source.channels) \
        if plan.fire else []
    for finding in plan.fire:
        alert_id = conn.execute(insert(alerts).values(
            account_id=source.account_id, rule_id=source.rule_id, kind=finding.kind,
            subject=finding.subject[:128], title=finding.title[:200], text=finding.text,
            figures=finding.figures, fired_at=now, last_seen_at=now)).inserted_primary_key[0]
        done.fired.append(alert_id)
        after_commit(conn, functools.partial(
            metrics.alert_fired, finding.kind,
            "platform" if source.account_id is None else "tenant"))
        if finding.protect is not None and source.account_id is not None:
            protection = otp_protection.switch_on(conn, source.account_id, finding.protect,
                                                  alert_id, finding.text, now)
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
                protection_id=protection["id"]))
            done.protections.append(protection["id"])
        if tell:
            conn.execute(insert(alert_notifications), [
                {"alert_id": alert_id, "channel_id": channel_id,
                 "channel_kind": kind, "event": "fired", "state": "pending", "attempts": 0,
                 "next_attempt_at": now, "created_at": now}
                for channel_id, kind in _kinds(conn, tell)])
    return done


def _queue_resolved(conn: Connection, alert_ids: list[int], due: datetime,
                    now: datetime) -> None:
    """One pending "resolved" notification per channel each alert was told through when it
    fired, due at ``due``; an alert whose resolution was told (or is pending) already gets
    none — one incident, one alert and one resolve."""
    told_before = set(conn.scalars(select(alert_notifications.c.alert_id).where(
        alert_notifications.c.alert_id.in_(alert_ids),
        alert_notifications.c.event == "resolved").distinct()))
    fired = conn.execute(select(alert_notifications.c.alert_id, alert_notifications.c.channel_id,
                                alert_notifications.c.channel_kind).where(
        alert_notifications.c.alert_id.in_(alert_ids),
        alert_notifications.c.event == "fired").order_by(alert_notifications.c.id)).all()
    rows = {(alert_id, channel_id): kind for alert_id, channel_id, kind in fired
            if alert_id not in told_before}
    if rows:
        conn.execute(insert(alert_notifications), [
            {"alert_id": alert_id, "channel_id": channel_id, "channel_kind": kind,
             "event": "resolved", "state": "pending", "attempts": 0, "next_attempt_at": due,
             "created_at": now} for (alert_id, channel_id), kind in rows.items()])


def _kinds(conn: Connection, channel_ids: list[int]) -> list[tuple[int, str]]:
    return [tuple(r) for r in conn.execute(select(alert_channels.c.id, alert_channels.c.kind)
                                           .where(alert_channels.c.id.in_(channel_ids))
                                           .order_by(alert_channels.c.id))]


# -- notifications ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Due:
    notification_id: int
    attempts: int  # before this one
    channel: Channel | None  # None: the channel was removed since
    notice: Notice


def notice_of(conn: Connection, alert_id: int, zone: tzinfo, event: str = "fired") -> Notice:
    row = conn.execute(select(alerts, accounts.c.name.label("account_name")).outerjoin(
        accounts, accounts.c.id == alerts.c.account_id).where(alerts.c.id == alert_id)
    ).mappings().one()
    protection = None
    if row["protection_id"] is not None:
        p = conn.execute(select(otp_protections).where(
            otp_protections.c.id == row["protection_id"])).mappings().first()
        if p is not None:
            protection = {"id": p["id"], "kind": p["kind"], "scope": p["scope"],
                          "per_minute": p["per_minute"],
                          "expires_at": p["expires_at"].astimezone(zone).isoformat()
                          if p["expires_at"] else None}
    return Notice(alert_id=row["id"], account_id=row["account_id"],
                  account_name=row["account_name"], kind=row["kind"], subject=row["subject"],
                  title=row["title"], text=row["text"], figures=row["figures"] or {},
                  fired_at=row["fired_at"], zone=zone, protection=protection,
                  test=row["kind"] == "test", event=event, resolved_at=row["resolved_at"])


def claim_notifications(conn: Connection, box: SecretBox, zone: tzinfo, now: datetime,
                        lease: timedelta, limit: int = NOTIFY_BATCH,
                        alert_id: int | None = None) -> list[Due]:
    """Lease up to ``limit`` due pending notifications (their next attempt moves ``lease``
    ahead: if this evaluator dies mid-send another sends them then) and return them ready to
    send; only those of ``alert_id`` when given (a channel test sent at once)."""
    due = (select(alert_notifications.c.id)
           .where(alert_notifications.c.state == "pending",
                  alert_notifications.c.next_attempt_at <= now)
           .order_by(alert_notifications.c.id).limit(limit))
    if alert_id is not None:
        due = due.where(alert_notifications.c.alert_id == alert_id)
    rows = conn.execute(update(alert_notifications).where(
        taken_by(conn, due, alert_notifications.c.id),
        alert_notifications.c.state == "pending").values(next_attempt_at=now + lease)
        .returning(alert_notifications.c.id, alert_notifications.c.alert_id,
                   alert_notifications.c.channel_id, alert_notifications.c.attempts,
                   alert_notifications.c.event)).all()
    notices: dict[tuple[int, str], Notice] = {}
    claimed = []
    for notification_id, alert, channel_id, attempts, event in sorted(rows):
        if (alert, event) not in notices:
            notices[alert, event] = notice_of(conn, alert, zone, event)
        try:
            channel = alert_config.channel_spec(conn, box, channel_id)
        except Exception:  # removed since (or its secret unreadable): recorded as failed
            channel = None
        claimed.append(Due(notification_id, attempts, channel, notices[alert, event]))
    return claimed


def record_notification(conn: Connection, notification_id: int, *, target: str | None,
                        error: str | None, now: datetime,
                        schedule: tuple[timedelta, ...], final: bool = False) -> str:
    """Keep one attempt's outcome; returns the state: sent, pending (a retry is scheduled by
    ``schedule``) or failed (after the last retry, or ``final``)."""
    attempts = conn.scalar(select(alert_notifications.c.attempts).where(
        alert_notifications.c.id == notification_id)) or 0
    attempts += 1
    if error is None:
        values = {"state": "sent", "sent_at": now, "next_attempt_at": None, "last_error": None}
    elif final or attempts > len(schedule):
        values = {"state": "failed", "next_attempt_at": None, "last_error": error[:1000]}
    else:
        values = {"state": "pending", "next_attempt_at": now + schedule[attempts - 1],
                  "last_error": error[:1000]}
    if target is not None:
        values["target"] = target[:2000]
    conn.execute(update(alert_notifications).where(
        alert_notifications.c.id == notification_id).values(attempts=attempts, **values))
    return values["state"]


# -- listing ----------------------------------------------------------------------------------

def _listed(conn: Connection, rows: list, zone: tzinfo | None) -> list[dict]:
    ids = [r["id"] for r in rows]
    told: dict[int, list[dict]] = {}
    if ids:
        for n in conn.execute(select(alert_notifications).where(
                alert_notifications.c.alert_id.in_(ids))
                .order_by(alert_notifications.c.id)).mappings():
            told.setdefault(n["alert_id"], []).append({
                "channel_id": n["channel_id"], "channel": n["channel_kind"],
                "event": n["event"], "target": n["target"], "state": n["state"], "attempts": n["attempts"],
                "last_error": n["last_error"],
                "sent_at": n["sent_at"].astimezone(zone).isoformat() if n["sent_at"] else None,
                "next_attempt_at": n["next_attempt_at"].astimezone(zone).isoformat()
                if n["next_attempt_at"] and n["state"] == "pending" else None})

    def when(ts):
        return ts.astimezone(zone).isoformat() if ts else None

    return [{"id": r["id"], "AccountId": None if r["account_id"] is None
             else str(r["account_id"]), "rule_id": r["rule_id"], "kind": r["kind"],
             "subject": r["subject"], "title": r["title"], "text": r["text"],
             "figures": r["figures"], "fired_at": when(r["fired_at"]),
             "last_seen_at": when(r["last_seen_at"]), "resolved_at": when(r["resolved_at"]),
             "open": r["resolved_at"] is None, "protection_id": r["protection_id"],
             "notifications": told.get(r["id"], [])} for r in rows]


def list_alerts(conn: Connection, account_id: int, limit: int = 50,
                zone: tzinfo | None = None) -> list[dict]:
    """A tenant's alerts, newest first, each with who was told and how that went."""
    from pigeon.services.accounts import require_account

    require_account(conn, account_id)
    rows = conn.execute(select(alerts).where(alerts.c.account_id == account_id)
                        .order_by(alerts.c.id.desc()).limit(limit)).mappings().all()
    return _listed(conn, rows, zone)


def platform_alerts(conn: Connection, limit: int = 50, zone: tzinfo | None = None) -> list[dict]:
    """The operators' alerts (connector down, queue backlog, report pushes), newest first."""
    rows = conn.execute(select(alerts).where(alerts.c.account_id.is_(None))
                        .order_by(alerts.c.id.desc()).limit(limit)).mappings().all()
    return _listed(conn, rows, zone)


def test_alert(conn: Connection, account_id: int | None, channel_id: int, now: datetime) -> int:
    """Record a test alert for one channel (``pigeon alerts channels test``) with its one
    pending notification; returns the alert's id."""
    kinds = dict(_kinds(conn, [channel_id]))
    row = conn.execute(select(alert_channels.c.account_id).where(
        alert_channels.c.id == channel_id)).first()
    if channel_id not in kinds or row is None or row.account_id != account_id:
        from pigeon.core.errors import PigeonError

        raise PigeonError("isv.INVALID_PARAMETERS", f"There is no channel {channel_id} here.")
    alert_id = conn.execute(insert(alerts).values(
        account_id=account_id, rule_id=None, kind="test", subject=f"channel:{channel_id}",
        title="Test notification", text="This is a test of an alert channel: it works.",
        figures={"channel_id": channel_id}, fired_at=now, last_seen_at=now,
        resolved_at=now)).inserted_primary_key[0]
    conn.execute(insert(alert_notifications).values(
        alert_id=alert_id, channel_id=channel_id, channel_kind=kinds[channel_id],
        state="pending", attempts=0, next_attempt_at=now, created_at=now))
    return alert_id
