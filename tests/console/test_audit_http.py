"""Every administrative form of the console writes the audit trail — a walk of every POST
route of /console and /ops, each either posted here and found in the trail (as the signed-in
user's, from the browser's address) or named as one that changes no setting — and the trail
is shown: all of it at /ops/audit, a tenant's own part at /console/audit."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import insert, select
from starlette.routing import Route

from pigeon.app import Pigeon
from pigeon.console.routes import create_console
from pigeon.services import accounts, alert_config, audit, review, routes
from pigeon.store.tables import signatures
from tests.console.test_http import add_user, csrf_of, sign_in
from tests.support.server import LiveServer

OPS = "ops@pigeon.example"
DEV = "dev@lark.example"

# Every POST route that changes a setting, and the action its entry names.
AUDITED = {
    "/console/signin": "user.sign_in",
    "/console/signout": "user.sign_out",
    "/console/quickstart/numbers": "testnumber.add",
    "/console/quickstart/numbers/remove": "testnumber.remove",
    "/console/accesskeys": "accesskey.create",
    "/console/accesskeys/{key_id}/status": "accesskey.disable",
    "/console/reports": "reports.set",
    "/console/security/caps": "limits.set",
    "/console/security/allow": "ip_allow_list.allow",
    "/console/security/deny": "ip_allow_list.deny",
    "/console/frequency/limits": "limits.set",
    "/console/frequency/whitelist": "whitelist.add",
    "/console/frequency/whitelist/remove": "whitelist.remove",
    "/console/contacts/add": "alert.contact.add",
    "/console/contacts/{id}/remove": "alert.contact.remove",
    "/console/contacts/channels": "alert.channel.add",
    "/console/contacts/channels/{id}/remove": "alert.channel.remove",
    "/console/alerts/rules": "alert.rule.add",
    "/console/alerts/rules/{id}/enabled": "alert.rule.disable",
    "/console/alerts/rules/{id}/remove": "alert.rule.remove",
    "/console/alerts/protections/lift": "protection.lift",
    "/ops/review/{ticket_id}/decide": "review.approve",
    "/ops/registration/{signature_id}": "signature.register",
    "/ops/alerts/contacts/add": "alert.contact.add",
    "/ops/alerts/contacts/{id}/remove": "alert.contact.remove",
    "/ops/alerts/channels": "alert.channel.add",
    "/ops/alerts/channels/{id}/remove": "alert.channel.remove",
    "/ops/tenants/{account_id}/topup": "balance.topup",
    "/ops/tenants/{account_id}/packages": "package.add",
    "/ops/tenants/{account_id}/status": "account.suspend",
    "/ops/tenants/{account_id}/prices": "price.set",
    "/ops/prices": "price.set",
    "/ops/connectors": "connector.add",
    "/ops/connectors/{name}/enabled": "connector.disable",
    "/ops/routes": "route.add",
    "/ops/routes/{route_id}/remove": "route.remove",
    "/ops/connectors/{name}/remove": "connector.remove",
}
# POST routes that change no setting, and why.
NOT_CHANGES = {
    **dict.fromkeys((
        "/console/qualifications/new", "/console/qualifications/{id}/edit",
        "/console/qualifications/{id}/delete", "/console/qualifications/phone-code",
        "/console/signatures", "/console/signatures/{id}/edit",
        "/console/signatures/{id}/delete", "/console/templates/new",
        "/console/templates/{code}/edit", "/console/templates/{code}/delete",
        "/console/templates/{code}/tags", "/console/templates/{code}/tags/remove",
        "/console/short-urls", "/console/short-urls/delete"),
        "a tenant's own content (submissions are reviewed; the decisions are audited)"),
    "/console/templates/check": "checks a text",
    **dict.fromkeys(("/console/quickstart/send", "/console/batch",
                     "/console/batch/{id:int}/send", "/console/batch/{id:int}/cancel"),
                    "sending"),
    "/console/reports/test": "queues a test report",
    "/console/contacts/channels/{id}/test": "sends a test notification",
    "/ops/alerts/channels/{id}/test": "sends a test notification",
    "/console/operator": "a redirect", "/console/operator/{rest:path}": "a redirect",
    "/ops/handsets/{number}/reply": "a simulated end user's reply",
}


def post_routes(pigeon) -> set[str]:
    found = set()
    for mount in create_console(pigeon):
        for route in getattr(mount.app, "routes", []):
            if isinstance(route, Route) and "POST" in (route.methods or ()):
                found.add(mount.path + route.path)
    return found


def test_every_form_is_known_as_a_change_or_not(pigeon):
    assert post_routes(pigeon) == set(AUDITED) | set(NOT_CHANGES), (
        "a console form was added or removed: say whether it changes a setting (AUDITED, "
        "with its audit action) or not (NOT_CHANGES)")


@pytest.fixture
def site(settings):
    pigeon = Pigeon(replace(settings, review_mode="manual"))
    live = LiveServer(pigeon).start()
    yield pigeon, live
    live.stop()
    pigeon.close()


def test_every_administrative_form_writes_the_audit_trail(site, tenant):
    pigeon, live = site
    account = tenant.account_id
    add_user(pigeon, account, DEV)
    add_user(pigeon, None, OPS)
    covered: set[str] = set()

    def last_seq() -> int:
        found = pigeon.db.read_sync(audit.entries, limit=1)
        return found[0]["seq"] if found else 0

    def check(pattern: str, since: int, actor: str) -> None:
        new = [e for e in pigeon.db.read_sync(audit.entries, limit=100) if e["seq"] > since]
        assert AUDITED[pattern] in [e["action"] for e in new], (pattern, new)
        assert {(e["actor_kind"], e["actor"], e["source"]) for e in new} == \
            {("console", actor, "127.0.0.1")}, (pattern, new)
        covered.add(pattern)

    def post(client, pattern: str, path: str, actor: str, **form) -> httpx.Response:
        since = last_seq()
        answer = client.post(path, data={"csrf": client.csrf, **form})
        assert answer.status_code in (200, 303), (path, answer.status_code, answer.text[-800:])
        check(pattern, since, actor)
        return answer

    with httpx.Client(base_url=live.url, timeout=10) as dev, \
            httpx.Client(base_url=live.url, timeout=10) as ops:
        since = last_seq()
        sign_in(dev, DEV)
        check("/console/signin", since, DEV)
        dev.csrf = csrf_of(dev, "/console/")
        sign_in(ops, OPS)
        ops.csrf = csrf_of(ops, "/ops/")
        operator = OPS + audit.OPERATOR

        def t(pattern, path=None, **form):
            return post(dev, pattern, path or pattern, DEV, **form)

        def o(pattern, path=None, **form):
            return post(ops, pattern, path or pattern, operator, **form)

        t("/console/quickstart/numbers", number="13800138001")
        t("/console/quickstart/numbers/remove", number="13800138001")
        t("/console/accesskeys")
        key = tenant.key_id
        t("/console/accesskeys/{key_id}/status", f"/console/accesskeys/{key}/status",
          status="disabled")
        t("/console/reports", type="SmsReport", mode="http", url="http://127.0.0.1:9/r")
        t("/console/security/caps", day_limit="100", month_limit="")
        t("/console/security/allow", entry="203.0.113.7")
        t("/console/security/deny", entry="203.0.113.7")
        t("/console/frequency/limits", otp_per_minute="1")
        t("/console/frequency/whitelist", number="13800138000")
        t("/console/frequency/whitelist/remove", number="13800138000")
        t("/console/contacts/add", name="Alice", phone="13800138002")
        [contact] = [c["id"] for c in pigeon.db.read_sync(alert_config.contacts, account)
                     if c["name"] == "Alice"]
        t("/console/contacts/channels", kind="sms", name="alice-sms")
        [channel] = [c["id"] for c in pigeon.db.read_sync(alert_config.channels, account)
                     if c["name"] == "alice-sms"]
        t("/console/contacts/channels/{id}/remove", f"/console/contacts/channels/{channel}/remove")
        t("/console/contacts/{id}/remove", f"/console/contacts/{contact}/remove")
        t("/console/alerts/rules", kind="balance", **{"balance.below": "10"})
        rule = max(r["id"] for r in pigeon.db.read_sync(alert_config.rules, account))
        t("/console/alerts/rules/{id}/enabled", f"/console/alerts/rules/{rule}/enabled",
          enabled="off")
        t("/console/alerts/rules/{id}/remove", f"/console/alerts/rules/{rule}/remove")
        t("/console/alerts/protections/lift", protection="all")

        o("/ops/alerts/contacts/add", name="On call", email="oncall@pigeon.example")
        [contact] = [c["id"] for c in pigeon.db.read_sync(alert_config.contacts, None)]
        o("/ops/alerts/channels", kind="email", name="oncall-mail")
        [channel] = [c["id"] for c in pigeon.db.read_sync(alert_config.channels, None)]
        o("/ops/alerts/channels/{id}/remove", f"/ops/alerts/channels/{channel}/remove")
        o("/ops/alerts/contacts/{id}/remove", f"/ops/alerts/contacts/{contact}/remove")
        o("/ops/tenants/{account_id}/topup", f"/ops/tenants/{account}/topup", amount="100")
        o("/ops/tenants/{account_id}/packages", f"/ops/tenants/{account}/packages",
          type="general", count="100", expires="2099-12-31")
        o("/ops/tenants/{account_id}/status", f"/ops/tenants/{account}/status",
          status="suspended")
        o("/ops/tenants/{account_id}/prices", f"/ops/tenants/{account}/prices",
          type="otp", price="0.05")
        o("/ops/prices", price_otp="0.041")
        o("/ops/connectors", name="smsc-a", host="127.0.0.1", port="2775",
          system_id="pigeon", password="secret")
        o("/ops/connectors/{name}/enabled", "/ops/connectors/smsc-a/enabled", enabled="0")
        o("/ops/routes", connector="smsc-a")
        [route] = [r["id"] for r in pigeon.db.read_sync(routes.listing)
                   if r["connector"] == "smsc-a"]
        o("/ops/routes/{route_id}/remove", f"/ops/routes/{route}/remove")
        o("/ops/connectors/{name}/remove", "/ops/connectors/smsc-a/remove")

        signature, ticket = pigeon.db.write_sync(_submitted_signature, pigeon, account)
        o("/ops/review/{ticket_id}/decide", f"/ops/review/{ticket}/decide",
          decision="approve")
        o("/ops/registration/{signature_id}", f"/ops/registration/{signature}",
          carrier="telecom", state="failed", reason="资质不符")

        # The trail, shown: all of it to operators, a tenant's own part to the tenant.
        page = ops.get("/ops/audit", params={"verify": "1"})
        assert page.status_code == 200
        assert "The chain is intact" in page.text
        assert 'data-action="connector.add"' in page.text
        mine = dev.get("/console/audit")
        assert mine.status_code == 200
        assert 'data-action="balance.topup"' in mine.text  # an operator's change, shown
        assert 'data-action="connector.add"' not in mine.text  # nothing of the platform's
        assert OPS not in mine.text  # who at the platform did it is not the tenant's business
        assert ops.get("/ops/audit").status_code == 200
        assert dev.get("/ops/audit").status_code == 404  # the tenant's user never sees it

        since = last_seq()
        dev.post("/console/signout", data={"csrf": dev.csrf})
        check("/console/signout", since, DEV)

    assert covered == set(AUDITED)
    assert pigeon.db.read_sync(audit.verify).ok
    assert re.search(tenant.secret, str(pigeon.db.read_sync(audit.entries, limit=1000))) is None


def _submitted_signature(conn, pigeon, account_id: int) -> tuple[int, int]:
    """A signature waiting for its review (as CreateSmsSign leaves it in manual mode)."""
    signature_id = conn.execute(insert(signatures).values(
        account_id=account_id, name="云雀科技", name_key="云雀科技", source=0, sign_type=1,
        status=0, extension_code="1234", remark="用于会员通知",
        created_at=pigeon.now())).inserted_primary_key[0]
    ticket = review.open_ticket(conn, pigeon.policy, account_id=account_id, kind="signature",
                                subject_id=signature_id, now=pigeon.now())
    assert conn.scalar(select(signatures.c.status).where(signatures.c.id == signature_id)) == 0
    return signature_id, ticket


def test_accounts_service_changes_outside_a_request_are_pigeons_own(pigeon):
    made = pigeon.db.write_sync(accounts.create_account, "Lark", pigeon.now())
    [entry] = pigeon.db.read_sync(audit.entries, account_id=int(made["AccountId"]))
    assert (entry["actor_kind"], entry["actor"]) == ("system", "pigeon")
