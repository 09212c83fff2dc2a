"""A small HTTP/1.1 load client for what wrk cannot do: a fixed number of requests, or a fixed
request rate with latencies measured from when each request was *due*.

It replays pre-built request paths from a file (one per line, as ``replay.lua`` does), each
exactly once, over ``--connections`` keep-alive connections, and checks every answer: HTTP 200
with ``"Code":"OK"`` in the body.  It runs in a process of its own (the benchmarks start it with
``subprocess``), on uvloop when it is installed, and prints one line ``CLIENT_JSON {...}``.

* ``--rate 0`` (closed loop): every connection sends its next request as soon as the last one
  is answered, until the file is used up.  ``end_to_end.py`` feeds SendBatchSms this way.
* ``--rate R`` (open loop, as wrk2 does it): request *i* is due at ``start + i / R``; a
  connection sends it then, or as soon as it is free if it is late, and the latency counts
  from the due time, so a stalled server shows up in the percentiles instead of silently
  lowering the rate (no "coordinated omission").  The time from sending to the answer is
  reported too ("service time").  ``--seconds`` bounds the run; the file must hold
  ``R × seconds`` lines.

    python bench/load_client.py --url http://127.0.0.1:8080 --file paths.txt --method POST \\
        --rate 500 --seconds 10 --connections 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from pathlib import Path
from urllib.parse import urlsplit


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


class Stats:
    def __init__(self) -> None:
        self.ok = 0
        self.bad_status = 0
        self.bad_body = 0
        self.errors = 0
        self.sample = ""
        self.latency: list[float] = []  # seconds, from the due time (= send time at rate 0)
        self.service: list[float] = []  # seconds, from the send time
        self.first_done = 0.0  # wall-clock time of the first / last answer
        self.last_done = 0.0

    def bad(self, what: str, sample: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        if not self.sample:
            self.sample = sample[:300]


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(host: str, port: int, requests: list[bytes], next_index, due_at,
                      stats: Stats, deadline: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter  # uvloop's loop.time() ticks in whole milliseconds
    try:
        while True:
            index = next_index()
            if index is None:
                return
            due = due_at(index)
            if due is not None:
                wait = due - clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                if clock() > deadline:
                    return
            sent = clock()
            writer.write(requests[index])
            try:
                status, body = await _read_answer(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                stats.bad("errors", f"socket error: {exc!r}")
                return
            done = clock()
            stats.latency.append(done - (due if due is not None else sent))
            stats.service.append(done - sent)
            wall = time.time()
            stats.first_done = stats.first_done or wall
            stats.last_done = wall
            if status != 200:
                stats.bad("bad_status", f"{status} {body.decode(errors='replace')}")
            elif b'"Code":"OK"' not in body:
                stats.bad("bad_body", f"{status} {body.decode(errors='replace')}")
            else:
                stats.ok += 1
    finally:
        writer.close()


async def run(url: str, paths: list[str], method: str, connections: int, rate: float,
              seconds: float) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    extra = "Content-Length: 0\r\n" if method == "POST" else ""
    requests = [(f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 f"User-Agent: pigeon-bench\r\nAccept: */*\r\n{extra}\r\n").encode("ascii")
                for path in paths]
    stats = Stats()
    counter = iter(range(len(requests)))
    limit = len(requests) if rate <= 0 else min(len(requests), int(rate * seconds))
    start = time.perf_counter() + 0.05
    deadline = float("inf") if rate <= 0 else start + seconds + 5

    def next_index() -> int | None:
        index = next(counter, None)
        return index if index is not None and index < limit else None

    def due_at(index: int) -> float | None:
        return None if rate <= 0 else start + index / rate

    usage = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, requests, next_index, due_at, stats,
                                       deadline) for _ in range(connections)))
    took = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    answered = stats.ok + stats.bad_status + stats.bad_body
    latency = sorted(stats.latency)
    service = sorted(stats.service)

    def ms(values: list[float]) -> dict:
        return {"p50": round(percentile(values, 50) * 1000, 3),
                "p90": round(percentile(values, 90) * 1000, 3),
                "p99": round(percentile(values, 99) * 1000, 3),
                "max": round((values[-1] if values else float("nan")) * 1000, 3),
                "mean": round(sum(values) / len(values) * 1000, 3) if values else None}

    return {"requests": answered, "planned": limit, "ok": stats.ok,
            "bad_status": stats.bad_status, "bad_body": stats.bad_body,
            "errors": stats.errors, "sample": stats.sample, "seconds": round(took, 3),
            "rate_target": rate, "rps": round(answered / took, 1) if took else 0.0,
            "first_done": stats.first_done, "last_done": stats.last_done,
            "latency_ms": ms(latency), "service_ms": ms(service),
            "client_cpu_s": round(cpu, 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--file", required=True, type=Path, help="request paths, one a line")
    parser.add_argument("--method", default="GET", choices=["GET", "POST"])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0,
                        help="requests per second (open loop); 0: as fast as answered")
    parser.add_argument("--seconds", type=float, default=10,
                        help="how long a --rate run lasts (10)")
    args = parser.parse_args(argv)
    paths = [line for line in args.file.read_text(encoding="ascii").splitlines() if line]
    work = run(args.url, paths, args.method, args.connections, args.rate, args.seconds)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print("CLIENT_JSON " + json.dumps(result))


if __name__ == "__main__":
    main()
