"""Benchmark: SendBatchSms messages per second end to end through SMPP — from the first message
accepted to the last final status written — as a ratio against the same SMSC fed by a minimal
SMPP client, measured in the same run.

The SMSC is ``tests/support/smsc.py`` in a process of its own (``smpp_throughput.py
--serve-smsc``): it answers every ``submit_sm`` with a message id and at once sends a
``DELIVRD`` receipt by ``deliver_sm``.  Two feeders take turns, the same number of messages each:

* **pigeon** — ``pigeon serve --workers 1`` (embedded SQLite, one uvicorn process, workers on)
  with one SMPP connector to the SMSC (``pigeon connector add``; ``--binds``, ``--window``)
  and one catch-all route to it (``pigeon route add``), the simulator disabled.
  ``load_client.py`` (its own process) sends pre-signed V1 ``SendBatchSms`` requests of 100
  distinct ordinary mainland numbers (a notification template) as aliyunsdkcore sends them,
  over ``--connections`` connections as fast as they are answered; every answer must be HTTP
  200 with ``Code`` OK.  The dispatcher claims the messages, the connector submits them,
  receipts come back, the delivery service writes the final statuses (and queues the
  ``SmsReport`` events: report delivery is off for the tenant, so they are marked skipped).
  The round ends when every message is final, read from the database beside the server; the
  figure comes from the rows: messages ÷ (last ``done_at`` − first ``created_at``).
* **raw** — the ceiling: ``smpp_throughput.raw_client``, ``submit_sm`` encoded as they go
  (inside its clock) and pipelined over one socket up to the same window, a
  ``deliver_sm_resp`` for each receipt, nothing else; from the first ``submit_sm`` to the last
  receipt.

A round counts only if every request was answered OK, every message was stored, and every
message ended ``delivered``.  Then the accept latency at a fixed rate of ``--latency-load`` ×
the median end-to-end rate (open loop, latency from each request's due time, as wrk2 does).

    python bench/smpp_end_to_end.py                  # 3 rounds of 50,000 messages
    python bench/smpp_end_to_end.py --messages 20000 --rounds 1 --window 100 --binds 2
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH.parent / "src"))
# The request shape and the read-only view of `messages` are end_to_end.py's (the same
# SendBatchSms load, only the connector differs).
from end_to_end import ACTION, BALANCE_CNY, BATCH, METHOD, batch_params  # noqa: E402
from end_to_end import Rows as _Rows  # noqa: E402
from end_to_end import _seconds as seconds_between  # noqa: E402
from harness import (  # noqa: E402
    HOST,
    BenchError,
    Server,
    in_workspace,
    median,
    new_tenant,
    pigeon_command,
    pigeon_env,
    print_profile,
    process_cpu_seconds,
    profile_while,
    ready_to_send,
    run_cli,
    run_client,
    wait_for_smsc_connector,
    write_signed_paths,
)
from smpp_throughput import raw_client  # noqa: E402


class Rows(_Rows):
    """end_to_end's view of ``messages``, plus what SMPP retries and the drain show."""

    def summary(self, after: int) -> dict:
        summary = super().summary(after)
        retried = self._query("SELECT count(*) FROM messages WHERE id > ? AND attempts > 1",
                              after)[0][0]
        drained = self._query("SELECT count(*) FROM messages WHERE id > ? AND done_at > ?",
                              after, summary["last_accepted"])[0][0]
        return {**summary, "retried": retried, "final_after_last_accept": drained}


