"""The SMPP connector against a real SMSC on loopback (tests/support/smsc.py)."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pigeon.carriers.base import Inbound, Outbound, Receipt
from pigeon.carriers.smpp import SmppConnector
from tests.support.smsc import FakeSmsc
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Sink:
    def __init__(self) -> None:
        self.receipts_got: list[Receipt] = []
        self.inbound_got: list[Inbound] = []
        self.fail = False

    async def receipts(self, receipts: list[Receipt]) -> None:
        if self.fail:
            raise RuntimeError("database is down")
        self.receipts_got.extend(receipts)

    async def inbound(self, messages: list[Inbound]) -> None:
        if self.fail:
            raise RuntimeError("database is down")
        self.inbound_got.extend(messages)

    async def wait_receipts(self, count: int, **wait) -> list[Receipt]:
        """The receipts, once there are at least ``count``."""
        await eventually(lambda: len(self.receipts_got) >= count,
                         what=f"{count} receipt(s) at the sink", **wait)
        return self.receipts_got


def outbound(message_id: int = 1, content: str = "hello", encoding: str = "gsm7", *,
             phone: str = "13800138000", country_code: int = 86,
             sender: str = "1069001") -> Outbound:
    return Outbound(message_id=message_id, phone=phone, country_code=country_code,
                    carrier="mobile", sender=sender, content=content, encoding=encoding,
                    segments=1, signature_id=1, template_type=0)


@pytest.fixture
async def smsc():
    async with FakeSmsc() as server:
        yield server


@asynccontextmanager
async def running(smsc: FakeSmsc, sink: Sink | None = None, **options):
    options.setdefault("reconnect_delay", (0.02, 0.2))
    options.setdefault("bind_wait", 2.0)
    connector = SmppConnector("smsc-a", "127.0.0.1", smsc.port, "pigeon", "secret", **options)
    await connector.start(sink or Sink())
    try:
        assert await connector.wait_bound(5)
        yield connector
    finally:
        await connector.stop()


# -- binding and submitting --------------------------------------------------------------------


async def test_it_binds_as_a_transceiver_and_submits_with_a_receipt_asked(smsc):
    sink = Sink()
    async with running(smsc, sink, system_type="PIGEON") as connector:
        [submitted] = await connector.submit([outbound(7)])
        [receipt] = await sink.wait_receipts(1)

    [bind] = smsc.binds
    assert (bind.mode, bind.system_id, bind.password, bind.system_type,
            bind.interface_version) == ("transceiver", "pigeon", "secret", "PIGEON", 0x34)
    [pdu] = smsc.submits
    assert (pdu.source_addr, pdu.destination_addr) == ("1069001", "8613800138000")
    assert (pdu.dest_addr_ton, pdu.dest_addr_npi) == (1, 1)
    assert pdu.registered_delivery == 1 and pdu.esm_class == 0
    assert submitted.message_id == 7 and not submitted.retry and submitted.error is None
    assert submitted.carrier_message_id == pdu.message_id
    assert receipt == Receipt("smsc-a", pdu.message_id, True, "DELIVERED", receipt.done_at)


async def test_an_international_number_keeps_its_country_code(smsc):
    async with running(smsc) as connector:
        await connector.submit([outbound(phone="447700900123", country_code=44)])
    assert smsc.submits[0].destination_addr == "447700900123"


async def test_gsm7_text_goes_as_data_coding_0_one_septet_an_octet(smsc):
    async with running(smsc) as connector:
        await connector.submit([outbound(content="Hi @ {€} £", encoding="gsm7")])
    [pdu] = smsc.submits
    assert pdu.data_coding == 0
    assert pdu.short_message == b"Hi \x00 \x1b\x28\x1b\x65\x1b\x29 \x01"
    assert pdu.text == "Hi @ {€} £"


@pytest.mark.parametrize("encoding", ["ucs2", "mainland"])
async def test_other_text_goes_as_data_coding_8_ucs2_big_endian(smsc, encoding):
    async with running(smsc) as connector:
        await connector.submit([outbound(content="【鸽子】验证码 1234", encoding=encoding)])
    [pdu] = smsc.submits
    assert pdu.data_coding == 8
    assert pdu.short_message == "【鸽子】验证码 1234".encode("utf-16-be")


async def test_a_150_character_chinese_message_goes_in_three_udh_parts_with_one_status(smsc):
    text = ("【鸽子】" + "您的包裹已到达驿站请凭取件码取件" * 10)[:150]
    sink = Sink()
    async with running(smsc, sink) as connector:
        [submitted] = await connector.submit([outbound(1, text, "mainland")])
        await sink.wait_receipts(1)
        # The SMSC sent a receipt for each part; once all three are answered the sink has
        # everything it will ever get for them.
        await eventually(smsc.settled, what="the SMSC's receipts answered")
        assert smsc.deliver_sms_sent == 3

    parts = smsc.submits
    assert len(parts) == 3
    reference = parts[0].udh[3]
    assert [part.udh for part in parts] == [
        bytes([5, 0, 3, reference, 3, seq]) for seq in (1, 2, 3)]
    assert all(part.esm_class == 0x40 and part.data_coding == 8 for part in parts)
    assert all(len(part.short_message) <= 140 for part in parts)
    assert "".join(part.text for part in parts) == text
    assert submitted.carrier_message_id == parts[0].message_id
    assert sink.receipts_got == [
        Receipt("smsc-a", parts[0].message_id, True, "DELIVERED", sink.receipts_got[0].done_at)]


async def test_a_long_gsm7_message_goes_in_parts_of_153_septets(smsc):
    text = "x" * 200
    async with running(smsc) as connector:
        await connector.submit([outbound(1, text, "gsm7")])
    assert [len(part.payload) for part in smsc.submits] == [153, 47]
    assert all(part.data_coding == 0 and part.esm_class == 0x40 for part in smsc.submits)


async def test_a_multipart_message_fails_when_one_part_fails(smsc):
    smsc.receipt_delay = 0.05
    sink = Sink()
    text = "中" * 140  # three parts
    async with running(smsc, sink) as connector:
        smsc.outcomes["8613800138001"] = ("UNDELIV", "MK:0001")
        [good, bad] = await connector.submit([outbound(1, text, "mainland"),
                                              outbound(2, text, "mainland",
                                                       phone="13800138001")])
        await sink.wait_receipts(2)
        await eventually(smsc.settled, what="the SMSC's receipts answered")  # all six parts'
        assert smsc.deliver_sms_sent == 6
    by_id = {r.carrier_message_id: r for r in sink.receipts_got}
    assert len(sink.receipts_got) == 2
    assert by_id[good.carrier_message_id].delivered
    failed = by_id[bad.carrier_message_id]
    assert (failed.delivered, failed.err_code) == (False, "MK:0001")
    assert failed.err_message == "stat:UNDELIV err:MK:0001"


# -- window and throughput ---------------------------------------------------------------------


async def test_the_window_is_never_exceeded_on_any_bind(smsc):
    smsc.answer_delay = 0.02
    async with running(smsc, window=4, binds=2) as connector:
        results = await connector.submit([outbound(i) for i in range(60)])
    assert all(r.carrier_message_id for r in results)
    assert smsc.max_outstanding == 4
    assert len({submit.session for submit in smsc.submits}) == 2


async def test_the_throughput_cap_holds(smsc):
    async with running(smsc, tps=100) as connector:
        started = time.monotonic()
        results = await connector.submit([outbound(i) for i in range(50)])
        elapsed = time.monotonic() - started
    assert all(r.carrier_message_id for r in results)
    # A burst of 10 (a tenth of a second) and then one every 10 ms: 40 × 10 ms at least.  A
    # lower bound only: a loaded machine makes it slower, never faster.
    assert elapsed >= 0.38


async def test_state_reports_binds_window_and_throughput(smsc):
    async with running(smsc, binds=2, window=7, tps=1000) as connector:
        await connector.submit([outbound(i) for i in range(20)])
        state = connector.state()
    assert state["bound"] == 2 and state["window"] == 7 and state["tps"] == 1000
    assert state["accepted"] == 20 and state["queue"] == 0 and state["outstanding"] == 0
    assert [b["mode"] for b in state["binds"]] == ["transceiver", "transceiver"]


# -- receipts ----------------------------------------------------------------------------------


async def test_a_receipt_before_its_submit_sm_resp_is_matched(smsc):
    smsc.receipt_before_resp = True
    sink = Sink()
    async with running(smsc, sink) as connector:
        results = await connector.submit([outbound(i) for i in range(5)])
        receipts = await sink.wait_receipts(5)
        assert connector.state()["early_receipts"] == 0
    assert sorted(r.carrier_message_id for r in receipts) == sorted(
        r.carrier_message_id for r in results)
    assert all(r.delivered for r in receipts)
    assert set(smsc.deliver_sm_resps.values()) == {0}


async def test_a_receipt_in_tlvs_only_is_read(smsc):
    smsc.receipt_delay = 0.01
    sink = Sink()
    async with running(smsc, sink) as connector:
        smsc.outcomes["8613800138000"] = ("EXPIRED", "")
        [submitted] = await connector.submit([outbound()])
        [receipt] = await sink.wait_receipts(1)
    assert receipt.carrier_message_id == submitted.carrier_message_id
    assert (receipt.delivered, receipt.err_code) == (False, "EXPIRED")


async def test_a_second_receipt_for_a_finished_message_is_answered_and_dropped(smsc):
    sink = Sink()
    async with running(smsc, sink, response_timeout=0.2) as connector:
        await connector.submit([outbound()])
        await sink.wait_receipts(1)
        smsc.send_receipt(smsc.submits[0], now=True)
        # The barrier: the second receipt is answered once the connector is done with it.
        # Held as an early receipt it would be answered only after the response timeout and a
        # second, and then passed on.
        await eventually(lambda: len(smsc.deliver_sm_resps) == 2)
        assert connector.state()["early_receipts"] == 0
    assert len(sink.receipts_got) == 1
    assert set(smsc.deliver_sm_resps.values()) == {0}


async def test_a_receipt_for_an_unknown_message_is_passed_on_under_its_id(smsc):
    smsc.receipt_delay = None  # no receipts but the one sent by hand below
    sink = Sink()
    async with running(smsc, sink, response_timeout=0.2) as connector:
        await connector.submit([outbound()])
        # A receipt for a message this process never sent, as after a restart: it waits for a
        # submit_sm_resp that might still come, then goes on unmatched.
        smsc.send_receipt(replace(smsc.submits[0], message_id="OLD-1"), now=True)
        started = time.monotonic()
        await sink.wait_receipts(1)
        waited = time.monotonic() - started
    [receipt] = sink.receipts_got
    assert (receipt.carrier_message_id, receipt.delivered) == ("OLD-1", True)
    assert waited >= 0.9  # response_timeout + 1 s: a lower bound, which load cannot break


async def test_a_failing_sink_makes_the_smsc_deliver_again(smsc):
    sink = Sink()
    sink.fail = True
    async with running(smsc, sink) as connector:
        await connector.submit([outbound()])
        await eventually(lambda: smsc.deliver_sm_resps)
    assert list(smsc.deliver_sm_resps.values()) == [0x64]


# -- refusals and faults -----------------------------------------------------------------------


async def test_throttling_answers_mean_retry_and_slow_down(smsc):
    smsc.throttle_every = 2
    async with running(smsc) as connector:
        started = time.monotonic()
        results = await connector.submit([outbound(i) for i in range(6)])
        # Paused during the call (whether the pause is over by now depends on the machine).
        paused = connector._bucket.paused_until > started
    throttled = [r for r in results if r.retry]
    assert len(throttled) == 3 and all(r.carrier_message_id is None for r in throttled)
    assert all("ESME_RTHROTTLED" in r.error_message for r in throttled)
    assert len([r for r in results if r.carrier_message_id]) == 3
    assert paused


async def test_a_full_queue_at_the_smsc_means_retry(smsc):
    smsc.statuses["8613800138000"] = 0x14
    async with running(smsc) as connector:
        [result] = await connector.submit([outbound()])
    assert result.retry and "ESME_RMSGQFUL" in result.error_message


async def test_a_throttled_part_of_a_long_message_is_sent_again_not_the_whole(smsc):
    smsc.throttle_every = 2
    async with running(smsc) as connector:
        [result] = await connector.submit([outbound(1, "中" * 140, "mainland")])
    assert result.carrier_message_id
    # Every second submit_sm is throttled: parts 1 and 3 pass, part 2 needs a third try.
    sent = [(part.udh[5], part.message_id is not None) for part in smsc.submits]
    assert sent == [(1, True), (2, False), (3, True), (2, False), (2, True)]


@pytest.mark.parametrize(("status", "code"), [
    (0x0B, "INVALID_NUMBER"),
    (0x45, "SMPP:0x00000045"),
    (0x0A, "SMPP:0x0000000A"),
])
async def test_a_permanent_refusal_fails_the_message_with_a_mapped_code(smsc, status, code):
    smsc.statuses["8613800138000"] = status
    async with running(smsc) as connector:
        [result] = await connector.submit([outbound()])
    assert (result.error, result.retry, result.carrier_message_id) == (code, False, None)
    assert f"0x{status:08X}" in result.error_message


async def test_a_drop_mid_window_reconnects_and_loses_no_message(smsc):
    smsc.drop_after = 25
    smsc.answer_delay = 0.005
    sink = Sink()
    async with running(smsc, sink, window=10) as connector:
        results = await connector.submit([outbound(i) for i in range(100)])
        accepted = {r.message_id: r.carrier_message_id for r in results if r.carrier_message_id}
        retry = [r for r in results if r.retry]
        assert len(accepted) + len(retry) == 100
        assert retry, "the drop must have caught some messages outstanding"
        assert all("no submit_sm_resp" in r.error_message or "no bind" in r.error_message
                   for r in retry)
        await connector.wait_bound(5)
        again = await connector.submit([outbound(r.message_id) for r in retry])
        assert all(r.carrier_message_id for r in again)
        await sink.wait_receipts(100)
    assert len(smsc.binds) == 2
    ids = {r.carrier_message_id for r in sink.receipts_got}
    assert set(accepted.values()) | {r.carrier_message_id for r in again} == ids
    # Whatever was answered was answered once: no message id was handed out twice.
    given = [s.message_id for s in smsc.submits if s.message_id]
    assert len(given) == len(set(given)) == 100


async def test_a_silent_smsc_means_retry_after_the_response_timeout(smsc):
    smsc.silent = True
    async with running(smsc, response_timeout=0.3) as connector:
        started = time.monotonic()
        results = await connector.submit([outbound(i) for i in range(3)])
        waited = time.monotonic() - started
        assert all(r.retry and "no submit_sm_resp" in r.error_message for r in results)
        assert waited >= 0.25  # the response timeout was waited for
        smsc.silent = False
        await eventually(lambda: len(smsc.binds) == 2 and connector.state()["bound"] == 1)
        [result] = await connector.submit([outbound(9)])
    assert result.carrier_message_id


async def test_a_late_answer_within_the_timeout_is_an_answer(smsc):
    smsc.answer_delay = 0.2
    async with running(smsc, response_timeout=2) as connector:
        [result] = await connector.submit([outbound()])
    assert result.carrier_message_id


async def test_with_no_bind_up_messages_come_back_for_retry_at_once(smsc):
    smsc.bind_status = 0x0D
    connector = SmppConnector("smsc-a", "127.0.0.1", smsc.port, "pigeon", "secret",
                              bind_wait=1.0, reconnect_delay=(0.05, 0.1))
    await connector.start(Sink())
    try:
        await eventually(lambda: connector.state()["binds"][0]["last_error"])
        started = time.monotonic()
        results = await connector.submit([outbound(i) for i in range(20)])
        # One bind_wait for the batch (1 s), not one each (20 s): a deadline far from both.
        assert time.monotonic() - started < 10
        assert all(r.retry and r.error_message == "no bind is up" for r in results)
        assert "ESME_RBINDFAIL" in connector.state()["binds"][0]["last_error"]
        smsc.bind_status = 0
        assert await connector.wait_bound(3)
        [result] = await connector.submit([outbound()])
        assert result.carrier_message_id
    finally:
        await connector.stop()
    assert smsc.submits[0].message_id == result.carrier_message_id


async def test_a_malformed_pdu_closes_the_bind_and_it_comes_back(smsc):
    async with running(smsc) as connector:
        smsc.send_garbage()
        await eventually(lambda: len(smsc.binds) == 2 and connector.state()["bound"] == 1)
        [result] = await connector.submit([outbound()])
    assert result.carrier_message_id


async def test_garbage_instead_of_a_submit_sm_resp_means_retry(smsc):
    smsc.garbage_after = 1
    async with running(smsc) as connector:
        [result] = await connector.submit([outbound()])
        assert result.retry
        await eventually(lambda: connector.state()["bound"] == 1 and len(smsc.binds) == 2)


async def test_a_transmitter_and_a_receiver_can_replace_the_transceiver(smsc):
    sink = Sink()
    async with running(smsc, sink, bind_mode="transmitter+receiver") as connector:
        [result] = await connector.submit([outbound()])
        [receipt] = await sink.wait_receipts(1)
    assert sorted(b.mode for b in smsc.binds) == ["receiver", "transmitter"]
    assert receipt.carrier_message_id == result.carrier_message_id


async def test_stop_unbinds(smsc):
    async with running(smsc, binds=2):
        assert len(smsc.sessions) == 2
    await eventually(lambda: not smsc.sessions)


# -- keep-alive and MO -------------------------------------------------------------------------


async def test_enquire_link_is_sent_when_idle_and_answered_when_asked(smsc):
    async with running(smsc, enquire_link_interval=0.1):
        await eventually(lambda: smsc.enquire_links_received >= 2)
        assert await smsc.enquire_link() == [0]


async def test_an_mo_message_reaches_the_sink(smsc):
    sink = Sink()
    async with running(smsc, sink, access_code="1069001"):
        status = await smsc.inject_mo("8613800138000", "10690011234", "退订 TD")
        await eventually(lambda: sink.inbound_got)
    assert status == 0
    [message] = sink.inbound_got
    assert (message.connector, message.phone, message.dest_code, message.content) == (
        "smsc-a", "13800138000", "1234", "退订 TD")


async def test_an_mo_to_another_address_keeps_the_whole_address(smsc):
    sink = Sink()
    async with running(smsc, sink, access_code="1069001"):
        await smsc.inject_mo("447700900123", "5566", "STOP")
        await eventually(lambda: sink.inbound_got)
    assert (sink.inbound_got[0].phone, sink.inbound_got[0].dest_code) == ("447700900123", "5566")


async def test_a_concatenated_mo_is_joined(smsc):
    from tests.support.smsc import DELIVER_SM, deliver_sm_body

    sink = Sink()
    async with running(smsc, sink):
        [session] = smsc.receivers()
        for seq, text in ((2, "world"), (1, "hello ")):
            body = deliver_sm_body(source="8613800138000", destination="1069001",
                                   esm_class=0x40, data_coding=0,
                                   message=bytes([5, 0, 3, 9, 2, seq]) + text.encode())
            session.request(DELIVER_SM, body)
        await eventually(lambda: sink.inbound_got)
        await eventually(lambda: len(smsc.deliver_sm_resps) == 2)
    assert [m.content for m in sink.inbound_got] == ["hello world"]


# -- a session fed garbage ---------------------------------------------------------------------


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=64))
def test_a_session_fed_garbage_closes_cleanly_or_carries_on(garbage):
    async def scenario():
        loop = asyncio.get_running_loop()
        errors = []
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        async with FakeSmsc() as smsc, running(smsc, response_timeout=0.5) as connector:
            smsc.send_garbage(garbage)
            # Whatever the garbage did, the connector is bound again soon and submits.  The
            # submit is the barrier: its answer follows the garbage on the wire, so once it is
            # settled the connector has read the garbage (or dropped that bind over it).
            await eventually(lambda: connector.state()["bound"] == 1)
            [result] = await connector.submit([outbound()])
            assert result.carrier_message_id or result.retry
        assert errors == []

    async def bounded():
        async with asyncio.timeout(20):
            await scenario()

    asyncio.run(bounded())
