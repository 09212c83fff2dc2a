"""Client JSON is decoded within bounds: its length before decoding, its nesting after."""

from __future__ import annotations

import pytest

from pigeon.core import json_input
from pigeon.core.json_input import JsonLimitError, depth


@pytest.mark.parametrize("text, levels", [
    ('"a"', 0), ("1", 0), ("[]", 1), ('{"a":"b"}', 1), ('[{"a":["b"]}]', 3),
    ('[[1],[[2]],{}]', 3),
])
def test_depth_counts_arrays_and_objects(text, levels):
    assert depth(json_input.loads(text)) == levels


@pytest.mark.parametrize("text", [
    "[" * 100_000, "[" * 5000 + "]" * 5000, '{"a":' * 5000 + "1" + "}" * 5000,
    "[" * 9 + "]" * 9,
])
def test_nesting_past_the_limit_is_a_value_error_never_a_recursion_error(text):
    with pytest.raises(JsonLimitError, match="nests deeper|longer"):
        json_input.loads(text, max_length=10**6)


def test_text_past_its_length_is_refused_before_it_is_decoded():
    with pytest.raises(JsonLimitError, match="longer than 10 characters"):
        json_input.loads("[" + "1," * 10 + "1]", max_length=10)
    assert json_input.loads("[" * 8 + "]" * 8) == [[[[[[[[]]]]]]]]
    assert json_input.loads("[" + "1," * 4 + "1]", max_length=11) == [1] * 5  # 11 characters


# Surviving mutants, explained (scripts/mutation core json_input): depth() stopping (break)
# instead of skipping (continue) at a value that is no array or object: only the value itself
# can be one — children are stacked only when they are arrays or objects — and then there is
# nothing left to walk either way.


def test_what_is_not_json_stays_a_plain_value_error():
    with pytest.raises(ValueError) as raised:
        json_input.loads("{nope")
    assert not isinstance(raised.value, JsonLimitError)
