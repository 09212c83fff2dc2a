"""Batch Sending: upload a CSV or XLSX of numbers and parameters, preview, send or schedule, progress.

The file is read and checked off the event loop (a 10,000-row XLSX takes a moment) and stored
as a draft; sending is the batch worker's job (:mod:`pigeon.workers.batches`), so no request
waits for the messages.  The rules are :mod:`pigeon.services.batches`'.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pigeon.console import error_text, i18n
from pigeon.console.auth import Context, NotFound
from pigeon.console.i18n import N_, gettext
from pigeon.console.rendering import BASE, SECURITY_HEADERS
from pigeon.console.tenant import TEMPLATE_TYPES
from pigeon.core.errors import PigeonError
from pigeon.core.limits import PROMOTIONAL
from pigeon.core.templates import variables
from pigeon.services import batch_files, batches, signatures, templates

PREVIEW_ROWS = 20
PROBLEM_ROWS = 100
STATUS = {batches.DRAFT: (N_("Draft — not sent"), ""),
          batches.SCHEDULED: (N_("Scheduled"), "wait"), batches.SENDING: (N_("Sending"), "wait"),
          batches.DONE: (N_("Done"), "ok"), batches.CANCELLED: (N_("Cancelled"), "bad")}
NOTICES = {"scheduled": N_("The batch is scheduled."), "sending": N_("Sending has started."),
           "cancelled": N_("The batch is cancelled: rows not sent yet never will be.")}


def routes(t, o) -> list[Route]:
    """This module's routes, built with ``t`` (tenant pages) and ``o`` (operator pages)."""
    return [
        t("/batch", batch_list),
        t("/batch", batch_upload, ["POST"]),
        t("/batch/sample.csv", batch_sample),
        t("/batch/{id:int}", batch_detail),
        t("/batch/{id:int}/send", batch_send, ["POST"]),
        t("/batch/{id:int}/cancel", batch_cancel, ["POST"]),
        t("/batch/{id:int}/progress.json", batch_progress),
        t("/batch/{id:int}/results.csv", batch_results),
    ]


def _status(status: str) -> tuple[str, str]:
    text, kind = STATUS.get(status, (status, ""))
    return gettext(text), kind


def _notice(request: Request) -> str | None:
    key = request.query_params.get("notice", "")
    return gettext(NOTICES[key]) if key in NOTICES else None


def _worded(rows: list[dict]) -> list[dict]:
    """Rows with their refusal in the user's words (``err_text``)."""
    return [{**r, "err_text": error_text.text(r.get("err_code"), r.get("err_msg"))}
            for r in rows]


async def _batch(request: Request, ctx: Context) -> dict:
    batch = await ctx.pigeon.db.read(batches.get, ctx.account_id, request.path_params["id"])
    if batch is None:
        raise NotFound()
    return batch


# -- the list and the upload ---------------------------------------------------------------------

