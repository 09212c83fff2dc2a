"""Short URLs through the official SDK and Pigeon's redirector: AddShortUrl / QueryShortUrl /
DeleteShortUrl, visits counted on GET /s/<code>, smart short URLs per recipient with their
click log, and a short link in a template sent, counted and billed whole."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
import time_machine
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions

from pigeon.app import Pigeon
from pigeon.core.segments import count_segments
from pigeon.store.tables import messages
from tests.conftest import make_tenant
from tests.support import workflow
from tests.support.sdk import CoreClient, tea_client
from tests.support.sending import SIGN, ready_to_send, rows
from tests.support.server import LiveServer

RT = RuntimeOptions()
SOURCE = "https://www.lark.example/promo?from=sms&id=42"


def add(sdk, source: str = SOURCE, name: str = "会员日", days: str = "30"):
    return sdk.add_short_url_with_options(models.AddShortUrlRequest(
        source_url=source, short_url_name=name, effective_days=days), RT).body


def query(sdk, short_url: str):
    return sdk.query_short_url_with_options(models.QueryShortUrlRequest(short_url=short_url),
                                            RT).body


def visit(url: str, *, agent: str = "handset/1", method: str = "GET") -> httpx.Response:
    return httpx.request(method, url, headers={"User-Agent": agent}, follow_redirects=False,
                         timeout=10)


def test_a_short_url_redirects_to_its_source_and_counts_page_views_and_visitors(
        pigeon, server, sdk):
    body = add(sdk)
    assert body.code == "OK", body.message
    link = body.data.short_url
    assert link.startswith(f"http://{server.endpoint}/s/") and len(link.rsplit("/", 1)[1]) == 8
    assert body.data.source_url == SOURCE
    expected_expiry = pigeon.calendar.local_datetime_text(pigeon.now() + timedelta(days=30))
    assert body.data.expire_date[:13] == expected_expiry[:13]

    for agent in ("handset/1", "handset/1", "handset/2"):
        answer = visit(link, agent=agent)
        assert (answer.status_code, answer.headers["location"]) == (302, SOURCE)
    assert visit(link, method="HEAD").status_code == 302  # a preview: not counted

    data = query(sdk, link).data
    assert (data.page_view_count, data.unique_visitor_count) == ("3", "2")  # strings
    assert (data.short_url, data.source_url, data.short_url_name, data.short_url_status) == \
        (link, SOURCE, "会员日", "effective")
    assert data.create_date and data.expire_date
    assert query(sdk, link.rsplit("/", 1)[1]).data.short_url == link  # the bare code too


def test_an_expired_short_url_answers_410_and_says_expired(pigeon, server, sdk):
    link = add(sdk, days="1").data.short_url
    with time_machine.travel(pigeon.now() + timedelta(days=2), tick=False):
        assert visit(link).status_code == 410
        assert query(sdk, link).data.short_url_status == "expired"
    assert visit(f"http://{server.endpoint}/s/ABCDEFGH").status_code == 404
    assert visit(f"http://{server.endpoint}/s/not-a-code").status_code == 404


def test_delete_short_url_ends_every_link_to_the_source(sdk, server):
    first, second = add(sdk).data.short_url, add(sdk, name="会员日二").data.short_url
    body = sdk.delete_short_url_with_options(models.DeleteShortUrlRequest(source_url=SOURCE),
                                             RT).body
    assert body.code == "OK", body.message
    for link in (first, second):
        assert visit(link).status_code == 404
        gone = query(sdk, link)
        assert gone.code == "isv.INVALID_PARAMETERS" and "no short URL" in gone.message
    again = sdk.delete_short_url_with_options(models.DeleteShortUrlRequest(source_url=SOURCE),
                                              RT).body
    assert again.code == "isv.INVALID_PARAMETERS"


@pytest.mark.parametrize("change, words", [
    ({"days": "91"}, "1 to 90"),
    ({"days": "thirty"}, "1 to 90"),
    ({"name": "会员日会员日会员日会员日会员"}, "1 to 13"),
    ({"source": "ftp://files.lark.example/a"}, "http:// or https://"),
    ({"source": "https://www.lark.example/" + "a" * 1000}, "at most 1000"),
])
def test_add_short_url_refuses_what_breaks_a_limit(sdk, change, words):
    body = add(sdk, **change)
    assert body.code == "isv.INVALID_PARAMETERS" and words in body.message, body.message


def test_short_urls_use_the_configured_base(settings):
    pigeon = Pigeon(replace(settings, short_url_base="https://s.lark.example"))
    live = LiveServer(pigeon).start()
    try:
        sdk = tea_client(live.endpoint, make_tenant(pigeon))
        assert add(sdk).data.short_url.startswith("https://s.lark.example/s/")
    finally:
        live.stop()
        pigeon.close()


def test_smart_short_urls_are_made_per_number_and_their_clicks_logged(pigeon, server, sdk):
    body = sdk.create_smart_short_url_with_options(models.CreateSmartShortUrlRequest(
        source_url=SOURCE, phone_numbers="13700137000,+8613700137001", out_id="campaign-7"),
        RT).body
    assert body.code == "OK", body.message
    first, second = body.model
    assert (first.phone_number, second.phone_number) == ("13700137000", "13700137001")
    assert first.short_url != second.short_url and first.short_url.endswith(first.short_name)
    assert first.domain == server.endpoint
    expiry = (pigeon.now() + timedelta(days=30)).timestamp() * 1000
    assert abs(first.expiration - expiry) < 60_000

    assert visit(second.short_url).status_code == 302
    today = int(pigeon.calendar.local_date(pigeon.now()).strftime("%Y%m%d"))

    def log(**filters):
        request = {"create_date_start": today, "create_date_end": today, "page_no": 1,
                   "page_size": 10, **filters}
        answer = sdk.query_page_smart_short_url_log_with_options(
            models.QueryPageSmartShortUrlLogRequest(**request), RT).body
        assert answer.code == "OK" and answer.success is True, answer.message
        return answer.model

    model = log()
    assert (model.total_count, model.total_page, model.page_no) == (2, 1, 1)
    clicked = {item.phone_number: (item.click_state, item.click_time > 0)
               for item in model.list}
    assert clicked == {"13700137000": (0, False), "13700137001": (1, True)}
    assert [i.short_url for i in log(phone_number="13700137001").list] == [second.short_url]
    assert [i.phone_number for i in log(short_url=first.short_url).list] == ["13700137000"]
    now_ms = int(pigeon.now().timestamp() * 1000)
    assert log(create_date_start=now_ms - 60_000, create_date_end=now_ms + 60_000) \
        .total_count == 2
    assert log(create_date_start=now_ms + 60_000, create_date_end=now_ms + 120_000) \
        .total_count == 0


def test_a_smart_short_url_needs_valid_numbers(sdk):
    body = sdk.create_smart_short_url_with_options(models.CreateSmartShortUrlRequest(
        source_url=SOURCE, phone_numbers="1370013700"), RT).body
    assert body.code == "isv.MOBILE_NUMBER_ILLEGAL"


def test_a_short_link_in_a_template_is_sent_and_counted_whole(pigeon, server, sdk, core_sdk,
                                                             tenant):
    ready_to_send(pigeon, core_sdk, tenant.account_id)
    base = f"http://{server.endpoint}/s/"
    fixed = "您在云雀商城的订单已经发货，物流详情与签收说明请查看链接"
    template = workflow.create_template(
        core_sdk, SIGN, TemplateName="发货链接", TemplateType="1",
        TemplateContent=f"{fixed} {base}${{link}} 感谢惠顾",
        TemplateRule=json.dumps({"link": "link_param"}))
    assert template["Code"] == "OK", template
    code = template["TemplateCode"]
    assert core_sdk.common("GetSmsTemplate", {"TemplateCode": code})["TemplateStatus"] == "1"
    smart = sdk.create_smart_short_url_with_options(models.CreateSmartShortUrlRequest(
        source_url=SOURCE, phone_numbers="13700137000"), RT).body.model[0]

    sent = sdk.send_sms_with_options(models.SendSmsRequest(
        phone_numbers="13700137000", sign_name=SIGN, template_code=code,
        template_param=json.dumps({"link": smart.short_name})), RT).body
    assert sent.code == "OK", sent.message
    [message] = rows(pigeon, messages, tenant.account_id)
    content = f"【{SIGN}】{fixed} {smart.short_url} 感谢惠顾"
    assert message["content"] == content
    assert message["segments"] == count_segments(content, international=False).segments == 2

    whole_link = sdk.send_sms_with_options(models.SendSmsRequest(
        phone_numbers="13700137000", sign_name=SIGN, template_code=code,
        template_param=json.dumps({"link": smart.short_url})), RT).body
    assert whole_link.code == "isv.PARAM_NOT_SUPPORT_URL"


def test_another_tenants_short_urls_do_not_exist_for_a_stranger(server, sdk, other_tenant):
    link = add(sdk).data.short_url
    stranger = CoreClient(server.endpoint, other_tenant)
    assert stranger.common("QueryShortUrl", {"ShortUrl": link})["Code"] == \
        "isv.INVALID_PARAMETERS"
    assert stranger.common("DeleteShortUrl", {"SourceUrl": SOURCE})["Code"] == \
        "isv.INVALID_PARAMETERS"
    assert visit(link).status_code == 302
