"""Tenant pages around sending: Sending Records, Quick Start & Delivery Test (with its "Send
via API" tab), AccessKeys and Delivery Report Configuration."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from pigeon.api.uploads import reached_address
from pigeon.console import api_samples, error_text, i18n, words
from pigeon.console.auth import Context, NotFound
from pigeon.console.i18n import gettext
from pigeon.console.rendering import BASE, SECURITY_HEADERS
from pigeon.console.tenant import TEMPLATE_TYPES, notice, page_links, page_number
from pigeon.core import days
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

SEND_STATUS = {"failed": 2, "delivered": 3}
WAITING = 1
RECORDS_PAGE = 50
EXPORT_LIMIT = 10_000
DEFAULT_DAYS = 7
MAX_RANGE_DAYS = 92
TEST_MESSAGES = 10


# -- sending records ---------------------------------------------------------------------------

def send_status(row: dict) -> int:
    """QuerySendDetails' SendStatus of a stored message: 3 delivered, 2 failed, 1 waiting."""
    return SEND_STATUS.get(row["status"], WAITING)


def _filters(request: Request, today: date) -> dict:
    query = request.query_params
    first = query.get("from", "").strip()
    last = query.get("to", "").strip()
    if not first and not last:
        first = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        last = today.isoformat()
    return {"phone": query.get("phone", "").strip(), "from": first or last,
            "to": last or first, "status": query.get("status", "").strip(),
            "template": query.get("template", "").strip(),
            "biz_id": query.get("biz_id", "").strip()}


def _checked(filters: dict, today: date) -> dict:
    """The filters as :func:`pigeon.services.records.search` takes them; a refusal in the
    user's words when one is wrong."""
    try:
        first, last = date.fromisoformat(filters["from"]), date.fromisoformat(filters["to"])
    except ValueError:
        raise error_text.refusal(gettext("Choose the first and last day of the range.")) \
            from None
    if first > last:
        first, last = last, first
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise error_text.refusal(gettext("A range covers at most %(n)s days.")
                                 % {"n": MAX_RANGE_DAYS})
    if last > today + timedelta(days=1) or first < days.FIRST_DAY:
        raise error_text.refusal(gettext("Choose days up to today."))
    phone = None
    if filters["phone"]:
        phone = parse_number(filters["phone"]).wire
    status = filters["status"] if filters["status"] in records.STATUSES else None
    return {"first": first, "last": last, "phone": phone, "status": status,
            "template_code": filters["template"] or None, "biz_id": filters["biz_id"] or None}


async def _find_records(request: Request, ctx: Context, page: int, page_size: int):
    today = ctx.pigeon.calendar.local_date(ctx.now)
    filters = _filters(request, today)
    try:
        found = await ctx.pigeon.db.read(records.search, ctx.account_id,
                                         ctx.pigeon.calendar.zone, page=page,
                                         page_size=page_size, **_checked(filters, today),
                                         offload=True)
    except PigeonError as exc:
        return filters, None, error_text.of(exc)
    return filters, found, None


async def record_list(request: Request, ctx: Context) -> Response:
    page = page_number(request)
    filters, found, error = await _find_records(request, ctx, page, RECORDS_PAGE)
    total = 0 if found is None else found.total
    _n, own = await ctx.pigeon.db.read(templates.page, ctx.account_id, 1, 200)
    export = f"{BASE}/records.csv?" + urlencode({k: v for k, v in filters.items() if v})
    return ctx.render(request, "records.html", filters=filters, page=page, found=found,
                      pages=(total + RECORDS_PAGE - 1) // RECORDS_PAGE,
                      capped=total >= records.COUNT_LIMIT, error=error, status=400 if error
                      else 200, status_of=send_status, send_statuses=i18n.translated(
                          words.SEND_STATUS), templates=own, export_url=export,
                      page_url=page_links(request, f"{BASE}/records"), nav="records")


def _cell(value) -> str:
    # A cell a spreadsheet would run as a formula is written as text (SMS content is
    # attacker-controlled).
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def record_export(request: Request, ctx: Context) -> Response:
    """The filtered records as CSV (the first :data:`EXPORT_LIMIT`), QuerySendDetails'
    columns; times in the platform's zone, ``yyyy-MM-dd HH:mm:ss`` for spreadsheets."""
    filters, found, error = await _find_records(request, ctx, 1, EXPORT_LIMIT)
    if found is None:
        return ctx.render(request, "error.html", status=400, message=error)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["PhoneNum", "SendStatus", "ErrCode", "TemplateCode", "Content",
                     "SendDate", "ReceiveDate", "OutId", "BizId", "Segments"])
    text = ctx.pigeon.calendar.local_datetime_text
    for row in found.items:
        status = send_status(row)
        writer.writerow([_cell(v) for v in (
            row["phone"], status, row["err_code"] or "", row["template_code"], row["content"],
            text(row["sent_at"] or row["created_at"]),
            text(row["done_at"]) if status != WAITING and row["done_at"] else "",
            row["out_id"] or "", row["biz_id"], row["segments"])])
    name = f"send-details-{filters['from']}-{filters['to']}"
    if filters["phone"]:
        name += f"-{filters['phone']}"
    safe = "".join(ch for ch in name + ".csv" if ch.isalnum() or ch in "-.+")
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


