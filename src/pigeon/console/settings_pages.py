"""Tenant settings: Security (daily and monthly caps, IP allow-list) and Sending Frequency.

Both pages edit what the API and the CLI edit, through the same services
(:mod:`pigeon.services.sending_settings`, :mod:`pigeon.services.ip_allow_list`,
:mod:`pigeon.services.number_lists`), so a value set here is the value ``pigeon limits show``
and the sending path see.  An emptied number field means "back to the default" (no cap, or
the platform's per-number limit).  The console itself is never subject to the IP allow-list:
a tenant cannot lock itself out of the page that edits it.
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pigeon.console import error_text, i18n
from pigeon.console.auth import Context
from pigeon.console.i18n import N_, gettext
from pigeon.console.rendering import BASE
from pigeon.core import limits, source_ip
from pigeon.core.errors import PigeonError
from pigeon.services import ip_allow_list, number_lists, sending_settings

NOTICES = {
    "caps": N_("Sending caps saved."),
    "allowed": N_("Added to the IP allow-list."),
    "denied": N_("Removed from the IP allow-list."),
    "limits": N_("Per-number limits saved."),
    "whitelisted": N_("Number added to the whitelist."),
    "unwhitelisted": N_("Number removed from the whitelist."),
}

CAP_TITLES = {"day_limit": N_("Daily cap"), "month_limit": N_("Monthly cap")}
LIMIT_TITLES = {
    "otp_per_minute": (N_("Verification codes per minute"), N_("per number and signature")),
    "otp_per_hour": (N_("Verification codes per hour"), N_("per number and signature")),
    "otp_per_day": (N_("Verification codes per 24 hours"), N_("per number and signature")),
    "other_per_day": (N_("Notifications and promotions per 24 hours"),
                      N_("per number, signature and template")),
}


def _notice(request: Request) -> str | None:
    key = request.query_params.get("notice", "")
    return gettext(NOTICES[key]) if key in NOTICES else None


def _whole(ctx: Context, name: str, title: str) -> int | None:
    """A form field as a whole number; blank → ``None`` (the default)."""
    text = ctx.field(name)
    if not text:
        return None
    if not text.isascii() or not text.isdigit():
        raise error_text.refusal(gettext("%(field)s must be a whole number (or empty for the "
                                         "default).") % {"field": gettext(title)})
    return int(text)


# -- Security ---------------------------------------------------------------------------------

async def security(request: Request, ctx: Context, *, error: str | None = None,
                   status: int = 200, values: dict | None = None) -> Response:
    zone = ctx.pigeon.calendar.zone

    def read(conn):
        return (sending_settings.overview(conn, ctx.account_id, ctx.now, zone),
                ip_allow_list.entries(conn, ctx.account_id))

    from pigeon.app import KEY_CACHE_SECONDS  # here: pigeon.app imports the console

    shown, allowed = await ctx.pigeon.db.read(read)
    # Where this browser calls from, as the API would see it: a hint for the first entry.
    here = source_ip.client_address(request.client.host if request.client else None,
                                    request.headers.get("x-forwarded-for"),
                                    ctx.pigeon.settings.trusted_proxies)
    return ctx.render(request, "security.html", shown=shown, allowed=allowed,
                      values=values or {}, caps=i18n.translated(CAP_TITLES), here=here,
                      cache_seconds=f"{KEY_CACHE_SECONDS:g}", error=error, status=status,
                      notice=_notice(request), nav="security")


async def security_caps(request: Request, ctx: Context) -> Response:
    values = {name: ctx.field(name) for name in CAP_TITLES}
    try:
        caps = {name: _whole(ctx, name, title) for name, title in CAP_TITLES.items()}
        await ctx.pigeon.db.write(sending_settings.put, ctx.account_id, **caps)
    except PigeonError as exc:
        return await security(request, ctx, error=error_text.of(exc), status=400, values=values)
    return RedirectResponse(f"{BASE}/security?notice=caps", 303)


async def security_allow(request: Request, ctx: Context) -> Response:
    entry = ctx.field("entry")
    try:
        await ctx.pigeon.db.write(ip_allow_list.allow, ctx.account_id, entry, ctx.now)
    except PigeonError as exc:
        return await security(request, ctx, error=error_text.of(exc), status=400,
                              values={"entry": entry})
    return RedirectResponse(f"{BASE}/security?notice=allowed", 303)


async def security_deny(request: Request, ctx: Context) -> Response:
    try:
        await ctx.pigeon.db.write(ip_allow_list.deny, ctx.account_id, ctx.field("entry"))
    except PigeonError as exc:
        return await security(request, ctx, error=error_text.of(exc), status=400)
    return RedirectResponse(f"{BASE}/security?notice=denied", 303)


# -- Sending Frequency ------------------------------------------------------------------------

async def frequency(request: Request, ctx: Context, *, error: str | None = None,
                    status: int = 200, values: dict | None = None) -> Response:
    def read(conn):
        return (sending_settings.settings(conn, ctx.account_id),
                number_lists.numbers(conn, ctx.account_id, number_lists.WHITELIST))

    shown, whitelist = await ctx.pigeon.db.read(read)
    defaults = asdict(limits.PLATFORM_LIMITS)
    rows = [{"name": name, "title": gettext(title), "scope": gettext(scope),
             "default": defaults[name],
             "set": shown[name], "in_force": shown["in_force"][name]}
            for name, (title, scope) in LIMIT_TITLES.items()]
    return ctx.render(request, "frequency.html", rows=rows, whitelist=whitelist,
                      capacity=number_lists.CAPACITY[number_lists.WHITELIST],
                      values=values or {}, error=error, status=status,
                      notice=_notice(request), nav="frequency")


async def frequency_limits(request: Request, ctx: Context) -> Response:
    values = {name: ctx.field(name) for name in LIMIT_TITLES}
    try:
        chosen = {name: _whole(ctx, name, title)
                  for name, (title, _scope) in LIMIT_TITLES.items()}
        await ctx.pigeon.db.write(sending_settings.put, ctx.account_id, **chosen)
    except PigeonError as exc:
        return await frequency(request, ctx, error=error_text.of(exc), status=400, values=values)
    return RedirectResponse(f"{BASE}/frequency?notice=limits", 303)


async def whitelist_add(request: Request, ctx: Context) -> Response:
    number = ctx.field("number")
    try:
        await ctx.pigeon.db.write(number_lists.add, ctx.account_id, number_lists.WHITELIST,
                                  number, ctx.now)
    except PigeonError as exc:
        return await frequency(request, ctx, error=error_text.of(exc), status=400,
                               values={"number": number})
    return RedirectResponse(f"{BASE}/frequency?notice=whitelisted", 303)


async def whitelist_remove(request: Request, ctx: Context) -> Response:
    try:
        await ctx.pigeon.db.write(number_lists.remove, ctx.account_id, number_lists.WHITELIST,
                                  ctx.field("number"))
    except PigeonError as exc:
        return await frequency(request, ctx, error=error_text.of(exc), status=400)
    return RedirectResponse(f"{BASE}/frequency?notice=unwhitelisted", 303)


def routes(t, o) -> list[Route]:
    """This module's routes, built with ``t`` (tenant pages) and ``o`` (operator pages)."""
    post = ["POST"]
    return [
        t("/security", security),
        t("/security/caps", security_caps, post),
        t("/security/allow", security_allow, post),
        t("/security/deny", security_deny, post),
        t("/frequency", frequency),
        t("/frequency/limits", frequency_limits, post),
        t("/frequency/whitelist", whitelist_add, post),
        t("/frequency/whitelist/remove", whitelist_remove, post),
    ]
