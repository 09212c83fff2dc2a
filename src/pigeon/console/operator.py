"""Operator pages of the compliance work: the review queue with the proof files, decisions,
and the signatures' carrier registration (the same services as ``pigeon review`` and
``pigeon signature register``)."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import Connection, and_, exists, func, not_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pigeon.console import error_text, i18n, words
from pigeon.console.auth import Context, NotFound
from pigeon.console.i18n import N_, gettext
from pigeon.console.rendering import OPERATOR_BASE, SECURITY_HEADERS
from pigeon.console.tenant import CARRIER_NAMES, REGISTER_STATUS, file_pictures
from pigeon.core.errors import PigeonError
from pigeon.services import review, signatures
from pigeon.store.tables import accounts as accounts_table
from pigeon.store.tables import sign_registrations
from pigeon.store.tables import signatures as signatures_table

NOTICES = {"approved": N_("Approved."), "rejected": N_("Rejected; the tenant sees the reason."),
           "registration": N_("Registration state recorded; the tenant sees it at once.")}
KINDS = {"qualification": N_("Qualification"), "signature": N_("Signature"),
         "template": N_("Template"), "letter": N_("Authorisation letter"),
         "trademark": N_("Trademark"), "app_icp": N_("ICP filing")}


def _notice(request: Request) -> str | None:
    key = request.query_params.get("notice", "")
    return gettext(NOTICES[key]) if key in NOTICES else None
REGISTRATION_LIMIT = 200


def routes(t, o) -> list[Route]:
    """The review queue and carrier registration (``o``: operator pages)."""
    post = ["POST"]
    return [
        o("/", queue),
        o("/review/{kind}/{account_id}/{name}", review_detail),
        o("/review/{ticket_id}/decide", decide, post),
        o("/files/{file_id}", proof_file),
        o("/registration", registration),
        o("/registration/{signature_id}", registration_record, post),
    ]
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}
DOCUMENT_TYPES = {"pdf": "application/pdf", "doc": "application/msword",
                  "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml."
                          "document"}


async def queue(request: Request, ctx: Context) -> Response:
    pending = await ctx.pigeon.db.read(review.pending_overview, None)
    return ctx.render(request, "operator_queue.html", pending=pending, nav="queue",
                      kinds=i18n.translated(KINDS), notice=_notice(request))


async def review_detail(request: Request, ctx: Context) -> Response:
    kind, name = request.path_params["kind"], request.path_params["name"]
    try:
        account_id = int(request.path_params["account_id"])
        details = await ctx.pigeon.db.read(review.describe, kind, name, account_id)
    except (ValueError, PigeonError):
        raise NotFound() from None
    pending = [t for t in details["history"] if t["status"] == "pending"]
    return ctx.render(request, "operator_review.html", kind=kind, name=name,
                      account_id=account_id, details=details, fields=_subject_fields(details),
                      files=file_pictures(details["files"]),
                      ticket=pending[-1] if pending else None, images=IMAGE_TYPES,
                      kinds=i18n.translated(KINDS),
                      decisions=i18n.translated(words.TICKET_STATUS),
                      missing_reason=request.query_params.get("error") == "reason", nav="queue")


SUBJECT_LABELS = {"name": N_("Name"), "account_id": N_("Account"), "state": N_("Status"),
                  "status": N_("Status"), "company_name": N_("Company name"),
                  "legal_person_name": N_("Legal person"), "content": N_("Content"),
                  "code": N_("Code"), "type": N_("Type"), "remark": N_("Remark"),
                  "source": N_("Source"), "sign_type": N_("Type"),
                  "related_sign_name": N_("Signature"), "created_at": N_("Submitted"),
                  "qualification_id": N_("Qualification"), "reject_info": N_("Rejection reason"),
                  "audit_remark": N_("Reviewer's remark"), "use_by_self": N_("For own use"),
                  "whether_share": N_("Shared with other accounts")}


VALUE_WORDS = {"state": words.QUALIFICATION_STATES, "status": words.REVIEW_STATUS,
               "type": words.TEMPLATE_TYPES, "source": words.SIGN_SOURCES,
               "sign_type": words.SIGN_TYPES, "CompanyType": words.COMPANY_TYPES,
               "LegalPersonIDCardType": words.ID_CARD_TYPES,
               "AdminIDCardType": words.ID_CARD_TYPES}


def _subject_fields(details: dict) -> list[tuple[str | None, str, object]]:
    """The submission as (label, wire name, value): what a reviewer reads, labelled where the
    console has a label (else only the field's own name: operators speak the API's names
    too), enumerations named."""
    subject = details["subject"]
    fields = [(k, v, SUBJECT_LABELS.get(k)) for k, v in subject.items()
              if k not in ("details", "name_key", "id")]
    fields += [(k, v, words.QUALIFICATION_FIELDS.get(k))
               for k, v in (subject.get("details") or {}).items()]
    shown = []
    for key, value, label in fields:
        if value is None or value == "":
            continue
        if key in VALUE_WORDS:
            value = words.label(VALUE_WORDS[key], value)
        elif isinstance(value, bool):
            value = gettext("yes") if value else gettext("no")
        shown.append((gettext(label) if label else None, key, value))
    return shown


async def decide(request: Request, ctx: Context) -> Response:
    try:
        ticket_id = int(request.path_params["ticket_id"])
    except ValueError:
        raise NotFound() from None
    approved = ctx.field("decision") == "approve"
    reason = ctx.field("reason")
    back = ctx.field("back")
    if not approved and not reason:
        target = back if back.startswith(OPERATOR_BASE + "/review/") else OPERATOR_BASE + "/"
        return RedirectResponse(f"{target}?error=reason", 303)
    try:
        await ctx.pigeon.db.write(review.decide, ctx.pigeon.policy, ticket_id,
                                  approved=approved, reason=reason,
                                  decided_by=f"operator:{ctx.user['email']}", now=ctx.now)
    except PigeonError as exc:
        return ctx.render(request, "error.html", status=400, message=error_text.of(exc))
    return RedirectResponse(f"{OPERATOR_BASE}/?notice={'approved' if approved else 'rejected'}",
                            303)


async def proof_file(request: Request, ctx: Context) -> Response:
    """A proof file, shown to operators only: images inline with their own type, documents as
    downloads; never sniffed, never run (a sandboxing CSP)."""
    try:
        file_id = int(request.path_params["file_id"])
    except ValueError:
        raise NotFound() from None
    found = await ctx.pigeon.db.read(review.proof_file, file_id)
    if found is None:
        raise NotFound()
    return file_response(found, file_id)


def file_response(found: dict, file_id: int) -> Response:
    """A stored proof file as an answer: an image inline with its own type, a document as a
    download; never sniffed, never run (a sandboxing CSP)."""
    suffix = found["suffix"].lower()
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": "default-src 'none'; sandbox",
               "Cache-Control": "private, no-store"}
    if suffix in IMAGE_TYPES:
        media = IMAGE_TYPES[suffix]
        headers["Content-Disposition"] = f'inline; filename="file-{file_id}.{suffix}"'
    else:
        media = DOCUMENT_TYPES.get(suffix, "application/octet-stream")
        headers["Content-Disposition"] = f'attachment; filename="file-{file_id}.{suffix}"'
    return Response(found["data"], media_type=media, headers=headers)


# -- carrier registration ---------------------------------------------------------------------

def _registration_rows(conn: Connection, state: str | None) -> dict:
    """Approved signatures with their per-carrier registration, newest first, those with a
    carrier in ``state`` only (no row at all counts as ``unregistered``), and how many
    signatures have a carrier in each state."""
    approved = signatures_table.c.status == signatures.APPROVED
    query = (select(signatures_table.c.id, signatures_table.c.name,
                    signatures_table.c.account_id, signatures_table.c.audit_date,
                    accounts_table.c.name.label("account_name"))
             .join(accounts_table, accounts_table.c.id == signatures_table.c.account_id)
             .where(approved))
    if state is not None:
        status = signatures.REGISTER_STATES[state]
        in_state = exists().where(sign_registrations.c.signature_id == signatures_table.c.id,
                                  sign_registrations.c.status == status)
        if state == "unregistered":
            in_state = in_state | not_(exists().where(
                sign_registrations.c.signature_id == signatures_table.c.id))
        query = query.where(in_state)
    listed = [dict(r) for r in conn.execute(
        query.order_by(signatures_table.c.id.desc()).limit(REGISTRATION_LIMIT)).mappings()]
    carriers: dict[int, dict[str, dict]] = {row["id"]: {} for row in listed}
    if carriers:
        for row in conn.execute(select(sign_registrations).where(
                sign_registrations.c.signature_id.in_(list(carriers)))).mappings():
            carriers[row["signature_id"]][row["carrier"]] = dict(row)
    for row in listed:
        row["carriers"] = carriers[row["id"]]
    counts = dict(conn.execute(
        select(sign_registrations.c.status,
               func.count(func.distinct(sign_registrations.c.signature_id)))
        .join(signatures_table, and_(signatures_table.c.id == sign_registrations.c.signature_id,
                                     approved))
        .group_by(sign_registrations.c.status)).all())
    # Not registered: a carrier row says so, or the signature has no row at all.
    counts[signatures.REGISTER_STATES["unregistered"]] = conn.scalar(
        select(func.count()).select_from(signatures_table).where(approved, exists().where(
            sign_registrations.c.signature_id == signatures_table.c.id,
            sign_registrations.c.status == signatures.REGISTER_STATES["unregistered"])
            | not_(exists().where(sign_registrations.c.signature_id == signatures_table.c.id))))
    return {"rows": listed, "counts": counts}


async def registration(request: Request, ctx: Context, *, error: str | None = None,
                       status: int = 200) -> Response:
    state = request.query_params.get("state") or None
    if state not in signatures.REGISTER_STATES:
        state = None
    found = await ctx.pigeon.db.read(_registration_rows, state)
    return ctx.render(request, "ops_registration.html", status=status, nav="registration",
                      state=state, rows=found["rows"], counts=found["counts"],
                      states=signatures.REGISTER_STATES, carriers=signatures.CARRIERS,
                      register_status=i18n.translated(REGISTER_STATUS),
                      carrier_names=i18n.translated(CARRIER_NAMES), limit=REGISTRATION_LIMIT,
                      notice=_notice(request), error=error)


def _record(conn: Connection, signature_id: int, carrier: str, state: str, reason: str | None,
            now) -> list[dict]:
    row = conn.execute(select(signatures_table.c.account_id, signatures_table.c.name)
                       .where(signatures_table.c.id == signature_id)).first()
    if row is None:
        raise NotFound()
    return signatures.set_registration(conn, row.account_id, row.name, carrier, state, reason,
                                       now)


async def registration_record(request: Request, ctx: Context) -> Response:
    """Record a carrier's outcome for a signature, as ``pigeon signature register`` does."""
    try:
        signature_id = int(request.path_params["signature_id"])
    except ValueError:
        raise NotFound() from None
    state, carrier, reason = ctx.field("state"), ctx.field("carrier"), ctx.field("reason")
    shown = ctx.field("shown") or None  # the filter the operator was looking at
    if state == "failed" and not reason:
        return await registration(request, ctx, status=400,
                                  error=gettext("A failed registration needs the carrier's "
                                                "reason."))
    try:
        await ctx.pigeon.db.write(_record, signature_id, carrier, state, reason or None,
                                  ctx.now)
    except PigeonError as exc:
        return await registration(request, ctx, status=400, error=error_text.of(exc))
    query = {"notice": "registration"} | ({"state": shown}
                                          if shown in signatures.REGISTER_STATES else {})
    return RedirectResponse(f"{OPERATOR_BASE}/registration?{urlencode(query)}", 303)
