"""Short URLs: AddShortUrl, QueryShortUrl, DeleteShortUrl, CreateSmartShortUrl,
QueryPageSmartShortUrlLog, and the visits Pigeon's redirector records (``api/short_links.py``).

A short URL (kind ``short``) is named and in force for the days asked; a smart short URL (kind
``smart``) is made for one phone number, so its visits say whether that recipient clicked.
Every visit is a row of ``short_url_clicks``: page views are visits, unique visitors the
distinct visitor digests (``core/short_urls.py``).  Another tenant's short URL answers as one
that does not exist.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, func, insert, select

from pigeon.core import limits
from pigeon.core import short_urls as rules
from pigeon.core.errors import PigeonError
from pigeon.core.numbers import parse_number
from pigeon.store.tables import short_url_clicks, short_urls

SHORT, SMART = "short", "smart"


def _new_code(conn: Connection) -> str:
    while True:
        code = "".join(secrets.choice(rules.CODE_ALPHABET) for _ in range(rules.CODE_LENGTH))
        if conn.scalar(select(short_urls.c.id).where(short_urls.c.code == code)) is None:
            return code


def _insert(conn: Connection, account_id: int, kind: str, source_url: str, base: str,
            expires_at: datetime, now: datetime, **extra) -> dict:
    code = _new_code(conn)
    row = dict(account_id=account_id, code=code, kind=kind, source_url=source_url,
               short_url=rules.link(base, code), expires_at=expires_at, created_at=now,
               name=extra.get("name"), phone=extra.get("phone"), out_id=extra.get("out_id"))
    row["id"] = conn.execute(insert(short_urls).values(**row)).inserted_primary_key[0]
    return row


def add(conn: Connection, account_id: int, *, source_url: str, name: str, days: str,
        base: str, zone: ZoneInfo, now: datetime) -> dict:
    """AddShortUrl: a named short URL to ``source_url``, in force ``days`` days (the wire's
    ``EffectiveDays`` text).  Returns the stored row."""
    source = rules.validate_source(source_url)
    name = rules.validate_name(name)
    effective = rules.effective_days(days)
    today = conn.scalar(select(func.count()).select_from(short_urls).where(
        short_urls.c.account_id == account_id, short_urls.c.kind == SHORT,
        short_urls.c.created_at >= limits.day_start(now, zone)))
    rules.check_daily(today)
    return _insert(conn, account_id, SHORT, source, base, now + timedelta(days=effective), now,
                   name=name)


def _counts(conn: Connection, ids: list[int]) -> dict[int, tuple[int, int, datetime | None]]:
    """``id → (page views, unique visitors, first visit)`` of the short URLs ``ids``."""
    if not ids:
        return {}
    rows = conn.execute(select(short_url_clicks.c.short_url_id, func.count(),
                               func.count(func.distinct(short_url_clicks.c.visitor)),
                               func.min(short_url_clicks.c.created_at))
                        .where(short_url_clicks.c.short_url_id.in_(ids))
                        .group_by(short_url_clicks.c.short_url_id)).all()
    found = {row[0]: (row[1], row[2], row[3]) for row in rows}
    return {i: found.get(i, (0, 0, None)) for i in ids}


def _with_counts(conn: Connection, rows: list[dict]) -> list[dict]:
    counts = _counts(conn, [row["id"] for row in rows])
    for row in rows:
        row["page_views"], row["unique_visitors"], row["first_click"] = counts[row["id"]]
    return rows


def get(conn: Connection, account_id: int, short_url: str) -> dict:
    """QueryShortUrl: the account's short URL named by its link (or code), with
    ``page_views``, ``unique_visitors`` and ``first_click``."""
    code = rules.code_of(short_url)
    row = None
    if code is not None:
        row = conn.execute(select(short_urls).where(short_urls.c.code == code,
                                                    short_urls.c.account_id == account_id)
                           ).mappings().first()
    if row is None:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"There is no short URL {short_url!r} in this account.")
    return _with_counts(conn, [dict(row)])[0]


def remove(conn: Connection, account_id: int, source_url: str) -> int:
    """DeleteShortUrl: the account's short URLs (AddShortUrl's) to ``source_url`` stop working
    for good, their visits forgotten.  Returns how many there were."""
    ids = conn.scalars(select(short_urls.c.id).where(
        short_urls.c.account_id == account_id, short_urls.c.kind == SHORT,
        short_urls.c.source_url == source_url.strip())).all()
    if not ids:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"There is no short URL to {source_url.strip()!r} in this account.")
    conn.execute(delete(short_url_clicks).where(short_url_clicks.c.short_url_id.in_(ids)))
    conn.execute(delete(short_urls).where(short_urls.c.id.in_(ids)))
    return len(ids)


def create_smart(conn: Connection, account_id: int, *, source_url: str, phone_numbers: str,
                 out_id: str | None, base: str, now: datetime) -> list[dict]:
    """CreateSmartShortUrl: one short URL to ``source_url`` per number of ``phone_numbers``
    (comma-separated, as SendSms takes them), in the numbers' order."""
    source = rules.validate_source(source_url)
    texts = [text for text in phone_numbers.split(",") if text.strip()]
    if not texts:
        raise PigeonError.missing("PhoneNumbers")
    if len(texts) > rules.MAX_SMART_NUMBERS:
        raise PigeonError("isv.MOBILE_COUNT_OVER_LIMIT",
                          f"PhoneNumbers holds {len(texts)} numbers; at most "
                          f"{rules.MAX_SMART_NUMBERS} are allowed.")
    numbers = [parse_number(text) for text in texts]
    expires_at = now + timedelta(days=rules.SMART_DAYS)
    return [_insert(conn, account_id, SMART, source, base, expires_at, now, phone=number.wire,
                    out_id=out_id) for number in numbers]


