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
from typing import TYPE_CHECKING

from pigeon.api.rpc.params import Params
from pigeon.api.rpc.request import RpcRequest

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

    def local_time(self, ts: datetime | None) -> str:
        """``yyyy-MM-dd HH:mm:ss`` in platform time, as the API shows dates; "" for none."""
        return self.pigeon.calendar.local_datetime_text(ts) if ts else ""


Handler = Callable[[Call], Awaitable[dict]]
ACTIONS: dict[str, Handler] = {}

# Modules that register actions; imported once by load().
MODULES = ("qualifications", "signatures", "templates", "uploads", "sending", "records",
           "queues", "conversions", "documents", "tags", "ext_codes", "short_urls")


def action(*names: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            if name in ACTIONS:
                raise RuntimeError(f"action {name} registered twice")
            ACTIONS[name] = handler
        return handler

    return register


def load() -> dict[str, Handler]:
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return ACTIONS
