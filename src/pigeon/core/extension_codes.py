"""Extension codes: the digits after the platform's access code that say whose a reply is.

A message goes out from ``<access code><signature's code><SmsUpExtendCode>``; a reply comes back
to the same digits, and the signature whose code is the longest prefix of them owns it.  For
that to name one signature, no code may be a prefix of another signature's code (``1234`` and
``12345`` would both claim a reply to ``123456``): such a code "is used by another signature",
``isv.EXTEND_CODE_ERROR``.

Pigeon's limits (the spec has none): a code is 1 to 8 digits, so that access code, code and an
SmsUpExtendCode fit the 20 digits of a sender number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pigeon.core.errors import PigeonError

MAX_LENGTH = 8
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_LENGTH}}}")


def validate(code: object, field: str = "ExtCode") -> str:
    """The code, stripped; ``isv.INVALID_PARAMETERS`` unless it is 1 to 8 digits."""
    text = code.strip() if isinstance(code, str) else code
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{field} must be 1 to {MAX_LENGTH} digits, got {code!r}.")
    return text


def prefixes(digits: str) -> list[str]:
    """Every non-empty prefix of ``digits``, shortest first (the codes that could own a reply
    to ``digits``)."""
    return [digits[:n] for n in range(1, len(digits) + 1)]


def clash(code: str, taken: Iterable[str]) -> str | None:
    """A code of ``taken`` that is ``code``, a prefix of it or prefixed by it; ``None`` if
    ``code`` can be given without making replies ambiguous."""
    for other in taken:
        if other.startswith(code) or code.startswith(other):
            return other
    return None


def owner(dest_code: str, codes: Iterable[str]) -> str | None:
    """The code of ``codes`` that owns a reply to ``dest_code``: the longest prefix."""
    return max((c for c in codes if dest_code.startswith(c)), key=len, default=None)
