"""Benchmarks (a) and (c): SendSms accepted per second as a ratio against a bare "hello" app,
and the accept latency at about half of that rate.

Pigeon (``pigeon serve --workers 1``: embedded SQLite, one uvicorn process, background
workers on; bench/scaling.py runs more processes) accepts V1 HMAC-SHA1 signed ``SendSms`` requests for one number each;
``bench/hello_app.py`` on the same uvicorn options is the baseline, measured in the same run, in
alternating rounds.  The requests are signed just before each run with the official SDK's
``Utils.get_rpcsignature`` and sent as aliyunsdkcore sends ``SendSmsRequest``: ``POST`` with
every parameter in the query string and an empty body.  Each request has its own
SignatureNonce and its own phone number (distinct ordinary mainland numbers, never a magic
one), so no number comes near its per-number limit; the template is a notification.  Every
answer must be HTTP 200 with ``"Code":"OK"`` — a message accepted and committed — or the run is
INVALID.

(a) ``wrk`` replays the requests (``replay.lua``) for ``--seconds`` per run.
(c) ``load_client.py`` (a Python open-loop client in its own process; wrk2 is not in Debian)
    sends fresh requests at a fixed rate of ``--latency-load`` × the median SendSms rate of (a),
    to Pigeon and to the hello app alternately, and reports p50/p99 from each request's due
    time.

Everything lives in a temporary directory (data, tenant, AccessKey, the compliance workflow
through the official SDK, a balance from ``pigeon billing topup``) removed afterwards.  Prints
tables and one ``BENCH_JSON {...}`` line.  See bench/README.md for recorded figures.

    python bench/send_sms.py                         # 3 rounds × 10 s, 32 connections
    python bench/send_sms.py --rounds 5 --profile    # and a py-spy profile of SendSms
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    HELLO_APP,
    HOST,
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
    profile_pigeon,
    ready_to_send,
    report,
    run_client,
    run_wrk,
    write_signed_paths,
)

ACTION = "SendSms"
BENCH_SECRET_KEY = "YmVuY2gta2V5LWZvci1waWdlb24tYmVuY2htYXJrLTA="  # PostgreSQL runs only
BALANCE_CNY = 10_000_000  # 0.045 CNY a message: enough for 200 million
METHOD = "POST"  # as aliyunsdkcore's SendSmsRequest: POST, parameters in the query string


def send_sms_params(index: int) -> dict[str, str]:
    """What differs from one SendSms request to the next: the number and the order number."""
    return {"PhoneNumbers": phone_number(index),
            "TemplateParam": json.dumps({"order": f"A{index:09d}"}, separators=(",", ":"))}


class Requests:
    """Files of signed SendSms requests; every request of the run gets a number of its own."""

    def __init__(self, tmp: Path, tenant) -> None:
        self.tmp = tmp
        self.tenant = tenant
        self.next_index = 0
        self.files = 0
        self.extra = {"SignName": tenant.sign_name, "TemplateCode": tenant.template_code,
                      "RegionId": "cn-hangzhou"}

    def write(self, count: int) -> Path:
        self.files += 1
        path = self.tmp / f"requests-{ACTION}-{self.files}.txt"
        took = write_signed_paths(path, self.tenant.key_id, self.tenant.secret, ACTION,
                                  self.extra, count, method=METHOD, vary=send_sms_params,
                                  start=self.next_index)
        self.next_index += count
        print(f"  signed {count:,} {ACTION} requests in {took:.1f} s")
        return path


def count_messages(data_dir: Path) -> int:
    """Message rows in Pigeon's database (read-only; WAL lets it read beside the server)."""
    db = sqlite3.connect(f"file:{data_dir / 'pigeon.db'}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        db.close()


@dataclass
class Target:
    """One server under test: the hello app (no requests of its own) or a Pigeon."""

    name: str
    server: Server
    requests: Requests | None = None


def latency_phase(args: argparse.Namespace, targets: list[Target], rate: float) -> dict:
    """(c): fixed-rate runs against every target, alternating; medians of the rounds."""
    runs: dict[str, list[dict]] = {t.name: [] for t in targets}
    problems: list[str] = []
    count = int(rate * args.latency_seconds) + 10
    print(f"latency at a fixed rate of {rate:,.0f} req/s ({args.latency_load:g} × the median "
          f"{ACTION} rate), {args.latency_rounds} round(s) × {args.latency_seconds:g} s, "
          f"{args.latency_connections} connections, load_client.py")
    for round_no in range(1, args.latency_rounds + 1):
        order = targets if round_no % 2 else list(reversed(targets))
        files = {t.name: t.requests.write(count) for t in targets if t.requests}
        for target in order:
            # the hello app replays the first Pigeon's request lines
            paths = files.get(target.name) or next(iter(files.values()))
            time.sleep(1.0)
            data, invalid = run_client(target.server.url, paths, method=METHOD,
                                       connections=args.latency_connections, rate=rate,
                                       seconds=args.latency_seconds,
                                       server_pid=target.server.process.pid)
            data["cpu_us_per_request"] = (round(data["server_cpu_s"] * 1e6 / data["requests"], 1)
                                          if data["requests"] else None)
            runs[target.name].append(data)
            if invalid:
                problems.append(f"{target.name}, round {round_no}: {invalid}")
            lat, svc = data["latency_ms"], data["service_ms"]
            status = f"INVALID: {invalid}" if invalid else (
                f"{data['rps']:,.0f} req/s, latency p50 {lat['p50']:.2f} ms, p99 "
                f"{lat['p99']:.2f} ms, max {lat['max']:.1f} ms (service time p50 "
                f"{svc['p50']:.2f}, p99 {svc['p99']:.2f} ms), server CPU "
                f"{data['cpu_us_per_request']:,.0f} µs/req, client CPU "
                f"{100 * data['client_cpu_s'] / data['seconds']:.0f} %")
            print(f"  {target.name:<26} {status}")
    summary = {}
    for target, target_runs in runs.items():
        summary[target] = {
            "rate": rate,
            "rps": [r["rps"] for r in target_runs],
            "p50_ms": [r["latency_ms"]["p50"] for r in target_runs],
            "p99_ms": [r["latency_ms"]["p99"] for r in target_runs],
            "max_ms": [r["latency_ms"]["max"] for r in target_runs],
            "service_p99_ms": [r["service_ms"]["p99"] for r in target_runs],
            "p50_ms_median": median([r["latency_ms"]["p50"] for r in target_runs]),
            "p99_ms_median": median([r["latency_ms"]["p99"] for r in target_runs]),
            "cpu_us_per_request_median": median([r["cpu_us_per_request"] or 0
                                                 for r in target_runs]),
        }
    return {"valid": not problems, "problems": problems, "rate": round(rate, 1),
            "connections": args.latency_connections, "seconds": args.latency_seconds,
            "client": "bench/load_client.py (open loop, latency from each request's due time)",
            "results": summary}


def print_latency(latency: dict) -> None:
    print(f"accept latency at {latency['rate']:,.0f} req/s (open loop, from each request's due "
          f"time; median of {len(next(iter(latency['results'].values()))['rps'])} rounds)")
    header = f"{'target':<26}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}   p99 per round"
    print(header)
    print("-" * len(header))
    for target, res in latency["results"].items():
        rounds = ", ".join(f"{v:.1f}" for v in res["p99_ms"])
        print(f"{target:<26}{res['p50_ms_median']:>9.2f}{res['p99_ms_median']:>9.2f}"
              f"{res['cpu_us_per_request_median']:>12,.0f}   {rounds}")
    if not latency["valid"]:
        print("INVALID: " + " | ".join(latency["problems"]))
    print()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="SendSms accepted per second by Pigeon (SQLite, one uvicorn process, "
                    "workers on) as a ratio of a bare hello app on the same server stack, "
                    "measured in the same run with wrk; then the accept latency at about half "
                    "that rate.",
        epilog="Needs wrk (Debian/Ubuntu: apt-get install -y wrk); --profile needs py-spy.")
    add_wrk_options(parser)
    parser.add_argument("--requests", type=int, default=0,
                        help="pre-signed requests per Pigeon run; 0 = sized from the warm-up "
                             "rate (3 × rate × seconds, at least 20000)")
    parser.add_argument("--latency-load", type=float, default=0.5,
                        help="(c) fixed rate as a fraction of the median SendSms rate (0.5); "
                             "0 skips the latency runs")
    parser.add_argument("--latency-seconds", type=float, default=10,
                        help="(c) duration of each fixed-rate run (10)")
    parser.add_argument("--latency-rounds", type=int, default=3,
                        help="(c) rounds of fixed-rate runs, hello and Pigeon alternating (3)")
    parser.add_argument("--latency-connections", type=int, default=32,
                        help="(c) connections of the fixed-rate client (32)")
    parser.add_argument("--no-workers", action="store_true",
                        help="PIGEON_WORKERS=off: accept only, no dispatcher or simulator "
                             "in the server (messages stay queued)")
    parser.add_argument("--processes", default="1", metavar="N[,M…]",
                        help="API processes of Pigeon (PIGEON_SERVE_WORKERS); several numbers "
                             "make one Pigeon target each, in the same rounds (bench/scaling.py)"
                             " — their CPU figures count every process of the server (1)")
    parser.add_argument("--postgres", action="store_true",
                        help="Pigeon on PostgreSQL (a private cluster of Debian's server "
                             "binaries, a database per target) instead of SQLite")
    parser.add_argument("--simulator-delay", default="200ms",
                        help="PIGEON_SIMULATOR_DELAY of the server (200ms)")
    parser.add_argument("--compare-src", metavar="DIR",
                        help="also measure a Pigeon run from the source tree DIR (its src/ "
                             "directory, put first on PYTHONPATH), as one more target per "
                             "--processes count in the same rounds: before/after figures of a "
                             "change on a busy machine")
    parser.add_argument("--pin", action="store_true",
                        help=f"pin both servers to CPU {SERVER_CPU} and wrk to the other "
                             "(taskset); default: let the kernel schedule them")
    parser.add_argument("--profile", nargs="?", const="", metavar="DIR",
                        help="after the rounds, profile Pigeon under SendSms load with py-spy; "
                             "writes the collapsed stacks to DIR (default: the temporary "
                             "directory, kept)")
    parser.add_argument("--top", type=int, default=20, help="profile lines to print (20)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (data, logs, request files)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_tools(pin=args.pin)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    keep = args.keep or args.profile == ""
    cleanups: list = []
    try:
        return in_workspace("pigeon-bench-send-", keep,
                            lambda tmp, servers: _bench(args, tmp, servers, cleanups))
    finally:
        for cleanup in cleanups:
            cleanup()


def start_pigeon(args: argparse.Namespace, name: str, tmp: Path, servers: list[Server],
                 src: str | None = None, processes: int = 1,
                 database_url: str | None = None) -> Target:
    """A ``pigeon serve`` with a tenant ready to send (its own data directory under ``tmp``);
    ``src``: run Pigeon from that source tree instead of the installed one."""
    tmp.mkdir(parents=True, exist_ok=True)
    settings = {"PIGEON_SIMULATOR_DELAY": args.simulator_delay,
                "PIGEON_SERVE_WORKERS": str(processes)}
    if database_url:
        settings["PIGEON_DATABASE_URL"] = database_url
        settings["PIGEON_SECRET_KEY"] = BENCH_SECRET_KEY  # one key for the CLI and the server
    if src:
        settings["PYTHONPATH"] = src
    env = pigeon_env(tmp, **settings)
    tenant = new_tenant(env)
    pin = ["taskset", "-c", SERVER_CPU] if args.pin else []
    command = [*pin, *pigeon_command(), "serve"]
    if args.no_workers:
        # The compliance workflow needs the workers (the verification code's delivery, the
        # automatic review): set up with them, then measure a server without them.
        helper = Server(f"{name} (set-up)", command, env, tmp / "pigeon-setup.log")
        servers.append(helper)
        helper.start()
        ready_to_send(tenant, f"{HOST}:{helper.port}", env, balance_cny=BALANCE_CNY)
        helper.stop()
        env = {**env, "PIGEON_WORKERS": "off"}
    server = Server(name, command, env, tmp / "pigeon.log")
    servers.append(server)
    server.start()
    if not args.no_workers:
        ready_to_send(tenant, f"{HOST}:{server.port}", env, balance_cny=BALANCE_CNY)
    print(f"{name} on {server.url} (pid {server.process.pid}"
          + (f", source {src}" if src else "") + f"): tenant {tenant.account_id}, signature "
          f"{tenant.sign_name}, notification template {tenant.template_code}, "
          f"balance {BALANCE_CNY:,} CNY")
    return Target(name, server, Requests(tmp, tenant))


def _bench(args: argparse.Namespace, tmp: Path, servers: list[Server], cleanups: list) -> int:
    info = machine_info()
    pin = ["taskset", "-c", SERVER_CPU] if args.pin else []
    hello_server = Server("hello app", [*pin, sys.executable, str(HELLO_APP)],
                          pigeon_env(tmp), tmp / "hello.log")
    servers.append(hello_server)
    hello_server.start()
    hello = Target("hello", hello_server)
    counts = [int(n) for n in args.processes.split(",")]
    postgres = None
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.support.postgres import PostgresServer

        postgres = PostgresServer.start()
        if postgres is None:
            raise BenchError("--postgres needs PostgreSQL's server binaries "
                             "(apt-get install -y postgresql)")
        cleanups.append(postgres.stop)

    def database() -> str | None:
        return postgres.fresh_database() if postgres else None

    def label(count: int) -> str:
        return f"pigeon {ACTION}" + (f" ×{count}" if len(counts) > 1 else "")

    main_name = label(counts[0])
    pigeons = [start_pigeon(args, label(count), tmp / f"pigeon-{count}", servers,
                            processes=count, database_url=database()) for count in counts]
    if args.compare_src:  # the other tree with each number of processes too
        pigeons += [start_pigeon(args, f"{label(count)} (compare)", tmp / f"compare-{count}",
                                 servers, src=args.compare_src, processes=count,
                                 database_url=database()) for count in counts]
    # With several process counts, the bare app runs with each of them too: what the stack
    # gains from more processes here, beside wrk on the same cores, bounds what Pigeon can.
    hellos = []
    for count in counts[1:] if len(counts) > 1 else ():
        if count > 1:
            extra = Server(f"hello app ×{count}", [*pin, sys.executable, str(HELLO_APP),
                                                   "--workers", str(count)],
                           pigeon_env(tmp), tmp / f"hello-{count}.log")
            servers.append(extra)
            extra.start()
            hellos.append(Target(f"hello ×{count}", extra))
    targets = [hello, *hellos, *pigeons]
    wrk_options = {"connections": args.connections, "threads": args.threads, "pin": args.pin,
                   "method": METHOD}

    warm_rates: dict[str, float] = {}
    hello_paths = pigeons[0].requests.write(max(5000, int(2000 * args.warmup)))
    if args.warmup > 0:
        print(f"warm-up: {args.warmup:g} s per target")
        run_wrk(hello.server.url, hello_paths, seconds=args.warmup, allow_wrap=True,
                **wrk_options)
        for target in pigeons:
            # Enough for 8,000 req/s: two SQLite processes pass 3,000 (a request is never
            # replayed: its nonce would be refused).
            warm = target.requests.write(max(5000, int(8000 * args.warmup)))
            data, invalid = run_wrk(target.server.url, warm, seconds=args.warmup,
                                    allow_wrap=False, **wrk_options)
            if invalid:
                raise BenchError(f"warm-up of {target.name} is not clean: {invalid}\n"
                                 + target.server.log_tail())
            warm_rates[target.name] = data["requests"] / (data["duration_us"] / 1e6)

    def count_for(target: Target) -> int:
        return args.requests or max(20000, int(3 * warm_rates.get(target.name, 1000)
                                               * args.seconds))

    runs: list[Run] = []
    for round_no in range(1, args.rounds + 1):
        order = targets if round_no % 2 else list(reversed(targets))
        print(f"round {round_no}/{args.rounds}: {' → '.join(t.name for t in order)}")
        for target in order:
            if target.requests is None:
                paths, allow_wrap = hello_paths, True
            else:
                paths, allow_wrap = target.requests.write(count_for(target)), False
                if target is pigeons[0]:
                    hello_paths = paths  # the baseline replays the same request lines
            time.sleep(1.0)
            data, invalid = run_wrk(target.server.url, paths, seconds=args.seconds,
                                    allow_wrap=allow_wrap, server_pid=target.server.process.pid,
                                    **wrk_options)
            run = Run(target.name, round_no, data, invalid)
            runs.append(run)
            status = f"INVALID: {invalid}" if invalid else (
                f"{run.rps:,.0f} req/s, p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, "
                f"server CPU {run.cpu_pct:.0f} % = {run.cpu_us:,.0f} µs/request, "
                f"wrk CPU {run.wrk_pct:.0f} %")
            print(f"  {target.name:<26} {status}")

    latency = None
    good = [r.rps for r in runs if r.target == main_name and not r.invalid]
    if args.latency_load > 0 and good:
        latency = latency_phase(args, targets, args.latency_load * median(good))

    profile = None
    if args.profile is not None:
        out_dir = Path(args.profile) if args.profile else tmp
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"profiling {main_name} with py-spy")
        profile = profile_pigeon(pigeons[0].server, pigeons[0].requests.write(
                                     count_for(pigeons[0])), out_dir,
                                 seconds=args.seconds, top=args.top, name="pigeon-send-sms",
                                 connections=args.connections, threads=args.threads,
                                 pin=args.pin, method=METHOD)

    stored = {} if postgres else {t.name: count_messages(t.requests.tmp / "data")
                                  for t in pigeons}
    options = {"seconds": args.seconds, "rounds": args.rounds, "warmup": args.warmup,
               "connections": args.connections, "threads": args.threads, "pin": args.pin,
               "workers": not args.no_workers, "simulator_delay": args.simulator_delay,
               "method": METHOD, "compare_src": args.compare_src, "processes": counts,
               "database": "postgresql" if postgres else "sqlite"}
    print()
    if latency:
        print_latency(latency)
    print("messages stored: " + ", ".join(f"{name} {count:,}" for name, count in stored.items()))
    valid = report("send_sms", runs, [t.name for t in targets], info, options, profile,
                   profile_label=ACTION, extra={"latency": latency, "messages_stored": stored})
    return 0 if valid and (latency is None or latency["valid"]) else 1


if __name__ == "__main__":
    sys.exit(main())
