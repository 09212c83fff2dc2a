"""One process and two writing one SQLite file through Pigeon's store, without HTTP.

``pigeon serve --workers 2`` on SQLite runs two event loops whose writers share SQLite's one
write lock, and after the other's commit a process reads again every page its transaction
touches (``sqlite_handoff.py``).  ``send_sms.py --processes 1,2`` measures that together with
HTTP and a load generator on the same two cores; this measures the store alone: each process
runs ``--tasks`` tasks that each burn ``--work-us`` of CPU (what a request costs outside its
write: HTTP, signature, parameters) and then write a message as the send path does (a
per-number count, then the row, into Pigeon's own ``messages`` table with all its indexes)
through ``Database.write`` on the attached loop, as ``pigeon serve`` does.  One process and two
alternate in every round; reported: messages/s over both processes, CPU µs per message (both
processes, all threads), and two processes' rate as a multiple of one's.  Medians.

    python bench/write_scaling.py               # about two minutes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, event

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from pigeon.store.database import Database  # noqa: E402
from pigeon.store.tables import metadata  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sqlite_handoff import INSERT, connect, message, write_message  # noqa: E402


def _unit(index: int):
    def write(conn) -> None:
        write_message(conn.connection.dbapi_connection.execute, index)
    return write


def _burn(micros: float) -> None:
    end = time.perf_counter() + micros / 1e6
    while time.perf_counter() < end:
        pass


def _process(path: str, tasks: int, work_us: float, seconds: float, start: float,
             offset: int, out) -> None:
    db = Database(f"sqlite:///{path}")
    # The rows name an account, a signature and a template that are not there: as in
    # sqlite_handoff.py, without the foreign keys' checks (a lookup each, the same for all).
    event.listen(db.write_engine, "connect",
                 lambda dbapi_conn, _record: dbapi_conn.execute("PRAGMA foreign_keys=OFF"))
    db.start()
    written = 0

    async def task(number: int) -> None:
        nonlocal written
        index = offset + number * 10_000_000
        while time.monotonic() < start + seconds:
            _burn(work_us)
            await db.write(_unit(index))
            index += 1
            written += 1

    async def main() -> None:
        db.attach()
        try:
            await asyncio.sleep(max(0.0, start - time.monotonic()))
            cpu = time.process_time()
            await asyncio.gather(*(task(n) for n in range(tasks)))
            out.put((written, time.process_time() - cpu))
        finally:
            db.detach()

    asyncio.run(main())
    db.close()


def measure(path: str, processes: int, args) -> tuple[float, float]:
    out = multiprocessing.Queue()
    start = time.monotonic() + 1.0
    workers = [multiprocessing.Process(target=_process, args=(
        path, args.tasks, args.work_us, args.seconds, start, (n + 1) * 10**9, out))
        for n in range(processes)]
    for worker in workers:
        worker.start()
    results = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    written = sum(r[0] for r in results)
    cpu = sum(r[1] for r in results)
    return written / args.seconds, cpu / written * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--tasks", type=int, default=16, help="writes in flight per process")
    parser.add_argument("--work-us", type=float, default=250.0,
                        help="CPU burnt per message outside its write")
    parser.add_argument("--preload", type=int, default=100_000, help="messages stored first")
    args = parser.parse_args()
    multiprocessing.set_start_method("spawn")

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "pigeon.db")
        engine = create_engine(f"sqlite:///{path}")
        metadata.create_all(engine)
        engine.dispose()
        conn = connect(path)
        conn.execute("BEGIN")
        conn.executemany(INSERT.replace(" RETURNING id", ""),
                         (message(n) for n in range(args.preload)))
        conn.execute("COMMIT")
        conn.close()

        targets = [("1 process", 1), ("2 processes", 2)]
        results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in targets}
        for round_number in range(args.rounds):
            order = targets if round_number % 2 == 0 else targets[::-1]
            for name, processes in order:
                rate, cpu = measure(path, processes, args)
                results[name].append((rate, cpu))
                print(f"round {round_number + 1}: {name:12} {rate:8,.0f} msg/s "
                      f"{cpu:7.0f} CPU µs/msg", flush=True)

    one = statistics.median(r[0] for r in results["1 process"])
    print(f"\n{args.rounds} rounds × {args.seconds:g} s, {args.tasks} writes in flight a process, "
          f"{args.work_us:g} µs of CPU a message outside its write, {args.preload:,} stored")
    print(f"{'target':24} {'msg/s':>8} {'× one':>6} {'CPU µs/msg':>11}")
    summary = {}
    for name, _ in targets:
        rate = statistics.median(r[0] for r in results[name])
        cpu = statistics.median(r[1] for r in results[name])
        summary[name] = {"rate": round(rate), "cpu_us": round(cpu), "ratio": round(rate / one, 3)}
        print(f"{name:24} {rate:8,.0f} {rate / one:6.2f} {cpu:11.0f}")
    print("BENCH_JSON " + json.dumps({"benchmark": "write_scaling", "results": summary,
                                      "rounds": results, "options": vars(args)}))


if __name__ == "__main__":
    random.seed(1)
    main()
