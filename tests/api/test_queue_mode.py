"""Queue mode end to end, with the official clients unchanged: the Dybaseapi SDK gets temporary
credentials (QueryTokenForMnsQueue), the MNS client (``aliyun-mns-sdk``) pointed at Pigeon
receives the reports ``queues.enqueue`` put into the tenant's queue, decodes them and deletes
them.  Then visibility timeouts, long polling, and everything a consumer can get wrong,
answered as MNS answers it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from xml.etree import ElementTree

import httpx
import pytest
import time_machine
from alibabacloud_dybaseapi20170525 import models as dybase
from alibabacloud_dybaseapi20170525.client import Client as DybaseClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from mns.account import Account
from mns.mns_exception import MNSServerException
from sqlalchemy import select

from pigeon.api import mns
from pigeon.services import queues
from pigeon.store.tables import queue_tokens
from tests.support.waiting import wait_until

SMS_REPORT = {
    "phone_number": "13800138000", "send_time": "2026-05-01 10:00:00",
    "report_time": "2026-05-01 10:00:05", "success": True, "err_code": "DELIVERED",
    "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "123456^0", "out_id": "order-1",
}
SMS_UP = {
    "phone_number": "13800138000", "content": "退订", "send_time": "2026-05-01 10:01:00",
    "dest_code": "1234", "sequence_id": "42", "sign_name": "云雀科技",
}


# -- the clients, configured as a consumer points them at Pigeon --------------------------------

def dybase_client(server, tenant) -> DybaseClient:
    """``alibabacloud-dybaseapi20170525``, pointed at Pigeon like the Dysmsapi SDK."""
    return DybaseClient(open_api_models.Config(access_key_id=tenant.key_id,
                                               access_key_secret=tenant.secret,
                                               endpoint=server.endpoint, protocol="http"))


def get_token(server, tenant, message_type: str = "SmsReport", queue_name: str | None = None):
    request = dybase.QueryTokenForMnsQueueRequest(message_type=message_type,
                                                  queue_name=queue_name)
    body = dybase_client(server, tenant).query_token_for_mns_queue(request).body
    assert body.code == "OK", body.message
    return body.message_token_dto


_ACCOUNTS: list[Account] = []


def mns_account(server, key_id: str, secret: str, security_token: str) -> Account:
    """``aliyun-mns-sdk``'s Account, Pigeon as the endpoint; its connection is closed after
    the test (the SDK never closes it: a socket left to the garbage collector warns whenever
    the collector runs, in whatever test runs then)."""
    account = Account(server.url, key_id, secret, security_token)
    _ACCOUNTS.append(account)
    return account


@pytest.fixture(autouse=True)
def _close_mns_connections():
    yield
    while _ACCOUNTS:
        _ACCOUNTS.pop().mns_client.close_connection()


def mns_queue(server, token, name: str):
    """``aliyun-mns-sdk``'s Queue with the temporary credentials, Pigeon as the endpoint."""
    account = mns_account(server, token.access_key_id, token.access_key_secret,
                          token.security_token)
    return account.get_queue(name)


def queue_of(server, tenant, message_type: str = "SmsReport"):
    token = get_token(server, tenant, message_type)
    return mns_queue(server, token, queues.queue_name(tenant.account_id, message_type))


def enqueue(pigeon, tenant, report_type: str, payload: dict) -> None:
    pigeon.db.write_sync(queues.enqueue, tenant.account_id, report_type, payload, pigeon.now())


def mns_error(call) -> MNSServerException:
    with pytest.raises(MNSServerException) as raised:
        call()
    return raised.value


def travel(seconds: float):
    return time_machine.travel(datetime.now(UTC) + timedelta(seconds=seconds))


# -- QueryTokenForMnsQueue -------------------------------------------------------------------------

