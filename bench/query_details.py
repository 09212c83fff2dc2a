"""QuerySendDetails on a large ``messages`` table (DESIGN.md: "on 10 million stored messages:
p99 under 10 ms").

Set-up, in a temporary directory removed afterwards: a data directory with ``--tenants``
tenants made with the CLI (``pigeon account create``; the first also gets an AccessKey), then
``--messages`` rows written straight into Pigeon's SQLite file with ``sqlite3`` (``executemany``
of tuples, 500,000 rows a transaction, the indexes dropped during the load and re-created from
the schema's own ``CREATE INDEX`` text afterwards).  The rows look as Pigeon stores them: every
column of ``store/tables.py``'s ``messages``, times as ``Driver.time`` writes them (naive UTC
text, ``2026-11-28 05:03:47.123456``), ids in time order, spread evenly over the last 30 local
days up to a minute ago, an equal share per tenant, each tenant with its own numbers — so many
that a number gets ``--per-day`` messages a day on average (Poisson: some none, some more).

Measured, each against a baseline of the same run:

1. the query plan of both statements ``records.send_details`` issues (``EXPLAIN QUERY PLAN``
   through ``sqlite3``) — it must SEARCH an index, never SCAN ``messages``;
2. the same two statements run directly in ``sqlite3`` on the same file, for the same (number,
   day[, BizId]) samples the HTTP requests ask for: µs per query pair, p50/p99 — what the
   database itself costs;
3. full load: ``wrk`` (``replay.lua``) replays signed V1 ``QuerySendDetails`` GET requests to
   ``pigeon serve --workers 1`` (one uvicorn process, workers on) and, in alternating rounds,
   the same request lines to ``hello_app.py``: req/s, ratio, p50/p99 at 32 connections;
4. latency at a fixed rate (``load_client.py``, open loop, from each request's due time) of
   ``--latency-load`` × the median rate of 3 (or ``--rate``), Pigeon and hello alternating.

Each request names a (number, local day) that holds at least one message of the tenant:
``PhoneNumber``, ``SendDate`` (yyyyMMdd, within the 30 days), ``PageSize`` 10, ``CurrentPage``
1, and every ``--biz-every``-th one the ``BizId`` of one of those messages.  Every answer must
be HTTP 200 with ``"Code":"OK"`` or the run is INVALID.

    python bench/query_details.py                        # 10 million rows, about 7 min
    python bench/query_details.py --messages 1000000 --rounds 1
"""

from __future__ import annotations

import argparse
import functools
import random
import sqlite3
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    HELLO_APP,
    SERVER_CPU,
    BenchError,
    Run,
    Server,
    add_wrk_options,
    in_workspace,
    machine_info,
    median,
    missing_tools,
    new_tenant,
    phone_number,
    pigeon_command,
    pigeon_env,
    report,
    run_cli,
    run_client,
    run_wrk,
    write_signed_paths,
)

ACTION = "QuerySendDetails"
ZONE = ZoneInfo("Asia/Shanghai")  # PIGEON_TIMEZONE's default, set explicitly for the server
DAYS = 30
BATCH = 500_000  # rows per transaction
PAGE_SIZE = 10


COLUMNS = ("biz_id", "account_id", "phone", "country_code", "carrier", "signature_id",
           "sign_name", "template_id", "template_code", "template_type", "params", "content",
           "segments", "encoding", "extend_code", "out_id", "status", "err_code", "err_msg",
           "connector", "carrier_message_id", "attempts", "price", "charged", "source_ip",
           "created_at", "sent_at", "done_at")
INSERT_SQL = (f"INSERT INTO messages ({', '.join(COLUMNS)}) "
              f"VALUES ({', '.join('?' * len(COLUMNS))})")
_CARRIERS = {"135": "mobile", "136": "mobile", "137": "mobile", "139": "mobile",
             "150": "mobile", "186": "unicom", "133": "telecom", "189": "telecom"}


