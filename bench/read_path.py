"""Where a signed READ request's time goes: the stages of ``QuerySmsSignList``, timed one by one.

No HTTP and no load generator: Pigeon's ASGI app and its parts are called in-process, on the
uvloop event loop ``pigeon serve`` uses, against an embedded SQLite database set up in a
temporary directory (a tenant, an AccessKey and one signature row made through the CLI and the
services).  Each stage runs ``--n`` times; the table gives microseconds per call (median of
``--repeat`` batches), next to the bare hello app for scale.  Complements bench/rpc_read.py,
whose figures include uvicorn's HTTP handling and the contention of 32 concurrent requests.

    python bench/read_path.py            # 2000 calls per stage
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import _sign_chunk, run_cli  # noqa: E402
from hello_app import app as hello_app  # noqa: E402


def asgi_get(app, query: str) -> Callable[[], Awaitable[bytes]]:
    """A coroutine function calling ``app`` with ``GET /?query`` as uvicorn would."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": "/", "raw_path": b"/", "root_path": "",
        "query_string": query.encode("ascii"), "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"127.0.0.1:8080"), (b"user-agent", b"bench")],
    }

    async def call() -> bytes:
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        if sent[0]["status"] != 200 or b'"Code":"OK"' not in sent[1]["body"]:
            raise RuntimeError(f"unexpected answer: {sent}")
        return sent[1]["body"]

    return call


