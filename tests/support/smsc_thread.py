"""The test SMSC (tests/support/smsc.py) on an event loop of its own in a daemon thread, for
tests whose body is synchronous — the official SDKs and the CLI — while a Pigeon server runs in
another thread.

Its switches (``outcomes``, ``bind_status``, ``drop_after`` …) are plain attributes and may be
set from the test's thread; anything that touches a connection (``drop_all``, ``inject_mo``)
goes through :meth:`BackgroundSmsc.run` onto the SMSC's loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from tests.support.smsc import FakeSmsc


class BackgroundSmsc:
    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-smsc",
                                       daemon=True)
        self.thread.start()
        self.smsc: FakeSmsc = self.run(FakeSmsc(**options).start())

    def __enter__(self) -> BackgroundSmsc:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def port(self) -> int:
        return self.smsc.port

    def run(self, coroutine, timeout: float = 15.0):
        """Run ``coroutine`` on the SMSC's loop; its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call ``fn(*args)`` on the SMSC's loop; its result."""
        async def call():
            return fn(*args)

        return self.run(call())

    def inject_mo(self, source: str, destination: str, text: str) -> int:
        return self.run(self.smsc.inject_mo(source, destination, text))

    def drop_all(self) -> None:
        self.call(self.smsc.drop_all)

    def close(self) -> None:
        try:
            self.run(self.smsc.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()