def test_the_official_sdk_gets_temporary_credentials(pigeon, server, tenant):
    before = datetime.now(pigeon.settings.timezone).replace(tzinfo=None, microsecond=0)
    token = get_token(server, tenant, "SmsReport",
                      queue_name=f"Alicom-Queue-{tenant.account_id}-SmsReport")

    assert token.access_key_id.startswith("STS.")
    for value in (token.access_key_id, token.access_key_secret, token.security_token,
                  token.create_time, token.expire_time):
        assert isinstance(value, str) and value
    created = datetime.strptime(token.create_time, "%Y-%m-%d %H:%M:%S")
    expires = datetime.strptime(token.expire_time, "%Y-%m-%d %H:%M:%S")
    assert created - before < timedelta(seconds=5)
    assert expires - created == timedelta(hours=1)

    row = pigeon.db.read_sync(lambda conn: conn.execute(select(queue_tokens).where(
        queue_tokens.c.access_key_id == token.access_key_id)).mappings().one())
    assert row["account_id"] == tenant.account_id and row["message_type"] == "SmsReport"
    assert token.access_key_secret not in row["secret"]  # encrypted
    assert pigeon.box.decrypt(row["secret"]) == token.access_key_secret
    assert row["security_token"] != token.security_token  # only its digest is kept


@pytest.mark.parametrize(("message_type", "queue_name", "code"), [
    (None, None, "MissingMessageType"),
    ("VoiceReport", None, "InvalidMessageType"),
    ("SmsReport", "Alicom-Queue-1000000000000000-SmsReport", "InvalidQueueName"),
    ("SmsReport", "Alicom-Queue-{own}-SmsUp", "InvalidQueueName"),
])
def test_a_token_is_refused_for_a_bad_type_or_a_queue_not_ones_own(server, tenant, message_type,
                                                                   queue_name, code):
    if queue_name:
        queue_name = queue_name.format(own=tenant.account_id)
    request = dybase.QueryTokenForMnsQueueRequest(message_type=message_type,
                                                  queue_name=queue_name)
    with pytest.raises(ClientException) as raised:
        dybase_client(server, tenant).query_token_for_mns_queue(request)
    assert raised.value.code == code


# -- consuming with the official MNS client --------------------------------------------------------

def test_the_official_mns_client_receives_and_deletes_sms_reports(pigeon, server, tenant):
    reports = [{**SMS_REPORT, "biz_id": f"{n}^0"} for n in range(3)]
    for report in reports:
        enqueue(pigeon, tenant, "SmsReport", report)
    queue = queue_of(server, tenant)

    messages = queue.batch_receive_message(16, 1)

    # The client has already Base64-decoded the bodies: JSON, one report each, in order.
    assert [json.loads(m.message_body) for m in messages] == reports
    assert all(m.dequeue_count == 1 for m in messages)
    assert len({m.receipt_handle for m in messages}) == 3
    queue.batch_delete_message([m.receipt_handle for m in messages])
    assert mns_error(lambda: queue.receive_message()).type == "MessageNotExist"


def test_the_bodies_are_base64_json_as_the_consumer_demos_decode_them(pigeon, server, tenant):
    enqueue(pigeon, tenant, "SmsReport", SMS_REPORT)
    queue = queue_of(server, tenant)
    queue.set_encoding(False)  # the raw MessageBody, as the C# and Java demos see it

    message = queue.receive_message()

    assert json.loads(base64.b64decode(message.message_body)) == SMS_REPORT
    assert message.message_body_md5 == hashlib.md5(
        message.message_body.encode()).hexdigest().upper()
    queue.delete_message(message.receipt_handle)


def test_the_official_mns_client_receives_and_deletes_sms_up(pigeon, server, tenant):
    enqueue(pigeon, tenant, "SmsUp", SMS_UP)
    queue = queue_of(server, tenant, "SmsUp")

    message = queue.receive_message(1)

    assert json.loads(message.message_body) == {**SMS_UP, "sequence_id": 42}
    queue.delete_message(message.receipt_handle)
    assert mns_error(lambda: queue.receive_message()).type == "MessageNotExist"


@pytest.mark.parametrize("report_type", ["SignSmsReport", "TemplateSmsReport"])
def test_review_reports_carry_order_id_in_snake_case(pigeon, server, tenant, report_type):
    pushed = {"sign_name": "云雀科技", "sign_status": "approved", "reason": "", "orderId": "2001",
              "remark": "r", "sign_source": "0", "sign_scene": "", "create_date": "2026-05-01"}
    enqueue(pigeon, tenant, report_type, pushed)

    message = queue_of(server, tenant, report_type).receive_message()

    body = json.loads(message.message_body)
    assert body["order_id"] == "2001" and "orderId" not in body


