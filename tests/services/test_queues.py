"""The receipt queues below the MNS endpoint: names, the queue form of each report, claims that
never hand a message out twice at once, stale handles, retention and token housekeeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pigeon.core.errors import MnsError
from pigeon.services import queues
from pigeon.store.tables import queue_messages, queue_tokens

NOW = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


# -- pure ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "parsed"), [
    ("Alicom-Queue-1650578505207239-SmsReport", (1650578505207239, "SmsReport")),
    ("Alicom-Queue-1650578505207239-TemplateSmsReport", (1650578505207239, "TemplateSmsReport")),
    ("Alicom-Queue-1650578505207239-VoiceReport", None),
    ("Alicom-Queue--SmsReport", None),
    ("alicom-queue-1650578505207239-SmsReport", None),
    ("Alicom-Queue-1650578505207239-SmsReport-x", None),
])
def test_queue_names_are_parsed_for_the_four_message_types_only(name, parsed):
    assert queues.parse_queue_name(name) == parsed
    if parsed:
        assert queues.queue_name(*parsed) == name


@pytest.mark.parametrize(("report_type", "pushed", "queued"), [
    ("SignSmsReport", {"sign_name": "云雀", "orderId": "20"}, {"sign_name": "云雀", "order_id": "20"}),
    ("TemplateSmsReport", {"template_code": "SMS_1", "orderId": "21"},
     {"template_code": "SMS_1", "order_id": "21"}),
    ("SmsUp", {"content": "好", "sequence_id": "77"}, {"content": "好", "sequence_id": 77}),
    ("SmsUp", {"content": "好", "sequence_id": 77}, {"content": "好", "sequence_id": 77}),
    ("SmsReport", {"sms_size": "2", "orderId": "x"}, {"sms_size": "2", "orderId": "x"}),
])
def test_the_queue_form_of_a_report(report_type, pushed, queued):
    assert queues.queue_payload(report_type, pushed) == queued
    assert queues.queue_payload(report_type, pushed) is not pushed


def test_the_body_is_compact_utf8_json():
    assert queues.queue_body("SmsUp", {"content": "退订", "sequence_id": "1"}) \
        == '{"content":"退订","sequence_id":1}'


# -- with the database -----------------------------------------------------------------------------

@pytest.fixture
def queue(pigeon, tenant) -> str:
    return queues.queue_name(tenant.account_id, "SmsReport")


def put(pigeon, tenant, n: int = 1, now: datetime = NOW) -> None:
    for i in range(n):
        pigeon.db.write_sync(queues.enqueue, tenant.account_id, "SmsReport", {"biz_id": str(i)},
                             now)


def test_a_visible_message_is_claimed_once(pigeon, tenant, queue):
    put(pigeon, tenant)
    first = pigeon.db.write_sync(queues.receive, queue, 16, NOW)
    second = pigeon.db.write_sync(queues.receive, queue, 16, NOW)

    assert [m["dequeue_count"] for m in first] == [1] and second == []
    assert first[0]["visible_at"] == NOW + queues.VISIBILITY_TIMEOUT
    assert queues.is_receipt_handle(first[0]["receipt_handle"])


class _RivalAfterSelect:
    """A connection on which another consumer claims the queue right after ``receive`` has read
    its candidates and before it updates them: the race the conditional UPDATE settles."""

    def __init__(self, conn, queue: str) -> None:
        self.conn, self.queue, self.rival = conn, queue, None

    def execute(self, statement, *args, **kwargs):
        result = self.conn.execute(statement, *args, **kwargs)
        if self.rival is None:
            candidates = result.all()
            self.rival = queues.receive(self.conn, self.queue, 16, NOW)
            return _Rows(candidates)
        return result


class _Rows:
    def __init__(self, rows) -> None:
        self.rows = rows

    def all(self):
        return self.rows


def test_a_claim_loses_to_a_concurrent_one_that_got_there_first(pigeon, tenant, queue):
    put(pigeon, tenant, 2)

    def race(conn):
        racing = _RivalAfterSelect(conn, queue)
        return queues.receive(racing, queue, 16, NOW), racing.rival

    loser, winner = pigeon.db.write_sync(race)

    assert loser == [] and [m["dequeue_count"] for m in winner] == [1, 1]


def test_a_stale_or_foreign_handle_deletes_nothing(pigeon, tenant, queue):
    put(pigeon, tenant)
    [message] = pigeon.db.write_sync(queues.receive, queue, 1, NOW)
    handle = message["receipt_handle"]
    later = NOW + queues.VISIBILITY_TIMEOUT

    assert pigeon.db.write_sync(queues.delete_messages, queue, [handle, "nope"], later) == [
        (handle, "MessageNotExist"), ("nope", "ReceiptHandleError")]
    other = queues.queue_name(tenant.account_id, "SmsUp")
    assert pigeon.db.write_sync(queues.delete_messages, other, [handle], NOW) == [
        (handle, "MessageNotExist")]
    with pytest.raises(MnsError) as raised:
        pigeon.db.write_sync(queues.change_visibility, queue, handle, timedelta(seconds=5), later)
    assert raised.value.code == "MessageNotExist"
    assert pigeon.db.write_sync(queues.delete_messages, queue, [handle], NOW) == []


def test_messages_past_retention_are_not_received_and_are_purged(pigeon, tenant, queue):
    put(pigeon, tenant, now=NOW)
    later = NOW + queues.RETENTION + timedelta(seconds=1)

    assert pigeon.db.write_sync(queues.receive, queue, 16, later) == []
    assert pigeon.db.read_sync(queues.ready_count, queue, later) == 0
    put(pigeon, tenant, now=later)  # the next enqueue sweeps the old one away
    count = pigeon.db.read_sync(lambda conn: conn.scalar(
        select(func.count()).select_from(queue_messages)))
    assert count == 1


def test_tokens_long_expired_are_swept_when_new_ones_are_issued(pigeon, tenant):
    old = pigeon.db.write_sync(queues.issue_token, pigeon.box, tenant.account_id, "SmsUp", NOW)
    later = NOW + queues.TOKEN_LIFETIME + queues.EXPIRED_TOKENS_KEPT + timedelta(seconds=1)
    new = pigeon.db.write_sync(queues.issue_token, pigeon.box, tenant.account_id, "SmsUp", later)

    assert pigeon.db.read_sync(queues.find_token, pigeon.box, old["access_key_id"]) is None
    found = pigeon.db.read_sync(queues.find_token, pigeon.box, new["access_key_id"])
    assert found.secret == new["secret"] and found.has_security_token(new["security_token"])
    assert not found.has_security_token(old["security_token"])
    assert found.queue == queues.queue_name(tenant.account_id, "SmsUp")
    assert new["security_token"] not in repr(found) and new["secret"] not in repr(found)
    stored = pigeon.db.read_sync(lambda conn: conn.scalar(select(func.count())
                                                          .select_from(queue_tokens)))
    assert stored == 1
