"""Holding the database's writer, so that the writes submitted meanwhile run as one group."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def one_group(db) -> Iterator[None]:
    """While inside, the writer is busy with a unit of its own (inside its transaction);
    what is submitted meanwhile waits, and runs as one group — in the order submitted — once
    the block ends."""
    gate, blocking = threading.Event(), threading.Event()

    def block(_conn) -> bool:
        blocking.set()
        return gate.wait(30)

    blocker = db.submit_write(block)
    assert blocking.wait(30)  # the writer is inside the blocker's transaction
    try:
        yield
    finally:
        gate.set()
    assert blocker.result(30) is True
