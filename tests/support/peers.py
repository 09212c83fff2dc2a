"""Independent peers written in Node.js (tests/peers/<name>/): npm packages pinned by a lock
file, installed with ``npm ci`` once per lock into a cache directory outside the work tree.

Without Node.js or without the npm registry a test that needs a peer is skipped with the
reason; ``PIGEON_TEST_REQUIRE_PEERS=1`` (set by CI) turns that into a failure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PEERS = Path(__file__).resolve().parents[1] / "peers"


def unavailable(what: str, reason: str):
    if os.environ.get("PIGEON_TEST_REQUIRE_PEERS"):
        pytest.fail(f"{what} is required but {reason}")
    pytest.skip(f"missing tool: {reason}")


def node_modules(name: str, package: str) -> Path:
    """The ``node_modules`` of ``tests/peers/<name>``, installed if needed; ``package`` is one
    of its dependencies, present once the install is complete."""
    what = f"the npm {name} peer"
    if not shutil.which("node") or not shutil.which("npm"):
        unavailable(what, "Node.js/npm is not installed")
    peer = PEERS / name
    lock = (peer / "package-lock.json").read_bytes()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    target = cache / "pigeon-test-peers" / f"{name}-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (target / "node_modules" / package).is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for file in ("package.json", "package-lock.json"):
            shutil.copy(peer / file, target / file)
        try:
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                           cwd=target, check=True, capture_output=True, timeout=300)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", b"") or b""
            unavailable(what, f"npm ci failed (is the npm registry reachable?): "
                        f"{output.decode(errors='replace')[-300:]}")
    return target / "node_modules"
