"""Tenant pages of template tags and short URLs, on the services the API calls: a template's
tags (TagResources / UntagResources), and Short URLs (AddShortUrl, DeleteShortUrl,
CreateSmartShortUrl's links) with their page views and unique visitors.  The template list's
tag filter is in :mod:`pigeon.console.tenant`."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pigeon.api.uploads import reached_address
from pigeon.console import error_text, tenant
from pigeon.console.auth import Context, NotFound
from pigeon.console.i18n import N_, gettext
from pigeon.console.rendering import BASE
from pigeon.core import short_urls as short_url_rules
from pigeon.core import tags as tag_rules
from pigeon.core.errors import PigeonError
from pigeon.services import short_urls, template_tags, templates

NOTICES = {
    "tagged": N_("Tag saved."),
    "untagged": N_("Tag removed."),
    "short-url": N_("Short URL created."),
    "short-url-deleted": N_("Short URL deleted: its links no longer work."),
}
STATES = {"effective": N_("in force"), "expired": N_("expired")}


def routes(t, o) -> list[Route]:
    post = ["POST"]
    return [
        t("/templates/{code}/tags", tag_template, post),
        t("/templates/{code}/tags/remove", untag_template, post),
        t("/short-urls", short_url_list),
        t("/short-urls", short_url_create, post),
        t("/short-urls/delete", short_url_delete, post),
    ]


# -- a template's tags ----------------------------------------------------------------------------

async def _template_code(ctx: Context, request: Request) -> str:
    try:
        row = await ctx.pigeon.db.read(templates.get, ctx.account_id,
                                       request.path_params["code"])
    except PigeonError:
        raise NotFound() from None
    return row["code"]


def _back_to(code: str, **query) -> RedirectResponse:
    return RedirectResponse(f"{BASE}/templates/{quote(code)}?{urlencode(query)}#tags", 303)


async def tag_template(request: Request, ctx: Context) -> Response:
    code = await _template_code(ctx, request)
    try:
        given = tag_rules.tags([{"Key": ctx.field("key"), "Value": ctx.field("value")}],
                               required=True)
        await ctx.pigeon.db.write(template_tags.tag, ctx.account_id, [code], given, ctx.now)
    except PigeonError as exc:
        return await tenant.template_detail(request, ctx, error=error_text.of(exc), status=400)
    return _back_to(code, notice="tagged")


async def untag_template(request: Request, ctx: Context) -> Response:
    code = await _template_code(ctx, request)
    await ctx.pigeon.db.write(template_tags.untag, ctx.account_id, [code], [ctx.field("key")],
                              False)
    return _back_to(code, notice="untagged")


# -- Short URLs -----------------------------------------------------------------------------------

async def short_url_list(request: Request, ctx: Context, *, error: str | None = None,
                         values: dict | None = None, status: int = 200) -> Response:
    search = request.query_params.get("q", "").strip()

    def read(conn):
        return (short_urls.page(conn, ctx.account_id, short_urls.SHORT, search=search or None),
                short_urls.page(conn, ctx.account_id, short_urls.SMART))

    named, smart = await ctx.pigeon.db.read(read)
    key = request.query_params.get("notice", "")
    return ctx.render(request, "short_urls.html", named=named, smart=smart, now=ctx.now,
                      status_of=short_url_rules.status, values=values or {"days": "30"},
                      max_days=short_url_rules.MAX_DAYS, error=error, status=status,
                      states={k: gettext(v) for k, v in STATES.items()}, search=search,
                      notice=gettext(NOTICES[key]) if key in NOTICES else None,
                      nav="short-urls")


async def short_url_create(request: Request, ctx: Context) -> Response:
    values = {name: ctx.field(name) for name in ("source", "name", "days")}
    base = ctx.pigeon.settings.short_url_base or reached_address(request.headers,
                                                                 ctx.pigeon.settings)
    try:
        await ctx.pigeon.db.write(short_urls.add, ctx.account_id, source_url=values["source"],
                                  name=values["name"], days=values["days"], base=base,
                                  zone=ctx.pigeon.settings.timezone, now=ctx.now)
    except PigeonError as exc:
        return await short_url_list(request, ctx, error=error_text.of(exc), values=values,
                                    status=400)
    return RedirectResponse(f"{BASE}/short-urls?notice=short-url", 303)


async def short_url_delete(request: Request, ctx: Context) -> Response:
    try:
        await ctx.pigeon.db.write(short_urls.remove, ctx.account_id, ctx.field("source"))
    except PigeonError as exc:
        return await short_url_list(request, ctx, error=error_text.of(exc), status=400)
    return RedirectResponse(f"{BASE}/short-urls?notice=short-url-deleted", 303)
