"""Kannel (Debian ``kannel``: bearerbox + smsbox, C) as the peer comparison runs it.

Settings, all in one generated ``kannel.conf`` in the run's directory (everything on loopback):

* bearerbox: one SMPP SMSC group (``transceiver-mode = true``, ``max-pending-submits`` = the
  window, no ``throughput`` line — Kannel sends as fast as the window allows), DLRs matched in
  memory (``dlr-storage = internal``, the default; no ``store-type``: the queue is in memory,
  as Debian ships it), ``log-level = 2`` (warnings; per-message lines are level 0/1).
* smsbox: ``sendsms`` on its HTTP port, one ``sendsms-user``; every request asks for final
  receipts (``dlr-mask=3``: delivered or failed) to be fetched from ``dlr-url`` — the receiver's
  ``/kannel`` with the message's number (``%p``: a DLR's sender is the message's receiver) and the
  DLR type (``%d``) in the query string.

Fed through ``/cgi-bin/sendsms``: the bulk case puts 100 numbers in ``to`` (space-separated,
Kannel's multi-recipient form: smsbox splits them into one message each), the other one number
a request.  Text as UCS-2 (``coding=2``, ``charset=UTF-8``), the same text Pigeon sends.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlencode

from processes import HOST, Daemon, debian_version, free_port, wait_port

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
USER, PASSWORD = "bench", "bench-pass"
SENDER = "10690001"  # the source address of every message


class Kannel:
    name = "kannel"
    processes = "bearerbox + smsbox"

    def __init__(self, tmp: Path, smsc_port: int, receiver_port: int, window: int) -> None:
        self.dir = tmp / "kannel"
        self.dir.mkdir()
        self.receiver_port = receiver_port
        self.admin_port, self.box_port, self.http_port = free_port(), free_port(), free_port()
        self.window = window
        conf = self.dir / "kannel.conf"
        conf.write_text(f"""\
group = core
admin-port = {self.admin_port}
admin-interface = {HOST}
admin-password = bench
status-password = bench
admin-allow-ip = {HOST}
smsbox-port = {self.box_port}
smsbox-interface = {HOST}
box-allow-ip = {HOST}
log-file = "{self.dir}/bearerbox.log"
log-level = 2
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = bench
host = {HOST}
port = {smsc_port}
transceiver-mode = true
smsc-username = pigeon
smsc-password = secret
system-type = ""
max-pending-submits = {window}
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = {HOST}
bearerbox-port = {self.box_port}
sendsms-port = {self.http_port}
sendsms-interface = {HOST}
log-file = "{self.dir}/smsbox.log"
log-level = 2

group = sendsms-user
username = {USER}
password = {PASSWORD}
max-messages = 1
""")
        self.daemons = [Daemon("bearerbox", [BEARERBOX, "-v", "2", str(conf)], self.dir / "bearerbox.out")]
        wait_port(self.box_port, 30, "bearerbox", self.daemons[0].alive)
        self.daemons.append(Daemon("smsbox", [SMSBOX, "-v", "2", str(conf)], self.dir / "smsbox.out"))
        wait_port(self.http_port, 30, "smsbox", self.daemons[1].alive)

    @property
    def version(self) -> str:
        return f"Kannel {debian_version('kannel')} (Debian)"

    @property
    def sessions(self) -> set[int]:
        return {d.session for d in self.daemons}

    def settings(self) -> str:
        return (f"SMPP transceiver, max-pending-submits {self.window}, no throughput cap, "
                "dlr-storage internal, dlr-mask 3 to dlr-url (GET per report), log-level 2")

    def requests(self, numbers: list[str], per_request: int, text: str) -> dict:
        """The feed for ``numbers``: ``per_request`` numbers in each request's ``to``."""
        dlr_url = f"http://{HOST}:{self.receiver_port}/kannel?n=%p&d=%d"
        lines = []
        for start in range(0, len(numbers), per_request):
            query = urlencode({"username": USER, "password": PASSWORD, "from": SENDER,
                               "to": " ".join(numbers[start:start + per_request]),
                               "text": text, "coding": "2", "charset": "UTF-8",
                               "dlr-mask": "3", "dlr-url": dlr_url}, quote_via=quote)
            lines.append(["GET", f"/cgi-bin/sendsms?{query}", {}, ""])
        return {"port": self.http_port, "lines": lines, "status": "202",
                "expect": "Accepted for delivery"}

    def check(self, numbers: list[str], kept: list[tuple[str, str]], answers: list[str],
              normalize) -> list[str]:
        """Each number exactly one DLR, of type 1 (delivered)."""
        from urllib.parse import parse_qs, urlsplit

        seen: dict[str, list[str]] = {}
        for url, _body in kept:
            if not url.startswith("/kannel?"):
                continue
            query = parse_qs(urlsplit(url).query)
            seen.setdefault(normalize(query.get("n", [""])[0]), []).append(
                query.get("d", [""])[0])
        return dlr_problems(numbers, seen, "1")

    def alive(self) -> bool:
        return all(d.alive() for d in self.daemons)

    def tail(self) -> str:
        return "\n".join(d.tail() for d in self.daemons) + "\n" + \
            "\n".join(Path(self.dir / f).read_text(errors="replace")[-2000:]
                      for f in ("bearerbox.log", "smsbox.log") if (self.dir / f).exists())

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            daemon.stop()


def dlr_problems(numbers: list[str], seen: dict[str, list[str]], good: str) -> list[str]:
    """What is wrong with the reports ``seen`` (number → statuses) for ``numbers``: missing,
    duplicated, not ``good``, or for a number that was not sent."""
    expected = set(numbers)
    missing = [n for n in numbers if n not in seen]
    twice = [n for n, s in seen.items() if len(s) > 1]
    bad = [f"{n}:{s}" for n, s in seen.items() if any(x != good for x in s)]
    stray = [n for n in seen if n not in expected]
    problems = []
    for label, items in (("without a report", missing), ("with more than one report", twice),
                         ("with a report other than delivered", bad),
                         ("reported but not sent", stray)):
        if items:
            problems.append(f"{len(items)} numbers {label} (e.g. {', '.join(items[:3])})")
    return problems


__all__ = ["Kannel", "dlr_problems"]