def test_a_message_not_deleted_comes_back_after_the_visibility_timeout(pigeon, server, tenant):
    enqueue(pigeon, tenant, "SmsReport", SMS_REPORT)
    queue = queue_of(server, tenant)
    first = queue.receive_message()
    assert first.next_visible_time - first.enqueue_time >= 29_000
    assert mns_error(lambda: queue.receive_message()).type == "MessageNotExist"

    with travel(31):
        again = queue.receive_message()
        assert json.loads(again.message_body) == SMS_REPORT
        assert again.message_id == first.message_id
        assert again.dequeue_count == 2 and again.first_dequeue_time == first.first_dequeue_time
        assert again.receipt_handle != first.receipt_handle
        # The first handle went stale with the timeout.
        assert mns_error(lambda: queue.delete_message(first.receipt_handle)).type \
            == "MessageNotExist"
        queue.delete_message(again.receipt_handle)

    with travel(3600 - 120):  # within the token's hour
        assert mns_error(lambda: queue.receive_message()).type == "MessageNotExist"


def test_a_deleted_message_never_comes_back(pigeon, server, tenant):
    enqueue(pigeon, tenant, "SmsReport", SMS_REPORT)
    queue = queue_of(server, tenant)
    message = queue.receive_message()
    queue.delete_message(message.receipt_handle)

    assert mns_error(lambda: queue.delete_message(message.receipt_handle)).type \
        == "MessageNotExist"
    with travel(31):
        assert mns_error(lambda: queue.receive_message()).type == "MessageNotExist"


def test_change_message_visibility_postpones_the_return(pigeon, server, tenant):
    enqueue(pigeon, tenant, "SmsReport", SMS_REPORT)
    queue = queue_of(server, tenant)
    received = queue.receive_message()

    changed = queue.change_message_visibility(received.receipt_handle, 120)

    assert changed.receipt_handle != received.receipt_handle
    assert mns_error(lambda: queue.delete_message(received.receipt_handle)).type \
        == "MessageNotExist"
    with travel(61):
        assert mns_error(lambda: queue.receive_message()).type == "MessageNotExist"
    with travel(121):
        assert queue.receive_message().dequeue_count == 2


def test_a_batch_delete_reports_the_handles_that_failed_and_deletes_the_rest(pigeon, server,
                                                                             tenant):
    for n in range(2):
        enqueue(pigeon, tenant, "SmsReport", {**SMS_REPORT, "biz_id": str(n)})
    queue = queue_of(server, tenant)
    handles = [m.receipt_handle for m in queue.batch_receive_message(16)]
    queue.delete_message(handles[0])

    error = mns_error(lambda: queue.batch_delete_message([*handles, "not-a-handle"]))

    assert error.type == "MessageNotExist"
    assert [(e["ReceiptHandle"], e["ErrorCode"]) for e in error.sub_errors] == [
        (handles[0], "MessageNotExist"), ("not-a-handle", "ReceiptHandleError")]
    with travel(31):  # the good handle was deleted
        assert mns_error(lambda: queue.receive_message()).type == "MessageNotExist"


def test_a_batch_receive_takes_at_most_the_number_asked(pigeon, server, tenant):
    for n in range(20):
        enqueue(pigeon, tenant, "SmsReport", {**SMS_REPORT, "biz_id": str(n)})
    queue = queue_of(server, tenant)

    first = queue.batch_receive_message(16)
    second = queue.batch_receive_message(16)

    assert [json.loads(m.message_body)["biz_id"] for m in first + second] == \
        [str(n) for n in range(20)]
    assert len(first) == 16
    assert mns_error(lambda: queue.batch_receive_message(17)).type == "InvalidArgument"