class Smsc:
    """The test SMSC in a process of its own."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH / "smpp_throughput.py"), "--serve-smsc"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)


class Pigeon:
    def __init__(self, args: argparse.Namespace, tmp: Path, smsc: Smsc,
                 servers: list[Server]) -> None:
        self.tmp = tmp
        self.env = env = pigeon_env(tmp, PIGEON_SERVE_WORKERS=str(args.processes))
        self.tenant = new_tenant(env)
        self.server = Server("pigeon serve", [*pigeon_command(), "serve"], env,
                             tmp / "pigeon.log")
        servers.append(self.server)
        self.server.start()
        ready_to_send(self.tenant, f"{HOST}:{self.server.port}", env, balance_cny=BALANCE_CNY)
        run_cli(env, "connector", "add", "smsc", "--host", HOST, "--port", str(smsc.port),
                "--system-id", "pigeon", "--password", "secret", "--window", str(args.window),
                "--binds", str(args.binds))
        run_cli(env, "route", "add", "--connector", "smsc")
        run_cli(env, "connector", "disable", "simulator")
        wait_for_smsc_connector(env, self.server)
        self.rows = Rows(tmp / "data")
        self.next_request = 0
        self.files = 0

    def requests(self, count: int) -> Path:
        self.files += 1
        path = self.tmp / f"requests-{self.files}.txt"
        write_signed_paths(
            path, self.tenant.key_id, self.tenant.secret, ACTION,
            {"TemplateCode": self.tenant.template_code, "RegionId": "cn-hangzhou"}, count,
            method=METHOD, vary=functools.partial(batch_params, sign_name=self.tenant.sign_name),
            start=self.next_request)
        self.next_request += count
        return path

    def round(self, args: argparse.Namespace, messages: int, *, rate: float = 0,
              seconds: float = 10) -> dict:
        count = messages // BATCH if rate <= 0 else int(rate * seconds) + 1
        paths = self.requests(count)
        after = self.rows.last_id()
        pid = self.server.process.pid
        cpu = process_cpu_seconds(pid)
        parent_cpu = process_cpu_seconds(pid, children=False)
        data, invalid = run_client(self.server.url, paths, method=METHOD,
                                   connections=args.connections, rate=rate, seconds=seconds)
        if invalid:
            return {"invalid": invalid}
        sent = data["ok"] * BATCH
        started = time.monotonic()
        while (done := self.rows.final_count(after)) < sent:
            if time.monotonic() - started > args.timeout:
                return {"invalid": f"only {done:,} of {sent:,} final after {args.timeout:.0f} s"}
            time.sleep(0.1)
        cpu = process_cpu_seconds(pid) - cpu
        parent_cpu = process_cpu_seconds(pid, children=False) - parent_cpu
        rows = self.rows.summary(after)
        if rows["count"] != sent:
            return {"invalid": f"{sent:,} messages acknowledged, {rows['count']:,} stored"}
        if rows["outcomes"] != {"delivered DELIVERED": sent}:
            return {"invalid": f"not all delivered: {rows['outcomes']}"}
        e2e = seconds_between(rows["last_final"], rows["first_accepted"])
        accept = seconds_between(rows["last_accepted"], rows["first_accepted"])
        lag = seconds_between(rows["last_final"], rows["last_accepted"])
        return {
            "invalid": "", "messages": sent, "e2e_seconds": round(e2e, 3),
            "e2e_msg_per_s": round(sent / e2e, 1),
            "accept_msg_per_s": round(sent / accept, 1) if accept else None,
            "final_lag_seconds": round(lag, 3),
            "drain_msg_per_s": round(rows["final_after_last_accept"] / lag, 1) if lag > 0.5
            else None,
            "server_cpu_us_per_message": round(cpu * 1e6 / sent, 1),
            # With --processes N > 1: the dispatching process's own (the API's are below it).
            "parent_cpu_us_per_message": round(parent_cpu * 1e6 / sent, 1),
            "accept_latency_ms": data["latency_ms"], "retried": rows["retried"],
        }


def describe(result: dict) -> str:
    if result["invalid"]:
        return f"INVALID: {result['invalid']}"
    latency = result["accept_latency_ms"]
    return (f"{result['e2e_msg_per_s']:>8,.0f} msg/s end to end ({result['messages']:,} in "
            f"{result['e2e_seconds']:.2f} s; accepted at {result['accept_msg_per_s'] or 0:,.0f} "
            f"msg/s, last final {result['final_lag_seconds']:.2f} s after the last accept"
            + (f" (draining at {result['drain_msg_per_s']:,.0f} msg/s)"
               if result["drain_msg_per_s"] else "") + ", "
            f"server CPU {result['server_cpu_us_per_message']:,.0f} µs/message (its first "
            f"process {result['parent_cpu_us_per_message']:,.0f}), request "
            f"latency p50 {latency['p50']:.1f} ms p99 {latency['p99']:.1f} ms)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000,
                        help="messages per round, 100 per request (50000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=int, default=100,
                        help="the connector's and the raw client's window (100)")
    parser.add_argument("--binds", type=int, default=1, help="the connector's binds (1)")
    parser.add_argument("--processes", type=int, default=1,
                        help="API processes of pigeon serve (PIGEON_SERVE_WORKERS; the workers "
                             "run in its parent when more than 1); its CPU counts them all (1)")
    parser.add_argument("--connections", type=int, default=8,
                        help="connections of the load client (8)")
    parser.add_argument("--warmup", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--latency-load", type=float, default=0.5,
                        help="fixed rate as a fraction of the median end-to-end rate (0.5); "
                             "0 skips it")
    parser.add_argument("--latency-seconds", type=float, default=10)
    parser.add_argument("--profile", nargs="?", const="", metavar="DIR",
                        help="profile Pigeon with py-spy during one more round; writes the "
                             "collapsed stacks to DIR (default: the temporary directory, kept)")
    parser.add_argument("--top", type=int, default=25, help="profile lines to print (25)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    smsc = Smsc()
    keep = args.keep or args.profile == ""
    return in_workspace("pigeon-bench-smpp-", keep,
                        lambda tmp, servers: bench(args, tmp, smsc, servers), cleanup=smsc.stop)


def bench(args: argparse.Namespace, tmp: Path, smsc: Smsc, servers: list[Server]) -> int:
    load_before = os.getloadavg()
    pigeon = Pigeon(args, tmp, smsc, servers)
    print(f"SMSC on port {smsc.port}; pigeon serve on {pigeon.server.url}: connector smsc "
          f"(window {args.window}, {args.binds} bind(s)), route * → smsc, simulator disabled")
    if args.warmup:
        warm = pigeon.round(args, args.warmup)
        print(f"warm-up   {describe(warm)}")
        if warm["invalid"]:
            raise BenchError("the warm-up is not clean\n" + pigeon.server.log_tail())
    runs: list[dict] = []
    raws: list[float] = []
    for number in range(1, args.rounds + 1):
        order = ["pigeon", "raw"] if number % 2 else ["raw", "pigeon"]
        print(f"round {number}/{args.rounds}: {' → '.join(order)}")
        for name in order:
            time.sleep(1.0)
            if name == "pigeon":
                runs.append(pigeon.round(args, args.messages))
                print(f"  pigeon  {describe(runs[-1])}")
            else:
                raws.append(asyncio.run(raw_client(smsc.port, args.messages, args.window)))
                print(f"  raw     {raws[-1]:>8,.0f} msg/s (submit_sm → last receipt)")
    good = [r for r in runs if not r["invalid"]]
    e2e = median([r["e2e_msg_per_s"] for r in good]) if good else None
    raw = median(raws)
    latency = None
    if args.latency_load > 0 and e2e:
        rate = args.latency_load * e2e / BATCH
        print(f"latency at {rate:,.1f} requests/s = {rate * BATCH:,.0f} msg/s "
              f"({args.latency_load:g} × the median end-to-end rate) for "
              f"{args.latency_seconds:g} s")
        latency = pigeon.round(args, 0, rate=rate, seconds=args.latency_seconds)
        latency["rate_msg_per_s"] = round(rate * BATCH)
        print(f"  pigeon  {describe(latency)}")
    valid = len(good) == len(runs) and (latency is None or not latency["invalid"])
    profile = None
    if args.profile is not None:
        out_dir = Path(args.profile) if args.profile else tmp
        out_dir.mkdir(parents=True, exist_ok=True)
        print("profiling one more round with py-spy (every process of the server)")
        profiled, profile = profile_while(pigeon.server.process.pid,
                                          out_dir / "pigeon-smpp-end-to-end.txt",
                                          lambda: pigeon.round(args, args.messages), args.top)
        print(f"  pigeon  {describe(profiled)}")
        if profile is not None:
            profile["rps_under_profiler"] = (profiled.get("accept_msg_per_s") or 0) / BATCH
    print()
    if profile:
        print_profile(profile, "SendBatchSms end to end through SMPP")
    print(f"end to end through SMPP (median of {len(good)}): "
          f"{e2e or 0:,.0f} msg/s; raw SMPP client: {raw:,.0f} msg/s; "
          f"ratio {(e2e or 0) / raw:.3f}; load average {load_before[0]:.1f} → "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("BENCH_JSON " + json.dumps({
        "benchmark": "smpp_end_to_end", "valid": valid,
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "loadavg": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "options": vars(args), "pigeon": runs, "raw_msg_per_s": [round(r) for r in raws],
        "pigeon_median": e2e, "raw_median": round(raw), "ratio": round((e2e or 0) / raw, 4),
        "latency": latency}, ensure_ascii=False))
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
