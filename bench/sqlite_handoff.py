"""What a transaction costs on SQLite when another process committed just before it.

Two ``pigeon serve`` processes on one SQLite database take its write lock in turn, so nearly
every transaction of one follows a commit of the other.  SQLite then drops the connection's
whole page cache (it cannot tell which pages the other wrote), and the transaction reads every
page it touches again — from the memory-mapped file, or through a system call from the WAL.
This measures that cost without HTTP, Python services or a second process in the way: one
``sqlite3`` connection writes groups of messages as the send path does (a per-number count,
then the row, with all of Pigeon's indexes: ``pigeon.store.tables``), alone, and with another
connection committing a one-row write between its groups; groups of 16 (SendSms under load)
and of 64.  µs of wall time per message, median of ``--rounds``; alternating.

    python bench/sqlite_handoff.py              # about a minute
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from pigeon.store.database import MMAP_BYTES  # noqa: E402
from pigeon.store.tables import metadata  # noqa: E402

COLUMNS = ("biz_id", "account_id", "phone", "country_code", "carrier", "signature_id",
           "sign_name", "template_id", "template_code", "template_type", "params", "content",
           "segments", "encoding", "extend_code", "status", "attempts", "price", "charged",
           "created_at", "source_ip")
INSERT = (f"INSERT INTO messages ({', '.join(COLUMNS)}) "
          f"VALUES ({', '.join('?' * len(COLUMNS))}) RETURNING id")
COUNT = ("SELECT phone, created_at FROM messages INDEXED BY ix_messages_lookup "
         "WHERE account_id = 1 AND phone = ? AND created_at >= ?")
SINCE = "2026-12-06 00:00:00"  # the per-number count's window


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536",
                   f"mmap_size={MMAP_BYTES}"):  # as pigeon.store.database sets them
        conn.execute(f"PRAGMA {pragma}")
    return conn


def message(index: int) -> tuple:
    phone = str(13500000000 + random.randrange(10**8))  # real traffic: numbers in no order
    return (f"{index:018d}^0", 1, phone, 86, "mobile", 1, "云雀科技", 1, "SMS_1", 0,
            json.dumps({"order": f"A{index:09d}"}), f"【云雀科技】您的订单A{index:09d}已发货。",
            1, "mainland", "1234", "queued", 0, 45, 1,
            f"2026-12-06 20:00:00.{index % 10**6:06d}", "127.0.0.1")


def write_message(execute, index: int) -> None:
    """One message as the send path writes it: its number's count, then its row
    (``execute``: a sqlite3 connection's)."""
    row = message(index)
    execute(COUNT, (row[2], SINCE)).fetchall()
    execute(INSERT, row).fetchall()


class Writer:
    def __init__(self, path: str) -> None:
        self.conn = connect(path)
        self.other = connect(path)
        self.other.execute("CREATE TABLE IF NOT EXISTS elsewhere (n INTEGER)")
        self.next = 0

    def run(self, messages: int, group: int, interleaved: bool) -> float:
        """µs per message for ``messages`` written in groups of ``group``."""
        started = time.perf_counter()
        for _ in range(messages // group):
            if interleaved:  # the other process's transaction, just before ours
                self.other.execute("BEGIN IMMEDIATE")
                self.other.execute("INSERT INTO elsewhere VALUES (1)")
                self.other.execute("COMMIT")
            self.conn.execute("BEGIN IMMEDIATE")
            for _ in range(group):
                write_message(self.conn.execute, self.next)
                self.next += 1
            self.conn.execute("COMMIT")
        return (time.perf_counter() - started) / (messages // group * group) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=int, default=200_000, help="messages before (200,000)")
    parser.add_argument("--messages", type=int, default=16_000, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pigeon-handoff-") as tmp:
        path = f"{tmp}/pigeon.db"
        engine = create_engine(f"sqlite:///{path}")
        metadata.create_all(engine)
        engine.dispose()
        writer = Writer(path)
        writer.run(args.stored, 500, interleaved=False)
        cases = [(group, interleaved) for group in (16, 64) for interleaved in (False, True)]
        figures: dict[tuple[int, bool], list[float]] = {case: [] for case in cases}
        for round_ in range(args.rounds):
            for case in cases if round_ % 2 == 0 else reversed(cases):
                figures[case].append(writer.run(args.messages, *case))
    print(f"{args.stored:,} messages stored; µs per message (a count and an INSERT), median of "
          f"{args.rounds} rounds")
    print(f"{'group':>6}  {'alone':>8}  {'after another commit':>21}  ratio")
    results = {}
    for group in (16, 64):
        alone = statistics.median(figures[group, False])
        after = statistics.median(figures[group, True])
        results[group] = {"alone_us": round(alone, 1), "after_other_commit_us": round(after, 1),
                          "ratio": round(after / alone, 2)}
        print(f"{group:>6}  {alone:>8.1f}  {after:>21.1f}  {after / alone:.2f}")
    print("BENCH_JSON " + json.dumps({"benchmark": "sqlite_handoff", "sqlite":
                                      sqlite3.sqlite_version, "stored": args.stored,
                                      "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
