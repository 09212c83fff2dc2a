"""Short URLs: what AddShortUrl and CreateSmartShortUrl accept, and how links are written.

A short URL is ``<base>/s/<code>``: ``<base>`` the operator's short address
(``PIGEON_SHORT_URL_BASE``) or the address the API call reached, ``<code>`` 8 letters and
digits.  Pigeon's redirector (``GET /s/<code>``) sends a visitor on to the source URL while the
link is in force, and counts the visit.

Limits [SDK-doc, spec §1.2.H, §7.1]: SourceUrl ≤ 1000 characters, ShortUrlName ≤ 13,
EffectiveDays ≤ 90 (sent as a string), at most 3000 short URLs a natural day.  Pigeon's choices:
the source must be an ``http``/``https`` address with a host, a smart short URL (one per
recipient) is in force 30 days, CreateSmartShortUrl takes at most 1000 numbers like SendSms.
``ShortUrlStatus`` is ``effective`` or ``expired`` (``audit``/``reject`` never: Pigeon has no
security review of links).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pigeon.core.errors import PigeonError

PATH = "/s/"
CODE_LENGTH = 8
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
"""No 0/O, 1/l/I: a code read off a screen is typed back right."""
MAX_SOURCE = 1000
MAX_NAME = 13
MAX_DAYS = 90
DAILY_LIMIT = 3000
SMART_DAYS = 30
MAX_SMART_NUMBERS = 1000

_CODE = re.compile(rf"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
_LOG_DAY = re.compile(r"\d{8}")


def _invalid(message: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", message)


def validate_source(url: object, field: str = "SourceUrl") -> str:
    """The source URL, stripped: an ``http``/``https`` address with a host, ≤ 1000 characters."""
    text = url.strip() if isinstance(url, str) else ""
    if len(text) > MAX_SOURCE:
        raise _invalid(f"{field} must be at most {MAX_SOURCE} characters, got {len(text)}.")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in text:
        raise _invalid(f"{field} must be an http:// or https:// address, got {url!r}.")
    return text


def validate_name(name: object) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME:
        raise _invalid(f"ShortUrlName must be 1 to {MAX_NAME} characters, got {name!r}.")
    return text


def effective_days(text: object) -> int:
    """``EffectiveDays`` (a string on the wire): a whole number of days from 1 to 90."""
    value = text.strip() if isinstance(text, str) else ""
    if not value.isdigit() or not 1 <= int(value) <= MAX_DAYS:
        raise _invalid(f"EffectiveDays must be a whole number of days from 1 to {MAX_DAYS}, got "
                       f"{text!r}.")
    return int(value)


def check_daily(created_today: int, adding: int = 1) -> None:
    if created_today + adding > DAILY_LIMIT:
        raise PigeonError("isv.BUSINESS_LIMIT_CONTROL",
                          f"At most {DAILY_LIMIT} short URLs can be created in a natural day; "
                          f"{created_today} were created today.")


def link(base: str, code: str) -> str:
    return f"{base.rstrip('/')}{PATH}{code}"


def code_of(short_url: object) -> str | None:
    """The code a short URL names (``…/s/<code>``, or the bare code); ``None`` if none."""
    if not isinstance(short_url, str):
        return None
    text = short_url.strip()
    if "://" in text:
        text = urlsplit(text).path
    text = text.rsplit(PATH, 1)[-1]
    return text if _CODE.fullmatch(text) else None


def status(expires_at: datetime, now: datetime) -> str:
    """``ShortUrlStatus``: ``effective`` while in force, then ``expired``."""
    return "effective" if now < expires_at else "expired"


def log_bound(value: int, *, end: bool, zone: ZoneInfo) -> datetime:
    """A ``CreateDateStart``/``CreateDateEnd`` of QueryPageSmartShortUrlLog (a Long) as a UTC
    time: a day written ``yyyyMMdd`` (its start, or for ``end`` the end of that day, platform
    time), else Unix milliseconds."""
    text = str(value)
    if _LOG_DAY.fullmatch(text):
        try:
            day = datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            raise _invalid(f"{'CreateDateEnd' if end else 'CreateDateStart'} {value} is not a "
                           "date yyyyMMdd nor Unix milliseconds.") from None
        start = datetime.combine(day, time(0), zone)
        return (start + timedelta(days=1) if end else start).astimezone(UTC)
    try:
        moment = datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise _invalid(f"{'CreateDateEnd' if end else 'CreateDateStart'} {value} is out of "
                       "range.") from None
    return moment + timedelta(milliseconds=1) if end else moment


def millis(moment: datetime | None) -> int:
    """Unix milliseconds, as the smart-link log answers times; 0 for none."""
    return int(moment.timestamp() * 1000) if moment else 0


def visitor(address: str | None, user_agent: str | None) -> str:
    """Who clicked, for counting unique visitors: a digest of the address and the browser
    (the address itself is not kept)."""
    return hashlib.sha256(f"{address or ''}\n{user_agent or ''}".encode()).hexdigest()[:32]
