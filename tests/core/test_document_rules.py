"""Signature documents: what a submission must hold, the reviewer's verdict, and when a
document backs a signature."""

from __future__ import annotations

from datetime import date

import pytest

from pigeon.core import document_rules as rules
from pigeon.core.errors import PigeonError

TODAY = date(2026, 6, 1)
CODE = "91350100M000100Y43"
LETTER = {"AuthorizationLetterName": "授权书", "Authorization": "杭州云雀科技有限公司",
          "ProxyAuthorization": "杭州白鹭网络有限公司", "OrganizationCode": CODE,
          "AuthorizationLetterExpDate": "2020-01-01~2099-12-31", "AuthorizationLetterPic": "1/a.png",
          "SignList": ["云雀科技", "云雀", "云雀科技"]}
TRADEMARK = {"TrademarkName": "云雀", "TrademarkRegistrationNumber": "56781234",
             "TrademarkApplicantName": "杭州云雀科技有限公司",
             "TrademarkEffExpDate": "2020-01-01~2030-01-01", "TrademarkPic": "1/t.png"}
APP_ICP = {"AppServiceName": "云雀出行", "AppPrincipalUnitName": "杭州云雀科技有限公司",
           "AppIcpLicenseNumber": "浙ICP备20230001号", "AppApprovalDate": "2023-05-01",
           "AppIcpRecordPic": "1/i.png", "Domain": "www.lark.example"}


# Surviving mutants, explained (scripts/mutation core document_rules):
# - validity: the default of `fields.get(field, "")` turned into None, "XXXX" or no default:
#   a missing field then reads "None" or "XXXX" instead of "", which parse_date_range refuses
#   all the same, so validity() answers None either way.

def code_of(kind, fields) -> str:
    with pytest.raises(PigeonError) as raised:
        rules.validate_document(kind, fields)
    return raised.value.code


def test_a_valid_letter_is_kept_with_its_names_once():
    kept = rules.validate_document(rules.LETTER, {**LETTER, "Authorization": " 杭州云雀科技有限公司 "})
    assert kept["SignList"] == ["云雀科技", "云雀"]
    assert kept["Authorization"] == "杭州云雀科技有限公司"


@pytest.mark.parametrize("kind, base, change, code", [
    (rules.LETTER, LETTER, {"Authorization": None}, "MissingAuthorization"),
    (rules.LETTER, LETTER, {"SignList": None}, "isv.INVALID_PARAMETERS"),
    (rules.LETTER, LETTER, {"SignList": ["云雀", 3]}, "isv.INVALID_PARAMETERS"),
    (rules.LETTER, LETTER, {"SignList": ["【云雀】"]}, "isv.SIGN_NAME_ILLEGAL"),
    (rules.LETTER, LETTER, {"SignList": ["云雀科技有限公司杭州分公司"]}, "isv.SIGN_OVER_LIMIT"),
    (rules.LETTER, LETTER, {"OrganizationCode": "91350100M000100Y4"}, "isv.INVALID_PARAMETERS"),
    (rules.LETTER, LETTER, {"AuthorizationLetterExpDate": "2030-01-01~2020-01-01"},
     "isv.INVALID_PARAMETERS"),
    (rules.TRADEMARK, TRADEMARK, {"TrademarkPic": ""}, "MissingTrademarkPic"),
    (rules.TRADEMARK, TRADEMARK, {"TrademarkName": "x" * 16}, "isv.INVALID_PARAMETERS"),
    (rules.TRADEMARK, TRADEMARK, {"TrademarkRegistrationNumber": "56-78"},
     "isv.INVALID_PARAMETERS"),
    (rules.APP_ICP, APP_ICP, {"Domain": "lark"}, "isv.INVALID_PARAMETERS"),
    (rules.APP_ICP, APP_ICP, {"AppApprovalDate": "20230501"}, "isv.INVALID_PARAMETERS"),
    (rules.APP_ICP, APP_ICP, {"AppRuntimePic": 7}, "isv.INVALID_PARAMETERS"),
])
def test_a_submission_that_breaks_a_rule_is_refused(kind, base, change, code):
    assert code_of(kind, {**base, **change}) == code


def test_optional_pictures_may_be_left_out():
    assert "AppRuntimePic" not in rules.validate_document(rules.APP_ICP, APP_ICP)


