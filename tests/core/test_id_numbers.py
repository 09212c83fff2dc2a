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
