"""Params: what an SDK sends for an optional field nobody set means "not given"; what is
required and missing is Missing<Name>; a value of the wrong type is Invalid<Name>."""

from __future__ import annotations

import pytest

from pigeon.api.rpc.params import Params
from pigeon.core.errors import PigeonError


def code_of(read) -> str:
    with pytest.raises(PigeonError) as raised:
        read()
    return raised.value.code


@pytest.mark.parametrize("sent", [{}, {"OutId": ""}])
def test_an_empty_string_is_not_given(sent):
    assert Params(sent).str("OutId", default="none") == "none"


@pytest.mark.parametrize("text", ["[]", " [ ] ", ""])
def test_an_empty_array_is_not_given(text):
    params = Params({"OtherFiles": text, "MoreData": text, "TemplateParamJson": text})
    assert params.list_text("OtherFiles") is None
    assert params.json("MoreData", list) is None
    assert params.json("TemplateParamJson", list, code="isv.INVALID_JSON_PARAM") is None


def test_a_required_empty_array_is_left_to_the_action_s_own_rule():
    assert Params({"PhoneNumberJson": "[]"}).json("PhoneNumberJson", list, required=True) == []
    assert code_of(lambda: Params({"PhoneNumberJson": ""}).json(
        "PhoneNumberJson", list, required=True)) == "MissingPhoneNumberJson"


def test_an_array_with_items_is_given():
    assert Params({"MoreData": '["1/a.png"]'}).json("MoreData", list) == ["1/a.png"]
    assert Params({"OtherFiles": '[{"LicensePic":"a"}]'}).list_text("OtherFiles") == \
        '[{"LicensePic":"a"}]'


@pytest.mark.parametrize(("sent", "low", "expected"), [
    ("0", 1, 10),  # a page number or an id: 0 is a default, not a value
    ("", 1, 10),
    ("3", 1, 3),
    ("0", None, 0),  # SignType=0 is an OTP signature, TemplateType=0 an OTP template
    ("0", 0, 0),
])
def test_zero_is_not_given_only_where_only_positive_values_are_valid(sent, low, expected):
    assert Params({"PageIndex": sent}).int("PageIndex", default=10, low=low) == expected


@pytest.mark.parametrize(("sent", "expected"), [
    ({}, "MissingPageSize"), ({"PageSize": ""}, "MissingPageSize"),
    ({"PageSize": "0"}, "InvalidPageSize"), ({"PageSize": "-1"}, "InvalidPageSize"),
    ({"PageSize": "ten"}, "InvalidPageSize"),
])
def test_a_required_number_must_be_given_and_valid(sent, expected):
    assert code_of(lambda: Params(sent).int("PageSize", required=True, low=1)) == expected


def test_a_negative_number_is_invalid_even_when_optional():
    assert code_of(lambda: Params({"TrademarkId": "-5"}).int("TrademarkId", low=1)) == \
        "InvalidTrademarkId"
