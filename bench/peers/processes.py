"""Processes of the peer comparison: started in sessions of their own so that every process a
gateway forks can be found (and its CPU time read) by session id, and stopped with the whole
session at the end; control processes spoken to over stdin/stdout (the SMSC, the receiver);
and the Debian packages the peers need, installed when missing."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
PEERS = Path(__file__).resolve().parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# One error for a failed step, whichever module fails it (harness.run_cli raises it too, and
# compare.py reports it without a traceback).  bench/ is on sys.path beside bench/peers/.
from harness import BenchError  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float, what: str, alive=None) -> None:
    """Wait until something listens on ``port``; ``alive()`` False ends the wait early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        if alive is not None and not alive():
            raise BenchError(f"{what} exited before listening on port {port}")
        time.sleep(0.2)
    raise BenchError(f"{what} did not listen on port {port} within {timeout:.0f} s")


class Daemon:
    """A process started in a session of its own, its output in ``log``."""

    def __init__(self, name: str, argv: list[str], log: Path, *, env: dict | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                            start_new_session=True)

    @property
    def session(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            text = self.log.read_text(encoding="utf-8", errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Signal the session leader, then end whatever is left of its session."""
        if self.alive():
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        for pid in session_pids({self.session}):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


def _stat(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def session_pids(sessions: set[int]) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(entry)
            if fields is not None and int(fields[3]) in sessions:
                pids.append(int(entry))
    return pids


def session_cpu(sessions: set[int]) -> float:
    """User + system CPU seconds of every live process of ``sessions`` (all threads), plus what
    their reaped children used (``cutime``/``cstime``)."""
    total = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(entry)
            if fields is not None and int(fields[3]) in sessions:
                total += sum(int(f) for f in fields[11:15])
    return total / CLOCK_TICKS


def cpu_by_pid(sessions: set[int]) -> dict[int, tuple[str, float]]:
    """:func:`session_cpu` by process: its name (``comm``) and CPU seconds."""
    found: dict[int, tuple[str, float]] = {}
    for pid in session_pids(sessions):
        fields = _stat(str(pid))
        with contextlib.suppress(OSError):
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            if fields is not None:
                found[pid] = (name, sum(int(f) for f in fields[11:15]) / CLOCK_TICKS)
    return found


def waits_by_pid(sessions: set[int]) -> dict[int, float]:
    """Seconds each process's threads have spent runnable but waiting for a core (the second
    field of each ``/proc/PID/task/TID/schedstat``): a process held up by the others' turns on
    the machine's cores, as against one waiting for a lock or for work."""
    found: dict[int, float] = {}
    for pid in session_pids(sessions):
        total = 0
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    total += int((task / "schedstat").read_text().split()[1])
        found[pid] = total / 1e9
    return found


def by_name(by_pid: dict[int, tuple[str, float]]) -> dict[str, float]:
    """:func:`cpu_by_pid`'s seconds summed by process name, for the breakdown of a round."""
    totals: dict[str, float] = {}
    for name, seconds in by_pid.values():
        totals[name] = totals.get(name, 0.0) + seconds
    return totals


def process_names(sessions: set[int]) -> list[str]:
    names = []
    for pid in session_pids(sessions):
        with contextlib.suppress(OSError):
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
    return sorted(names)


class Controlled:
    """A helper of ours (``smsc.py``, ``receiver.py``) that prints its port, then answers one
    JSON line per command on stdin."""

    def __init__(self, script: str, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, str(PEERS / script), *args],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, start_new_session=True)
        line = self.process.stdout.readline()
        if not line:
            raise BenchError(f"{script} did not start")
        self.port = int(line)

    def command(self, line: str) -> dict:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# -- Debian packages -------------------------------------------------------------------------

DEBIAN = {"kannel": "/usr/sbin/bearerbox", "rabbitmq-server": "/usr/lib/rabbitmq/bin/rabbitmq-server",
          "redis-server": "/usr/bin/redis-server"}


def install_debian(packages: list[str]) -> None:
    """``apt-get install -y`` the packages whose program is missing, without letting their
    maintainer scripts start a system service: a ``policy-rc.d`` that refuses every start is put
    in place for the install (and removed after, unless it was there already)."""
    missing = [p for p in packages if not Path(DEBIAN[p]).exists()]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise BenchError(f"{', '.join(missing)} missing and there is no apt-get: install them "
                         "by hand (Debian package names)")
    print(f"installing {' '.join(missing)} with apt-get …", flush=True)
    policy = Path("/usr/sbin/policy-rc.d")
    placed = not policy.exists()
    if placed:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        run = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing],
                             env=env, capture_output=True, text=True)
        if run.returncode != 0:  # a stale package list: update once and try again
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            run = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends",
                                  *missing], env=env, capture_output=True, text=True)
    finally:
        if placed:
            policy.unlink()
    if run.returncode != 0:
        raise BenchError(f"apt-get install {' '.join(missing)} failed:\n{run.stderr[-1500:]}")


def debian_version(package: str) -> str:
    run = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                         text=True)
    return run.stdout.strip() or "?"
