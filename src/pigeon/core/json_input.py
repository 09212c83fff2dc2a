"""JSON text that a client sent: decoded within bounds on its length and its nesting.

``json.loads`` recurses once per level of nesting: ten thousand ``[`` raise ``RecursionError``
— not a ``ValueError``, so no ``except ValueError`` around it catches it, and the request
fails with a 500.  And a few megabytes of ``[[],[],…]`` decode to hundreds of megabytes of
Python lists.  No parameter of the API nests more than three levels (TemplateParamJson is an
array of objects of strings, an OSS policy an object of arrays) or needs more than a few
kilobytes, so :func:`loads` refuses text longer than ``max_length`` characters before decoding
it and nesting deeper than ``max_depth`` after, both as :class:`JsonLimitError` — a
``ValueError``, which every caller already answers as "not valid JSON" with its own code.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 8
"""Levels of arrays and objects one value may nest (``[[1]]`` is two)."""

MAX_LENGTH = 64 * 1024
"""Characters of JSON text decoded by default."""


class JsonLimitError(ValueError):
    """The text is longer, or nests deeper, than the caller allows."""


def loads(text: str | bytes | bytearray, *, max_length: int = MAX_LENGTH,
          max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads(text)``, or :class:`JsonLimitError` past ``max_length`` characters (bytes)
    or ``max_depth`` levels; ``ValueError`` for text that is not JSON."""
    if len(text) > max_length:
        raise JsonLimitError(f"it is longer than {max_length} characters")
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonLimitError(f"it nests deeper than {max_depth} levels") from None
    if depth(value) > max_depth:
        raise JsonLimitError(f"it nests deeper than {max_depth} levels")
    return value


def depth(value: Any) -> int:
    """How many levels of arrays and objects ``value`` nests (0 for a string or number);
    without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children
                     if isinstance(child, dict | list))
    return deepest
