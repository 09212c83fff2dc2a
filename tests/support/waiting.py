"""Waiting for something a server, a worker or a peer does on its own time.

A test never sleeps for a fixed time and hopes: it waits until a condition holds, with a
deadline generous enough for a loaded two-core machine (the deadline only decides how long a
failing test takes to say so), and the failure names what it waited for.  "Nothing else
happens" is checked after a barrier instead — something known to be processed after whatever
must not happen — never after a pause.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE = 30.0
"""Seconds before a wait gives up: far beyond what any wait here takes on an idle machine."""


def _describe(predicate: Callable, what: str | None) -> str:
    return what or predicate.__doc__ or getattr(predicate, "__name__", repr(predicate))


def wait_until(predicate: Callable[[], T], *, timeout: float = DEADLINE,
               what: str | None = None, interval: float = 0.02) -> T:
    """Call ``predicate`` until it returns something truthy, and return that; raise
    AssertionError naming ``what`` (else the predicate's docstring or name) after ``timeout``
    seconds.  An exception from the predicate ends the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:g} s for "
                                 f"{_describe(predicate, what)}")
        time.sleep(interval)


async def eventually(predicate: Callable[[], T], *, timeout: float = DEADLINE,
                     what: str | None = None, interval: float = 0.01) -> T:
    """:func:`wait_until` inside an event loop: the loop runs on while the test waits."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:g} s for "
                                 f"{_describe(predicate, what)}")
        await asyncio.sleep(interval)
