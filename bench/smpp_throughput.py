"""Benchmark: messages per second through the SMPP connector, with receipts, as a ratio.

The SMSC is ``tests/support/smsc.py`` in a process of its own (answers every ``submit_sm`` and
sends a DELIVRD receipt by ``deliver_sm`` at once).  Two clients feed it in turn, in the same
run, the same number of messages over one bind with the same window:

* **raw** — a minimal SMPP client: ``submit_sm`` PDUs pipelined over one socket up to the
  window, ``deliver_sm_resp`` for every receipt, nothing else.  The ceiling.
* **pigeon** — :class:`pigeon.carriers.smpp.SmppConnector` driven like the dispatcher drives
  it: ``submit(batch)`` of ``Outbound`` messages (mainland text: UCS-2), each answered with its
  ``Submitted``, every receipt matched and handed to a sink.

Both are timed alike: the clock starts once the bind is up, with the same input ready — the
raw client's message texts, the connector's ``Outbound`` objects — and stops at the last
receipt.  **Encoding is inside the timed region for both**: the connector builds each
``submit_sm`` inside ``submit``, and the raw client encodes each PDU (text to UCS-2, body,
header) just before it writes it.  A run counts only if every message was accepted and every
receipt arrived.  ``--rounds`` rounds, the order alternating (raw then connector, then
connector then raw, …); the figures are the medians of the rounds and the ratio is the
connector's median over the raw client's.  Prints a table and one ``BENCH_JSON {...}`` line.
See bench/README.md for recorded figures.

    python bench/smpp_throughput.py                         # 50,000 messages, window 100
    python bench/smpp_throughput.py --messages 100000 --binds 2 --loop asyncio
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from pigeon.carriers.base import Outbound  # noqa: E402
from pigeon.carriers.smpp import SmppConnector  # noqa: E402
from pigeon.carriers.smpp import pdu as codec  # noqa: E402

TEXT = "【鸽子】您的验证码是 {code}，5 分钟内有效。"


def use_loop(name: str) -> None:
    if name == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# -- the SMSC, in its own process --------------------------------------------------------------


async def serve_smsc() -> None:
    from tests.support.smsc import FakeSmsc

    async with FakeSmsc() as smsc:
        print(smsc.port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin


# -- the raw client ----------------------------------------------------------------------------


async def raw_client(port: int, messages: int, window: int) -> float:
    """Messages/s of a minimal client: from the bind being up to the last receipt, each
    ``submit_sm`` encoded inside that time, just before it is written."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    bind = codec.bind_body("pigeon", "secret")
    writer.write(codec.encode(codec.BIND_TRANSCEIVER, 1, bind))
    header = await reader.readexactly(16)
    await reader.readexactly(struct.unpack(">I", header[:4])[0] - 16)
    texts = [TEXT.format(code=f"{i % 1000000:06d}") for i in range(messages)]
    sent = answered = receipts = 0
    buffer = bytearray()
    started = time.perf_counter()
    while answered < messages or receipts < messages:
        batch = []
        while sent < messages and sent - answered < window:
            body = codec.submit_sm_body(
                source=b"1069001\x00", source_ton=0, source_npi=1,
                destination=b"8613800138000\x00", dest_ton=1, dest_npi=1, esm_class=0,
                registered_delivery=1, data_coding=8,
                short_message=texts[sent].encode("utf-16-be"))
            batch.append(codec.encode(codec.SUBMIT_SM, sent + 2, body))
            sent += 1
        if batch:
            writer.write(b"".join(batch))
        data = await reader.read(1 << 16)
        if not data:
            raise RuntimeError("the SMSC closed the connection")
        buffer += data
        acks = []
        for command_id, status, sequence, _body in codec.frames(buffer):
            if command_id == codec.SUBMIT_SM | codec.RESPONSE:
                if status:
                    raise RuntimeError(f"submit_sm refused: 0x{status:08X}")
                answered += 1
            elif command_id == codec.DELIVER_SM:
                receipts += 1
                acks.append(codec.encode(codec.DELIVER_SM | codec.RESPONSE, sequence, b"\x00"))
        if acks:
            writer.write(b"".join(acks))
    elapsed = time.perf_counter() - started
    writer.close()
    return messages / elapsed


