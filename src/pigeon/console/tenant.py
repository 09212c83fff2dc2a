"""Tenant pages of the compliance workflow: Qualification, Signature and Template Management
(the Overview is :mod:`pigeon.console.overview`).  Each handler calls the services the API
calls, with the session's account; the pages show labels, pictures and masked ID numbers where
the API has field names, object keys and whole numbers (:mod:`pigeon.console.words`)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import date
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from pigeon.console import error_text, i18n, words
from pigeon.console.auth import Context, NotFound
from pigeon.console.i18n import N_, gettext
from pigeon.console.rendering import BASE
from pigeon.core import proof_files, review_rules, segments
from pigeon.core.errors import PigeonError
from pigeon.core.qualification_rules import LONG_TERM, parse_date_range
from pigeon.core.templates import variables
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
    "qualification": N_("Qualification submitted."),
    "qualification-updated": N_("Qualification updated and submitted for review again."),
    "qualification-deleted": N_("Qualification deleted."),
    "signature-resubmitted": N_("Signature changed and submitted for review again."),
    "signature-deleted": N_("Signature deleted."),
    "template-deleted": N_("Template deleted."),
    "signature": N_("Signature submitted for review."),
    "template": N_("Template submitted for review."),
    "bound": N_("Test number bound."),
    "unbound": N_("Test number removed."),
    "reports": N_("Report settings saved."),
    "test-report": N_("A test report is queued; it is delivered as the type is set to."),
    "key-status": N_("AccessKey updated."),
    "tagged": N_("Tag saved."),
    "untagged": N_("Tag removed."),
}

# The labels of enumerations, for the modules that import them from here.
SIGN_STATUS = words.REVIEW_STATUS
TEMPLATE_TYPES = words.TEMPLATE_TYPES
REGISTER_STATUS = words.REGISTER_STATUS
QUALIFICATION_STATES = words.QUALIFICATION_STATES
SIGN_SOURCES = {key: words.SIGN_SOURCES[key] for key in words.CONSOLE_SIGN_SOURCES}
LIST_PAGE = 20


def notice(request: Request) -> str | None:
    key = request.query_params.get("notice", "")
    return gettext(NOTICES[key]) if key in NOTICES else None


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise error_text.refusal(gettext("Choose %(what)s.") % {"what": what}) from None


def _path_int(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except (KeyError, ValueError):
        raise NotFound() from None


def page_number(request: Request) -> int:
    try:
        return max(1, min(int(request.query_params.get("page", "1")), 10_000))
    except ValueError:
        return 1


def page_links(request: Request, path: str) -> Callable[[int], str]:
    """``url(p)``: ``path`` with the request's filters and page ``p``."""
    kept = {k: v for k, v in request.query_params.items() if k not in ("page", "notice") and v}

    def url(page: int) -> str:
        return f"{path}?{urlencode({**kept, 'page': page})}"

    return url


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
        raise error_text.refusal(gettext("%(file)s is not a JPG, PNG, GIF, PDF, DOC or DOCX "
                                         "file.") % {"file": item.filename})
    key = f"{ctx.account_id}/{uploads.PURPOSES[purpose]}{secrets.token_hex(8)}.{suffix}"
    return key, suffix, data


def _store_uploads(conn, account_id: int, files: list[tuple[str, str, bytes]], now) -> None:
    for key, suffix, data in files:
        uploads.store(conn, account_id, key, suffix, data, now)


def history_rows(history: list[dict]) -> list[dict]:
    """Review tickets as a tenant sees them: who decided is "a reviewer", never an address."""
    return [{**t, "decided_by_shown": words.reviewer(t["decided_by"])} for t in history]


def review_words() -> dict:
    """What every page with a review history needs."""
    return {"decisions": i18n.translated(words.TICKET_STATUS)}


# -- qualifications -----------------------------------------------------------------------------