def test_two_consumers_never_hold_the_same_message(pigeon, server, tenant):
    for n in range(40):
        enqueue(pigeon, tenant, "SmsReport", {**SMS_REPORT, "biz_id": str(n)})
    token = get_token(server, tenant)
    name = queues.queue_name(tenant.account_id, "SmsReport")
    got: list[list[str]] = [[], [], [], []]

    def consume(into: list[str]) -> None:
        queue = mns_queue(server, token, name)  # one connection per consumer
        while True:
            try:
                batch = queue.batch_receive_message(3)
            except MNSServerException as exc:
                if exc.type == "MessageNotExist":
                    return  # the queue is drained
                raise
            into.extend(json.loads(m.message_body)["biz_id"] for m in batch)

    with ThreadPoolExecutor(len(got)) as pool:
        consumers = [pool.submit(consume, into) for into in got]
        for done in consumers:
            done.result(timeout=60)  # a consumer's exception fails the test here

    everything = [biz_id for into in got for biz_id in into]
    assert sorted(everything, key=int) == [str(n) for n in range(40)]


def test_the_queue_attributes_count_active_and_inactive_messages(pigeon, server, tenant):
    for _ in range(3):
        enqueue(pigeon, tenant, "SmsReport", SMS_REPORT)
    queue = queue_of(server, tenant)
    queue.receive_message()

    meta = queue.get_attributes()

    assert (meta.active_messages, meta.inactive_messages) == (2, 1)
    assert meta.queue_name == queues.queue_name(tenant.account_id, "SmsReport")
    assert meta.visibility_timeout == 30


# -- long polling ----------------------------------------------------------------------------------

def test_a_long_poll_returns_as_soon_as_a_message_is_enqueued(pigeon, server, tenant,
                                                               monkeypatch):
    # The poll's own next look comes only at the end of its 30 s wait: an answer well before
    # that (20 s is generous: a ring answers within milliseconds) can only be the ring's.
    monkeypatch.setattr(mns, "POLL_SECONDS", 60.0)
    queue = queue_of(server, tenant)
    name = queues.queue_name(tenant.account_id, "SmsReport")

    with ThreadPoolExecutor(1) as pool:
        polling = pool.submit(queue.receive_message, mns.MAX_WAIT_SECONDS)
        wait_until(lambda: queues.DOORBELL.listeners(name), what="the long poll to listen")
        enqueue(pigeon, tenant, "SmsReport", SMS_REPORT)
        message = polling.result(timeout=20)

    assert json.loads(message.message_body) == SMS_REPORT


def test_a_long_poll_sees_a_message_whose_visibility_timeout_ran_out(pigeon, server, tenant):
    enqueue(pigeon, tenant, "SmsReport", SMS_REPORT)
    queue = queue_of(server, tenant)
    received = queue.receive_message()
    queue.change_message_visibility(received.receipt_handle, 1)  # no enqueue rings for this

    again = queue.batch_receive_message(16, 5)

    assert [m.message_id for m in again] == [received.message_id]


def test_a_long_poll_on_an_empty_queue_waits_then_answers_message_not_exist(server, tenant):
    queue = queue_of(server, tenant)
    started = time.monotonic()

    assert mns_error(lambda: queue.batch_receive_message(16, 1)).type == "MessageNotExist"
    # It waited its second; the upper bound only catches a poll that ignores its wait.
    assert 0.9 < time.monotonic() - started < 20
    assert mns_error(lambda: queue.receive_message(31)).type == "InvalidArgument"


# -- credentials -----------------------------------------------------------------------------------

def test_a_token_cannot_open_another_tenants_queue(pigeon, server, tenant, other_tenant):
    enqueue(pigeon, tenant, "SmsReport", SMS_REPORT)
    stranger = get_token(server, other_tenant)

    theirs = mns_error(lambda: mns_queue(
        server, stranger, queues.queue_name(tenant.account_id, "SmsReport")).receive_message())
    nothing = mns_error(lambda: mns_queue(
        server, stranger, "Alicom-Queue-1000000000000000-SmsReport").receive_message())

    assert theirs.type == nothing.type == "AccessDenied"
    assert theirs.message == nothing.message
    assert json.loads(queue_of(server, tenant).receive_message().message_body) == SMS_REPORT


def test_a_token_opens_only_the_queue_of_its_message_type(pigeon, server, tenant):
    enqueue(pigeon, tenant, "SmsUp", SMS_UP)
    token = get_token(server, tenant, "SmsReport")
    queue = mns_queue(server, token, queues.queue_name(tenant.account_id, "SmsUp"))

    assert mns_error(lambda: queue.receive_message()).type == "AccessDenied"