def smart_log(conn: Connection, account_id: int, *, start: datetime, end: datetime,
              phone: str | None, short_url: str | None, page_no: int,
              page_size: int) -> tuple[int, list[dict]]:
    """QueryPageSmartShortUrlLog: the account's smart short URLs created from ``start`` to
    before ``end``, newest first, with ``first_click`` (``None``: not clicked)."""
    where = [short_urls.c.account_id == account_id, short_urls.c.kind == SMART,
             short_urls.c.created_at >= start, short_urls.c.created_at < end]
    if phone is not None:
        where.append(short_urls.c.phone == parse_number(phone).wire)
    if short_url is not None:
        where.append(short_urls.c.code == (rules.code_of(short_url) or ""))
    total = conn.scalar(select(func.count()).select_from(short_urls).where(*where))
    if (page_no - 1) * page_size >= total:  # past the end (an OFFSET past a BIGINT fails)
        return total, []
    rows = [dict(r) for r in conn.execute(
        select(short_urls).where(*where).order_by(short_urls.c.id.desc())
        .limit(page_size).offset((page_no - 1) * page_size)).mappings()]
    return total, _with_counts(conn, rows)


def page(conn: Connection, account_id: int, kind: str, limit: int = 200,
         search: str | None = None) -> list[dict]:
    """The account's short URLs of ``kind``, newest first, with their counts (the console);
    ``search`` a part of the name or of the source URL."""
    where = [short_urls.c.account_id == account_id, short_urls.c.kind == kind]
    if search:
        where.append(short_urls.c.name.contains(search, autoescape=True)
                     | short_urls.c.source_url.contains(search, autoescape=True))
    rows = [dict(r) for r in conn.execute(
        select(short_urls).where(*where).order_by(short_urls.c.id.desc()).limit(limit))
        .mappings()]
    return _with_counts(conn, rows)


def visit(conn: Connection, code: str, visitor: str | None, now: datetime) -> tuple[str, str | None]:
    """A visit of ``/s/<code>``: ``("effective", source URL)``, ``("expired", None)`` or
    ``("unknown", None)``.  An effective link's visit is counted unless ``visitor`` is
    ``None`` (a HEAD request: a link preview, not a reader)."""
    row = conn.execute(select(short_urls.c.id, short_urls.c.source_url, short_urls.c.expires_at)
                       .where(short_urls.c.code == code)).first()
    if row is None:
        return "unknown", None
    if rules.status(row.expires_at, now) != "effective":
        return "expired", None
    if visitor is not None:
        conn.execute(insert(short_url_clicks).values(short_url_id=row.id, visitor=visitor,
                                                     created_at=now))
    return "effective", row.source_url


def domain(short_url: str) -> str:
    """The host (and port) a short URL is served from: CreateSmartShortUrl's ``Domain``."""
    return urlsplit(short_url).netloc
