from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.core.errors import PigeonError
from pigeon.core.qualification_rules import (
    SUBMIT_REQUIRED,
    normalize_mainland_mobile,
    parse_bool,
    parse_date_range,
    review_qualification,
    validate_qualification,
)
from pigeon.core.review_decision import Decision

TODAY = date(2026, 10, 14)

# Surviving mutants, explained (scripts/mutation core qualification_rules):
# - review_qualification: reading an absent UseBySelf as None (`fields.get("UseBySelf", None)`
#   or no default) instead of True: parse_bool(None) raises, which the reviewer reads as own
#   use too, so an absent UseBySelf asks for no licence pictures either way.
# - review_qualification: `third_party = None` instead of False for a UseBySelf it cannot read:
#   only the value's truth is used, and None is false like False.
LICENCE = '[{"LicensePic":"dysms/licence.png","Type":"socialCreditLicense"}]'

# 杭州云雀科技有限公司 applying for its own use; every value is valid.
YUNQUE = {
    "QualificationName": "云雀科技自用资质",
    "UseBySelf": True,
    "WhetherShare": "false",
    "CompanyName": "杭州云雀科技有限公司",
    "CompanyType": "COMPANY",
    "OrganizationCode": "91330106MA27Y5LQ08",
    "BussinessLicenseExpDate": "2018-05-20~2099-12-31",
    "LegalPersonName": "林晓",
    "LegalPersonIDCardType": "identityCard",
    "LegalPersonIDCardNo": "330106199003071236",
    "LegalPersonIdCardEffTime": "2019-06-01~2039-06-01",
    "AdminName": "林晓",
    "AdminIDCardType": "identityCard",
    "AdminIDCardNo": "330106199003071236",
    "AdminIDCardExpDate": "2019-06-01~2039-06-01",
    "AdminIDCardFrontFace": "dysms/front.jpg",
    "AdminIDCardPic": "dysms/back.jpg",
    "AdminPhoneNo": "+8613800138000",
    "CertifyCode": "482913",
}


def with_(**changes) -> dict:
    fields = dict(YUNQUE)
    for key, value in changes.items():
        if value is ...:
            fields.pop(key)
        else:
            fields[key] = value
    return fields


@pytest.mark.parametrize(("text", "number"), [
    ("13800138000", "13800138000"),
    ("+8613800138000", "13800138000"),
    ("008613800138000", "13800138000"),
    ("8613800138000", "13800138000"),
    ("+13800138000", "13800138000"),
    (" 19912345678 ", "19912345678"),
    ("12800138000", None),       # no mainland segment starts with 12
    ("1380013800", None),
    ("138001380001", None),
    ("+85291234567", None),
    ("138-0013-8000", None),
    ("", None),
    (None, None),
])
def test_it_normalizes_mainland_mobiles(text, number):
    assert normalize_mainland_mobile(text) == number


@pytest.mark.parametrize(("text", "expected"), [
    ("2018-05-20~2099-12-31", (date(2018, 5, 20), date(2099, 12, 31))),
    ("2020-02-29~2020-02-29", (date(2020, 2, 29), date(2020, 2, 29))),
])
def test_it_parses_date_ranges(text, expected):
    assert parse_date_range(text) == expected