def test_an_expired_token_is_refused(pigeon, server, tenant):
    enqueue(pigeon, tenant, "SmsReport", SMS_REPORT)
    queue = queue_of(server, tenant)

    with travel(3600 + 1):
        error = mns_error(lambda: queue.receive_message())

    assert error.type == "AccessDenied" and "expired" in error.message


def test_a_wrong_secret_an_unknown_key_or_a_wrong_security_token_is_refused(pigeon, server,
                                                                            tenant):
    enqueue(pigeon, tenant, "SmsReport", SMS_REPORT)
    token = get_token(server, tenant)
    name = queues.queue_name(tenant.account_id, "SmsReport")

    def receive(key_id=token.access_key_id, secret=token.access_key_secret,
                security_token=token.security_token):
        account = mns_account(server, key_id, secret, security_token)
        return mns_error(lambda: account.get_queue(name).receive_message()).type

    assert receive(secret=token.access_key_secret + "x") == "SignatureDoesNotMatch"
    assert receive(key_id="STS.NoSuchKey0000000000000") == "InvalidAccessKeyId"
    assert receive(security_token=token.security_token + "x") == "AccessDenied"
    assert receive(security_token="") == "AccessDenied"


# -- the wire, as MNS answers it -------------------------------------------------------------------

def signed(token, method: str, resource: str, *, date: str | None = None,
           body: bytes = b"", signature: str | None = None) -> dict:
    date = date or formatdate(usegmt=True)
    headers = {"date": date, "x-mns-version": "2015-06-06",
               "security-token": token.security_token}
    content_type = "text/xml;charset=UTF-8" if body else ""
    if body:
        headers["content-type"] = content_type
    text = f"{method}\n\n{content_type}\n{date}\nx-mns-version:2015-06-06\n{resource}"
    digest = hmac.new(token.access_key_secret.encode(), text.encode(), hashlib.sha1).digest()
    headers["authorization"] = (f"MNS {token.access_key_id}:"
                                f"{signature or base64.b64encode(digest).decode()}")
    return headers


def xml_error(answer: httpx.Response) -> tuple[int, dict]:
    root = ElementTree.fromstring(answer.content)
    assert root.tag == "{http://mns.aliyuncs.com/doc/v1/}Error"
    fields = {child.tag.rpartition("}")[2]: child.text for child in root}
    assert set(fields) == {"Code", "Message", "RequestId", "HostId"}
    assert answer.headers["x-mns-request-id"] == fields["RequestId"]
    return answer.status_code, fields


def test_errors_are_mns_xml_with_mns_statuses(server, tenant):
    token = get_token(server, tenant)
    resource = f"/queues/{queues.queue_name(tenant.account_id, 'SmsReport')}/messages"
    url = f"{server.url}{resource}"

    status, fields = xml_error(httpx.get(url))
    assert (status, fields["Code"]) == (400, "MissingAuthorizationHeader")

    stale = formatdate(time.time() - 16 * 60, usegmt=True)
    status, fields = xml_error(httpx.get(url, headers=signed(token, "GET", resource, date=stale)))
    assert (status, fields["Code"]) == (408, "TimeExpired")

    tampered = signed(token, "GET", resource, signature=base64.b64encode(b"x" * 20).decode())
    status, fields = xml_error(httpx.get(url, headers=tampered))
    assert (status, fields["Code"]) == (403, "SignatureDoesNotMatch")

    status, fields = xml_error(httpx.get(url, headers=signed(token, "GET", resource)))
    assert (status, fields["Code"]) == (404, "MessageNotExist")


def test_sending_or_peeking_is_not_what_a_receipt_credential_may_do(server, tenant):
    token = get_token(server, tenant)
    resource = f"/queues/{queues.queue_name(tenant.account_id, 'SmsReport')}/messages"
    body = (b'<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/'
            b'v1/"><MessageBody>eA==</MessageBody></Message>')

    sent = httpx.post(f"{server.url}{resource}", content=body,
                      headers=signed(token, "POST", resource, body=body))
    peek = f"{resource}?peekonly=true"
    peeked = httpx.get(f"{server.url}{peek}", headers=signed(token, "GET", peek))

    for answer in (sent, peeked):
        status, fields = xml_error(answer)
        assert (status, fields["Code"]) == (403, "AccessDenied")
