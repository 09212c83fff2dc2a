"""SMS-pumping protection: what an ``otp_pumping`` rule switches on, checked at acceptance.

A protection blocks OTP messages to one mainland number range or one foreign country, or
throttles the account's OTP messages to a number per minute.  It is active until it expires
(the rule's ``protect_for``) or the tenant lifts it (``pigeon alerts protection lift``).
Refusals answer ``isv.BUSINESS_LIMIT_CONTROL`` with a message naming the protection (see
:func:`pigeon.core.pumping.check_otp`); other template types are never affected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, or_, select, update

from pigeon.core import pumping
from pigeon.core.alert_rules import ProtectionPlan
from pigeon.core.errors import PigeonError
from pigeon.core.limits import OTP
from pigeon.core.numbers import PhoneNumber
from pigeon.services import audit
from pigeon.services.accounts import require_account
from pigeon.store.tables import messages, otp_protections

THROTTLE_WINDOW = timedelta(minutes=1)


def _active(account_id: int, now: datetime):
    return (otp_protections.c.account_id == account_id, otp_protections.c.lifted_at.is_(None),
            or_(otp_protections.c.expires_at.is_(None), otp_protections.c.expires_at > now))


def check(conn: Connection, account_id: int, template_type: int, numbers: list[PhoneNumber],
          now: datetime, exact: Callable[[], None] | None = None) -> None:
    """Refuse an OTP request an active protection stops (called by the send path, inside the
    acceptance transaction); costs one indexed read per OTP request, two when throttled.
    ``exact()``, when given, is called before the account's codes are counted: it takes the
    lock that makes the count exact (the send path's, when it does not hold it already)."""
    if template_type != OTP:
        return
    rows = _protections(conn, account_id, now)
    if not rows:
        return
    active = [pumping.ActiveProtection(r.id, r.kind, r.scope, r.per_minute) for r in rows]
    sent = None
    if pumping.needs_otp_count(active):
        if exact is not None:
            exact()
        sent = conn.scalar(select(func.count()).select_from(messages).where(
            messages.c.account_id == account_id, messages.c.created_at > now - THROTTLE_WINDOW,
            messages.c.template_type == OTP))
    pumping.check_otp(active, [pumping.Recipient(n.wire, n.country_code, n.is_mainland)
                               for n in numbers], sent_last_minute=sent)


def _protections(conn: Connection, account_id: int, now: datetime) -> list:
    return conn.execute(select(otp_protections.c.id, otp_protections.c.kind,
                               otp_protections.c.scope, otp_protections.c.per_minute)
                        .where(*_active(account_id, now))).all()


def any_active(conn: Connection, account_id: int, now: datetime) -> bool:
    """Whether a protection of the account is active at ``now`` (then :func:`check` may
    refuse an OTP request, or count the account's codes)."""
    return bool(_protections(conn, account_id, now))


def _shown(row, now: datetime) -> dict:
    active = row["lifted_at"] is None and (row["expires_at"] is None or row["expires_at"] > now)
    return {"id": row["id"], "kind": row["kind"], "scope": row["scope"],
            "per_minute": row["per_minute"], "alert_id": row["alert_id"],
            "reason": row["reason"], "active": active,
            "created_at": row["created_at"].isoformat(),
            "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
            "lifted_at": row["lifted_at"].isoformat() if row["lifted_at"] else None,
            "lifted_by": row["lifted_by"]}


def switch_on(conn: Connection, account_id: int, plan: ProtectionPlan,
              alert_id: int | None, reason: str, now: datetime) -> dict:
    """Record a protection (or return the active one that already does the same)."""
    same = conn.execute(select(otp_protections).where(
        *_active(account_id, now), otp_protections.c.kind == plan.kind,
        otp_protections.c.scope.is_(None) if plan.scope is None
        else otp_protections.c.scope == plan.scope)).mappings().first()
    if same is not None:
        return _shown(same, now)
    protection_id = conn.execute(insert(otp_protections).values(
        account_id=account_id, kind=plan.kind, scope=plan.scope, per_minute=plan.limit,
        alert_id=alert_id, reason=reason[:1000], expires_at=plan.expires_at,
        created_at=now)).inserted_primary_key[0]
    return _shown(conn.execute(select(otp_protections).where(
        otp_protections.c.id == protection_id)).mappings().one(), now)


def listing(conn: Connection, account_id: int, now: datetime, *,
            include_inactive: bool = False) -> list[dict]:
    """The account's protections, newest first: active ones, or every one."""
    require_account(conn, account_id)
    query = select(otp_protections).where(otp_protections.c.account_id == account_id)
    if not include_inactive:
        query = query.where(*_active(account_id, now))
    rows = conn.execute(query.order_by(otp_protections.c.id.desc())).mappings()
    return [_shown(r, now) for r in rows]


def lift(conn: Connection, account_id: int, protection_id: int | None, lifted_by: str,
         now: datetime) -> list[dict]:
    """Lift one active protection (or every one, ``protection_id`` None); OTP to the range
    flows again at once.  Returns what was lifted."""
    require_account(conn, account_id)
    query = select(otp_protections.c.id).where(*_active(account_id, now))
    if protection_id is not None:
        query = query.where(otp_protections.c.id == protection_id)
    ids = list(conn.scalars(query))
    if protection_id is not None and not ids:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"Account {account_id} has no active protection {protection_id} "
                          "(see `pigeon alerts protection list`).")
    if ids:
        conn.execute(update(otp_protections).where(otp_protections.c.id.in_(ids)).values(
            lifted_at=now, lifted_by=lifted_by[:100]))
    rows = conn.execute(select(otp_protections).where(otp_protections.c.id.in_(ids))
                        .order_by(otp_protections.c.id)).mappings()
    lifted = [_shown(r, now) for r in rows]
    audit.record(conn, "protection.lift", f"account:{account_id}"
                 + ("" if protection_id is None else f"/protection:{protection_id}"),
                 account_id=account_id, before={"active": ids},
                 after={"lifted": ids, "lifted_by": lifted_by}, now=now)
    return lifted
