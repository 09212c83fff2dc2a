"""Tenant pages of the compliance workflow: Overview, Qualification, Signature and Template
Management.  Each handler calls the services the API calls, with the session's account."""

from __future__ import annotations

import json
import secrets

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from pigeon.console.auth import Context, NotFound
from pigeon.console.rendering import BASE
from pigeon.core import proof_files, review_rules
from pigeon.core.errors import PigeonError
from pigeon.core.qualification_rules import ID_CARD_TYPES
from pigeon.core.templates import variables
from pigeon.services import overview as overview_service
from pigeon.services import (
    qualifications,
    review,
    signatures,
    simulator,
    template_tags,
    templates,
    uploads,
)

NOTICES = {
    "qualification": "Qualification submitted.",
    "qualification-updated": "Qualification updated and submitted for review again.",
    "qualification-deleted": "Qualification deleted.",
    "signature-resubmitted": "Signature changed and submitted for review again.",
    "signature-deleted": "Signature deleted.",
    "template-deleted": "Template deleted.",
    "signature": "Signature submitted for review.",
    "template": "Template submitted for review.",
    "bound": "Test number bound.",
    "unbound": "Test number removed.",
    "reports": "Report settings saved.",
    "test-report": "A test report is queued; it is delivered by the type's setting.",
    "key-status": "AccessKey updated.",
}

SIGN_STATUS = {0: "Under review", 1: "Approved", 2: "Rejected", 10: "Cancelled"}
TEMPLATE_TYPES = {0: "Verification code", 1: "Notification", 2: "Promotional",
                  3: "International"}
REGISTER_STATUS = {-2: "Not registered", -1: "Registering", 0: "Registration failed",
                   1: "Verifying", 2: "Expired", 3: "Registered"}
QUALIFICATION_STATES = {"INIT": "Under review", "PASS": "Approved", "NOT_PASS": "Rejected",
                        "NOT_FINISH": "More materials needed", "CANCEL": "Withdrawn"}
SIGN_SOURCES = {0: "Enterprise or institution name", 2: "App name", 5: "Trademark name"}


def notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise PigeonError("isv.INVALID_PARAMETERS", f"{what} must be a number.") from None


