"""Tags on templates: resource type, keys and values, how many."""

from __future__ import annotations

import pytest

from pigeon.core import tags as rules
from pigeon.core.errors import PigeonError


def refused(call) -> str:
    with pytest.raises(PigeonError) as raised:
        call()
    return raised.value.code


def test_only_templates_carry_tags():
    rules.check_resource_type("template")
    assert refused(lambda: rules.check_resource_type("SIGN")) == "isv.INVALID_PARAMETERS"


def test_resource_ids_are_deduplicated_and_at_most_twenty():
    assert rules.resource_ids(["SMS_1", " SMS_1", "SMS_2", ""], required=True) == \
        ["SMS_1", "SMS_2"]
    assert refused(lambda: rules.resource_ids([], required=True)) == "MissingResourceId.1"
    assert refused(lambda: rules.resource_ids([f"SMS_{n}" for n in range(21)],
                                              required=True)) == "isv.INVALID_PARAMETERS"


@pytest.mark.parametrize("items, code", [
    ([{"Key": "team", "Value": "growth"}], None),
    ([{"Key": "team", "Value": ""}], None),
    ([{"Value": "growth"}], "MissingTag.1.Key"),
    ([{"Key": "team"}], "MissingTag.1.Value"),
    ([{"Key": "Aliyun-owner", "Value": "x"}], "isv.INVALID_PARAMETERS"),
    ([{"Key": "acs:team", "Value": "x"}], "isv.INVALID_PARAMETERS"),
    ([{"Key": "team", "Value": "see http://x"}], "isv.INVALID_PARAMETERS"),
    ([{"Key": "k" * 129, "Value": "x"}], "isv.INVALID_PARAMETERS"),
    ([{"Key": "k", "Value": "v" * 129}], "isv.INVALID_PARAMETERS"),
    ([{"Key": f"k{n}", "Value": "v"} for n in range(21)], "isv.INVALID_PARAMETERS"),
])
def test_tag_keys_and_values(items, code):
    if code is None:
        assert rules.tags(items, required=True) == {item["Key"]: item["Value"] for item in items}
    else:
        assert refused(lambda: rules.tags(items, required=True)) == code


def test_a_filter_may_leave_the_value_out_and_a_later_key_wins():
    assert rules.tags([{"Key": "team"}], required=False, values=False) == {"team": ""}
    assert rules.tags([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}],
                      required=True) == {"a": "2"}
    assert rules.tags([], required=False) == {}


def test_a_template_holds_at_most_twenty_tags():
    existing = {f"k{n}": "v" for n in range(19)}
    rules.check_count("SMS_1", existing, {"k0": "w", "new": "v"})  # 20 keys
    assert refused(lambda: rules.check_count("SMS_1", existing, {"a": "1", "b": "2"})) == \
        "isv.INVALID_PARAMETERS"
