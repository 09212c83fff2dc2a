"""A data directory that fills up: the server answers a retryable 503 while it is full, logs
the incident once instead of a traceback a request, keeps every message it acknowledged, and
delivers them once space returns — by itself."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from pigeon.store.tables import messages
from tests.conftest import MISSING_TOOL
from tests.security.conftest import ready_tenant, serve
from tests.support import signer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

DISK_MB = 24
MARGIN = 1024 * 1024  # bytes left free once the filler is written


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MB tmpfs (mounting needs root, which CI has)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs",
                              str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"{MISSING_TOOL}mounting a tmpfs (root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Take all but :data:`MARGIN` of the disk's free space."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    filler = disk / "filler"
    with open(filler, "wb") as out:
        left = free - MARGIN
        block = b"\0" * (1024 * 1024)
        while left > 0:
            out.write(block[:left])
            left -= len(block)
    return filler


def test_a_full_disk_answers_503_loses_nothing_and_recovers(small_disk, tmp_path):
    deployment = serve(small_disk, PIGEON_SIMULATOR_DELAY="50ms")
    try:
        tenant, sender = ready_tenant(deployment)
        served = deployment.api[0]
        phones = (str(n) for n in itertools.count(13600000000))

        def send() -> httpx.Response:
            params = signer.v1_params(tenant, "SendSms", {
                "PhoneNumbers": next(phones), "SignName": sender.sign,
                "TemplateCode": sender.notice, "TemplateParam": '{"order":"A1"}'})
            return httpx.post(f"http://{served.endpoint}/", data=params, timeout=30)

        acknowledged = []
        filler = fill(small_disk)
        log_before = served.log_path.read_text().count("\n")
        refused = 0
        for _ in range(3000):  # until twenty 503s in a row: the disk is full
            answer = send()
            assert answer.status_code in (200, 503), answer.text
            body = answer.json()
            if answer.status_code == 200:
                assert body["Code"] == "OK", body
                acknowledged.append(body["BizId"])
                refused = 0
            else:
                assert body["Code"] == "ServiceUnavailable", body
                refused += 1
                if refused == 20:
                    break
        assert refused == 20, "the disk never filled up"
        for _ in range(50):  # full: every request refused, retryably
            assert send().status_code == 503

        filler.unlink()  # space returns
        wait_until(lambda: send().status_code == 200, what="the server to accept again")
        acknowledged.append(send().json()["BizId"])

        def delivered() -> bool:
            rows = deployment.local.db.read_sync(lambda c: c.execute(
                select(messages.c.biz_id, messages.c.status)
                .where(messages.c.biz_id.in_(acknowledged))).all())
            return len(rows) == len(acknowledged) and all(s == "delivered" for _, s in rows)

        wait_until(delivered, what="every acknowledged message to be delivered")

        log = served.log_path.read_text()
        during = log.splitlines()[log_before:]
        assert "Traceback" not in log, log[-4000:]
        assert sum("storage unavailable" in line for line in during) == 1, during
        assert len(during) < 10, during
        print(f"{len(acknowledged)} acknowledged, all delivered; log during the incident: "
              f"{during}")
    finally:
        deployment.close()
