"""Tags on templates: TagResources, UntagResources, ListTagResources (spec/dysmsapi.md §1.2.I).

``RegionId`` and ``ResourceType`` are required; ``ResourceType`` is ``TEMPLATE`` and the
resources are TemplateCodes; ``ProdCode`` (``dysms``) is accepted and ignored.  Lists arrive
flattened: ``ResourceId.1``, ``Tag.1.Key``/``Tag.1.Value``, ``TagKey.1``.  TagResources and
UntagResources answer ``Data`` ``"true"`` (a string, as the SDK's model declares it).
"""

from __future__ import annotations

from pigeon.api.rpc.actions import Call, action
from pigeon.core import tags as rules
from pigeon.core.errors import PigeonError
from pigeon.services import template_tags

PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000


def _common(call: Call, *, resources_required: bool) -> list[str]:
    call.params.str("RegionId", required=True)  # cn-hangzhou; every region is this platform
    rules.check_resource_type(call.params.str("ResourceType", required=True))
    return rules.resource_ids([item.get("", "") for item in call.params.flat_list("ResourceId")],
                              required=resources_required)


@action("TagResources")
async def tag_resources(call: Call) -> dict:
    codes = _common(call, resources_required=True)
    given = rules.tags(call.params.flat_list("Tag"), required=True)
    await call.pigeon.db.write(template_tags.tag, call.account_id, codes, given, call.now)
    return {"Data": "true"}


@action("UntagResources")
async def untag_resources(call: Call) -> dict:
    codes = _common(call, resources_required=True)
    keys = rules.tag_keys([item.get("", "") for item in call.params.flat_list("TagKey")])
    everything = call.params.bool("All", default=False)
    await call.pigeon.db.write(template_tags.untag, call.account_id, codes, keys, everything)
    return {"Data": "true"}


@action("ListTagResources")
async def list_tag_resources(call: Call) -> dict:
    codes = _common(call, resources_required=False)
    wanted = rules.tags(call.params.flat_list("Tag"), required=False, values=False)
    size = call.params.int("PageSize", default=PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
    token = call.params.str("NextToken")
    # The token is the next page's offset: anything else — or an offset no list reaches,
    # which an OFFSET past a BIGINT would turn into a database error — was not answered here.
    if token is not None and not (token.isdigit() and len(token) <= 12):
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"NextToken {token!r} is not one this action answered.")
    rows, following = await call.pigeon.db.read(
        template_tags.listed, call.account_id, codes=codes, wanted=wanted,
        offset=int(token or 0), limit=size)
    answer = {"TagResources": {"TagResource": [
        {"ResourceId": row["code"], "ResourceType": rules.RESOURCE_TYPE,
         "TagKey": row["key"], "TagValue": row["value"]} for row in rows]}}
    if following is not None:
        answer["NextToken"] = str(following)
    return answer
