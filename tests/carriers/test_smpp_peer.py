"""The SMPP connector against an SMSC nobody here wrote: the npm ``smpp`` package's server.

``tests/peers/smpp`` pins the package with a lock file (installed as tests/support/peers.py
says: without Node.js or the npm registry the test is skipped, or fails under
``PIGEON_TEST_REQUIRE_PEERS=1``).
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from pigeon.carriers.smpp import SmppConnector
from tests.carriers.test_smpp import Sink, outbound
from tests.support.peers import PEERS, node_modules

PEER = PEERS / "smpp"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_pigeon_talks_to_the_npm_smpp_server():
    modules = node_modules("smpp", "smpp")
    process = await asyncio.create_subprocess_exec(
        "node", str(PEER / "smsc.js"), "pigeon", "secret",
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "NODE_PATH": str(modules)})
    events: list[dict] = []

    async def next_event() -> dict:
        async with asyncio.timeout(10):
            line = await process.stdout.readline()
        assert line, "the node SMSC exited"
        event = json.loads(line)
        events.append(event)
        return event

    async def until(predicate) -> None:
        while not predicate():
            await next_event()

    chinese = ("【鸽子】" + "您的包裹已到达驿站请凭取件码取件" * 10)[:150]
    sink = Sink()
    try:
        listening = await next_event()
        connector = SmppConnector("node", "127.0.0.1", listening["port"], "pigeon", "secret",
                                  access_code="1069001")
        await connector.start(sink)
        try:
            assert await connector.wait_bound(10)
            results = await connector.submit([
                outbound(1, "Hello from Pigeon @ 5€", "gsm7"),
                outbound(2, chinese, "mainland"),
            ])
            receipts = await sink.wait_receipts(2, timeout=10)
            await until(lambda: any(e["event"] == "mo_resp" for e in events))
            await until(lambda: len([e for e in events if e["event"] == "deliver_sm_resp"]) >= 4)
        finally:
            await connector.stop()
        await until(lambda: any(e["event"] == "unbind" for e in events))
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()

    assert not [e for e in events if e["event"] == "error"]
    [bind] = [e for e in events if e["event"] == "bind"]
    assert (bind["system_id"], bind["password"], bind["interface_version"]) == (
        "pigeon", "secret", 0x34)
    submits = [e for e in events if e["event"] == "submit_sm"]
    assert len(submits) == 4
    gsm, *parts = submits
    assert (gsm["data_coding"], gsm["message"], gsm["udh"]) == (0, "Hello from Pigeon @ 5€", [])
    assert (gsm["destination_addr"], gsm["dest_addr_ton"], gsm["dest_addr_npi"]) == (
        "8613800138000", 1, 1)
    assert gsm["source_addr"] == "1069001" and gsm["registered_delivery"] == 1
    assert all(p["data_coding"] == 8 and p["esm_class"] & 0x40 for p in parts)
    reference = parts[0]["udh"][0][4:6]  # node lists the elements: IEI 00, length 03, ref…
    assert [p["udh"] for p in parts] == [[f"0003{reference}03{seq:02x}"] for seq in (1, 2, 3)]
    assert "".join(p["message"] for p in parts) == chinese

    assert [r.carrier_message_id for r in results] == [gsm["id"], parts[0]["id"]]
    assert sorted((r.carrier_message_id, r.delivered, r.err_code) for r in receipts) == [
        (gsm["id"], True, "DELIVERED"), (parts[0]["id"], True, "DELIVERED")]
    assert {e["command_status"] for e in events if e["event"].endswith("resp")} == {0}
    [mo] = sink.inbound_got
    assert (mo.phone, mo.dest_code, mo.content) == ("13800138000", "1234", "退订 STOP")
