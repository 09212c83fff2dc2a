"""The operator console (/ops) over plain HTTP, on SQLite and PostgreSQL: where it lives, who
reaches it, CSRF, and each page's actions — carrier registration, tenants and billing, prices,
connectors and routes, virtual handsets."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import httpx
import pytest
from starlette.routing import Route

from pigeon.console.routes import create_console
from pigeon.services import accounts, billing, connectors, handsets, reports, signatures
from pigeon.services import routes as routing
from pigeon.store.tables import signatures as signatures_table
from tests.console.test_http import add_user, csrf_of, sign_in
from tests.support import workflow
from tests.support.sdk import CoreClient

OPS = "ops@pigeon.example"
DEV = "dev@lark.example"


@pytest.fixture
def ops(pigeon, server):
    add_user(pigeon, None, OPS)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        sign_in(client, OPS)
        client.csrf = csrf_of(client, "/ops/")
        yield client


@pytest.fixture
def dev(pigeon, server, tenant):
    add_user(pigeon, tenant.account_id, DEV)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        sign_in(client, DEV)
        client.csrf = csrf_of(client, "/console/")
        yield client


def ops_routes(pigeon) -> list[tuple[str, str]]:
    """Every (method, example path) of the operator console, read from the app itself."""
    mounted = {mount.path: mount.app for mount in create_console(pigeon)}
    found = []
    for route in mounted["/ops"].routes:
        assert isinstance(route, Route)
        path = "/ops" + re.sub(r"\{[^}]+\}", "1", route.path)
        found += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return found


def error_of(page: httpx.Response) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page.text, re.S)
    return html.unescape(found.group(1)) if found else ""


# -- where it lives, who reaches it ---------------------------------------------------------

def test_an_operator_lands_on_ops_and_old_console_addresses_redirect_there(pigeon, server):
    add_user(pigeon, None, OPS)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        asked = client.get("/ops/tenants?sort=name")
        assert asked.status_code == 303
        assert asked.headers["location"] == "/console/signin?next=" + quote("/ops/tenants?sort=name")
        token = re.search(r'name="csrf" value="([^"]+)"', client.get(asked.headers["location"])
                          .text).group(1)
        signed = client.post("/console/signin", data={
            "csrf": token, "email": OPS, "password": "correct horse battery",
            "next": "/ops/tenants?sort=name"})
        assert signed.headers["location"] == "/ops/tenants?sort=name"
        assert "Path=/;" in signed.headers["set-cookie"]  # one session for /console and /ops
        for old, new in (("/console/operator", "/ops/"), ("/console/operator/", "/ops/"),
                         ("/console/operator/tenants?x=1", "/ops/tenants?x=1"),
                         ("/console/operator/review/signature/1/a", "/ops/review/signature/1/a")):
            moved = client.get(old)
            assert (moved.status_code, moved.headers["location"]) == (308, new)
        assert client.get("/ops").headers["location"].endswith("/ops/")
        assert client.get("/ops/").status_code == 200
        # Never an open redirect: another site or the API after sign-in is the home page.
        for target in ("https://evil.example/", "//evil.example/", "/ops\\@evil", "/"):
            assert client.get("/console/signin", params={"next": target}).headers[
                "location"] == "/ops/"


def test_a_session_from_before_the_move_is_carried_over_to_ops(pigeon, server):
    add_user(pigeon, None, OPS)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        sign_in(client, OPS)
        token = client.cookies["pigeon_session"]
    with httpx.Client(base_url=server.url, timeout=10) as old:
        old.cookies.set("pigeon_session", token, path="/console")  # as it was set before /ops
        sent_back = old.get("/ops/")
        assert sent_back.headers["location"].startswith("/console/signin?next=")
        carried = old.get(sent_back.headers["location"])
        assert carried.headers["location"] == "/ops/" and "Path=/;" in \
            carried.headers["set-cookie"]
        assert old.get("/ops/").status_code == 200


def test_a_tenant_user_gets_the_same_404_at_every_ops_address(pigeon, tenant, dev):
    missing = dev.get("/ops/no-such-page")
    assert missing.status_code == 404
    routes = ops_routes(pigeon)
    assert ("POST", "/ops/tenants/1/topup") in routes and ("GET", "/ops/handsets") in routes
    for method, path in routes + [("GET", "/ops/tenants/"), ("POST", "/ops/no-such-page")]:
        answer = dev.request(method, path, data={"csrf": dev.csrf, "amount": "100"})
        assert answer.status_code == 404, (method, path)
        assert answer.text == missing.text, (method, path)  # nothing tells a page from none
    assert pigeon.db.read_sync(billing.balance, tenant.account_id) == 0


def test_an_operator_is_sent_from_tenant_pages_to_ops(ops):
    for path in ("/console/", "/console/templates", "/console/quickstart"):
        answer = ops.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/ops/")


def test_every_ops_form_needs_the_sessions_csrf_token(pigeon, ops, tenant):
    posts = [path for method, path in ops_routes(pigeon) if method == "POST"]
    assert len(posts) >= 12
    for path in posts:
        path = path.replace("/tenants/1/", f"/tenants/{tenant.account_id}/")
        for data in ({}, {"csrf": "forged"}):
            answer = ops.post(path, data={**data, "amount": "100", "status": "suspended"})
            assert answer.status_code == 403, path
    assert ops.post("/ops/connectors/live.json", headers={"X-CSRF-Token": "forged"},
                    json={}).status_code == 404  # a GET-only address
    assert pigeon.db.read_sync(billing.balance, tenant.account_id) == 0
    assert pigeon.db.read_sync(accounts.require_account, tenant.account_id)["status"] == "active"


# -- carrier registration ---------------------------------------------------------------------

def _approved_signature(pigeon, server, tenant, name="云雀科技") -> int:
    core = CoreClient(server.endpoint, tenant)
    qualification = workflow.approved_qualification(core, pigeon)
    assert workflow.create_signature(core, qualification, name)["Code"] == "OK"
    return pigeon.db.read_sync(lambda conn: conn.execute(
        signatures_table.select().where(signatures_table.c.name == name)).one().id)


def test_the_registration_page_records_a_carriers_outcome(pigeon, server, tenant, ops):
    signature_id = _approved_signature(pigeon, server, tenant)
    page = ops.get("/ops/registration")
    assert page.status_code == 200 and 'data-sign="云雀科技"' in page.text
    assert page.text.count(">Registered</span>") == 3  # registration_delay 0: done at once
    assert "云雀科技" not in ops.get("/ops/registration?state=failed").text

    refused = ops.post(f"/ops/registration/{signature_id}",
                       data={"csrf": ops.csrf, "carrier": "mobile", "state": "failed"})
    assert refused.status_code == 400 and "needs the carrier's reason" in error_of(refused)
    failed = ops.post(f"/ops/registration/{signature_id}", data={
        "csrf": ops.csrf, "carrier": "mobile", "state": "failed", "shown": "registered",
        "reason": "<b>签名与营业执照不符</b>"})
    assert failed.status_code == 303
    assert failed.headers["location"] == "/ops/registration?notice=registration&state=registered"
    rows = {r["carrier"]: r for r in pigeon.db.read_sync(signatures.registrations, signature_id)}
    assert (rows["mobile"]["status"], rows["mobile"]["reason_text"]) == (0, "<b>签名与营业执照不符</b>")
    assert rows["unicom"]["status"] == 3
    listed = ops.get("/ops/registration?state=failed").text
    assert "云雀科技" in listed and "&lt;b&gt;签名与营业执照不符&lt;/b&gt;" in listed
    # The tenant's API sees it too.
    answer = CoreClient(server.endpoint, tenant).common("GetSmsSign", {"SignName": "云雀科技"})
    mobile = next(d for d in answer["SignIspRegisterDetailList"] if d["OperatorCode"] == "mobile")
    assert mobile["RegisterStatus"] == 0 and answer["RegisterResult"] == 0

    again = ops.post(f"/ops/registration/{signature_id}",
                     data={"csrf": ops.csrf, "carrier": "all", "state": "registered"})
    assert again.status_code == 303
    assert {r["status"] for r in pigeon.db.read_sync(signatures.registrations,
                                                     signature_id)} == {3}
    assert ops.post("/ops/registration/999999", data={
        "csrf": ops.csrf, "carrier": "all", "state": "registered"}).status_code == 404
    bad = ops.post(f"/ops/registration/{signature_id}",
                   data={"csrf": ops.csrf, "carrier": "vodafone", "state": "registered"})
    assert bad.status_code == 400 and "Choose Carrier from the list." == error_of(bad)


def test_the_registration_page_explains_what_to_do_when_empty(ops):
    page = ops.get("/ops/registration")
    assert page.status_code == 200 and "No approved signature yet" in page.text


# -- tenants, billing, prices ---------------------------------------------------------------

def test_an_operator_tops_up_adds_a_package_and_suspends_a_tenant(pigeon, tenant, ops):
    add_user(pigeon, tenant.account_id, DEV)
    base = f"/ops/tenants/{tenant.account_id}"
    listed = ops.get("/ops/tenants")
    assert f'href="{base}"' in listed.text and DEV in listed.text
    for search in ("LARK.example", str(tenant.account_id)):  # a user's address, the AccountId
        assert f'href="{base}"' in ops.get("/ops/tenants", params={"q": search}).text, search
    nothing = ops.get("/ops/tenants", params={"q": "no such tenant"})
    assert f'href="{base}"' not in nothing.text and "No tenant matches." in nothing.text

    for amount, problem in (("1e3", "amount in CNY"), ("-5", "amount in CNY"),
                            ("0.0451", "at most three decimals"), ("0", "more than 0")):
        refused = ops.post(f"{base}/topup", data={"csrf": ops.csrf, "amount": amount})
        assert refused.status_code == 400 and problem in error_of(refused), amount
        assert f'value="{amount}"' in refused.text  # what was typed comes back
    topped = ops.post(f"{base}/topup", data={"csrf": ops.csrf, "amount": "12.345",
                                             "note": "bank transfer <42>"})
    assert topped.status_code == 303 and topped.headers["location"] == f"{base}?notice=topup"
    assert pigeon.db.read_sync(billing.balance, tenant.account_id) == 12345
    page = ops.get(f"{base}?notice=topup")
    assert "12.345" in page.text and "bank transfer &lt;42&gt;" in page.text
    assert "Balance topped up" in page.text and DEV in page.text

    package = ops.post(f"{base}/packages", data={"csrf": ops.csrf, "type": "general",
                                                 "count": "1000", "expires": "2099-12-31"})
    assert package.status_code == 303
    shown = pigeon.db.read_sync(billing.overview, tenant.account_id, pigeon.now())
    assert [(p["type"], p["remaining"]) for p in shown["packages"]] == [("general", 1000)]
    assert 'data-test="package-units">1,000<' in ops.get(base).text
    for data, problem in (({"count": "many", "expires": "2099-12-31"}, "whole number"),
                          ({"count": "10", "expires": "2000-01-01"}, "already past"),
                          ({"count": "10", "expires": "next year"}, "last day")):
        refused = ops.post(f"{base}/packages", data={"csrf": ops.csrf, "type": "otp", **data})
        assert refused.status_code == 400 and problem in error_of(refused)

    assert ops.post(f"{base}/status", data={"csrf": ops.csrf, "status": "suspended"}) \
        .status_code == 303
    assert pigeon.db.read_sync(accounts.require_account, tenant.account_id)["status"] == \
        "suspended"
    assert "Resume the account" in ops.get(base).text
    assert ops.post(f"{base}/status", data={"csrf": ops.csrf, "status": "active"}) \
        .status_code == 303
    assert pigeon.db.read_sync(accounts.require_account, tenant.account_id)["status"] == "active"
    assert ops.post(f"{base}/status", data={"csrf": ops.csrf, "status": "deleted"}) \
        .status_code == 400

    own = ops.post(f"{base}/prices", data={"csrf": ops.csrf, "type": "otp", "price": "0.04"})
    assert own.status_code == 303
    prices = {p["type"]: p for p in pigeon.db.read_sync(billing.price_list, tenant.account_id)}
    assert (prices["otp"]["price_milli"], prices["otp"]["source"]) == (40, "account")
    assert ops.get("/ops/tenants/4242").status_code == 404
    assert ops.get("/ops/tenants/x").status_code == 404


def test_the_price_list_is_edited_exactly_and_all_or_nothing(pigeon, ops):
    page = ops.get("/ops/prices")
    assert 'name="price_otp" value="0.045"' in page.text
    refused = ops.post("/ops/prices", data={"csrf": ops.csrf, "price_otp": "0.05",
                                            "price_notification": "0.045",
                                            "price_promotional": "abc",
                                            "price_international": "0.300"})
    assert refused.status_code == 400 and "The price of Promotional" in error_of(refused)
    assert 'value="abc"' in refused.text
    assert pigeon.db.read_sync(billing.price_list)[0]["source"] == "default"  # nothing saved
    saved = ops.post("/ops/prices", data={"csrf": ops.csrf, "price_otp": "0.051",
                                          "price_notification": "0.045",
                                          "price_promotional": "0.055",
                                          "price_international": "0.3"})
    assert saved.status_code == 303
    prices = {p["type"]: p for p in pigeon.db.read_sync(billing.price_list)}
    assert (prices["otp"]["price_milli"], prices["otp"]["source"]) == (51, "platform")
    assert prices["notification"]["source"] == "default"  # unchanged: still Pigeon's default
    assert 'name="price_otp" value="0.051"' in ops.get("/ops/prices").text


# -- connectors and routes ----------------------------------------------------------------------

def test_an_operator_adds_a_connector_and_a_route_and_removes_them(pigeon, ops):
    form = {"csrf": ops.csrf, "name": "mobile-gz", "host": "127.0.0.1", "port": "2775",
            "system_id": "lark", "password": "s3cr3t!", "window": "20", "binds": "2",
            "bind_mode": "transceiver", "tps": "50"}
    refused = ops.post("/ops/connectors", data={**form, "port": "99999"})
    assert refused.status_code == 400 and "port" in error_of(refused)
    assert "s3cr3t!" not in refused.text  # the password never comes back
    assert ops.post("/ops/connectors", data=form).status_code == 303
    page = ops.get("/ops/connectors")
    assert 'data-connector="mobile-gz"' in page.text and "127.0.0.1:2775" in page.text
    assert "s3cr3t!" not in page.text
    assert pigeon.db.read_sync(connectors.specs, pigeon.box)[0].password == "s3cr3t!"
    live = ops.get("/ops/connectors/live.json").json()
    assert live["mobile-gz"]["state"] == "not running"  # no dispatcher in this server
    assert set(live) == {"mobile-gz", "simulator"}

    added = ops.post("/ops/routes", data={"csrf": ops.csrf, "connector": "mobile-gz",
                                          "carrier": "mobile", "template_type": "otp",
                                          "fallback": "simulator", "priority": ""})
    assert added.status_code == 303
    [route] = pigeon.db.read_sync(routing.listing)
    assert (route["connector"], route["carrier"], route["template_type"], route["fallback"]) \
        == ("mobile-gz", "mobile", "otp", "simulator")
    bad = ops.post("/ops/routes", data={"csrf": ops.csrf, "connector": "mobile-gz",
                                        "country": "abc"})
    assert bad.status_code == 400 and "country calling code" in error_of(bad)
    used = ops.post("/ops/connectors/mobile-gz/remove", data={"csrf": ops.csrf})
    assert used.status_code == 400 and "used by route" in error_of(used)

    assert ops.post("/ops/connectors/mobile-gz/enabled",
                    data={"csrf": ops.csrf, "enabled": "0"}).status_code == 303
    assert ops.get("/ops/connectors/live.json").json()["mobile-gz"]["state"] == "disabled"
    assert ops.post(f"/ops/routes/{route['id']}/remove", data={"csrf": ops.csrf}) \
        .status_code == 303
    assert ops.post("/ops/connectors/mobile-gz/remove", data={"csrf": ops.csrf}) \
        .status_code == 303
    assert [c["name"] for c in pigeon.db.read_sync(connectors.listing, pigeon.now())] == \
        ["simulator"]
    kept = ops.post("/ops/connectors/simulator/remove", data={"csrf": ops.csrf})
    assert kept.status_code == 400 and "cannot be removed" in error_of(kept)
    assert ops.post("/ops/routes/999/remove", data={"csrf": ops.csrf}).status_code == 400


# -- virtual handsets ---------------------------------------------------------------------------

def test_a_handset_shows_its_inbox_escaped_and_replies_reach_the_tenant(pigeon, server, tenant,
                                                                       ops):
    signature_id = _approved_signature(pigeon, server, tenant)
    code = pigeon.db.read_sync(signatures.get_by_id, tenant.account_id, signature_id)[
        "extension_code"]
    sender = pigeon.settings.access_code + code
    pigeon.db.write_sync(handsets.deliver, "13912345678", sender,
                         "【云雀科技】<script>alert(1)</script>您的订单已发货", pigeon.now())

    listed = ops.get("/ops/handsets")
    assert 'data-phone="13912345678"' in listed.text and "<script>alert(1)" not in listed.text
    opened = ops.get("/ops/handsets/open", params={"number": "+86 139 1234 5678"})
    assert opened.headers["location"] == "/ops/handsets/13912345678"
    assert ops.get("/ops/handsets/open", params={"number": "call me"}).status_code == 400
    page = ops.get("/ops/handsets/13912345678")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert f'<option value="{sender}">' in page.text

    replied = ops.post("/ops/handsets/13912345678/reply",
                       data={"csrf": ops.csrf, "to": sender, "text": "收到 <ok>"})
    assert replied.headers["location"] == "/ops/handsets/13912345678?replied=matched"
    [event] = pigeon.db.read_sync(reports.queued, tenant.account_id, "SmsUp")
    assert (event["payload"]["content"], event["payload"]["dest_code"],
            event["payload"]["phone_number"]) == ("收到 <ok>", code, "13912345678")
    conversation = ops.get("/ops/handsets/13912345678/messages.json").json()
    assert [(m["direction"], m["text"]) for m in conversation] == [
        ("in", "【云雀科技】<script>alert(1)</script>您的订单已发货"), ("out", "收到 <ok>")]
    assert conversation[1]["address"] == sender

    stray = ops.post("/ops/handsets/13912345678/reply",
                     data={"csrf": ops.csrf, "to": "99999", "text": "who is this"})
    assert stray.headers["location"].endswith("?replied=unmatched")
    assert "who is this" in ops.get("/ops/handsets").text  # under unmatched replies
    for data, problem in (({"to": "", "text": "x"}, "whom the reply goes to"),
                          ({"to": "abc", "text": "x"}, "must be digits"),
                          ({"to": sender, "text": ""}, "needs some text")):
        refused = ops.post("/ops/handsets/13912345678/reply", data={"csrf": ops.csrf, **data})
        assert refused.status_code == 400 and problem in error_of(refused), data
    assert ops.get("/ops/handsets/not-a-number").status_code == 404


def test_the_handsets_page_explains_what_to_do_when_empty(ops):
    page = ops.get("/ops/handsets")
    assert "No handset has received anything yet" in page.text
    assert "Every reply so far found its tenant" in page.text
