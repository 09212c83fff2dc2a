"""The audit trail in the console: every administrative change on the operator's page
(``/ops/audit``), a tenant's own on theirs (``/console/audit``).

Both read :func:`pigeon.services.audit.entries`, newest first, a page of
:data:`~pigeon.services.audit.PAGE` at a time (``?before=SEQ`` for the next one); the
operator's page filters by account and action, and checks the whole chain on demand
(``?verify=1``: :func:`pigeon.services.audit.verify`, as ``pigeon audit verify``).  A tenant
sees only the entries about its account, whoever made them (an operator's suspension, a
top-up), never another's.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pigeon.console.auth import Context
from pigeon.services import audit


def routes(t, o) -> list[Route]:
    return [o("/audit", ops_audit), t("/audit", tenant_audit)]


def _number(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() else None


def _changes(entry: dict) -> list[tuple[str, object, object]]:
    """What an entry changed, field by field: (name, before, after)."""
    before, after = entry.get("before"), entry.get("after")
    if not isinstance(before, dict):
        before = {}
    if not isinstance(after, dict):
        after = {} if after is None else {"": after}
    names = list(after) + [name for name in before if name not in after]
    return [(name, before.get(name), after.get(name)) for name in names
            if before.get(name) != after.get(name)]


async def ops_audit(request: Request, ctx: Context) -> Response:
    query = request.query_params
    account_id = _number(query.get("account"))
    action = (query.get("action") or "").strip()[:64] or None
    before = _number(query.get("before"))
    entries = await ctx.pigeon.db.read(audit.entries, account_id=account_id, action=action,
                                       before_seq=before, limit=audit.PAGE)
    verdict = await ctx.pigeon.db.read(audit.verify, offload=True) \
        if query.get("verify") else None
    return ctx.render(request, "ops_audit.html", nav="audit", entries=entries,
                      changes=_changes, verdict=verdict, account=account_id or "",
                      action=action or "", more=len(entries) == audit.PAGE)


async def tenant_audit(request: Request, ctx: Context) -> Response:
    before = _number(request.query_params.get("before"))
    entries = [audit.for_tenant(entry) for entry in await ctx.pigeon.db.read(
        audit.entries, account_id=ctx.account_id, before_seq=before, limit=audit.PAGE)]
    return ctx.render(request, "audit.html", nav="audit", entries=entries, changes=_changes,
                      more=len(entries) == audit.PAGE)