async def batch_list(request: Request, ctx: Context, *, error: str | None = None,
                     status: int = 200, values: dict | None = None) -> Response:
    def read(conn):
        _n, signs = signatures.page(conn, ctx.account_id, 1, 200)
        _m, temps = templates.page(conn, ctx.account_id, 1, 200)
        return (batches.listing(conn, ctx.account_id),
                [s for s in signs if s["status"] == signatures.APPROVED],
                [t for t in temps if t["status"] == templates.APPROVED])

    listed, signs, temps = await ctx.pigeon.db.read(read)
    columns = {t["code"]: ",".join(["PhoneNumber", *variables(t["content"])]) for t in temps}
    return ctx.render(request, "batch.html", batches=listed, signatures=signs, templates=temps,
                      columns=columns, error=error, status=status, values=values or {},
                      status_of=_status, types=i18n.translated(TEMPLATE_TYPES),
                      max_rows=batch_files.MAX_ROWS,
                      max_mb=batch_files.MAX_FILE_BYTES // 1024 // 1024, nav="batch")


async def batch_upload(request: Request, ctx: Context) -> Response:
    values = {"sign_name": ctx.field("sign_name"), "template_code": ctx.field("template_code")}
    upload = ctx.form.get("file") if ctx.form is not None else None
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise error_text.refusal(gettext("Choose a CSV or XLSX file to upload."))
        # One byte more than allowed tells a file that is too large without reading all of it.
        data = await upload.read(batch_files.MAX_FILE_BYTES + 1)
        name = upload.filename
        choice = await ctx.pigeon.db.read(batches.choose, ctx.account_id, values["sign_name"],
                                          values["template_code"])
        sheet = await anyio.to_thread.run_sync(batches.read_file, name, data)
        checked = await anyio.to_thread.run_sync(batches.check_rows, choice, sheet)
        batch_id = await ctx.pigeon.db.write(batches.save_draft, ctx.account_id, name, sheet,
                                             choice, checked, ctx.now)
    except PigeonError as exc:
        return await batch_list(request, ctx, error=error_text.of(exc), status=400,
                                values=values)
    return RedirectResponse(f"{BASE}/batch/{batch_id}", 303)


async def batch_sample(request: Request, ctx: Context) -> Response:
    code = request.query_params.get("template", "")
    try:
        sample = await ctx.pigeon.db.read(batches.sample_for, ctx.account_id, code)
    except PigeonError:
        raise NotFound() from None
    safe = "".join(ch for ch in code if ch.isalnum() or ch == "_")
    # With a BOM, so that Excel opens the UTF-8 file with its Chinese intact.
    return Response("\ufeff" + sample, media_type="text/csv; charset=utf-8",
                    headers={**SECURITY_HEADERS, "Content-Disposition":
                             f'attachment; filename="batch-sample-{safe}.csv"'})


# -- one batch ---------------------------------------------------------------------------------------

async def batch_detail(request: Request, ctx: Context, *, error: str | None = None,
                       status: int = 200) -> Response:
    batch = await _batch(request, ctx)
    batch_id = batch["id"]

    def read(conn):
        return (batches.preview_rows(conn, ctx.account_id, batch_id, state=batches.PENDING,
                                     limit=PREVIEW_ROWS)
                if batch["status"] in (batches.DRAFT, batches.SCHEDULED) else
                batches.preview_rows(conn, ctx.account_id, batch_id, state=batches.SENT,
                                     limit=PREVIEW_ROWS),
                batches.preview_rows(conn, ctx.account_id, batch_id, state=batches.INVALID,
                                     limit=PROBLEM_ROWS),
                batches.preview_rows(conn, ctx.account_id, batch_id, state=batches.FAILED,
                                     limit=PROBLEM_ROWS),
                batches.estimate(conn, ctx.account_id, batch["template_type"],
                                 batch["segments"], ctx.now),
                batches.progress(conn, ctx.account_id, batch_id))

    shown, invalid, failed, estimate, progress = await ctx.pigeon.db.read(read, offload=True)
    zone = ctx.pigeon.calendar.zone
    local_now = ctx.now.astimezone(zone)
    suggested = (local_now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    quiet = ctx.pigeon.send_policy.quiet_hours
    return ctx.render(
        request, "batch_detail.html", batch=batch, shown=shown, invalid=_worded(invalid),
        failed=_worded(failed), estimate=estimate, progress=progress, error=error,
        status=status, status_of=_status, types=i18n.translated(TEMPLATE_TYPES),
        zone=i18n.format_zone(zone),
        min_time=local_now.strftime("%Y-%m-%dT%H:%M"),
        suggested=suggested.strftime("%Y-%m-%dT%H:%M"),
        quiet=(f"{quiet[0]:%H:%M}–{quiet[1]:%H:%M}"
               if quiet and batch["template_type"] == PROMOTIONAL else None),
        preview_limit=PREVIEW_ROWS, problem_limit=PROBLEM_ROWS,
        notice=_notice(request), nav="batch")


async def batch_send(request: Request, ctx: Context) -> Response:
    batch = await _batch(request, ctx)
    when = ctx.field("when")
    try:
        if when == "later":
            at = batches.parse_local_time(ctx.field("at"), ctx.pigeon.calendar.zone)
        elif when == "now":
            at = None
        else:
            raise error_text.refusal(gettext("Choose to send now or at a time."))
        await ctx.pigeon.db.write(batches.send, ctx.pigeon.send_policy, ctx.account_id,
                                  batch["id"], at, ctx.now)
    except batches.NoSuchBatch:
        raise NotFound() from None
    except PigeonError as exc:
        return await batch_detail(request, ctx, error=error_text.of(exc), status=400)
    notice = "scheduled" if when == "later" else "sending"
    return RedirectResponse(f"{BASE}/batch/{batch['id']}?notice={notice}", 303)


async def batch_cancel(request: Request, ctx: Context) -> Response:
    batch = await _batch(request, ctx)
    try:
        await ctx.pigeon.db.write(batches.cancel, ctx.account_id, batch["id"], ctx.now)
    except batches.NoSuchBatch:
        raise NotFound() from None
    except PigeonError as exc:
        return await batch_detail(request, ctx, error=error_text.of(exc), status=400)
    return RedirectResponse(f"{BASE}/batch/{batch['id']}?notice=cancelled", 303)


async def batch_progress(request: Request, ctx: Context) -> Response:
    """The progress page's refresh: the counts, polled by console.js."""
    try:
        # Counting a 10,000-row batch's delivery takes a few milliseconds: off the loop.
        progress = await ctx.pigeon.db.read(batches.progress, ctx.account_id,
                                            request.path_params["id"], offload=True)
    except batches.NoSuchBatch:
        raise NotFound() from None
    text, kind = _status(progress["status"])
    return JSONResponse({**progress, "status_text": text, "status_kind": kind},
                        headers={"Cache-Control": "no-store"})


def _cell(value) -> str:
    # A cell a spreadsheet would run as a formula is written as text (the file's values are
    # the tenant's own, but a shared results file should not turn into a formula).
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def batch_results(request: Request, ctx: Context) -> Response:
    """Every row's outcome: the BizId it was accepted with, or why it was not sent."""
    try:
        rows = await ctx.pigeon.db.read(batches.all_rows, ctx.account_id,
                                        request.path_params["id"], offload=True)
    except batches.NoSuchBatch:
        raise NotFound() from None
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Line", "PhoneNumber", "State", "BizId", "Code", "Message", "Segments",
                     "Content"])
    for row in rows:
        writer.writerow([_cell(v) for v in (row["line"], row["phone"], row["state"],
                                            row["biz_id"], row["err_code"], row["err_msg"],
                                            row["segments"], row["content"])])
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={**SECURITY_HEADERS, "Content-Disposition":
                             f'attachment; filename="batch-{request.path_params["id"]}.csv"'})
