"""RequestId and BizId: unique, in the forms Alibaba answers, made without a system call."""

from __future__ import annotations

import os
import random
import re
from datetime import UTC, datetime

from pigeon.api.rpc.endpoint import new_request_id
from pigeon.services.sending import new_biz_id

NOW = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)


def test_ids_take_the_forms_alibaba_answers():
    assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}",
                        new_request_id())
    biz_id = new_biz_id(NOW)
    assert re.fullmatch(r"\d{18}\^0", biz_id)
    assert biz_id.startswith(f"{int(NOW.timestamp() * 1_000_000) % 10**15:015d}")


def test_ids_do_not_read_the_os_random_source(monkeypatch):
    # os.urandom is a system call that lets go of the GIL, once a request on the hot path.
    def urandom(_size):
        raise AssertionError("os.urandom was called")

    monkeypatch.setattr(os, "urandom", urandom)
    monkeypatch.setattr(random, "_urandom", urandom)  # what secrets and SystemRandom call
    new_request_id()
    new_biz_id(NOW)


def test_a_forked_process_makes_other_ids_than_its_parent():
    # pigeon serve --workers N forks (or spawns) its API processes: each must draw its own.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, " ".join(new_biz_id(NOW)[15:18] + new_request_id()
                                 for _ in range(20)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    parent = [new_biz_id(NOW)[15:18] + new_request_id() for _ in range(20)]
    assert len(child) == 20
    assert not set(child) & set(parent)