QUALIFICATION_TEXT_FIELDS = (
    "QualificationName", "CompanyName", "CompanyType", "OrganizationCode",
    "LegalPersonName", "LegalPersonIDCardType", "LegalPersonIDCardNo",
    "AdminName", "AdminIDCardType", "AdminIDCardNo", "AdminPhoneNo", "CertifyCode", "Remark",
)
QUALIFICATION_FILES = ("AdminIDCardFrontFace", "AdminIDCardPic", "BusinessLicensePic")
DETAIL_ORDER = (
    "CompanyType", "OrganizationCode", "BussinessLicenseExpDate", "LegalPersonIDCardType",
    "LegalPersonIDCardNo", "LegalPersonIdCardEffTime", "AdminName", "AdminIDCardType",
    "AdminIDCardNo", "AdminIDCardExpDate", "AdminPhoneNo", "Remark",
)
FILE_FIELDS = {"AdminIDCardFrontFace", "AdminIDCardPic", "LegalPersonIdCardFrontSide",
               "LegalPersonIdCardBackSide", "BusinessLicensePics", "OtherFiles"}


def date_range_text(text: str | None) -> str:
    """``2020-01-01~2099-12-31`` as the language writes it, "long-term" for the far end."""
    try:
        start, end = parse_date_range(text or "")
    except ValueError:
        return text or ""
    last = gettext("long-term") if end == LONG_TERM else i18n.format_date(end)
    return gettext("%(first)s to %(last)s") % {"first": i18n.format_date(start), "last": last}


def qualification_fields(row: dict) -> list[dict]:
    """The qualification's details as label and text, in form order: enumerations named,
    ID numbers masked, ranges as dates; files are shown as pictures, not here."""
    details = row["details"]
    shown = []
    for name in DETAIL_ORDER:
        value = details.get(name)
        if value in (None, ""):
            continue
        if name in words.ID_NUMBER_FIELDS:
            text = words.masked_id(value)
        elif name in words.DATE_RANGE_FIELDS:
            text = date_range_text(value)
        elif name.endswith("IDCardType"):
            text = words.label(words.ID_CARD_TYPES, value)
        elif name == "CompanyType":
            text = words.label(words.COMPANY_TYPES, value)
        elif name == "AdminPhoneNo":
            text = words.masked_phone(value)
        else:
            text = str(value)
        shown.append({"name": name, "label": words.label(words.QUALIFICATION_FIELDS, name),
                      "text": text})
    return shown


def file_pictures(files: list[dict]) -> list[dict]:
    """Proof files with the label of the field that names them (``BusinessLicensePics[1]…``
    → "Business licence")."""
    shown = []
    for f in files:
        field = (f["field"] or "").split("[")[0].split(".")[0]
        shown.append({**f, "label": words.label(words.QUALIFICATION_FIELDS, field,
                                                gettext("Supporting file")),
                      "image": f["suffix"].lower() in IMAGE_SUFFIXES})
    return shown


IMAGE_SUFFIXES = ("png", "jpg", "jpeg", "gif")


async def qualification_list(request: Request, ctx: Context) -> Response:
    query = request.query_params
    search = query.get("q", "").strip()
    state = query.get("state", "")
    state = state if state in words.QUALIFICATION_STATES else ""
    page = page_number(request)
    total, rows = await ctx.pigeon.db.read(qualifications.query_records, ctx.account_id,
                                           page_no=page, page_size=LIST_PAGE,
                                           name=search or None, state=state or None)
    return ctx.render(request, "qualifications.html", rows=rows, total=total,
                      states=i18n.translated(QUALIFICATION_STATES), notice=notice(request),
                      search=search, state=state, page=page,
                      pages=(total + LIST_PAGE - 1) // LIST_PAGE,
                      page_url=page_links(request, f"{BASE}/qualifications"),
                      nav="qualifications")


async def qualification_detail(request: Request, ctx: Context) -> Response:
    qualification_id = _path_int(request, "id")

    def read(conn):
        row = qualifications.get_single(conn, ctx.account_id, qualification_id)
        described = review.describe(conn, qualifications.KIND, str(qualification_id),
                                    ctx.account_id)
        return row, described["files"], review.history(conn, qualifications.KIND,
                                                       qualification_id)

    try:
        row, files, history = await ctx.pigeon.db.read(read)
    except PigeonError:
        raise NotFound() from None
    return ctx.render(request, "qualification.html", row=row, history=history_rows(history),
                      states=i18n.translated(QUALIFICATION_STATES), notice=notice(request),
                      fields=qualification_fields(row), files=file_pictures(files),
                      reason=error_text.reason(row["audit_remark"]),
                      updatable=row["state"] in qualifications.UPDATABLE_STATES,
                      nav="qualifications", **review_words())


