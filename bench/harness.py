"""What the HTTP benchmarks share: signed requests, server processes, the compliance set-up
through the official SDK, wrk runs with CPU accounting, py-spy profiles and the report table.

Used by ``rpc_read.py`` (signed reads), ``send_sms.py`` (SendSms accepted and its latency),
``end_to_end.py`` (SendBatchSms through the simulator) and ``query_details.py``
(QuerySendDetails on a large table).  Nothing here measures anything by itself; see
bench/README.md.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "replay.lua"
HELLO_APP = BENCH_DIR / "hello_app.py"
API_VERSION = "2017-05-25"
HOST = "127.0.0.1"
# --pin: the server under test on one CPU, wrk on another.
SERVER_CPU, WRK_CPU = "1", "0"

SIGN_NAME = "云雀科技"
ADMIN_PHONE = "13800138000"
QUALIFICATION = {
    "QualificationName": "云雀科技资质", "UseBySelf": "true", "WhetherShare": "false",
    "CompanyName": "杭州云雀科技有限公司", "CompanyType": "COMPANY",
    "OrganizationCode": "91350100M000100Y43", "BussinessLicenseExpDate": "2020-01-01~2099-12-31",
    "LegalPersonName": "张三", "LegalPersonIDCardType": "identityCard",
    "LegalPersonIDCardNo": "11010519491231002X",
    "LegalPersonIdCardEffTime": "2020-01-01~2040-01-01", "AdminName": "李四",
    "AdminIDCardType": "identityCard", "AdminIDCardNo": "11010519491231002X",
    "AdminIDCardExpDate": "2020-01-01~2040-01-01",
    "AdminIDCardFrontFace": "qualification/admin-front.png",
    "AdminIDCardPic": "qualification/admin-back.png", "AdminPhoneNo": ADMIN_PHONE,
}


class BenchError(Exception):
    """A setup step failed; the message says which and why."""


def in_workspace(prefix: str, keep: bool,
                 body: Callable[[Path, list[Server]], int],
                 cleanup: Callable[[], None] | None = None) -> int:
    """Run ``body(tmp, servers)`` in a fresh temporary directory and return its exit status:
    a :class:`BenchError` is printed and gives 1; afterwards every server ``body`` put in
    ``servers`` is stopped, ``cleanup`` runs, and the directory is removed unless ``keep``."""
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    print(f"working directory: {tmp}")
    servers: list[Server] = []
    try:
        return body(tmp, servers)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for server in servers:
            server.stop()
        if cleanup is not None:
            cleanup()
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# -- signed requests -------------------------------------------------------------------------

Vary = Callable[[int], dict[str, str]]
"""Parameters that differ from request to request (a phone number...), by request index.
A module-level function, so that the signing processes can be handed it."""


def _sign_chunk(job: tuple) -> list[str]:
    """``count`` request paths ``/?…&Signature=…``, each with a fresh nonce, as aliyunsdkcore
    sends a V1 request (every parameter in the query string, also for POST).

    ``job`` is ``(key_id, secret, action, extra, count[, method, vary, start])``: requests
    ``start`` to ``start + count - 1`` get ``vary(index)`` on top of ``extra``.
    """
    from alibabacloud_tea_openapi.utils import Utils

    key_id, secret, action, extra, count, *rest = job
    method, vary, start = (*rest, *("GET", None, 0)[len(rest):])
    timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = []
    for index in range(start, start + count):
        params = {
            "AccessKeyId": key_id, "Action": action, "Format": "JSON",
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex,
            "SignatureType": "", "SignatureVersion": "1.0", "Timestamp": timestamp,
            "Version": API_VERSION, **extra, **(vary(index) if vary else {}),
        }
        params["Signature"] = Utils.get_rpcsignature(params, method, secret)
        lines.append("/?" + urlencode(params))
    return lines


def write_signed_paths(path: Path, key_id: str, secret: str, action: str, extra: dict,
                       count: int, *, method: str = "GET", vary: Vary | None = None,
                       start: int = 0) -> float:
    """Write ``count`` signed request paths to ``path`` (requests ``start`` … of ``vary``,
    signed for ``method``); return the seconds it took."""
    started = time.perf_counter()
    workers = max(1, os.cpu_count() or 1)
    chunk = 5000
    jobs = [(key_id, secret, action, extra, min(chunk, count - offset), method, vary,
             start + offset) for offset in range(0, count, chunk)]
    with multiprocessing.Pool(workers) as pool:
        chunks = pool.map(_sign_chunk, jobs)
    with path.open("w", encoding="ascii") as out:
        for lines in chunks:
            out.write("\n".join(lines))
            out.write("\n")
    return time.perf_counter() - started


# -- processes -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def pigeon_command() -> list[str]:
    script = Path(sys.executable).parent / "pigeon"
    if script.exists():
        return [str(script)]
    found = shutil.which("pigeon")
    return [found] if found else [sys.executable, "-m", "pigeon.cli"]


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> Server:
        argv = [*self.argv, "--host", HOST, "--port", str(self.port)]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name} exited with status {self.process.returncode}:\n"
                                 + self.log_tail())
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/")
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                time.sleep(0.1)
        raise BenchError(f"{self.name} did not answer within {timeout:.0f} s:\n"
                         + self.log_tail())

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def run_cli(env: dict[str, str], *args: str) -> dict | list:
    result = subprocess.run([*pigeon_command(), *args, "--json"], env=env, capture_output=True,
                            text=True, timeout=120)
    if result.returncode != 0:
        raise BenchError(f"pigeon {' '.join(args)} failed ({result.returncode}): "
                         f"{result.stderr.strip() or result.stdout.strip()}")
    return json.loads(result.stdout)


def wait_for_smsc_connector(env: dict[str, str], server: Server) -> None:
    """Wait until ``pigeon connector list`` shows the connector ``smsc`` up and the simulator
    disabled (at most 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        state = {c["name"]: c for c in run_cli(env, "connector", "list")}
        if state["smsc"]["state"] == "up" and state["simulator"]["state"] == "disabled":
            return
        if time.monotonic() > deadline:
            raise BenchError(f"the connector did not come up: {state['smsc']}\n"
                             + server.log_tail())
        time.sleep(0.5)


def pigeon_env(tmp: Path, **settings: str) -> dict[str, str]:
    """The environment of a benchmark's ``pigeon`` processes: every inherited ``PIGEON_*``
    variable removed (the embedded default, SQLite), data under ``tmp``, automatic review,
    immediate carrier registration, one process (``PIGEON_SERVE_WORKERS=1``: the figures are
    per process; bench/scaling.py sets more), Pigeon from this tree's ``src/``, and
    ``settings`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIGEON_")}
    # The tree this script is in, not whichever the virtual environment's editable install
    # points at: a copy of the repository (a worktree of another commit) measures its own code.
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    env.update({"PIGEON_DATA_DIR": str(tmp / "data"), "PIGEON_LOG_LEVEL": "warning",
                "PIGEON_REVIEW_MODE": "rules", "PIGEON_REGISTRATION_DELAY": "0s",
                "PIGEON_SERVE_WORKERS": "1", **settings})
    return env


def add_wrk_options(parser) -> None:
    """The options of the benchmarks that alternate wrk rounds between targets."""
    parser.add_argument("--seconds", type=float, default=10, help="duration of each run (10)")
    parser.add_argument("--connections", type=int, default=32,
                        help="wrk connections kept open (32)")
    parser.add_argument("--threads", type=int, default=1,
                        help="wrk threads (1: leaves the most CPU to the server)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds; each round measures every target once, in alternating "
                             "order; the median is reported (3)")
    parser.add_argument("--warmup", type=float, default=3,
                        help="seconds of untimed load on each target before the rounds (3)")


def missing_tools(*, wrk: bool = True, pin: bool = False) -> str:
    """What the benchmark needs and this machine lacks, as an error message ("" if none)."""
    if pin and shutil.which("taskset") is None:
        return "--pin needs taskset (util-linux)"
    if wrk and shutil.which("wrk") is None:
        return ("wrk is not installed. Debian/Ubuntu: sudo apt-get install -y wrk; "
                "macOS: brew install wrk; or build it from https://github.com/wg/wrk")
    return ""


# -- compliance set-up through the official SDK ----------------------------------------------

class SdkCaller:
    """RPC calls as a tenant makes them with aliyunsdkcore's ``CommonRequest`` (V1, POST,
    every parameter in the query string)."""

    def __init__(self, endpoint: str, key_id: str, secret: str) -> None:
        from aliyunsdkcore.client import AcsClient

        self.endpoint = endpoint
        self.client = AcsClient(key_id, secret, "cn-hangzhou")

    def call(self, action: str, params: dict) -> dict:
        from aliyunsdkcore.request import CommonRequest

        request = CommonRequest(domain=self.endpoint, version=API_VERSION, action_name=action)
        request.set_method("POST")
        request.set_protocol_type("http")
        for name, value in params.items():
            request.add_query_param(name, value)
        return json.loads(self.client.do_action_with_exception(request))

    def ok(self, action: str, params: dict) -> dict:
        answer = self.call(action, params)
        if answer.get("Code") != "OK":
            raise BenchError(f"{action} answered {answer}")
        return answer


def approved_signature(endpoint: str, key_id: str, secret: str, env: dict[str, str]) -> str:
    """Walk the tenant through phone code → qualification → signature with aliyunsdkcore, and
    wait until the signature is approved.  Returns its SignName."""
    sdk = SdkCaller(endpoint, key_id, secret)
    sdk.ok("RequiredPhoneCode", {"PhoneNo": ADMIN_PHONE})
    inbox = run_cli(env, "handset", "inbox", ADMIN_PHONE)
    if not inbox:
        raise BenchError("the verification code never reached the virtual handset")
    text = inbox[0].get("text") or inbox[0].get("Text") or json.dumps(inbox[0])
    code = re.search(r"\d{4,8}", text)
    if code is None:
        raise BenchError(f"no verification code in {text!r}")
    qualification = sdk.ok("SubmitSmsQualification",
                           {**QUALIFICATION, "CertifyCode": code.group()})
    qualification_id = str(qualification["Data"])

    deadline = time.monotonic() + 60
    sign = {"SignName": SIGN_NAME, "SignSource": "0", "QualificationId": qualification_id,
            "SignType": "1", "Remark": "用于会员通知"}
    while True:  # the automatic reviewer approves the qualification "at once", maybe async
        answer = sdk.call("CreateSmsSign", sign)
        if answer.get("Code") == "OK":
            break
        if time.monotonic() > deadline:
            raise BenchError(f"CreateSmsSign answered {answer}")
        time.sleep(0.5)
    while True:
        answer = sdk.ok("GetSmsSign", {"SignName": SIGN_NAME})
        if answer.get("SignStatus") == 1:
            return SIGN_NAME
        if time.monotonic() > deadline:
            raise BenchError(f"the signature was not approved in time: {answer}")
        time.sleep(0.5)


# The template the sending benchmarks use: a notification (TemplateType 1), so that each
# number may get 50 messages a day (an OTP template allows one a minute per number).
NOTICE_TEMPLATE = {"TemplateName": "发货通知", "TemplateType": "1",
                   "TemplateContent": "您的订单${order}已发货，请注意查收。",
                   "TemplateRule": json.dumps({"order": "other_number2"}),
                   "Remark": "订单发货后通知买家"}


def approved_template(endpoint: str, key_id: str, secret: str, sign_name: str) -> str:
    """Create :data:`NOTICE_TEMPLATE` under ``sign_name`` with aliyunsdkcore and wait until it
    is approved.  Returns its TemplateCode."""
    sdk = SdkCaller(endpoint, key_id, secret)
    code = sdk.ok("CreateSmsTemplate",
                  {**NOTICE_TEMPLATE, "RelatedSignName": sign_name})["TemplateCode"]
    deadline = time.monotonic() + 60
    while True:
        answer = sdk.ok("GetSmsTemplate", {"TemplateCode": code})
        if str(answer.get("TemplateStatus")) == "1":
            return code
        if time.monotonic() > deadline:
            raise BenchError(f"the template was not approved in time: {answer}")
        time.sleep(0.5)


@dataclass
class Tenant:
    account_id: int
    key_id: str
    secret: str = field(repr=False)
    sign_name: str = ""
    template_code: str = ""


def new_tenant(env: dict[str, str]) -> Tenant:
    """A tenant and an AccessKey, made with the operator's CLI."""
    account = run_cli(env, "account", "create", "Bench Tenant")
    key = run_cli(env, "accesskey", "create", str(account["AccountId"]))
    return Tenant(int(account["AccountId"]), key["AccessKeyId"], key["AccessKeySecret"])


