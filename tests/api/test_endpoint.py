"""The RPC endpoint's gateway behaviour, as the official clients see it (spec/wire.md §5–7)."""

from __future__ import annotations

import json

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkdysmsapi.request.v20170525 import QuerySmsSignListRequest

from pigeon.services import accounts
from tests.support import signer
from tests.support.sdk import CoreClient, Tenant, tea_client
from tests.support.waiting import wait_until


def test_an_unknown_action_is_a_404_the_sdk_raises(core_sdk):
    with pytest.raises(ServerException) as caught:
        core_sdk.common("SendFax", {"To": "1"})
    assert caught.value.get_http_status() == 404
    assert caught.value.get_error_code() == "InvalidAction.NotFound"


def test_a_missing_required_parameter_is_a_400_naming_it(sdk):
    with pytest.raises(ClientException) as caught:
        sdk.get_sms_sign_with_options(models.GetSmsSignRequest(), _runtime())
    assert caught.value.status_code == 400
    assert caught.value.code == "MissingSignName"
    assert "SignName is mandatory for this action." in caught.value.message


def test_a_business_error_is_http_200_and_the_sdk_returns_normally(sdk):
    response = sdk.get_sms_sign_with_options(models.GetSmsSignRequest(sign_name="无此签名"),
                                             _runtime())
    assert response.status_code == 200
    assert response.body.code == "isv.SMS_SIGNATURE_ILLEGAL"
    assert response.body.request_id


def test_a_wrong_secret_is_reported_by_the_old_sdk_as_a_wrong_secret(server, tenant):
    wrong = Tenant(tenant.account_id, tenant.key_id, tenant.secret + "x")
    with pytest.raises(ServerException) as caught:
        CoreClient(server.endpoint, wrong).typed(QuerySmsSignListRequest.QuerySmsSignListRequest())
    # (Only typed requests: CommonRequest keeps its string to sign where this check misses it.)
    # aliyunsdkcore compares our "server string to sign is:<sts>" with its own and, when they
    # match, knows the secret is wrong: the message format is what makes that possible.
    assert caught.value.get_error_code() == "InvalidAccessKeySecret"


def test_a_wrong_secret_makes_the_new_sdk_raise_signature_does_not_match(server, tenant):
    wrong = Tenant(tenant.account_id, tenant.key_id, "not-the-secret")
    with pytest.raises(ClientException) as caught:
        tea_client(server.endpoint, wrong).query_sms_sign_list_with_options(
            models.QuerySmsSignListRequest(), _runtime())
    assert caught.value.status_code == 400
    assert caught.value.code == "SignatureDoesNotMatch"


def test_an_unknown_key_is_a_404(server, tenant):
    stranger = Tenant(tenant.account_id, "LTAI5tNoSuchKey000000000", tenant.secret)
    with pytest.raises(ClientException) as caught:
        tea_client(server.endpoint, stranger).query_sms_sign_list_with_options(
            models.QuerySmsSignListRequest(), _runtime())
    assert caught.value.status_code == 404
    assert caught.value.code == "InvalidAccessKeyId.NotFound"


def test_a_disabled_key_is_refused_within_the_cache_time(pigeon, server, tenant, sdk):
    assert sdk.query_sms_sign_list_with_options(models.QuerySmsSignListRequest(),
                                                _runtime()).body.code == "OK"
    pigeon.db.write_sync(accounts.set_access_key_status, tenant.key_id, "disabled")

    def refused() -> bool:
        try:
            sdk.query_sms_sign_list_with_options(models.QuerySmsSignListRequest(), _runtime())
        except ClientException as exc:
            assert exc.code == "InvalidAccessKeyId.Inactive"
            return True
        return False

    # Within the key cache's 2 s; the deadline is generous for a loaded machine.
    wait_until(refused, interval=0.2, what="the disabled key to be refused")