async def _test_messages(ctx: Context, numbers: list[dict]) -> list[dict]:
    """The latest messages to the bound test numbers (the last week), newest first, each
    with its status, error code and the address of its record."""
    today = ctx.pigeon.calendar.local_date(ctx.now)
    first = today - timedelta(days=DEFAULT_DAYS - 1)

    def read(conn):
        found = []
        for n in numbers:
            found += records.search(conn, ctx.account_id, ctx.pigeon.calendar.zone,
                                    first=first, last=today, page=1, page_size=TEST_MESSAGES,
                                    phone=n["number"]).items
        return found

    rows = sorted(await ctx.pigeon.db.read(read), key=lambda r: r["created_at"],
                  reverse=True)[:TEST_MESSAGES]
    shown = []
    for row in rows:
        status = send_status(row)
        day = ctx.pigeon.calendar.local_date(row["created_at"]).isoformat()
        shown.append({
            "biz_id": row["biz_id"], "phone": row["phone"], "status": status,
            "status_text": words.label(words.SEND_STATUS, status),
            "kind": {3: "ok", 2: "bad"}.get(status, "wait"), "err_code": row["err_code"]
            if status == 2 else "", "at": ctx.pages.local(row["created_at"]),
            "template_code": row["template_code"],
            "record": f"{BASE}/records?" + urlencode({"biz_id": row["biz_id"], "phone":
                                                      row["phone"], "from": day, "to": day})})
    return shown


def _values(request: Request, values: dict | None) -> dict:
    """The send form's values: what was posted, or what the last send carried back."""
    if values is not None:
        return values
    query = request.query_params
    return {"number": query.get("to", ""), "sign_name": query.get("sign", ""),
            "template_code": query.get("template", ""),
            "vars": {k[2:]: v for k, v in query.items() if k.startswith("v.")}}


async def quickstart(request: Request, ctx: Context, *, error=None, status: int = 200,
                     values=None) -> Response:
    def read(conn):
        numbers = number_lists.numbers(conn, ctx.account_id, number_lists.TEST)
        _n, signs = signatures.page(conn, ctx.account_id, 1, 200, status=signatures.APPROVED)
        _m, temps = templates.search(conn, ctx.account_id, page_no=1, page_size=200,
                                     status=templates.APPROVED)
        keys = accounts.list_access_keys(conn, ctx.account_id)
        return numbers, signs, temps, keys

    numbers, signs, temps, keys = await ctx.pigeon.db.read(read)
    inboxes = await _inboxes(ctx, numbers)
    sent = await _test_messages(ctx, numbers)
    values = _values(request, values)
    template_vars = {}
    for t in temps:
        try:
            template_vars[t["code"]] = variables(t["content"])
        except PigeonError:
            template_vars[t["code"]] = []
    chosen = next((t for t in temps if t["code"] == values.get("template_code")),
                  temps[0] if temps else None)
    key = next((k["AccessKeyId"] for k in keys if k["Status"] == "enabled"), None)
    sample = api_samples.Sample(
        endpoint=reached_address(request.headers, ctx.pigeon.settings),
        key_id=key or "YOUR_ACCESS_KEY_ID",
        sign_name=values.get("sign_name") or (signs[0]["name"] if signs else "云雀科技"),
        template_code=chosen["code"] if chosen else "SMS_123456789",
        phone=values.get("number") or (numbers[0]["number"] if numbers else "13800138000"),
        params={name: (values.get("vars") or {}).get(name) or "1234"
                for name in (template_vars.get(chosen["code"], []) if chosen else ["code"])})
    return ctx.render(request, "quickstart.html", numbers=numbers, signatures=signs,
                      templates=temps, inboxes=inboxes, template_vars=template_vars,
                      error=error, values=values, notice=notice(request), status=status,
                      sent=request.query_params.get("sent"), messages=sent,
                      capacity=number_lists.CAPACITY[number_lists.TEST],
                      types=i18n.translated(TEMPLATE_TYPES), samples=api_samples.samples(sample),
                      sample=sample, key=key, secret_variable=api_samples.SECRET_VARIABLE,
                      nav="quickstart")


async def bind_number(request: Request, ctx: Context) -> Response:
    try:
        await ctx.pigeon.db.write(number_lists.add, ctx.account_id, number_lists.TEST,
                                  ctx.field("number"), ctx.now)
    except PigeonError as exc:
        return await quickstart(request, ctx, error=error_text.of(exc), status=400)
    return RedirectResponse(f"{BASE}/quickstart?notice=bound", 303)


