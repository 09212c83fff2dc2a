"""Tags on templates and the newer template list, through the official SDK: TagResources,
UntagResources, ListTagResources (ResourceType TEMPLATE, resources named by TemplateCode) and
GetSmsTemplateList with its filters."""

from __future__ import annotations

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_util.models import RuntimeOptions

from tests.support.sdk import CoreClient
from tests.support.sending import ready_to_send

RT = RuntimeOptions()
Tag = models.TagResourcesRequestTag


@pytest.fixture
def sender(pigeon, core_sdk, tenant):
    return ready_to_send(pigeon, core_sdk, tenant.account_id)


def tag(sdk, codes, **tags):
    return sdk.tag_resources_with_options(models.TagResourcesRequest(
        region_id="cn-hangzhou", resource_type="TEMPLATE", prod_code="dysms", resource_id=codes,
        tag=[Tag(key=key, value=value) for key, value in tags.items()]), RT).body


def relations(sdk, **request) -> list[tuple[str, str, str]]:
    body = sdk.list_tag_resources_with_options(models.ListTagResourcesRequest(
        region_id="cn-hangzhou", resource_type="TEMPLATE", **request), RT).body
    assert body.code == "OK"
    return [(r.resource_id, r.tag_key, r.tag_value) for r in body.tag_resources.tag_resource]


def listed(sdk, **filters) -> list[str]:
    body = sdk.get_sms_template_list_with_options(models.GetSmsTemplateListRequest(**filters),
                                                  RT).body
    assert body.code == "OK" and body.success is True, body.message
    return [item.template_code for item in body.data.list]


def test_tags_go_on_templates_and_are_listed_by_template_and_by_tag(sdk, sender):
    answer = tag(sdk, [sender.otp, sender.notice], team="growth", env="prod")
    assert (answer.code, answer.data) == ("OK", "true")
    assert relations(sdk, resource_id=[sender.otp]) == [
        (sender.otp, "env", "prod"), (sender.otp, "team", "growth")]

    assert tag(sdk, [sender.otp], team="risk").code == "OK"  # one value per key: replaced
    wanted = [models.ListTagResourcesRequestTag(key="team", value="growth")]
    assert relations(sdk, tag=wanted) == [(sender.notice, "env", "prod"),
                                          (sender.notice, "team", "growth")]
    any_team = [models.ListTagResourcesRequestTag(key="team")]
    assert {r[0] for r in relations(sdk, tag=any_team)} == {sender.otp, sender.notice}


def test_list_tag_resources_pages_with_next_token(sdk, sender):
    tag(sdk, [sender.otp, sender.notice, sender.promo], team="growth")
    seen, token = [], None
    while True:
        body = sdk.list_tag_resources_with_options(models.ListTagResourcesRequest(
            region_id="cn-hangzhou", resource_type="TEMPLATE", page_size=2, next_token=token),
            RT).body
        seen += [r.resource_id for r in body.tag_resources.tag_resource]
        token = body.next_token
        if not token:
            break
    assert sorted(seen) == sorted([sender.otp, sender.notice, sender.promo])


def test_untag_resources_takes_off_the_keys_given_or_every_tag(sdk, sender):
    tag(sdk, [sender.otp, sender.notice], team="growth", env="prod")
    body = sdk.untag_resources_with_options(models.UntagResourcesRequest(
        region_id="cn-hangzhou", resource_type="TEMPLATE", resource_id=[sender.otp],
        tag_key=["env"]), RT).body
    assert (body.code, body.data) == ("OK", "true")
    assert relations(sdk, resource_id=[sender.otp]) == [(sender.otp, "team", "growth")]
    sdk.untag_resources_with_options(models.UntagResourcesRequest(
        region_id="cn-hangzhou", resource_type="TEMPLATE", resource_id=[sender.notice],
        all=True), RT)
    assert relations(sdk, resource_id=[sender.notice]) == []


def test_get_sms_template_list_filters_and_shows_tags(sdk, sender):
    tag(sdk, [sender.otp, sender.notice], team="growth")
    tag(sdk, [sender.promo], team="brand")

    body = sdk.get_sms_template_list_with_options(models.GetSmsTemplateListRequest(
        template_tag="team:growth", page_size=1), RT).body
    assert (body.data.total, body.data.page_no, body.data.page_size) == (2, 1, 1)
    [item] = body.data.list
    assert item.template_code == sender.notice  # newest first
    assert [(t.tag_key, t.tag_value) for t in item.template_tag] == [("team", "growth")]
    assert (item.template_type, item.audit_status, item.sign_name, item.usable_state_list) == \
        (1, 1, "云雀科技", ["USABLE"])
    assert item.work_order_id.isdigit() and len(item.gmt_create) == 19

    assert set(listed(sdk, template_tag="team")) == {sender.otp, sender.notice, sender.promo}
    assert listed(sdk, template_type=0, template_tag="team") == [sender.otp]
    assert listed(sdk, template_code=sender.promo) == [sender.promo]
    assert listed(sdk, template_name="会员") == [sender.promo]
    assert len(listed(sdk, sign_name="云雀科技", audit_status=1,
                      usable_state_list=["USABLE"])) == 4
    assert listed(sdk, usable_state_list=["UNUSABLE"]) == []
    assert listed(sdk, audit_status=2) == []