def ready_to_send(tenant: Tenant, endpoint: str, env: dict[str, str],
                  balance_cny: int) -> Tenant:
    """An approved signature and notification template (through the official SDK, as a tenant
    would) and ``balance_cny`` CNY of balance (``pigeon billing topup``, as an operator
    would)."""
    tenant.sign_name = approved_signature(endpoint, tenant.key_id, tenant.secret, env)
    tenant.template_code = approved_template(endpoint, tenant.key_id, tenant.secret,
                                             tenant.sign_name)
    run_cli(env, "billing", "topup", str(tenant.account_id), str(balance_cny))
    return tenant


# Recipients: distinct ordinary mainland numbers, one per message across a whole run, so that
# no number comes near its per-number limit (50 notifications a day per signature, template
# and number) and none is one of the simulator's magic numbers (``1xx0013800D``,
# docs/simulator.md), which fail or answer late on purpose.
_NUMBER_PREFIXES = ("135", "136", "137", "139", "150", "186", "133", "189")  # 3 carriers


def phone_number(index: int) -> str:
    """The ``index``-th benchmark recipient: 11 digits, distinct for every index below 10⁸ and
    never magic; consecutive indexes go to different number segments (and carriers)."""
    prefix = _NUMBER_PREFIXES[index % len(_NUMBER_PREFIXES)]
    rest = index // len(_NUMBER_PREFIXES)
    if rest >= 138000:  # skip the tails 00138000-00138009: those would be magic numbers
        rest += 10
    return f"{prefix}{rest:08d}"


