"""The official Alibaba Cloud SDKs, configured the way users point them at Pigeon."""

from __future__ import annotations

import json
from dataclasses import dataclass

from alibabacloud_dysmsapi20170525.client import Client as TeaClient
from alibabacloud_tea_openapi import models as open_api_models
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest


@dataclass(frozen=True)
class Tenant:
    account_id: int
    key_id: str
    secret: str


def tea_client(endpoint: str, tenant: Tenant, *, v1: bool = False) -> TeaClient:
    """``alibabacloud-dysmsapi20170525`` 4.6.0: V3 signatures, or V1 with ``v1=True``."""
    config = open_api_models.Config(access_key_id=tenant.key_id,
                                    access_key_secret=tenant.secret,
                                    endpoint=endpoint, protocol="http")
    if v1:
        config.signature_algorithm = "v2"
    return TeaClient(config)


class CoreClient:
    """``aliyun-python-sdk-core`` 2.16.1 (+ ``aliyun-python-sdk-dysmsapi``): V1 signatures."""

    def __init__(self, endpoint: str, tenant: Tenant) -> None:
        self.endpoint = endpoint
        self.client = AcsClient(tenant.key_id, tenant.secret, "cn-hangzhou")

    def typed(self, request) -> dict:
        request.set_endpoint(self.endpoint)
        return json.loads(self.client.do_action_with_exception(request))

    def common(self, action: str, params: dict, *, method: str = "POST") -> dict:
        request = CommonRequest(domain=self.endpoint, version="2017-05-25", action_name=action)
        request.set_method(method)
        request.set_protocol_type("http")
        for name, value in params.items():
            request.add_query_param(name, value)
        return json.loads(self.client.do_action_with_exception(request))
