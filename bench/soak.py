"""Soak: Pigeon's memory under steady SendSms load for a long time (DESIGN.md: "Memory flat
under a one-hour soak").

``pigeon serve --workers 1`` (SQLite, one uvicorn process, workers on: dispatcher, simulator,
reports) takes SendSms at a fixed rate for ``--minutes``, every request with a number of its
own (``send_sms.Requests``), sent by ``load_client.py`` in an open loop.  Every
``--sample`` seconds the server's resident memory (``VmRSS`` from /proc) and the database's
size are read.  The figures are ratios within the run: the memory at the end and its growth
over the second half against the memory once warmed up (after the first tenth), and a
least-squares slope over the second half in MB per hour.  "Flat" means the second half grew
by less than 5 % of the warmed-up memory.

Requests are signed a segment at a time (``--segment`` seconds, 120), just before they are
sent, because the server refuses a signature older than its window and remembers every nonce
for that long: the nonce store holds ``rate × window`` entries once the window is full, and
that is memory the soak must see level off.  ``--window`` sets ``PIGEON_SIGNATURE_WINDOW``
(default 5m, so the plateau shows within a short run; the shipped 15m holds three times as
many nonces).  The load pauses for the second or so it takes to sign the next segment.

    .venv/bin/python bench/soak.py                       # 60 minutes at 200 SendSms/s
    .venv/bin/python bench/soak.py --minutes 10 --rate 300
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    BenchError,
    Server,
    in_workspace,
    machine_info,
    new_tenant,
    pigeon_command,
    pigeon_env,
    ready_to_send,
    run_client,
)
from send_sms import BALANCE_CNY, METHOD, Requests  # noqa: E402

FLAT = 0.05  # the second half may grow by this share of the warmed-up memory


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, MB)`` points, in MB per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (m - mean_m) for t, m in points)
    return cov / var * 3600


def summarize(samples: list[tuple[float, float]]) -> dict:
    """The figures of a run's ``(seconds since start, MB)`` samples."""
    end = samples[-1][0]
    warm = [m for t, m in samples if t >= end * 0.1]
    second_half = [(t, m) for t, m in samples if t >= end / 2]
    warmed = warm[0]
    growth = second_half[-1][1] - second_half[0][1]
    return {"warmed_mb": round(warmed, 1), "end_mb": round(samples[-1][1], 1),
            "max_mb": round(max(m for _, m in samples), 1),
            "end_ratio": round(samples[-1][1] / warmed, 3),
            "second_half_growth_ratio": round(growth / warmed, 3),
            "second_half_slope_mb_per_hour": round(slope_per_hour(second_half), 1),
            "flat": growth / warmed < FLAT}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60, help="length of the run (60)")
    parser.add_argument("--rate", type=float, default=200, help="SendSms requests/s (200)")
    parser.add_argument("--connections", type=int, default=16, help="client connections (16)")
    parser.add_argument("--sample", type=float, default=10, help="seconds between samples (10)")
    parser.add_argument("--segment", type=float, default=120,
                        help="seconds of requests signed at a time (120)")
    parser.add_argument("--window", default="5m", help="PIGEON_SIGNATURE_WINDOW (5m)")
    parser.add_argument("--simulator-delay", default="200ms", help="PIGEON_SIMULATOR_DELAY")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return in_workspace("pigeon-bench-soak-", args.keep,
                        lambda tmp, servers: _soak(args, tmp, servers))


def _soak(args: argparse.Namespace, tmp: Path, servers: list[Server]) -> int:
    info = machine_info()
    seconds = args.minutes * 60
    env = pigeon_env(tmp, PIGEON_SIMULATOR_DELAY=args.simulator_delay,
                     PIGEON_SIGNATURE_WINDOW=args.window)
    tenant = new_tenant(env)
    server = Server("pigeon", [*pigeon_command(), "serve"], env, tmp / "pigeon.log")
    servers.append(server)
    server.start()
    ready_to_send(tenant, f"127.0.0.1:{server.port}", env, balance_cny=BALANCE_CNY)
    count = int(args.rate * seconds)
    requests = Requests(tmp, tenant)
    pid = server.process.pid
    database = tmp / "data" / "pigeon.db"
    print(f"soak: {args.minutes:g} min at {args.rate:g} SendSms/s ({count:,} requests), "
          f"pigeon pid {pid}, sample every {args.sample:g} s")

    outcome: dict = {"answered": 0, "p99_ms": []}

    def load() -> None:
        left = seconds
        try:
            while left > 0:
                segment = min(args.segment, left)
                paths = requests.write(int(args.rate * segment))
                data, invalid = run_client(server.url, paths, method=METHOD,
                                           connections=args.connections, rate=args.rate,
                                           seconds=segment, server_pid=pid)
                paths.unlink()
                outcome["answered"] += data["requests"]
                outcome["p99_ms"].append(data["latency_ms"]["p99"])
                if invalid:
                    outcome["invalid"] = invalid
                    return
                left -= segment
        except BenchError as exc:
            outcome["invalid"] = str(exc)

    client = threading.Thread(target=load, daemon=True)
    started = time.monotonic()
    client.start()
    samples: list[tuple[float, float]] = []
    db_sizes: list[float] = []
    while client.is_alive():
        elapsed = time.monotonic() - started
        samples.append((elapsed, rss_mb(pid)))
        db_sizes.append(database.stat().st_size / 1e6 if database.exists() else 0.0)
        if len(samples) % max(1, int(60 / args.sample)) == 0:
            print(f"  {elapsed / 60:5.1f} min  RSS {samples[-1][1]:7.1f} MB  "
                  f"database {db_sizes[-1]:8.1f} MB")
        client.join(timeout=args.sample)
    samples.append((time.monotonic() - started, rss_mb(pid)))
    if server.process.poll() is not None:
        raise BenchError("the server died during the soak:\n" + server.log_tail())
    figures = summarize(samples)
    result = {"benchmark": "soak", "valid": not outcome.get("invalid"),
              "invalid": outcome.get("invalid", ""), "machine": info,
              "options": vars(args), "memory": figures,
              "database_mb": round(db_sizes[-1], 1) if db_sizes else None,
              "requests": outcome["answered"], "p99_ms_by_segment": outcome["p99_ms"],
              "samples": [(round(t, 1), round(m, 1)) for t, m in samples]}
    print(f"\nsoak — {info['date']}, {info['nproc']} CPUs, Python {info['python']}")
    print(f"{args.minutes:g} min at {args.rate:g} SendSms/s: "
          f"{outcome['answered']:,} answered, p99 by segment "
          f"{', '.join(f'{p:.1f}' for p in outcome['p99_ms'])} ms"
          + (f" — INVALID: {outcome['invalid']}" if outcome.get("invalid") else ""))
    print(f"RSS warmed up {figures['warmed_mb']} MB, end {figures['end_mb']} MB "
          f"(×{figures['end_ratio']}), max {figures['max_mb']} MB")
    print(f"second half: growth {figures['second_half_growth_ratio'] * 100:.1f} % of the "
          f"warmed-up memory, slope {figures['second_half_slope_mb_per_hour']} MB/h — "
          + ("flat" if figures["flat"] else "NOT flat"))
    print("BENCH_JSON " + json.dumps(result))
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
