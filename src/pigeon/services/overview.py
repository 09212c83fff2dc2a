"""A tenant's overview: today's sending, money and quota left, what waits for review, and where
the tenant stands on the way to production (the seed's "Important timelines",
:mod:`pigeon.core.timeline`).  What the console's first page shows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from pigeon.core import timeline
from pigeon.core.schedule import Calendar
from pigeon.services import billing, otp_protection, records
from pigeon.services import signatures as signatures_service
from pigeon.store.tables import (
    alerts,
    qualifications,
    sign_registrations,
    signatures,
    templates,
)

_REVIEW_STATES = {0: "reviewing", 1: "approved", 2: "rejected"}
_QUALIFICATION_STATES = {"INIT": "reviewing", "PASS": "approved", "NOT_PASS": "rejected",
                         "NOT_FINISH": "rejected"}
_RANK = {"approved": 0, "reviewing": 1, "rejected": 2}


def _stage(rows, calendar: Calendar) -> timeline.Stage:
    """The tenant's most advanced item among ``rows`` of (state, created_at, decided_at)."""
    best = None
    for state, created, decided in rows:
        if state not in _RANK:
            continue
        key = (_RANK[state], created)
        if best is None or key < best[0]:
            best = (key, state, created, decided)
    if best is None:
        return timeline.Stage()
    _, state, created, decided = best
    return timeline.Stage(state=state, submitted=calendar.local_date(created),
                          approved=calendar.local_date(decided)
                          if state == "approved" and decided else None)


def _registration(conn: Connection, account_id: int, calendar: Calendar):
    rows = conn.execute(
        select(sign_registrations.c.signature_id, sign_registrations.c.status,
               sign_registrations.c.completed_at)
        .join(signatures, signatures.c.id == sign_registrations.c.signature_id)
        .where(signatures.c.account_id == account_id,
               signatures.c.status == signatures_service.APPROVED)).all()
    by_signature: dict[int, list] = {}
    for signature_id, status, completed in rows:
        by_signature.setdefault(signature_id, []).append((status, completed))
    done = [max(c for _, c in regs if c is not None) for regs in by_signature.values()
            if len(regs) >= len(signatures_service.CARRIERS) and all(s == 3 for s, _ in regs)]
    if done:
        return "registered", calendar.local_date(min(done))
    statuses = {s for regs in by_signature.values() for s, _ in regs}
    if statuses & {-1, 1}:
        return "registering", None
    if statuses & {0, 2}:
        return "failed", None
    return "none", None


def progress(conn: Connection, account_id: int, calendar: Calendar) -> timeline.Progress:
    """What the tenant has done so far, for :func:`pigeon.core.timeline.timeline`."""
    q_rows = conn.execute(select(qualifications.c.state, qualifications.c.created_at,
                                 qualifications.c.audit_time)
                          .where(qualifications.c.account_id == account_id)).all()
    s_rows = conn.execute(select(signatures.c.status, signatures.c.created_at,
                                 signatures.c.audit_date)
                          .where(signatures.c.account_id == account_id)).all()
    t_rows = conn.execute(select(templates.c.status, templates.c.created_at,
                                 templates.c.audit_date)
                          .where(templates.c.account_id == account_id)).all()
    registration, registered = _registration(conn, account_id, calendar)
    return timeline.Progress(
        qualification=_stage([(_QUALIFICATION_STATES.get(s), c, d) for s, c, d in q_rows],
                             calendar),
        signature=_stage([(_REVIEW_STATES.get(s), c, d) for s, c, d in s_rows], calendar),
        template=_stage([(_REVIEW_STATES.get(s), c, d) for s, c, d in t_rows], calendar),
        registration=registration, registered=registered)


def under_review(conn: Connection, account_id: int) -> dict:
    """How many signatures and templates of the tenant wait for review."""
    def count(table) -> int:
        return conn.scalar(select(func.count()).select_from(table).where(
            table.c.account_id == account_id, table.c.status == 0))

    return {"signatures": count(signatures), "templates": count(templates)}


def open_alerts(conn: Connection, account_id: int, now: datetime) -> dict:
    """``open``: the account's alerts not resolved yet; ``protections``: SMS-pumping
    protections in force (docs/alerts.md)."""
    open_count = conn.scalar(select(func.count()).select_from(alerts).where(
        alerts.c.account_id == account_id, alerts.c.resolved_at.is_(None)))
    return {"open": open_count,
            "protections": len(otp_protection.listing(conn, account_id, now))}


def tenant_overview(conn: Connection, account_id: int, now: datetime,
                    calendar: Calendar) -> dict:
    """Everything the overview page shows.

    ``today``: messages' billing segments accepted today (platform day) — ``total``,
    ``delivered``, ``failed``, ``waiting`` — and ``success_rate`` (delivered among the final
    ones, None before any is final); ``billing``: :func:`pigeon.services.billing.overview`;
    ``quota_left``: segments left in usable packages; ``under_review``; ``alerts``: alerts
    not yet resolved and SMS-pumping protections in force; ``timeline``: the steps of
    :func:`pigeon.core.timeline.timeline`.
    """
    today = calendar.local_date(now)
    totals = {"total": 0, "delivered": 0, "failed": 0, "waiting": 0}
    for international in (False, True):
        for row in records.send_statistics(conn, account_id, calendar.zone, first=today,
                                           last=today, international=international):
            for key in totals:
                totals[key] += row[key]
    final = totals["delivered"] + totals["failed"]
    money = billing.overview(conn, account_id, now, calendar.zone)
    quota_left = sum(p["remaining"] for p in money["packages"] if not p["expired"])
    return {
        "today": {**totals, "success_rate": totals["delivered"] / final if final else None},
        "billing": money,
        "quota_left": quota_left,
        "under_review": under_review(conn, account_id),
        "alerts": open_alerts(conn, account_id, now),
        "timeline": timeline.timeline(progress(conn, account_id, calendar), today, calendar),
    }