@pytest.mark.parametrize(("text", "complaint"), [
    ("2018-05-20", "YYYY-MM-DD~YYYY-MM-DD"),
    ("2018-5-20~2099-12-31", "YYYY-MM-DD~YYYY-MM-DD"),
    ("2018-05-20 ~ 2099-12-31", "YYYY-MM-DD~YYYY-MM-DD"),
    ("2018-05-20~长期", "YYYY-MM-DD~YYYY-MM-DD"),
    ("2021-02-29~2099-12-31", "does not exist"),
    ("2030-01-01~2020-01-01", "after it ends"),
])
def test_it_rejects_bad_date_ranges(text, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_date_range(text)


@pytest.mark.parametrize(("value", "expected"), [
    (True, True),
    (False, False),
    ("true", True),
    ("false", False),
    ("True", True),   # the Python Tea SDK
    ("False", False),
    (" TRUE ", True),
    ("FALSE", False),
])
def test_it_reads_booleans_as_the_sdks_send_them(value, expected):
    assert parse_bool(value) is expected


@pytest.mark.parametrize("value", ["yes", "1", "", None, 1])
def test_anything_else_is_not_a_boolean(value):
    with pytest.raises(ValueError, match="^must be true or false$"):
        parse_bool(value)


def test_a_malformed_date_range_is_refused_saying_how_to_write_a_long_term_one():
    with pytest.raises(ValueError) as raised:
        parse_date_range("2018-05-20~长期")
    assert str(raised.value) == ("must be a range YYYY-MM-DD~YYYY-MM-DD (use 2099-12-31 as the "
                                 "end of a long-term validity)")


def test_a_complete_own_use_qualification_is_accepted():
    validate_qualification(YUNQUE, update=False)


@pytest.mark.parametrize("changes", [
    {"QualificationName": "Yunque2026"},
    {"CompanyName": "云雀（杭州）科技有限公司"},
    {"CompanyName": "Lark Technology (Hangzhou) Co Ltd"},
    {"CompanyName": "杭州·云雀【科技】有限公司"},
    {"CompanyType": "NON_PROFIT_ORGANIZATION", "OrganizationCode": "123300004700032180"},
    {"OrganizationCode": "91350100M000100Y43"},
    {"UseBySelf": "False", "BusinessLicensePics": LICENCE},
    {"UseBySelf": False, "BusinessLicensePics": [{"LicensePic": "k", "Type": "businessLicense"}]},
    {"AdminPhoneNo": "13800138000"},
    {"AdminIDCardType": "passport", "AdminIDCardNo": "E12345678"},
    {"OtherFiles": '[{"LicensePic":"dysms/letter.pdf"}]'},
    {"Remark": ""},
    {"Remark": "说明" * 250},
])
def test_valid_variations_are_accepted(changes):
    validate_qualification(with_(**changes), update=False)


@pytest.mark.parametrize(("changes", "field", "complaint"), [
    ({"QualificationName": "2026"}, "QualificationName", "digits only"),
    ({"QualificationName": "云雀 资质"}, "QualificationName", "only letters"),
    ({"QualificationName": "资" * 101}, "QualificationName", "at most 100"),
    ({"CompanyName": "杭州云雀科技有限公司!"}, "CompanyName", "symbols"),
    ({"CompanyName": "12345"}, "CompanyName", "not only digits"),
    ({"CompanyName": "公" * 151}, "CompanyName", "at most 150"),
    ({"CompanyType": "company"}, "CompanyType", "COMPANY or NON_PROFIT_ORGANIZATION"),
    ({"OrganizationCode": "91330106MA27Y5LQ09"}, "OrganizationCode", "check character"),
    ({"OrganizationCode": "330106000012345"}, "OrganizationCode", "18 characters"),
    ({"BussinessLicenseExpDate": "2018/05/20~2099/12/31"}, "BussinessLicenseExpDate",
     "YYYY-MM-DD~YYYY-MM-DD"),
    ({"LegalPersonIdCardEffTime": "2039-06-01~2019-06-01"}, "LegalPersonIdCardEffTime",
     "after it ends"),
    ({"AdminIDCardExpDate": "2019-06-31~2039-06-01"}, "AdminIDCardExpDate", "does not exist"),
    ({"LegalPersonIDCardType": "IDCard"}, "LegalPersonIDCardType", "identityCard"),
    ({"AdminIDCardType": ""}, "AdminIDCardType", "must not be empty"),
    ({"LegalPersonName": "林" * 51}, "LegalPersonName", "at most 50"),
    ({"AdminName": "  "}, "AdminName", "must not be empty"),
    ({"AdminPhoneNo": "0571-82123456"}, "AdminPhoneNo", "mainland mobile"),
    ({"AdminPhoneNo": "+85291234567"}, "AdminPhoneNo", "mainland mobile"),
    ({"UseBySelf": "yes"}, "UseBySelf", "true or false"),
    ({"WhetherShare": 1}, "WhetherShare", "true or false"),
    ({"UseBySelf": False}, "BusinessLicensePics", "third-party"),
    ({"UseBySelf": False, "BusinessLicensePics": "not json"}, "BusinessLicensePics",
     "JSON array"),
    ({"UseBySelf": False, "BusinessLicensePics": "[]"}, "BusinessLicensePics", "non-empty"),
    ({"UseBySelf": False, "BusinessLicensePics": '[{"LicensePic":"k","Type":"photo"}]'},
     "BusinessLicensePics", "socialCreditLicense"),
    ({"UseBySelf": False, "BusinessLicensePics": '[{"Type":"businessLicense"}]'},
     "BusinessLicensePics", "LicensePic"),
    ({"OtherFiles": '["a.pdf"]'}, "OtherFiles", "JSON object"),
    ({"Remark": "说" * 501}, "Remark", "at most 500"),
    ({"CertifyCode": ""}, "CertifyCode", "must not be empty"),
])
def test_it_names_the_field_and_the_rule_broken(changes, field, complaint):
    with pytest.raises(PigeonError) as raised:
        validate_qualification(with_(**changes), update=False)
    assert raised.value.code == "isv.INVALID_PARAMETERS"
    assert raised.value.message.startswith(field)
    assert complaint in raised.value.message


ID_TYPES = "identityCard, passport, homeReturnPermit, TaiwanCompatriotPermit, residencePermit, other"
LICENSE_TYPES = "socialCreditLicense, businessLicense, signLegalLicense, otherLicense"


@pytest.mark.parametrize(("changes", "message"), [
    ({"QualificationName": "云雀 资质"},
     "QualificationName may contain only letters, Chinese characters and digits."),
    ({"QualificationName": "2026"}, "QualificationName must not be digits only."),
    ({"CompanyName": "杭州云雀科技有限公司!"},
     "CompanyName may contain only letters, Chinese characters, digits, spaces and the "
     "symbols · 【】 （） ()."),
    ({"CompanyName": "12345"},
     "CompanyName must contain letters or Chinese characters, not only digits and symbols."),
    ({"CompanyName": 123}, "CompanyName must be text, got 123."),
    ({"AdminName": "  "}, "AdminName must not be empty."),
    # each field's length limit, one past it
    ({"OrganizationCode": "9" * 151},
     "OrganizationCode must be at most 150 characters, got 151."),
    ({"BussinessLicenseExpDate": "2" * 101},
     "BussinessLicenseExpDate must be at most 100 characters, got 101."),
    ({"LegalPersonName": "林" * 51}, "LegalPersonName must be at most 50 characters, got 51."),
    ({"AdminName": "林" * 51}, "AdminName must be at most 50 characters, got 51."),
    ({"LegalPersonIDCardNo": "1" * 51},
     "LegalPersonIDCardNo must be at most 50 characters, got 51."),
    ({"AdminIDCardNo": "1" * 51}, "AdminIDCardNo must be at most 50 characters, got 51."),
    ({"CertifyCode": "1" * 1001}, "CertifyCode must be at most 1000 characters, got 1001."),
    ({"AdminIDCardFrontFace": "k" * 1001},
     "AdminIDCardFrontFace must be at most 1000 characters, got 1001."),
    ({"BussinessLicenseExpDate": "2018/05/20~2099/12/31"},
     "BussinessLicenseExpDate must be a range YYYY-MM-DD~YYYY-MM-DD (use 2099-12-31 as the "
     "end of a long-term validity)."),
    ({"LegalPersonIDCardType": "IDCard"},
     f"LegalPersonIDCardType must be one of {ID_TYPES}, got 'IDCard'."),
    ({"AdminIDCardType": "IDCard"}, f"AdminIDCardType must be one of {ID_TYPES}, got 'IDCard'."),
    ({"AdminPhoneNo": "0571-82123456"},
     "AdminPhoneNo must be a mainland mobile number (11 digits starting with 1, optionally "
     "after +86, 0086 or 86)."),
    ({"UseBySelf": "yes"}, "UseBySelf must be true or false, got 'yes'."),
    ({"UseBySelf": False},
     "BusinessLicensePics is required for a third-party qualification (UseBySelf=false): "
     "upload the licence of the company you send for."),
    ({"UseBySelf": False, "BusinessLicensePics": "not json"},
     'BusinessLicensePics must be a JSON array such as '
     '[{"LicensePic":"<oss key>","Type":"socialCreditLicense"}].'),
    ({"UseBySelf": False, "BusinessLicensePics": "[]"},
     "BusinessLicensePics must be a non-empty JSON array of objects."),
    # items are counted from 1
    ({"UseBySelf": False, "BusinessLicensePics":
      '[{"LicensePic":"k","Type":"businessLicense"},{"LicensePic":"k2","Type":"photo"}]'},
     f"BusinessLicensePics item 2 has Type 'photo'; use one of {LICENSE_TYPES}."),
    ({"UseBySelf": False, "BusinessLicensePics":
      '[{"LicensePic":"k","Type":"businessLicense"},{"Type":"businessLicense"}]'},
     "BusinessLicensePics item 2 needs LicensePic, the OSS key of the uploaded file."),
    ({"OtherFiles": '[{"LicensePic":"a.pdf"},"b.pdf"]'}, "OtherFiles item 2 must be a JSON object."),
])
def test_a_refused_submission_reads_in_full(changes, message):
    with pytest.raises(PigeonError) as raised:
        validate_qualification(with_(**changes), update=False)
    assert (raised.value.code, raised.value.message) == ("isv.INVALID_PARAMETERS", message)


@pytest.mark.parametrize("field", ["Remark", "CompanyType", "UseBySelf", "QualificationName"])
def test_an_update_that_changes_identity_is_told_to_submit_a_new_qualification(field):
    fields = {"AdminPhoneNo": "13800138000", "CertifyCode": "482913", field: "x"}
    with pytest.raises(PigeonError) as raised:
        validate_qualification(fields, update=True)
    assert (raised.value.code, raised.value.message) == (
        "isv.INVALID_PARAMETERS",
        f"{field} cannot be changed by UpdateSmsQualification; submit a new qualification "
        "instead.")


@pytest.mark.parametrize("field", SUBMIT_REQUIRED)
def test_a_submission_needs_every_required_field(field):
    with pytest.raises(PigeonError) as raised:
        validate_qualification(with_(**{field: ...}), update=False)
    assert raised.value.code == f"Missing{field}"
    assert field in raised.value.message


@pytest.mark.parametrize(("fields", "code"), [
    ({"AdminPhoneNo": "13800138000", "CertifyCode": "482913"}, None),
    ({"AdminPhoneNo": "13800138000", "CertifyCode": "482913",
      "BussinessLicenseExpDate": "2026-01-01~2046-01-01"}, None),
    ({"CertifyCode": "482913"}, "MissingAdminPhoneNo"),
    ({"AdminPhoneNo": "13800138000"}, "MissingCertifyCode"),
    ({"AdminPhoneNo": "13800138000", "CertifyCode": "482913", "CompanyType": "COMPANY"},
     "isv.INVALID_PARAMETERS"),
    ({"AdminPhoneNo": "13800138000", "CertifyCode": "482913", "AdminName": ""},
     "isv.INVALID_PARAMETERS"),
])
def test_an_update_needs_the_phone_and_code_and_cannot_change_identity(fields, code):
    if code is None:
        validate_qualification(fields, update=True)
        return
    with pytest.raises(PigeonError) as raised:
        validate_qualification(fields, update=True)
    assert raised.value.code == code


def test_a_sound_qualification_passes_review_even_with_one_person_in_both_roles():
    assert YUNQUE["LegalPersonIDCardNo"] == YUNQUE["AdminIDCardNo"]
    decision = review_qualification(YUNQUE, today=TODAY)
    assert decision.approved
    assert decision.reason == ""


@pytest.mark.parametrize(("changes", "complaint"), [
    ({"BussinessLicenseExpDate": "2006-05-20~2026-05-20"},
     "business licence expired on 2026-05-20"),
    ({"BussinessLicenseExpDate": "2026-10-15~2046-10-15"},
     "business licence is not valid before 2026-10-15"),
    ({"LegalPersonIdCardEffTime": "2006-06-01~2026-06-01"},
     "legal person's ID document expired on 2026-06-01"),
    ({"AdminIDCardExpDate": "2006-06-01~2026-10-13"},
     "administrator's ID document expired on 2026-10-13"),
    ({"AdminIDCardExpDate": "2026-06-01"}, "AdminIDCardExpDate must be a range"),
    ({"AdminIDCardExpDate": ...}, "AdminIDCardExpDate is missing"),
    ({"LegalPersonIDCardNo": "330106199003071237"},
     "LegalPersonIDCardNo is not a valid resident ID number"),
    ({"AdminIDCardNo": "33010619900307123"}, "AdminIDCardNo is not a valid resident ID number"),
    ({"AdminIDCardType": "passport", "AdminIDCardNo": "护照123"}, "AdminIDCardNo must be 5 to 20"),
    ({"AdminIDCardType": "driverLicence"}, "AdminIDCardType must be one of"),
    ({"OrganizationCode": "91330106MA27Y5LQ09"}, "OrganizationCode 91330106MA27Y5LQ09 is not"),
    ({"OrganizationCode": None}, "OrganizationCode is missing"),
    ({"CompanyName": ""}, "CompanyName is missing"),
    ({"UseBySelf": "false"}, "BusinessLicensePics is missing"),
])
def test_the_reviewer_says_what_to_fix(changes, complaint):
    decision = review_qualification(with_(**changes), today=TODAY)
    assert not decision.approved
    assert complaint in decision.reason


BORN_IN_2027 = "330106202701011235"  # a sound check character, born after TODAY


@pytest.mark.parametrize(("changes", "reason"), [
    ({"CompanyName": ...}, "CompanyName is missing: give the company name."),
    ({"LegalPersonName": " "}, "LegalPersonName is missing: give the legal person's name."),
    ({"AdminName": None}, "AdminName is missing: give the administrator's name."),
    ({"OrganizationCode": ...},
     "OrganizationCode is missing: give the unified social credit code."),
    ({"OrganizationCode": " 91330106MA27Y5LQ09 "},
     "OrganizationCode 91330106MA27Y5LQ09 is not a valid unified social credit code: it has "
     "the check character '9' where GB 32100-2015 gives '8'; copy it from the business "
     "licence."),
    ({"BussinessLicenseExpDate": ...},
     "BussinessLicenseExpDate is missing: give the validity of the business licence."),
    ({"BussinessLicenseExpDate": "2018-05-20"},
     "BussinessLicenseExpDate must be a range YYYY-MM-DD~YYYY-MM-DD (use 2099-12-31 as the "
     "end of a long-term validity)."),
    ({"BussinessLicenseExpDate": "2006-05-20~2026-10-13"},
     "the business licence expired on 2026-10-13 (BussinessLicenseExpDate); renew it and "
     "submit the current one."),
    ({"BussinessLicenseExpDate": "2026-10-15~2046-10-15"},
     "the business licence is not valid before 2026-10-15 (BussinessLicenseExpDate); submit "
     "it once it is valid."),
    ({"LegalPersonIdCardEffTime": ...},
     "LegalPersonIdCardEffTime is missing: give the validity of the legal person's ID "
     "document."),
    ({"LegalPersonIdCardEffTime": "2006-06-01~2026-06-01"},
     "the legal person's ID document expired on 2026-06-01 (LegalPersonIdCardEffTime); renew "
     "it and submit the current one."),
    ({"AdminIDCardExpDate": "2026-10-15~2046-10-15"},
     "the administrator's ID document is not valid before 2026-10-15 (AdminIDCardExpDate); "
     "submit it once it is valid."),
    ({"LegalPersonIDCardType": "driverLicence"},
     f"LegalPersonIDCardType must be one of {ID_TYPES}."),
    ({"LegalPersonIDCardNo": ...},
     "LegalPersonIDCardNo is missing: give the number of the legal person's identity "
     "document."),
    ({"LegalPersonIDCardNo": BORN_IN_2027},
     "LegalPersonIDCardNo is not a valid resident ID number: it holds the birth date "
     "2027-01-01, which is not plausible; copy the number exactly from the legal person's ID "
     "card."),
    ({"AdminIDCardNo": BORN_IN_2027},
     "AdminIDCardNo is not a valid resident ID number: it holds the birth date 2027-01-01, "
     "which is not plausible; copy the number exactly from the administrator's ID card."),
    ({"LegalPersonIDCardType": "passport", "LegalPersonIDCardNo": "E12"},
     "LegalPersonIDCardNo must be 5 to 20 letters or digits as printed on the legal person's "
     "document."),
    ({"AdminIDCardType": "passport", "AdminIDCardNo": "护照123"},
     "AdminIDCardNo must be 5 to 20 letters or digits as printed on the administrator's "
     "document."),
    ({"UseBySelf": "false"},
     "BusinessLicensePics is missing: a third-party qualification needs the licence of the "
     "company the messages are sent for."),
])
def test_the_reviewers_reason_reads_in_full(changes, reason):
    assert review_qualification(with_(**changes), today=TODAY) == Decision(False, reason)


@pytest.mark.parametrize("changes", [
    {"BussinessLicenseExpDate": "2026-10-14~2046-10-14"},  # valid from today
    {"UseBySelf": False, "BusinessLicensePics": LICENCE},
    {"UseBySelf": ...},  # own use unless said otherwise
    {"UseBySelf": "yes"},  # unreadable (validation refuses it first): not read as third-party
])
def test_the_reviewer_approves(changes):
    assert review_qualification(with_(**changes), today=TODAY) == Decision(True, "")


def test_the_reviewer_lists_every_problem_at_once():
    decision = review_qualification(
        with_(BussinessLicenseExpDate="2006-05-20~2026-05-20", AdminIDCardNo="123"),
        today=TODAY)
    assert "business licence expired" in decision.reason
    assert "AdminIDCardNo" in decision.reason


@pytest.mark.parametrize(("today", "approved"), [
    (date(2039, 6, 1), True),    # last day of the ID cards' validity
    (date(2039, 6, 2), False),
])
def test_a_document_is_valid_through_its_last_day(today, approved):
    assert review_qualification(YUNQUE, today=today).approved is approved


field_values = st.one_of(st.none(), st.booleans(), st.text(max_size=30),
                         st.sampled_from(["true", "2018-05-20~2099-12-31", "identityCard", "[]"]))


@given(st.dictionaries(st.sampled_from(sorted(YUNQUE) + ["BusinessLicensePics", "Remark"]),
                       field_values), st.booleans())
def test_validation_fails_only_with_coded_errors_and_review_never_fails(fields, update):
    try:
        validate_qualification(fields, update=update)
    except PigeonError as error:
        assert error.code == "isv.INVALID_PARAMETERS" or error.code.startswith("Missing")
    decision = review_qualification(fields, today=TODAY)
    assert decision.approved or decision.reason
