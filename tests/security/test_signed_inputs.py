"""With a valid key: what a signed request carries is bounded by the spec's limits before it
is stored or deeply parsed, and nothing a tenant sends makes the server answer 500."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from pigeon.core.templates import MAX_TEMPLATE_PARAM
from pigeon.services import handsets, qualifications
from pigeon.store.tables import ledger, messages, nonces
from tests.conftest import make_tenant
from tests.console.test_http import add_user, csrf_of, sign_in
from tests.support import signer

pytestmark = pytest.mark.slow

MB = 1024 * 1024


def call(served, action: str, params: dict, *, nonce: str | None = None,
         tenant=None) -> tuple[int, dict]:
    """``action`` signed V1, every parameter in the form body (as pop-core POSTs it)."""
    if nonce is not None:
        params = {**params, "SignatureNonce": nonce}
    signed = signer.v1_params(tenant or served.tenant, action, params)
    answer = httpx.post(f"{served.url}/", content=signer.form(signed), timeout=30,
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert answer.status_code < 500, answer.text
    body = answer.json()
    assert body["Code"] != "InternalError", body
    return answer.status_code, body


def test_a_nonce_past_255_characters_is_refused_and_kept_nowhere(served):
    # The issue: 150 requests with 1 MB nonces added 150 MB (kept 15–30 minutes).  The nonce
    # is refused before the signature is checked: one signed body serves all 150.
    stored = len(served.local.db.read_sync(lambda c: c.execute(select(nonces)).all()))
    body = signer.form(signer.v1_params(served.tenant, "QuerySmsSignList",
                                        {"SignatureNonce": "n" * MB}))
    before = served.rss_mb()
    with httpx.Client(base_url=served.url, timeout=30) as client:
        for _ in range(150):
            answer = client.post("/", content=body, headers={
                "content-type": "application/x-www-form-urlencoded"})
            assert (answer.status_code, answer.json()["Code"]) == (400, "InvalidSignatureNonce")
    assert served.rss_mb() - before < 20
    assert len(served.local.db.read_sync(lambda c: c.execute(select(nonces)).all())) == stored


def test_only_the_variables_a_template_uses_are_stored(served):
    # The issue: a 1 MB TemplateParam to 50 numbers grew the database by 100 MB.
    unused = {f"note{n}": "x" * 30 for n in range(90)}
    template_param = json.dumps({"order": "A20260501", **unused})
    assert len(template_param) <= MAX_TEMPLATE_PARAM
    numbers = ",".join(str(13900000000 + n) for n in range(50))
    status, body = call(served, "SendSms", {
        "PhoneNumbers": numbers, "SignName": served.sender.sign,
        "TemplateCode": served.sender.notice, "TemplateParam": template_param})
    assert body["Code"] == "OK", body
    stored = served.local.db.read_sync(lambda c: c.execute(
        select(messages.c.params).where(messages.c.biz_id == body["BizId"])).scalars().all())
    assert stored == [{"order": "A20260501"}] * 50

    status, body = call(served, "SendSms", {
        "PhoneNumbers": numbers, "SignName": served.sender.sign,
        "TemplateCode": served.sender.notice,
        "TemplateParam": json.dumps({"order": "A1", "pad": "x" * MB})})
    assert body["Code"] == "isv.PARAM_LENGTH_LIMIT", body


def _nested(depth: int, leaf: str = '"1"') -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("action, params, code", [
    ("SendSms", {"TemplateParam": '{"order":' + _nested(2000) + "}"}, "isv.INVALID_JSON_PARAM"),
    ("SendBatchSms", {"PhoneNumberJson": _nested(20000), "SignNameJson": '["x"]'},
     "isv.INVALID_JSON_PARAM"),
    ("SendBatchSms", {"PhoneNumberJson": '["13800138000"]', "SignNameJson": '["x"]',
                      "TemplateParamJson": _nested(20000, "{}")}, "isv.INVALID_JSON_PARAM"),
    ("CreateSmsTemplate", {"TemplateName": "n", "TemplateContent": "您好${a}", "TemplateType": "1",
                           "TemplateRule": '{"a":' + _nested(20000) + "}"},
     "InvalidTemplateRule"),
])
def test_deeply_nested_json_is_refused_not_a_500(served, action, params, code):
    defaults = {"PhoneNumbers": "13800138000", "SignName": served.sender.sign,
                "TemplateCode": served.sender.notice}
    status, body = call(served, action, {**defaults, **params})
    assert body["Code"] == code, body


def test_the_console_template_check_refuses_deep_nesting_too(served):
    add_user(served.local, served.tenant.account_id, "dev@lark.example")
    with httpx.Client(base_url=served.url, timeout=10,
                      headers={"x-forwarded-for": "192.0.2.50"}) as client:
        assert sign_in(client, "dev@lark.example").status_code == 303
        checked = client.post("/console/templates/check", headers={
            "x-csrf-token": csrf_of(client)}, json={
            "name": "n", "content": "您好${a}", "type": 1,
            "rule": '{"a":' + _nested(20000) + "}"})
        assert checked.status_code == 200 and not checked.json()["ok"], checked.text
        deep = client.post("/console/templates/check", headers={
            "x-csrf-token": csrf_of(client), "content-type": "application/json"},
            content=_nested(50000).encode())
        assert deep.status_code < 500


@pytest.mark.parametrize("start, end", [("00010101", "20260101"), ("20260101", "99991231")])
def test_dates_out_of_range_are_invalid_parameters(served_on, start, end):
    status, body = call(served_on, "QuerySendStatistics", {
        "IsGlobe": "1", "StartDate": start, "EndDate": end, "PageIndex": "1",
        "PageSize": "10"})
    assert body["Code"] == "isv.INVALID_PARAMETERS" and "out of range" in body["Message"]


@pytest.mark.parametrize("extend", ["1" * 30, "9" * 1000, "１２３"])
def test_an_extension_code_past_seven_digits_is_refused(served_on, extend):
    status, body = call(served_on, "SendSms", {
        "PhoneNumbers": "13900001234", "SignName": served_on.sender.sign,
        "TemplateCode": served_on.sender.notice, "TemplateParam": '{"order":"A1"}',
        "SmsUpExtendCode": extend})
    assert body["Code"] == "isv.EXTEND_CODE_ERROR", body
    status, body = call(served_on, "SendBatchSms", {
        "PhoneNumberJson": '["13900001234"]', "SignNameJson": json.dumps([served_on.sender.sign]),
        "TemplateCode": served_on.sender.notice, "TemplateParamJson": '[{"order":"A1"}]',
        "SmsUpExtendCodeJson": json.dumps([extend])})
    assert body["Code"] == "isv.EXTEND_CODE_ERROR", body


def test_a_v1_request_takes_its_action_only_from_what_is_signed(served):
    # Signed for QuerySmsSignList without an Action parameter; the unsigned header asks for
    # SendSms.  Nothing is sent, whatever the header says.
    signed = signer.v1_params(served.tenant, "QuerySmsSignList", {})
    del signed["Action"]
    signed["Signature"] = signer.Utils.get_rpcsignature(
        {k: v for k, v in signed.items() if k != "Signature"}, "POST", served.tenant.secret)
    answer = httpx.post(f"{served.url}/", params=signed, timeout=10,
                        headers={"x-acs-action": "SendSms"})
    assert (answer.status_code, answer.json()["Code"]) == (400, "MissingAction")


def test_phone_codes_past_a_few_a_day_are_billed_and_refused_without_money(served):
    # The issue: RequiredPhoneCode sent codes to 60 numbers in 0.2 s, unbilled and uncapped.
    broke = make_tenant(served.local, "Broke Company")
    phones = [str(13700000000 + n) for n in range(60)]

    def ask(phone, tenant=broke):
        return call(served, "RequiredPhoneCode", {"PhoneNo": phone}, tenant=tenant)[1]["Code"]

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(ask, phones))
    texted = [p for p in phones if served.local.db.read_sync(handsets.inbox, p)]
    assert len(texted) == codes.count("OK") == qualifications.CODE_FREE_PER_DAY, codes
    assert set(codes) == {"OK", "isv.AMOUNT_NOT_ENOUGH"}

    # A tenant with money pays for each one, as for an OTP message.
    def charges() -> int:
        return len(served.local.db.read_sync(lambda c: c.execute(select(ledger.c.id).where(
            ledger.c.account_id == served.tenant.account_id,
            ledger.c.note.like("RequiredPhoneCode%"))).all()))

    before = charges()
    paid = [str(13710000000 + n) for n in range(qualifications.CODE_FREE_PER_DAY + 3)]
    assert [ask(phone, served.tenant) for phone in paid] == ["OK"] * len(paid)
    assert charges() - before >= 3
    again = ask(paid[0], served.tenant)
    assert again == "isv.BUSINESS_LIMIT_CONTROL"