def form_words() -> dict:
    """The labels the qualification form needs."""
    return {"id_types": i18n.translated(words.ID_CARD_TYPES),
            "company_types": i18n.translated(words.COMPANY_TYPES),
            "labels": i18n.translated(words.QUALIFICATION_FIELDS),
            "range_fields": words.DATE_RANGE_FIELDS}


def range_values(name: str, text: str | None) -> dict:
    """A stored ``first~last`` range as the form's two date fields and its long-term box."""
    try:
        start, end = parse_date_range(text or "")
    except ValueError:
        return {}
    long_term = end == LONG_TERM
    return {f"{name}.from": start.isoformat(), f"{name}.to": "" if long_term else end.isoformat(),
            f"{name}.long": "yes" if long_term else ""}


def posted_range(ctx: Context, name: str, values: dict) -> str:
    """The range the form's date fields give (``first~last``), kept in ``values`` as typed."""
    first, last, long_term = (ctx.field(f"{name}.from"), ctx.field(f"{name}.to"),
                              ctx.field(f"{name}.long") == "yes")
    values.update({f"{name}.from": first, f"{name}.to": last,
                   f"{name}.long": "yes" if long_term else ""})
    if long_term:
        last = LONG_TERM.isoformat()
    if not first and not last:
        return ""
    for day in (first, last):
        try:
            date.fromisoformat(day)
        except ValueError:
            label = words.label(words.QUALIFICATION_FIELDS, name)
            raise error_text.refusal(gettext("%(field)s needs a first and a last day (tick "
                                             "“long-term” when it does not expire).")
                                     % {"field": label}) from None
    return f"{first}~{last}"


def _qualification_form(request: Request, ctx: Context, values: dict, *, error=None,
                        status: int = 200) -> Response:
    return ctx.render(request, "qualification_form.html", values=values, error=error,
                      status=status, nav="qualifications", **form_words())


async def qualification_new(request: Request, ctx: Context) -> Response:
    if request.method == "GET":
        return _qualification_form(request, ctx, {
            "UseBySelf": "true", "WhetherShare": "false", "CompanyType": "COMPANY",
            "LegalPersonIDCardType": "identityCard", "AdminIDCardType": "identityCard"})
    values = {name: ctx.field(name) for name in QUALIFICATION_TEXT_FIELDS}
    values["UseBySelf"] = "true" if ctx.field("UseBySelf") == "true" else "false"
    values["WhetherShare"] = "true" if ctx.field("WhetherShare") == "true" else "false"
    try:
        fields = {name: (value or None) for name, value in values.items()}
        for name in words.DATE_RANGE_FIELDS:
            fields[name] = posted_range(ctx, name, values) or None
        stored = {}
        for name in QUALIFICATION_FILES:
            found = await _upload(ctx, name, "qualification")
            if found is not None:
                stored[name] = found
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
        values["CertifyCode"] = ""  # used up or wrong: a fresh one is needed either way
        return _qualification_form(request, ctx, values, error=error_text.of(exc), status=400)
    return RedirectResponse(f"{BASE}/qualifications/{result['id']}?notice=qualification", 303)


async def phone_code(request: Request, ctx: Context) -> Response:
    """RequiredPhoneCode for the qualification form's "Send code" button (JSON).  The code
    only ever reaches the carrier simulator's handset: its text comes back to show there."""
    phone = str((ctx.json or {}).get("phone") or "")
    try:
        national = await ctx.pigeon.db.write(qualifications.request_phone_code, ctx.account_id,
                                             phone, ctx.now, ctx.pigeon.calendar.zone)
        text = await ctx.pigeon.db.read(qualifications.live_code_text, ctx.account_id,
                                        national, ctx.now)
    except PigeonError as exc:
        return JSONResponse({"ok": False, "error": error_text.of(exc)}, status_code=400)
    return JSONResponse({
        "ok": True, "handset": text, "phone": words.masked_phone(national),
        "message": gettext("A code was sent to %(phone)s; it is valid 5 minutes.")
        % {"phone": words.masked_phone(national)}})


