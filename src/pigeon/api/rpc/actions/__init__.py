"""The registry of RPC actions: one handler per Dysmsapi action name.

A handler is ``async def handler(call: Call) -> dict`` returning the answer's fields; the
endpoint adds ``RequestId``, ``Code`` and ``Message``.  Handlers parse parameters, call one
service function through the database, and shape the answer with the exact JSON types of
spec/wire.md §6.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pigeon.api.rpc.params import Params
from pigeon.api.rpc.request import RpcRequest
from pigeon.services import nonces
from pigeon.services.nonces import Nonce

if TYPE_CHECKING:
    from pigeon.app import Pigeon


@dataclass
class Call:
    pigeon: Pigeon
    account_id: int
    access_key_id: str
    params: Params
    request: RpcRequest
    now: datetime
    client_ip: str | None = None  # the HTTP peer's address (SMS-pumping detection)
    # The request's nonce while not recorded yet: an action registered with
    # ``records_nonce=True`` records it in its first write (write()).
    nonce: Nonce | None = None

    async def write(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(conn, *args)`` as a write; the first one also records the request's nonce
        (:func:`pigeon.services.nonces.first_use`): one transaction instead of two."""
        nonce, self.nonce = self.nonce, None
        if nonce is None:
            return await self.pigeon.db.write(fn, *args)
        done = await self.pigeon.db.write(nonces.first_use, nonce, self.now, fn, *args)
        if isinstance(done, nonces.Refused):
            raise done.error
        return done

    def local_time(self, ts: datetime | None) -> str:
        """``yyyy-MM-dd HH:mm:ss`` in platform time, as the API shows dates; "" for none."""
        return self.pigeon.calendar.local_datetime_text(ts) if ts else ""


Handler = Callable[[Call], Awaitable[dict]]
ACTIONS: dict[str, Handler] = {}

# Modules that register actions; imported once by load().
MODULES = ("qualifications", "signatures", "templates", "uploads", "sending", "records",
           "queues", "conversions", "documents", "tags", "ext_codes", "short_urls")


def action(*names: str, records_nonce: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler under ``names``.  ``records_nonce``: the handler writes through
    :meth:`Call.write` before anything else that changes state, and so records the request's
    nonce in its own transaction (the endpoint records it for the others first)."""
    def register(handler: Handler) -> Handler:
        for name in names:
            if name in ACTIONS:
                raise RuntimeError(f"action {name} registered twice")
            ACTIONS[name] = handler
        handler.records_nonce = records_nonce
        return handler

    return register


def load() -> dict[str, Handler]:
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return ACTIONS
