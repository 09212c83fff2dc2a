"""Virtual handsets: what the carrier simulator's phones have received.

The simulator delivers tenants' messages here, and Pigeon itself "texts" platform notices
(RequiredPhoneCode's verification codes) the same way, so that a developer reads both in the
handset's inbox (console, ``pigeon handset inbox``) as on a real phone.

A handset is addressed by the number's wire form (``PhoneNumber.wire``): the 11 digits of a
mainland mobile, country code and number without ``+`` for any other; callers normalise before
calling.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, insert, or_, select

from pigeon.core.errors import PigeonError
from pigeon.core.numbers import parse_number
from pigeon.store.database import BulkInsert
from pigeon.store.tables import handset_messages


def deliver(conn: Connection, phone: str, sender: str, text: str, now: datetime) -> int:
    """Put a message in ``phone``'s inbox; returns its id."""
    return conn.execute(insert(handset_messages).values(
        phone=phone, sender=sender, text=text, received_at=now)).inserted_primary_key[0]


_insert_many = BulkInsert(handset_messages, ("phone", "sender", "text", "received_at"))


def deliver_many(conn: Connection, items: list[tuple[str, str, str]], now: datetime) -> None:
    """:func:`deliver` for many (phone, sender, text) at once: one ``executemany`` on the
    driver (:class:`~pigeon.store.database.BulkInsert`; the simulator delivers every message
    through here)."""
    _insert_many.run(conn, [{"phone": phone, "sender": sender, "text": text, "received_at": now}
                            for phone, sender, text in items])


def inbox(conn: Connection, phone: str, limit: int = 50) -> list[dict]:
    """The last ``limit`` messages ``phone`` received, newest first.

    Each is ``{"id", "phone", "sender", "text", "received_at"}`` (``received_at`` aware UTC).
    """
    try:  # any written form (+86…, 0086…) names the same handset
        phone = parse_number(phone).wire
    except PigeonError:
        pass
    rows = conn.execute(select(handset_messages).where(handset_messages.c.phone == phone)
                        .order_by(handset_messages.c.id.desc()).limit(limit)).mappings()
    return [dict(row) for row in rows]


def inbox_for_account(conn: Connection, account_id: int, phone: str, access_code: str,
                      limit: int = 20) -> list[dict]:
    """What ``phone`` received from ``account_id``'s signatures, newest first (as
    :func:`inbox`): a tenant's console shows its own messages on a shared virtual handset,
    never another tenant's nor platform verification codes."""
    from pigeon.store.tables import signatures

    own = conn.execute(select(signatures.c.name, signatures.c.extension_code)
                       .where(signatures.c.account_id == account_id)).all()
    if not own:
        return []
    try:
        phone = parse_number(phone).wire
    except PigeonError:
        pass
    # A message is the tenant's when it came from one of its signatures' sub-ports and
    # begins with that signature's 【name】 ([name] abroad; sub-ports alone could share a prefix).
    mine = or_(*(and_(handset_messages.c.sender.startswith(access_code + code, autoescape=True),
                      or_(handset_messages.c.text.startswith(f"【{name}】", autoescape=True),
                          handset_messages.c.text.startswith(f"[{name}]", autoescape=True)))
                 for name, code in own))
    rows = conn.execute(select(handset_messages).where(handset_messages.c.phone == phone, mine)
                        .order_by(handset_messages.c.id.desc()).limit(limit)).mappings()
    return [dict(row) for row in rows]
