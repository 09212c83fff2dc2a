"""The console over plain HTTP, on SQLite and PostgreSQL: sessions and their cookie, CSRF,
sign-in throttling, who reaches which page, escaping, and proof files."""

from __future__ import annotations

import re

import httpx
import pytest

from pigeon.services import console_users
from tests.conftest import make_tenant
from tests.support import workflow
from tests.support.sdk import CoreClient

PASSWORD = "correct horse battery"


def add_user(pigeon, account_id: int | None, email: str) -> None:
    pigeon.db.write_sync(console_users.create_user, account_id, email,
                         console_users.hash_password(PASSWORD), pigeon.now())


def signin_form(client: httpx.Client) -> str:
    page = client.get("/console/signin")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    token = signin_form(client)
    return client.post("/console/signin", data={"csrf": token, "email": email,
                                                "password": password, "next": "/console/"})


def csrf_of(client: httpx.Client, path: str = "/console/") -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text).group(1)


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def test_signing_in_sets_a_session_cookie_that_scripts_cannot_read(pigeon, tenant, client):
    add_user(pigeon, tenant.account_id, "Dev@Lark.example")
    answer = sign_in(client, "dev@lark.example")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    cookie = answer.headers["set-cookie"]
    assert "pigeon_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and re.search(r"Path=/(;|$)", cookie)  # /console and /ops
    page = client.get("/console/")
    assert page.status_code == 200 and "Overview" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self'
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    # The database keeps a hash of the token, never the token itself.
    token = client.cookies["pigeon_session"]
    assert pigeon.db.read_sync(console_users.session_user, token, pigeon.now())["email"] == \
        "dev@lark.example"
    assert pigeon.db.read_sync(console_users.session_user, token[:-1] + "x",
                               pigeon.now()) is None


def test_the_sign_in_form_needs_its_own_token(pigeon, tenant, client):
    add_user(pigeon, tenant.account_id, "dev@lark.example")
    answer = client.post("/console/signin", data={"csrf": "forged", "email": "dev@lark.example",
                                                  "password": PASSWORD})
    assert answer.status_code == 403
    assert "pigeon_session" not in client.cookies


def test_posts_without_the_session_token_are_refused(pigeon, tenant, client):
    add_user(pigeon, tenant.account_id, "dev@lark.example")
    sign_in(client, "dev@lark.example")
    for headers, data in (({}, {}), ({}, {"csrf": "forged"})):
        assert client.post("/console/accesskeys", data=data, headers=headers).status_code == 403
    assert client.post("/console/templates/check", json={"content": "x"}).status_code == 403
    token = csrf_of(client)
    checked = client.post("/console/templates/check", json={"content": "您好", "type": 1},
                          headers={"X-CSRF-Token": token})
    assert checked.status_code == 200 and "problems" in checked.json()
    assert client.post("/console/accesskeys", data={"csrf": token}).status_code == 200


def test_repeated_failures_lock_the_email_out_even_with_the_right_password(pigeon, tenant,
                                                                           client):
    add_user(pigeon, tenant.account_id, "dev@lark.example")
    for _ in range(console_users.MAX_FAILURES_PER_PAIR):
        assert sign_in(client, "dev@lark.example", "wrong password!").status_code == 401
    refused = sign_in(client, "dev@lark.example")
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
    assert "pigeon_session" not in client.cookies


def test_an_unknown_email_is_refused_like_a_wrong_password(client):
    answer = sign_in(client, "nobody@nowhere.example")
    assert answer.status_code == 401 and "Wrong email or password" in answer.text


def test_tenant_users_never_reach_operator_pages_and_operators_no_tenant_pages(
        pigeon, tenant, client, server):
    add_user(pigeon, tenant.account_id, "dev@lark.example")
    add_user(pigeon, None, "ops@pigeon.example")
    sign_in(client, "dev@lark.example")
    for path in ("/ops/", "/ops/tenants", "/ops/files/1"):
        assert client.get(path).status_code == 404
    with httpx.Client(base_url=server.url) as ops:
        assert sign_in(ops, "ops@pigeon.example").headers["location"] == "/ops/"
        assert ops.get("/ops/tenants").status_code == 200
        assert "Lark Technology" in ops.get("/ops/tenants").text
        redirected = ops.get("/console/templates")
        assert redirected.status_code == 303
        assert redirected.headers["location"] == "/ops/"


def test_signing_out_ends_the_session(pigeon, tenant, client):
    add_user(pigeon, tenant.account_id, "dev@lark.example")
    sign_in(client, "dev@lark.example")
    token = client.cookies["pigeon_session"]
    assert client.post("/console/signout", data={"csrf": csrf_of(client)}).status_code == 303
    assert pigeon.db.read_sync(console_users.session_user, token, pigeon.now()) is None
    client.cookies.set("pigeon_session", token, path="/console")
    assert client.get("/console/").status_code == 303  # back to sign-in


def test_message_text_is_shown_as_text_never_run(pigeon, tenant, other_tenant, client, server):
    core = CoreClient(server.endpoint, tenant)
    qualification = workflow.approved_qualification(core, pigeon)
    assert workflow.create_signature(core, qualification)["Code"] == "OK"
    created = workflow.create_template(
        core, "云雀科技", TemplateType="1", TemplateRule='{"order":"other_number2"}',
        TemplateContent='您的订单${order}<script>alert("x")</script>已发货')
    assert created["Code"] == "OK", created
    add_user(pigeon, tenant.account_id, "dev@lark.example")
    sign_in(client, "dev@lark.example")
    listed = client.get("/console/templates").text
    assert '<script>alert("x")' not in listed
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in listed
    assert '<mark class="var">${order}</mark>' in listed
    own = client.get(f"/console/templates/{created['TemplateCode']}")
    assert own.status_code == 200
    # Another tenant's template code answers as a missing one.
    add_user(pigeon, other_tenant.account_id, "dev@other.example")
    with httpx.Client(base_url=server.url) as other:
        sign_in(other, "dev@other.example")
        assert other.get(f"/console/templates/{created['TemplateCode']}").status_code == 404
        assert other.get(f"/console/qualifications/{qualification}").status_code == 404


def test_a_console_user_belongs_to_one_account(pigeon):
    make_tenant(pigeon, "Third Company")
    add_user(pigeon, None, "ops@pigeon.example")
    with pytest.raises(Exception, match="exists already"):
        add_user(pigeon, None, "OPS@pigeon.example")


def test_report_settings_are_saved_and_a_test_report_is_queued(pigeon, tenant, client):
    from pigeon.services import reports

    add_user(pigeon, tenant.account_id, "dev@lark.example")
    sign_in(client, "dev@lark.example")
    token = csrf_of(client, "/console/reports")
    bad = client.post("/console/reports", data={"csrf": token, "type": "SmsReport",
                                                "mode": "http", "url": "ftp://x"})
    assert bad.status_code == 400 and "http:// or https://" in bad.text
    saved = client.post("/console/reports", data={"csrf": token, "type": "SmsReport",
                                                  "mode": "http",
                                                  "url": "https://hooks.lark.example/sms"})
    assert saved.status_code == 303
    assert "https://hooks.lark.example/sms" in client.get("/console/reports").text
    queued = client.post("/console/reports/test", data={"csrf": token, "type": "SmsReport"})
    assert queued.status_code == 303
    events = pigeon.db.read_sync(reports.queued, tenant.account_id, "SmsReport")
    assert [e["payload"]["out_id"] for e in events] == ["pigeon-test"]
    assert events[0]["state"] == "pending"
