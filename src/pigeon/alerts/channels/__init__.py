"""Notification channels, one module per kind, registered in :data:`KINDS`.

Each module has the same small interface:

``NEEDS``                   what a contact must have for it ("email", "phone" or None)
``configure(url, secret)``  the stored config of a new channel, or a coded error
``describe(config)``        who it tells, for listings (URLs with their tokens masked)
``async send(ctx, channel, notice)``  deliver; returns who was told, raises
                            :class:`Undelivered` with the reason when it did not work

The outside systems' own errors (``smtplib``'s, ``httpx``'s) become :class:`Undelivered` inside
the module (STYLE §5); the evaluator records the reason and retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import httpx

from pigeon.core.errors import PigeonError

if TYPE_CHECKING:
    from pigeon.config import Secret
    from pigeon.store.database import Database


class Undelivered(Exception):
    """A notification did not get through; the message says why (kept, shown to people)."""


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class Channel:
    id: int
    account_id: int | None
    kind: str
    name: str
    config: dict
    secret: str | None  # decrypted
    contacts: list[Contact] = field(default_factory=list)


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int = 587
    user: str | None = None
    password: Secret | None = None
    sender: str = "pigeon@localhost"
    tls: str = "starttls"  # starttls | tls | off


@dataclass
class Context:
    """What channels may use: one HTTP client, the SMTP settings, the database (SMS is queued
    there for the dispatcher), the platform's SMS signature and a nudge for this process's
    dispatcher, the wall clock (DingTalk's signature carries real time), and the alert's
    ``now``."""

    http: httpx.AsyncClient
    smtp: SmtpSettings
    db: Database
    now: datetime
    timeout: float = 10.0
    wall: Callable[[], float] = field(default=time.time)
    sms_signature: str = "Pigeon"
    wake: Callable[[], None] | None = None


def check_url(url: str | None, what: str) -> str:
    """An absolute http(s) URL (``isv.INVALID_PARAMETERS`` otherwise)."""
    text = (url or "").strip()
    parts = urlsplit(text) if len(text) <= 2000 else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"A {what} channel needs --url, an http:// or https:// URL; "
                          f"got {url!r}.")
    return text


def _secretish(segment: str) -> bool:
    """A path segment that may be a token: long, or letters mixed with digits."""
    return len(segment) >= 20 or (len(segment) >= 8 and any(c.isdigit() for c in segment)
                                  and any(c.isalpha() for c in segment))


def masked(url: str) -> str:
    """The URL without what may be a password: its query's values (DingTalk's access_token is
    the robot's password), token-like path segments (``/hooks/T0123ABCD/…``) and any
    ``user:password@``.  What listings and the console show; the full URL is never shown
    again."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    path = "/".join("…" if _secretish(segment) else segment
                    for segment in parts.path.split("/"))
    query = "&".join(f"{pair.split('=', 1)[0]}=…" for pair in parts.query.split("&") if pair)
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def no_url(url: str | None, secret: str | None, kind: str) -> None:
    if url or secret:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"A {kind} channel tells contacts (--contact); it takes no --url or "
                          "--secret.")


async def post_json(ctx: Context, url: str, body: bytes, headers: dict) -> httpx.Response:
    """POST ``body``; transport failures and timeouts become :class:`Undelivered`."""
    try:
        return await ctx.http.post(url, content=body, headers=headers, timeout=ctx.timeout)
    except httpx.TimeoutException:
        raise Undelivered(f"no answer within {ctx.timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise Undelivered(f"{type(exc).__name__}: {exc}" if str(exc)
                          else type(exc).__name__) from None


from pigeon.alerts.channels import dingtalk, email, sms, webhook  # noqa: E402

KINDS = {"email": email, "sms": sms, "dingtalk": dingtalk, "webhook": webhook}