# -- the connector -----------------------------------------------------------------------------


class CountingSink:
    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.done = asyncio.Event()
        self.expected = 0

    async def receipts(self, receipts) -> None:
        for receipt in receipts:
            if receipt.delivered:
                self.delivered += 1
            else:
                self.failed += 1
        if self.delivered + self.failed >= self.expected:
            self.done.set()

    async def inbound(self, messages) -> None:
        pass


async def connector_client(port: int, messages: int, window: int, binds: int, batch: int,
                           ) -> tuple[float, dict]:
    sink = CountingSink()
    sink.expected = messages
    connector = SmppConnector("bench", "127.0.0.1", port, "pigeon", "secret", window=window,
                              binds=binds)
    await connector.start(sink)
    if not await connector.wait_bound(10):
        raise RuntimeError("the connector did not bind")
    outbound = [Outbound(i, "13800138000", 86, "mobile", "1069001",
                         TEXT.format(code=f"{i % 1000000:06d}"), "mainland", 1, 1, 0)
                for i in range(messages)]
    accepted = 0
    started = time.perf_counter()
    for start in range(0, messages, batch):
        results = await connector.submit(outbound[start:start + batch])
        accepted += sum(1 for r in results if r.carrier_message_id)
    async with asyncio.timeout(120):
        await sink.done.wait()
    elapsed = time.perf_counter() - started
    state = connector.state()
    await connector.stop()
    if accepted != messages or sink.delivered != messages:
        raise RuntimeError(f"INVALID: {accepted} accepted, {sink.delivered} delivered receipts "
                           f"of {messages}")
    return messages / elapsed, state


async def measure(args) -> dict:
    smsc = subprocess.Popen([sys.executable, __file__, "--serve-smsc", "--loop", args.loop],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(smsc.stdout.readline())
        rounds = []
        for number in range(args.rounds):
            # Alternating order: raw first in odd rounds, the connector first in even ones.
            order = ("raw", "pigeon") if number % 2 == 0 else ("pigeon", "raw")
            figures = {}
            for target in order:
                if target == "raw":
                    figures["raw"] = await raw_client(port, args.messages, args.window)
                else:
                    figures["pigeon"], _state = await connector_client(
                        port, args.messages, args.window, args.binds, args.batch)
            rounds.append({"order": list(order), **figures})
            print(f"  round {number + 1} ({' → '.join(order)}): raw {figures['raw']:,.0f} "
                  f"msg/s   pigeon {figures['pigeon']:,.0f} msg/s   "
                  f"ratio {figures['pigeon'] / figures['raw']:.2f}", flush=True)
    finally:
        smsc.stdin.close()
        smsc.wait(10)
    raw = statistics.median(r["raw"] for r in rounds)
    pigeon = statistics.median(r["pigeon"] for r in rounds)
    return {"messages": args.messages, "window": args.window, "binds": args.binds,
            "batch": args.batch, "loop": args.loop, "encoding": "timed, both",
            "rounds": rounds, "raw_median": round(raw), "pigeon_median": round(pigeon),
            "ratio": round(pigeon / raw, 3), "cpus": os.cpu_count(),
            "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--binds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1000,
                        help="messages per SmppConnector.submit call")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--serve-smsc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    use_loop(args.loop)
    if args.serve_smsc:
        asyncio.run(serve_smsc())
        return
    print(f"SMPP throughput: {args.messages:,} messages, window {args.window}, "
          f"{args.binds} bind(s), batches of {args.batch}, {args.loop}, with receipts")
    result = asyncio.run(measure(args))
    print(f"raw client   {result['raw_median']:>9,} msg/s (median of {args.rounds})")
    print(f"SmppConnector{result['pigeon_median']:>9,} msg/s (median of {args.rounds})")
    print(f"ratio        {result['ratio']:>9.2f} (of the medians)")
    print("BENCH_JSON " + json.dumps(result))


if __name__ == "__main__":
    main()