def test_pop_core_get_with_everything_in_the_query_works(server, tenant):
    params = signer.v1_params(tenant, "QuerySmsSignList", {"PageSize": "5"}, method="GET")
    with signer.client(server.url) as http:
        response = http.get("/", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.json()["Code"] == "OK"
    assert response.json()["PageSize"] == 5


def test_pop_core_post_with_everything_in_the_body_works(server, tenant):
    params = signer.v1_params(tenant, "QuerySmsSignList", {}, method="POST")
    with signer.client(server.url) as http:
        response = http.post("/", content=signer.form(params),
                             headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    assert response.json()["Code"] == "OK"


def test_a_chunked_form_body_is_read_and_verified(server, tenant):
    # Node's SDK sends its form bodies chunked, with no Content-Length.
    body = signer.form({"PageSize": "7"})
    headers = signer.v3_headers(tenant, server.endpoint, "QuerySmsSignList", {}, body,
                                content_type="application/x-www-form-urlencoded")

    def chunks():
        yield body[:3]
        yield body[3:]

    with signer.client(server.url) as http:
        response = http.post("/", content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 200, response.text
    assert response.json()["PageSize"] == 7


def test_extra_body_bytes_break_a_v3_signature(server, tenant):
    body = signer.form({"PageSize": "7"})
    headers = signer.v3_headers(tenant, server.endpoint, "QuerySmsSignList", {}, body,
                                content_type="application/x-www-form-urlencoded")
    with signer.client(server.url) as http:
        response = http.post("/", content=body + b"&x=1", headers=headers)
    assert response.status_code == 400
    assert response.json()["Code"] == "SignatureDoesNotMatch"


def test_a_method_other_than_get_and_post_gets_the_api_error_not_a_bare_405(server, tenant):
    with signer.client(server.url) as http:
        response = http.put("/", params=signer.v1_params(tenant, "QuerySmsSignList", {}))
        head = http.head("/")
        other = http.put("/healthz")  # the other routes: still the router's answer
    assert response.status_code == 400
    assert response.json()["Code"] == "UnsupportedHTTPMethod"
    assert response.json()["RequestId"]
    assert head.status_code == 400 and head.content == b""
    assert other.status_code == 405


def test_every_answer_is_a_json_object_with_the_envelope(server):
    with signer.client(server.url) as http:
        for response in (http.get("/"), http.post("/", content=b"\xff\xfe"),
                         http.get("/?Action=SendSms&Version=2017-05-25")):
            body = response.json()
            assert set(body) >= {"RequestId", "Code", "Message"}
            assert response.status_code in (400, 404)
            assert "Traceback" not in response.text


def test_a_wrong_version_is_refused(server, tenant):
    params = signer.v1_params(tenant, "QuerySmsSignList", {"Version": "2099-01-01"})
    with signer.client(server.url) as http:
        response = http.post("/", params=params)
    assert response.json()["Code"] == "InvalidVersion"


def test_a_non_number_where_a_number_belongs_is_invalid_parameter(server, tenant):
    params = signer.v1_params(tenant, "QuerySmsSignList", {"PageSize": "ten"})
    with signer.client(server.url) as http:
        response = http.post("/", params=params)
    assert response.status_code == 400
    assert response.json()["Code"] == "InvalidPageSize"


def test_request_ids_are_unique(server):
    with signer.client(server.url) as http:
        ids = {http.get("/").json()["RequestId"] for _ in range(5)}
    assert len(ids) == 5


def test_the_error_body_is_the_documented_shape(server, tenant):
    params = signer.v1_params(tenant, "QuerySmsSignList", {})
    params["Signature"] = "AAAA"
    with signer.client(server.url) as http:
        response = http.post("/", params=params)
    body = response.json()
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["Message"].startswith(
        "Specified signature is not matched with our calculation. server string to sign is:")
    assert json.dumps(body)  # plain JSON types


def _runtime():
    from alibabacloud_tea_util.models import RuntimeOptions

    return RuntimeOptions()