def stored_time(value: datetime) -> str:
    """What ``Driver.time`` stores on SQLite: naive UTC text with microseconds."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


# -- the data --------------------------------------------------------------------------------

Sample = tuple[int, str, str, str]  # account id, phone, local day yyyyMMdd, BizId


def fill(db_path: Path, accounts: list[int], messages: int, per_day: float, seed: int,
         samples_wanted: int, first_phone: int = 0) -> tuple[list[Sample], dict]:
    """Write ``messages`` rows into ``db_path``'s ``messages`` (see the module docstring) and
    return up to ``samples_wanted`` (account, number, day, BizId) of the first account's rows,
    spread over the whole table, and figures of the load.  The numbers are
    ``harness.phone_number(first_phone + i)``."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    today = now.astimezone(ZONE).date()
    first_day = today - timedelta(days=DAYS - 1)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=ZONE).astimezone(UTC)
    end = now - timedelta(minutes=1)
    span_us = int((end - start) / timedelta(microseconds=1))
    step_us = span_us / messages
    base = start.replace(tzinfo=None)
    numbers_each = max(1, round(messages / len(accounts) / (DAYS * per_day)))
    phones = [phone_number(first_phone + i) for i in range(numbers_each * len(accounts))]
    sample_every = max(1, messages // len(accounts) // max(1, samples_wanted))
    samples: list[Sample] = []
    bench_account = accounts[0]

    db = sqlite3.connect(db_path, isolation_level=None)
    started = time.perf_counter()
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-2000000")  # 2 GB, for the index builds
        db.execute("PRAGMA temp_store=MEMORY")
        indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                             "tbl_name = 'messages' AND sql IS NOT NULL").fetchall()
        for name, _ in indexes:
            db.execute(f'DROP INDEX "{name}"')
        print(f"writing {messages:,} messages for {len(accounts)} tenants "
              f"({numbers_each:,} numbers each, {first_day} – {today} local), "
              f"indexes dropped: {', '.join(n for n, _ in indexes)}")
        bench_count = 0
        for offset in range(0, messages, BATCH):
            count = min(BATCH, messages - offset)
            owners = rng.choices(range(len(accounts)), k=count)
            picks = [rng.randrange(numbers_each) for _ in range(count)]
            rows = []
            for k in range(count):
                i = offset + k
                micros = int(i * step_us) + rng.randrange(max(1, int(step_us)))
                created = base + timedelta(microseconds=micros)
                owner = owners[k]
                phone = phones[owner * numbers_each + picks[k]]
                biz_id = f"{(micros + 1_700_000_000_000_000) % 10**15:015d}{i % 1000:03d}^0"
                failed = i % 37 == 0
                order = f"A{i:09d}"
                rows.append((
                    biz_id, accounts[owner], phone, 86, _CARRIERS[phone[:3]], owner + 1,
                    "云雀科技", owner + 1, "SMS_100000001", 1,
                    f'{{"order": "{order}"}}',
                    f"【云雀科技】您的订单{order}已发货，请注意查收。", 1, "mainland", "1234",
                    None if i % 3 else f"out-{i}",
                    "failed" if failed else "delivered",
                    "MOBILE_NOT_ON_SERVICE" if failed else "DELIVERED",
                    "number not in service" if failed else None,
                    "simulator", f"sim-{i:012d}", 1, 45, 0 if failed else 1, "10.0.0.1",
                    created.isoformat(" ", "microseconds"),
                    (created + timedelta(seconds=1)).isoformat(" ", "microseconds"),
                    (created + timedelta(seconds=4)).isoformat(" ", "microseconds")))
                if owner == 0:
                    if bench_count % sample_every == 0:
                        local_day = (created.replace(tzinfo=UTC)).astimezone(ZONE).date()
                        samples.append((bench_account, phone, local_day.strftime("%Y%m%d"),
                                        biz_id))
                    bench_count += 1
            db.execute("BEGIN")
            db.executemany(INSERT_SQL, rows)
            db.execute("COMMIT")
            done = offset + count
            took = time.perf_counter() - started
            print(f"  {done:,} rows, {took:.0f} s ({done / took:,.0f} rows/s)", flush=True)
        insert_s = time.perf_counter() - started
        for name, sql in indexes:
            t0 = time.perf_counter()
            db.execute(sql)
            print(f"  index {name} built in {time.perf_counter() - t0:.0f} s", flush=True)
        db.execute("PRAGMA journal_mode=WAL")  # as Pigeon keeps it
        total_s = time.perf_counter() - started
    finally:
        db.close()
    rng.shuffle(samples)
    size = db_path.stat().st_size
    print(f"{messages:,} rows written in {insert_s:.0f} s, indexes in "
          f"{total_s - insert_s:.0f} s; database {size / 1e9:.2f} GB; tenant "
          f"{bench_account}: {bench_count:,} rows, {len(samples):,} sample queries")
    return samples, {"messages": messages, "tenants": len(accounts),
                     "numbers_per_tenant": numbers_each, "bench_tenant_rows": bench_count,
                     "insert_s": round(insert_s, 1), "index_s": round(total_s - insert_s, 1),
                     "database_bytes": size}


