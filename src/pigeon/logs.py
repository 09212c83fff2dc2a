"""Pigeon's log: one line per event, as text (the default) or as JSON for log shippers
(``PIGEON_LOG_FORMAT=json``), each line carrying the context it happened in.

The context is a few fields in a context variable (:func:`bind`): the RPC endpoint binds the
``request_id`` it answers with (``RequestId``), so every line logged while that request runs
carries it — in the services, and in the database writer, which runs each unit of work in
its caller's context (:class:`pigeon.store.database.Database`).  A message's later life is
told by its ``biz_id`` and ``message_id`` (the dispatcher's and the report pusher's lines);
the line that links the two is the request's own (``accepted BizId …``, at debug level).

What never reaches a line: AccessKey secrets, passwords, session tokens — Pigeon never puts
them in a message or a field, settings print masked (:class:`pigeon.config.Secret`), and
:class:`Redact` blanks the few secrets a process knows by value (its own keys) wherever
they would appear anyway.  tests/test_logs.py sends real traffic and looks.

An incident is logged once, not once per request: storage faults go through
:class:`pigeon.store.faults.Incidents` (one line when it begins, one when it ends).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pigeon.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")

_FIELDS: ContextVar[dict[str, object] | None] = ContextVar("pigeon_log_fields", default=None)
REQUEST_ID = "request_id"


def bind(**fields: object) -> Token:
    """Add ``fields`` to the context of every line logged from here on in this task or thread
    (and what it hands the database writer); :func:`unbind` with the token undoes it."""
    current = _FIELDS.get()
    return _FIELDS.set({**current, **fields} if current else fields)


def unbind(token: Token) -> None:
    _FIELDS.reset(token)


@contextlib.contextmanager
def context(**fields: object) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def fields() -> dict[str, object]:
    """The context's fields now (a copy)."""
    return dict(_FIELDS.get() or {})


def request_id() -> str | None:
    found = _FIELDS.get()
    return found.get(REQUEST_ID) if found else None  # type: ignore[return-value]


class ContextFilter(logging.Filter):
    """Puts the context's fields on every record (``record.context``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "context"):
            record.context = _FIELDS.get() or {}
        return True


class Redact(logging.Filter):
    """Blanks the secrets this process holds by value (its settings' keys and passwords),
    should one ever be formatted into a line."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        text = record.getMessage()
        if any(secret in text for secret in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "********")
            record.msg, record.args = text, None
        return True


class TextFormatter(logging.Formatter):
    """``2026-12-06 10:00:00,123 INFO pigeon.x: message [request_id=… biz_id=…]``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        shown = getattr(record, "context", None)
        if shown:
            tail = " ".join(f"{key}={value}" for key, value in shown.items())
            first, newline, rest = line.partition("\n")
            line = f"{first} [{tail}]{newline}{rest}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, the context's fields, and ``exception`` (the traceback, one string) when
    there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in (getattr(record, "context", None) or {}).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(settings: Settings) -> None:
    """The process's logging as the settings say: one handler on the root logger (standard
    error), the level, the format, the context and the redaction — uvicorn's loggers
    included (it is started with ``log_config=None`` and so only sets their levels)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    secrets = [secret.reveal() for secret in (settings.secret_key, settings.smtp_password,
                                              settings.metrics_token) if secret is not None]
    handler.addFilter(Redact(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_log = logging.getLogger(name)
        uvicorn_log.handlers.clear()
        uvicorn_log.propagate = True
