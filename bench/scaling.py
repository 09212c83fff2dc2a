"""Pigeon on every core: 1 and 2 processes of ``pigeon serve`` on this machine.

* **Accept path**: ``send_sms.py --processes 1,2 --no-workers`` — SendSms accepted per second
  by ``pigeon serve`` with one API process and with two (the same wrk rounds, alternating,
  beside the hello app with one process and with two), on SQLite and on PostgreSQL
  (``--postgres``: a private cluster).  The hello app's own scaling shows what the stack's
  worker processes gain here beside wrk — which, at the hello app's rate, needs half a core
  of the two (at Pigeon's, a tenth): it is not a ceiling for Pigeon.
  *Scaling* = median req/s with 2 processes ÷ median req/s with 1; CPU per request counts
  every process of the server.
* **Accept path, in-process**: ``accept_cpu.py --processes 1,2`` — the same SendSms requests
  driven straight into the app (no sockets, no wrk: each process signs ahead and sends to its
  own app), one process and two against one SQLite database, rounds alternating.  This is the
  accept path alone, with both cores left to it; through HTTP the load generator and the
  loopback network take a third of this machine's two cores, and the hello app itself gains
  far less than 2 × from a second process there.
* **End to end through SMPP**: ``smpp_end_to_end.py --processes N`` for N = 1 and 2 (SQLite;
  with 2, the dispatcher and the connector run in the parent, the API in two children), each
  run with its raw SMPP client baseline; *scaling* = the ratio to the raw client with 2
  processes ÷ the ratio with 1, which cancels what the machine's other load did between the
  two runs.

DESIGN.md's aim: 2 processes ≥ 1.7 × one on the accept path, and CPU per message not growing
with the number of processes.  Figures in bench/README.md.  This runs the other benchmarks as
they are and reads their ``BENCH_JSON`` lines; their output goes by as it comes.

    python bench/scaling.py                 # ~10 minutes
    python bench/scaling.py --quick         # fewer, shorter rounds
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def run(script: str, *args: str) -> dict:
    """Run a benchmark, showing its output; its BENCH_JSON."""
    argv = [sys.executable, str(BENCH / script), *args]
    print(f"$ {' '.join(argv[1:])}", flush=True)
    found = None
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as process:
        for line in process.stdout:
            print("  " + line, end="", flush=True)
            if line.startswith("BENCH_JSON "):
                found = json.loads(line.removeprefix("BENCH_JSON "))
    if found is None:
        raise SystemExit(f"{script} printed no BENCH_JSON (exit {process.returncode})")
    return found


def accept(database: str, rounds: int, seconds: float) -> dict:
    extra = ["--postgres"] if database == "postgresql" else []
    result = run("send_sms.py", "--processes", "1,2", "--no-workers", "--latency-load", "0",
                 "--rounds", str(rounds), "--seconds", f"{seconds:g}", *extra)
    one, two = (result["results"][f"pigeon SendSms ×{n}"] for n in (1, 2))
    bare_one, bare_two = result["results"]["hello"], result["results"]["hello ×2"]
    return {"what": f"SendSms accepted ({database})", "valid": result["valid"],
            "one": one["rps_median"], "two": two["rps_median"], "unit": "req/s",
            "scaling": round(two["rps_median"] / one["rps_median"], 2),
            "cpu_one": one["server_cpu_us_per_request_median"],
            "cpu_two": two["server_cpu_us_per_request_median"],
            "bare": {"one": bare_one["rps_median"], "two": bare_two["rps_median"],
                     "scaling": round(bare_two["rps_median"] / bare_one["rps_median"], 2)}}


def accept_in_process(rounds: int, seconds: float) -> dict:
    result = run("accept_cpu.py", "--processes", "1,2", "--rounds", str(rounds), "--seconds",
                 f"{seconds:g}")
    one, two = result["summary"]["pigeon"]["1"], result["summary"]["pigeon"]["2"]
    bare = result["summary"]["baseline"]
    return {"what": "SendSms accepted in-process (sqlite)", "valid": result["valid"],
            "one": one["rate"], "two": two["rate"], "unit": "req/s",
            "scaling": two["ratio"], "cpu_one": one["cpu_us"], "cpu_two": two["cpu_us"],
            "bare": {"what": "a plain Python loop, same rounds", "one": bare["1"]["rate"],
                     "two": bare["2"]["rate"], "scaling": bare["2"]["ratio"], "unit": "loops/s"}}


def end_to_end(rounds: int, messages: int) -> dict:
    runs = {n: run("smpp_end_to_end.py", "--processes", str(n), "--rounds", str(rounds),
                   "--messages", str(messages), "--latency-load", "0") for n in (1, 2)}

    def cpu(result: dict) -> float:
        values = sorted(r["server_cpu_us_per_message"] for r in result["pigeon"]
                        if not r["invalid"])
        return values[len(values) // 2] if values else 0.0

    one, two = runs[1], runs[2]
    return {"what": "SendBatchSms end to end through SMPP (sqlite)",
            "valid": one["valid"] and two["valid"], "one": one["pigeon_median"],
            "two": two["pigeon_median"], "unit": "msg/s",
            "scaling": round(two["ratio"] / one["ratio"], 2) if one["ratio"] else 0.0,
            "cpu_one": cpu(one), "cpu_two": cpu(two)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 6 s / 20,000 msgs")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-smpp", action="store_true")
    args = parser.parse_args(argv)
    rounds, seconds, messages = (2, 6, 20_000) if args.quick else (3, 10, 50_000)
    rows = [accept("sqlite", rounds, seconds), accept_in_process(rounds + 2, seconds)]
    if not args.skip_postgres:
        rows.append(accept("postgresql", rounds, seconds))
    if not args.skip_smpp:
        rows.append(end_to_end(rounds, messages))
    print()
    print(f"{'':<48} {'1 process':>12} {'2 processes':>12} {'scaling':>8} "
          f"{'CPU µs/unit 1 → 2':>20}")
    for row in rows:
        flag = "" if row["valid"] else "  INVALID"
        print(f"{row['what']:<48} {row['one']:>10,.0f} {row['unit'][:5]:<1} "
              f"{row['two']:>10,.0f}   {row['scaling']:>6.2f}× "
              f"{row['cpu_one']:>9,.0f} → {row['cpu_two']:,.0f}{flag}")
    for row in rows:
        if "bare" in row:
            bare = row["bare"]
            what = "  " + bare.get("what", "the hello app, same rounds")
            print(f"{what:<48} {bare['one']:>10,.0f} {bare.get('unit', 'req/s')[:5]} "
                  f"{bare['two']:>10,.0f}   {bare['scaling']:>6.2f}×")
    print("scaling: accept path = req/s(2) ÷ req/s(1) in the same rounds; end to end = "
          "(ratio to the raw SMPP client with 2) ÷ (with 1).  The hello app's, beside a wrk "
          "that needs half a core at its rate, for scale.")
    valid = all(row["valid"] for row in rows)
    print("BENCH_JSON " + json.dumps({"benchmark": "scaling", "valid": valid, "rows": rows},
                                     ensure_ascii=False))
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