def _bounds(day_text: str) -> tuple[str, str]:
    day = date(int(day_text[:4]), int(day_text[4:6]), int(day_text[6:]))
    start = datetime(day.year, day.month, day.day, tzinfo=ZONE)
    return stored_time(start), stored_time(start + timedelta(days=1))


def _statements(sample: Sample, with_biz: bool) -> tuple[tuple[str, tuple], tuple[str, tuple]]:
    """The count and the page statement, with parameters, that Pigeon runs for ``sample``."""
    from pigeon.services.records import details_sql

    account, phone, day, biz_id = sample
    low, high = _bounds(day)
    params: tuple = (account, phone, low, high, *((biz_id,) if with_biz else ()))
    count_sql, page_sql = details_sql(with_biz)
    return (count_sql, params), (page_sql, (*params, PAGE_SIZE, 0))


def query_plans(db_path: Path, sample: Sample) -> dict[str, str]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        plans = {}
        for biz in (False, True):
            for label, (sql, params) in zip(("count", "page"), _statements(sample, biz),
                                            strict=True):
                rows = db.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
                plans[f"{label}{' + BizId' if biz else ''}"] = " | ".join(r[-1] for r in rows)
        return plans
    finally:
        db.close()


def direct_latency(db_path: Path, samples: list[Sample], count: int,
                   biz_every: int) -> dict:
    """Both statements per sample straight through ``sqlite3`` (fetching every row): µs per
    pair, as ``send_details`` needs them."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    times, found = [], []
    try:
        for i in range(count):
            sample = samples[i % len(samples)]
            (count_sql, count_params), (page_sql, page_params) = _statements(
                sample, biz_every > 0 and i % biz_every == 0)
            t0 = time.perf_counter_ns()
            total = db.execute(count_sql, count_params).fetchone()[0]
            rows = db.execute(page_sql, page_params).fetchall() if total else []
            times.append((time.perf_counter_ns() - t0) / 1000)
            found.append(total)
            if not rows:
                raise BenchError(f"sample {sample} finds nothing in the database")
    finally:
        db.close()
    times.sort()

    def pct(p: float) -> float:
        return round(times[min(len(times) - 1, int(p / 100 * len(times)))], 1)

    return {"queries": count, "p50_us": pct(50), "p90_us": pct(90), "p99_us": pct(99),
            "max_us": round(times[-1], 1), "mean_rows": round(sum(found) / len(found), 2)}


def details_params(samples: list[Sample], biz_every: int, index: int) -> dict[str, str]:
    """The ``index``-th request's parameters (a module-level function, for the signers)."""
    _, phone, day, biz_id = samples[index % len(samples)]
    params = {"PhoneNumber": phone, "SendDate": day, "PageSize": str(PAGE_SIZE),
              "CurrentPage": "1"}
    if biz_every > 0 and index % biz_every == 0:
        params["BizId"] = biz_id
    return params


# -- main ------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="QuerySendDetails on a large messages table (SQLite): query plan, the SQL "
                    "straight in sqlite3, req/s under wrk against a hello app, and latency at "
                    "a fixed rate.",
        epilog="Needs wrk (Debian/Ubuntu: apt-get install -y wrk).")
    parser.add_argument("--messages", type=int, default=10_000_000,
                        help="rows in messages (10,000,000)")
    parser.add_argument("--tenants", type=int, default=4,
                        help="tenants sharing them equally; the first is queried (4)")
    parser.add_argument("--per-day", type=float, default=3,
                        help="messages per number and day, on average (3)")
    parser.add_argument("--biz-every", type=int, default=4,
                        help="every N-th request also names a BizId (4; 0 = never)")
    parser.add_argument("--direct", type=int, default=20_000,
                        help="query pairs run straight in sqlite3 (20000)")
    add_wrk_options(parser)
    parser.add_argument("--latency-load", type=float, default=0.5,
                        help="fixed rate as a fraction of the median QuerySendDetails rate "
                             "(0.5; 0 skips the fixed-rate runs)")
    parser.add_argument("--rate", type=float, default=0,
                        help="fixed rate in req/s instead of --latency-load")
    parser.add_argument("--latency-seconds", type=float, default=10,
                        help="duration of each fixed-rate run (10)")
    parser.add_argument("--latency-rounds", type=int, default=3,
                        help="fixed-rate rounds, hello and Pigeon alternating (3)")
    parser.add_argument("--latency-connections", type=int, default=32,
                        help="connections of the fixed-rate client (32)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data (1)")
    parser.add_argument("--pin", action="store_true",
                        help=f"pin both servers to CPU {SERVER_CPU} and wrk to the other")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (data, logs, request files)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_tools(pin=args.pin)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    if args.messages < 1000 or args.tenants < 1:
        print("error: --messages must be at least 1000 and --tenants at least 1",
              file=sys.stderr)
        return 2
    return in_workspace("pigeon-bench-details-", args.keep,
                        lambda tmp, servers: _bench(args, tmp, servers))


