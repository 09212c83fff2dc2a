"""The console's language over plain HTTP, on SQLite and PostgreSQL: Accept-Language, the
switch and its cookie, <html lang>, refusals and notices in the chosen language, and pages that
show people's words — labels, pictures, masked numbers — where the API has field names."""

from __future__ import annotations

import re

import httpx
import pytest

from pigeon.services import qualifications
from tests.console.test_statistics_http import signed_in
from tests.support import workflow
from tests.support.images import png_bytes
from tests.support.sdk import CoreClient

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture
def client(pigeon, server, tenant):
    c = signed_in(pigeon, server, tenant.account_id, "dev@lark.example")
    yield c
    c.close()


def lang(page: httpx.Response) -> str:
    return re.search(r'<html lang="([^"]+)">', page.text).group(1)


def test_the_browsers_language_then_the_users_choice(server, client):
    assert lang(client.get("/console/")) == "en-US"
    page = client.get("/console/", headers=ZH)
    assert lang(page) == "zh-CN" and page.headers["content-language"] == "zh-CN"
    assert "概览" in page.text and "签名管理" in page.text and "退出登录" in page.text
    assert "Accept-Language" in page.headers["vary"]

    switched = client.get("/console/language/en-US", params={"next": "/console/records"},
                          headers=ZH)
    assert switched.status_code == 303 and switched.headers["location"] == "/console/records"
    assert "pigeon_lang=en-US" in switched.headers["set-cookie"]
    assert "Path=/" in switched.headers["set-cookie"]
    # The choice wins over the browser's language, on the tenant pages and at sign-in.
    assert lang(client.get("/console/records", headers=ZH)) == "en-US"
    client.get("/console/language/zh-CN", params={"next": "/console/"})
    assert lang(client.get("/console/")) == "zh-CN"
    with httpx.Client(base_url=server.url, cookies={"pigeon_lang": "zh-CN"}) as fresh:
        assert "登录 Pigeon" in fresh.get("/console/signin").text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/api/",
                                    "/console\\..\\x"])
def test_the_switch_goes_back_to_console_pages_only(client, target):
    answer = client.get("/console/language/zh-CN", params={"next": target})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"


def test_an_unknown_language_changes_nothing(client):
    answer = client.get("/console/language/fr-FR", params={"next": "/console/"})
    assert answer.status_code == 303 and "set-cookie" not in answer.headers


def test_a_refusal_in_the_users_language(client):
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/console/").text)
    answer = client.post("/console/quickstart/numbers", headers=ZH,
                         data={"csrf": csrf.group(1), "number": "12345"})
    assert answer.status_code == 400
    error = re.search(r'<p class="error" role="alert">([^<]*)</p>', answer.text).group(1)
    assert error == "12345 不是有效的手机号码。"
    bound = client.post("/console/quickstart/numbers", headers=ZH,
                        data={"csrf": csrf.group(1), "number": "13700137000"})
    assert "测试号码已绑定" in client.get(bound.headers["location"], headers=ZH).text


def csrf_of(client: httpx.Client) -> str:
    page = client.get("/console/")
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def submitted_in_the_console(client: httpx.Client, phone: str = workflow.ADMIN_PHONE) -> int:
    """A qualification submitted through the console's form, as a browser posts it: the
    validities from the date fields, the pictures uploaded, the code from the handset the
    "Send code" answer shows."""
    csrf = csrf_of(client)
    sent = client.post("/console/qualifications/phone-code", json={"phone": phone},
                       headers={"X-CSRF-Token": csrf})
    assert sent.status_code == 200, sent.text
    code = re.search(r"\d{6}", sent.json()["handset"]).group()
    fields = {k: v for k, v in workflow.QUALIFICATION.items()
              if k not in ("AdminIDCardFrontFace", "AdminIDCardPic")}
    for name in ("BussinessLicenseExpDate", "LegalPersonIdCardEffTime", "AdminIDCardExpDate"):
        first, last = fields.pop(name).split("~")
        fields[f"{name}.from"] = first
        if last == "2099-12-31":
            fields[f"{name}.long"] = "yes"
        else:
            fields[f"{name}.to"] = last
    fields.update(csrf=csrf, AdminPhoneNo=phone, CertifyCode=code)
    files = {"AdminIDCardFrontFace": ("front.png", png_bytes(), "image/png"),
             "AdminIDCardPic": ("back.png", png_bytes(), "image/png")}
    answer = client.post("/console/qualifications/new", data=fields, files=files)
    assert answer.status_code == 303, answer.text
    return int(re.search(r"/qualifications/(\d+)", answer.headers["location"]).group(1))


def visible(page: httpx.Response) -> str:
    return re.sub(r"<[^>]+>", " ", page.text)


def test_a_qualification_is_shown_in_peoples_words(pigeon, server, tenant, client):
    qualification_id = submitted_in_the_console(client)
    page = client.get(f"/console/qualifications/{qualification_id}", headers=ZH)
    assert page.status_code == 200
    text = visible(page)
    # Labels, not field names; the document type named; the ID number masked.
    assert "营业执照有效期" in text and "BussinessLicenseExpDate" not in text
    assert "居民身份证" in text and "identityCard" not in text
    assert "1101**********002X" in text and workflow.QUALIFICATION["AdminIDCardNo"] not in text
    assert "2020年1月1日 至 长期" in text
    # The uploaded pictures, served to their owner (and to nobody else).
    pictures = re.findall(r'<img src="(/console/files/\d+)"', page.text)
    row = pigeon.db.read_sync(qualifications.get_single, tenant.account_id,
                              int(qualification_id))
    assert row["details"]["AdminIDCardFrontFace"] not in page.text  # no object keys
    assert len(pictures) == 2
    assert client.get(pictures[0]).headers["content-type"] == "image/png"


def test_another_tenants_file_is_not_found(pigeon, server, tenant, other_tenant, client):
    theirs = signed_in(pigeon, server, other_tenant.account_id, "dev@other.example")
    qualification_id = submitted_in_the_console(theirs, "13900139000")
    page = theirs.get(f"/console/qualifications/{qualification_id}")
    picture = re.search(r'<img src="(/console/files/\d+)"', page.text).group(1)
    assert theirs.get(picture).status_code == 200
    assert client.get(picture).status_code == 404
    theirs.close()


def test_the_reviewer_is_never_named_to_the_tenant(pigeon, server, tenant, client):
    from pigeon.services import review

    core = CoreClient(server.endpoint, tenant)
    answer = workflow.submit_qualification(core, pigeon)
    # Decided by hand, as an operator would in /ops.
    [ticket] = [t for t in pigeon.db.read_sync(review.history, "qualification",
                                                int(answer["Data"])) if t["decided_by"]] or [None]
    page = client.get(f"/console/qualifications/{answer['Data']}")
    assert "auto-reviewer" not in page.text and "operator:" not in page.text
    assert ticket is None or "Automatic review" in page.text
