"""Extension codes through the official SDK: a signature's codes are listed, added, changed
and removed; messages go out with the code added last, and replies to any of the signature's
codes — and to no other — come back to it as SmsUp."""

from __future__ import annotations

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions

from pigeon.services import reports, simulator
from pigeon.store.tables import messages
from tests.support.sdk import CoreClient
from tests.support.sending import OTP_SIGN, SIGN, ready_to_send, rows

RT = RuntimeOptions()
PHONE = "13700137000"
# The codes these tests add begin with 0: the codes Pigeon gives signatures never do (four
# random digits from 1000 up), so whichever the fixtures' signatures got, none clashes with
# them (886 clashed with an automatic 8860-8869, one run in a few hundred).


@pytest.fixture
def sender(pigeon, core_sdk, tenant):
    return ready_to_send(pigeon, core_sdk, tenant.account_id)


def codes(sdk, **filters) -> list[tuple[str, str, str, int, int]]:
    body = sdk.query_ext_code_sign_with_options(models.QueryExtCodeSignRequest(**filters),
                                                RT).body
    assert body.code == "OK" and body.success is True, body.message
    return [(i.sign_name, i.ext_code, i.source, i.active, i.send_count) for i in body.data.list]


def add(sdk, code: str, sign: str = SIGN):
    return sdk.add_ext_code_sign_with_options(models.AddExtCodeSignRequest(
        ext_code=code, sign_name=sign), RT).body


def reply(pigeon, dest_code: str) -> dict:
    return pigeon.db.write_sync(simulator.reply, PHONE, "收到", dest_code,
                                pigeon.settings.timezone, pigeon.now())


def send(sdk, sender, extend: str | None = None) -> None:
    body = sdk.send_sms_with_options(models.SendSmsRequest(
        phone_numbers=PHONE, sign_name=SIGN, template_code=sender.notice,
        template_param='{"order":"A1"}', sms_up_extend_code=extend), RT).body
    assert body.code == "OK", body.message


def test_every_signature_has_the_code_pigeon_gave_it(sdk, sender):
    found = codes(sdk)
    assert [(name, source, active, count) for name, _code, source, active, count in found] == \
        [(SIGN, "auto", 1, 0), (OTP_SIGN, "auto", 1, 0)]
    auto = found[0][1]
    assert auto.isdigit() and len(auto) == 4
    assert codes(sdk, sign_name=OTP_SIGN, page_size=1, page_no=1)[0][0] == OTP_SIGN
    assert codes(sdk, ext_code=auto) == [found[0]]


def test_an_added_code_is_the_one_messages_go_out_with_and_replies_reach_the_signature(
        pigeon, sdk, sender, tenant):
    [(_, auto, *_rest), _other] = codes(sdk)
    body = add(sdk, "0886")
    assert (body.code, body.data, body.success) == ("OK", True, True)
    assert codes(sdk, sign_name=SIGN) == [(SIGN, auto, "auto", 0, 0), (SIGN, "0886", "custom", 1, 0)]

    send(sdk, sender, extend="12")
    [message] = rows(pigeon, messages, tenant.account_id)
    assert message["extend_code"] == "088612"
    assert codes(sdk, ext_code="0886")[0][4] == 1  # SendCount

    for dest_code in ("088612", auto + "5"):
        answer = reply(pigeon, dest_code)
        assert answer["Matched"] and answer["AccountId"] == tenant.account_id, dest_code
    events = pigeon.db.read_sync(reports.queued, tenant.account_id, "SmsUp")
    assert [e["payload"]["sign_name"] for e in events] == [SIGN, SIGN]


def test_a_code_that_another_signature_has_or_overlaps_is_refused(server, sdk, sender,
                                                                 other_tenant):
    assert add(sdk, "0886").code == "OK"
    stranger_core = CoreClient(server.endpoint, other_tenant)
    ready_to_send(server.pigeon, stranger_core, other_tenant.account_id,
                  admin_phone="13800138041")
    for code in ("0886", "08861", "088"):
        answer = stranger_core.common("AddExtCodeSign", {"ExtCode": code, "SignName": SIGN})
        assert answer["Code"] == "isv.EXTEND_CODE_ERROR", (code, answer)
        assert "used by another signature" in answer["Message"]
    own = add(sdk, "08865", OTP_SIGN)
    assert own.code == "isv.EXTEND_CODE_ERROR"
    same_signature = add(sdk, "08865")
    assert (same_signature.code, same_signature.message) == (
        "isv.INVALID_PARAMETERS", "08865 overlaps 0886, an extension code of 云雀科技; a code may "
        "not begin another one.")


def test_update_moves_replies_to_the_new_code(pigeon, sdk, sender):
    add(sdk, "0886")
    body = sdk.update_ext_code_sign_with_options(models.UpdateExtCodeSignRequest(
        sign_name=SIGN, exist_ext_code="0886", new_ext_code="0887"), RT).body
    assert (body.code, body.data) == ("OK", True)
    assert [(c, a) for _, c, _, a, _ in codes(sdk, sign_name=SIGN)][-1] == ("0887", 1)
    assert not reply(pigeon, "0886")["Matched"]
    assert reply(pigeon, "08871")["Matched"]


def test_delete_hands_sending_back_to_the_newest_code_left_and_keeps_the_last(sdk, sender):
    [(_, auto, *_rest), _other] = codes(sdk)
    add(sdk, "0886")
    body = sdk.delete_ext_code_sign_with_options(models.DeleteExtCodeSignRequest(
        sign_name=SIGN, ext_code="0886"), RT).body
    assert (body.code, body.data) == ("OK", True)
    assert codes(sdk, sign_name=SIGN) == [(SIGN, auto, "auto", 1, 0)]
    last = sdk.delete_ext_code_sign_with_options(models.DeleteExtCodeSignRequest(
        sign_name=SIGN, ext_code=auto), RT).body
    assert last.code == "isv.INVALID_PARAMETERS" and "only extension code" in last.message


@pytest.mark.parametrize("action, params, code", [
    ("AddExtCodeSign", {"ExtCode": "12a", "SignName": SIGN}, "isv.INVALID_PARAMETERS"),
    ("AddExtCodeSign", {"ExtCode": "123456789", "SignName": SIGN}, "isv.INVALID_PARAMETERS"),
    ("AddExtCodeSign", {"ExtCode": "0886", "SignName": "无此签名"}, "isv.SMS_SIGNATURE_ILLEGAL"),
    ("UpdateExtCodeSign", {"ExistExtCode": "1", "NewExtCode": "0887", "SignName": SIGN},
     "isv.INVALID_PARAMETERS"),
    ("DeleteExtCodeSign", {"ExtCode": "0886", "SignName": SIGN}, "isv.INVALID_PARAMETERS"),
])
def test_bad_codes_and_unknown_signatures_are_refused(core_sdk, sender, action, params, code):
    assert core_sdk.common(action, params)["Code"] == code


def test_a_deleted_signatures_codes_are_free_again(server, sdk, core_sdk, sender, other_tenant):
    add(sdk, "0886", OTP_SIGN)
    assert core_sdk.common("DeleteSmsSign", {"SignName": OTP_SIGN})["Code"] == "OK"
    assert add(sdk, "0886").code == "OK"