async def unbind_number(request: Request, ctx: Context) -> Response:
    try:
        await ctx.pigeon.db.write(number_lists.remove, ctx.account_id, number_lists.TEST,
                                  ctx.field("number"))
    except PigeonError as exc:
        return await quickstart(request, ctx, error=error_text.of(exc), status=400)
    return RedirectResponse(f"{BASE}/quickstart?notice=unbound", 303)


def _posted_vars(ctx: Context, template_code: str) -> dict[str, str]:
    """The variables' fields of the chosen template (``var.<code>.<name>``)."""
    prefix = f"var.{template_code}."
    found = {}
    for key, value in (ctx.form or {}).items():
        if isinstance(key, str) and key.startswith(prefix) and isinstance(value, str):
            found[key[len(prefix):]] = value.strip()
    return found


async def send_test(request: Request, ctx: Context) -> Response:
    """Send one test message, exactly as SendSms would, to a bound test number; back to the
    page with the form as it was and the message's status among the test messages."""
    values = {name: ctx.field(name) for name in ("number", "sign_name", "template_code")}
    values["vars"] = _posted_vars(ctx, values["template_code"])
    try:
        bound = await ctx.pigeon.db.read(number_lists.numbers, ctx.account_id,
                                         number_lists.TEST)
        phone = parse_number(values["number"]).wire
        if phone not in {n["number"] for n in bound}:
            raise error_text.refusal(gettext("Test messages go to bound test numbers only; "
                                             "bind it first."), "isv.SMS_TEST_NUMBER_LIMIT")
        request_ = sending.SendRequest(template_code=values["template_code"], recipients=[
            sending.Recipient(phone=phone, sign_name=values["sign_name"],
                              params=values["vars"] or None)])
        answer = await ctx.pigeon.db.write(sending.accept, ctx.pigeon.send_policy,
                                           ctx.account_id, request_, ctx.now)
    except PigeonError as exc:
        return await quickstart(request, ctx, error=error_text.of(exc), status=400,
                                values=values)
    ctx.pigeon.wake_dispatcher()
    back = {"sent": answer["BizId"], "to": values["number"], "sign": values["sign_name"],
            "template": values["template_code"],
            **{f"v.{k}": v for k, v in values["vars"].items()}}
    return RedirectResponse(f"{BASE}/quickstart?{urlencode(back)}#test-messages", 303)


async def inbox_json(request: Request, ctx: Context) -> Response:
    """The bound numbers' handset inboxes and the test messages' states, for the page's
    refresh (text only: the page puts it in with ``textContent``)."""
    numbers = await ctx.pigeon.db.read(number_lists.numbers, ctx.account_id, number_lists.TEST)
    inboxes = await _inboxes(ctx, numbers)
    return JSONResponse({
        "inboxes": {phone: [{"id": m["id"], "sender": m["sender"], "text": m["text"],
                             "received_at": ctx.pages.local(m["received_at"])}
                            for m in items] for phone, items in inboxes.items()},
        "messages": await _test_messages(ctx, numbers)},
        headers={"Cache-Control": "no-store"})


# -- AccessKeys ------------------------------------------------------------------------------------

async def access_keys(request: Request, ctx: Context, *, created=None) -> Response:
    keys = await ctx.pigeon.db.read(accounts.list_access_keys, ctx.account_id)
    return ctx.render(request, "accesskeys.html", keys=keys, created=created,
                      key_status=i18n.translated(words.KEY_STATUS),
                      endpoint=reached_address(request.headers, ctx.pigeon.settings),
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
                      modes=i18n.translated(words.REPORT_MODES),
                      report_types=i18n.translated(words.REPORT_TYPES), notice=notice(request),
                      nav="reports", queue_prefix=f"Alicom-Queue-{ctx.account_id}-")


async def report_settings_save(request: Request, ctx: Context) -> Response:
    report_type, mode = ctx.field("type"), ctx.field("mode")
    url = ctx.field("url") or None
    try:
        await ctx.pigeon.db.write(reports.set_mode, ctx.account_id, report_type, mode,
                                  url if mode == "http" else None, ctx.now,
                                  ctx.pigeon.settings.push_targets)
    except PigeonError as exc:
        return await report_settings(request, ctx, error=error_text.of(exc), status=400)
    return RedirectResponse(f"{BASE}/reports?notice=reports", 303)


async def report_test(request: Request, ctx: Context) -> Response:
    """Queue one sample report of the type, delivered by the current setting."""
    try:
        await ctx.pigeon.db.write(reports.queue_test_report, ctx.account_id, ctx.field("type"),
                                  ctx.pigeon.calendar.local_datetime_text(ctx.now), ctx.now)
    except PigeonError as exc:
        return await report_settings(request, ctx, error=error_text.of(exc), status=400)
    return RedirectResponse(f"{BASE}/reports?notice=test-report", 303)
