from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.core.id_numbers import (
    CREDIT_CODE_ALPHABET,
    is_valid_resident_id,
    is_valid_social_credit_code,
    resident_id_check_digit,
    resident_id_problem,
    social_credit_check_char,
    social_credit_code_problem,
)

# 杭州云雀科技有限公司, a made-up company registered in Xihu district (330106); its check
# character was computed with social_credit_check_char.
YUNQUE_CODE = "91330106MA27Y5LQ08"


# Surviving mutants, explained (scripts/mutation core id_numbers):
# - social_credit_check_char, resident_id_check_digit: zip(..., strict=True) turned into
#   strict=False/None or dropped: the input was just checked to be 17 characters and there are
#   17 weights, so the two sequences always have the same length.
# - resident_id_problem: `body[0] not in "12345678"` turned into `not in "XX12345678XX"`:
#   body[0] is a digit by then, and the only digits either string lacks are 0 and 9.


@pytest.mark.parametrize(("first17", "check"), [
    ("91350100M000100Y4", "3"),   # public example 91350100M000100Y43
    ("91330106MA27Y5LQ0", "8"),
    ("12330000470003218", "0"),
])
def test_it_computes_the_gb_32100_check_character(first17, check):
    assert social_credit_check_char(first17) == check


@pytest.mark.parametrize("first17", ["", "91350100M000100Y", "91350100I000100Y4", "9135010OM00010Y4"])
def test_it_refuses_to_compute_a_check_character_from_bad_input(first17):
    with pytest.raises(ValueError):
        social_credit_check_char(first17)


@pytest.mark.parametrize(("code", "complaint"), [
    ("91350100M000100Y43", None),
    (YUNQUE_CODE, None),
    ("123300004700032180", None),
    ("91350100M000100Y44", "check character '4'"),
    ("91350100m000100y43", "upper-case"),
    ("91350100M000100Y4", "18 characters"),
    ("91350100M000100Y433", "18 characters"),
    ("91350100I000100Y43", "'I'"),
    ("91350100O000100Y43", "'O'"),
    ("91A50100M000100Y43", "administrative division"),
    ("91350100M000100Y4 ", "' '"),
])
def test_it_checks_unified_social_credit_codes(code, complaint):
    problem = social_credit_code_problem(code)
    if complaint is None:
        assert problem is None
        assert is_valid_social_credit_code(code)
    else:
        assert complaint in problem
        assert not is_valid_social_credit_code(code)


@pytest.mark.parametrize(("first17", "check"), [
    ("11010519491231002", "X"),   # the GB 11643 example 11010519491231002X
    ("44052418800101001", "4"),   # the ISO 7064 example 440524188001010014
    ("33010619900307123", "6"),
])
def test_it_computes_the_iso_7064_check_digit(first17, check):
    assert resident_id_check_digit(first17) == check


@pytest.mark.parametrize(("number", "complaint"), [
    ("11010519491231002X", None),
    ("11010519491231002x", None),
    ("330106199003071236", None),
    ("110105194912310021", "check character '1'"),
    ("330106199003071237", "check character '7'"),
    ("11010519491331002X", "not a calendar date"),     # month 13
    ("11010520250229002X", "not a calendar date"),     # 2025 is not a leap year
    ("440524188001010014", "not plausible"),           # born before 1900
    ("330106203001010010", "not plausible"),           # born after today
    ("010105194912310021", "not a PRC region"),
    ("11010519491231002", "18 characters"),
    ("1101051949123100AX", "17 digits"),
    ("１１０１０５１９４９１２３１００２X", "17 digits"),  # full-width digits
])
def test_it_checks_resident_id_numbers(number, complaint):
    problem = resident_id_problem(number, today=date(2026, 10, 14))
    if complaint is None:
        assert problem is None
        assert is_valid_resident_id(number, today=date(2026, 10, 14))
    else:
        assert complaint in problem


def _code_text(size: int, alphabet: str = CREDIT_CODE_ALPHABET):
    return st.text(alphabet=alphabet, min_size=size, max_size=size)


