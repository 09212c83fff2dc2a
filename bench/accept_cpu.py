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
    python bench/accept_cpu.py --action QuerySendDetails  # a signed read instead
    python bench/accept_cpu.py --processes 1,2 --rounds 5 # one process and two, one database

``--processes 1,2``: one process and two at once, each signing its requests ahead and then
driving its own app for ``--seconds`` against one SQLite database (set up once, in a process
of its own); the rate is the requests answered over the longest process's time.  Beside each,
in the same rounds, the same numbers of processes running a plain Python loop (a form
decoded, an HMAC, a JSON answer): what this machine's cores give Python at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]


def _setup(root: Path) -> tuple[object, dict]:
    """A database in a temporary directory with a tenant ready to send (the official SDK
    against a live server in this process): the open Pigeon and what a request needs."""
    sys.path.insert(0, str(root))  # tests.support: the SDK set-up and the signer
    from tests.conftest import make_tenant
    from tests.support.sdk import CoreClient
    from tests.support.sending import ready_to_send
    from tests.support.server import LiveServer

    tmp = Path(tempfile.mkdtemp(prefix="pigeon-bench-accept-"))
    pigeon = _open(root, tmp / "data")
    tenant = make_tenant(pigeon)
    live = LiveServer(pigeon).start()
    sender = ready_to_send(pigeon, CoreClient(live.endpoint, tenant), tenant.account_id,
                           balance_cny=100_000)
    live.stop()
    return pigeon, {"data_dir": str(tmp / "data"), "account_id": tenant.account_id,
                    "key_id": tenant.key_id, "secret": tenant.secret, "sign": sender.sign,
                    "template": sender.notice}


def _open(root: Path, data_dir: Path):
    sys.path.insert(0, str(root))
    from tests.conftest import TEST_SECRET_KEY

    from pigeon.app import Pigeon
    from pigeon.config import Settings

    return Pigeon(Settings(data_dir=data_dir, secret_key=TEST_SECRET_KEY, review_mode="rules"))