async def tenant_file(request: Request, ctx: Context) -> Response:
    """A proof file of the tenant's own (a picture on its qualification's page)."""
    from pigeon.console.operator import file_response

    file_id = _path_int(request, "id")
    found = await ctx.pigeon.db.read(review.proof_file, file_id)
    if found is None or found["account_id"] != ctx.account_id:
        raise NotFound()
    return file_response(found, file_id)


# -- signatures ---------------------------------------------------------------------------------

async def _approved_qualifications(ctx: Context) -> list[dict]:
    _total, rows = await ctx.pigeon.db.read(qualifications.query_records, ctx.account_id,
                                            page_no=1, page_size=50, state="PASS")
    return rows


def signature_words() -> dict:
    return {"statuses": i18n.translated(SIGN_STATUS),
            "register_status": i18n.translated(REGISTER_STATUS),
            "sign_types": i18n.translated(words.SIGN_TYPES),
            "carrier_names": i18n.translated(CARRIER_NAMES)}


CARRIER_NAMES = {"mobile": N_("China Mobile"), "unicom": N_("China Unicom"),
                 "telecom": N_("China Telecom"), "broadnet": N_("China Broadnet")}


async def signature_list(request: Request, ctx: Context, *, error=None, values=None,
                         status: int = 200) -> Response:
    query = request.query_params
    search = query.get("q", "").strip()
    wanted = query.get("status", "")
    status_filter = int(wanted) if wanted.lstrip("-").isdigit() and int(wanted) in SIGN_STATUS \
        else None
    page = page_number(request)

    def read(conn):
        total, rows = signatures.page(conn, ctx.account_id, page, LIST_PAGE,
                                      name=search or None, status=status_filter)
        states = simulator.registrations(conn, [r["id"] for r in rows])
        return total, rows, states

    total, rows, registration = await ctx.pigeon.db.read(read)
    for row in rows:
        row["reason"] = error_text.reason(row["reject_info"])
    return ctx.render(request, "signatures.html", rows=rows, total=total,
                      registration=registration, carriers=signatures.CARRIERS,
                      qualifications=await _approved_qualifications(ctx),
                      sources=i18n.translated(SIGN_SOURCES),
                      values=values or {"sign_type": "1", "source": "0"},
                      search=search, status_filter=wanted if status_filter is not None else "",
                      page=page, pages=(total + LIST_PAGE - 1) // LIST_PAGE,
                      page_url=page_links(request, f"{BASE}/signatures"),
                      error=error, notice=notice(request), status=status, nav="signatures",
                      **signature_words())


async def signature_create(request: Request, ctx: Context) -> Response:
    values = {name: ctx.field(name) for name in
              ("name", "source", "qualification_id", "sign_type", "remark")}
    try:
        more = await _upload(ctx, "proof", "more-data")
        fields = {"name": values["name"],
                  "source": _int(values["source"], gettext("a source")),
                  "qualification_id": _int(values["qualification_id"],
                                           gettext("a qualification")),
                  "sign_type": _int(values["sign_type"], gettext("a type")),
                  "remark": values["remark"] or None,
                  "more_data": [more[0]] if more else None}

        def create(conn):
            _store_uploads(conn, ctx.account_id, [more] if more else [], ctx.now)
            return signatures.create(conn, ctx.pigeon.policy, ctx.account_id, fields, ctx.now)

        await ctx.pigeon.db.write(create)
    except PigeonError as exc:
        return await signature_list(request, ctx, error=error_text.of(exc), values=values,
                                    status=400)
    return RedirectResponse(f"{BASE}/signatures?notice=signature", 303)


async def signature_detail(request: Request, ctx: Context) -> Response:
    signature_id = _path_int(request, "id")

    def read(conn):
        row = signatures.get_by_id(conn, ctx.account_id, signature_id)
        described = review.describe(conn, "signature", row["name"], ctx.account_id)
        return row, described["files"], review.history(conn, "signature", row["id"])

    try:
        row, files, history = await ctx.pigeon.db.read(read)
    except PigeonError:
        raise NotFound() from None
    return ctx.render(request, "signature.html", row=row, history=history_rows(history),
                      sources=i18n.translated(words.SIGN_SOURCES), notice=notice(request),
                      files=file_pictures(files), reason=error_text.reason(row["reject_info"]),
                      nav="signatures", **signature_words(), **review_words())


