"""docs/getting-started.md, run as written against a fresh server: every shell block in bash,
every Python block in one interpreter (the reader's session), in the document's order, until the
delivered SmsReport it ends with.

What differs from a reader's run, and why:

* ``scripts/serve`` runs as ``pigeon serve`` — scripts/serve is the venv's install step, then
  exactly that, and this venv is installed already (reinstalling it under other tests would be
  the test's own side effect);
* the ports: ``127.0.0.1:8080`` and ``127.0.0.1:9000`` become free ones, so the test never
  meets another server;
* the database is a fresh one in a temporary directory (``PIGEON_DATA_DIR``, which the server
  and the ``pigeon`` commands share), and the blocks after the first run there, so the files
  they write stay out of the checkout.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.nodes import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "getting-started.md"
BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```", re.M | re.S)


def blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(DOC.read_text())


def test_the_document_has_shell_and_python_blocks():
    kinds = [kind for kind, _ in blocks()]
    assert kinds[:2] == ["sh", "sh"] and kinds.count("python") >= 5
    assert "scripts/serve &" in blocks()[0][1] and "/healthz" in blocks()[0][1]


def test_getting_started_runs_as_written_to_a_delivered_report(tmp_path, monkeypatch):
    port, receiver_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIGEON_")}
    env.update(PIGEON_DATA_DIR=str(tmp_path / "data"), PIGEON_HOST="127.0.0.1",
               PIGEON_PORT=str(port), PIGEON_SERVE_WORKERS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
               VIRTUAL_ENV=str(Path(sys.executable).parent.parent))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    def adapted(text: str) -> str:
        text = text.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        text = text.replace("127.0.0.1:9000", f"127.0.0.1:{receiver_port}")
        text = text.replace('("127.0.0.1", 9000)', f'("127.0.0.1", {receiver_port})')
        return text.replace("scripts/serve &", f"{ROOT}/.venv/bin/pigeon serve &"
                            if (ROOT / ".venv").is_dir() else "pigeon serve &")

    session: dict = {"__name__": "getting_started"}
    server = None
    try:
        for index, (kind, text) in enumerate(blocks()):
            code = adapted(text)
            if kind == "python":
                exec(compile(code, f"{DOC.name} block {index + 1}", "exec"), session)
                continue
            if server is None:  # the block that starts the server: its process group goes too
                server = subprocess.Popen(["bash", "-euo", "pipefail", "-c", code],
                                          cwd=ROOT, env=env, start_new_session=True)
                assert server.wait(timeout=120) == 0, f"block {index + 1} failed"
                continue
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"block {index + 1}: {done.stderr}"
        # Where the document ends: the message delivered, its SmsReport received.
        assert session["answer"].code == "OK"
        report = session["report"]
        assert report["success"] is True and report["err_code"] == "DELIVERED"
        assert report["phone_number"] == "13700137000"
    finally:
        if "receiver" in session:
            session["receiver"].shutdown()
        if server is not None:
            try:
                os.killpg(server.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