class _Driver:
    """The ASGI app of ``pigeon`` (workers off) driven in this process: SendSms requests signed
    as the SDK signs them, each to a number of its own from ``first_number`` on."""

    def __init__(self, pigeon, state: dict, first_number: int) -> None:
        from tests.support import signer
        from tests.support.sdk import Tenant

        from pigeon import serving
        from pigeon.app import create_app

        self.app = create_app(pigeon, workers=False)
        if hasattr(serving, "settle_gc"):  # as `pigeon serve` does once started (older trees: not)
            serving.settle_gc()
        self.tenant = Tenant(state["account_id"], state["key_id"], state["secret"])
        self.state, self.signer = state, signer
        self.numbers = iter(range(first_number, 10**9))

    def signed(self) -> bytes:
        n = next(self.numbers)
        return urlencode(self.signer.v1_params(self.tenant, "SendSms", {
            "PhoneNumbers": str(13500000000 + n), "SignName": self.state["sign"],
            "TemplateCode": self.state["template"],
            "TemplateParam": f'{{"order":"{n}"}}'})).encode()

    def signed_query(self, n: int, day: str) -> bytes:
        """A QuerySendDetails of number ``n`` (as :meth:`signed` numbers them) on ``day``."""
        return urlencode(self.signer.v1_params(self.tenant, "QuerySendDetails", {
            "PhoneNumber": str(13500000000 + n), "SendDate": day, "PageSize": "10",
            "CurrentPage": "1"})).encode()

    async def call(self, query: bytes) -> bytes:
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

        await self.app(scope, receive, send)
        return b"".join(body)

    async def send_all(self, queries, concurrency: int, until: float | None = None) -> int:
        """Send ``queries`` from ``concurrency`` coroutines (until the monotonic clock reads
        ``until``, if given); how many were answered.  Every answer must be Code OK."""
        queries = iter(queries)
        done = 0

        async def worker() -> None:
            nonlocal done
            for query in queries:
                answer = await self.call(query)
                if b'"Code":"OK"' not in answer:
                    raise SystemExit(f"not accepted: {answer[:300]!r}")
                done += 1
                if until is not None and time.monotonic() >= until:
                    return

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done

    def run(self, main):
        """Run ``main(self)`` inside the app's lifespan, on uvloop where installed."""
        async def lifespan_around():
            inbox: asyncio.Queue = asyncio.Queue()
            outbox: asyncio.Queue = asyncio.Queue()
            await inbox.put({"type": "lifespan.startup"})
            lifespan = asyncio.create_task(self.app(
                {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                inbox.get, outbox.put))
            await outbox.get()
            try:
                return await main(self)
            finally:
                await inbox.put({"type": "lifespan.shutdown"})
                await outbox.get()
                await lifespan

        try:
            import uvloop
            return uvloop.run(lifespan_around())
        except ImportError:
            return asyncio.run(lifespan_around())


def _child(root: Path, requests: int, rounds: int, concurrency: int, profile: bool,
           action: str = "SendSms") -> None:
    """Run in a process whose ``pigeon`` is the tree measured: print one JSON line."""
    pigeon, state = _setup(root)
    driver = _Driver(pigeon, state, 0)

    async def main(driver: _Driver) -> list[float]:
        figures = []
        if action == "QuerySendDetails":  # numbers 0 … requests-1 get a message each first
            await driver.send_all([driver.signed() for _ in range(requests)], concurrency)
            today = pigeon.calendar.local_date(pigeon.now()).strftime("%Y%m%d")
        for number in range(rounds + (1 if profile else 0)):
            queries = [driver.signed() for _ in range(requests)] if action == "SendSms" else \
                [driver.signed_query(n, today) for n in range(requests)]
            profiler = None
            if profile and number == rounds:
                import cProfile
                profiler = cProfile.Profile()
                profiler.enable()
            started = time.process_time()
            await driver.send_all(queries, concurrency)
            spent = time.process_time() - started
            if profiler is not None:
                profiler.disable()
                import pstats
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
            else:
                figures.append(spent / requests * 1e6)
        return figures

    figures = driver.run(main)
    pigeon.close()
    shutil.rmtree(Path(state["data_dir"]).parent, ignore_errors=True)
    print("ACCEPT_JSON " + json.dumps(figures), flush=True)


def _setup_child(root: Path) -> None:
    pigeon, state = _setup(root)
    pigeon.close()
    print("SETUP_JSON " + json.dumps(state), flush=True)


def _scale_child(root: Path, state: dict | None, first_number: int, seconds: float,
                 concurrency: int) -> None:
    """One of the processes of a scaling round: sign ahead, say READY, wait for GO on stdin,
    then send for ``seconds``; print what it did.  Without ``state``, the baseline instead:
    a fixed piece of plain Python work (a form decoded, an HMAC, a JSON answer) in a loop."""
    if state is None:
        print("READY", flush=True)
        sys.stdin.readline()
        started, cpu = time.monotonic(), time.process_time()
        done = _baseline_until(started + seconds)
        print("SCALE_JSON " + json.dumps({"done": done, "wall": time.monotonic() - started,
                                          "cpu": time.process_time() - cpu}), flush=True)
        return
    pigeon = _open(root, Path(state["data_dir"]))
    driver = _Driver(pigeon, state, first_number)
    queries = [driver.signed() for _ in range(int(seconds * 6000))]  # more than it can send

    async def main(driver: _Driver) -> dict:
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        started, cpu = time.monotonic(), time.process_time()
        done = await driver.send_all(queries, concurrency, until=started + seconds)
        return {"done": done, "wall": time.monotonic() - started,
                "cpu": time.process_time() - cpu}

    figures = driver.run(main)
    pigeon.close()
    print("SCALE_JSON " + json.dumps(figures), flush=True)


def _baseline_until(deadline: float) -> int:
    import hashlib
    import hmac
    from urllib.parse import parse_qsl

    query = urlencode({"AccessKeyId": "LTAI5tBcdEfGhIjKlMnOpQrS", "Action": "SendSms",
                       "PhoneNumbers": "13500000000", "SignName": "云雀科技",
                       "TemplateCode": "SMS_123456789", "TemplateParam": '{"order":"1"}',
                       "SignatureNonce": "0" * 32, "Timestamp": "2026-12-07T05:00:00Z"})
    done = 0
    while time.monotonic() < deadline:
        for _ in range(100):
            pairs = sorted(parse_qsl(query))
            digest = hmac.new(b"secret", urlencode(pairs).encode(), hashlib.sha1).digest()
            json.dumps({"RequestId": digest.hex(), "Code": "OK", "Message": "OK",
                        "BizId": str(done)})
            done += 1
    return done


def measure(tree: str | None, args: argparse.Namespace, rounds: int) -> list[float]:
    argv, env = _python(Path(tree) if tree else ROOT, "--child", "--requests",
                        str(args.requests), "--rounds", str(rounds), "--concurrency",
                        str(args.concurrency), "--action", args.action)
    if args.profile and tree is None:
        argv.append("--profile")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600)
    if args.profile and tree is None:
        print(result.stderr[-12000:])
    figures = _json_line(result.stdout, "ACCEPT_JSON")
    if result.returncode or figures is None:
        raise SystemExit(f"the measuring process failed:\n{result.stdout[-2000:]}"
                         f"{result.stderr[-3000:]}")
    return figures


def _python(root: Path, *args: str) -> tuple[list[str], dict]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root / "src")
    return [sys.executable, __file__, "--root", str(root), *args], env


def _json_line(output: str, prefix: str):
    line = next((ln for ln in output.splitlines() if ln.startswith(prefix + " ")), None)
    return None if line is None else json.loads(line.removeprefix(prefix + " "))


