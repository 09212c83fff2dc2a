"""What operations cost a SendSms in the API process: the work issue #16 added to the hot
path, each part timed in-process (best of five rounds of 300,000 calls, µs per call).

* the endpoint: binding the RequestId for the request's log lines, timing it, and counting
  it (``metrics.api_request``: a counter and a histogram by action and Code);
* the writer: copying the caller's context variables into the unit of work and running the
  unit in them (``store.database._Unit``);
* ``accept``: asking for the accepted-message count after the commit (``after_commit``) and
  counting it (``metrics.accepted_rows``).

    python bench/metrics_cost.py
"""

from __future__ import annotations

import contextvars
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pigeon import logs, metrics  # noqa: E402
from pigeon.api.rpc.endpoint import _Seen  # noqa: E402

CALLS = 300_000


def _best(part) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(CALLS):
            part()
        best = min(best, (time.perf_counter() - started) / CALLS * 1e6)
    return best


def _endpoint() -> None:
    started = time.perf_counter()
    bound = logs.bind(request_id="0F5C2C7E-58A4-4C3B-8C7E-2B1A4D6F9E10")
    seen = _Seen()
    seen.action = "SendSms"
    metrics.api_request(seen.action, "OK", time.perf_counter() - started)
    logs.unbind(bound)


def _unit() -> None:
    contextvars.copy_context().run(lambda conn: conn, None)


_ROWS = [{"status": "queued"}]


def _accept() -> None:
    hooks = [lambda: metrics.accepted_rows(1, _ROWS)]
    for hook in hooks:
        hook()


def main() -> None:
    total = 0.0
    for name, part in (("endpoint: RequestId bound, timed, counted", _endpoint),
                       ("writer unit: run in the caller's context", _unit),
                       ("accept: counted after the commit", _accept)):
        cost = _best(part)
        total += cost
        print(f"{name:45s} {cost:6.2f} µs")
    print(f"{'per SendSms':45s} {total:6.2f} µs")


if __name__ == "__main__":
    main()
