"""Benchmark: report pushes per second to a local receiver, and the delay from a report's creation
to its arrival, against a bare HTTP client in the same run.

Pigeon's part is the report worker (``pigeon.workers.reporter.Reporter.run``, the loop
``pigeon serve`` runs) on the embedded SQLite database (or ``--database-url``), on uvloop as
under uvicorn, with its settings at their defaults but for the endpoint.  The receiver is a
bare ASGI app on uvicorn in its own process that parses every body as JSON, notes each
report's arrival time and answers ``{"code":0,"msg":"成功"}``.

- **drain**: N reports are pending (inserted before the clock starts) for 1 and for 16 tenants;
  the worker pushes them all.  Baseline: a bare ``httpx.AsyncClient`` posting the very same
  request bodies (JSON arrays of ``PIGEON_REPORT_BATCH`` reports, as Pigeon builds them), one
  request in flight per tenant — what the receiver takes from a client that does nothing else.
  The figure is Pigeon's reports/s and its ratio to the baseline's.
- **delay**: reports are created at a steady rate (one transaction per 10 ms, as receipts come
  in) while the worker runs; the delay is the receiver's arrival time minus the report's
  ``created_at``.  For scale, the baseline's round trip of a one-report request.

Rounds alternate the order (Pigeon then baseline, then baseline then Pigeon, …); the figures
are medians of the rounds.  Validity is a comparison of sets: the receiver keeps the
``report_id`` of every report it took, and a run is valid only if the set of ids it took
equals the set of event ids the run created — every event arrived at least once, nothing else
arrived.  Duplicates (an id taken more than once) are counted apart and shown; they cannot
hide a lost report.  A run waits until the receiver has every id or the worker has nothing
left pending, so a lost report ends the wait too and makes the run INVALID (exit status 1).
``--lose-every N`` checks the check: the receiver acknowledges every Nth report without
keeping it, and the run must come out INVALID.  Prints a table and one ``BENCH_JSON {...}``
line.

    python bench/reports_push.py                    # 3 rounds, 50 000 reports per drain
    python bench/reports_push.py --events 20000 --rounds 1
    python bench/reports_push.py --events 2000 --rounds 1 --seconds 2 --lose-every 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

HOST = "127.0.0.1"
OK = json.dumps({"code": 0, "msg": "成功"}, ensure_ascii=False).encode("utf-8")


# -- the receiver (its own process) -----------------------------------------------------------

class ReceiverApp:
    """A tenant's endpoint with nothing else to do: parse, note arrivals, acknowledge."""

    def __init__(self, lose_every: int = 0) -> None:
        self.lose_every = lose_every  # 0, or acknowledge every Nth report without keeping it
        self.requests = 0
        self.reports = 0
        self.seen = 0  # reports taken, kept or not
        self.ids: set[str] = set()
        self.arrivals: list[tuple[str, float]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":  # the client gave up (a stopped worker)
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        answer = OK
        if path == "/stats":
            answer = json.dumps({"requests": self.requests, "reports": self.reports,
                                 "distinct": len(self.ids)}).encode()
        elif path == "/arrivals":
            answer = json.dumps(self.arrivals).encode()
        elif path == "/reset":
            self.__init__(self.lose_every)
        else:
            at = time.time()
            batch = json.loads(body)
            self.requests += 1
            for report in batch:
                self.seen += 1
                if self.lose_every and self.seen % self.lose_every == 0:
                    continue
                report_id = report.get("report_id", "")
                self.reports += 1
                self.ids.add(report_id)
                self.arrivals.append((report_id, at))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})


def serve_receiver(port: int, lose_every: int) -> None:
    import uvicorn

    uvicorn.run(ReceiverApp(lose_every), host=HOST, port=port, log_level="warning",
                access_log=False)


class Receiver:
    def __init__(self, lose_every: int = 0) -> None:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = sock.getsockname()[1]
        self.process = subprocess.Popen([sys.executable, __file__, "--receiver",
                                         str(self.port), "--lose-every", str(lose_every)])
        deadline = time.monotonic() + 30
        while True:
            try:
                self.get("/stats")
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the receiver did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/report"

    def get(self, path: str):
        import http.client

        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            conn.request("POST", path, body=b"")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


# -- setting up ----------------------------------------------------------------------------------

def sms_report(index: int) -> dict:
    return {"phone_number": f"138{index % 100_000_000:08d}", "send_time": "2027-03-01 10:00:00",
            "report_time": "2027-03-01 10:00:02", "success": True, "err_code": "DELIVERED",
            "err_msg": "用户接收成功", "sms_size": "1", "biz_id": f"{index:018d}^0",
            "out_id": f"order-{index}", "message_id": str(index), "sign_name": "云雀科技",
            "template_code": "SMS_100001"}


