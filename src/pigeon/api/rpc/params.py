"""Typed access to an action's parameters, with Alibaba's error codes for bad input.

A required parameter that is absent (or empty) is ``Missing<Name>`` (HTTP 400); a value of the
wrong type is ``Invalid<Name>`` (HTTP 400), as the gateway answers (spec/dysmsapi.md §4.2).
Business rules on well-typed values are the services' job and answer ``isv.*`` codes.

What an SDK sends for an optional field its caller never set means "not given", for every
action, as it does for Alibaba: an empty string (``OutId=``), an empty JSON array
(``OtherFiles=[]``: the Python Tea SDK's ``Request().from_map({...})`` makes every list it is
not given ``[]``), and ``0`` for a number that only has positive values (a page number, an
id: what a client whose integers default to 0 sends).  The rule lives here and nowhere else:
handlers read parameters only through these methods.
"""

from __future__ import annotations

import re
from typing import Any

from pigeon.core import json_input
from pigeon.core.errors import PigeonError
from pigeon.core.templates import MAX_TEMPLATE_PARAM

MAX_LENGTH = 64 * 1024
"""Characters of any parameter without a limit of its own.  The spec's limits are checked by
the rules that know them (TemplateName ≤ 30 …); this bounds what nothing else bounds."""
_INVALID = "isv.INVALID_PARAMETERS"
MAX_LENGTHS: dict[str, tuple[int, str]] = {
    "ApplySceneContent": (1000, _INVALID),  # a URL (spec §2.5, §2.13; AddShortUrl: ≤ 1000)
    "TrafficDriving": (8192, _INVALID),  # a few declared links or numbers (spec §3.10)
    "TemplateParam": (MAX_TEMPLATE_PARAM, "isv.PARAM_LENGTH_LIMIT"),
    "TemplateParamJson": (100 * MAX_TEMPLATE_PARAM, "isv.PARAM_LENGTH_LIMIT"),  # ≤ 100 numbers
}
"""Parameters with a limit of their own, and the code past it."""
_UNBOUNDED_SUFFIX = ".FileContents"  # AddSmsSign's proof files: only the body limit applies

_INT = re.compile(r"^\s*[+-]?\d{1,19}\s*$")
_EMPTY_ARRAY = re.compile(r"^\s*\[\s*\]\s*$")
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class Params:
    def __init__(self, raw: dict[str, str]) -> None:
        self.raw = raw

    def __contains__(self, name: str) -> bool:
        return name in self.raw

    def str(self, name: str, *, required: bool = False, default: str | None = None) -> Any:
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                raise PigeonError.missing(name)
            return default
        if len(value) > 1000:  # the usual case needs no look-up
            limit, code = _limit(name)
            if len(value) > limit:
                raise PigeonError(code, f"{name} must be at most {limit} characters, got "
                                        f"{len(value)}.")
        return value

    def list_text(self, name: str) -> str | None:
        """An optional JSON-array parameter as its text, for a rule that decodes it itself (or
        keeps it as text); an empty array is not given, like an empty string."""
        text = self.str(name)
        if text is not None and _EMPTY_ARRAY.match(text):
            return None
        return text

    def int(self, name: str, *, required: bool = False, default: int | None = None,
            low: int | None = None, high: int | None = None) -> Any:
        """A whole number (a Long).  ``0`` for an optional parameter whose ``low`` bound is
        positive is not given: ``default``."""
        text = self.str(name, required=required)
        if text is None:
            return default
        if not _INT.match(text):
            raise PigeonError.invalid(name, "It must be a whole number.")
        value = int(text)
        if value == 0 and not required and low is not None and low > 0:
            return default
        if not -(2**63) <= value < 2**63:  # what a Long holds (and a BIGINT column)
            raise PigeonError.invalid(name, "It is out of range.")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise PigeonError.invalid(name, f"It must be {bounds}.")
        return value

    def bool(self, name: str, *, required: bool = False, default: bool | None = None) -> Any:
        text = self.str(name, required=required)
        if text is None:
            return default
        lowered = text.strip().lower()  # Python SDKs send True/False, others true/false
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise PigeonError.invalid(name, "It must be true or false.")

    def json(self, name: str, kind: type, *, required: bool = False, default: Any = None,
             code: str | None = None, max_length: int = json_input.MAX_LENGTH) -> Any:
        """A JSON-text parameter (``MoreData=["a.png"]``) of the given top-level ``kind``.

        ``code`` picks a business code for bad JSON (``isv.INVALID_JSON_PARAM`` for
        TemplateParam); by default it is the gateway's ``Invalid<Name>``.  An empty array for
        an optional parameter is not given, whatever ``kind``; a required one is decoded, for
        the action's own rule on it (``PhoneNumberJson=[]`` holds no number).  Text longer
        than ``max_length`` or nested deeper than :data:`~pigeon.core.json_input.MAX_DEPTH`
        is refused the same way, before it costs more than its own length.
        """
        text = self.str(name, required=True) if required else self.list_text(name)
        if text is None:
            return default
        what = "a JSON array" if kind is list else "a JSON object"
        try:
            value = json_input.loads(text, max_length=max_length)
        except json_input.JsonLimitError as limit:
            why = f"{name} must be {what} of at most {max_length} characters, nested at most " \
                  f"{json_input.MAX_DEPTH} levels; {limit}."
            if code:
                raise PigeonError(code, why) from None
            raise PigeonError.invalid(name, why) from None
        except ValueError:
            value = _NotJson
        if not isinstance(value, kind):
            if code:
                raise PigeonError(code, f"{name} must be {what}.")
            raise PigeonError.invalid(name, f"It must be {what}.")
        return value

    def flat_list(self, prefix: str) -> list[dict[str, str]]:
        """``SignFileList.1.FileContents=…&SignFileList.1.FileSuffix=…`` → list of dicts,
        ordered by index."""
        items: dict[int, dict[str, str]] = {}
        pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)(?:\.(\w+))?$")
        for key, value in self.raw.items():
            match = pattern.match(key)
            if match:
                items.setdefault(int(match.group(1)), {})[match.group(2) or ""] = value
        return [items[index] for index in sorted(items)]


def _limit(name: str) -> tuple[int, str]:
    return MAX_LENGTHS.get(name) or (
        2**63 if name.endswith(_UNBOUNDED_SUFFIX) else MAX_LENGTH, _INVALID)


class _NotJson:
    pass