# -- templates ----------------------------------------------------------------------------------

async def template_list(request: Request, ctx: Context) -> Response:
    """The templates with their tags and filters: ``q`` a part of the name or the exact code,
    ``status``, ``type``, ``tag`` (``key`` or ``key:value``, as GetSmsTemplateList's
    TemplateTag)."""
    query = request.query_params
    tag = query.get("tag", "").strip() or None
    search = query.get("q", "").strip()
    wanted_status, wanted_type = query.get("status", ""), query.get("type", "")
    status = int(wanted_status) if wanted_status.isdigit() and \
        int(wanted_status) in SIGN_STATUS else None
    template_type = int(wanted_type) if wanted_type.isdigit() and \
        int(wanted_type) in TEMPLATE_TYPES else None
    page = page_number(request)

    def read(conn):
        by = {"code": search} if search.upper().startswith("SMS_") else {"name": search or None}
        return (templates.search(conn, ctx.account_id, page_no=page, page_size=LIST_PAGE,
                                 tag=tag, status=status, template_type=template_type, **by),
                template_tags.keys_in_use(conn, ctx.account_id))

    (total, rows), tags_in_use = await ctx.pigeon.db.read(read)
    for row in rows:
        row["reason"] = error_text.reason(row["reject_info"])
    return ctx.render(request, "templates.html", rows=rows, total=total,
                      statuses=i18n.translated(SIGN_STATUS),
                      types=i18n.translated(TEMPLATE_TYPES), tag=tag, tags_in_use=tags_in_use,
                      search=search, status_filter=wanted_status if status is not None else "",
                      type_filter=wanted_type if template_type is not None else "",
                      page=page, pages=(total + LIST_PAGE - 1) // LIST_PAGE,
                      page_url=page_links(request, f"{BASE}/templates"),
                      notice=notice(request), nav="templates")


async def _approved_signatures(ctx: Context) -> list[dict]:
    _total, rows = await ctx.pigeon.db.read(signatures.page, ctx.account_id, 1, 200,
                                            status=signatures.APPROVED)
    return rows


def attribute_words() -> dict:
    """The variable attributes, labelled, in the order the form offers them."""
    return {"attributes": i18n.translated(words.VARIABLE_ATTRIBUTES)}


async def _template_form(request: Request, ctx: Context, values: dict, *, code=None,
                         error=None, status: int = 200) -> Response:
    content = values.get("content") or ""
    try:
        names = variables(content)
    except PigeonError:
        names = []
    rule = values.get("rule_values") or {}
    return ctx.render(request, "template_form.html", values=values, code=code, error=error,
                      status=status, types=i18n.translated(TEMPLATE_TYPES),
                      signatures=await _approved_signatures(ctx), nav="templates",
                      variable_names=names, rule=rule, **attribute_words())


def _posted_rule(ctx: Context, content: str) -> dict[str, str]:
    """TemplateRule from the form: one ``attr.<variable>`` field per variable of the content
    (the page adds and removes them as the content is typed)."""
    try:
        names = variables(content)
    except PigeonError:
        return {}
    return {name: ctx.field(f"attr.{name}") for name in names if ctx.field(f"attr.{name}")}