def tenants(pigeon, count: int, url: str, now: datetime) -> list[int]:
    from pigeon.services import accounts, reports

    made = []
    for index in range(count):
        account = pigeon.db.write_sync(accounts.create_account, f"Tenant {index}", now)
        account_id = int(account["AccountId"])
        pigeon.db.write_sync(reports.set_mode, account_id, "SmsReport", "http", url, now)
        made.append(account_id)
    return made


def insert_events(conn, rows: list[dict]) -> None:
    from sqlalchemy import insert

    from pigeon.store.tables import report_events

    conn.execute(insert(report_events), rows)


def pending_backlog(pigeon, account_ids: list[int], count: int, now: datetime) -> None:
    rows = [{"account_id": account_ids[i % len(account_ids)], "type": "SmsReport",
             "payload": sms_report(i), "state": "pending", "attempts": 0, "created_at": now}
            for i in range(count)]
    for start in range(0, count, 5000):
        pigeon.db.write_sync(insert_events, rows[start:start + 5000])


def reporter_for(pigeon):
    from pigeon.workers.reporter import Reporter

    s = pigeon.settings
    return Reporter(pigeon.db, schedule=s.report_retry_schedule, timeout=s.report_timeout,
                    batch=s.report_batch, concurrency=s.report_concurrency,
                    lease=s.report_lease)


# -- measurements ------------------------------------------------------------------------------

def tally(expected: set[str], arrivals: list[tuple[str, float]]) -> dict:
    """What the receiver took against what was sent: ids never taken (``lost``), ids taken
    that were never sent (``unexpected``), and extra copies of ids taken (``duplicates``)."""
    taken = Counter(report_id for report_id, _at in arrivals)
    return {"lost": len(expected - set(taken)), "unexpected": len(set(taken) - expected),
            "duplicates": sum(count - 1 for count in taken.values())}


async def until_delivered(pigeon, receiver: Receiver, account_ids: list[int], count: int,
                          started: float, limit: float) -> None:
    """Until the receiver holds ``count`` distinct ids, or the worker has nothing pending for
    these tenants (every event acknowledged or given up: a report it has not got by then is
    lost, and the run is invalid, not waited on forever)."""
    polls = 0
    while (await asyncio.to_thread(receiver.get, "/stats"))["distinct"] < count:
        polls += 1
        # The database only when the receiver is short, and not on every poll: the reads run
        # in the process being measured.
        if polls % 25 == 0 and not await pigeon.db.read(_pending, account_ids):
            return
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"reports did not all arrive in {limit:.0f} s")
        await asyncio.sleep(0.02)


async def pigeon_drain(pigeon, receiver: Receiver, n_tenants: int, events: int) -> dict:
    from pigeon import clock

    ids = tenants(pigeon, n_tenants, receiver.url, clock.utcnow())
    pending_backlog(pigeon, ids, events, clock.utcnow())
    expected = await pigeon.db.read(_event_ids, ids)
    assert len(expected) == events
    receiver.get("/reset")
    reporter = reporter_for(pigeon)
    started = time.perf_counter()
    cpu = time.process_time()
    loop = asyncio.create_task(reporter.run(clock.utcnow))
    try:
        await until_delivered(pigeon, receiver, ids, events, started, 600)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        await _recorded(pigeon, ids)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await reporter.aclose()
    stats = receiver.get("/stats")
    return {"reports_s": events / elapsed, "requests": stats["requests"],
            **tally(expected, receiver.get("/arrivals")), "cpu_s": cpu, "seconds": elapsed}


async def baseline_drain(receiver: Receiver, n_tenants: int, events: int, batch: int) -> dict:
    import httpx

    from pigeon.services import reports

    bodies = [[] for _ in range(n_tenants)]
    for i in range(events):
        bodies[i % n_tenants].append(reports.delivery_payload(i, sms_report(i)))
    requests = [[json.dumps(b[k:k + batch], ensure_ascii=False,
                            separators=(",", ":")).encode("utf-8")
                 for k in range(0, len(b), batch)] for b in bodies]
    receiver.get("/reset")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    async with httpx.AsyncClient(timeout=5) as client:
        async def one_tenant(payloads: list[bytes]) -> None:
            for body in payloads:
                answer = await client.post(receiver.url, content=body, headers=headers)
                assert answer.status_code == 200 and isinstance(answer.json()["code"], int)

        started = time.perf_counter()
        await asyncio.gather(*(one_tenant(r) for r in requests))
        elapsed = time.perf_counter() - started
    stats = receiver.get("/stats")
    expected = {str(i) for i in range(events)}
    return {"reports_s": events / elapsed, "requests": stats["requests"],
            **tally(expected, receiver.get("/arrivals")), "seconds": elapsed}


