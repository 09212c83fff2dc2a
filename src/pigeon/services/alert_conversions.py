"""Conversions: a tenant's word that the user of a message completed its verification
(SmsConversionIntl), and what the SMS-pumping rule reads of them.

A conversion is kept per message (``message_conversions``; a later report for the same message
replaces the earlier one).  ``MessageId`` is the BizId SendSms answered — every message of that
call is marked — or one message's id (``message_id`` of its SmsReport).  A message of another
account answers exactly as a message that does not exist: the caller learns nothing.

For the ``otp_pumping`` rule's "never verified" pattern, an account *reports conversions* when
it reported at least one in the last :data:`LOOKBACK`: then an OTP number counts as verified
only if a conversion with ``Delivered=true`` was reported for one of its messages; an account
that never reports them is judged by the follow-up approximation (docs/alerts.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, update
from sqlalchemy import insert as plain_insert

from pigeon.core.errors import PigeonError
from pigeon.store.tables import message_conversions, messages

LOOKBACK = timedelta(days=7)
PHONE_CHUNK = 500
MAX_MESSAGES = 1000  # one SendSms call's numbers at most


def _unknown(message_id: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS",
                       f"MessageId {message_id!r} is not a message of this account (give the "
                       "BizId that SendSms answered, or a report's message_id).")


def conversion_time(milliseconds: int | None) -> datetime | None:
    """ConversionTime (Unix milliseconds) as an instant; a coded error when absurd."""
    if milliseconds is None:
        return None
    if not 0 < milliseconds < 253_402_300_800_000:  # before year 10000
        raise PigeonError.invalid("ConversionTime", "It must be Unix time in milliseconds.")
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


def record(conn: Connection, account_id: int, message_id: str, delivered: bool,
           converted_at: datetime | None, now: datetime) -> int:
    """Record a conversion for the account's message(s) named by ``message_id``; returns how
    many messages it marks."""
    text = (message_id or "").strip()
    if not text or len(text) > 64:
        raise _unknown(text[:64])
    rows = conn.execute(select(messages.c.id, messages.c.phone, messages.c.created_at).where(
        messages.c.account_id == account_id, messages.c.biz_id == text)
        .limit(MAX_MESSAGES)).all()
    if not rows and text.isdigit() and len(text) < 19:
        rows = conn.execute(select(messages.c.id, messages.c.phone, messages.c.created_at).where(
            messages.c.account_id == account_id, messages.c.id == int(text))).all()
    if not rows:
        raise _unknown(text)
    ids = [row.id for row in rows]
    known = set(conn.scalars(select(message_conversions.c.message_id).where(
        message_conversions.c.message_id.in_(ids))))
    if known:
        conn.execute(update(message_conversions).where(
            message_conversions.c.message_id.in_(known)).values(
            delivered=delivered, conversion_time=converted_at, updated_at=now))
    new = [row for row in rows if row.id not in known]
    if new:
        conn.execute(plain_insert(message_conversions), [
            {"message_id": row.id, "account_id": account_id, "phone": row.phone,
             "message_at": row.created_at, "delivered": delivered,
             "conversion_time": converted_at, "created_at": now, "updated_at": now}
            for row in new])
    return len(rows)


def reports_conversions(conn: Connection, account_id: int, now: datetime) -> bool:
    """Whether the account reported a conversion in the last :data:`LOOKBACK`."""
    return conn.scalar(select(message_conversions.c.message_id).where(
        message_conversions.c.account_id == account_id,
        message_conversions.c.updated_at > now - LOOKBACK).limit(1)) is not None


def converted(conn: Connection, account_id: int, phones: list[str], since: datetime,
              until: datetime) -> set[str]:
    """Which of ``phones`` have a message accepted in (``since``, ``until``] that was reported
    converted (``Delivered=true``)."""
    found: set[str] = set()
    for index in range(0, len(phones), PHONE_CHUNK):
        chunk = phones[index:index + PHONE_CHUNK]
        found.update(conn.scalars(select(message_conversions.c.phone).distinct().where(
            message_conversions.c.account_id == account_id,
            message_conversions.c.phone.in_(chunk),
            message_conversions.c.delivered.is_(True),
            message_conversions.c.message_at > since,
            message_conversions.c.message_at <= until)))
    return found


def listing(conn: Connection, account_id: int, limit: int = 50) -> list[dict]:
    """The account's latest conversion reports, newest first."""
    rows = conn.execute(select(message_conversions).where(
        message_conversions.c.account_id == account_id)
        .order_by(message_conversions.c.updated_at.desc(),
                  message_conversions.c.message_id.desc()).limit(limit)).mappings()
    return [dict(row) for row in rows]
