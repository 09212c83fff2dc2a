"""The npm ``smpp`` peer (tests/peers/smpp/smsc.js) as a process beside a test: started with
its switches, its JSON event lines collected by a reader thread, waited on by condition.

For synchronous tests — the official SDK driving a real ``pigeon serve`` — as
tests/support/smsc_thread.py is for the Python test SMSC.  The switches and the events are
documented at the top of smsc.js.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable

from tests.support.peers import PEERS, node_modules
from tests.support.waiting import wait_until

SYSTEM_ID = "pigeon"
PASSWORD = "secret"


class NodeSmsc:
    """``node smsc.js pigeon secret *switches``, listening on a loopback port of its own."""

    def __init__(self, *switches: str) -> None:
        modules = node_modules("smpp", "smpp")
        self.process = subprocess.Popen(
            ["node", str(PEERS / "smpp" / "smsc.js"), SYSTEM_ID, PASSWORD, *switches],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "NODE_PATH": str(modules)})
        self._events: list[dict] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="node-smsc", daemon=True)
        self._reader.start()
        self.port: int = self.wait_for(
            lambda: next((e["port"] for e in self.events("listening")), None),
            what="the node SMSC to listen")

    def _read(self) -> None:
        for line in self.process.stdout:
            event = json.loads(line)  # a line that is not JSON fails the test (see conftest)
            with self._lock:
                self._events.append(event)

    def events(self, kind: str | None = None) -> list[dict]:
        """What the peer reported so far, in order (only ``kind`` events if given)."""
        with self._lock:
            return [e for e in self._events if kind is None or e["event"] == kind]

    def wait_for(self, predicate: Callable, *, what: str, timeout: float = 30.0):
        """Until ``predicate()`` is truthy (its value); fails at once if the peer exited."""
        def check():
            value = predicate()
            if not value and self.process.poll() is not None:
                raise AssertionError(f"the node SMSC exited ({self.process.returncode}): "
                                     + self.process.stderr.read().decode(errors="replace"))
            return value

        return wait_until(check, timeout=timeout, what=what)

    def __enter__(self) -> NodeSmsc:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        self.process.stdout.close()
        self.process.stderr.close()
