"""Extension codes: digits only, and no code may begin another signature's."""

from __future__ import annotations

import pytest

from pigeon.core import extension_codes as codes
from pigeon.core.errors import PigeonError


@pytest.mark.parametrize("text, valid", [
    ("1", True), (" 886 ", True), ("12345678", True), ("123456789", False), ("", False),
    ("12a", False), ("１２", False), (None, False), ("-1", False),
])
def test_a_code_is_one_to_eight_digits(text, valid):
    if valid:
        assert codes.validate(text) == text.strip()
    else:
        with pytest.raises(PigeonError) as raised:
            codes.validate(text)
        assert raised.value.code == "isv.INVALID_PARAMETERS"
        assert raised.value.message == f"ExtCode must be 1 to 8 digits, got {text!r}."


@pytest.mark.parametrize("code, taken, clash", [
    ("886", ["1234", "5678"], None),
    ("886", ["886"], "886"),
    ("8861", ["886"], "886"),  # begins with a taken code
    ("88", ["886"], "886"),  # a taken code begins with it
    ("887", ["886", "8870"], "8870"),
])
def test_a_code_clashes_with_one_it_begins_or_that_begins_it(code, taken, clash):
    assert codes.clash(code, taken) == clash


def test_the_longest_code_that_begins_the_destination_owns_a_reply():
    assert codes.owner("8861234", ["886", "1234", "8861"]) == "8861"
    assert codes.owner("123", ["886"]) is None
    assert codes.prefixes("886") == ["8", "88", "886"]


# Surviving mutants, explained (scripts/mutation core extension_codes): owner() taking the
# greatest code instead of the longest (max without key=len) picks the same one — the codes
# that begin one destination are prefixes of each other, and a prefix sorts before every
# longer prefix.
