"""All 80 actions of Dysmsapi 2017-05-25: each is implemented or refused with its documented
code, and docs/api.md says which."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alibabacloud_dysmsapi20170525 import client as tea_module
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_util.models import RuntimeOptions

from pigeon.api.rpc.actions import load
from pigeon.api.rpc.catalogue import CODE, REFUSED

API_DOC = Path(__file__).parents[2] / "docs" / "api.md"
DYBASEAPI = {"QueryTokenForMnsQueue"}  # a sibling product's action, served on the same endpoint


def sdk_actions() -> set[str]:
    """The actions the official SDK 4.6.0 defines (its client's ``action='…'`` parameters)."""
    return set(re.findall(r"action *= *'(\w+)'", Path(tea_module.__file__).read_text()))


def test_the_sdk_defines_80_actions_and_each_is_implemented_or_refused():
    actions = sdk_actions()
    implemented = set(load()) - DYBASEAPI
    assert len(actions) == 80
    assert implemented | set(REFUSED) == actions
    assert not implemented & set(REFUSED)


def test_docs_api_lists_every_action_once_with_what_pigeon_does():
    rows = re.findall(r"^\| `(\w+)` \| (implemented|refused) \|", API_DOC.read_text(),
                      re.MULTILINE)
    assert sorted(name for name, _ in rows) == sorted(sdk_actions())
    for name, status in rows:
        assert status == ("refused" if name in REFUSED else "implemented"), name


@pytest.mark.parametrize("action", sorted(REFUSED))
def test_a_refused_action_answers_its_code_through_the_sdks(sdk, core_sdk, action):
    method = next(getattr(sdk, name) for name in dir(sdk)
                  if name.replace("_", "") == f"{action.lower()}withoptions")
    request = getattr(models, f"{action}Request", None)
    arguments = (request(),) if request else ()  # GetOSSInfoForCardTemplate takes none
    assert method(*arguments, RuntimeOptions()).body.code == CODE
    # (The card SMS models have no Message field: read it through CommonRequest.)
    answer = core_sdk.common(action, {})
    assert answer["Code"] == CODE
    assert REFUSED[action] in answer["Message"] and action in answer["Message"]


def test_a_refusal_comes_after_authentication(server, tenant):
    from dataclasses import replace

    from tests.support.sdk import tea_client

    wrong = tea_client(server.endpoint, replace(tenant, secret="not-the-secret"))
    with pytest.raises(ClientException) as raised:
        wrong.send_card_sms_with_options(models.SendCardSmsRequest(), RuntimeOptions())
    assert raised.value.code == "SignatureDoesNotMatch"


def test_an_action_dysmsapi_does_not_have_is_not_found(core_sdk):
    from aliyunsdkcore.acs_exception.exceptions import ServerException

    with pytest.raises(ServerException) as raised:
        core_sdk.common("SendFax", {})
    assert (raised.value.get_http_status(), raised.value.get_error_code()) == \
        (404, "InvalidAction.NotFound")
