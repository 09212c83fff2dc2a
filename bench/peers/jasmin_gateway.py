"""Jasmin (PyPI ``jasmin``, Python/Twisted) as the peer comparison runs it, with RabbitMQ and
Redis from Debian, everything on loopback in the run's directory.

Installed at run time: ``jasmin==0.11.1`` (the latest release) with pip into a virtualenv of
its own made by this machine's Python 3.11 (``--jasmin-venv`` reuses one); it installs there
as it is, no older Python and no pinned dependencies needed.  RabbitMQ (``rabbitmq-server``)
and Redis (``redis-server``) are Debian's.  Processes, each started here and stopped at the end:

* ``epmd`` (Erlang's port mapper, on a port of its own) and RabbitMQ (its own node name,
  database, ports, no plugins, log level warning); Redis (no persistence, log level warning);
* ``jasmind.py`` with the DLR lookup and the DLR thrower in its process (``--enable-dlr-lookup
  --enable-dlr-thrower``, as Jasmin's own container image runs it), every log at ``WARNING``
  (the HTTP API's access log stays: it has no switch; jcli needs the SMPP server, which idles);
* the REST API (``twistd web --wsgi jasmin.protocols.rest.api``), the bulk interface, and its
  Celery worker (``celery -A jasmin.protocols.rest.tasks worker -c 4``, the concurrency of
  Jasmin's documentation), throughput caps off (``http_throughput_per_worker = 0``,
  ``smart_qos = False``): each message of a batch becomes a Celery task that calls the HTTP
  API's ``/send``.

Configured through ``jcli`` (its telnet console): one SMPP client connector to the SMSC
(transceiver, ``submit_throughput 0`` — unlimited; Jasmin's default is 1 message/s), a user
without quotas, a default MT route to the connector.  Jasmin has no window setting: its SMPP
client takes one message at a time from RabbitMQ (prefetch 1) and waits for its
``submit_sm_resp`` before the next, whatever window the others get.

Fed with the one-number ``/send`` (HTTP API) and the REST API's ``/secure/sendbatch`` with 100
messages a request; every message asks for a terminal-level receipt (``dlr-level=2``) posted to
the receiver's ``/jasmin`` with its number in the URL (``dlr-method=POST``).  UCS-2 text as
``hex-content`` with ``coding=8``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from kannel_gateway import SENDER, dlr_problems
from processes import HOST, BenchError, Daemon, debian_version, free_port, wait_port

JASMIN = "jasmin==0.11.0"
USER, PASSWORD = "bench", "benchpwd"
CELERY_CONCURRENCY = 4
SECTIONS = ("smpp-server", "smpp-server-pb", "client-management", "router", "http-api", "jcli",
            "amqp-broker", "redis-client", "sm-listener", "dlr", "dlr-thrower",
            "deliversm-thrower", "service-smppclient", "interceptor-client")


def jasmin_venv(tmp: Path, given: Path | None) -> Path:
    if given is not None:
        if not (given / "bin" / "jasmind.py").exists():
            raise BenchError(f"{given} has no bin/jasmind.py")
        return given
    venv = tmp / "venv"
    print(f"  installing {JASMIN} into {venv} …", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True)
    run = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", JASMIN],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise BenchError(f"pip install {JASMIN} failed:\n{run.stderr[-2000:]}")
    return venv


def clear_stale_lock() -> None:
    """``jasmind.py`` takes a lock at the fixed path ``/tmp/jasmind.lock`` (a hard link to a
    file named after the host and process) and exits when it cannot; a jasmind that was killed
    leaves it behind.  Remove it when no ``jasmind.py`` is running."""
    lock = Path("/tmp/jasmind.lock")
    if not lock.exists():
        return
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and b"jasmind.py" in (proc / "cmdline").read_bytes():
                raise BenchError(f"a jasmind.py is running already (pid {proc.name}); "
                                 "Jasmin allows one per machine")
    inode = lock.stat().st_ino
    for path in Path("/tmp").glob(f"{socket.gethostname()}-*"):
        with contextlib.suppress(OSError):
            if path.stat().st_ino == inode:
                path.unlink()
    lock.unlink()
    print("  removed a stale /tmp/jasmind.lock", flush=True)


class Jcli:
    """Jasmin's management console over its telnet port: a line, then wait for a prompt."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=30)
        # jcli is a Twisted terminal behind telnet: it draws its prompt once it knows the
        # window's size, so say it as a telnet client would (IAC WILL NAWS, IAC SB NAWS …).
        self.sock.sendall(b"\xff\xfb\x1f\xff\xfa\x1f\x00\xc8\x00\x32\xff\xf0")
        self.read_until_prompt()

    def read_until_prompt(self) -> str:
        data = b""
        while not data.rstrip(b" ").endswith((b"jcli :", b">")):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError(f"jcli closed the connection: {data[-300:]!r}")
            data += chunk
        return data.decode("latin-1")

    def __call__(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\r\n")
        answer = self.read_until_prompt()
        if any(word in answer for word in ("Unknown", "Error", "error", "Incorrect", "Invalid")):
            raise BenchError(f"jcli refused {line!r}: {answer[-400:]}")
        return answer

    def close(self) -> None:
        self.sock.close()


class Jasmin:
    name = "jasmin"

    def __init__(self, tmp: Path, smsc_port: int, receiver_port: int,
                 args: argparse.Namespace) -> None:
        self.dir = tmp / "jasmin"
        self.dir.mkdir()
        self.receiver_port = receiver_port
        self.venv = jasmin_venv(self.dir, args.jasmin_venv)
        self.daemons: list[Daemon] = []
        try:
            self._start(smsc_port)
        except BaseException:
            self.stop()
            raise

    def _start(self, smsc_port: int) -> None:
        ports = {name: free_port() for name in (
            "epmd", "amqp", "dist", "redis", "http", "jcli", "cm", "router", "smpps", "smpps_pb",
            "rest")}
        self.ports = ports
        root = self.dir / "root"
        (root / "etc" / "jasmin" / "store").mkdir(parents=True)
        (root / "var" / "log" / "jasmin").mkdir(parents=True)
        self._start_rabbitmq(ports)
        self._start_redis(ports)
        config = root / "etc" / "jasmin" / "jasmin.cfg"
        config.write_text(self._jasmin_cfg(ports))
        settings = self.dir / "rest-settings"
        settings.mkdir()
        (settings / "sitecustomize.py").write_text(self._rest_settings(ports))
        env = {**os.environ, "ROOT_PATH": str(root), "PATH": f"{self.venv / 'bin'}:"
               + os.environ.get("PATH", "")}
        env.pop("PYTHONPATH", None)
        self.rest_env = rest_env = {**env, "PYTHONPATH": str(settings)}
        bin_dir = self.venv / "bin"
        clear_stale_lock()
        jasmind = Daemon("jasmind", [str(bin_dir / "python"), str(bin_dir / "jasmind.py"),
                                     "-c", str(config),
                                     "--enable-dlr-lookup", "--enable-dlr-thrower"],
                         self.dir / "jasmind.out", env=env, cwd=self.dir)
        self.daemons.append(jasmind)
        wait_port(ports["jcli"], 60, "jasmind", jasmind.alive)
        wait_port(ports["http"], 30, "jasmind", jasmind.alive)
        self._configure(smsc_port, ports)
        rest = Daemon("jasmin REST API", [
            str(bin_dir / "twistd"), "-n", "--pidfile", str(self.dir / "restapi.pid"), "web",
            "--listen", f"tcp:{ports['rest']}:interface={HOST}",
            "--wsgi", "jasmin.protocols.rest.api"], self.dir / "restapi.out", env=rest_env,
            cwd=self.dir)
        self.daemons.append(rest)
        celery = Daemon("jasmin Celery worker", [
            str(bin_dir / "celery"), "-A", "jasmin.protocols.rest.tasks", "worker",
            "-l", "WARNING", "-c", str(CELERY_CONCURRENCY), "--without-gossip",
            "--without-mingle", "--without-heartbeat"], self.dir / "celery.out", env=rest_env,
            cwd=self.dir)
        self.daemons.append(celery)
        wait_port(ports["rest"], 60, "the Jasmin REST API", rest.alive)
        self._wait_celery(celery)

    # -- the services ------------------------------------------------------------------------

    def _start_rabbitmq(self, ports: dict[str, int]) -> None:
        base = self.dir / "rabbitmq"
        base.mkdir()
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {HOST}:{ports['amqp']}\n"
            "log.console = false\nlog.file.level = warning\n"
            "loopback_users.guest = true\n")
        (base / "rabbitmq-env.conf").write_text("")
        env = {**os.environ, "HOME": str(base), "ERL_EPMD_PORT": str(ports["epmd"]),
               "ERL_EPMD_ADDRESS": HOST, "RABBITMQ_NODENAME": "bench@localhost",
               "RABBITMQ_NODE_IP_ADDRESS": HOST, "RABBITMQ_NODE_PORT": str(ports["amqp"]),
               "RABBITMQ_DIST_PORT": str(ports["dist"]),
               "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
               "RABBITMQ_LOG_BASE": str(base / "log"),
               "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
               "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
               "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
               "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                   "-kernel inet_dist_use_interface {127,0,0,1}"}
        epmd = Daemon("epmd", ["epmd", "-port", str(ports["epmd"]), "-address", HOST],
                      base / "epmd.out", env=env)
        self.daemons.append(epmd)
        wait_port(ports["epmd"], 20, "epmd", epmd.alive)
        rabbit = Daemon("rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
                        base / "rabbitmq.out", env=env, cwd=base)
        self.daemons.append(rabbit)
        wait_port(ports["amqp"], 120, "RabbitMQ", rabbit.alive)

    def _start_redis(self, ports: dict[str, int]) -> None:
        base = self.dir / "redis"
        base.mkdir()
        redis = Daemon("redis", ["redis-server", "--bind", HOST, "--port", str(ports["redis"]),
                                 "--save", "", "--appendonly", "no", "--loglevel", "warning",
                                 "--dir", str(base), "--daemonize", "no"],
                       base / "redis.out")
        self.daemons.append(redis)
        wait_port(ports["redis"], 20, "Redis", redis.alive)

    def _jasmin_cfg(self, ports: dict[str, int]) -> str:
        sections = {name: {"log_level": "WARNING"} for name in SECTIONS}
        sections["smpp-server"].update(bind=HOST, port=ports["smpps"])
        sections["smpp-server-pb"].update(bind=HOST, port=ports["smpps_pb"])
        sections["client-management"].update(bind=HOST, port=ports["cm"])
        sections["router"].update(bind=HOST, port=ports["router"])
        sections["http-api"].update(bind=HOST, port=ports["http"])
        sections["jcli"].update(bind=HOST, port=ports["jcli"], authentication="False")
        # The AMQP spec Jasmin looks for under ROOT_PATH is not in its wheel; txAMQP's is.
        spec = next(self.venv.glob("lib/python3*/site-packages/txamqp/specs/standard/"
                                   "amqp0-9-1.stripped.xml"), None)
        if spec is None:
            raise BenchError(f"no txamqp AMQP 0-9-1 spec in {self.venv}")
        sections["amqp-broker"].update(host=HOST, port=ports["amqp"], spec=spec)
        sections["redis-client"].update(host=HOST, port=ports["redis"])
        # The SMSC sends each receipt with the submit_sm_resp, often before Jasmin has stored
        # the id it maps the receipt by; its lookup then retries after 10 s, twice.  A real
        # SMSC's receipts come seconds later; here the retry comes after 1 s, up to 10 times.
        sections["dlr"].update(dlr_lookup_retry_delay=1, dlr_lookup_max_retries=10)
        return "".join(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
                       + "\n" for name, values in sections.items())

    def _rest_settings(self, ports: dict[str, int]) -> str:
        """Jasmin 0.11.0 keeps the REST API's and its Celery worker's settings in a Python
        module (``jasmin.protocols.rest.config``: fixed ports, 8 messages/s per worker, smart
        QoS on) whose documented change is an edit of that file.  Instead this
        ``sitecustomize.py``, on the ``PYTHONPATH`` of those two processes only, sets them
        before anything reads them."""
        # Loaded here by path: importing it by name would first run the package's
        # __init__, which copies the settings (``from .config import *``) before they change.
        return (
            "import importlib.util, pathlib, sys\n"
            "root = pathlib.Path(importlib.util.find_spec('jasmin').origin).parent\n"
            "spec = importlib.util.spec_from_file_location(\n"
            "    'jasmin.protocols.rest.config', root / 'protocols' / 'rest' / 'config.py')\n"
            "c = sys.modules[spec.name] = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(c)\n"
            f"c.old_api_uri = 'http://{HOST}:{ports['http']}'\n"
            f"c.broker_url = 'amqp://guest:guest@{HOST}:{ports['amqp']}//'\n"
            f"c.result_backend = 'redis://:@{HOST}:{ports['redis']}/1'\n"
            "c.http_throughput_per_worker = 0  # no throughput cap\n"
            "c.smart_qos = False\n"
            "c.log_level = 'WARNING'\n")

    def _configure(self, smsc_port: int, ports: dict[str, int]) -> None:
        jcli = Jcli(ports["jcli"])
        try:
            for line in ("smppccm -a", "cid smsc", f"host {HOST}", f"port {smsc_port}",
                         "username pigeon", "password secret", "bind transceiver",
                         "submit_throughput 0", "loglevel 30", "ok",
                         "group -a", "gid bench", "ok",
                         "user -a", f"username {USER}", f"password {PASSWORD}", "gid bench",
                         f"uid {USER}", "ok",
                         "mtrouter -a", "type defaultroute", "connector smppc(smsc)",
                         "rate 0.00", "ok",
                         "smppccm -1 smsc"):
                jcli(line)
            deadline = time.monotonic() + 30
            while "BOUND_TRX" not in jcli("smppccm -l"):
                if time.monotonic() > deadline:
                    raise BenchError("Jasmin's connector did not bind:\n" + self.tail())
                time.sleep(0.5)
        finally:
            jcli.close()

    def _wait_celery(self, celery: Daemon) -> None:
        """Until the worker answers a ping through the broker."""
        bin_dir = self.venv / "bin"
        env = self.rest_env
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if not celery.alive():
                raise BenchError("the Celery worker exited:\n" + celery.tail())
            ping = subprocess.run([str(bin_dir / "celery"), "-A", "jasmin.protocols.rest.tasks",
                                   "inspect", "ping", "-t", "2"], env=env, capture_output=True,
                                  text=True, cwd=self.dir)
            if "pong" in ping.stdout:
                return
            time.sleep(1)
        raise BenchError("the Celery worker did not answer:\n" + celery.tail())

    # -- the benchmark's interface -----------------------------------------------------------

    @property
    def version(self) -> str:
        return (f"Jasmin 0.11.0 (PyPI) on Python {sys.version.split()[0]}, RabbitMQ "
                f"{debian_version('rabbitmq-server')}, Redis {debian_version('redis-server')} "
                "(Debian)")

    @property
    def sessions(self) -> set[int]:
        return {d.session for d in self.daemons}

    def settings(self) -> str:
        return ("SMPP transceiver, submit_throughput 0 (unlimited), no window setting (one "
                "submit_sm in flight), DLR lookup and thrower in jasmind, dlr-level 2 POSTed "
                f"to dlr-url, REST API + Celery worker -c {CELERY_CONCURRENCY} with "
                "http_throughput_per_worker 0 and smart_qos off, logs at WARNING")

    def requests(self, numbers: list[str], per_request: int, text: str) -> dict:
        content = text.encode("utf-16-be").hex()

        def dlr_url(number: str) -> str:
            return f"http://{HOST}:{self.receiver_port}/jasmin?n={number}"

        if per_request == 1:
            lines = []
            for number in numbers:
                query = urlencode({"username": USER, "password": PASSWORD, "to": number,
                                   "from": SENDER, "coding": "8", "hex-content": content,
                                   "dlr": "yes", "dlr-level": "2", "dlr-method": "POST",
                                   "dlr-url": dlr_url(number)}, quote_via=quote)
                lines.append(["GET", f"/send?{query}", {}, ""])
            return {"port": self.ports["http"], "lines": lines, "status": "200",
                    "expect": "Success"}
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json",
                   "Accept": "application/json"}
        lines = []
        for start in range(0, len(numbers), per_request):
            body = {"globals": {"from": SENDER, "coding": 8, "dlr": "yes", "dlr-level": 2,
                                "dlr-method": "POST"},
                    "messages": [{"to": n, "hex-content": content, "dlr-url": dlr_url(n)}
                                 for n in numbers[start:start + per_request]]}
            lines.append(["POST", "/secure/sendbatch", headers, json.dumps(body)])
        return {"port": self.ports["rest"], "lines": lines, "status": "200",
                "expect": "batchId"}

    def check(self, numbers: list[str], kept: list[tuple[str, str]], answers: list[str],
              normalize) -> list[str]:
        """Each number exactly one DLR, ``message_status=DELIVRD``."""
        seen: dict[str, list[str]] = {}
        for url, body in kept:
            if not url.startswith("/jasmin?"):
                continue
            number = parse_qs(urlsplit(url).query).get("n", [""])[0]
            status = parse_qs(body).get("message_status", ["?"])[0]
            seen.setdefault(normalize(number), []).append(status)
        return dlr_problems(numbers, seen, "DELIVRD")

    def tail(self) -> str:
        return "\n".join(f"--- {d.name}\n{d.tail()}" for d in self.daemons)

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            daemon.stop()