async def pigeon_delay(pigeon, receiver: Receiver, rate: int, seconds: float) -> dict:
    """Reports created at ``rate``/s (a transaction every 10 ms) while the worker runs."""
    from pigeon import clock

    (account_id,) = tenants(pigeon, 1, receiver.url, clock.utcnow())
    receiver.get("/reset")
    reporter = reporter_for(pigeon)
    loop = asyncio.create_task(reporter.run(clock.utcnow))
    per_tick = max(1, rate // 100)
    index = 0
    try:
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        tick = 0
        while time.perf_counter() - started < seconds:
            now = clock.utcnow()
            rows = [{"account_id": account_id, "type": "SmsReport",
                     "payload": sms_report(index + k), "state": "pending", "attempts": 0,
                     "created_at": now} for k in range(per_tick)]
            index += per_tick
            await pigeon.db.write(insert_events, rows)
            tick += 1
            await asyncio.sleep(max(0.0, started + tick * 0.01 - time.perf_counter()))
        produced_s = time.perf_counter() - started
        await until_delivered(pigeon, receiver, [account_id], index, time.perf_counter(), 30)
        await _recorded(pigeon, [account_id])
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await reporter.aclose()
    created = await pigeon.db.read(_created_times, account_id)
    arrivals = receiver.get("/arrivals")
    first: dict[str, float] = {}
    for report_id, at in arrivals:
        first.setdefault(report_id, at)
    delays = sorted((at - created[int(report_id)]) * 1000 for report_id, at in first.items()
                    if report_id.isdigit() and int(report_id) in created)
    return {"rate": index / produced_s, "reports": index, "p50_ms": _pct(delays, 50),
            "p99_ms": _pct(delays, 99), "max_ms": delays[-1],
            "requests": receiver.get("/stats")["requests"],
            **tally({str(i) for i in created}, arrivals)}


def _pending(conn, account_ids: list[int]) -> int:
    from sqlalchemy import func, select

    from pigeon.store.tables import report_events as e

    return conn.scalar(select(func.count()).where(e.c.account_id.in_(account_ids),
                                                  e.c.state == "pending"))


async def _recorded(pigeon, account_ids: list[int]) -> None:
    """Wait until the worker has recorded every push: stopping it earlier would leave reports
    leased, to be pushed again by a later run once the lease runs out."""
    deadline = time.perf_counter() + 30
    while await pigeon.db.read(_pending, account_ids):
        if time.perf_counter() > deadline:
            raise RuntimeError("pushes were not recorded")
        await asyncio.sleep(0.01)


def _event_ids(conn, account_ids: list[int]) -> set[str]:
    from sqlalchemy import select

    from pigeon.store.tables import report_events as e

    return {str(i) for i in conn.scalars(select(e.c.id).where(e.c.account_id.in_(account_ids)))}


def _created_times(conn, account_id: int) -> dict[int, float]:
    from sqlalchemy import select

    from pigeon.store.tables import report_events as e

    return {row.id: row.created_at.timestamp() for row in conn.execute(
        select(e.c.id, e.c.created_at).where(e.c.account_id == account_id))}


async def baseline_round_trip(receiver: Receiver, count: int = 500) -> dict:
    import httpx

    from pigeon.services import reports

    body = json.dumps([reports.delivery_payload(1, sms_report(1))], ensure_ascii=False).encode()
    times = []
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(count):
            started = time.perf_counter()
            await client.post(receiver.url, content=body,
                              headers={"Content-Type": "application/json; charset=utf-8"})
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": _pct(times, 50), "p99_ms": _pct(times, 99)}


def _pct(values: list[float], pct: float) -> float:
    return values[min(len(values) - 1, int(len(values) * pct / 100))]


# -- running -------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="reports per drain")
    parser.add_argument("--tenants", default="1,16", help="tenant counts for the drain")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=2000, help="reports/s in the delay run")
    parser.add_argument("--seconds", type=float, default=10, help="length of the delay run")
    parser.add_argument("--database-url", default=None,
                        help="default: embedded SQLite in a temporary directory")
    parser.add_argument("--lose-every", type=int, default=0, metavar="N",
                        help="check the check: the receiver acknowledges every Nth report "
                             "without keeping it (the run must come out INVALID)")
    parser.add_argument("--receiver", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.receiver is not None:
        serve_receiver(args.receiver, args.lose_every)
        return 0
    import uvloop

    from pigeon.app import Pigeon
    from pigeon.config import Secret, Settings
    from pigeon.store.secrets import generate_key

    tmp = Path(tempfile.mkdtemp(prefix="pigeon-bench-reports-"))
    receiver = Receiver(args.lose_every)
    settings = Settings(data_dir=tmp / "data", database_url=args.database_url,
                        secret_key=Secret(generate_key()))
    pigeon = Pigeon(settings)
    counts = [int(n) for n in args.tenants.split(",")]
    results: dict = {"drain": {n: {"pigeon": [], "baseline": []} for n in counts}}
    try:
        for number in range(args.rounds):
            for n in counts:
                runs = {"pigeon": lambda n=n: pigeon_drain(pigeon, receiver, n, args.events),
                        "baseline": lambda n=n: baseline_drain(receiver, n, args.events,
                                                               settings.report_batch)}
                # Alternating order: Pigeon first in odd rounds, the baseline in even ones.
                for target in (runs if number % 2 == 0 else reversed(runs)):
                    results["drain"][n][target].append(uvloop.run(runs[target]()))
        results["delay"] = [uvloop.run(pigeon_delay(pigeon, receiver, args.rate, args.seconds))
                            for _ in range(args.rounds)]
        results["round_trip"] = uvloop.run(baseline_round_trip(receiver))
    finally:
        pigeon.close()
        receiver.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(results, args, settings)


def check(what: str, run: dict, problems: list[str]) -> None:
    """A run is valid when the receiver took every id sent and nothing else."""
    if run["lost"] or run["unexpected"]:
        problems.append(f"{what}: {run['lost']} report(s) never arrived, "
                        f"{run['unexpected']} arrived that were never sent")


def report(results: dict, args: argparse.Namespace, settings) -> int:
    problems: list[str] = []
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "platform": platform.platform()},
                 "database": "sqlite" if not args.database_url else "postgresql",
                 "events": args.events, "batch": settings.report_batch, "drain": {},
                 "delay": {}}
    print(f"report push, {args.events} reports per drain, batch {settings.report_batch}, "
          f"{args.rounds} round(s), {out['database']}, median of the rounds")
    print(f"{'tenants':>8} {'pigeon r/s':>12} {'baseline r/s':>13} {'ratio':>7} "
          f"{'requests':>9} {'lost':>5} {'dupes':>6} {'cpu s':>7}   rounds (pigeon / baseline)")
    for n, runs in results["drain"].items():
        for number, (mine_run, base_run) in enumerate(
                zip(runs["pigeon"], runs["baseline"], strict=True), 1):
            check(f"drain, {n} tenant(s), round {number}, Pigeon", mine_run, problems)
            check(f"drain, {n} tenant(s), round {number}, baseline", base_run, problems)
        mine = statistics.median(r["reports_s"] for r in runs["pigeon"])
        base = statistics.median(r["reports_s"] for r in runs["baseline"])
        lost = sum(r["lost"] for r in runs["pigeon"])
        dupes = sum(r["duplicates"] for r in runs["pigeon"])
        requests = statistics.median(r["requests"] for r in runs["pigeon"])
        cpu = statistics.median(r["cpu_s"] for r in runs["pigeon"])
        rounds = ", ".join(f"{p['reports_s']:,.0f}/{b['reports_s']:,.0f}"
                           for p, b in zip(runs["pigeon"], runs["baseline"], strict=True))
        print(f"{n:>8} {mine:>12,.0f} {base:>13,.0f} {mine / base:>7.2f} {requests:>9,.0f} "
              f"{lost:>5} {dupes:>6} {cpu:>7.2f}   {rounds}")
        out["drain"][str(n)] = {"pigeon_reports_s": round(mine), "baseline_reports_s":
                                round(base), "ratio": round(mine / base, 3),
                                "requests": requests, "lost": lost, "duplicates": dupes,
                                "cpu_s": cpu, "rounds": runs}
    delay = results["delay"]
    for number, run in enumerate(delay, 1):
        check(f"delay, round {number}", run, problems)
    p50 = statistics.median(d["p50_ms"] for d in delay)
    p99 = statistics.median(d["p99_ms"] for d in delay)
    rate = statistics.median(d["rate"] for d in delay)
    trip = results["round_trip"]
    print(f"delay at {rate:,.0f} reports/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"(max {max(d['max_ms'] for d in delay):.1f} ms; "
          f"{statistics.median(d['requests'] for d in delay):,.0f} requests per run; "
          f"lost {sum(d['lost'] for d in delay)}, duplicates "
          f"{sum(d['duplicates'] for d in delay)}); "
          f"bare round trip p50 {trip['p50_ms']:.2f} ms, p99 {trip['p99_ms']:.2f} ms")
    out["delay"] = {"rate": round(rate), "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
                    "lost": sum(d["lost"] for d in delay),
                    "duplicates": sum(d["duplicates"] for d in delay),
                    "round_trip_p50_ms": round(trip["p50_ms"], 2),
                    "round_trip_p99_ms": round(trip["p99_ms"], 2)}
    out["valid"] = not problems
    for problem in problems:
        print("INVALID: " + problem)
    print("BENCH_JSON " + json.dumps(out))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
