"""The base of the tests' small HTTP servers (a tenant's report endpoint, a DingTalk robot):
a handler that fails makes the test fail."""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer


class StrictHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` whose handler errors are raised in the request's thread —
    pyproject.toml makes an exception in a thread an error of the running test — instead of
    printed to stderr and forgotten, which is what ``socketserver`` does.  A client that hangs
    up (a push timing out, a receiver taken down) is the client's business, not an error."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exception(), ConnectionError):
            return
        # socketserver calls this inside its ``except Exception``: re-raise what it caught.
        raise