class Signer:
    """Files of signed QuerySendDetails requests, each with a fresh nonce."""

    def __init__(self, tmp: Path, tenant, samples: list[Sample], biz_every: int) -> None:
        self.tmp, self.tenant, self.files, self.next_index = tmp, tenant, 0, 0
        self.vary = functools.partial(details_params, samples, biz_every)

    def write(self, count: int) -> Path:
        self.files += 1
        path = self.tmp / f"requests-{ACTION}-{self.files}.txt"
        took = write_signed_paths(path, self.tenant.key_id, self.tenant.secret, ACTION,
                                  {"RegionId": "cn-hangzhou"}, count, vary=self.vary,
                                  start=self.next_index)
        self.next_index += count
        print(f"  signed {count:,} {ACTION} requests in {took:.1f} s")
        return path


def _bench(args: argparse.Namespace, tmp: Path, servers: list[Server]) -> int:
    info = machine_info()
    env = pigeon_env(tmp, PIGEON_TIMEZONE=ZONE.key)
    tenant = new_tenant(env)
    accounts = [tenant.account_id] + [
        int(run_cli(env, "account", "create", f"Other Tenant {n}")["AccountId"])
        for n in range(2, args.tenants + 1)]
    db_path = tmp / "data" / "pigeon.db"
    samples, load = fill(db_path, accounts, args.messages, args.per_day, args.seed,
                         samples_wanted=50_000)
    if not samples:
        raise BenchError("no message of the queried tenant to ask for")

    plans = query_plans(db_path, samples[0])
    print("query plans (EXPLAIN QUERY PLAN through sqlite3):")
    for label, plan in plans.items():
        print(f"  {label:<14} {plan}")
    uses_index = all(p.startswith("SEARCH messages USING") and "ix_messages_lookup" in p
                     and "SCAN" not in p for p in plans.values())
    if not uses_index:
        print("WARNING: a statement does not search ix_messages_lookup")

    direct = direct_latency(db_path, samples, args.direct, args.biz_every)
    print(f"the same SQL straight in sqlite3, {direct['queries']:,} count + page pairs: p50 "
          f"{direct['p50_us']:,.0f} µs, p90 {direct['p90_us']:,.0f} µs, p99 "
          f"{direct['p99_us']:,.0f} µs, max {direct['max_us']:,.0f} µs; "
          f"{direct['mean_rows']} messages per (number, day) on average")

    pin = ["taskset", "-c", SERVER_CPU] if args.pin else []
    hello = Server("hello", [*pin, sys.executable, str(HELLO_APP)], env, tmp / "hello.log")
    pigeon = Server(f"pigeon {ACTION}", [*pin, *pigeon_command(), "serve"], env,
                    tmp / "pigeon.log")
    servers += [hello, pigeon]
    hello.start()
    pigeon.start()
    print(f"pigeon serve on {pigeon.url} (pid {pigeon.process.pid}), hello on {hello.url}")
    signer = Signer(tmp, tenant, samples, args.biz_every)
    targets = [hello, pigeon]
    names = {hello.port: "hello", pigeon.port: pigeon.name}
    wrk_options = {"connections": args.connections, "threads": args.threads, "pin": args.pin}

    warm_rate = 1000.0
    hello_paths = signer.write(max(5000, int(2000 * args.warmup)))
    if args.warmup > 0:
        print(f"warm-up: {args.warmup:g} s per target")
        run_wrk(hello.url, hello_paths, seconds=args.warmup, allow_wrap=True, **wrk_options)
        # More than Pigeon answers in the time (a replayed request would be refused).
        data, invalid = run_wrk(pigeon.url, signer.write(max(5000, int(10000 * args.warmup))),
                                seconds=args.warmup, allow_wrap=False, **wrk_options)
        if invalid:
            raise BenchError(f"warm-up of Pigeon is not clean: {invalid}\n" + pigeon.log_tail())
        warm_rate = data["requests"] / (data["duration_us"] / 1e6)

    runs: list[Run] = []
    for round_no in range(1, args.rounds + 1):
        order = targets if round_no % 2 else list(reversed(targets))
        print(f"round {round_no}/{args.rounds}: {' → '.join(names[t.port] for t in order)}")
        for target in order:
            if target is pigeon:
                paths = hello_paths = signer.write(max(20000, int(3 * warm_rate
                                                                  * args.seconds)))
            else:
                paths = hello_paths
            time.sleep(1.0)
            data, invalid = run_wrk(target.url, paths, seconds=args.seconds,
                                    allow_wrap=target is hello, server_pid=target.process.pid,
                                    **wrk_options)
            run = Run(names[target.port], round_no, data, invalid)
            runs.append(run)
            status = f"INVALID: {invalid}" if invalid else (
                f"{run.rps:,.0f} req/s, p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, "
                f"server CPU {run.cpu_pct:.0f} % = {run.cpu_us:,.0f} µs/request")
            print(f"  {names[target.port]:<26} {status}")

    good = [r.rps for r in runs if r.target == pigeon.name and not r.invalid]
    rate = args.rate or (args.latency_load * median(good) if good else 0)
    latency = fixed_rate(args, signer, targets, names, rate) if rate > 0 else None

    options = {"seconds": args.seconds, "rounds": args.rounds, "warmup": args.warmup,
               "connections": args.connections, "threads": args.threads, "pin": args.pin,
               "biz_every": args.biz_every, "per_day": args.per_day, "page_size": PAGE_SIZE}
    print()
    print("query plans: " + "; ".join(f"{k}: {v}" for k, v in plans.items()))
    print(f"sqlite3 directly (count + page): p50 {direct['p50_us']:,.0f} µs, p99 "
          f"{direct['p99_us']:,.0f} µs")
    if latency:
        print(f"fixed rate {latency['rate']:,.0f} req/s (open loop, from each request's due "
              f"time, median of {args.latency_rounds}):")
        for name, res in latency["results"].items():
            print(f"  {name:<26} p50 {res['p50_ms_median']:.2f} ms, p99 "
                  f"{res['p99_ms_median']:.2f} ms   (p99 per round: "
                  + ", ".join(f"{v:.1f}" for v in res["p99_ms"]) + ")")
        if latency["problems"]:
            print("INVALID: " + " | ".join(latency["problems"]))
    valid = report("query_details", runs, ["hello", pigeon.name], info, options, None,
                   extra={"data": load, "plans": plans, "plans_use_index": uses_index,
                          "direct_sqlite": direct, "latency": latency})
    return 0 if valid and uses_index and not (latency and latency["problems"]) else 1