# -- wrk -------------------------------------------------------------------------------------

@dataclass
class Run:
    target: str
    round: int
    result: dict
    invalid: str = ""  # why the run does not count; "" when it does

    @property
    def rps(self) -> float:
        return self.result["requests"] / (self.result["duration_us"] / 1e6)

    @property
    def p50_ms(self) -> float:
        return self.result["latency_us"]["p50"] / 1000

    @property
    def p99_ms(self) -> float:
        return self.result["latency_us"]["p99"] / 1000

    @property
    def cpu_us(self) -> float:
        """Server CPU time (all its threads, user + system) per answered request."""
        return self.result["server_cpu_s"] * 1e6 / self.result["requests"]

    @property
    def cpu_pct(self) -> float:
        return 100 * self.result["server_cpu_s"] / (self.result["duration_us"] / 1e6)

    @property
    def wrk_pct(self) -> float:
        return 100 * self.result["wrk_cpu_s"] / (self.result["duration_us"] / 1e6)


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU seconds of a process (all threads) and of every process below it —
    the API processes of ``pigeon serve --workers N`` — from /proc; 0 elsewhere.  (A child
    that exits takes its seconds with it: measure servers whose processes live on.)
    ``children=False``: the process's own."""
    if not children:
        fields = _stat(pid)
        return 0.0 if fields is None else \
            (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, of in parents.items():
            if of == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for member in tree:
        fields = _stat(member)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, paths_file: Path, *, seconds: float, connections: int, threads: int,
            allow_wrap: bool, server_pid: int = 0, pin: bool = False,
            method: str = "GET") -> tuple[dict, str]:
    """Replay ``paths_file`` with wrk for ``seconds``; returns wrk's figures (plus the server's
    and wrk's CPU seconds) and why the run is invalid ("" when it is valid)."""
    argv = [*(["taskset", "-c", WRK_CPU] if pin else []), "wrk", "-t", str(threads),
            "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "5s",
            "-s", str(LUA_SCRIPT), url, "--", str(paths_file), str(threads), method]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = process_cpu_seconds(server_pid)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    server_cpu = process_cpu_seconds(server_pid) - server_cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    data.update(server_cpu_s=round(server_cpu, 3), wrk_cpu_s=round(wrk_cpu, 3))
    problems = []
    errors = {k: v for k, v in data["errors"].items() if v}
    if data["requests"] == 0:
        problems.append("no request completed")
    if data["bad_status"]:
        problems.append(f"{data['bad_status']} non-200 answers")
    if data["bad_body"]:
        problems.append(f"{data['bad_body']} answers without Code OK")
    if errors:
        problems.append(f"socket errors {errors}")
    if data["wrapped"] and not allow_wrap:
        problems.append("ran out of pre-signed requests (raise --requests)")
    if problems and data["sample"]:
        problems.append(f"first bad answer: {data['sample'][:200]}")
    return data, "; ".join(problems)