def test_deleting_a_template_deletes_its_tags(sdk, sender):
    tag(sdk, [sender.promo], team="brand")
    assert sdk.delete_sms_template_with_options(models.DeleteSmsTemplateRequest(
        template_code=sender.promo), RT).body.code == "OK"
    assert relations(sdk) == []


@pytest.mark.parametrize("change, code, words", [
    ({"ResourceType": "SIGN"}, "isv.INVALID_PARAMETERS", "only templates carry tags"),
    ({"ResourceId.1": "SMS_000000001"}, "isv.SMS_TEMPLATE_ILLEGAL", "SMS_000000001"),
    ({"Tag.1.Key": "aliyun:owner"}, "isv.INVALID_PARAMETERS", "reserved"),
    ({"Tag.1.Value": "https://example.com"}, "isv.INVALID_PARAMETERS", "https://"),
    ({"Tag.1.Key": "k" * 129}, "isv.INVALID_PARAMETERS", "1 to 128"),
    ({f"Tag.{n}.Key": f"k{n}" for n in range(1, 22)} | {f"Tag.{n}.Value": "v"
                                                       for n in range(1, 22)},
     "isv.INVALID_PARAMETERS", "at most 20 a call"),
])
def test_tagging_refuses_what_breaks_a_rule_and_tags_nothing(core_sdk, sender, change, code,
                                                             words):
    params = {"RegionId": "cn-hangzhou", "ResourceType": "TEMPLATE",
              "ResourceId.1": sender.otp, "Tag.1.Key": "team", "Tag.1.Value": "growth",
              **change}
    answer = core_sdk.common("TagResources", params)
    assert answer["Code"] == code and words in answer["Message"], answer
    assert core_sdk.common("ListTagResources", {"RegionId": "cn-hangzhou",
                                                "ResourceType": "TEMPLATE"}) \
        ["TagResources"]["TagResource"] == []


def test_a_template_holds_at_most_twenty_tags(core_sdk, sender):
    for start in (1, 11):
        params = {"RegionId": "cn-hangzhou", "ResourceType": "TEMPLATE",
                  "ResourceId.1": sender.otp}
        for n in range(start, start + 10):
            params |= {f"Tag.{n - start + 1}.Key": f"k{n}", f"Tag.{n - start + 1}.Value": "v"}
        assert core_sdk.common("TagResources", params)["Code"] == "OK"
    answer = core_sdk.common("TagResources", {
        "RegionId": "cn-hangzhou", "ResourceType": "TEMPLATE", "ResourceId.1": sender.otp,
        "Tag.1.Key": "one-more", "Tag.1.Value": "v"})
    assert answer["Code"] == "isv.INVALID_PARAMETERS" and "at most 20" in answer["Message"]


def test_tags_need_their_key_and_value(sdk, sender):
    with pytest.raises(ClientException) as raised:
        sdk.tag_resources_with_options(models.TagResourcesRequest(
            region_id="cn-hangzhou", resource_type="TEMPLATE", resource_id=[sender.otp],
            tag=[Tag(key="team")]), RT)
    assert raised.value.code == "MissingTag.1.Value"


def test_another_tenants_templates_cannot_be_tagged_nor_listed(server, sdk, sender,
                                                               other_tenant):
    tag(sdk, [sender.otp], team="growth")
    stranger = CoreClient(server.endpoint, other_tenant)
    answer = stranger.common("TagResources", {
        "RegionId": "cn-hangzhou", "ResourceType": "TEMPLATE", "ResourceId.1": sender.otp,
        "Tag.1.Key": "team", "Tag.1.Value": "mine"})
    assert answer["Code"] == "isv.SMS_TEMPLATE_ILLEGAL"
    assert stranger.common("ListTagResources", {
        "RegionId": "cn-hangzhou", "ResourceType": "TEMPLATE", "ResourceId.1": sender.otp}) \
        ["TagResources"]["TagResource"] == []
    assert stranger.common("GetSmsTemplateList", {"TemplateTag": "team"})["Data"]["Total"] == 0
    assert relations(sdk, resource_id=[sender.otp]) == [(sender.otp, "team", "growth")]