def _path_int(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except (KeyError, ValueError):
        raise NotFound() from None


async def _upload(ctx: Context, name: str, purpose: str) -> tuple[str, str, bytes] | None:
    """A file posted in form field ``name``: ``(object key, suffix, bytes)``, or None."""
    item = ctx.form.get(name) if ctx.form is not None else None
    if not isinstance(item, UploadFile) or not item.filename:
        return None
    data = await item.read()
    if not data:
        return None
    suffix = proof_files.kind_of(data)
    if suffix is None:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{item.filename} is not a JPG, PNG, GIF, PDF, DOC or DOCX file.")
    key = f"{ctx.account_id}/{uploads.PURPOSES[purpose]}{secrets.token_hex(8)}.{suffix}"
    return key, suffix, data


def _store_uploads(conn, account_id: int, files: list[tuple[str, str, bytes]], now) -> None:
    for key, suffix, data in files:
        uploads.store(conn, account_id, key, suffix, data, now)


# -- overview ---------------------------------------------------------------------------------

async def overview(request: Request, ctx: Context) -> Response:
    data = await ctx.pigeon.db.read(overview_service.tenant_overview, ctx.account_id, ctx.now,
                                    ctx.pigeon.calendar, offload=True)
    return ctx.render(request, "overview.html", data=data, nav="overview",
                      today=ctx.pigeon.calendar.local_date(ctx.now))


# -- qualifications -----------------------------------------------------------------------------

QUALIFICATION_TEXT_FIELDS = (
    "QualificationName", "CompanyName", "CompanyType", "OrganizationCode",
    "BussinessLicenseExpDate", "LegalPersonName", "LegalPersonIDCardType", "LegalPersonIDCardNo",
    "LegalPersonIdCardEffTime", "AdminName", "AdminIDCardType", "AdminIDCardNo",
    "AdminIDCardExpDate", "AdminPhoneNo", "CertifyCode", "Remark",
)
QUALIFICATION_FILES = ("AdminIDCardFrontFace", "AdminIDCardPic", "BusinessLicensePic")


async def qualification_list(request: Request, ctx: Context) -> Response:
    total, rows = await ctx.pigeon.db.read(qualifications.query_records, ctx.account_id,
                                           page_no=1, page_size=50)
    return ctx.render(request, "qualifications.html", rows=rows, total=total,
                      states=QUALIFICATION_STATES, notice=notice(request),
                      nav="qualifications")


async def qualification_detail(request: Request, ctx: Context) -> Response:
    qualification_id = _path_int(request, "id")

    def read(conn):
        row = qualifications.get_single(conn, ctx.account_id, qualification_id)
        return row, review.history(conn, qualifications.KIND, qualification_id)

    try:
        row, history = await ctx.pigeon.db.read(read)
    except PigeonError:
        raise NotFound() from None
    return ctx.render(request, "qualification.html", row=row, history=history,
                      states=QUALIFICATION_STATES, notice=notice(request),
                      updatable=row["state"] in qualifications.UPDATABLE_STATES,
                      nav="qualifications")


def _qualification_form(request: Request, ctx: Context, values: dict, *, error=None,
                        status: int = 200) -> Response:
    return ctx.render(request, "qualification_form.html", values=values, error=error,
                      status=status, nav="qualifications", id_types=ID_CARD_TYPES)


async def qualification_new(request: Request, ctx: Context) -> Response:
    if request.method == "GET":
        return _qualification_form(request, ctx, {"UseBySelf": "true", "WhetherShare": "false",
                                                  "CompanyType": "COMPANY"})
    values = {name: ctx.field(name) for name in QUALIFICATION_TEXT_FIELDS}
    values["UseBySelf"] = "true" if ctx.field("UseBySelf") == "true" else "false"
    values["WhetherShare"] = "true" if ctx.field("WhetherShare") == "true" else "false"
    try:
        stored = {}
        for name in QUALIFICATION_FILES:
            found = await _upload(ctx, name, "qualification")
            if found is not None:
                stored[name] = found
        fields = {name: (value or None) for name, value in values.items()}
        fields["Remark"] = values["Remark"] or None
        for name in ("AdminIDCardFrontFace", "AdminIDCardPic"):
            fields[name] = stored[name][0] if name in stored else None
        if "BusinessLicensePic" in stored:
            fields["BusinessLicensePics"] = json.dumps(
                [{"LicensePic": stored["BusinessLicensePic"][0], "Type": "socialCreditLicense"}])
        if fields.get("AdminPhoneNo") and fields.get("CertifyCode"):
            # A wrong code counts against the live one even though the submission fails.
            try:
                await ctx.pigeon.db.write(qualifications.check_phone_code, ctx.account_id,
                                          fields["AdminPhoneNo"], fields["CertifyCode"], ctx.now)
            except PigeonError:
                pass

        def submit(conn):
            _store_uploads(conn, ctx.account_id, list(stored.values()), ctx.now)
            return qualifications.submit(conn, ctx.pigeon.policy, ctx.account_id, fields,
                                         ctx.now)

        result = await ctx.pigeon.db.write(submit)
    except PigeonError as exc:
        return _qualification_form(request, ctx, values, error=exc.message, status=400)
    return RedirectResponse(f"{BASE}/qualifications/{result['id']}?notice=qualification", 303)


async def phone_code(request: Request, ctx: Context) -> Response:
    """RequiredPhoneCode for the qualification form's "Send code" button (JSON)."""
    phone = str((ctx.json or {}).get("phone") or "")
    try:
        national = await ctx.pigeon.db.write(qualifications.request_phone_code, ctx.account_id,
                                             phone, ctx.now, ctx.pigeon.calendar.zone)
    except PigeonError as exc:
        return JSONResponse({"ok": False, "error": exc.message}, status_code=400)
    return JSONResponse({"ok": True, "message": f"A code was sent to {national[:3]}****"
                                                f"{national[-4:]}; it is valid 5 minutes."})


# -- signatures ---------------------------------------------------------------------------------

async def _approved_qualifications(ctx: Context) -> list[dict]:
    _total, rows = await ctx.pigeon.db.read(qualifications.query_records, ctx.account_id,
                                            page_no=1, page_size=50, state="PASS")
    return rows


async def signature_list(request: Request, ctx: Context, *, error=None, values=None,
                         status: int = 200) -> Response:
    def read(conn):
        total, rows = signatures.page(conn, ctx.account_id, 1, 200)
        states = simulator.registrations(conn, [r["id"] for r in rows])
        return total, rows, states

    total, rows, registration = await ctx.pigeon.db.read(read)
    return ctx.render(request, "signatures.html", rows=rows, total=total,
                      registration=registration, carriers=signatures.CARRIERS,
                      statuses=SIGN_STATUS, register_status=REGISTER_STATUS,
                      qualifications=await _approved_qualifications(ctx),
                      sources=SIGN_SOURCES, values=values or {"sign_type": "1", "source": "0"},
                      error=error, notice=notice(request), status=status, nav="signatures")


async def signature_create(request: Request, ctx: Context) -> Response:
    values = {name: ctx.field(name) for name in
              ("name", "source", "qualification_id", "sign_type", "remark")}
    try:
        more = await _upload(ctx, "proof", "more-data")
        fields = {"name": values["name"], "source": _int(values["source"], "Source"),
                  "qualification_id": _int(values["qualification_id"], "Qualification"),
                  "sign_type": _int(values["sign_type"], "Type"),
                  "remark": values["remark"] or None,
                  "more_data": [more[0]] if more else None}

        def create(conn):
            _store_uploads(conn, ctx.account_id, [more] if more else [], ctx.now)
            return signatures.create(conn, ctx.pigeon.policy, ctx.account_id, fields, ctx.now)

        await ctx.pigeon.db.write(create)
    except PigeonError as exc:
        return await signature_list(request, ctx, error=exc.message, values=values, status=400)
    return RedirectResponse(f"{BASE}/signatures?notice=signature", 303)


async def signature_detail(request: Request, ctx: Context) -> Response:
    signature_id = _path_int(request, "id")

    def read(conn):
        row = signatures.get_by_id(conn, ctx.account_id, signature_id)
        return row, review.history(conn, "signature", row["id"])

    try:
        row, history = await ctx.pigeon.db.read(read)
    except PigeonError:
        raise NotFound() from None
    return ctx.render(request, "signature.html", row=row, history=history,
                      statuses=SIGN_STATUS, register_status=REGISTER_STATUS,
                      sources=signatures.SIGN_SOURCES, notice=notice(request),
                      nav="signatures")


# -- templates ----------------------------------------------------------------------------------

async def template_list(request: Request, ctx: Context) -> Response:
    """The templates with their tags; ``?tag=key`` or ``?tag=key:value`` shows those with
    the tag (as GetSmsTemplateList's TemplateTag)."""
    tag = request.query_params.get("tag", "").strip() or None

    def read(conn):
        return (templates.search(conn, ctx.account_id, page_no=1, page_size=200, tag=tag),
                template_tags.keys_in_use(conn, ctx.account_id))

    (total, rows), tags_in_use = await ctx.pigeon.db.read(read)
    return ctx.render(request, "templates.html", rows=rows, total=total, statuses=SIGN_STATUS,
                      types=TEMPLATE_TYPES, tag=tag, tags_in_use=tags_in_use,
                      notice=notice(request), nav="templates")


async def _approved_signatures(ctx: Context) -> list[dict]:
    _total, rows = await ctx.pigeon.db.read(signatures.page, ctx.account_id, 1, 200)
    return [r for r in rows if r["status"] == signatures.APPROVED]


async def _template_form(request: Request, ctx: Context, values: dict, *, code=None,
                         error=None, status: int = 200) -> Response:
    return ctx.render(request, "template_form.html", values=values, code=code, error=error,
                      status=status, types=TEMPLATE_TYPES,
                      signatures=await _approved_signatures(ctx), nav="templates")


def _template_fields(ctx: Context) -> tuple[dict, dict]:
    values = {name: ctx.field(name) for name in
              ("name", "type", "related_sign_name", "content", "rule", "remark")}
    fields = {"name": values["name"], "content": values["content"],
              "type": _int(values["type"], "Type"),
              "related_sign_name": values["related_sign_name"] or None,
              "variable_attribute": review_rules.parse_template_rule(values["rule"]),
              "remark": values["remark"] or None}
    return values, fields


async def template_new(request: Request, ctx: Context) -> Response:
    if request.method == "GET":
        return await _template_form(request, ctx, {"type": "0"})
    values = {}
    try:
        values, fields = _template_fields(ctx)
        answer = await ctx.pigeon.db.write(templates.create, ctx.pigeon.policy, ctx.account_id,
                                           fields, ctx.now)
    except PigeonError as exc:
        return await _template_form(request, ctx, values, error=exc.message, status=400)
    return RedirectResponse(f"{BASE}/templates/{answer['TemplateCode']}?notice=template", 303)


async def _own_template(ctx: Context, code: str) -> dict:
    try:
        return await ctx.pigeon.db.read(templates.get, ctx.account_id, code)
    except PigeonError:
        raise NotFound() from None


async def template_detail(request: Request, ctx: Context, *, error: str | None = None,
                          status: int = 200) -> Response:
    row = await _own_template(ctx, request.path_params["code"])

    def read(conn):
        return (review.history(conn, "template", row["id"]),
                template_tags.of_templates(conn, [row["id"]])[row["id"]])

    history, tags = await ctx.pigeon.db.read(read)
    shown = notice(request) or {"tagged": "Tag saved.", "untagged": "Tag removed."}.get(
        request.query_params.get("notice", ""))
    return ctx.render(request, "template.html", row=row, history=history, tags=tags,
                      statuses=SIGN_STATUS, types=TEMPLATE_TYPES, notice=shown, error=error,
                      status=status, nav="templates")


async def template_edit(request: Request, ctx: Context) -> Response:
    row = await _own_template(ctx, request.path_params["code"])
    if request.method == "GET":
        rule = row["variable_attribute"]
        return await _template_form(request, ctx, {
            "name": row["name"], "type": str(row["type"]),
            "related_sign_name": row["related_sign_name"] or "", "content": row["content"],
            "rule": json.dumps(rule, ensure_ascii=False) if rule else "",
            "remark": row["remark"] or ""}, code=row["code"])
    values = {}
    try:
        values, fields = _template_fields(ctx)
        await ctx.pigeon.db.write(templates.modify, ctx.pigeon.policy, ctx.account_id,
                                  row["code"], fields, ctx.now)
    except PigeonError as exc:
        return await _template_form(request, ctx, values, code=row["code"], error=exc.message,
                                    status=400)
    return RedirectResponse(f"{BASE}/templates/{row['code']}?notice=template", 303)


def check_template_text(name: str, content: str, template_type: int, rule_text: str) -> dict:
    """The content rules as the form is typed: what CreateSmsTemplate would refuse at once and
    what the automatic reviewer would reject, as a list of problems."""
    problems: list[str] = []
    try:
        names = variables(content)
    except PigeonError as exc:
        names = []
        problems.append(exc.message)
    rule = None
    try:
        rule = review_rules.parse_template_rule(rule_text)
        review_rules.validate_template(name or "-", content or " ", template_type, rule=rule)
    except PigeonError as exc:
        if exc.message not in problems:
            problems.append(exc.message)
    if names and rule is None:
        problems.append("Give each variable its attribute in TemplateRule, e.g. "
                        f'{{"{names[0]}":"numberCaptcha"}}.')
    if content.strip():
        decision = review_rules.review_template(content, template_type, rule=rule)
        if not decision.approved:
            problems += [p.strip().rstrip(".") + "." for p in decision.reason.split("; ")
                         if p.strip() and p.strip().rstrip(".") + "." not in problems]
    return {"ok": not problems, "problems": problems, "variables": names}


async def template_check(request: Request, ctx: Context) -> Response:
    body = ctx.json or {}
    try:
        template_type = int(body.get("type", 0))
    except (TypeError, ValueError):
        template_type = -1
    result = check_template_text(str(body.get("name") or ""), str(body.get("content") or ""),
                                 template_type, str(body.get("rule") or ""))
    return JSONResponse(result)