def _round(count: int, state: dict | None, first: int, args: argparse.Namespace) -> dict:
    """``count`` processes at once, of Pigeon (``state``) or of the baseline (None)."""
    children = []
    for n in range(count):
        extra = ["--state", json.dumps(state)] if state else []
        argv, env = _python(ROOT, "--scale-child", *extra, "--first-number",
                            str(first + n * 10**6), "--seconds", str(args.seconds),
                            "--concurrency", str(args.concurrency))
        children.append(subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True))
    for child in children:  # all signed ahead and ready: then all start at once
        while (line := child.stdout.readline()) and line.strip() != "READY":
            pass
    for child in children:
        child.stdin.write("GO\n")
        child.stdin.flush()
    figures = []
    for child in children:
        output, _ = child.communicate(timeout=args.seconds + 600)
        figure = _json_line(output, "SCALE_JSON")
        if child.returncode or figure is None:
            raise SystemExit(f"a measuring process failed:\n{output[-2000:]}")
        figures.append(figure)
    total = sum(f["done"] for f in figures)
    return {"rate": total / max(f["wall"] for f in figures),
            "cpu_us": sum(f["cpu"] for f in figures) / total * 1e6,
            "per_process": [f["done"] for f in figures]}


def scaling(args: argparse.Namespace) -> int:
    """``--processes``: the accept path's rate with one process and with several, each driving
    its own app in-process against one database, rounds alternating; beside it, the same
    numbers of processes of a plain Python loop (what this machine's cores give Python)."""
    counts = [int(n) for n in args.processes.split(",")]
    argv, env = _python(ROOT, "--setup-child")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    state = _json_line(done.stdout, "SETUP_JSON")
    if done.returncode or state is None:
        raise SystemExit(f"setting up failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    results: dict[str, dict[int, list[dict]]] = {"pigeon": {n: [] for n in counts},
                                                  "baseline": {n: [] for n in counts}}
    first = 0
    for number in range(args.rounds):
        for count in counts if number % 2 == 0 else list(reversed(counts)):
            for kind in ("pigeon", "baseline") if number % 2 == 0 else ("baseline", "pigeon"):
                run = _round(count, state if kind == "pigeon" else None, first, args)
                first += count * 10**6
                results[kind][count].append(run)
                what = "SendSms/s" if kind == "pigeon" else "loops/s (baseline)"
                print(f"round {number + 1}/{args.rounds}: {count} process(es) "
                      f"{run['rate']:9,.0f} {what}, {run['cpu_us']:6.1f} µs of CPU each, per "
                      f"process {run['per_process']}", flush=True)
    summary: dict[str, dict] = {"pigeon": {}, "baseline": {}}
    for kind, runs in results.items():
        base = statistics.median(r["rate"] for r in runs[counts[0]])
        for count in counts:
            rate = statistics.median(r["rate"] for r in runs[count])
            cpu = statistics.median(r["cpu_us"] for r in runs[count])
            summary[kind][count] = {
                "rate": round(rate), "cpu_us": round(cpu, 1), "ratio": round(rate / base, 3),
                # Each round's own ratio (its runs were next to each other in time).
                "ratio_per_round": [round(mine["rate"] / theirs["rate"], 2) for mine, theirs
                                    in zip(runs[count], runs[counts[0]], strict=True)]}
            print(f"median, {kind}: {count} process(es) {rate:9,.0f}/s ({rate / base:.2f} × "
                  f"{counts[0]}; per round {summary[kind][count]['ratio_per_round']}), "
                  f"{cpu:6.1f} µs of CPU each")
    print("BENCH_JSON " + json.dumps({"benchmark": "accept_scaling", "valid": True,
                                      "options": {k: v for k, v in vars(args).items()
                                                  if k not in ("child", "state")},
                                      "rounds": results, "summary": summary}))
    shutil.rmtree(Path(state["data_dir"]).parent, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests a round (3000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (5); the median counts")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="requests in flight at once, in each process (32)")
    parser.add_argument("--compare-tree", metavar="DIR",
                        help="also measure the checkout DIR (its src/ and tests/), alternating "
                             "rounds")
    parser.add_argument("--profile", action="store_true",
                        help="one more round under cProfile (slower; its figure does not count)")
    parser.add_argument("--processes", metavar="N,M",
                        help="instead: SendSms a second with N processes and with M, each "
                             "driving its own app against one SQLite database, for --seconds "
                             "a round")
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="with --processes: seconds a round (8)")
    parser.add_argument("--action", choices=("SendSms", "QuerySendDetails"), default="SendSms",
                        help="the request measured (SendSms); QuerySendDetails: of numbers "
                             "that each got one SendSms of the day first (not with "
                             "--processes)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setup-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scale-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--first-number", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(Path(args.root), args.requests, args.rounds, args.concurrency, args.profile,
               args.action)
        return 0
    if args.setup_child:
        _setup_child(Path(args.root))
        return 0
    if args.scale_child:
        _scale_child(Path(args.root), json.loads(args.state) if args.state else None,
                     args.first_number, args.seconds, args.concurrency)
        return 0
    if args.processes:
        return scaling(args)
    results: dict[str, list[float]] = {"this tree": [], "compare": []}
    targets = [("this tree", None)] + ([("compare", args.compare_tree)] if args.compare_tree
                                       else [])
    for number in range(args.rounds):
        order = targets if number % 2 == 0 else list(reversed(targets))
        for name, tree in order:
            figure = measure(tree, args, 1)[0]
            results[name].append(figure)
            print(f"round {number + 1}/{args.rounds}: {name:<9} {figure:6.0f} µs of CPU per "
                  f"{args.action}", flush=True)
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
