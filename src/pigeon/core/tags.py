"""Tags on templates: TagResources, UntagResources, ListTagResources (spec §1.2.I).

Resources are templates, named by TemplateCode, and ``ResourceType`` is ``TEMPLATE`` [SDK-doc].
A call names at most 20 resources and 20 tags [SDK-doc].  The rest follows the rules Alibaba
Cloud's tag service gives every product (Pigeon's reading, the SMS pages say nothing more): a
key is 1–128 characters, a value 0–128; neither begins with ``aliyun`` or ``acs:`` (reserved for
the platform) nor contains ``http://`` or ``https://``; a resource holds at most 20 tags, one
value per key (tagging a key again replaces its value).
"""

from __future__ import annotations

from collections.abc import Mapping

from pigeon.core.errors import PigeonError

RESOURCE_TYPE = "TEMPLATE"
MAX_RESOURCES = 20
MAX_TAGS_PER_CALL = 20
MAX_TAGS = 20
MAX_KEY = 128
MAX_VALUE = 128
_RESERVED = ("aliyun", "acs:")


def _invalid(message: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", message)


def check_resource_type(value: str) -> None:
    if value.strip().upper() != RESOURCE_TYPE:
        raise _invalid(f"ResourceType must be {RESOURCE_TYPE}: only templates carry tags, got "
                       f"{value!r}.")


def resource_ids(values: list[str], *, required: bool) -> list[str]:
    """The template codes of ``ResourceId.N``, each once, in order; at most 20."""
    ids = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    if required and not ids:
        raise PigeonError.missing("ResourceId.1")
    if len(ids) > MAX_RESOURCES:
        raise _invalid(f"ResourceId names {len(ids)} templates; at most {MAX_RESOURCES} a call.")
    return ids


def _text(what: str, text: str, low: int, high: int) -> str:
    if not low <= len(text) <= high:
        raise _invalid(f"{what} must be {low} to {high} characters, got {text!r}.")
    lowered = text.lower()
    if lowered.startswith(_RESERVED):
        raise _invalid(f"{what} {text!r} may not begin with aliyun or acs: (reserved).")
    if "http://" in lowered or "https://" in lowered:
        raise _invalid(f"{what} {text!r} may not contain http:// or https://.")
    return text


def tags(items: list[Mapping[str, str]], *, required: bool, values: bool = True) -> dict[str, str]:
    """``Tag.N.Key``/``Tag.N.Value`` → ``{key: value}`` (a key given twice keeps the last
    value); at most 20.  ``values=False`` (a filter) lets a value be absent: ``""``, any."""
    found: dict[str, str] = {}
    for position, item in enumerate(items, start=1):
        key = item.get("Key")
        if key is None or key == "":
            raise PigeonError.missing(f"Tag.{position}.Key")
        value = item.get("Value")
        if value is None and values:
            raise PigeonError.missing(f"Tag.{position}.Value")
        found[_text(f"Tag.{position}.Key", key, 1, MAX_KEY)] = \
            _text(f"Tag.{position}.Value", value or "", 0, MAX_VALUE)
    if required and not found:
        raise PigeonError.missing("Tag.1.Key")
    if len(found) > MAX_TAGS_PER_CALL:
        raise _invalid(f"Tag holds {len(found)} tags; at most {MAX_TAGS_PER_CALL} a call.")
    return found


def tag_keys(values: list[str]) -> list[str]:
    keys = list(dict.fromkeys(v for v in values if v))
    if len(keys) > MAX_TAGS_PER_CALL:
        raise _invalid(f"TagKey holds {len(keys)} keys; at most {MAX_TAGS_PER_CALL} a call.")
    return keys


def check_count(code: str, existing: Mapping[str, str], adding: Mapping[str, str]) -> None:
    """Raise if ``adding`` would leave the template ``code`` with more than 20 tags."""
    total = len(set(existing) | set(adding))
    if total > MAX_TAGS:
        raise _invalid(f"Template {code} would hold {total} tags; a template holds at most "
                       f"{MAX_TAGS}.")