def _template_fields(ctx: Context) -> tuple[dict, dict]:
    values = {name: ctx.field(name) for name in
              ("name", "type", "related_sign_name", "content", "remark")}
    rule = _posted_rule(ctx, values["content"])
    values["rule_values"] = rule
    fields = {"name": values["name"], "content": values["content"],
              "type": _int(values["type"], gettext("a type")),
              "related_sign_name": values["related_sign_name"] or None,
              "variable_attribute": rule or None,
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
        return await _template_form(request, ctx, values, error=error_text.of(exc),
                                    status=400)
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
    try:
        names = variables(row["content"])
    except PigeonError:
        names = []
    rule = row["variable_attribute"] or {}
    counted = message_length(row["related_sign_name"] or "", row["content"], row["type"])
    return ctx.render(request, "template.html", row=row, history=history_rows(history),
                      tags=tags, statuses=i18n.translated(SIGN_STATUS),
                      types=i18n.translated(TEMPLATE_TYPES), notice=notice(request),
                      reason=error_text.reason(row["reject_info"]), error=error, status=status,
                      variable_rows=[{"name": n, "attribute": words.label(
                          words.VARIABLE_ATTRIBUTES, rule[n]) if n in rule else ""}
                          for n in names],
                      counted=counted, nav="templates", **review_words())


async def template_edit(request: Request, ctx: Context) -> Response:
    row = await _own_template(ctx, request.path_params["code"])
    if request.method == "GET":
        return await _template_form(request, ctx, {
            "name": row["name"], "type": str(row["type"]),
            "related_sign_name": row["related_sign_name"] or "", "content": row["content"],
            "rule_values": dict(row["variable_attribute"] or {}),
            "remark": row["remark"] or ""}, code=row["code"])
    values = {}
    try:
        values, fields = _template_fields(ctx)
        await ctx.pigeon.db.write(templates.modify, ctx.pigeon.policy, ctx.account_id,
                                  row["code"], fields, ctx.now)
    except PigeonError as exc:
        return await _template_form(request, ctx, values, code=row["code"],
                                    error=error_text.of(exc), status=400)
    return RedirectResponse(f"{BASE}/templates/{row['code']}?notice=template", 303)


def check_template_text(name: str, content: str, template_type: int,
                        rule: dict | str | None) -> dict:
    """The content rules as the form is typed: what CreateSmsTemplate would refuse at once and
    what the automatic reviewer would reject, as a list of problems (in the API's words;
    :func:`template_check` words them for the page)."""
    problems: list[str] = []
    try:
        names = variables(content)
    except PigeonError as exc:
        names = []
        problems.append(exc.message)
    if isinstance(rule, str):
        try:
            rule = review_rules.parse_template_rule(rule)
        except PigeonError as exc:
            problems.append(exc.message)
            rule = None
    try:
        review_rules.validate_template(name or "-", content or " ", template_type, rule=rule)
    except PigeonError as exc:
        if exc.message not in problems:
            problems.append(exc.message)
    if names and not rule:
        problems.append("Give each variable its attribute in TemplateRule, e.g. "
                        f'{{"{names[0]}":"numberCaptcha"}}.')
    if content.strip():
        decision = review_rules.review_template(content, template_type, rule=rule)
        if not decision.approved:
            problems += [p.strip().rstrip(".") + "." for p in decision.reason.split("; ")
                         if p.strip() and p.strip().rstrip(".") + "." not in problems]
    return {"ok": not problems, "problems": problems, "variables": names}


async def template_check(request: Request, ctx: Context) -> Response:
    """The template form's live check: the problems in the user's language, the variables,
    and the message's length and segments with a signature."""
    body = ctx.json or {}
    try:
        template_type = int(body.get("type", 0))
    except (TypeError, ValueError):
        template_type = -1
    rule = body.get("rule")
    if not isinstance(rule, dict | str):
        rule = None
    if isinstance(rule, dict):
        rule = {str(k): str(v) for k, v in rule.items() if v} or None
    content = str(body.get("content") or "")
    result = check_template_text(str(body.get("name") or ""), content, template_type, rule)
    result["problems"] = error_text.problems(result["problems"])
    counted = message_length(str(body.get("sign") or ""), content, template_type)
    result["length"] = counted
    return JSONResponse(result)


def message_length(sign_name: str, content: str, template_type: int) -> dict:
    """The message's length and segments with its signature, as billed (variables counted as
    written), with the sentence that says so in the current language."""
    international = template_type == 3
    counted = segments.count_segments(
        segments.signed_text(sign_name, content, international=international)
        if sign_name else content, international=international)
    characters = i18n.ngettext("%(num)s character", "%(num)s characters", counted.length)
    parts = i18n.ngettext("%(num)s segment", "%(num)s segments", counted.segments)
    text = (characters % {"num": counted.length}) + " · " + (parts % {"num": counted.segments})
    return {"characters": counted.length, "segments": counted.segments, "text": text}