@given(st.builds("".join, st.tuples(_code_text(2), _code_text(6, "0123456789"), _code_text(9))),
       st.sampled_from(CREDIT_CODE_ALPHABET))
def test_exactly_one_check_character_completes_a_credit_code(body, check):
    valid = check == social_credit_check_char(body)
    assert is_valid_social_credit_code(body + check) is valid


@given(st.text(alphabet="0123456789", min_size=17, max_size=17),
       st.sampled_from("0123456789X"))
def test_exactly_one_check_character_completes_an_id_number(body, check):
    problem = resident_id_problem(body + check)
    if check != resident_id_check_digit(body):
        assert problem is not None


@pytest.mark.parametrize("first17", ["91350100M000100Y", "91350100I000100Y4", "91350100M000100Y43"])
def test_a_bad_credit_code_body_is_refused_with_the_expected_alphabet(first17):
    with pytest.raises(ValueError) as raised:
        social_credit_check_char(first17)
    assert str(raised.value) == f"expected 17 characters of {CREDIT_CODE_ALPHABET}, got {first17!r}"


@pytest.mark.parametrize("first17", [
    "1101051949123100",     # 16 digits
    "110105194912310021",   # 18 digits
    "1101051949123100A",    # an ASCII letter
    "１１０１０５１９４９１２３１００２",  # full-width digits: digits, but not ASCII
])
def test_a_bad_id_number_body_is_refused_with_a_message(first17):
    with pytest.raises(ValueError) as raised:
        resident_id_check_digit(first17)
    assert str(raised.value) == f"expected 17 digits, got {first17!r}"


# The problems are shown to the tenant in the console and in API messages, word for word.
@pytest.mark.parametrize(("code", "problem"), [
    ("91350100M000100Y4", "must be 18 characters long, got 17"),
    ("91350100m000100y43", "must be written with upper-case letters"),
    ("91350100I000100Y43", "contains 'I', which is not used in credit codes (allowed: digits and "
                           "the letters ABCDEFGHJKLMNPQRTUWXY)"),
    ("91A50100M000100Y43", "characters 3-8 must be the digits of an administrative division "
                           "code, got 'A50100'"),
    ("91350100M000100Y44", "has the check character '4' where GB 32100-2015 gives '3'"),
])
def test_a_credit_code_problem_is_worded_exactly(code, problem):
    assert social_credit_code_problem(code) == problem


@pytest.mark.parametrize(("number", "problem"), [
    ("11010519491231002", "must be 18 characters long, got 17"),
    ("1101051949123100AX", "must be 17 digits followed by a digit or X"),
    ("11010519491231002Y", "must be 17 digits followed by a digit or X"),
    ("010105194912310021", "starts with the address code '010105', which is not a PRC region"),
    ("11010519491331002X", "holds the birth date '19491331', which is not a calendar date"),
    ("440524188001010014", "holds the birth date 1880-01-01, which is not plausible"),
    ("110105189912310015", "holds the birth date 1899-12-31, which is not plausible"),
    ("110105202610150013", "holds the birth date 2026-10-15, which is not plausible"),
    ("110105194912310021", "has the check character '1' where ISO 7064 MOD 11-2 gives 'X'"),
])
def test_a_resident_id_problem_is_worded_exactly(number, problem):
    assert resident_id_problem(number, today=date(2026, 10, 14)) == problem


@pytest.mark.parametrize("number", [
    "11010519000101001X",   # born on the first day of 1900
    "110105202610140018",   # born today
])
def test_the_birth_date_limits_are_inclusive(number):
    assert resident_id_problem(number, today=date(2026, 10, 14)) is None


def test_is_valid_resident_id_judges_the_birth_date_against_the_given_today():
    born_tomorrow = "110105202610150013"
    assert is_valid_resident_id(born_tomorrow)
    assert not is_valid_resident_id(born_tomorrow, today=date(2026, 10, 14))
