"""The SMSC of the peer comparison: an SMPP 3.4 server on a loopback port, in a process of its
own, lean enough not to be what limits any of the gateways.

``tests/support/smsc.py`` (the test SMSC) decodes and keeps every PDU in full and schedules
each answer as a callback; that is what tests want, and it costs CPU on a 2-core machine where
the gateway under test needs every cycle.  This one does only what a fast SMSC must: it answers
every ``submit_sm`` with a decimal message id and, in the same write, a ``DELIVRD`` receipt by
``deliver_sm`` (receipt text plus the ``receipted_message_id`` and ``message_state`` TLVs) on
the same session when it is bound as a transceiver (else on a receiver session), everything a
read produced leaves in one ``write``, nothing is logged, and a submit is decoded only as far as
its addresses and ``registered_delivery``.  uvloop when it is installed.

What it counts, for the benchmark's checks (since the last ``reset``): the destination of every
``submit_sm`` (in arrival order: a number seen twice is a duplicate), the ``deliver_sm`` sent
and the ``deliver_sm_resp`` received (with any non-zero status), receipts that could not be sent
(no receiver bound), the wall-clock time (``time.time()``) of the first ``submit_sm`` and of
the last ``deliver_sm_resp``, and its own CPU time.

Control, one command a line on stdin, one JSON line back on stdout:

* ``stats`` — the counters (not the destinations);
* ``dump PATH`` — write the destinations to PATH, one a line, then answer ``stats``;
* ``reset`` — forget the counters and destinations (between rounds);
* end of input — stop.

    python bench/peers/smsc.py --system-id pigeon --password secret   # prints its port
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import struct
import sys
import time
from datetime import UTC, datetime

SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
ENQUIRE_LINK = 0x00000015
RESPONSE = 0x80000000
BINDS = {0x00000001: "receiver", 0x00000002: "transmitter", 0x00000009: "transceiver"}
HEADER = struct.Struct(">IIII")
# receipted_message_id (0x001E) and message_state (0x0427, 2 = DELIVERED) TLV headers.
TLV_ID = struct.pack(">H", 0x001E)
TLV_STATE = struct.pack(">HHB", 0x0427, 1, 2)


def quick_ack(sock) -> None:
    """Acknowledge what was read at once (Linux ``TCP_QUICKACK``, which does not stay on).

    A client that leaves Nagle's algorithm on — Twisted's default, so Jasmin — holds each small
    write until the previous one is acknowledged; the kernel's delayed ACK (40 ms) would then
    cost it 40 ms per message on this loopback link, where a real SMSC link has traffic both
    ways.  One system call per read."""
    if sock is not None and hasattr(socket, "TCP_QUICKACK"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass


class Counters:
    def __init__(self) -> None:
        self.destinations: list[bytes] = []
        self.deliver_sent = 0
        self.deliver_resps = 0
        self.deliver_resp_errors = 0
        self.no_receiver = 0
        self.refused = 0  # submit_sm on a session not bound to transmit
        self.first_submit = 0.0
        self.last_deliver_resp = 0.0


class Smsc:
    def __init__(self, system_id: str, password: str) -> None:
        self.credentials = (system_id.encode(), password.encode())
        self.counters = Counters()
        self.next_id = 1_000_000_000  # decimal ids: no gateway needs a conversion setting
        self.sessions: list[Session] = []
        self.binds = 0

    def stats(self) -> dict:
        c = self.counters
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"submits": len(c.destinations), "deliver_sent": c.deliver_sent,
                "deliver_resps": c.deliver_resps, "deliver_resp_errors": c.deliver_resp_errors,
                "no_receiver": c.no_receiver, "refused": c.refused,
                "first_submit": c.first_submit, "last_deliver_resp": c.last_deliver_resp,
                "binds": self.binds, "sessions": [s.bound for s in self.sessions],
                "cpu_s": usage.ru_utime + usage.ru_stime}


class Session(asyncio.Protocol):
    def __init__(self, smsc: Smsc) -> None:
        self.smsc = smsc
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.bound = ""
        self.sequence = 0
        self.out: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.smsc.sessions.append(self)
        self.socket = transport.get_extra_info("socket")

    def connection_lost(self, exc) -> None:
        if self in self.smsc.sessions:
            self.smsc.sessions.remove(self)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        at = 0
        end = len(buffer)
        while end - at >= 16:
            length, command_id, status, sequence = HEADER.unpack_from(buffer, at)
            if length < 16 or length > 65536:
                self.transport.abort()
                return
            if end - at < length:
                break
            self.handle(command_id, status, sequence, bytes(buffer[at + 16:at + length]))
            at += length
        del buffer[:at]
        self.flush()
        quick_ack(self.socket)

    def flush(self) -> None:
        if self.out:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(b"".join(self.out))
            self.out.clear()

    def send(self, command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> None:
        self.out.append(HEADER.pack(16 + len(body), command_id, status, sequence) + body)

    def handle(self, command_id: int, status: int, sequence: int, body: bytes) -> None:
        smsc = self.smsc
        if command_id == DELIVER_SM | RESPONSE:
            counters = smsc.counters
            counters.deliver_resps += 1
            counters.last_deliver_resp = time.time()
            if status:
                counters.deliver_resp_errors += 1
        elif command_id == SUBMIT_SM:
            self.submit(sequence, body)
        elif command_id & RESPONSE:
            pass  # enquire_link_resp, generic_nack: nothing to do
        elif command_id in BINDS:
            system_id, _, rest = body.partition(b"\0")
            password = rest.partition(b"\0")[0]
            ok = (system_id, password) == smsc.credentials
            self.send(command_id | RESPONSE, sequence, b"BenchSMSC\0", 0 if ok else 0x0E)
            if ok:
                self.bound = BINDS[command_id]
                smsc.binds += 1
        elif command_id == ENQUIRE_LINK:
            self.send(ENQUIRE_LINK | RESPONSE, sequence)
        elif command_id == UNBIND:
            self.send(UNBIND | RESPONSE, sequence)
            self.flush()
            self.bound = ""
            self.transport.close()
        else:
            self.send(0x80000000, sequence, status=0x03)  # generic_nack, ESME_RINVCMDID

    def submit(self, sequence: int, body: bytes) -> None:
        smsc = self.smsc
        counters = smsc.counters
        if self.bound not in ("transmitter", "transceiver"):
            counters.refused += 1
            self.send(SUBMIT_SM | RESPONSE, sequence, status=0x04)  # ESME_RINVBNDSTS
            return
        at = body.index(b"\0") + 1  # service_type
        source_ton, source_npi = body[at], body[at + 1]
        end = body.index(b"\0", at + 2)
        source = body[at + 2:end]
        dest_ton, dest_npi = body[end + 1], body[end + 2]
        at = body.index(b"\0", end + 3)
        destination = body[end + 3:at]
        at = body.index(b"\0", at + 4)  # esm_class, protocol_id, priority; schedule
        at = body.index(b"\0", at + 1)  # validity
        registered = body[at + 1]
        now = time.time()
        if not counters.destinations:
            counters.first_submit = now
        counters.destinations.append(destination)
        message_id = str(smsc.next_id).encode()
        smsc.next_id += 1
        self.send(SUBMIT_SM | RESPONSE, sequence, message_id + b"\0")
        if not registered & 0x01:
            return
        receiver = self if self.bound == "transceiver" else next(
            (s for s in smsc.sessions if s.bound in ("receiver", "transceiver")), None)
        if receiver is None:
            counters.no_receiver += 1
            return
        stamp = datetime.fromtimestamp(now, UTC).strftime("%y%m%d%H%M").encode()
        text = (b"id:" + message_id + b" sub:001 dlvrd:001 submit date:" + stamp
                + b" done date:" + stamp + b" stat:DELIVRD err:000 text:")
        deliver = (b"\0" + bytes([dest_ton, dest_npi]) + destination + b"\0"
                   + bytes([source_ton, source_npi]) + source + b"\0"
                   + b"\x04\0\0\0\0\0\0\0\0" + bytes([len(text)]) + text
                   + TLV_ID + struct.pack(">H", len(message_id) + 1) + message_id + b"\0"
                   + TLV_STATE)
        receiver.sequence += 1
        receiver.send(DELIVER_SM, receiver.sequence, deliver)
        counters.deliver_sent += 1
        if receiver is not self:
            receiver.flush()


async def serve(system_id: str, password: str) -> None:
    loop = asyncio.get_running_loop()
    smsc = Smsc(system_id, password)
    server = await loop.create_server(lambda: Session(smsc), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    done = loop.create_future()
    stdin = sys.stdin.buffer

    def command() -> None:
        line = stdin.readline()
        if not line:
            loop.remove_reader(stdin.fileno())
            done.set_result(None)
            return
        verb, _, arg = line.decode().strip().partition(" ")
        if verb == "reset":
            smsc.counters = Counters()
        elif verb == "dump":
            with open(arg, "wb") as out:
                out.write(b"\n".join(smsc.counters.destinations) + b"\n")
        sys.stdout.write(json.dumps(smsc.stats()) + "\n")
        sys.stdout.flush()

    os.set_blocking(stdin.fileno(), True)
    loop.add_reader(stdin.fileno(), command)
    await done
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--system-id", default="pigeon")
    parser.add_argument("--password", default="secret")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.system_id, args.password))
    else:
        uvloop.run(serve(args.system_id, args.password))


if __name__ == "__main__":
    main()
