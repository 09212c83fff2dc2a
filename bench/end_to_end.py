"""Benchmark (b): SendBatchSms messages per second end to end — from the first message accepted
to the last final status — through the carrier simulator, as a ratio against the raw rate at
which one writer inserts the same number of message rows into SQLite, measured in the same run.

Pigeon (``pigeon serve --workers 1``: embedded SQLite, one uvicorn process, background
workers on, ``PIGEON_SIMULATOR_DELAY=200ms``; bench/scaling.py runs more processes) accepts V1 HMAC-SHA1 signed ``SendBatchSms``
requests of 100 numbers each (distinct ordinary mainland numbers, a notification template),
sent as aliyunsdkcore sends ``SendBatchSmsRequest`` (``POST``, every parameter in the query
string).  ``load_client.py`` (its own process) sends ``--messages`` / 100 pre-signed requests
over ``--connections`` connections as fast as they are answered; every answer must be HTTP 200
with ``Code`` OK.  The dispatcher claims the messages, the simulator takes them and reports
them delivered after the delay; the run ends when every message of the round has its final
status, read from the database beside the server (SQLite read-only, every 0.1 s).  The
figures come from the rows themselves: ``created_at`` (accepted) and ``done_at`` (final).

* **end to end msg/s** = messages ÷ (last ``done_at`` − first ``created_at``);
* **accept msg/s** = messages ÷ (last − first ``created_at``), how fast the API took them;
* **baseline msg/s**: the same number of rows, shaped like Pigeon's message rows, inserted into
  Pigeon's ``messages`` table (same columns and indexes, created from ``pigeon.store.tables``)
  in a fresh SQLite database (WAL, ``synchronous=NORMAL``, as Pigeon opens it) by one plain
  ``sqlite3`` writer in a process of its own, 100 rows per ``executemany`` and transaction —
  what writing each message once costs on this machine, with nothing else.
* **ratio** = median end-to-end msg/s ÷ median baseline msg/s.

Then (c) for batches: ``--latency-load`` × the median end-to-end rate, sent at a fixed rate for
``--latency-seconds`` (open loop, latency from each request's due time), with the time the
last final status lagged behind the last acceptance (does delivery keep up?).

    python bench/end_to_end.py                     # 3 rounds of 50,000 messages
    python bench/end_to_end.py --profile           # and a py-spy profile of one more round
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    HOST,
    SERVER_CPU,
    BenchError,
    Server,
    in_workspace,
    machine_info,
    median,
    new_tenant,
    phone_number,
    pigeon_command,
    pigeon_env,
    print_profile,
    process_cpu_seconds,
    profile_while,
    ready_to_send,
    run_client,
    write_signed_paths,
)

ACTION = "SendBatchSms"
METHOD = "POST"  # as aliyunsdkcore's SendBatchSmsRequest: POST, parameters in the query string
BATCH = 100
BALANCE_CNY = 10_000_000


def batch_params(index: int, *, sign_name: str) -> dict[str, str]:
    """Request ``index`` of the run: numbers ``index × 100`` … ``index × 100 + 99``."""
    numbers = [phone_number(index * BATCH + i) for i in range(BATCH)]
    compact = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
    return {"PhoneNumberJson": compact(numbers),
            "SignNameJson": compact([sign_name] * BATCH),
            "TemplateParamJson": compact([{"order": f"B{index * BATCH + i:09d}"}
                                          for i in range(BATCH)])}


# -- reading Pigeon's database beside the server -----------------------------------------------

class Rows:
    """Pigeon's ``messages`` table, read-only (WAL lets it read while the server writes)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "pigeon.db"

    def _query(self, sql: str, *args) -> list[tuple]:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def last_id(self) -> int:
        return self._query("SELECT coalesce(max(id), 0) FROM messages")[0][0]

    def final_count(self, after_id: int) -> int:
        return self._query("SELECT count(*) FROM messages WHERE id > ? AND status IN "
                           "('delivered', 'failed')", after_id)[0][0]

    def summary(self, after_id: int) -> dict:
        first, last, done, count = self._query(
            "SELECT min(created_at), max(created_at), max(done_at), count(*) FROM messages "
            "WHERE id > ?", after_id)[0]
        outcomes = dict((f"{status} {code or ''}".strip(), n) for status, code, n in self._query(
            "SELECT status, err_code, count(*) FROM messages WHERE id > ? "
            "GROUP BY status, err_code", after_id))
        return {"count": count, "first_accepted": first, "last_accepted": last,
                "last_final": done, "outcomes": outcomes}


