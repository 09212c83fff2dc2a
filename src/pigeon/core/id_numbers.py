"""Check characters of the identity numbers a qualification carries.

* The **unified social credit code** (统一社会信用代码, GB 32100-2015) of a company or other
  organisation: 18 characters from the 31-character alphabet ``0-9 A-H J-N P-R T U W-Y`` (no I,
  O, S, V, Z), laid out as registration authority (1), organisation type (1), administrative
  division code (6 digits), organisation code (9), check character (1).  The check character
  is ``31 - (Σ value(cᵢ)·3ⁱ mod 31) mod 31`` over the first 17 characters.
* The **resident identity card number** (居民身份证号码, GB 11643-1999): 6-digit address
  code, 8-digit birth date, 3-digit sequence, and an ISO 7064 MOD 11-2 check character
  (``0-9`` or ``X``).

Only structure and check characters are verified here; whether the number belongs to the named
company or person is a reviewer's (or a registry's) question.
"""

from __future__ import annotations

from datetime import date

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUE = {char: value for value, char in enumerate(CREDIT_CODE_ALPHABET)}
_CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1, 3, 9, 27, 19, 26, 16, …

_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, …
_ID_CHECK = "10X98765432"  # indexed by (Σ digit·weight) mod 11


def social_credit_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a credit code.

    Raises :class:`ValueError` if ``first17`` is not 17 characters of the code alphabet.
    """
    if len(first17) != 17 or any(char not in _CREDIT_VALUE for char in first17):
        raise ValueError(f"expected 17 characters of {CREDIT_CODE_ALPHABET}, got {first17!r}")
    total = sum(_CREDIT_VALUE[char] * weight for char, weight in zip(first17, _CREDIT_WEIGHTS,
                                                                     strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def social_credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a unified social credit code, or ``None`` when it is one."""
    if len(code) != 18:
        return f"must be 18 characters long, got {len(code)}"
    if code != code.upper():
        return "must be written with upper-case letters"
    bad = [char for char in code if char not in _CREDIT_VALUE]
    if bad:
        return (f"contains {bad[0]!r}, which is not used in credit codes (allowed: digits and "
                f"the letters {CREDIT_CODE_ALPHABET[10:]})")
    if not code[2:8].isdigit():
        return f"characters 3-8 must be the digits of an administrative division code, got {code[2:8]!r}"
    expected = social_credit_check_char(code[:17])
    if code[17] != expected:
        return f"has the check character {code[17]!r} where GB 32100-2015 gives {expected!r}"
    return None


def is_valid_social_credit_code(code: str) -> bool:
    return social_credit_code_problem(code) is None


def resident_id_check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (``0-9`` or ``X``) for 17 ID-number digits."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"expected 17 digits, got {first17!r}")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def resident_id_problem(number: str, *, today: date | None = None) -> str | None:
    """Why ``number`` is not an 18-digit PRC resident ID number, or ``None`` when it is one.

    Checks length, digits, an address code starting with 1–8, a real birth date (not after
    ``today`` when given, not before 1900) and the check character; a lower-case ``x`` is
    accepted for the check character.
    """
    if len(number) != 18:
        return f"must be 18 characters long, got {len(number)}"
    body, check = number[:17], number[17].upper()
    if not (body.isascii() and body.isdigit()) or not (check == "X" or check.isdigit()):
        return "must be 17 digits followed by a digit or X"
    if body[0] not in "12345678":
        return f"starts with the address code {body[:6]!r}, which is not a PRC region"
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return f"holds the birth date {body[6:14]!r}, which is not a calendar date"
    if born.year < 1900 or (today is not None and born > today):
        return f"holds the birth date {born.isoformat()}, which is not plausible"
    expected = resident_id_check_digit(body)
    if check != expected:
        return f"has the check character {check!r} where ISO 7064 MOD 11-2 gives {expected!r}"
    return None


def is_valid_resident_id(number: str, *, today: date | None = None) -> bool:
    return resident_id_problem(number, today=today) is None
