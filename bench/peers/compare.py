"""The peer comparison: Pigeon, Kannel and Jasmin end to end through SMPP to one SMSC, with
delivery reports pushed back to one local receiver, in alternating rounds; prints the table.

Everything runs on this machine, on loopback, in a temporary directory that is removed
afterwards, and every process is started and stopped by this script (no system service is
used or left running):

* **the SMSC** — ``smsc.py`` (its own process, uvloop): answers every ``submit_sm`` and sends a
  ``DELIVRD`` receipt at once.  Its ceiling and CPU per message are measured in the same run
  with the raw SMPP client of ``bench/smpp_throughput.py``, and the test SMSC's
  (``tests/support/smsc.py``) beside it;
* **the receiver** — ``receiver.py`` (its own process): every gateway pushes its reports to it;
* **Kannel** (``kannel_gateway.py``), **Jasmin** (``jasmin_gateway.py``), **Pigeon**
  (``pigeon_gateway.py``): each module's docstring gives the settings it runs with.

Two cases, each ``--rounds`` rounds; in each round every gateway gets its messages (fresh
numbers, distinct across the run; Jasmin fewer, ``--jasmin-*-messages``, as its rate would
make the others' count last many minutes), the order rotating from round to round:

* **bulk** — ``--bulk-messages`` messages, 100 numbers a request, through each gateway's bulk
  HTTP interface (Kannel ``sendsms`` with 100 recipients, Jasmin's REST ``/secure/sendbatch``,
  Pigeon ``SendBatchSms``), ``--bulk-connections`` connections;
* **single** — ``--single-messages`` requests of one number (Kannel ``sendsms``, Jasmin
  ``/send``, Pigeon ``SendSms``), ``--single-connections`` connections.

``feed.py`` sends a round's requests as fast as they are answered.  The figures:

* **msg/s** — messages ÷ (last ``deliver_sm_resp`` − first ``submit_sm``), both at the SMSC;
* **accepted/s** — messages ÷ (last answer − first request), at the feeder;
* **reports** — seconds from the first ``submit_sm`` until the receiver had the last report;
* **CPU s / 1,000 msgs** — user + system CPU of every process of the gateway (read from /proc
  by session: all threads, forked children too) from just before the feed to the last report,
  per 1,000 messages.  Kannel: bearerbox + smsbox; Jasmin: jasmind, the REST API, its Celery
  workers, RabbitMQ (epmd and the Erlang VM) and Redis; Pigeon: ``pigeon serve`` and every
  process it starts.  The SMSC's, the receiver's and the feeder's are shown apart.

A round counts only if every request was accepted, the SMSC got every number exactly once
(and nothing else), every receipt's ``deliver_sm_resp`` came back OK, and the receiver got
exactly one final "delivered" report for every number (Pigeon: also every message
``delivered`` in its database).  Medians of the valid rounds; the ratios are Pigeon's median
over each peer's.  One ``BENCH_JSON`` line at the end.

    python bench/peers/compare.py                              # 3 rounds of each case
    python bench/peers/compare.py --gateways kannel,pigeon --cases single --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

PEERS = Path(__file__).resolve().parent
sys.path.insert(0, str(PEERS))
sys.path.insert(0, str(PEERS.parent))

from harness import phone_number  # noqa: E402
from processes import (  # noqa: E402
    BenchError,
    Controlled,
    by_name,
    cpu_by_pid,
    install_debian,
    process_names,
    session_cpu,
    waits_by_pid,
)

# The text every gateway sends: what Pigeon renders for the benchmark's template (UCS-2, one
# segment).
TEXT = "【云雀科技】您的订单B000000001已发货，请注意查收。"
CASES = {"bulk": 100, "single": 1}


def normalize(number: str) -> str:
    """A destination as the benchmark wrote it: no ``+``, no 86 country code."""
    number = number.lstrip("+")
    return number[2:] if len(number) == 13 and number.startswith("86") else number


def smsc_ceiling(port: int, messages: int, window: int) -> float:
    """The raw SMPP client of smpp_throughput.py against the SMSC: its msg/s."""
    result = subprocess.run(
        [sys.executable, "-c",
         "import asyncio, sys; sys.path[:0] = sys.argv[4:]; "
         "from smpp_throughput import raw_client; "
         "print(asyncio.run(raw_client(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))",
         str(port), str(messages), str(window), str(PEERS.parent), str(PEERS.parent.parent / "src")],
        capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise BenchError(f"the raw SMPP client failed: {result.stderr[-500:]}")
    return float(result.stdout.strip().splitlines()[-1])


def smsc_ceilings(bench_smsc: Controlled, window: int, count: int = 50_000) -> dict:
    """The raw SMPP client against this benchmark's SMSC and against the test SMSC
    (``tests/support/smsc.py``, as ``smpp_throughput.py --serve-smsc`` runs it): msg/s and
    the SMSC's CPU µs per message, so that the table shows how much of a core each SMSC takes
    at the gateways' rates."""
    from harness import process_cpu_seconds

    cpu = bench_smsc.command("stats")["cpu_s"]
    rate = smsc_ceiling(bench_smsc.port, count, window)
    ours = {"msg_per_s": round(rate),
            "cpu_us_per_msg": round((bench_smsc.command("stats")["cpu_s"] - cpu) * 1e6 / count,
                                    1)}
    test = subprocess.Popen([sys.executable, str(PEERS.parent / "smpp_throughput.py"),
                             "--serve-smsc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        port = int(test.stdout.readline())
        cpu = process_cpu_seconds(test.pid)
        rate = smsc_ceiling(port, count, window)
        theirs = {"msg_per_s": round(rate), "cpu_us_per_msg": round(
            (process_cpu_seconds(test.pid) - cpu) * 1e6 / count, 1)}
    finally:
        test.stdin.close()
        test.wait(30)
    return {"bench/peers/smsc.py": ours, "tests/support/smsc.py": theirs}


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.next_number = 0
        self.smsc = Controlled("smsc.py", "--system-id", "pigeon", "--password", "secret")
        self.receiver = Controlled("receiver.py")
        self.files = 0

    def numbers(self, count: int) -> list[str]:
        start = self.next_number
        self.next_number += count
        return [phone_number(i) for i in range(start, start + count)]

    def feed(self, gateway, numbers: list[str], per_request: int, connections: int) -> dict:
        spec = gateway.requests(numbers, per_request, TEXT)
        self.files += 1
        path = self.tmp / f"feed-{self.files}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for line in spec["lines"]:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        answers = self.tmp / f"answers-{self.files}.jsonl"
        argv = [sys.executable, str(PEERS / "feed.py"), "--port", str(spec["port"]),
                "--file", str(path), "--connections", str(connections),
                "--status", spec["status"], "--expect", spec["expect"],
                "--answers", str(answers)]
        return {"argv": argv, "answers": answers, "requests": len(spec["lines"])}

    def round(self, gateway, case: str, count: int) -> dict:
        args = self.args
        per_request = CASES[case]
        connections = args.bulk_connections if case == "bulk" else args.single_connections
        numbers = self.numbers(count)
        feed = self.feed(gateway, numbers, per_request, connections)
        if hasattr(gateway, "before_round"):
            gateway.before_round()
        self.smsc.command("reset")
        self.receiver.command("reset")
        sessions = gateway.sessions
        cpu = session_cpu(sessions)
        by_pid = cpu_by_pid(sessions)
        waits = waits_by_pid(sessions)
        smsc_cpu = self.smsc.command("stats")["cpu_s"]
        receiver_before = self.receiver.command("stats")
        receiver_cpu = receiver_before["cpu_s"]
        run = subprocess.run(feed["argv"], capture_output=True, text=True,
                             timeout=args.timeout)
        line = next((ln for ln in run.stdout.splitlines() if ln.startswith("FEED_JSON ")), None)
        if run.returncode != 0 or line is None:
            raise BenchError(f"feed.py failed ({run.returncode}): {run.stderr[-800:]}")
        fed = json.loads(line.removeprefix("FEED_JSON "))
        problems = []
        if fed["accepted"] != feed["requests"]:
            problems.append(f"{feed['requests'] - fed['accepted']} of {feed['requests']} "
                            f"requests not accepted ({fed['errors']} socket errors; first: "
                            f"{fed['sample']})")
        # Wait for the last receipt answered at the SMSC and the last report at the receiver;
        # give up after --stall seconds without progress (a lost message never arrives).
        started = time.monotonic()
        progress, last_change = None, time.monotonic()
        while True:
            smsc = self.smsc.command("stats")
            received = self.receiver.command("stats")
            if smsc["deliver_resps"] >= count and received["reports"] >= count:
                break
            now = (smsc["submits"], smsc["deliver_resps"], received["reports"])
            if now != progress:
                progress, last_change = now, time.monotonic()
            elif time.monotonic() - last_change > args.stall:
                break
            if time.monotonic() - started > args.timeout:
                break
            time.sleep(0.1)
        used = session_cpu(sessions) - cpu
        after = cpu_by_pid(sessions)
        before = by_name(by_pid)
        names = {name: round(seconds - before.get(name, 0.0), 2)
                 for name, seconds in by_name(after).items()}
        # Each process's share, busiest first: how evenly the work was spread over them.
        waited = waits_by_pid(sessions)
        each = sorted(((name, round(seconds - by_pid.get(pid, (name, 0.0))[1], 2),
                        round(waited.get(pid, 0.0) - waits.get(pid, 0.0), 2))
                       for pid, (name, seconds) in after.items()),
                      key=lambda item: -item[1])
        if hasattr(gateway, "after_round"):
            problems += gateway.after_round(numbers)
        destinations = self.tmp / "destinations.txt"
        smsc = self.smsc.command(f"dump {destinations}")
        kept_path = self.tmp / "reports.jsonl"
        received = self.receiver.command(f"dump {kept_path}")
        problems += self.check_smsc(numbers, destinations, smsc)
        kept = [tuple(json.loads(ln)) for ln in kept_path.read_text(encoding="utf-8").splitlines()]
        answers = [json.loads(ln) for ln in
                   feed["answers"].read_text(encoding="utf-8").splitlines()]
        problems += gateway.check(numbers, kept, answers, normalize)
        seconds = smsc["last_deliver_resp"] - smsc["first_submit"]
        accept = fed["last_answer"] - fed["first_sent"]
        return {
            "gateway": gateway.name, "case": case, "messages": count,
            "requests": feed["requests"], "invalid": "; ".join(problems),
            "msg_per_s": round(count / seconds, 1) if seconds > 0 else None,
            "smsc_seconds": round(seconds, 3),
            "accepted_per_s": round(count / accept, 1) if accept > 0 else None,
            "reports_seconds": round(received["last"] - smsc["first_submit"], 3),
            "first_submit_after_first_request": round(smsc["first_submit"] - fed["first_sent"],
                                                      3),
            "cpu_s": round(used, 3), "cpu_s_per_1000": round(used * 1000 / count, 3),
            "cpu_s_by_process": {k: v for k, v in sorted(names.items()) if v},
            "cpu_s_each_process": [f"{name} {seconds}" for name, seconds, _ in each if seconds],
            # Each process's seconds runnable but waiting for a core, in the same order.
            "core_wait_s_each_process": [f"{name} {wait}" for name, seconds, wait in each
                                         if seconds],
            "smsc_cpu_s": round(smsc["cpu_s"] - smsc_cpu, 3),
            "receiver_cpu_s": round(received["cpu_s"] - receiver_cpu, 3),
            # Reports a push carried, on average (Kannel pushes each alone).
            "reports_per_push": round(count / max(1, received["requests"]
                                                  - receiver_before["requests"]), 1),
            "feeder_cpu_s": fed["cpu_s"],
        }

    def check_smsc(self, numbers: list[str], destinations: Path, smsc: dict) -> list[str]:
        got = [normalize(x) for x in destinations.read_text().split()]
        problems = []
        counts: dict[str, int] = {}
        for number in got:
            counts[number] = counts.get(number, 0) + 1
        expected = set(numbers)
        missing = [n for n in numbers if n not in counts]
        twice = [n for n, k in counts.items() if k > 1]
        stray = [n for n in counts if n not in expected]
        for label, items in (("never reached the SMSC", missing),
                             ("reached the SMSC more than once", twice),
                             ("reached the SMSC but were not sent", stray)):
            if items:
                problems.append(f"{len(items)} numbers {label} (e.g. {', '.join(items[:3])})")
        if smsc["deliver_resps"] != smsc["deliver_sent"] or smsc["deliver_resp_errors"]:
            problems.append(f"{smsc['deliver_sent']} receipts sent, {smsc['deliver_resps']} "
                            f"answered, {smsc['deliver_resp_errors']} with an error status")
        if smsc["no_receiver"] or smsc["refused"]:
            problems.append(f"{smsc['no_receiver']} receipts without a receiver bound, "
                            f"{smsc['refused']} submits refused")
        return problems

    def stop(self) -> None:
        self.smsc.stop()
        self.receiver.stop()


def start_gateway(name: str, bench: Bench, args: argparse.Namespace, tmp: Path):
    smsc, receiver = bench.smsc.port, bench.receiver.port
    if name == "kannel":
        from kannel_gateway import Kannel

        return Kannel(tmp, smsc, receiver, args.window)
    if name == "jasmin":
        from jasmin_gateway import Jasmin

        return Jasmin(tmp, smsc, receiver, args)
    from pigeon_gateway import Pigeon

    return Pigeon(tmp, smsc, receiver, args)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(runs: list[dict], gateways: list[str], cases: list[str]) -> dict:
    summary: dict = {}
    for case in cases:
        summary[case] = {}
        for name in gateways:
            mine = [r for r in runs if r["gateway"] == name and r["case"] == case]
            good = [r for r in mine if not r["invalid"]]
            summary[case][name] = {
                "valid": f"{len(good)}/{len(mine)}",
                "msg_per_s": median([r["msg_per_s"] for r in good]),
                "accepted_per_s": median([r["accepted_per_s"] for r in good]),
                "reports_seconds": median([r["reports_seconds"] for r in good]),
                "cpu_s_per_1000": median([r["cpu_s_per_1000"] for r in good]),
                "per_round": [r["msg_per_s"] if not r["invalid"] else None for r in mine],
            }
        pigeon = summary[case].get("pigeon", {})
        for name in gateways:
            if name == "pigeon":
                continue
            peer = summary[case][name]
            if pigeon.get("msg_per_s") and peer["msg_per_s"]:
                peer["pigeon_ratio"] = round(pigeon["msg_per_s"] / peer["msg_per_s"], 3)
                peer["pigeon_cpu_ratio"] = round(pigeon["cpu_s_per_1000"]
                                                 / peer["cpu_s_per_1000"], 3)
    return summary


def print_table(summary: dict, args: argparse.Namespace, gateways: dict) -> None:
    for case, rows in summary.items():
        how = "100 numbers a request" if case == "bulk" else "one number a request"
        counts = ", ".join(f"{name} {messages(args, case, name):,}" for name in rows)
        print(f"\n{case}, {how}; messages a round: {counts}")
        header = (f"{'gateway':<10}{'valid':>7}{'msg/s':>9}{'Pigeon ÷':>10}{'accepted/s':>12}"
                  f"{'reports s':>11}{'CPU s/1k':>10}{'CPU ÷':>8}   msg/s per round")
        print(header)
        print("-" * len(header))
        for name, row in rows.items():
            def fmt(value, spec):
                return format(value, spec) if value is not None else "—"
            print(f"{name:<10}{row['valid']:>7}{fmt(row['msg_per_s'], ',.0f'):>9}"
                  f"{fmt(row.get('pigeon_ratio'), '.3f') if name != 'pigeon' else '':>10}"
                  f"{fmt(row['accepted_per_s'], ',.0f'):>12}"
                  f"{fmt(row['reports_seconds'], '.2f'):>11}"
                  f"{fmt(row['cpu_s_per_1000'], '.3f'):>10}"
                  f"{fmt(row.get('pigeon_cpu_ratio'), '.2f') if name != 'pigeon' else '':>8}"
                  f"   " + " · ".join(fmt(v, ",.0f") for v in row["per_round"]))
    print("\nmsg/s: first submit_sm to last deliver_sm_resp at the SMSC; Pigeon ÷: Pigeon's "
          "median over the peer's; reports s: first submit_sm to the last report at the "
          "receiver; CPU s/1k: the gateway's CPU seconds per 1,000 messages (CPU ÷: Pigeon's "
          "over the peer's).")
    for gateway in gateways.values():
        print(f"{gateway.name}: {gateway.version}; {gateway.settings()}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", default="pigeon,kannel,jasmin")
    parser.add_argument("--cases", default="bulk,single")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bulk-messages", type=int, default=20_000)
    parser.add_argument("--single-messages", type=int, default=5_000)
    parser.add_argument("--jasmin-bulk-messages", type=int, default=2_000)
    parser.add_argument("--jasmin-single-messages", type=int, default=1_000)
    parser.add_argument("--bulk-connections", type=int, default=8)
    parser.add_argument("--single-connections", type=int, default=32)
    parser.add_argument("--window", type=int, default=100,
                        help="every gateway's SMPP window (100)")
    parser.add_argument("--warmup", type=int, default=2000,
                        help="messages of an untimed bulk round per gateway first (2000)")
    parser.add_argument("--stall", type=float, default=60,
                        help="seconds without progress before a round gives up (60)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--jasmin-venv", type=Path,
                        help="an existing virtualenv with jasmin installed (else one is made "
                             "in the temporary directory)")
    parser.add_argument("--no-install", action="store_true",
                        help="do not apt-get install missing Debian packages")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [g for g in args.gateways.split(",") if g]
    cases = [c for c in args.cases.split(",") if c]
    if set(names) - {"pigeon", "kannel", "jasmin"} or set(cases) - set(CASES):
        raise SystemExit("--gateways: pigeon, kannel, jasmin; --cases: bulk, single")
    packages = (["kannel"] if "kannel" in names else []) + \
        (["rabbitmq-server", "redis-server"] if "jasmin" in names else [])
    if packages and not args.no_install:
        install_debian(packages)
    tmp = Path(tempfile.mkdtemp(prefix="pigeon-bench-peers-"))
    print(f"working directory: {tmp}", flush=True)
    load_before = os.getloadavg()
    bench = Bench(args, tmp)
    gateways: dict = {}
    try:
        for name in names:
            print(f"starting {name} …", flush=True)
            gateways[name] = start_gateway(name, bench, args, tmp)
            print(f"  {gateways[name].version}; processes: "
                  f"{', '.join(process_names(gateways[name].sessions))}", flush=True)
        ceiling = smsc_ceilings(bench.smsc, args.window)
        for name, figures in ceiling.items():
            print(f"SMSC ceiling, {name}: {figures['msg_per_s']:,} msg/s with the raw SMPP "
                  f"client (window {args.window}), {figures['cpu_us_per_msg']} µs of its CPU "
                  "a message")
        if args.warmup:
            for name, gateway in gateways.items():
                warm = bench.round(gateway, "bulk", min(args.warmup,
                                                        messages(args, "bulk", name)))
                print(f"warm-up {name}: {describe(warm)}", flush=True)
                if warm["invalid"]:
                    raise BenchError(f"the warm-up of {name} is not clean:\n{gateway.tail()}")
        runs = []
        for case in cases:
            for number in range(args.rounds):
                order = names[number % len(names):] + names[:number % len(names)]
                print(f"{case} round {number + 1}/{args.rounds}: {' → '.join(order)}",
                      flush=True)
                for name in order:
                    time.sleep(1.0)
                    result = bench.round(gateways[name], case, messages(args, case, name))
                    result["round"] = number + 1
                    runs.append(result)
                    print(f"  {name:<7} {describe(result)}", flush=True)
        summary = summarize(runs, names, cases)
        print_table(summary, args, gateways)
        load_after = os.getloadavg()
        print(f"load average {load_before[0]:.1f} → {load_after[0]:.1f} on "
              f"{os.cpu_count()} CPUs")
        valid = all(not r["invalid"] for r in runs)
        print("BENCH_JSON " + json.dumps({
            "benchmark": "peers", "valid": valid,
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "loadavg": [round(load_before[0], 2), round(load_after[0], 2)],
            "options": {k: str(v) for k, v in vars(args).items()},
            "versions": {n: g.version for n, g in gateways.items()},
            "settings": {n: g.settings() for n, g in gateways.items()},
            "smsc_ceilings": ceiling, "runs": runs, "summary": summary},
            ensure_ascii=False))
        return 0 if valid else 1
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for gateway in reversed(list(gateways.values())):
            gateway.stop()
        bench.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def messages(args: argparse.Namespace, case: str, gateway: str) -> int:
    """A round's messages: Jasmin gets its own, smaller count (``--jasmin-bulk-messages``,
    ``--jasmin-single-messages``) — at its rate here the others' would take many minutes a
    round; each of its rounds still lasts long enough for a steady rate."""
    if gateway == "jasmin":
        return args.jasmin_bulk_messages if case == "bulk" else args.jasmin_single_messages
    return args.bulk_messages if case == "bulk" else args.single_messages


def describe(result: dict) -> str:
    text = (f"{result['msg_per_s'] or 0:>8,.0f} msg/s at the SMSC ({result['messages']:,} in "
            f"{result['smsc_seconds']:.2f} s), accepted at {result['accepted_per_s'] or 0:,.0f}"
            f"/s, last report at {result['reports_seconds']:.2f} s, CPU "
            f"{result['cpu_s_per_1000']:.3f} s/1k "
            f"[{', '.join(result.get('cpu_s_each_process', []))}], waiting for a core "
            f"[{', '.join(result.get('core_wait_s_each_process', []))}] (SMSC "
            f"{result['smsc_cpu_s']:.2f} s, receiver {result['receiver_cpu_s']:.2f} s, feeder "
            f"{result['feeder_cpu_s']:.2f} s), {result['reports_per_push']} reports a push")
    return text + (f"  INVALID: {result['invalid']}" if result["invalid"] else "")


if __name__ == "__main__":
    sys.exit(main())
