"""The console's words: every string the pages and handlers show has its Chinese translation,
the language is chosen as docs/console.md says, and refusals reach people in their language
with labels instead of the API's field names."""

from __future__ import annotations

import re
import runpy
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from pigeon.console import error_text, i18n, words
from pigeon.console.overview import Facts, next_steps
from pigeon.core.errors import PigeonError

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = runpy.run_path(str(ROOT / "scripts" / "catalogue"))
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_every_string_of_the_console_has_its_chinese_translation():
    """What scripts/catalogue extracts now (templates and Python) against the committed .po:
    a string added to a page without a translation fails here."""
    template = CATALOGUE["extract"]()
    with i18n.po_path(i18n.ZH).open("rb") as file:
        po = read_po(file, locale="zh_CN")
    assert len(template) > 1000
    assert CATALOGUE["untranslated"](po, template) == []


def test_translations_keep_every_placeholder():
    with i18n.po_path(i18n.ZH).open("rb") as file:
        po = read_po(file, locale="zh_CN")
    for message in po:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1])) - ({"num"} if len(ids) > 1 else set())
        for text in strings:
            assert wanted <= set(PLACEHOLDER.findall(text)), (ids[0], text)


@pytest.mark.parametrize("cookie, header, chosen", [
    (None, None, "en-US"),
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    (None, "zh-TW", "zh-CN"),
    (None, "fr-FR,en-GB;q=0.8,zh;q=0.5", "en-US"),
    (None, "fr-FR,zh;q=0.5,en;q=0.2", "zh-CN"),
    (None, "fr-FR", "en-US"),
    (None, "en;q=0, zh", "zh-CN"),
    ("en-US", "zh-CN", "en-US"),  # the user's choice first
    ("zh-CN", "en-US", "zh-CN"),
    ("xx", "zh-CN", "zh-CN"),  # a cookie that names no language is ignored
])
def test_the_users_choice_then_accept_language(cookie, header, chosen):
    assert i18n.choose(cookie, header).tag == chosen


def test_dates_and_money_as_each_language_writes_them():
    moment = datetime(2027, 3, 1, 2, 5, tzinfo=UTC)
    zone = ZoneInfo("Asia/Shanghai")
    with i18n.using(i18n.ZH):
        assert i18n.format_datetime(moment, zone) == "2027年3月1日 10:05:00"
        assert i18n.format_money(45) == "¥0.045" and i18n.format_money(100_000) == "¥100.00"
        assert i18n.format_date(date(2027, 3, 1)) == "2027年3月1日"
        assert i18n.gettext("Approved") == "审核通过"
    with i18n.using(i18n.EN):
        assert i18n.format_datetime(moment, zone).startswith("Mar 1, 2027, 10:05:00")
        assert i18n.format_money(45) == "CN¥0.045"
        assert i18n.gettext("Approved") == "Approved"


@pytest.mark.parametrize("code, message, english, chinese", [
    ("MissingCertifyCode", "CertifyCode is mandatory for this action.",
     "Verification code is required.", "请填写验证码。"),
    ("isv.INVALID_PARAMETERS",
     "BussinessLicenseExpDate must be a range YYYY-MM-DD~YYYY-MM-DD (use 2099-12-31 as the end "
     "of a long-term validity).",
     "Licence validity needs a first and a last day (choose “long-term” when it does not "
     "expire).", "营业执照有效期需要开始日期和截止日期（长期有效请勾选“长期”）。"),
    ("isv.INVALID_PARAMETERS",
     "CertifyCode is not the code last sent to 138****8000, or it has expired or was used "
     "already; call RequiredPhoneCode for a new one.",
     "The verification code is not the one last sent to 138****8000, or it has expired or was "
     "used already: send a new code.", None),
    ("isv.AMOUNT_NOT_ENOUGH",
     "The account balance is insufficient: 0.045 CNY is due from the balance, which holds "
     "0.000 CNY; 0.045 CNY is missing.",
     "Your balance is not enough: CN¥0.045 is due and the balance holds CN¥0.00 (CN¥0.045 "
     "missing). Ask your operator to top it up or to add a resource package.", None),
    ("isv.TEMPLATE_PARAMS_ILLEGAL",
     "The value 'abc' does not fit the variable attribute numberCaptcha: 4 to 6 digits.",
     "The value abc does not fit the variable's attribute: Verification code: 4–6 digits.",
     None),
    ("isv.SMS_SIGNATURE_SCENE_ILLEGAL", "Something the console has no words for.",
     "Something the console has no words for.", "该签名不能发送此类型的模板。"),
])
def test_refusals_are_worded_for_people(code, message, english, chinese):
    error = PigeonError(code, message)
    with i18n.using(i18n.EN):
        assert error_text.of(error) == english
    with i18n.using(i18n.ZH):
        shown = error_text.of(error)
        if chinese:
            assert shown == chinese
        assert not re.search(r"CertifyCode|BussinessLicenseExpDate|RequiredPhoneCode|"
                             r"numberCaptcha", shown)
        assert re.search(r"[\u4e00-\u9fff]", shown)


def test_a_review_reason_is_translated_problem_by_problem_and_a_reviewers_words_stay():
    reason = ("remove 【 and 】: they are reserved for the signature; a promotional template "
              "must end with an opt-out text such as 拒收请回复R or 回T退订")
    with i18n.using(i18n.ZH):
        assert error_text.reason(reason) == ("请删除【和】：它们只用于签名。 推广短信模板必须以“拒收请回复R”"
                                             "或“回T退订”等退订语结尾。")
        assert error_text.reason("身份证背面照片不清晰") == "身份证背面照片不清晰"


def test_id_numbers_are_masked_and_reviewers_unnamed():
    assert words.masked_id("11010519491231002X") == "1101**********002X"
    assert words.masked_id("G1234567") == "********"
    with i18n.using(i18n.EN):
        assert words.reviewer("operator:ops@pigeon.example") == "A reviewer"
        assert words.reviewer("auto-reviewer") == "Automatic review"


def _facts(**changes) -> Facts:
    done = dict(qualification="approved", signature="approved", template="approved",
                money=True, test_numbers=1, sent=True, access_keys=1, receipts=True,
                contacts=1)
    return Facts(**{**done, **changes})


@pytest.mark.parametrize("facts, first", [
    (_facts(qualification="none", signature="none", template="none", money=False,
            test_numbers=0, sent=False, access_keys=0, receipts=False, contacts=0),
     "qualification"),
    (_facts(qualification="reviewing", signature="none", template="none"), "qualification"),
    (_facts(signature="rejected", template="none"), "signature"),
    (_facts(money=False), "money"),
    (_facts(sent=False), "test"),
    (_facts(receipts=False, contacts=0), "receipts"),
    (_facts(), None),
])
def test_the_next_steps_follow_what_the_tenant_has_done(facts, first):
    steps = next_steps(facts)
    assert [s.key for s in steps] == ["qualification", "signature", "template", "money", "test",
                                      "accesskey", "receipts", "contacts"]
    assert next((s.key for s in steps if not s.done), None) == first


def test_a_rejected_step_says_so():
    with i18n.using(i18n.EN):
        [qualification, *_rest] = next_steps(_facts(qualification="rejected"))
        assert "rejected" in i18n.gettext(qualification.text)