# -- the Python load client --------------------------------------------------------------

LOAD_CLIENT = BENCH_DIR / "load_client.py"


def run_client(url: str, paths_file: Path, *, method: str, connections: int, rate: float = 0,
               seconds: float = 10, server_pid: int = 0) -> tuple[dict, str]:
    """Run ``load_client.py`` in a process of its own (see its docstring); returns its figures
    (plus the server's CPU seconds) and why the run is invalid ("" when it is valid)."""
    argv = [sys.executable, str(LOAD_CLIENT), "--url", url, "--file", str(paths_file),
            "--method", method, "--connections", str(connections), "--rate", f"{rate:g}",
            "--seconds", f"{seconds:g}"]
    server_cpu = process_cpu_seconds(server_pid)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 600)
    server_cpu = process_cpu_seconds(server_pid) - server_cpu
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("CLIENT_JSON ")),
                None)
    if result.returncode != 0 or line is None:
        raise BenchError(f"load_client.py failed ({result.returncode}): "
                         f"{result.stderr or result.stdout}")
    data = json.loads(line.removeprefix("CLIENT_JSON "))
    data["server_cpu_s"] = round(server_cpu, 3)
    problems = []
    if data["requests"] < data["planned"]:
        problems.append(f"only {data['requests']} of {data['planned']} requests answered")
    if data["bad_status"]:
        problems.append(f"{data['bad_status']} non-200 answers")
    if data["bad_body"]:
        problems.append(f"{data['bad_body']} answers without Code OK")
    if data["errors"]:
        problems.append(f"{data['errors']} socket errors")
    if problems and data["sample"]:
        problems.append(f"first bad answer: {data['sample'][:200]}")
    return data, "; ".join(problems)