@pytest.mark.parametrize("kind, fields, uploaded, today, approved, words", [
    (rules.TRADEMARK, TRADEMARK, ["TrademarkPic"], TODAY, True, ""),
    (rules.TRADEMARK, TRADEMARK, [], TODAY, False, "never uploaded"),
    (rules.TRADEMARK, TRADEMARK, ["TrademarkPic"], date(2031, 1, 1), False, "expired on 2030-01-01"),
    (rules.TRADEMARK, TRADEMARK, ["TrademarkPic"], date(2019, 1, 1), False, "not valid before"),
    (rules.APP_ICP, APP_ICP, ["AppIcpRecordPic"], date(2199, 1, 1), True, ""),
    (rules.APP_ICP, {**APP_ICP, "AppStoreDownloadPic": "1/s.png"}, ["AppIcpRecordPic"], TODAY,
     False, "AppStoreDownloadPic"),
])
def test_the_reviewer_wants_a_current_document_with_its_pictures(kind, fields, uploaded, today,
                                                                  approved, words):
    decision = rules.review_document(kind, fields, uploaded=uploaded, today=today)
    assert decision.approved is approved and words in decision.reason


@pytest.mark.parametrize("kind, name, fields, sign, covered", [
    (rules.LETTER, "授权书", LETTER, "云雀", True),
    (rules.LETTER, "授权书", LETTER, "云雀 科技", True),  # spaces aside
    (rules.LETTER, "授权书", LETTER, "白鹭", False),
    (rules.TRADEMARK, "Lark", {}, "lark", True),  # letter case aside
    (rules.TRADEMARK, "云雀", {}, "云雀科技", False),
    (rules.APP_ICP, "云雀出行", {}, "云雀出行", True),
])
def test_what_a_document_covers(kind, name, fields, sign, covered):
    assert rules.covers(kind, name, fields, sign) is covered


def document(kind=rules.LETTER, state="PASS", **details):
    name = {rules.LETTER: "授权书", rules.TRADEMARK: "云雀", rules.APP_ICP: "云雀出行"}[kind]
    base = {rules.LETTER: LETTER, rules.TRADEMARK: TRADEMARK, rules.APP_ICP: APP_ICP}[kind]
    return {"state": state, "name": name, "details": {**base, **details},
            "audit_remark": "图片不清晰"}


@pytest.mark.parametrize("kind, row, sign, organization, message", [
    (rules.LETTER, None, "云雀", CODE, "AuthorizationLetterId 5 is no authorisation letter of "
     "this account."),
    (rules.LETTER, document(state="INIT"), "云雀", CODE, "is under review"),
    (rules.LETTER, document(state="NOT_PASS"), "云雀", CODE, "was rejected (图片不清晰)"),
    (rules.LETTER, document(AuthorizationLetterExpDate="2020-01-01~2021-01-01"), "云雀", CODE,
     "is not valid today"),
    (rules.LETTER, document(), "白鹭", CODE, "does not authorise the signature 白鹭 (it "
     "authorises 云雀科技、云雀、云雀科技)"),
    (rules.LETTER, document(), "云雀", "91330106MA2B3C4D5X", "not by the qualification's company"),
    (rules.TRADEMARK, document(rules.TRADEMARK), "白鹭", CODE, "is for the trademark 云雀, not"),
    (rules.APP_ICP, document(rules.APP_ICP), "白鹭", CODE, "is for the app or site 云雀出行"),
])
def test_a_document_that_cannot_back_the_signature_is_refused(kind, row, sign, organization,
                                                              message):
    with pytest.raises(PigeonError) as raised:
        rules.check_for_signature(kind, 5, row, sign, organization_code=organization, today=TODAY)
    assert raised.value.code == "isv.INVALID_PARAMETERS"
    assert message in raised.value.message


def test_a_document_that_covers_the_signature_backs_it():
    for kind in rules.KINDS:
        sign = {rules.LETTER: "云雀", rules.TRADEMARK: "云雀", rules.APP_ICP: "云雀出行"}[kind]
        rules.check_for_signature(kind, 5, document(kind), sign, organization_code=CODE,
                                  today=TODAY)


