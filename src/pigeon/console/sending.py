"""Tenant pages around sending: Sending records, Quick Start & Delivery Test, AccessKeys and
Delivery Report Configuration."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from pigeon.console.auth import Context, NotFound
from pigeon.console.rendering import BASE, SECURITY_HEADERS
from pigeon.console.tenant import SIGN_STATUS, TEMPLATE_TYPES, notice
from pigeon.core import days, json_input
from pigeon.core.errors import PigeonError
from pigeon.core.numbers import parse_number
from pigeon.core.templates import variables
from pigeon.services import (
    accounts,
    handsets,
    number_lists,
    records,
    reports,
    sending,
    signatures,
    templates,
)

SEND_STATUS = {"failed": (2, "Failed"), "delivered": (3, "Delivered")}
WAITING = (1, "Waiting for receipt")
RECORDS_PAGE = 50
EXPORT_LIMIT = 10_000


# -- sending records ---------------------------------------------------------------------------

def _status(row: dict) -> tuple[int, str]:
    return SEND_STATUS.get(row["status"], WAITING)


async def _find_records(request: Request, ctx: Context, page_size: int):
    """The QuerySendDetails filters of the request, checked, and the page they find."""
    query = request.query_params
    today = ctx.pigeon.calendar.local_date(ctx.now)
    filters = {"phone": query.get("phone", "").strip(), "date": query.get("date") or
               today.isoformat(), "biz_id": query.get("biz_id", "").strip()}
    try:
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        page = 1
    if not filters["phone"]:
        return filters, page, None, None
    try:
        phone = parse_number(filters["phone"]).wire
        day = date.fromisoformat(filters["date"])
        days.check_queryable(day, today)
    except ValueError:
        return filters, page, None, "The date must look like 2025-01-31."
    except PigeonError as exc:
        return filters, page, None, exc.message
    found = await ctx.pigeon.db.read(records.send_details, ctx.account_id,
                                     ctx.pigeon.calendar.zone, phone=phone, day=day, page=page,
                                     page_size=page_size, biz_id=filters["biz_id"] or None,
                                     offload=True)
    return filters, page, found, None


async def record_list(request: Request, ctx: Context) -> Response:
    filters, page, found, error = await _find_records(request, ctx, RECORDS_PAGE)
    pages = 0 if found is None else (found.total + RECORDS_PAGE - 1) // RECORDS_PAGE
    return ctx.render(request, "records.html", filters=filters, page=page, found=found,
                      pages=pages, error=error, status_of=_status, nav="records")


def _cell(value) -> str:
    # A cell a spreadsheet would run as a formula is written as text (SMS content is
    # attacker-controlled).
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def record_export(request: Request, ctx: Context) -> Response:
    filters, _page, found, error = await _find_records(request, ctx, EXPORT_LIMIT)
    if found is None:
        return ctx.render(request, "error.html", status=400,
                          message=error or "Give a phone number to export its records.")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["PhoneNum", "SendStatus", "ErrCode", "TemplateCode", "Content",
                     "SendDate", "ReceiveDate", "OutId", "BizId", "Segments"])
    for row in found.items:
        status, _text = _status(row)
        writer.writerow([_cell(v) for v in (
            row["phone"], status, row["err_code"] or "", row["template_code"], row["content"],
            ctx.pages.local(row["sent_at"] or row["created_at"]),
            ctx.pages.local(row["done_at"]) if status != 1 else "", row["out_id"] or "",
            row["biz_id"], row["segments"])])
    name = f"send-details-{filters['phone']}-{filters['date']}.csv"
    safe = "".join(ch for ch in name if ch.isalnum() or ch in "-.+")
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={**SECURITY_HEADERS,
                             "Content-Disposition": f'attachment; filename="{safe}"'})


# -- quick start & delivery test ----------------------------------------------------------------

async def _inboxes(ctx: Context, numbers: list[dict]) -> dict[str, list[dict]]:
    access = ctx.pigeon.settings.access_code

    def read(conn):
        return {n["number"]: handsets.inbox_for_account(conn, ctx.account_id, n["number"],
                                                        access, 10) for n in numbers}

    return await ctx.pigeon.db.read(read)


async def quickstart(request: Request, ctx: Context, *, error=None, status: int = 200,
                     values=None) -> Response:
    def read(conn):
        numbers = number_lists.numbers(conn, ctx.account_id, number_lists.TEST)
        _n, signs = signatures.page(conn, ctx.account_id, 1, 200)
        _m, temps = templates.page(conn, ctx.account_id, 1, 200)
        return (numbers, [s for s in signs if s["status"] == signatures.APPROVED],
                [t for t in temps if t["status"] == templates.APPROVED])

    numbers, signs, temps = await ctx.pigeon.db.read(read)
    inboxes = await _inboxes(ctx, numbers)
    skeletons = {t["code"]: json.dumps({name: "" for name in variables(t["content"])},
                                       ensure_ascii=False) for t in temps}
    return ctx.render(request, "quickstart.html", numbers=numbers, signatures=signs,
                      templates=temps, inboxes=inboxes, skeletons=skeletons, error=error,
                      values=values or {}, notice=notice(request), status=status,
                      sent=request.query_params.get("sent"), capacity=number_lists.CAPACITY[
                          number_lists.TEST], types=TEMPLATE_TYPES, statuses=SIGN_STATUS,
                      nav="quickstart")


async def bind_number(request: Request, ctx: Context) -> Response:
    try:
        await ctx.pigeon.db.write(number_lists.add, ctx.account_id, number_lists.TEST,
                                  ctx.field("number"), ctx.now)
    except PigeonError as exc:
        return await quickstart(request, ctx, error=exc.message, status=400)
    return RedirectResponse(f"{BASE}/quickstart?notice=bound", 303)


async def unbind_number(request: Request, ctx: Context) -> Response:
    try:
        await ctx.pigeon.db.write(number_lists.remove, ctx.account_id, number_lists.TEST,
                                  ctx.field("number"))
    except PigeonError as exc:
        return await quickstart(request, ctx, error=exc.message, status=400)
    return RedirectResponse(f"{BASE}/quickstart?notice=unbound", 303)


async def send_test(request: Request, ctx: Context) -> Response:
    """Send one test message, exactly as SendSms would, to a bound test number."""
    values = {name: ctx.field(name) for name in ("number", "sign_name", "template_code",
                                                 "params")}
    try:
        bound = await ctx.pigeon.db.read(number_lists.numbers, ctx.account_id,
                                         number_lists.TEST)
        phone = parse_number(values["number"]).wire
        if phone not in {n["number"] for n in bound}:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              "Test messages go to bound test numbers only; bind it first.")
        params = None
        if values["params"]:
            try:
                params = json_input.loads(values["params"])
            except ValueError:
                params = None
            if not isinstance(params, dict):
                raise PigeonError("isv.INVALID_JSON_PARAM",
                                  'Template variables must be a JSON object such as '
                                  '{"code":"1234"}.')
        request_ = sending.SendRequest(template_code=values["template_code"], recipients=[
            sending.Recipient(phone=phone, sign_name=values["sign_name"], params=params)])
        answer = await ctx.pigeon.db.write(sending.accept, ctx.pigeon.send_policy,
                                           ctx.account_id, request_, ctx.now)
    except PigeonError as exc:
        return await quickstart(request, ctx, error=f"{exc.code}: {exc.message}", status=400,
                                values=values)
    ctx.pigeon.wake_dispatcher()
    return RedirectResponse(f"{BASE}/quickstart?sent={answer['BizId']}", 303)


async def inbox_json(request: Request, ctx: Context) -> Response:
    """The bound numbers' handset inboxes, for the page's refresh (text only: the page puts
    it in with ``textContent``)."""
    numbers = await ctx.pigeon.db.read(number_lists.numbers, ctx.account_id, number_lists.TEST)
    inboxes = await _inboxes(ctx, numbers)
    return JSONResponse({phone: [{"id": m["id"], "sender": m["sender"], "text": m["text"],
                                  "received_at": ctx.pages.local(m["received_at"])}
                                 for m in items] for phone, items in inboxes.items()},
                        headers={"Cache-Control": "no-store"})


# -- AccessKeys ------------------------------------------------------------------------------------

async def access_keys(request: Request, ctx: Context, *, created=None) -> Response:
    keys = await ctx.pigeon.db.read(accounts.list_access_keys, ctx.account_id)
    return ctx.render(request, "accesskeys.html", keys=keys, created=created,
                      notice=notice(request), nav="accesskeys")


async def access_key_create(request: Request, ctx: Context) -> Response:
    created = await ctx.pigeon.db.write(accounts.create_access_key, ctx.pigeon.box,
                                        ctx.account_id, ctx.now)
    return await access_keys(request, ctx, created=created)


async def access_key_status(request: Request, ctx: Context) -> Response:
    status = ctx.field("status")
    if status not in ("enabled", "disabled"):
        raise NotFound()
    try:
        await ctx.pigeon.db.write(accounts.set_access_key_status, request.path_params["key_id"],
                                  status, account_id=ctx.account_id)
    except PigeonError:
        raise NotFound() from None
    return RedirectResponse(f"{BASE}/accesskeys?notice=key-status", 303)


# -- delivery reports --------------------------------------------------------------------------

async def report_settings(request: Request, ctx: Context, *, error=None,
                          status: int = 200) -> Response:
    shown = await ctx.pigeon.db.read(reports.show, ctx.account_id, 20)
    return ctx.render(request, "reports.html", shown=shown, error=error, status=status,
                      modes=reports.MODES, notice=notice(request), nav="reports",
                      queue_prefix=f"Alicom-Queue-{ctx.account_id}-")


async def report_settings_save(request: Request, ctx: Context) -> Response:
    report_type, mode = ctx.field("type"), ctx.field("mode")
    url = ctx.field("url") or None
    try:
        await ctx.pigeon.db.write(reports.set_mode, ctx.account_id, report_type, mode,
                                  url if mode == "http" else None, ctx.now,
                                  ctx.pigeon.settings.push_targets)
    except PigeonError as exc:
        return await report_settings(request, ctx, error=exc.message, status=400)
    return RedirectResponse(f"{BASE}/reports?notice=reports", 303)


async def report_test(request: Request, ctx: Context) -> Response:
    """Queue one sample report of the type, delivered by the current setting."""
    try:
        await ctx.pigeon.db.write(reports.queue_test_report, ctx.account_id, ctx.field("type"),
                                  ctx.pigeon.calendar.local_datetime_text(ctx.now), ctx.now)
    except PigeonError as exc:
        return await report_settings(request, ctx, error=exc.message, status=400)
    return RedirectResponse(f"{BASE}/reports?notice=test-report", 303)