# -- profile ---------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _short_file(path: str) -> str:
    for marker in ("/site-packages/", "/src/", "/lib/python3."):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3." else tail
    return path


# Leaf frames of a thread that is blocked, not computing.
_WAITS = ("Condition.wait ", "Event.wait ", "Queue.get ", "SimpleQueue.get ", "sleep ")
# Frames that are on (almost) every stack of their thread: no information.
_ROOTS = ("typer/", "click/", "threading.py", "uvicorn/main.py", "uvicorn/server.py",
          "uvicorn/_compat.py", "pigeon/cli/", "<module> (")


# The frames of pigeon.store.database that call a unit of work ``fn(conn, ...)``.
_UNIT_RUNNERS = ("Database._run_group ", "Database._read_inline ", "Database.read_sync ")


def _thread_kind(stack: str) -> str:
    if "WorkerThread.run" in stack:
        return "thread pool (anyio.to_thread)"
    if "_write_loop" in stack:
        return "database writer thread"
    if "Runner.run" in stack or "Server.run" in stack:
        return "event loop (main thread)"
    return "other"


def summarize_profile(raw: Path, top: int) -> dict:
    """What py-spy's collapsed stacks say: waiting vs busy samples, busy samples per thread
    kind, per unit of database work (the function the writer or an inline read runs:
    ``accept``, ``claim``, ``deliver_due`` …) and the busy samples' self and inclusive shares
    per function."""
    units: Counter[str] = Counter()
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    waits: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = busy = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        if frames[-1].startswith(_WAITS):
            if "QueuePool" in stack:
                waits["waiting for a pooled SQLite connection"] += count
            elif "WorkerThread.run" in stack:
                waits["idle thread-pool workers"] += count
            else:
                waits["other waits"] += count
            continue
        busy += count
        threads[_thread_kind(stack)] += count
        names = []
        for frame in frames:
            match = _FRAME.match(frame)
            names.append(f"{match['func']} ({_short_file(match['file'])})" if match else frame)
        self_counts[names[-1]] += count
        unit = next((names[i + 1] for i, name in enumerate(names[:-1])
                     if name.startswith(_UNIT_RUNNERS)), None)
        if unit is None:
            unit = "(outside database work: HTTP, auth, actions, workers' own code)"
        elif unit.startswith(("Connection.", "Transaction", "TransactionalContext")):
            unit = "(transaction control: BEGIN, SAVEPOINT, RELEASE, COMMIT)"
        units[unit] += count
        for name in set(names):
            if not any(root in name for root in _ROOTS):
                incl_counts[name] += count

    def share(counter: Counter[str], of: int, n: int | None = None) -> list[tuple[str, float]]:
        return [(name, round(100 * k / of, 1)) for name, k in counter.most_common(n)] if of \
            else []

    return {"samples": total, "busy_samples": busy,
            "waiting": share(waits, total), "threads": share(threads, busy),
            "units": share(units, busy, top),
            "self": share(self_counts, busy, top), "inclusive": share(incl_counts, busy, top)}