# The messages are the API's answer (isv.INVALID_PARAMETERS has no code per rule), so they are
# pinned word for word, field name first.
@pytest.mark.parametrize("kind, base, change, code, message", [
    (rules.LETTER, LETTER, {"SignList": None}, "isv.INVALID_PARAMETERS",
     'SignList must be a JSON array of 1 to 100 signature names, such as ["云雀科技"].'),
    (rules.LETTER, LETTER, {"SignList": []}, "isv.INVALID_PARAMETERS",
     'SignList must be a JSON array of 1 to 100 signature names, such as ["云雀科技"].'),
    (rules.LETTER, LETTER, {"SignList": "云雀"}, "isv.INVALID_PARAMETERS",
     'SignList must be a JSON array of 1 to 100 signature names, such as ["云雀科技"].'),
    (rules.LETTER, LETTER, {"SignList": ["云雀"] * 101}, "isv.INVALID_PARAMETERS",
     "SignList names at most 100 signatures, got 101."),
    (rules.LETTER, LETTER, {"SignList": ["云雀", 3]}, "isv.INVALID_PARAMETERS",
     "SignList item 2 must be a signature name, got 3."),
    (rules.LETTER, LETTER, {"OrganizationCode": "91350100M000100Y4"}, "isv.INVALID_PARAMETERS",
     "OrganizationCode must be the 18-character unified social credit code of the authorising "
     "company; it must be 18 characters long, got 17."),
    (rules.LETTER, LETTER, {"AuthorizationLetterExpDate": "2030-01-01~2020-01-01"},
     "isv.INVALID_PARAMETERS",
     "AuthorizationLetterExpDate starts on 2030-01-01 after it ends on 2020-01-01."),
    (rules.TRADEMARK, TRADEMARK, {"TrademarkName": "x" * 16}, "isv.INVALID_PARAMETERS",
     "TrademarkName must be at most 15 characters, got 16."),
    (rules.TRADEMARK, TRADEMARK, {"TrademarkRegistrationNumber": "56-78"},
     "isv.INVALID_PARAMETERS", "TrademarkRegistrationNumber must be the registration number on "
     "the certificate: letters and digits only."),
    (rules.APP_ICP, APP_ICP, {"Domain": "lark"}, "isv.INVALID_PARAMETERS",
     "Domain must be a domain name such as www.example.com, got 'lark'."),
    (rules.APP_ICP, APP_ICP, {"AppApprovalDate": "20230501"}, "isv.INVALID_PARAMETERS",
     "AppApprovalDate must be a date YYYY-MM-DD, got '20230501'."),
    (rules.APP_ICP, APP_ICP, {"AppApprovalDate": "2023-02-30"}, "isv.INVALID_PARAMETERS",
     "AppApprovalDate must be a date YYYY-MM-DD, got '2023-02-30'."),  # no such day
    (rules.APP_ICP, APP_ICP, {"AppRuntimePic": 7}, "isv.INVALID_PARAMETERS",
     "AppRuntimePic must be text, got 7."),
])
def test_a_refused_submission_says_which_field_breaks_which_rule(kind, base, change, code,
                                                                 message):
    with pytest.raises(PigeonError) as raised:
        rules.validate_document(kind, {**base, **change})
    assert (raised.value.code, raised.value.message) == (code, message)


def test_a_bad_name_in_the_sign_list_is_refused_with_its_position():
    with pytest.raises(PigeonError) as raised:
        rules.validate_document(rules.LETTER, {**LETTER, "SignList": ["云雀", "【云雀】"]})
    assert raised.value.code == "isv.SIGN_NAME_ILLEGAL"
    assert raised.value.message.startswith("SignList item 2: SignName ")


def test_a_sign_list_may_name_a_hundred_signatures():
    kept = rules.validate_document(rules.LETTER, {**LETTER, "SignList": ["云雀"] * 100})
    assert kept["SignList"] == ["云雀"]


def test_an_optional_picture_left_out_does_not_hide_the_next_one():
    kept = rules.validate_document(rules.APP_ICP, {**APP_ICP, "AppStoreDownloadPic": "1/s.png"})
    assert kept["AppStoreDownloadPic"] == "1/s.png"


TRADEMARK_PIC = ["TrademarkPic"]


