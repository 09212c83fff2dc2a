"""Changing and deleting what a tenant applied for: UpdateSmsQualification,
DeleteSmsQualification, UpdateSmsSign, DeleteSmsSign and DeleteSmsTemplate from the console.

Every handler calls the service function the API action calls, with the session's account, so
the rules about what may change in which state, and their messages, are the API's: only a
rejected (or incomplete) qualification is updated, only a rejected signature is modified, and
nothing under review is deleted.  The pages only decide which buttons to offer.  Deleting
always goes through a confirmation page whose form needs a ticked box.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pigeon.console import error_text, i18n, words
from pigeon.console.auth import Context, NotFound
from pigeon.console.i18n import N_, gettext
from pigeon.console.rendering import BASE
from pigeon.console.tenant import (
    QUALIFICATION_STATES,
    SIGN_SOURCES,
    SIGN_STATUS,
    TEMPLATE_TYPES,
    _approved_qualifications,
    _int,
    _own_template,
    _path_int,
    _store_uploads,
    _upload,
    form_words,
    posted_range,
    range_values,
    signature_words,
)
from pigeon.core.errors import PigeonError
from pigeon.services import qualifications, signatures, templates

CONFIRM_FIRST = N_("Tick the box to confirm the deletion; it cannot be undone.")

# -- qualifications ---------------------------------------------------------------------------

# What UpdateSmsQualification may change (spec §2.20); QualificationName, CompanyType,
# OrganizationCode, UseBySelf, WhetherShare and Remark are shown but not sent.
UPDATABLE_TEXT_FIELDS = (
    "CompanyName", "LegalPersonName", "LegalPersonIDCardType", "LegalPersonIDCardNo",
    "AdminName", "AdminIDCardType", "AdminIDCardNo", "AdminPhoneNo",
)
UPDATABLE_RANGES = ("BussinessLicenseExpDate", "LegalPersonIdCardEffTime", "AdminIDCardExpDate")
UPDATABLE_FILES = ("AdminIDCardFrontFace", "AdminIDCardPic", "BusinessLicensePic")


async def _own_qualification(ctx: Context, qualification_id: int) -> dict:
    try:
        return await ctx.pigeon.db.read(qualifications.get_single, ctx.account_id,
                                        qualification_id)
    except PigeonError:
        raise NotFound() from None


def _qualification_values(row: dict) -> dict:
    """The form's values from the stored qualification (file fields are not text; ID numbers
    are not shown whole: left empty, they keep the number on record)."""
    details = row["details"]
    values = {name: details.get(name) or "" for name in UPDATABLE_TEXT_FIELDS}
    values["CompanyName"] = row["company_name"] or ""
    values["LegalPersonName"] = row["legal_person_name"] or ""
    values["OrderId"] = str(row["order_id"] or "")
    for name in words.ID_NUMBER_FIELDS:
        values[name] = ""
    for name in UPDATABLE_RANGES:
        values.update(range_values(name, details.get(name)))
    return values


def _qualification_edit_page(request: Request, ctx: Context, row: dict, values: dict, *,
                             error=None, status: int = 200) -> Response:
    masked = {name: words.masked_id(row["details"].get(name))
              for name in words.ID_NUMBER_FIELDS}
    return ctx.render(request, "qualification_form.html", row=row, values=values, error=error,
                      status=status, states=i18n.translated(QUALIFICATION_STATES),
                      updatable=row["state"] in qualifications.UPDATABLE_STATES,
                      reason=error_text.reason(row["audit_remark"]), masked=masked,
                      nav="qualifications", **form_words())


async def qualification_edit(request: Request, ctx: Context) -> Response:
    """UpdateSmsQualification: fields left as they are keep their values; a file field left
    empty keeps the file given before; the administrator's phone needs a fresh code."""
    row = await _own_qualification(ctx, _path_int(request, "id"))
    if request.method == "GET":
        return _qualification_edit_page(request, ctx, row, _qualification_values(row))
    values = {name: ctx.field(name) for name in UPDATABLE_TEXT_FIELDS}
    values["OrderId"] = ctx.field("OrderId")
    try:
        order_id = _int(values["OrderId"], gettext("a review ticket"))
        stored = {}
        for name in UPDATABLE_FILES:
            found = await _upload(ctx, name, "qualification")
            if found is not None:
                stored[name] = found
        # A field emptied on the page is sent empty, so that the rules name it; the API reads
        # an absent parameter as "unchanged", and no field of the page is absent.
        fields = dict(values)
        del fields["OrderId"]
        for name in words.ID_NUMBER_FIELDS:  # left empty: the number on record
            fields[name] = values[name] or row["details"].get(name) or ""
        for name in UPDATABLE_RANGES:
            fields[name] = posted_range(ctx, name, values)
        fields["CertifyCode"] = ctx.field("CertifyCode") or None
        for name in ("AdminIDCardFrontFace", "AdminIDCardPic"):
            if name in stored:
                fields[name] = stored[name][0]
        if "BusinessLicensePic" in stored:
            fields["BusinessLicensePics"] = json.dumps(
                [{"LicensePic": stored["BusinessLicensePic"][0], "Type": "socialCreditLicense"}])
        if fields["AdminPhoneNo"] and fields["CertifyCode"]:
            # As the API does: a wrong code counts against the live one even though the
            # update then fails.
            try:
                await ctx.pigeon.db.write(qualifications.check_phone_code, ctx.account_id,
                                          fields["AdminPhoneNo"], fields["CertifyCode"], ctx.now)
            except PigeonError:
                pass

        def update(conn):
            _store_uploads(conn, ctx.account_id, list(stored.values()), ctx.now)
            return qualifications.update(conn, ctx.pigeon.policy, ctx.account_id, row["id"],
                                         order_id, fields, ctx.now)

        await ctx.pigeon.db.write(update)
    except PigeonError as exc:
        return _qualification_edit_page(request, ctx, row, values, error=error_text.of(exc),
                                        status=400)
    return RedirectResponse(f"{BASE}/qualifications/{row['id']}?notice=qualification-updated",
                            303)


