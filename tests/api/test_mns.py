"""MNS request signing, checked against the official client's own arithmetic: whatever
``aliyun-mns-sdk`` signs, Pigeon computes the same signature from the request as received."""

from __future__ import annotations

import base64
import hashlib

import pytest
from mns.auth import Credentials
from mns.mns_client import MNSClient

from pigeon.api import mns
from pigeon.core.errors import MnsError

SECRET = "DummyQueueSecretForSigningTests000000000"
DATE = "Thu, 07 Mar 2012 18:49:58 GMT"


def client_signature(method: str, headers: dict, resource: str) -> str:
    client = MNSClient("http://127.0.0.1:1")
    authorization = client.get_signature(method, headers, resource,
                                         Credentials("STS.key", SECRET, "token"))
    return authorization.removeprefix("MNS STS.key:")


@pytest.mark.parametrize(("method", "headers", "resource"), [
    ("GET", {"date": DATE, "x-mns-version": "2015-06-06"},
     "/queues/Alicom-Queue-1-SmsReport/messages?numOfMessages=16&waitseconds=30"),
    ("DELETE", {"date": DATE, "x-mns-version": "2015-06-06", "x-mns-user-request-id": "r-1",
                "content-md5": "ZmU1NDQ=", "content-type": "text/xml;charset=UTF-8"},
     "/queues/Alicom-Queue-1-SmsReport/messages"),
    ("PUT", {"date": DATE, "x-mns-version": "2015-06-06"},
     "/queues/q/messages?ReceiptHandle=ab12&VisibilityTimeout=10"),
])
def test_pigeon_signs_as_the_official_client_does(method, headers, resource):
    expected = client_signature(method, headers, resource)
    received = {"host": "127.0.0.1:8080", "user-agent": "x", "security-token": "t", **headers}
    assert mns.sign(SECRET, mns.string_to_sign(method, received, resource)) == expected


def test_the_content_md5_of_either_client_convention_is_accepted():
    body = b"<ReceiptHandles/>"
    hex_form = base64.b64encode(hashlib.md5(body).hexdigest().encode()).decode()  # Python SDK
    raw_form = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert mns._content_md5_matches(hex_form, body)
    assert mns._content_md5_matches(raw_form, body)
    assert not mns._content_md5_matches(raw_form, body + b" ")


@pytest.mark.parametrize("value", ["MNS", "MNS key", "MNS :sig", "MNS key:", "OSS key:sig",
                                   "Bearer x"])
def test_a_malformed_authorization_header_is_refused(value):
    with pytest.raises(MnsError) as raised:
        mns.parse_authorization(value)
    assert raised.value.code == "InvalidAuthorizationHeader"


@pytest.mark.parametrize("value", ["yesterday", "2012-03-07T18:49:58Z", ""])
def test_a_date_not_in_rfc_1123_is_refused(value):
    with pytest.raises(MnsError) as raised:
        mns.parse_date(value)
    assert raised.value.code == "InvalidDateHeader"
