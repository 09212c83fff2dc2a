"""A tenant's sending settings: account caps and tightened per-number limits.

* ``day_limit`` / ``month_limit`` — at most this many messages (one per number) per platform
  calendar day / month, else ``isv.DAY_LIMIT_CONTROL`` / ``isv.MONTH_LIMIT_CONTROL``
  (Alibaba's console-configured caps, spec/dysmsapi.md §7.3).  No value: no cap.
* ``otp_per_minute``, ``otp_per_hour``, ``otp_per_day``, ``other_per_day`` — per-number limits,
  which may only be lowered below the platform's (:func:`pigeon.core.limits.tightened`
  enforces that).  No value: the platform's limit.

Sending reads the ``sending_settings`` row through its short cache
(:data:`pigeon.services.sending.CACHE_SECONDS`): a change applies at once in the process that
made it and within seconds on every other node.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from pigeon.core import limits
from pigeon.core.errors import PigeonError
from pigeon.services import audit
from pigeon.services.accounts import require_account
from pigeon.store.tables import messages, sending_settings

CAPS = ("day_limit", "month_limit")
NUMBER_LIMITS = ("otp_per_minute", "otp_per_hour", "otp_per_day", "other_per_day")
FIELDS = CAPS + NUMBER_LIMITS
MAX_CAP = 1_000_000_000  # a cap stored in a 32-bit column; larger is "no cap" anyway


def _stored(conn: Connection, account_id: int) -> dict | None:
    row = conn.execute(select(sending_settings).where(
        sending_settings.c.account_id == account_id)).mappings().first()
    return None if row is None else {name: row[name] for name in FIELDS}


def set_limits(conn: Connection, account_id: int, *, reset: bool = False,
               **values: int | None) -> dict:
    """Change the given settings (a ``None`` value leaves one as it is).

    ``reset=True`` first clears every setting back to the platform's defaults.  The result,
    not only the values given, is checked: per-number limits with
    :func:`pigeon.core.limits.tightened`, caps must be whole numbers of at least 1; anything
    else raises ``isv.INVALID_PARAMETERS`` and changes nothing.  Returns :func:`settings`.
    """
    require_account(conn, account_id)
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown sending settings {sorted(unknown)}")
    stored = _stored(conn, account_id)
    merged = dict.fromkeys(FIELDS) if reset or stored is None else dict(stored)
    merged.update({name: value for name, value in values.items() if value is not None})
    for name in CAPS:
        value = merged[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 1 <= value <= MAX_CAP):
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"{name} must be a whole number of at least 1 and at most "
                              f"{MAX_CAP}, got {value!r}.")
    limits.tightened(**{name: merged[name] for name in NUMBER_LIMITS})
    if stored is None:
        conn.execute(insert(sending_settings).values(account_id=account_id, **merged))
    else:
        conn.execute(update(sending_settings)
                     .where(sending_settings.c.account_id == account_id).values(**merged))
    audit.record(conn, "limits.set", f"account:{account_id}", account_id=account_id,
                 before=stored, after=merged)
    return settings(conn, account_id)


def put(conn: Connection, account_id: int, **values: int | None) -> dict:
    """Set the given settings to exactly these values, where ``None`` clears one (no cap, or
    the platform's per-number limit), leaving the settings not given as they are.

    What a form of the console does: an emptied field means "back to the default", which
    :func:`set_limits` (``None``: unchanged) cannot say.  Checked as :func:`set_limits`.
    """
    require_account(conn, account_id)
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown sending settings {sorted(unknown)}")
    merged = {**(_stored(conn, account_id) or dict.fromkeys(FIELDS)), **values}
    return set_limits(conn, account_id, reset=True, **merged)


def settings(conn: Connection, account_id: int) -> dict:
    """The stored settings (``None``: not set) and the per-number limits in force."""
    require_account(conn, account_id)
    stored = _stored(conn, account_id) or dict.fromkeys(FIELDS)
    in_force = limits.tightened(**{name: stored[name] for name in NUMBER_LIMITS
                                   if stored[name] is not None})
    return {"AccountId": str(account_id), **stored, "in_force": asdict(in_force)}


def overview(conn: Connection, account_id: int, now: datetime, zone: ZoneInfo) -> dict:
    """:func:`settings` plus what the caps have counted so far today and this month."""
    shown = settings(conn, account_id)

    def since(start: datetime) -> int:
        return conn.scalar(select(func.count()).select_from(messages).where(
            messages.c.account_id == account_id, messages.c.created_at >= start))

    shown["sent_today"] = since(limits.day_start(now, zone))
    shown["sent_this_month"] = since(limits.month_start(now, zone))
    return shown
