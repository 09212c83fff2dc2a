"""Every long-running Pigeon process settles the garbage collector once it has started
(``pigeon.serving.settle_gc``): start-up's objects frozen, the young generation collected
less often.  Each case runs in a process of its own — the test process's collector is not
touched — up to the point where the server would start serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from pigeon import serving
from tests.conftest import TEST_SECRET_KEY

# Each probe prints [objects frozen before, objects frozen after, young threshold after].
_API_PROCESS = """
    import gc, json
    from pigeon import serving
    before = gc.get_freeze_count()
    serving.api_process()
    print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()[0]]))
"""

# `pigeon serve` (one process) and `pigeon worker`, stopped where they would start serving:
# uvicorn's Server.run and the workers' coroutine print the collector's state instead.
_SERVE = """
    import gc, json, sys
    import uvicorn
    from pigeon import workers
    from pigeon.cli import app
    before = gc.get_freeze_count()
    def state():
        print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()[0]]))
    def serve_state(server):
        state()
        sys.exit(0)
    async def worker_state(pigeon):
        state()
    uvicorn.Server.run = serve_state
    workers.run = worker_state
    sys.argv = ["pigeon", *sys.argv[1:]]
    app()
"""


def _probe(tmp_path, code: str, *args: str) -> list:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIGEON_")}
    env |= {"PIGEON_DATA_DIR": str(tmp_path), "PIGEON_SECRET_KEY": TEST_SECRET_KEY.reveal(),
            "PIGEON_LOG_LEVEL": "warning"}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", [
    pytest.param((_API_PROCESS,), id="an API process of serve --workers N"),
    pytest.param((_SERVE, "serve", "--workers", "1", "--port", "0"), id="serve, one process"),
    pytest.param((_SERVE, "worker"), id="worker"),
])
def test_a_started_process_freezes_start_up_and_collects_young_objects_less_often(
        tmp_path, case):
    code, *args = case
    before, after, young = _probe(tmp_path, code, *args)
    assert before == 0
    assert after > 10_000  # the modules, the app, the settings: everything start-up made
    assert young == serving.GC_YOUNG_THRESHOLD > 700  # CPython's default