@pytest.mark.parametrize("fields, uploaded, today, reason", [
    (TRADEMARK, TRADEMARK_PIC, date(2020, 1, 1), ""),       # valid from its first day
    (TRADEMARK, TRADEMARK_PIC, date(2030, 1, 1), ""),       # and on its last
    (TRADEMARK, TRADEMARK_PIC, date(2030, 1, 2),
     "the trademark expired on 2030-01-01 (TrademarkEffExpDate); submit the current one."),
    (TRADEMARK, TRADEMARK_PIC, date(2019, 12, 31),
     "the trademark is not valid before 2020-01-01 (TrademarkEffExpDate)."),
    ({**TRADEMARK, "TrademarkEffExpDate": "2020"}, TRADEMARK_PIC, TODAY,
     "TrademarkEffExpDate is not a date range YYYY-MM-DD~YYYY-MM-DD."),
    (TRADEMARK, [], TODAY, "TrademarkPic names '1/t.png', which was never uploaded; upload the "
     "picture (GetQualificationOssInfo) and submit again."),
    ({**TRADEMARK, "TrademarkPic": ""}, [], TODAY, "TrademarkPic is missing."),
])
def test_the_reviewer_explains_each_problem(fields, uploaded, today, reason):
    decision = rules.review_document(rules.TRADEMARK, fields, uploaded=uploaded, today=today)
    assert (decision.approved, decision.reason) == (not reason, reason)


@pytest.mark.parametrize("today, current", [
    (date(2026, 5, 31), False),
    (date(2026, 6, 1), True),     # the first day
    (date(2026, 6, 30), True),    # the last day
    (date(2026, 7, 1), False),
])
def test_a_document_is_current_on_the_first_and_last_day_of_its_validity(today, current):
    fields = {"AuthorizationLetterExpDate": "2026-06-01~2026-06-30"}
    assert rules.is_current(rules.LETTER, fields, today) is current


def rejected(remark):
    row = document(state="NOT_PASS")
    return {**row, "audit_remark": remark}


@pytest.mark.parametrize("kind, row, sign, organization, message", [
    (rules.LETTER, document(state="INIT"), "云雀", CODE, "AuthorizationLetterId 5 is under "
     "review; a signature can use the authorisation letter once it is approved."),
    (rules.TRADEMARK, document(rules.TRADEMARK, state="INIT"), "云雀", CODE, "TrademarkId 5 is "
     "under review; a signature can use the trademark once it is approved."),
    (rules.LETTER, rejected("图片不清晰"), "云雀", CODE, "AuthorizationLetterId 5 was rejected "
     "(图片不清晰); a signature needs an approved authorisation letter."),
    (rules.LETTER, rejected("Stamp unreadable on page IX."), "云雀", CODE, "AuthorizationLetterId "
     "5 was rejected (Stamp unreadable on page IX); a signature needs an approved "
     "authorisation letter."),
    (rules.LETTER, rejected(None), "云雀", CODE, "AuthorizationLetterId 5 was rejected; a "
     "signature needs an approved authorisation letter."),
    (rules.LETTER, document(AuthorizationLetterExpDate="2020-01-01~2021-01-01"), "云雀", CODE,
     "AuthorizationLetterId 5 is not valid today (2020-01-01~2021-01-01); submit a current "
     "authorisation letter."),
    (rules.LETTER, document(), "白鹭", CODE, "AuthorizationLetterId 5 does not authorise the "
     "signature 白鹭 (it authorises 云雀科技、云雀、云雀科技); submit a letter that lists it."),
    (rules.LETTER, document(), "云雀", "91330106MA2B3C4D5X", "AuthorizationLetterId 5 was given "
     "by the company with credit code 91350100M000100Y43, not by the qualification's company "
     "(91330106MA2B3C4D5X); use a letter from the qualification's company."),
    (rules.TRADEMARK, document(rules.TRADEMARK), "白鹭", CODE, "TrademarkId 5 is for the "
     "trademark 云雀, not the signature 白鹭; the signature must be the trademark's name."),
    (rules.APP_ICP, document(rules.APP_ICP), "白鹭", CODE, "AppIcpRecordId 5 is for the app or "
     "site 云雀出行, not the signature 白鹭; the signature must be the app or site's name."),
])
def test_a_refusal_to_back_the_signature_is_worded_exactly(kind, row, sign, organization,
                                                           message):
    with pytest.raises(PigeonError) as raised:
        rules.check_for_signature(kind, 5, row, sign, organization_code=organization, today=TODAY)
    assert (raised.value.code, raised.value.message) == ("isv.INVALID_PARAMETERS", message)