async def timed_async(fn: Callable[[], Awaitable], n: int, concurrency: int = 1) -> float:
    """Microseconds per call of ``await fn()``, ``concurrency`` calls in flight at a time."""
    started = time.perf_counter()
    if concurrency == 1:
        for _ in range(n):
            await fn()
    else:
        for _ in range(n // concurrency):
            await asyncio.gather(*(fn() for _ in range(concurrency)))
    return (time.perf_counter() - started) / n * 1e6


def timed(fn: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="calls per stage and batch (2000)")
    parser.add_argument("--repeat", type=int, default=3, help="batches; the median is kept (3)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="pigeon-readpath-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIGEON_")}
    env.update(PIGEON_DATA_DIR=str(tmp / "data"), PIGEON_LOG_LEVEL="warning",
               PIGEON_WORKERS="off")
    try:
        return _measure(args, tmp, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> int:
    from sqlalchemy import insert

    from pigeon.api.rpc import auth
    from pigeon.api.rpc.endpoint import json_response
    from pigeon.api.rpc.request import RpcRequest
    from pigeon.app import Pigeon, create_app
    from pigeon.config import Settings
    from pigeon.services import signatures
    from pigeon.store.tables import signatures as signatures_table

    account = run_cli(env, "account", "create", "Bench Tenant")
    key = run_cli(env, "accesskey", "create", str(account["AccountId"]))
    account_id = int(account["AccountId"])
    pigeon = Pigeon(Settings.from_env(env))
    now = datetime.now(UTC)
    # One approved signature row, so the list is not empty (what the compliance workflow of
    # rpc_read.py leaves behind, without the workflow).
    row = {"account_id": account_id, "name": "云雀科技", "name_key": "云雀科技", "source": 0,
           "sign_type": 1, "status": 1, "remark": "用于会员通知", "created_at": now,
           "audit_date": now, "third_party": False, "extension_code": "1234"}
    columns = set(signatures_table.c.keys())
    pigeon.db.write_sync(lambda conn: conn.execute(insert(signatures_table).values(
        {k: v for k, v in row.items() if k in columns})))
    app = create_app(pigeon, workers=False)
    n, total = args.n, args.n * args.repeat * 3 + 1000

    def signed(count: int) -> list[str]:
        lines = _sign_chunk((key["AccessKeyId"], key["AccessKeySecret"], "QuerySmsSignList",
                             {"PageIndex": "1", "PageSize": "10"}, count))
        return [line.removeprefix("/?") for line in lines]

    queries = iter(signed(total))
    sample = signed(1)[0]
    headers = {"host": "127.0.0.1:8080", "user-agent": "bench"}
    request = RpcRequest.build("GET", sample, headers, b"")
    claim = auth._claim(request)
    secret = key["AccessKeySecret"]
    read_conn = pigeon.db.read_engine.connect()
    raw = sqlite3.connect(pigeon.database_url.removeprefix("sqlite:///"))
    body = {"RequestId": "X", "Code": "OK", "Message": "OK", "CurrentPage": 1, "PageSize": 10,
            "TotalCount": 1, "SmsSignList": [{"SignName": "云雀科技", "OrderId": ""}]}

    def page_on_open_connection():
        signatures.page(read_conn, account_id, 1, 10)
        read_conn.rollback()

    def raw_sql():
        raw.execute("SELECT count(*) FROM signatures WHERE account_id = ?",
                    (account_id,)).fetchone()
        raw.execute("SELECT * FROM signatures WHERE account_id = ? ORDER BY id DESC "
                    "LIMIT 10 OFFSET 0", (account_id,)).fetchall()

    def fresh_call():
        return asgi_get(app, next(queries))()

    async def pigeon_read():
        await pigeon.db.read(signatures.page, account_id, 1, 10)

    async def inline_read():
        pigeon.db.read_sync(signatures.page, account_id, 1, 10)

    async def noop_hop():
        await anyio.to_thread.run_sync(lambda: None)

    async def authenticate():
        rpc = RpcRequest.build("GET", next(queries), headers, b"")
        await pigeon.authenticator.authenticate(rpc, datetime.now(UTC))

    sync_stages: list[tuple[str, Callable[[], object]]] = [
        ("RpcRequest.build (parse_qsl of the query)",
         lambda: RpcRequest.build("GET", sample, headers, b"")),
        ("V1 string to sign (_claim: sort + percent-encode)", lambda: auth._claim(request)),
        ("HMAC-SHA1 (v1_sign)", lambda: claim.sign(secret, claim.string_to_sign)),
        ("parse_timestamp (strptime)", lambda: auth.parse_timestamp(claim.timestamp)),
        ("json_response of a one-item list", lambda: json_response(body)),
        ("signatures.page on an open connection (SQLAlchemy Core, 2 SELECTs)",
         page_on_open_connection),
        ("the same 2 SELECTs with plain sqlite3", raw_sql),
        ("Database.read_sync(page): + pool checkout, BEGIN, COMMIT",
         lambda: pigeon.db.read_sync(signatures.page, account_id, 1, 10)),
    ]
    async_stages: list[tuple[str, Callable[[], Awaitable], int]] = [
        ("hello app, whole ASGI call", asgi_get(hello_app, sample), 1),
        ("Pigeon QuerySmsSignList, whole ASGI call", fresh_call, 1),
        ("Pigeon QuerySmsSignList, whole ASGI call, 32 concurrent", fresh_call, 32),
        ("authenticate (parse + claim + key cache + HMAC + nonce)", authenticate, 1),
        ("anyio.to_thread.run_sync(no-op): the thread hop", noop_hop, 1),
        ("await Database.read(page): hop + read_sync", pigeon_read, 1),
        ("await Database.read(page), 32 concurrent", pigeon_read, 32),
        ("Database.read_sync(page) inline on the event loop", inline_read, 1),
    ]

    results: dict[str, list[float]] = {}

    async def run_async() -> None:
        for name, fn, concurrency in async_stages:
            await timed_async(fn, min(200, n), concurrency)  # warm up
            for _ in range(args.repeat):
                results.setdefault(name, []).append(await timed_async(fn, n, concurrency))

    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run_async())
        for name, fn in sync_stages:
            timed(fn, min(200, n))
            results[name] = [timed(fn, n) for _ in range(args.repeat)]
    finally:
        read_conn.close()
        raw.close()
        pigeon.close()

    print(f"read_path — {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}; "
          f"µs per call, median of {args.repeat} × {n}")
    order = [name for name, *_ in async_stages[:3]] + [name for name, _ in sync_stages[:5]] \
        + [name for name, *_ in async_stages[3:]] + [name for name, _ in sync_stages[5:]]
    for name in order:
        print(f"  {statistics.median(results[name]):9.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
