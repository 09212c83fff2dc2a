"""Extension codes: AddExtCodeSign, QueryExtCodeSign, UpdateExtCodeSign, DeleteExtCodeSign
(spec/dysmsapi.md §1.2.G).  The changing actions answer ``Data`` true (a Boolean) and
``Success``; QueryExtCodeSign answers ``Data{List, PageNo, PageSize, Total}`` with ``Active``
and ``SendCount`` numbers."""

from __future__ import annotations

from pigeon.api.rpc.actions import Call, action
from pigeon.services import ext_codes


def _done() -> dict:
    return {"Data": True, "Success": True}


@action("AddExtCodeSign")
async def add_ext_code_sign(call: Call) -> dict:
    p = call.params
    await call.pigeon.db.write(ext_codes.add, call.account_id, p.str("SignName", required=True),
                               p.str("ExtCode", required=True), call.now)
    return _done()


@action("UpdateExtCodeSign")
async def update_ext_code_sign(call: Call) -> dict:
    p = call.params
    await call.pigeon.db.write(ext_codes.replace, call.account_id,
                               p.str("SignName", required=True),
                               p.str("ExistExtCode", required=True),
                               p.str("NewExtCode", required=True), call.now)
    return _done()


@action("DeleteExtCodeSign")
async def delete_ext_code_sign(call: Call) -> dict:
    p = call.params
    await call.pigeon.db.write(ext_codes.remove, call.account_id,
                               p.str("SignName", required=True), p.str("ExtCode", required=True))
    return _done()


@action("QueryExtCodeSign")
async def query_ext_code_sign(call: Call) -> dict:
    p = call.params
    page_no = p.int("PageNo", default=1, low=1)
    page_size = p.int("PageSize", default=10, low=1, high=50)
    total, rows = await call.pigeon.db.read(ext_codes.page, call.account_id,
                                            ext_code=p.str("ExtCode"), sign_name=p.str("SignName"),
                                            page_no=page_no, page_size=page_size)
    return {"Data": {"List": [{"ExtCode": row["code"], "SignName": row["sign_name"],
                               "Source": row["source"], "Active": int(row["active"]),
                               "SendCount": row["send_count"]} for row in rows],
                     "PageNo": page_no, "PageSize": page_size, "Total": total},
            "Success": True}
