"""Security and Sending Frequency over plain HTTP, on SQLite and PostgreSQL: each setting is
saved through the same services the CLI and the sending path read, bad input is answered on
the page, and the console is never subject to the API's IP allow-list."""

from __future__ import annotations

import re

import httpx
import pytest

from pigeon.services import console_users, ip_allow_list, number_lists, sending_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def client(pigeon, server, tenant):
    pigeon.db.write_sync(console_users.create_user, tenant.account_id, "dev@lark.example",
                         console_users.hash_password(PASSWORD), pigeon.now())
    with httpx.Client(base_url=server.url, timeout=10) as c:
        page = c.get("/console/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        signed = c.post("/console/signin", data={"csrf": token, "email": "dev@lark.example",
                                                 "password": PASSWORD, "next": "/console/"})
        assert signed.status_code == 303
        yield c


def post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    token = re.search(r'name="csrf-token" content="([^"]+)"',
                      client.get("/console/security").text).group(1)
    return client.post(path, data={"csrf": token, **fields})


def error_of(page: httpx.Response) -> str:
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', page.text)
    assert found, page.text[:500]
    return found.group(1)


def settings_of(pigeon, tenant) -> dict:
    return pigeon.db.read_sync(sending_settings.settings, tenant.account_id)


# -- Security: caps ------------------------------------------------------------------------------

def test_the_security_page_shows_caps_and_an_empty_allow_list(client):
    page = client.get("/console/security")
    assert page.status_code == 200
    assert 'class="here"' in page.text and "Sending caps" in page.text
    assert "API calls are accepted from every address" in page.text
    assert "Forbidden.RAM" in page.text


def test_saving_the_caps_stores_them_and_an_empty_field_clears_one(pigeon, tenant, client):
    saved = post(client, "/console/security/caps", day_limit="1000", month_limit="20000")
    assert saved.status_code == 303 and saved.headers["location"] == \
        "/console/security?notice=caps"
    assert (settings_of(pigeon, tenant)["day_limit"],
            settings_of(pigeon, tenant)["month_limit"]) == (1000, 20000)
    page = client.get(saved.headers["location"])
    assert "Sending caps saved." in page.text and 'value="1000"' in page.text
    post(client, "/console/security/caps", day_limit="", month_limit="20000")
    assert settings_of(pigeon, tenant)["day_limit"] is None


@pytest.mark.parametrize("fields, fragment", [
    ({"day_limit": "lots", "month_limit": ""}, "Daily cap must be a whole number"),
    ({"day_limit": "0", "month_limit": ""}, "Daily cap must be a whole number from 1 to "),
    ({"day_limit": "-5", "month_limit": ""}, "Daily cap must be a whole number"),
    ({"day_limit": "", "month_limit": "１２"}, "Monthly cap must be a whole number"),
    ({"day_limit": "99999999999999999999", "month_limit": ""}, "from 1 to 1000000000"),
])
def test_a_bad_cap_is_answered_on_the_page_and_nothing_changes(pigeon, tenant, client, fields,
                                                               fragment):
    answer = post(client, "/console/security/caps", **fields)
    assert answer.status_code == 400
    assert fragment in error_of(answer)
    assert settings_of(pigeon, tenant)["day_limit"] is None


# -- Security: IP allow-list -------------------------------------------------------------------

def test_adding_and_removing_allow_list_entries(pigeon, tenant, client):
    added = post(client, "/console/security/allow", entry="203.0.113.0/24")
    assert added.status_code == 303
    post(client, "/console/security/allow", entry="2001:db8::1")
    listed = pigeon.db.read_sync(ip_allow_list.entries, tenant.account_id)
    assert [e["entry"] for e in listed["entries"]] == ["203.0.113.0/24", "2001:db8::1"]
    page = client.get("/console/security")
    assert "<code>203.0.113.0/24</code>" in page.text and "2 of 100 entries" in page.text
    # The console works although this browser (127.0.0.1) is not on the list.
    assert page.status_code == 200
    removed = post(client, "/console/security/deny", entry="2001:db8::1/128")
    assert removed.status_code == 303
    assert [e["entry"] for e in pigeon.db.read_sync(
        ip_allow_list.entries, tenant.account_id)["entries"]] == ["203.0.113.0/24"]