def py_spy_path() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def profile_while(pid: int, raw: Path, load: Callable[[], T], top: int) -> tuple[T, dict | None]:
    """Record ``pid`` with py-spy while ``load()`` runs; returns what ``load`` returned and
    :func:`summarize_profile`'s summary of the collapsed stacks left in ``raw`` (None when
    py-spy is missing or failed)."""
    py_spy = py_spy_path()
    if py_spy is None:
        print("profile skipped: py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return load(), None
    # --nonblocking: py-spy does not pause the server to sample it (pausing halves its
    # throughput and changes the thread interplay being measured); stacks may be torn now
    # and then.  It stops and writes its output on SIGINT.
    spy = subprocess.Popen([py_spy, "record", "--pid", str(pid), "--rate", "250",
                            "--nonblocking", "--format", "raw", "--output", str(raw)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # let py-spy attach
    try:
        result = load()
    finally:
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=120)
    if not raw.exists():
        print(f"py-spy failed ({spy.returncode}): {err.decode(errors='replace')}",
              file=sys.stderr)
        return result, None
    summary = summarize_profile(raw, top)
    summary["raw"] = str(raw)
    return result, summary


def profile_pigeon(server: Server, paths_file: Path, out_dir: Path, *, seconds: float,
                   connections: int, threads: int, pin: bool, top: int,
                   name: str = "pigeon-query-sms-sign-list",
                   method: str = "GET") -> dict | None:
    """py-spy's view of ``server`` while wrk replays ``paths_file`` for ``seconds``: the
    collapsed stacks in ``out_dir/NAME.txt`` and :func:`summarize_profile`'s summary."""
    assert server.process is not None
    duration = max(1, int(seconds))
    (data, invalid), summary = profile_while(
        server.process.pid, out_dir / f"{name}.txt",
        lambda: run_wrk(server.url, paths_file, seconds=duration, connections=connections,
                        threads=threads, allow_wrap=False, pin=pin, method=method), top)
    if summary is not None:
        summary.update(invalid=invalid,
                       rps_under_profiler=data["requests"] / (data["duration_us"] / 1e6))
    return summary


# -- report ----------------------------------------------------------------------------------

def machine_info() -> dict:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": cpu,
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "uvicorn": version("uvicorn"), "starlette": version("starlette"),
        # uvicorn's "auto" picks uvloop and httptools when they are installed
        "loop": "uvloop" if version("uvloop") else "asyncio",
        "http": "httptools" if version("httptools") else "h11",
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0].split(" Copyright")[0].strip(),
    }


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_profile(profile: dict, label: str) -> None:
    print(f"profile of pigeon under {label} load: {profile['samples']} py-spy "
          f"samples at {profile['rps_under_profiler']:,.0f} req/s; {profile['raw']}")
    print("  waiting (not CPU), share of all samples: " + ", ".join(
        f"{name} {pct:.1f} %" for name, pct in profile["waiting"]))
    print("  busy samples by thread: " + ", ".join(
        f"{name} {pct:.1f} %" for name, pct in profile["threads"]))
    if profile.get("units"):
        print("  busy samples by unit of database work (the function the writer thread or an "
              "inline read runs):")
        for name, pct in profile["units"]:
            print(f"    {pct:5.1f} %  {name}")
    print("  busy samples, self:")
    for name, pct in profile["self"]:
        print(f"    {pct:5.1f} %  {name}")
    print("  busy samples, inclusive:")
    for name, pct in profile["inclusive"]:
        print(f"    {pct:5.1f} %  {name}")
    print()


