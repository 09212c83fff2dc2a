"""Short URLs: AddShortUrl, QueryShortUrl, DeleteShortUrl, CreateSmartShortUrl,
QueryPageSmartShortUrlLog (spec/dysmsapi.md §1.2.H), served by Pigeon's redirector
(``api/short_links.py``).

JSON types as the SDK's models declare them: QueryShortUrl's ``PageViewCount`` and
``UniqueVisitorCount`` are **strings**; CreateSmartShortUrl's ``Expiration`` and the smart log's
``ClickState``, ``ClickTime``, ``CreateTime`` are numbers (times in Unix milliseconds, 0 for no
click).  Dates shown as text are ``yyyy-MM-dd HH:mm:ss`` in platform time.
"""

from __future__ import annotations

import math

from pigeon.api.rpc.actions import Call, action
from pigeon.api.uploads import reached_address
from pigeon.core import short_urls as rules
from pigeon.services import short_urls


def base_url(call: Call) -> str:
    """Where short URLs point: ``PIGEON_SHORT_URL_BASE``, or the address the call reached."""
    return call.pigeon.settings.short_url_base or reached_address(call.request.headers,
                                                                  call.pigeon.settings)


@action("AddShortUrl")
async def add_short_url(call: Call) -> dict:
    p = call.params
    row = await call.pigeon.db.write(
        short_urls.add, call.account_id, source_url=p.str("SourceUrl", required=True),
        name=p.str("ShortUrlName", required=True), days=p.str("EffectiveDays", required=True),
        base=base_url(call), zone=call.pigeon.settings.timezone, now=call.now)
    return {"Data": {"ShortUrl": row["short_url"], "SourceUrl": row["source_url"],
                     "ExpireDate": call.local_time(row["expires_at"])}}


@action("QueryShortUrl")
async def query_short_url(call: Call) -> dict:
    row = await call.pigeon.db.read(short_urls.get, call.account_id,
                                    call.params.str("ShortUrl", required=True))
    return {"Data": {
        "ShortUrl": row["short_url"], "SourceUrl": row["source_url"],
        "ShortUrlName": row["name"] or "",
        "ShortUrlStatus": rules.status(row["expires_at"], call.now),
        "CreateDate": call.local_time(row["created_at"]),
        "ExpireDate": call.local_time(row["expires_at"]),
        "PageViewCount": str(row["page_views"]),
        "UniqueVisitorCount": str(row["unique_visitors"]),
    }}


@action("DeleteShortUrl")
async def delete_short_url(call: Call) -> dict:
    await call.pigeon.db.write(short_urls.remove, call.account_id,
                               call.params.str("SourceUrl", required=True))
    return {}


@action("CreateSmartShortUrl")
async def create_smart_short_url(call: Call) -> dict:
    p = call.params
    rows = await call.pigeon.db.write(
        short_urls.create_smart, call.account_id, source_url=p.str("SourceUrl", required=True),
        phone_numbers=p.str("PhoneNumbers", required=True), out_id=p.str("OutId"),
        base=base_url(call), now=call.now)
    return {"Model": [{"PhoneNumber": row["phone"], "ShortUrl": row["short_url"],
                       "ShortName": row["code"], "Domain": short_urls.domain(row["short_url"]),
                       "Expiration": rules.millis(row["expires_at"])} for row in rows]}


@action("QueryPageSmartShortUrlLog")
async def query_page_smart_short_url_log(call: Call) -> dict:
    p = call.params
    zone = call.pigeon.settings.timezone
    start = rules.log_bound(p.int("CreateDateStart", required=True), end=False, zone=zone)
    end = rules.log_bound(p.int("CreateDateEnd", required=True), end=True, zone=zone)
    page_no = p.int("PageNo", required=True, low=1)
    page_size = p.int("PageSize", required=True, low=1, high=50)
    total, rows = await call.pigeon.db.read(
        short_urls.smart_log, call.account_id, start=start, end=end,
        phone=p.str("PhoneNumber"), short_url=p.str("ShortUrl"), page_no=page_no,
        page_size=page_size)
    return {"Model": {
        "List": [{"PhoneNumber": row["phone"], "ShortUrl": row["short_url"],
                  "ShortName": row["code"], "ClickState": 1 if row["first_click"] else 0,
                  "ClickTime": rules.millis(row["first_click"]),
                  "CreateTime": rules.millis(row["created_at"])} for row in rows],
        "PageNo": page_no, "PageSize": page_size, "TotalCount": total,
        "TotalPage": math.ceil(total / page_size)}, "Success": True}