async def _qualification_users(ctx: Context, qualification_id: int) -> list[dict]:
    _total, rows = await ctx.pigeon.db.read(signatures.page, ctx.account_id, 1, 200)
    return [r for r in rows if r["qualification_id"] == qualification_id]


async def qualification_delete(request: Request, ctx: Context) -> Response:
    """DeleteSmsQualification, after a confirmation page."""
    row = await _own_qualification(ctx, _path_int(request, "id"))
    error, status = None, 200
    if request.method == "POST":
        try:
            if ctx.field("confirm") != "yes":
                raise error_text.refusal(gettext(CONFIRM_FIRST))
            order_id = _int(ctx.field("OrderId"), gettext("a review ticket"))
            await ctx.pigeon.db.write(qualifications.delete, ctx.account_id, row["id"],
                                      order_id, ctx.now)
        except PigeonError as exc:
            error, status = error_text.of(exc), 400
        else:
            return RedirectResponse(f"{BASE}/qualifications?notice=qualification-deleted", 303)
    return ctx.render(request, "qualification_delete.html", row=row, error=error,
                      status=status, states=i18n.translated(QUALIFICATION_STATES),
                      users=await _qualification_users(ctx, row["id"]), nav="qualifications")


# -- signatures -------------------------------------------------------------------------------

async def _own_signature(ctx: Context, signature_id: int) -> dict:
    try:
        return await ctx.pigeon.db.read(signatures.get_by_id, ctx.account_id, signature_id)
    except PigeonError:
        raise NotFound() from None


async def _signature_edit_page(request: Request, ctx: Context, row: dict, values: dict, *,
                               error=None, status: int = 200) -> Response:
    # A signature applied for through the API may have another source.
    sources = {**SIGN_SOURCES, row["source"]: words.SIGN_SOURCES.get(row["source"],
                                                                     str(row["source"]))}
    return ctx.render(request, "signature_form.html", row=row, values=values, error=error,
                      status=status, sources=i18n.translated(sources),
                      qualifications=await _approved_qualifications(ctx),
                      reason=error_text.reason(row["reject_info"]),
                      editable=row["status"] == signatures.REJECTED, nav="signatures",
                      **signature_words())