def report(benchmark: str, runs: list[Run], targets: list[str], info: dict, options: dict,
           profile: dict | None, *, profile_label: str = "QuerySmsSignList",
           extra: dict | None = None) -> bool:
    """Print the table of ``runs`` (``targets[0]`` is the baseline, "hello"), the profile's
    summary, and one ``BENCH_JSON {...}`` line (with ``extra`` merged in); True when every run
    was valid."""
    by_target = {t: [r for r in runs if r.target == t] for t in targets}
    valid = all(not r.invalid for r in runs)
    results = {}
    for target, target_runs in by_target.items():
        good = [r for r in target_runs if not r.invalid]
        results[target] = {
            "valid": len(good) == len(target_runs),
            "rps": [round(r.rps, 1) for r in target_runs],
            "rps_median": round(median([r.rps for r in good]), 1) if good else None,
            "p50_ms_median": round(median([r.p50_ms for r in good]), 2) if good else None,
            "p99_ms_median": round(median([r.p99_ms for r in good]), 2) if good else None,
            "server_cpu_us_per_request_median":
                round(median([r.cpu_us for r in good]), 1) if good else None,
            "server_cpu_pct": [round(r.cpu_pct) for r in target_runs],
            "wrk_cpu_pct": [round(r.wrk_pct) for r in target_runs],
            "invalid": [f"round {r.round}: {r.invalid}" for r in target_runs if r.invalid],
        }
    hello = results["hello"]
    for target in targets[1:]:
        res = results[target]
        per_round = []
        for run in by_target[target]:
            base = next((h for h in by_target["hello"] if h.round == run.round), None)
            if base and not base.invalid and not run.invalid:
                per_round.append(round(run.rps / base.rps, 4))
        res["ratio_per_round"] = per_round
        res["ratio"] = (round(res["rps_median"] / hello["rps_median"], 4)
                        if res["valid"] and hello["valid"] else None)
        # The same comparison in server CPU time per request: less sensitive to other load on
        # the machine, which steals CPU from whichever run it overlaps.
        res["cpu_ratio"] = (round(hello["server_cpu_us_per_request_median"]
                                  / res["server_cpu_us_per_request_median"], 4)
                            if res["valid"] and hello["valid"] else None)

    info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print()
    print(f"{benchmark} — {info['date']}, {info['nproc']} CPUs ({info['cpu']}), "
          f"Python {info['python']}, uvicorn {info['uvicorn']} "
          f"({info['loop']}, {info['http']}), {info['wrk']}")
    print(f"load average before {info['loadavg_before']}, after {info['loadavg_after']}")
    print(f"{options['rounds']} rounds × {options['seconds']:g} s, "
          f"{options['connections']} connections, {options['threads']} wrk thread(s)"
          + (f", servers pinned to CPU {SERVER_CPU}, wrk to CPU {WRK_CPU}"
             if options["pin"] else ""))
    print()
    header = (f"{'target':<26}{'req/s (median)':>16}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"
              f"{'CPU µs/req':>12}{'CPU ratio':>11}   req/s per round")
    print(header)
    print("-" * len(header))
    for target in targets:
        res = results[target]
        if not res["valid"]:
            print(f"{target:<26}{'INVALID':>16}   " + " | ".join(res["invalid"]))
            continue
        ratio = "1.000" if target == "hello" else (
            f"{res['ratio']:.3f}" if res["ratio"] is not None else "—")
        cpu_ratio = "1.000" if target == "hello" else (
            f"{res['cpu_ratio']:.3f}" if res["cpu_ratio"] is not None else "—")
        rounds = ", ".join(f"{v:,.0f}" for v in res["rps"])
        print(f"{target:<26}{res['rps_median']:>16,.0f}{ratio:>8}{res['p50_ms_median']:>9.2f}"
              f"{res['p99_ms_median']:>9.2f}{res['server_cpu_us_per_request_median']:>12,.0f}"
              f"{cpu_ratio:>11}   {rounds}")
    print("ratio = median req/s of the target / median req/s of hello.  CPU µs/req = server "
          "process CPU time\n(all threads) per answered request, median; CPU ratio = hello's "
          "CPU µs/req / the target's.")
    print()
    if profile:
        print_profile(profile, profile_label)
    out = {"benchmark": benchmark, "valid": valid, "machine": info, "options": options,
           "results": results, **(extra or {})}
    if profile:
        out["profile"] = {k: v for k, v in profile.items() if k not in ("raw", "invalid")}
    print("BENCH_JSON " + json.dumps(out, ensure_ascii=False))
    return valid
