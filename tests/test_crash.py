"""Kill -9 in the middle of a load: every acknowledged message still reaches a final status,
and none reaches its handset twice.

``pigeon serve`` runs as a subprocess on the embedded SQLite database; the official SDK sends
from several threads; the server is SIGKILLed while messages are being accepted, dispatched
and delivered, then started again on the same data directory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from sqlalchemy import func, select

from pigeon.app import Pigeon
from pigeon.config import Settings
from pigeon.store.tables import handset_messages, messages, report_events
from tests.conftest import TEST_SECRET_KEY, make_tenant
from tests.support.sdk import CoreClient, tea_client
from tests.support.sending import ready_to_send
from tests.support.waiting import wait_until

THREADS = 8
KILL_AFTER = 300  # acknowledged messages before the kill
FINAL = ("delivered", "failed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, env: dict, log_path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child process owns it
        self.process = subprocess.Popen([sys.executable, "-m", "pigeon.cli", "serve"],
                                        env=self.env, stdout=log, stderr=log)
        log.close()

        def listening() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"pigeon serve exited; see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", int(self.env["PIGEON_PORT"])),
                                         timeout=0.2).close()
            except OSError:
                return False
            return True

        wait_until(listening, what=f"pigeon serve to listen (log: {self.log_path})")
        return self

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def test_a_killed_server_loses_no_acknowledged_message_and_delivers_none_twice(tmp_path):
    data = tmp_path / "data"
    port = _free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PIGEON_")}
    env |= {"PIGEON_DATA_DIR": str(data), "PIGEON_SECRET_KEY": TEST_SECRET_KEY.reveal(),
            "PIGEON_PORT": str(port), "PIGEON_SIMULATOR_DELAY": "100ms",
            "PIGEON_REVIEW_MODE": "rules", "PIGEON_REGISTRATION_DELAY": "0s",
            "PIGEON_LOG_LEVEL": "warning"}
    server = Server(env, tmp_path / "server.log").start()
    local = Pigeon(Settings(data_dir=data, secret_key=TEST_SECRET_KEY))
    try:
        endpoint = f"127.0.0.1:{port}"
        tenant = make_tenant(local)
        sender = ready_to_send(local, CoreClient(endpoint, tenant), tenant.account_id,
                               balance_cny=1000)

        acknowledged: list[str] = []
        lock = threading.Lock()
        counter = iter(range(10**6))
        killed = threading.Event()

        def load() -> None:
            sdk = tea_client(endpoint, tenant)
            while not killed.is_set():
                with lock:
                    n = next(counter)
                try:
                    # A number of its own per message: the per-number limits stay out of it.
                    answer = sdk.send_sms_with_options(models.SendSmsRequest(
                        phone_numbers=str(13600000000 + n), sign_name=sender.sign,
                        template_code=sender.notice, template_param=f'{{"order":"{n}"}}'),
                        RuntimeOptions(read_timeout=5000, connect_timeout=1000)).body
                except Exception:
                    if killed.is_set():
                        return  # the server is gone, as planned
                    raise  # before the kill nothing may fail
                assert answer.code == "OK", answer.message
                with lock:
                    acknowledged.append(answer.biz_id)

        with ThreadPoolExecutor(THREADS) as pool:
            loads = [pool.submit(load) for _ in range(THREADS)]

            def enough() -> bool:
                for done in (f for f in loads if f.done()):
                    done.result()  # a load that failed ends the wait with its exception
                return len(acknowledged) >= KILL_AFTER

            try:
                wait_until(enough, timeout=60, what=f"{KILL_AFTER} acknowledged messages")
            finally:
                killed.set()  # before the kill: from now on a failed request is expected
            server.kill()
            for load_done in loads:
                load_done.result(timeout=30)
        at_kill = local.db.read_sync(lambda conn: dict(conn.execute(
            select(messages.c.status, func.count()).group_by(messages.c.status)).all()))
        # The kill caught messages on their way (queued, sending or waiting for a receipt).
        assert set(at_kill) - set(FINAL), at_kill

        server.start()

        def unfinished() -> int:
            return local.db.read_sync(lambda conn: conn.scalar(
                select(func.count()).select_from(messages)
                .where(messages.c.status.not_in(FINAL))))

        wait_until(lambda: not unfinished(), timeout=60, interval=0.1,
                   what="every message final after the restart")

        rows = local.db.read_sync(lambda conn: conn.execute(
            select(messages.c.biz_id, messages.c.phone, messages.c.status,
                   messages.c.content)).all())
        by_biz = {r.biz_id: r for r in rows}
        assert set(acknowledged) <= set(by_biz), "an acknowledged message was lost"
        assert [b for b in acknowledged if by_biz[b].status not in FINAL] == []
        assert {r.status for r in rows} == {"delivered"}

        received = local.db.read_sync(lambda conn: Counter(conn.execute(
            select(handset_messages.c.phone, handset_messages.c.text)
            .where(handset_messages.c.phone.like("136%"))).all()))
        assert [key for key, times in received.items() if times > 1] == [], \
            "a message reached its handset twice"
        assert set(received) == {(r.phone, r.content) for r in rows}
        reports = local.db.read_sync(lambda conn: conn.scalar(
            select(func.count()).select_from(report_events)
            .where(report_events.c.type == "SmsReport")))
        assert reports == len(rows)
    finally:
        server.stop()
        local.close()
