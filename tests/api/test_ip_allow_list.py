"""The IP allow-list for API calls, as the official SDKs meet it: every signed action from an
address outside a non-empty list is refused with HTTP 403 ``Forbidden.RAM`` (docs/api.md);
``X-Forwarded-For`` counts only from a trusted proxy (``PIGEON_TRUSTED_PROXIES``)."""

from __future__ import annotations

import json
from dataclasses import replace
from ipaddress import ip_network

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.request import CommonRequest

from pigeon.app import Pigeon
from pigeon.services import ip_allow_list
from tests.conftest import make_tenant
from tests.support.sdk import CoreClient, tea_client
from tests.support.server import LiveServer

RT = RuntimeOptions()


def allow(pigeon, tenant, *entries: str) -> None:
    # Set before the key's first call: the key lookup (and its list) is cached for 2 s.
    for entry in entries:
        pigeon.db.write_sync(ip_allow_list.allow, tenant.account_id, entry, pigeon.now())


def query_signs(sdk):
    return sdk.query_sms_sign_list_with_options(models.QuerySmsSignListRequest(), RT).body


def core_call(server, tenant, action: str, params: dict, headers: dict | None = None) -> dict:
    """An action through aliyunsdkcore's CommonRequest, with extra HTTP headers."""
    client = CoreClient(server.endpoint, tenant)
    request = CommonRequest(domain=server.endpoint, version="2017-05-25", action_name=action)
    request.set_method("POST")
    request.set_protocol_type("http")
    for name, value in params.items():
        request.add_query_param(name, value)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    return json.loads(client.client.do_action_with_exception(request))


def test_an_empty_list_allows_every_address(sdk):
    assert query_signs(sdk).code == "OK"


def test_a_listed_loopback_address_is_allowed(pigeon, server, tenant):
    allow(pigeon, tenant, "203.0.113.0/24", "127.0.0.1")
    sdk = tea_client(server.endpoint, tenant)
    assert query_signs(sdk).code == "OK"
    sent = sdk.send_sms_with_options(models.SendSmsRequest(
        phone_numbers="13800138000", sign_name="无此签名", template_code="SMS_1"), RT).body
    assert sent.code == "isv.SMS_TEMPLATE_ILLEGAL"  # past the gate, into the action


def test_a_listed_range_allows_the_addresses_in_it(pigeon, server, tenant):
    allow(pigeon, tenant, "127.0.0.0/8")
    assert query_signs(tea_client(server.endpoint, tenant)).code == "OK"


@pytest.mark.parametrize("call", [
    lambda sdk: query_signs(sdk),
    lambda sdk: sdk.send_sms_with_options(models.SendSmsRequest(
        phone_numbers="13800138000", sign_name="云雀科技", template_code="SMS_1"), RT),
    lambda sdk: sdk.query_send_statistics_with_options(models.QuerySendStatisticsRequest(
        is_globe=1, start_date="20250101", end_date="20250101", page_index=1,
        page_size=10), RT),
], ids=["QuerySmsSignList", "SendSms", "QuerySendStatistics"])
def test_every_action_from_outside_the_list_is_refused_with_forbidden_ram(
        pigeon, server, tenant, call):
    allow(pigeon, tenant, "203.0.113.0/24", "2001:db8::/32")
    with pytest.raises(ClientException) as caught:
        call(tea_client(server.endpoint, tenant))
    assert caught.value.status_code == 403
    assert caught.value.code == "Forbidden.RAM"
    assert "127.0.0.1" in caught.value.message and "IP allow-list" in caught.value.message


def test_the_v1_sdk_sees_the_same_refusal(pigeon, server, tenant):
    allow(pigeon, tenant, "203.0.113.0/24")
    with pytest.raises(ServerException) as caught:
        CoreClient(server.endpoint, tenant).common("QuerySmsSignList", {})
    assert caught.value.get_http_status() == 403
    assert caught.value.get_error_code() == "Forbidden.RAM"


def test_the_list_of_one_tenant_leaves_another_alone(pigeon, server, tenant, other_tenant):
    allow(pigeon, tenant, "203.0.113.0/24")
    assert query_signs(tea_client(server.endpoint, other_tenant)).code == "OK"


def test_x_forwarded_for_is_ignored_without_trusted_proxies(pigeon, server, tenant):
    allow(pigeon, tenant, "203.0.113.0/24")
    with pytest.raises(ServerException) as caught:
        core_call(server, tenant, "QuerySmsSignList", {},
                  headers={"X-Forwarded-For": "203.0.113.9"})
    assert caught.value.get_error_code() == "Forbidden.RAM"
    assert "127.0.0.1" in caught.value.get_error_msg()


@pytest.fixture
def proxied(settings):
    """Pigeon behind a reverse proxy on the loopback address (PIGEON_TRUSTED_PROXIES)."""
    pigeon = Pigeon(replace(settings, trusted_proxies=(ip_network("127.0.0.1"),)))
    live = LiveServer(pigeon).start()
    yield pigeon, live
    live.stop()
    pigeon.close()


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(proxied):
    pigeon, server = proxied
    tenant = make_tenant(pigeon)
    allow(pigeon, tenant, "203.0.113.0/24")
    answer = core_call(server, tenant, "QuerySmsSignList", {},
                       headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
    assert answer["Code"] == "OK"
    with pytest.raises(ServerException) as caught:
        core_call(server, tenant, "QuerySmsSignList", {},
                  headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})
    assert caught.value.get_error_code() == "Forbidden.RAM"
    assert "198.51.100.1" in caught.value.get_error_msg()


def test_a_change_applies_to_keys_looked_up_after_it(pigeon, server, tenant):
    assert query_signs(tea_client(server.endpoint, tenant)).code == "OK"
    allow(pigeon, tenant, "203.0.113.0/24")
    # A key not yet in this process's cache reads the new list at once (a cached one within
    # the cache's 2 s).
    fresh = make_tenant(pigeon, "Lark Ops")
    allow(pigeon, fresh, "203.0.113.0/24")
    with pytest.raises(ClientException) as caught:
        query_signs(tea_client(server.endpoint, fresh))
    assert caught.value.code == "Forbidden.RAM"
    pigeon.db.write_sync(ip_allow_list.deny, fresh.account_id, "203.0.113.0/24")
    second_key = make_tenant(pigeon, "Lark Ops 2")
    assert query_signs(tea_client(server.endpoint, second_key)).code == "OK"
