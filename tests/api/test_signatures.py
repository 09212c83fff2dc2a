"""The signature actions that change something, each through an official SDK: it succeeds and
the change shows in what the tenant reads afterwards.  (The whole workflow is in
test_workflow.py; the refusals are in test_isolation.py and test_workflow.py.)"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkdysmsapi.request.v20170525 import (
    AddSmsSignRequest,
    ModifySmsSignRequest,
    QuerySmsSignRequest,
)

from pigeon.services import review
from tests.support import workflow
from tests.support.images import png_bytes

RT = RuntimeOptions()
SIGN = "云雀科技"


@pytest.fixture
def settings(settings):
    """Reviews wait for an operator, so that a test chooses what is rejected."""
    return replace(settings, review_mode="manual")


@pytest.fixture
def qualification(pigeon, core_sdk) -> int:
    answer = workflow.submit_qualification(core_sdk, pigeon)
    assert answer["Code"] == "OK", answer
    workflow.decide(pigeon, "qualification", answer["Data"], approved=True)
    return int(answer["Data"])


def rejected_signature(pigeon, core_sdk, qualification: int) -> str:
    created = workflow.create_signature(core_sdk, str(qualification), SIGN, Remark="会员通知")
    assert created["Code"] == "OK", created
    workflow.decide(pigeon, "signature", SIGN, approved=False, reason="签名用途说明不清")
    return created["OrderId"]


def test_update_sms_sign_changes_a_rejected_signature_and_sends_it_to_review_again(
        pigeon, sdk, core_sdk, qualification):
    first_order = rejected_signature(pigeon, core_sdk, qualification)

    answer = sdk.update_sms_sign_with_options(models.UpdateSmsSignRequest(
        sign_name=SIGN, sign_source=0, sign_type=0, qualification_id=qualification,
        remark="用于登录验证码", apply_scene_content="https://lark.example/login"), RT).body

    assert answer.code == "OK", answer.message
    assert answer.sign_name == SIGN and answer.order_id != first_order
    sign = sdk.get_sms_sign_with_options(models.GetSmsSignRequest(sign_name=SIGN), RT).body
    assert (sign.sign_status, sign.remark, sign.apply_scene) == \
        (0, "用于登录验证码", "https://lark.example/login")
    assert sign.order_id == answer.order_id and sign.audit_info.reject_info == ""
    [item] = sdk.query_sms_sign_list_with_options(models.QuerySmsSignListRequest(),
                                                  RT).body.sms_sign_list
    assert (item.audit_status, item.business_type) == ("AUDIT_STATE_INIT", "验证码类型")
    assert workflow.history(pigeon, "signature", SIGN) == ["rejected", "pending"]


def test_modify_sms_sign_changes_a_rejected_legacy_signature_with_a_new_proof_file(
        pigeon, core_sdk):
    def proof(png: bytes) -> list[dict]:
        return [{"FileContents": base64.b64encode(png).decode(), "FileSuffix": "png"}]

    add = AddSmsSignRequest.AddSmsSignRequest()
    add.set_SignName("云雀商城")
    add.set_SignSource(4)
    add.set_Remark("电商店铺")
    add.set_SignFileLists(proof(png_bytes()))
    assert core_sdk.typed(add)["SignName"] == "云雀商城"
    workflow.decide(pigeon, "signature", "云雀商城", approved=False, reason="请补充店铺截图")

    modify = ModifySmsSignRequest.ModifySmsSignRequest()
    modify.set_SignName("云雀商城")
    modify.set_SignSource(4)
    modify.set_Remark("云雀商城天猫旗舰店")
    modify.set_SignFileLists(proof(png_bytes(2, 2)))
    answer = core_sdk.typed(modify)

    assert answer["Code"] == "OK" and answer["SignName"] == "云雀商城", answer
    query = QuerySmsSignRequest.QuerySmsSignRequest()
    query.set_SignName("云雀商城")
    shown = core_sdk.typed(query)
    assert (shown["SignStatus"], shown["Reason"]) == (0, "")
    details = pigeon.db.read_sync(review.describe, "signature", "云雀商城")
    assert details["subject"]["remark"] == "云雀商城天猫旗舰店"
    # The reviewer sees the new proof instead of the first.
    [shown_file] = details["files"]
    assert shown_file["sha256"] == hashlib.sha256(png_bytes(2, 2)).hexdigest()
    assert workflow.history(pigeon, "signature", "云雀商城") == ["rejected", "pending"]


def test_delete_sms_sign_removes_the_signature(pigeon, sdk, core_sdk, qualification):
    created = workflow.create_signature(core_sdk, str(qualification), SIGN)
    assert created["Code"] == "OK", created
    workflow.decide(pigeon, "signature", SIGN, approved=True)

    answer = sdk.delete_sms_sign_with_options(models.DeleteSmsSignRequest(sign_name=SIGN),
                                              RT).body

    assert (answer.code, answer.sign_name) == ("OK", SIGN), answer.message
    gone = sdk.get_sms_sign_with_options(models.GetSmsSignRequest(sign_name=SIGN), RT).body
    assert gone.code == "isv.SMS_SIGNATURE_ILLEGAL"
    listed = sdk.query_sms_sign_list_with_options(models.QuerySmsSignListRequest(), RT).body
    assert (listed.total_count, listed.sms_sign_list) == (0, [])
    # The name is free again.
    assert workflow.create_signature(core_sdk, str(qualification), SIGN)["Code"] == "OK"