async def signature_edit(request: Request, ctx: Context) -> Response:
    """UpdateSmsSign: the name stays; a new supporting file replaces the earlier ones, no file
    keeps them.  What the console does not show (third-party use, trademark and ICP filing
    ids, scene) is sent again as stored."""
    row = await _own_signature(ctx, _path_int(request, "id"))
    if request.method == "GET":
        return await _signature_edit_page(request, ctx, row, {
            "source": str(row["source"]), "sign_type": str(row["sign_type"]),
            "qualification_id": str(row["qualification_id"] or ""),
            "remark": row["remark"] or ""})
    values = {name: ctx.field(name) for name in
              ("source", "qualification_id", "sign_type", "remark")}
    try:
        more = await _upload(ctx, "proof", "more-data")
        fields = {"name": row["name"], "source": _int(values["source"], gettext("a source")),
                  "qualification_id": _int(values["qualification_id"],
                                           gettext("a qualification")),
                  "sign_type": _int(values["sign_type"], gettext("a type")),
                  "remark": values["remark"] or None,
                  "more_data": [more[0]] if more else row["more_data"]}
        for kept in ("third_party", "authorization_letter_id", "trademark_id",
                     "app_icp_record_id", "apply_scene"):
            fields[kept] = row[kept]

        def modify(conn):
            _store_uploads(conn, ctx.account_id, [more] if more else [], ctx.now)
            return signatures.modify(conn, ctx.pigeon.policy, ctx.account_id, fields, ctx.now)

        await ctx.pigeon.db.write(modify)
    except PigeonError as exc:
        return await _signature_edit_page(request, ctx, row, values, error=error_text.of(exc),
                                          status=400)
    return RedirectResponse(f"{BASE}/signatures/{row['id']}?notice=signature-resubmitted", 303)


async def signature_delete(request: Request, ctx: Context) -> Response:
    """DeleteSmsSign, after a confirmation page that names the templates that use it."""
    row = await _own_signature(ctx, _path_int(request, "id"))
    error, status = None, 200
    if request.method == "POST":
        try:
            if ctx.field("confirm") != "yes":
                raise error_text.refusal(gettext(CONFIRM_FIRST))
            await ctx.pigeon.db.write(signatures.remove, ctx.account_id, row["name"], ctx.now)
        except PigeonError as exc:
            error, status = error_text.of(exc), 400
        else:
            return RedirectResponse(f"{BASE}/signatures?notice=signature-deleted", 303)
    _total, rows = await ctx.pigeon.db.read(templates.page, ctx.account_id, 1, 200)
    related = [t for t in rows
               if (t["related_sign_name"] or "").lower() == row["name"].lower()]
    return ctx.render(request, "signature_delete.html", row=row, error=error, status=status,
                      related=related, nav="signatures", **signature_words())


# -- templates --------------------------------------------------------------------------------

async def template_delete(request: Request, ctx: Context) -> Response:
    """DeleteSmsTemplate, after a confirmation page."""
    row = await _own_template(ctx, request.path_params["code"])
    error, status = None, 200
    if request.method == "POST":
        try:
            if ctx.field("confirm") != "yes":
                raise error_text.refusal(gettext(CONFIRM_FIRST))
            await ctx.pigeon.db.write(templates.remove, ctx.account_id, row["code"], ctx.now)
        except PigeonError as exc:
            error, status = error_text.of(exc), 400
        else:
            return RedirectResponse(f"{BASE}/templates?notice=template-deleted", 303)
    return ctx.render(request, "template_delete.html", row=row, error=error, status=status,
                      statuses=i18n.translated(SIGN_STATUS),
                      types=i18n.translated(TEMPLATE_TYPES), nav="templates")