def fixed_rate(args: argparse.Namespace, signer: Signer, targets: list[Server],
               names: dict, rate: float) -> dict:
    """Open-loop runs at ``rate`` against each target, alternating; medians of the rounds."""
    print(f"fixed rate {rate:,.0f} req/s, {args.latency_rounds} round(s) × "
          f"{args.latency_seconds:g} s, {args.latency_connections} connections, load_client.py")
    runs: dict[str, list[dict]] = {names[t.port]: [] for t in targets}
    problems = []
    for round_no in range(1, args.latency_rounds + 1):
        paths = signer.write(int(rate * args.latency_seconds) + 10)
        order = targets if round_no % 2 else list(reversed(targets))
        for target in order:
            time.sleep(1.0)
            data, invalid = run_client(target.url, paths, method="GET",
                                       connections=args.latency_connections, rate=rate,
                                       seconds=args.latency_seconds,
                                       server_pid=target.process.pid)
            runs[names[target.port]].append(data)
            if invalid:
                problems.append(f"{names[target.port]}, round {round_no}: {invalid}")
            lat = data["latency_ms"]
            print(f"  {names[target.port]:<26} " + (f"INVALID: {invalid}" if invalid else
                  f"{data['rps']:,.0f} req/s, p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} "
                  f"ms, max {lat['max']:.1f} ms (service p99 {data['service_ms']['p99']:.2f} "
                  "ms)"))
    results = {name: {"rps": [r["rps"] for r in rs],
                      "p50_ms": [r["latency_ms"]["p50"] for r in rs],
                      "p99_ms": [r["latency_ms"]["p99"] for r in rs],
                      "p50_ms_median": median([r["latency_ms"]["p50"] for r in rs]),
                      "p99_ms_median": median([r["latency_ms"]["p99"] for r in rs])}
               for name, rs in runs.items()}
    return {"rate": round(rate, 1), "seconds": args.latency_seconds,
            "connections": args.latency_connections, "problems": problems,
            "results": results}


if __name__ == "__main__":
    sys.exit(main())
