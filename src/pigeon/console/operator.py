"""Operator pages: the review queue with the proof files, decisions, and the tenants."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pigeon.console.auth import Context, NotFound
from pigeon.console.rendering import OPERATOR_BASE, SECURITY_HEADERS
from pigeon.core.errors import PigeonError
from pigeon.services import accounts, billing, console_users, review

NOTICES = {"approved": "Approved.", "rejected": "Rejected; the tenant sees the reason."}
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}
DOCUMENT_TYPES = {"pdf": "application/pdf", "doc": "application/msword",
                  "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml."
                          "document"}


async def queue(request: Request, ctx: Context) -> Response:
    pending = await ctx.pigeon.db.read(review.pending_overview, None)
    return ctx.render(request, "operator_queue.html", pending=pending, nav="queue",
                      notice=NOTICES.get(request.query_params.get("notice", "")))


async def review_detail(request: Request, ctx: Context) -> Response:
    kind, name = request.path_params["kind"], request.path_params["name"]
    try:
        account_id = int(request.path_params["account_id"])
        details = await ctx.pigeon.db.read(review.describe, kind, name, account_id)
    except (ValueError, PigeonError):
        raise NotFound() from None
    pending = [t for t in details["history"] if t["status"] == "pending"]
    return ctx.render(request, "operator_review.html", kind=kind, name=name,
                      account_id=account_id, details=details,
                      ticket=pending[-1] if pending else None, images=IMAGE_TYPES,
                      missing_reason=request.query_params.get("error") == "reason", nav="queue")


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
        return ctx.render(request, "error.html", status=400, message=exc.message)
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


async def tenants(request: Request, ctx: Context) -> Response:
    def read(conn):
        listed = accounts.list_accounts(conn)
        for account in listed:
            account_id = int(account["AccountId"])
            account["balance"] = billing.balance(conn, account_id)
            account["users"] = [u["email"] for u in console_users.list_users(conn, account_id)]
        return listed

    return ctx.render(request, "operator_tenants.html", tenants=await ctx.pigeon.db.read(read),
                      nav="tenants")
