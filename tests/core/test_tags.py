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


def refusal(call) -> tuple[str, str]:
    with pytest.raises(PigeonError) as raised:
        call()
    return raised.value.code, raised.value.message


INVALID = "isv.INVALID_PARAMETERS"


def test_the_resource_type_is_read_without_case_or_spaces():
    rules.check_resource_type(" Template ")
    assert refusal(lambda: rules.check_resource_type("SIGN")) == (
        INVALID, "ResourceType must be TEMPLATE: only templates carry tags, got 'SIGN'.")


@pytest.mark.parametrize("values, required, ids", [
    ([" SMS_1 ", "  ", "", "SMS_2", "SMS_1"], True, ["SMS_1", "SMS_2"]),  # blanks skipped
    ([], False, []),  # a filter may name no template
    ([f"SMS_{n}" for n in range(20)], True, [f"SMS_{n}" for n in range(20)]),
    ([f"SMS_{n % 20}" for n in range(25)], True, [f"SMS_{n}" for n in range(20)]),  # repeats
])
def test_resource_ids(values, required, ids):
    assert rules.resource_ids(values, required=required) == ids


def test_more_than_twenty_resource_ids_are_refused_with_the_count():
    assert refusal(lambda: rules.resource_ids([f"SMS_{n}" for n in range(21)],
                                              required=False)) == (
        INVALID, "ResourceId names 21 templates; at most 20 a call.")


@pytest.mark.parametrize("items, required, values, found", [
    ([{"Key": "k", "Value": ""}], True, True, {"k": ""}),  # the shortest key, an empty value
    ([{"Key": "k" * 128, "Value": "v" * 128}], True, True, {"k" * 128: "v" * 128}),
    ([{"Key": "team", "Value": None}], True, False, {"team": ""}),  # a filter: any value
    ([{"Key": "myaliyun", "Value": "acs"}], True, True, {"myaliyun": "acs"}),  # not a prefix
    ([{"Key": f"k{n % 20}", "Value": "v"} for n in range(25)], True, True,
     {f"k{n}": "v" for n in range(20)}),  # keys given again are counted once
])
def test_tags_that_are_accepted(items, required, values, found):
    assert rules.tags(items, required=required, values=values) == found


@pytest.mark.parametrize("items, required, code, message", [
    ([], True, "MissingTag.1.Key", None),
    ([{"Key": "", "Value": "x"}], True, "MissingTag.1.Key", None),
    ([{"Key": "a", "Value": "1"}, {"Value": "2"}], True, "MissingTag.2.Key", None),
    ([{"Key": "a", "Value": "1"}, {"Key": "b"}], False, "MissingTag.2.Value", None),
    ([{"Key": "k" * 129, "Value": "x"}], True, INVALID,
     f"Tag.1.Key must be 1 to 128 characters, got {'k' * 129!r}."),
    ([{"Key": "a", "Value": "x"}, {"Key": "b", "Value": "v" * 129}], True, INVALID,
     f"Tag.2.Value must be 0 to 128 characters, got {'v' * 129!r}."),
    ([{"Key": "ALIYUN-owner", "Value": "x"}], True, INVALID,
     "Tag.1.Key 'ALIYUN-owner' may not begin with aliyun or acs: (reserved)."),
    ([{"Key": "team", "Value": "Acs:growth"}], True, INVALID,
     "Tag.1.Value 'Acs:growth' may not begin with aliyun or acs: (reserved)."),
    ([{"Key": "see HTTP://x", "Value": "x"}], True, INVALID,
     "Tag.1.Key 'see HTTP://x' may not contain http:// or https://."),
    ([{"Key": "team", "Value": "Https://x"}], True, INVALID,
     "Tag.1.Value 'Https://x' may not contain http:// or https://."),
    ([{"Key": f"k{n}", "Value": "v"} for n in range(21)], True, INVALID,
     "Tag holds 21 tags; at most 20 a call."),
])
def test_tags_that_are_refused(items, required, code, message):
    refused_code, refused_message = refusal(lambda: rules.tags(items, required=required))
    assert refused_code == code
    if message is not None:
        assert refused_message == message


@pytest.mark.parametrize("values, keys", [
    (["team", "", "owner", "team"], ["team", "owner"]),
    ([f"k{n}" for n in range(20)], [f"k{n}" for n in range(20)]),
])
def test_tag_keys_are_deduplicated(values, keys):
    assert rules.tag_keys(values) == keys


def test_more_than_twenty_tag_keys_are_refused_with_the_count():
    assert refusal(lambda: rules.tag_keys([f"k{n}" for n in range(21)])) == (
        INVALID, "TagKey holds 21 keys; at most 20 a call.")


def test_a_template_past_twenty_tags_is_refused_with_its_count():
    existing = {f"k{n}": "v" for n in range(20)}
    rules.check_count("SMS_1", existing, {"k3": "w"})  # replacing a value adds no tag
    assert refusal(lambda: rules.check_count("SMS_1", existing, {"new": "v"})) == (
        INVALID, "Template SMS_1 would hold 21 tags; a template holds at most 20.")