def _seconds(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def wait_final(rows: Rows, after_id: int, count: int, timeout: float) -> float:
    """Poll until ``count`` messages after ``after_id`` are final; returns the wall time
    waited.  Raises BenchError when they are not within ``timeout`` seconds."""
    started = time.monotonic()
    while True:
        done = rows.final_count(after_id)
        if done >= count:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise BenchError(f"only {done:,} of {count:,} messages reached a final status "
                             f"within {timeout:.0f} s")
        time.sleep(0.1)


# -- the baseline: raw inserts --------------------------------------------------------------

def baseline_rows(count: int) -> list[tuple]:
    """``count`` rows shaped like the message rows Pigeon writes for the benchmark's batches."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    rows = []
    for i in range(count):
        rows.append((f"{i // BATCH:015d}123^0", BASELINE_ACCOUNT, phone_number(i), 86, "mobile",
                     1, "云雀科技", 1, "SMS_123456789", 1,
                     json.dumps({"order": f"B{i:09d}"}), "【云雀科技】您的订单B000000001已发货，请注意查收。",
                     1, "mainland", "1234", None, "queued", None, None, None, None, 0, None,
                     None, 45, 1, now, None, None))
    return rows


BASELINE_ACCOUNT = 1234567890123456
BASELINE_COLUMNS = ("biz_id", "account_id", "phone", "country_code", "carrier", "signature_id",
                    "sign_name", "template_id", "template_code", "template_type", "params",
                    "content", "segments", "encoding", "extend_code", "out_id", "status",
                    "err_code", "err_msg", "connector", "carrier_message_id", "attempts",
                    "next_attempt_at", "claimed_at", "price", "charged", "created_at",
                    "sent_at", "done_at")


def run_baseline_insert(db_path: Path, count: int) -> dict:
    """Insert ``count`` rows into a fresh ``messages`` table at ``db_path``, one transaction per
    100 rows; runs in the subprocess (``--baseline-insert``)."""
    from sqlalchemy import create_engine

    from pigeon.store.tables import accounts, messages

    # The table and its indexes exactly as Pigeon declares them, opened as Pigeon opens its
    # database (WAL, synchronous=NORMAL, foreign keys checked: the row's account exists).
    engine = create_engine(f"sqlite:///{db_path}")
    messages.metadata.create_all(engine, tables=[accounts, messages])
    engine.dispose()
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("INSERT INTO accounts (id, name, status, created_at) VALUES (?, ?, ?, ?)",
               (BASELINE_ACCOUNT, "Bench Tenant", "active", "2026-01-01 00:00:00.000000"))
    present = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
    columns = [c for c in BASELINE_COLUMNS if c in present]
    keep = [BASELINE_COLUMNS.index(c) for c in columns]
    rows = [tuple(row[i] for i in keep) for row in baseline_rows(count)]
    sql = (f"INSERT INTO messages ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows[start:start + BATCH])
        db.execute("COMMIT")
    took = time.perf_counter() - started
    db.close()
    return {"messages": count, "seconds": round(took, 4), "msg_per_s": round(count / took, 1)}


def baseline(tmp: Path, count: int, round_no: int) -> dict:
    path = tmp / f"baseline-{round_no}.db"
    result = subprocess.run([sys.executable, __file__, "--baseline-insert", str(path),
                             "--messages", str(count)], capture_output=True, text=True,
                            timeout=600)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BASELINE_JSON ")),
                None)
    if result.returncode != 0 or line is None:
        raise BenchError(f"the baseline failed: {result.stderr or result.stdout}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return json.loads(line.removeprefix("BASELINE_JSON "))


# -- Pigeon ------------------------------------------------------------------------------------

class Pigeon:
    """A ``pigeon serve`` with a tenant ready to send, its request files and its rows."""

    def __init__(self, args: argparse.Namespace, tmp: Path, servers: list[Server], *,
                 name: str = "pigeon", src: str | None = None, history: int = 0) -> None:
        settings = {"PIGEON_SIMULATOR_DELAY": args.simulator_delay}
        if src:  # run Pigeon from another source tree
            settings["PYTHONPATH"] = src
        env = pigeon_env(tmp, **settings)
        self.name = name
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.tenant = new_tenant(env)
        pin = ["taskset", "-c", SERVER_CPU] if args.pin else []
        self.server = Server(name, [*pin, *pigeon_command(), "serve"], env, tmp / "pigeon.log")
        servers.append(self.server)
        self.server.start()
        ready_to_send(self.tenant, f"{HOST}:{self.server.port}", env, balance_cny=BALANCE_CNY)
        if history:
            # Messages already stored (30 days of them, delivered, indexes built as Pigeon's):
            # written with the server stopped, as query_details.py writes its 10 million.
            from query_details import fill

            self.server.stop()
            # Numbers of their own, far from the rounds': what is measured is the size of the
            # tables, not a busier day for the numbers the rounds send to.
            fill(tmp / "data" / "pigeon.db", [self.tenant.account_id], history, per_day=2.0,
                 seed=history, samples_wanted=0, first_phone=50_000_000)
            self.server.start()
        self.rows = Rows(tmp / "data")
        self.next_request = 0
        self.files = 0

    def requests(self, count: int) -> Path:
        """A file of ``count`` signed SendBatchSms requests, numbers never used before."""
        self.files += 1
        path = self.tmp / f"requests-{ACTION}-{self.files}.txt"
        took = write_signed_paths(
            path, self.tenant.key_id, self.tenant.secret, ACTION,
            {"TemplateCode": self.tenant.template_code, "RegionId": "cn-hangzhou"}, count,
            method=METHOD, vary=functools.partial(batch_params, sign_name=self.tenant.sign_name),
            start=self.next_request)
        self.next_request += count
        print(f"  signed {count:,} {ACTION} requests ({count * BATCH:,} messages) in "
              f"{took:.1f} s")
        return path

    def round(self, args: argparse.Namespace, messages: int, *, rate: float = 0,
              seconds: float = 10) -> dict:
        """Send ``messages`` (or ``rate`` requests/s for ``seconds``) and wait for every
        message's final status; the round's figures."""
        count = messages // BATCH if rate <= 0 else int(rate * seconds) + 1
        paths = self.requests(count)
        after = self.rows.last_id()
        pid = self.server.process.pid
        cpu = process_cpu_seconds(pid)
        time.sleep(0.5)
        data, invalid = run_client(self.server.url, paths, method=METHOD,
                                   connections=args.connections, rate=rate, seconds=seconds)
        if invalid:
            return {"invalid": invalid, "client": data}
        sent = data["ok"] * BATCH
        waited = wait_final(self.rows, after, sent, timeout=args.timeout)
        cpu = process_cpu_seconds(pid) - cpu
        rows = self.rows.summary(after)
        if rows["count"] != sent:
            return {"invalid": f"{sent:,} messages acknowledged, {rows['count']:,} stored",
                    "client": data}
        e2e = _seconds(rows["last_final"], rows["first_accepted"])
        accept = _seconds(rows["last_accepted"], rows["first_accepted"])
        return {
            "invalid": "", "messages": sent, "requests": data["ok"],
            "e2e_seconds": round(e2e, 3), "e2e_msg_per_s": round(sent / e2e, 1),
            "accept_seconds": round(accept, 3),
            "accept_msg_per_s": round(sent / accept, 1) if accept else None,
            "final_lag_seconds": round(_seconds(rows["last_final"], rows["last_accepted"]), 3),
            "waited_after_client_s": round(waited, 2),
            "server_cpu_s": round(cpu, 2),
            "server_cpu_us_per_message": round(cpu * 1e6 / sent, 1),
            "accept_latency_ms": data["latency_ms"], "client_rps": data["rps"],
            "outcomes": rows["outcomes"],
        }


def describe(result: dict) -> str:
    if result["invalid"]:
        return f"INVALID: {result['invalid']}"
    lat = result["accept_latency_ms"]
    return (f"{result['e2e_msg_per_s']:,.0f} msg/s end to end ({result['messages']:,} in "
            f"{result['e2e_seconds']:.2f} s), accepted at {result['accept_msg_per_s'] or 0:,.0f} "
            f"msg/s, last final {result['final_lag_seconds']:.2f} s after the last accept, "
            f"server CPU {result['server_cpu_us_per_message']:,.0f} µs/message, request "
            f"latency p50 {lat['p50']:.1f} ms p99 {lat['p99']:.1f} ms; "
            + ", ".join(f"{k}: {v:,}" for k, v in result["outcomes"].items()))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="SendBatchSms messages/s end to end through the carrier simulator (SQLite, "
                    "one uvicorn process, workers on) as a ratio of one writer's raw insert "
                    "rate of the same rows, measured in the same run.")
    parser.add_argument("--messages", type=int, default=50_000,
                        help="messages per round, 100 per request (50000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds; each runs Pigeon and the baseline once, in alternating "
                             "order; the median is reported (3)")
    parser.add_argument("--connections", type=int, default=8,
                        help="connections of the load client (8)")
    parser.add_argument("--warmup", type=int, default=5000,
                        help="messages sent untimed before the rounds (5000)")
    parser.add_argument("--simulator-delay", default="200ms",
                        help="PIGEON_SIMULATOR_DELAY: receipts arrive after this ±20 %% (200ms)")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds to wait for the final statuses of a round (300)")
    parser.add_argument("--latency-load", type=float, default=0.5,
                        help="(c) fixed rate as a fraction of the median end-to-end rate (0.5); "
                             "0 skips it")
    parser.add_argument("--latency-seconds", type=float, default=10,
                        help="(c) duration of the fixed-rate run (10)")
    parser.add_argument("--compare-src", metavar="DIR",
                        help="also measure a Pigeon run from the source tree DIR (its src/ "
                             "directory, put first on PYTHONPATH) in the same rounds")
    parser.add_argument("--history", type=int, default=0, metavar="N",
                        help="also measure a Pigeon that has N messages stored already (30 days "
                             "of them; 10000000 takes minutes and gigabytes to write) in the "
                             "same rounds: does the rate depend on what is stored?")
    parser.add_argument("--pin", action="store_true",
                        help=f"pin the server to CPU {SERVER_CPU} (taskset)")
    parser.add_argument("--profile", nargs="?", const="", metavar="DIR",
                        help="profile Pigeon with py-spy during one more round; writes the "
                             "collapsed stacks to DIR (default: the temporary directory, kept)")
    parser.add_argument("--top", type=int, default=25, help="profile lines to print (25)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--baseline-insert", metavar="DB", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.baseline_insert:
        print("BASELINE_JSON " + json.dumps(run_baseline_insert(Path(args.baseline_insert),
                                                               args.messages)))
        return 0
    if args.pin and shutil.which("taskset") is None:
        print("error: --pin needs taskset (util-linux)", file=sys.stderr)
        return 2
    keep = args.keep or args.profile == ""
    return in_workspace("pigeon-bench-e2e-", keep,
                        lambda tmp, servers: _bench(args, tmp, servers))


def _bench(args: argparse.Namespace, tmp: Path, servers: list[Server]) -> int:
    info = machine_info()
    pigeons = [Pigeon(args, tmp / "pigeon", servers)]
    if args.compare_src:
        pigeons.append(Pigeon(args, tmp / "compare", servers, name="compare",
                              src=args.compare_src))
    if args.history:
        pigeons.append(Pigeon(args, tmp / "history", servers, name="history",
                              history=args.history))
    pigeon = pigeons[0]
    for one in pigeons:
        print(f"{one.name}: pigeon serve on {one.server.url} (pid {one.server.process.pid}"
              + (f", source {args.compare_src}" if one is not pigeon else "") + "): tenant "
              f"{one.tenant.account_id}, signature {one.tenant.sign_name}, notification "
              f"template {one.tenant.template_code}")
        if args.warmup:
            print(f"warm-up of {one.name}: {args.warmup:,} messages")
            warm = one.round(args, args.warmup)
            if warm["invalid"]:
                raise BenchError(f"the warm-up is not clean: {warm['invalid']}\n"
                                 + one.server.log_tail())

    runs: dict[str, list[dict]] = {one.name: [] for one in pigeons}
    pigeon_runs = runs[pigeon.name]
    baseline_runs: list[dict] = []
    for round_no in range(1, args.rounds + 1):
        order = [*pigeons, "baseline"] if round_no % 2 else ["baseline", *reversed(pigeons)]
        print(f"round {round_no}/{args.rounds}: "
              + " → ".join(getattr(one, "name", one) for one in order))
        for one in order:
            time.sleep(1.0)
            if one != "baseline":
                result = one.round(args, args.messages)
                runs[one.name].append(result)
                print(f"  {one.name:<9} {describe(result)}")
            else:
                result = baseline(tmp, args.messages, round_no)
                baseline_runs.append(result)
                print(f"  baseline  {result['msg_per_s']:,.0f} msg/s ({result['messages']:,} "
                      f"rows in {result['seconds']:.2f} s)")

    good = [r for r in pigeon_runs if not r["invalid"]]
    valid = len(good) == len(pigeon_runs)
    e2e = median([r["e2e_msg_per_s"] for r in good]) if good else None
    base = median([r["msg_per_s"] for r in baseline_runs])

    latency = None
    if args.latency_load > 0 and e2e:
        rate = args.latency_load * e2e / BATCH
        print(f"latency at a fixed rate of {rate:,.1f} requests/s = {rate * BATCH:,.0f} msg/s "
              f"({args.latency_load:g} × the median end-to-end rate), "
              f"{args.latency_seconds:g} s")
        time.sleep(1.0)
        latency = pigeon.round(args, 0, rate=rate, seconds=args.latency_seconds)
        latency["rate_requests_per_s"] = round(rate, 2)
        print(f"  pigeon    {describe(latency)}")
        valid = valid and not latency["invalid"]

    profile = None
    if args.profile is not None:
        out_dir = Path(args.profile) if args.profile else tmp
        out_dir.mkdir(parents=True, exist_ok=True)
        print("profiling one more round with py-spy")
        profiled, profile = profile_while(pigeon.server.process.pid,
                                          out_dir / "pigeon-end-to-end.txt",
                                          lambda: pigeon.round(args, args.messages), args.top)
        print(f"  pigeon    {describe(profiled)}")
        if profile is not None:
            profile["rps_under_profiler"] = profiled.get("client_rps", 0)

    info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print()
    print(f"end_to_end — {info['date']}, {info['nproc']} CPUs ({info['cpu']}), "
          f"Python {info['python']}, uvicorn {info['uvicorn']} ({info['loop']}, "
          f"{info['http']})")
    print(f"load average before {info['loadavg_before']}, after {info['loadavg_after']}")
    print(f"{args.rounds} rounds × {args.messages:,} messages ({args.messages // BATCH:,} "
          f"{ACTION} requests of {BATCH}), {args.connections} connections, simulator delay "
          f"{args.simulator_delay}")
    print()
    print(f"{'':<28}{'median':>12}   per round")
    rounds = ", ".join(f"{r['e2e_msg_per_s']:,.0f}" if not r["invalid"] else "INVALID"
                       for r in pigeon_runs)
    print(f"{'pigeon end to end msg/s':<28}{e2e or 0:>12,.0f}   {rounds}")
    if good:
        print(f"{'pigeon accept msg/s':<28}"
              f"{median([r['accept_msg_per_s'] or 0 for r in good]):>12,.0f}   "
              + ", ".join(f"{r['accept_msg_per_s'] or 0:,.0f}" for r in good))
        print(f"{'pigeon CPU µs/message':<28}"
              f"{median([r['server_cpu_us_per_message'] for r in good]):>12,.0f}   "
              + ", ".join(f"{r['server_cpu_us_per_message']:,.0f}" for r in good))
    for one in pigeons[1:]:
        other = [r for r in runs[one.name] if not r["invalid"]]
        print(f"{one.name + ' end to end msg/s':<28}"
              f"{median([r['e2e_msg_per_s'] for r in other]) if other else 0:>12,.0f}   "
              + ", ".join(f"{r['e2e_msg_per_s']:,.0f}" for r in other))
        print(f"{one.name + ' CPU µs/message':<28}"
              f"{median([r['server_cpu_us_per_message'] for r in other]) if other else 0:>12,.0f}"
              "   " + ", ".join(f"{r['server_cpu_us_per_message']:,.0f}" for r in other))
    print(f"{'baseline insert msg/s':<28}{base:>12,.0f}   "
          + ", ".join(f"{r['msg_per_s']:,.0f}" for r in baseline_runs))
    ratio = round(e2e / base, 4) if e2e and valid else None
    print(f"{'ratio':<28}{ratio if ratio is not None else 'INVALID':>12}")
    if latency and not latency["invalid"]:
        lat = latency["accept_latency_ms"]
        print(f"at {latency['rate_requests_per_s'] * BATCH:,.0f} msg/s: SendBatchSms accept "
              f"latency p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms; last final status "
              f"{latency['final_lag_seconds']:.2f} s after the last accept")
    print()
    if profile:
        print_profile(profile, f"{ACTION} end to end")
    out = {"benchmark": "end_to_end", "valid": valid, "machine": info,
           "options": {k: v for k, v in vars(args).items() if k != "baseline_insert"},
           "results": {**runs, "baseline": baseline_runs,
                       "e2e_msg_per_s_median": e2e, "baseline_msg_per_s_median": base,
                       "ratio": ratio, "latency": latency}}
    if profile:
        out["profile"] = {k: v for k, v in profile.items() if k not in ("raw", "invalid")}
    print("BENCH_JSON " + json.dumps(out, ensure_ascii=False))
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
