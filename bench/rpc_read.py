"""Benchmark (a): signed READ requests per second, as a ratio against a bare "hello" app.

Pigeon (``pigeon serve --workers 1``: embedded SQLite, one uvicorn process) answers V1 HMAC-SHA1 signed
``QuerySmsSignList`` and ``GetSmsSign`` requests; ``bench/hello_app.py`` (a minimal Starlette app
on the same uvicorn options) is the baseline, measured in the same run, in alternating rounds.
The load generator is ``wrk`` replaying pre-signed GET requests (each with its own
SignatureNonce, signed with the official SDK's ``Utils.get_rpcsignature`` just before the
round).  Every answer must be HTTP 200 with ``"Code":"OK"``; a run with any other answer, a
socket error or a reused request is reported as INVALID, never as a figure.

Everything is set up in a temporary directory (data dir, tenant, AccessKey, an approved
qualification and signature through the official SDK) and torn down afterwards.  Prints a table
and one ``BENCH_JSON {...}`` line.  See bench/README.md for recorded figures.

    python bench/rpc_read.py                      # 3 rounds of 10 s, 32 connections
    python bench/rpc_read.py --rounds 5 --profile  # and a py-spy profile of QuerySmsSignList
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    HELLO_APP,
    HOST,
    SERVER_CPU,
    WRK_CPU,
    BenchError,
    Run,
    Server,
    add_wrk_options,
    approved_signature,
    in_workspace,
    machine_info,
    missing_tools,
    pigeon_command,
    pigeon_env,
    profile_pigeon,
    report,
    run_cli,
    run_wrk,
    write_signed_paths,
)

# -- main ------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Signed READ requests/s of Pigeon (QuerySmsSignList, GetSmsSign; SQLite, "
                    "one uvicorn process) as a ratio of a bare hello app on the same server "
                    "stack, measured in the same run with wrk.",
        epilog="Needs wrk (Debian/Ubuntu: apt-get install -y wrk); --profile needs py-spy "
               "(pip install py-spy).")
    add_wrk_options(parser)
    parser.add_argument("--requests", type=int, default=0,
                        help="pre-signed requests per Pigeon run; 0 = sized from the warm-up "
                             "rate (3 × rate × seconds, at least 20000)")
    parser.add_argument("--pin", action="store_true",
                        help=f"pin both servers to CPU {SERVER_CPU} and wrk to CPU {WRK_CPU} "
                             "(taskset); default: let the kernel schedule them")
    parser.add_argument("--no-get", action="store_true",
                        help="skip GetSmsSign (and the qualification/signature set-up)")
    parser.add_argument("--profile", nargs="?", const="", metavar="DIR",
                        help="after the rounds, profile Pigeon under QuerySmsSignList load with "
                             "py-spy; writes its collapsed stacks (open them in "
                             "https://www.speedscope.app or flamegraph.pl) to DIR "
                             "(default: the temporary directory, kept)")
    parser.add_argument("--top", type=int, default=15, help="profile lines to print (15)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (data, logs, request files)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_tools(pin=args.pin)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    keep = args.keep or args.profile == ""
    return in_workspace("pigeon-bench-", keep,
                        lambda tmp, servers: _bench(args, tmp, pigeon_env(tmp), servers))


def _bench(args: argparse.Namespace, tmp: Path, env: dict[str, str],
           servers: list[Server]) -> int:
    info = machine_info()
    account = run_cli(env, "account", "create", "Bench Tenant")
    key = run_cli(env, "accesskey", "create", str(account["AccountId"]))
    key_id, secret = key["AccessKeyId"], key["AccessKeySecret"]

    pin = ["taskset", "-c", SERVER_CPU] if args.pin else []
    pigeon = Server("pigeon serve", [*pin, *pigeon_command(), "serve"], env,
                    tmp / "pigeon.log")
    hello = Server("hello app", [*pin, sys.executable, str(HELLO_APP)], env, tmp / "hello.log")
    servers += [pigeon, hello]
    pigeon.start()
    hello.start()
    print(f"pigeon serve on {pigeon.url} (pid {pigeon.process.pid}), "
          f"hello app on {hello.url} (pid {hello.process.pid})")

    actions = {"QuerySmsSignList": {"PageIndex": "1", "PageSize": "10"}}
    if not args.no_get:
        try:
            name = approved_signature(f"{HOST}:{pigeon.port}", key_id, secret, env)
            actions["GetSmsSign"] = {"SignName": name}
        except Exception as exc:  # BenchError, or the SDK's own exception types
            print(f"GetSmsSign skipped: the signature set-up failed: {exc}", file=sys.stderr)
    targets = ["hello", *(f"pigeon {a}" for a in actions)]

    def paths_for(action: str, count: int) -> Path:
        path = tmp / f"requests-{action}.txt"
        took = write_signed_paths(path, key_id, secret, action, actions[action], count)
        print(f"  signed {count:,} {action} requests in {took:.1f} s")
        return path

    wrk_options = {"connections": args.connections, "threads": args.threads, "pin": args.pin}

    # Warm-up: untimed; its rate sizes the request files of the rounds.
    warm_rates: dict[str, float] = {}
    warm_count = max(5000, int(20000 * args.warmup))
    hello_paths = paths_for("QuerySmsSignList", warm_count)
    if args.warmup > 0:
        print(f"warm-up: {args.warmup:g} s per target")
        run_wrk(hello.url, hello_paths, seconds=args.warmup, allow_wrap=True, **wrk_options)
        for action in actions:
            warm = paths_for(action, warm_count)
            data, invalid = run_wrk(pigeon.url, warm, seconds=args.warmup, allow_wrap=False,
                                    **wrk_options)
            if invalid:
                raise BenchError(f"warm-up of {action} is not clean: {invalid}\n"
                                 + pigeon.log_tail())
            warm_rates[action] = data["requests"] / (data["duration_us"] / 1e6)

    def count_for(action: str) -> int:
        if args.requests:
            return args.requests
        rate = warm_rates.get(action, 20000)
        return max(20000, int(3 * rate * args.seconds))

    runs: list[Run] = []
    for round_no in range(1, args.rounds + 1):
        order = targets if round_no % 2 else list(reversed(targets))
        print(f"round {round_no}/{args.rounds}: {' → '.join(order)}")
        for target in order:
            if target == "hello":
                server, paths, allow_wrap = hello, hello_paths, True
            else:
                action = target.removeprefix("pigeon ")
                server, paths, allow_wrap = pigeon, paths_for(action, count_for(action)), False
                if action == "QuerySmsSignList":
                    hello_paths = paths  # the baseline replays the same request lines
            time.sleep(1.0)
            data, invalid = run_wrk(server.url, paths, seconds=args.seconds,
                                    allow_wrap=allow_wrap, server_pid=server.process.pid,
                                    **wrk_options)
            run = Run(target, round_no, data, invalid)
            runs.append(run)
            status = f"INVALID: {invalid}" if invalid else (
                f"{run.rps:,.0f} req/s, p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, "
                f"server CPU {run.cpu_pct:.0f} % = {run.cpu_us:,.0f} µs/request, "
                f"wrk CPU {run.wrk_pct:.0f} %")
            print(f"  {target:<26} {status}")

    profile = None
    if args.profile is not None:
        out_dir = Path(args.profile) if args.profile else tmp
        out_dir.mkdir(parents=True, exist_ok=True)
        print("profiling pigeon under QuerySmsSignList load with py-spy")
        paths = paths_for("QuerySmsSignList", count_for("QuerySmsSignList"))
        profile = profile_pigeon(pigeon, paths, out_dir, seconds=args.seconds, top=args.top,
                                 **wrk_options)

    options = {"seconds": args.seconds, "rounds": args.rounds, "warmup": args.warmup,
               **wrk_options}
    return 0 if report("rpc_read", runs, targets, info, options, profile) else 1


if __name__ == "__main__":
    sys.exit(main())
