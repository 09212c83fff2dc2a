"""Pigeon as the peer comparison runs it: as shipped for the whole machine.

``pigeon serve`` with its default number of processes (one per core: no
``PIGEON_SERVE_WORKERS``, no ``--workers``), background workers on, the embedded SQLite
database, every other setting at its default but for what ``harness.pigeon_env`` sets for
every benchmark (data in the run's directory, ``PIGEON_LOG_LEVEL=warning``, the ``rules``
reviewer, immediate carrier registration).  A tenant set up through the official SDK
(``harness.ready_to_send``: approved signature and notification template, a balance), one SMPP
connector to the SMSC (``pigeon connector add … --window`` the window, one bind — Pigeon binds
as a transceiver; no TPS cap is set, and none is the default), a catch-all route to it, the
simulator disabled, and ``SmsReport`` pushed by HTTP to the receiver's ``/pigeon``
(``pigeon reports set … SmsReport --http URL``; batches of up to 100, the default).

Fed with requests signed as the official SDK signs them (``harness.write_signed_paths``: V1
HMAC-SHA1, POST with every parameter in the query string, as aliyunsdkcore sends them), signed
just before each round: ``SendBatchSms`` with 100 numbers (``PhoneNumberJson``,
``SignNameJson``, ``TemplateParamJson``) for the bulk case, ``SendSms`` with one for the other.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import subprocess
from pathlib import Path

from end_to_end import Rows
from harness import (
    HOST,
    Server,
    new_tenant,
    pigeon_command,
    pigeon_env,
    ready_to_send,
    run_cli,
    wait_for_smsc_connector,
    write_signed_paths,
)
from processes import session_pids

BALANCE_CNY = 10_000_000
ROOT = Path(__file__).resolve().parents[2]


def request_params(index: int, *, numbers: tuple[str, ...], per_request: int,
                   sign_name: str) -> dict[str, str]:
    """Request ``index`` of a round: its slice of ``numbers``, SendSms or SendBatchSms."""
    chunk = numbers[index * per_request:(index + 1) * per_request]
    orders = [{"order": f"B{index * per_request + i:09d}"} for i in range(len(chunk))]
    compact = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
    if per_request == 1:
        return {"PhoneNumbers": chunk[0], "SignName": sign_name,
                "TemplateParam": compact(orders[0])}
    return {"PhoneNumberJson": compact(list(chunk)),
            "SignNameJson": compact([sign_name] * len(chunk)),
            "TemplateParamJson": compact(orders)}


class Pigeon:
    name = "pigeon"

    def __init__(self, tmp: Path, smsc_port: int, receiver_port: int,
                 args: argparse.Namespace) -> None:
        self.dir = tmp / "pigeon"
        self.dir.mkdir()
        env = pigeon_env(self.dir)
        del env["PIGEON_SERVE_WORKERS"]  # as shipped: one process per core
        self.env = env
        self.window = args.window
        self.tenant = new_tenant(env)
        self.server = Server("pigeon serve", [*pigeon_command(), "serve"], env,
                             self.dir / "pigeon.log")
        self.server.start()
        ready_to_send(self.tenant, f"{HOST}:{self.server.port}", env, balance_cny=BALANCE_CNY)
        run_cli(env, "connector", "add", "smsc", "--host", HOST, "--port", str(smsc_port),
                "--system-id", "pigeon", "--password", "secret", "--window", str(args.window),
                "--binds", "1")
        run_cli(env, "route", "add", "--connector", "smsc")
        run_cli(env, "connector", "disable", "simulator")
        run_cli(env, "reports", "set", str(self.tenant.account_id), "SmsReport", "--http",
                f"http://{HOST}:{receiver_port}/pigeon")
        wait_for_smsc_connector(env, self.server)
        self.rows = Rows(self.dir / "data")
        self.version = self._version()  # the tree the server started from
        self.after = 0
        self.files = 0

    def _version(self) -> str:
        git = functools.partial(subprocess.run, capture_output=True, text=True, cwd=ROOT)
        commit = git(["git", "rev-parse", "--short", "HEAD"]).stdout.strip() or "?"
        dirty = git(["git", "status", "--porcelain", "--", "src"]).stdout.strip()
        return (f"Pigeon at {commit}" + (" with uncommitted changes in src/" if dirty else "")
                + f", {os.cpu_count()} processes")

    @property
    def sessions(self) -> set[int]:
        return {self.server.process.pid}

    def settings(self) -> str:
        return (f"pigeon serve as shipped ({os.cpu_count()} processes, SQLite), SMPP "
                f"transceiver, window {self.window}, no TPS cap, SmsReport pushed by HTTP "
                "(batches of up to 100), log level warning")

    def requests(self, numbers: list[str], per_request: int, text: str) -> dict:
        self.files += 1
        path = self.dir / f"signed-{self.files}.txt"
        action = "SendSms" if per_request == 1 else "SendBatchSms"
        vary = functools.partial(request_params, numbers=tuple(numbers),
                                 per_request=per_request, sign_name=self.tenant.sign_name)
        count = -(-len(numbers) // per_request)
        write_signed_paths(path, self.tenant.key_id, self.tenant.secret, action,
                           {"TemplateCode": self.tenant.template_code,
                            "RegionId": "cn-hangzhou"}, count, method="POST", vary=vary)
        lines = [["POST", p, {}, ""] for p in path.read_text(encoding="ascii").split()]
        return {"port": self.server.port, "lines": lines, "status": "200",
                "expect": '"Code":"OK"'}

    def before_round(self) -> None:
        self.after = self.rows.last_id()

    def after_round(self, numbers: list[str]) -> list[str]:
        """Pigeon's own records: every message of the round stored once and delivered."""
        rows = self.rows.summary(self.after)
        problems = []
        if rows["count"] != len(numbers):
            problems.append(f"{len(numbers):,} messages sent, {rows['count']:,} stored")
        if rows["outcomes"] != {"delivered DELIVERED": len(numbers)}:
            problems.append(f"not all delivered in Pigeon's database: {rows['outcomes']}")
        return problems

    def check(self, numbers: list[str], kept: list[tuple[str, str]], answers: list[str],
              normalize) -> list[str]:
        """Each number exactly one SmsReport, successful, and no report id twice."""
        from kannel_gateway import dlr_problems

        seen: dict[str, list[str]] = {}
        report_ids: set[str] = set()
        repeated = 0
        for url, body in kept:
            if url != "/pigeon":
                continue
            for report in json.loads(body):
                if report["report_id"] in report_ids:
                    repeated += 1
                report_ids.add(report["report_id"])
                seen.setdefault(normalize(report["phone_number"]), []).append(
                    "DELIVERED" if report["success"] else report.get("err_code", "?"))
        problems = dlr_problems(numbers, seen, "DELIVERED")
        if repeated:
            problems.append(f"{repeated} reports pushed more than once (same report_id)")
        return problems

    def alive(self) -> bool:
        return self.server.process is not None and self.server.process.poll() is None

    def tail(self) -> str:
        return self.server.log_tail()

    def stop(self) -> None:
        self.server.stop()
        for pid in session_pids(self.sessions):  # whatever outlived the master
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