@pytest.mark.parametrize("entry, fragment", [
    ("my office", "is not an IPv4 or IPv6 address or a CIDR range"),
    ("10.1.2.3/8", "the range it belongs to is 10.0.0.0/8"),
    ("<script>", "is not an IPv4 or IPv6 address"),
])
def test_a_bad_allow_list_entry_is_answered_on_the_page(pigeon, tenant, client, entry,
                                                        fragment):
    answer = post(client, "/console/security/allow", entry=entry)
    assert answer.status_code == 400
    assert fragment in error_of(answer)
    assert "<script>" not in answer.text  # shown escaped
    assert pigeon.db.read_sync(ip_allow_list.entries, tenant.account_id)["allow_all"]


def test_removing_an_entry_that_is_not_listed_says_so(client):
    answer = post(client, "/console/security/deny", entry="198.51.100.1")
    assert answer.status_code == 400 and "is not on the IP allow-list" in error_of(answer)


# -- Sending Frequency -------------------------------------------------------------------------

def test_the_frequency_page_shows_defaults_and_limits_in_force(pigeon, tenant, client):
    pigeon.db.write_sync(sending_settings.set_limits, tenant.account_id, otp_per_hour=3)
    page = client.get("/console/frequency")
    assert page.status_code == 200
    row = re.search(r'<tr data-limit="otp_per_hour">(.*?)</tr>', page.text, re.S).group(1)
    assert "<td>5</td>" in row  # the platform's limit
    assert 'value="3"' in row and '<td data-test="in-force">3</td>' in row
    assert "No number is whitelisted" in page.text


def test_saving_the_limits_lowers_them_and_an_empty_field_restores_the_default(
        pigeon, tenant, client):
    saved = post(client, "/console/frequency/limits", otp_per_minute="1", otp_per_hour="2",
                 otp_per_day="", other_per_day="20")
    assert saved.status_code == 303
    shown = settings_of(pigeon, tenant)
    assert (shown["otp_per_hour"], shown["otp_per_day"], shown["other_per_day"]) == (2, None, 20)
    assert shown["in_force"]["otp_per_day"] == 10
    assert "Per-number limits saved." in client.get(saved.headers["location"]).text


@pytest.mark.parametrize("fields, fragment", [
    ({"otp_per_hour": "6"}, "may only be lowered"),
    ({"other_per_day": "0"}, "must be at least 1"),
    ({"otp_per_day": "ten"}, "Verification codes per 24 hours must be a whole number"),
])
def test_a_limit_above_the_platform_or_not_a_number_is_refused_on_the_page(
        pigeon, tenant, client, fields, fragment):
    answer = post(client, "/console/frequency/limits", **fields)
    assert answer.status_code == 400 and fragment in error_of(answer)
    assert settings_of(pigeon, tenant)["in_force"]["otp_per_hour"] == 5
    for value in fields.values():  # what was typed stays in the form
        assert f'value="{value}"' in answer.text


def test_whitelisting_a_number_and_removing_it(pigeon, tenant, client):
    added = post(client, "/console/frequency/whitelist", number="+8613800138000")
    assert added.status_code == 303
    assert [n["number"] for n in pigeon.db.read_sync(
        number_lists.numbers, tenant.account_id, number_lists.WHITELIST)] == ["13800138000"]
    assert "13800138000" in client.get("/console/frequency").text
    removed = post(client, "/console/frequency/whitelist/remove", number="13800138000")
    assert removed.status_code == 303
    assert pigeon.db.read_sync(number_lists.numbers, tenant.account_id,
                               number_lists.WHITELIST) == []


def test_a_bad_number_is_answered_on_the_page(client):
    answer = post(client, "/console/frequency/whitelist", number="12345")
    assert answer.status_code == 400 and error_of(answer)
    assert 'value="12345"' in answer.text


def test_posts_need_the_csrf_token(pigeon, tenant, client):
    assert client.post("/console/security/allow", data={"entry": "1.2.3.4"}).status_code == 403
    assert pigeon.db.read_sync(ip_allow_list.entries, tenant.account_id)["allow_all"]
