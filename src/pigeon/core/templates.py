"""Template placeholders: finding ``${name}`` variables and rendering a template with values.

A placeholder is ``$`` + ``{`` + a name of ASCII letters, digits and underscores + ``}``
(spec/dysmsapi.md §2.13, "variables as ``${name}``").  A lone ``$`` or ``{`` is ordinary text,
but ``${`` always opens a placeholder, so ``${}``, ``${order-id}``, ``${名字}`` and an unclosed
``${code`` are malformed and raise ``isv.INVALID_PARAMETERS`` (Alibaba documents no dedicated
code for a malformed placeholder; the message names the placeholder and the rule).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pigeon.core.errors import PigeonError

MAX_TEMPLATE_PARAM = 4096
"""Characters of one recipient's TemplateParam JSON (``isv.PARAM_LENGTH_LIMIT`` past it).
Alibaba documents none; a message is at most 500 characters with its variables expanded and a
value at most 35 (core/variable_values.py), which leaves room here for keys the template does
not use — and those are not stored (services/sending.py)."""

_NAME = re.compile(r"[A-Za-z0-9_]+")
# Everything from "${" up to the first "}" (or to the end when it is never closed).
_PLACEHOLDER = re.compile(r"\$\{([^}]*)(\}?)")


def _placeholders(content: str) -> list[re.Match[str]]:
    found = []
    for match in _PLACEHOLDER.finditer(content):
        name, closed = match.group(1), match.group(2)
        if not closed:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"TemplateContent has an unclosed placeholder {match.group(0)!r}: "
                              "write variables as ${name}.")
        if not _NAME.fullmatch(name):
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"TemplateContent placeholder {match.group(0)!r} is malformed: a "
                              "variable name must be one or more ASCII letters, digits or "
                              "underscores, as in ${code}.")
        found.append(match)
    return found


def variables(content: str) -> list[str]:
    """The variable names of ``content`` in order of first appearance, each once.

    ``"您的验证码${code}，${code}5分钟内有效"`` → ``["code"]``.  Raises
    ``isv.INVALID_PARAMETERS`` on a malformed placeholder.
    """
    names: dict[str, None] = {}
    for match in _placeholders(content):
        names.setdefault(match.group(1), None)
    return list(names)


def render(content: str, values: Mapping[str, str]) -> str:
    """``content`` with every ``${name}`` replaced by ``values[name]``.

    Substitution is a single pass: a value that itself contains ``${…}`` is inserted literally,
    never expanded again.  Values not used by the template are ignored, as on Alibaba.

    Raises ``isv.TEMPLATE_MISSING_PARAMETERS`` naming the first variable without a value,
    ``isv.INVALID_JSON_PARAM`` when a value is not a string (Alibaba rejects
    ``{"code":123456}``), and ``isv.INVALID_PARAMETERS`` on a malformed placeholder.
    """
    matches = _placeholders(content)
    for match in matches:
        name = match.group(1)
        if name not in values:
            raise PigeonError("isv.TEMPLATE_MISSING_PARAMETERS",
                              f"TemplateParam gives no value for the template variable "
                              f"${{{name}}}.")
        if not isinstance(values[name], str):
            raise PigeonError("isv.INVALID_JSON_PARAM",
                              f"TemplateParam value of {name!r} must be a JSON string, got "
                              f"{type(values[name]).__name__} {values[name]!r}.")
    parts: list[str] = []
    position = 0
    for match in matches:
        parts.append(content[position:match.start()])
        parts.append(values[match.group(1)])
        position = match.end()
    parts.append(content[position:])
    return "".join(parts)
