"""CPU per SendSms inside the server: the ASGI app driven in-process, no sockets, no wrk.

What the accept path itself costs — the endpoint, the signature, the nonce, ``accept`` and its
transaction — with uvicorn's HTTP parsing and the load generator out of the picture, measured
as this process's CPU time (``time.process_time``) per request: a figure that another program
keeping the machine busy disturbs far less than a rate.  The background workers are off (the
accept path alone, as ``send_sms.py --no-workers``).

A tenant is set up through the official SDK against a live server in this process (the
compliance workflow, a notification template, money), then ``--requests`` SendSms requests,
each to a number of its own and signed as the SDK signs, are sent from ``--concurrency``
coroutines straight into the app, ``--rounds`` times; every answer must be ``Code`` OK.  With
``--compare-tree DIR`` another checkout is measured too (its ``src`` and its test helpers),
in a process of its own, rounds
alternating.  Figures in bench/README.md.

    python bench/accept_cpu.py                            # 5 rounds of 3,000 requests
    git worktree add /tmp/old OLDCOMMIT
    python bench/accept_cpu.py --compare-tree /tmp/old    # and an older checkout
    python bench/accept_cpu.py --profile                  # cProfile of one more round
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]


def _child(root: Path, requests: int, rounds: int, concurrency: int, profile: bool) -> None:
    """Run in a process whose ``pigeon`` is the tree measured: print one JSON line."""
    sys.path.insert(0, str(root))  # tests.support: the SDK set-up and the signer
    from tests.conftest import TEST_SECRET_KEY, make_tenant
    from tests.support import signer
    from tests.support.sdk import CoreClient
    from tests.support.sending import ready_to_send
    from tests.support.server import LiveServer

    from pigeon.app import Pigeon, create_app
    from pigeon.config import Settings

    tmp = Path(tempfile.mkdtemp(prefix="pigeon-bench-accept-"))
    pigeon = Pigeon(Settings(data_dir=tmp / "data", secret_key=TEST_SECRET_KEY,
                             review_mode="rules"))
    tenant = make_tenant(pigeon)
    live = LiveServer(pigeon).start()
    sender = ready_to_send(pigeon, CoreClient(live.endpoint, tenant), tenant.account_id,
                           balance_cny=100_000)
    live.stop()
    app = create_app(pigeon, workers=False)
    from pigeon import serving
    if hasattr(serving, "settle_gc"):  # as `pigeon serve` does once started (older trees: not)
        serving.settle_gc()
    numbers = iter(range(10**9))

    def signed() -> bytes:
        n = next(numbers)
        return urlencode(signer.v1_params(tenant, "SendSms", {
            "PhoneNumbers": str(13500000000 + n), "SignName": sender.sign,
            "TemplateCode": sender.notice, "TemplateParam": f'{{"order":"{n}"}}'})).encode()

    async def call(query: bytes) -> bytes:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/", "raw_path": b"/",
                 "query_string": query, "root_path": "", "client": ("127.0.0.1", 5000),
                 "server": ("127.0.0.1", 8080), "state": {},
                 "headers": [(b"host", b"127.0.0.1:8080"), (b"content-length", b"0")]}
        sent = False
        body: list[bytes] = []

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()

        async def send(message):
            if message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await app(scope, receive, send)
        return b"".join(body)

    async def main() -> list[float]:
        inbox: asyncio.Queue = asyncio.Queue()
        outbox: asyncio.Queue = asyncio.Queue()
        await inbox.put({"type": "lifespan.startup"})
        lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"},
                                            "state": {}}, inbox.get, outbox.put))
        await outbox.get()
        figures = []
        for number in range(rounds + (1 if profile else 0)):
            queries = iter([signed() for _ in range(requests)])

            async def worker(queries=queries) -> None:
                for query in queries:
                    answer = await call(query)
                    if b'"Code":"OK"' not in answer:
                        raise SystemExit(f"not accepted: {answer[:300]!r}")

            profiler = None
            if profile and number == rounds:
                import cProfile
                profiler = cProfile.Profile()
                profiler.enable()
            started = time.process_time()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            spent = time.process_time() - started
            if profiler is not None:
                profiler.disable()
                import pstats
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
            else:
                figures.append(spent / requests * 1e6)
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan
        return figures

    try:
        import uvloop
        figures = uvloop.run(main())
    except ImportError:
        figures = asyncio.run(main())
    pigeon.close()
    print("ACCEPT_JSON " + json.dumps(figures), flush=True)


def measure(tree: str | None, args: argparse.Namespace, rounds: int) -> list[float]:
    env = dict(os.environ)
    root = Path(tree) if tree else ROOT
    env["PYTHONPATH"] = str(root / "src")
    argv = [sys.executable, __file__, "--child", "--root", str(root), "--requests",
            str(args.requests), "--rounds", str(rounds), "--concurrency", str(args.concurrency)]
    if args.profile and tree is None:
        argv.append("--profile")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600)
    if args.profile and tree is None:
        print(result.stderr[-12000:])
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("ACCEPT_JSON ")),
                None)
    if result.returncode or line is None:
        raise SystemExit(f"the measuring process failed:\n{result.stdout[-2000:]}"
                         f"{result.stderr[-3000:]}")
    return json.loads(line.removeprefix("ACCEPT_JSON "))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests a round (3000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (5); the median counts")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="requests in flight at once (32)")
    parser.add_argument("--compare-tree", metavar="DIR",
                        help="also measure the checkout DIR (its src/ and tests/), alternating "
                             "rounds")
    parser.add_argument("--profile", action="store_true",
                        help="one more round under cProfile (slower; its figure does not count)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(Path(args.root), args.requests, args.rounds, args.concurrency, args.profile)
        return 0
    results: dict[str, list[float]] = {"this tree": [], "compare": []}
    targets = [("this tree", None)] + ([("compare", args.compare_tree)] if args.compare_tree
                                       else [])
    for number in range(args.rounds):
        order = targets if number % 2 == 0 else list(reversed(targets))
        for name, tree in order:
            figure = measure(tree, args, 1)[0]
            results[name].append(figure)
            print(f"round {number + 1}/{args.rounds}: {name:<9} {figure:6.0f} µs of CPU per "
                  "SendSms", flush=True)
    summary = {name: round(statistics.median(values), 1)
               for name, values in results.items() if values}
    print("median: " + ", ".join(f"{name} {value:,.0f} µs" for name, value in summary.items()))
    print("BENCH_JSON " + json.dumps({"benchmark": "accept_cpu", "valid": True,
                                      "options": {k: v for k, v in vars(args).items()
                                                  if k != "child"},
                                      "rounds": results, "median_us": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
