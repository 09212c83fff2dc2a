"""Pigeon's log as an operator's log shipper reads it: ``pigeon serve`` with
``PIGEON_LOG_FORMAT=json`` — one JSON object per line, the RequestId of the API's answer in
the lines of that request, and never a secret."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from pigeon.logs import JsonFormatter, TextFormatter, context
from pigeon.services import console_users
from tests.api.test_delivery import send
from tests.conftest import TEST_SECRET_KEY, make_tenant
from tests.support.nodes import sqlite_processes
from tests.support.scrape import TOKEN
from tests.support.sdk import CoreClient, Tenant, tea_client
from tests.support.sending import ready_to_send
from tests.support.waiting import wait_until

PASSWORD = "a console password 0042"


def _record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("pigeon.test", logging.WARNING, __file__, 1, message, args, None)


def test_a_json_line_carries_the_context_it_was_logged_in():
    record = _record("push of %d report(s) failed", 3)
    with context(request_id="A1B2", biz_id="123^0"):
        from pigeon.logs import ContextFilter

        ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "push of 3 report(s) failed"
    assert (line["level"], line["logger"]) == ("warning", "pigeon.test")
    assert (line["request_id"], line["biz_id"]) == ("A1B2", "123^0")
    assert line["time"].endswith("Z")
    record.context = {"request_id": "A1B2"}
    assert TextFormatter().format(record).endswith("[request_id=A1B2]")


@pytest.mark.slow
def test_pigeon_serve_logs_json_with_request_ids_and_no_secret(tmp_path):
    deployment = sqlite_processes(tmp_path, processes=1, PIGEON_LOG_FORMAT="json",
                                  PIGEON_LOG_LEVEL="debug", PIGEON_METRICS_TOKEN=TOKEN).start()
    [serve] = deployment.api
    try:
        [endpoint] = deployment.endpoints
        local = deployment.local
        tenant = make_tenant(local)
        sender = ready_to_send(local, CoreClient(endpoint, tenant), tenant.account_id)
        answer = tea_client(endpoint, tenant).send_sms_with_options(
            _send_request(sender), _runtime()).body
        assert answer.code == "OK"
        # A forged request, a scrape, a console sign-in: their secrets must not be logged.
        forged = Tenant(tenant.account_id, tenant.key_id, "not-the-secret-0000000000000")
        with pytest.raises(Exception, match="SignatureDoesNotMatch"):
            CoreClient(endpoint, forged).common("QuerySmsSignList", {})
        assert httpx.get(f"http://{endpoint}/metrics",
                         headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        local.db.write_sync(console_users.create_user, tenant.account_id, "dev@lark.example",
                            console_users.hash_password(PASSWORD), local.now())
        with httpx.Client(base_url=f"http://{endpoint}", timeout=10) as browser:
            form = browser.get("/console/signin").text
            token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            signed = browser.post("/console/signin", data={
                "csrf": token, "email": "dev@lark.example", "password": PASSWORD})
            assert signed.status_code == 303
            cookie = browser.cookies["pigeon_session"]
        send(tea_client(endpoint, tenant), "13700137000", sender.sign, sender.notice,
             '{"order":"2"}')
        wait_until(lambda: "accepted BizId" in serve.log_path.read_text(), what="the log")
    finally:
        deployment.close()

    text = serve.log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= line.keys()
                         for line in lines)
    [accepted] = [line for line in lines
                  if line["message"].startswith(f"accepted BizId {answer.biz_id}")]
    assert accepted["request_id"] == answer.request_id
    for secret in (tenant.secret, TEST_SECRET_KEY.reveal(), TOKEN, PASSWORD, cookie):
        assert secret not in text


def _send_request(sender):
    from alibabacloud_dysmsapi20170525 import models

    return models.SendSmsRequest(phone_numbers="13700137000", sign_name=sender.sign,
                                 template_code=sender.notice, template_param='{"order":"1"}')


def _runtime():
    from alibabacloud_tea_util.models import RuntimeOptions

    return RuntimeOptions()
