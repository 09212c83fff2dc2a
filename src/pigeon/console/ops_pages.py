"""Operator pages for tenants and money: the tenants with their balance and packages, a
tenant's page (top-up, packages, own prices, suspend and resume, ledger, console users), and
the platform's price list.  They call the services ``pigeon billing`` and ``pigeon account``
call; connectors, routes and handsets are in :mod:`pigeon.console.ops_carriers`.

Money is milli-CNY inside (``core/pricing.py``); amounts typed in yuan ("0.045") are parsed
exactly by :func:`pigeon.core.pricing.parse_cny`, never through a float.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import Connection, func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pigeon.console import error_text, i18n, ops_carriers, words
from pigeon.console.auth import Context, NotFound
from pigeon.console.i18n import N_, gettext
from pigeon.console.rendering import OPERATOR_BASE
from pigeon.core import pricing
from pigeon.core.errors import PigeonError
from pigeon.services import accounts, billing, console_users
from pigeon.store.tables import balances, packages

NOTICES = {
    "topup": N_("Balance topped up."),
    "package": N_("Package added."),
    "suspended": N_("Account suspended: its sending is refused (isv.OUT_OF_SERVICE)."),
    "active": N_("Account resumed."),
    "price": N_("Price saved."),
    "prices": N_("Prices saved; new messages are charged at them."),
}
TYPE_TITLES = words.TEMPLATE_TYPE_NAMES
LEDGER_KINDS = {"topup": N_("top-up"), "charge": N_("charge"), "refund": N_("refund"),
                "package": N_("package"), "adjustment": N_("adjustment")}
PRICE_SOURCES = {"account": N_("this account's own"), "platform": N_("set by an operator"),
                 "default": N_("Pigeon's default")}


def routes(t, o) -> list[Route]:
    """Tenants, billing and prices, and :mod:`ops_carriers`' pages (``o``: operator pages)."""
    post = ["POST"]
    return [
        o("/tenants", tenant_list),
        o("/tenants/{account_id}", tenant_detail),
        o("/tenants/{account_id}/topup", tenant_topup, post),
        o("/tenants/{account_id}/packages", tenant_package, post),
        o("/tenants/{account_id}/status", tenant_status, post),
        o("/tenants/{account_id}/prices", tenant_price, post),
        o("/prices", price_list),
        o("/prices", price_save, post),
        *ops_carriers.routes(t, o),
    ]


def _notice(request: Request) -> str | None:
    key = request.query_params.get("notice", "")
    return gettext(NOTICES[key]) if key in NOTICES else None


def _money_words() -> dict:
    return {"type_titles": i18n.translated(TYPE_TITLES),
            "account_status": i18n.translated(words.ACCOUNT_STATUS),
            "package_kinds": i18n.translated(words.PACKAGE_KINDS),
            "ledger_kinds": i18n.translated(LEDGER_KINDS),
            "price_sources": i18n.translated(PRICE_SOURCES)}


def _account_id(request: Request) -> int:
    try:
        return int(request.path_params["account_id"])
    except ValueError:
        raise NotFound() from None


def _cny(text: str, what: str) -> int:
    try:
        return pricing.parse_cny(text)
    except ValueError:
        raise error_text.refusal(gettext("%(what)s is an amount in CNY such as 100, 12.5 or "
                                         "0.045 (at most three decimals).") % {"what": what}) \
            from None


# -- tenants ------------------------------------------------------------------------------------

def _tenants(conn: Connection, now: datetime) -> list[dict]:
    listed = accounts.list_accounts(conn)
    money = dict(conn.execute(select(balances.c.account_id, balances.c.amount)).all())
    left = dict(conn.execute(select(packages.c.account_id, func.sum(packages.c.remaining))
                             .where(packages.c.expires_at > now)
                             .group_by(packages.c.account_id)).all())
    users: dict[int, list[str]] = {}
    for user in console_users.list_users(conn):
        if user["account_id"] is not None:
            users.setdefault(user["account_id"], []).append(user["email"])
    for account in listed:
        account_id = int(account["AccountId"])
        account["balance"] = money.get(account_id, 0)
        account["package_units"] = int(left.get(account_id) or 0)
        account["users"] = users.get(account_id, [])
    return listed


async def tenant_list(request: Request, ctx: Context) -> Response:
    """Every tenant; ``q`` keeps those whose name, AccountId or a console user's address
    holds it (letter case aside)."""
    listed = await ctx.pigeon.db.read(_tenants, ctx.now)
    search = request.query_params.get("q", "").strip()
    if search:
        wanted = search.lower()
        listed = [t for t in listed if wanted in t["Name"].lower() or wanted in t["AccountId"]
                  or any(wanted in email.lower() for email in t["users"])]
    return ctx.render(request, "operator_tenants.html", tenants=listed, nav="tenants",
                      search=search, **_money_words())


def _tenant(conn: Connection, account_id: int, now: datetime) -> dict:
    try:
        shown = billing.overview(conn, account_id, now)
    except PigeonError:
        raise NotFound() from None
    shown["users"] = console_users.list_users(conn, account_id)
    shown["access_keys"] = accounts.list_access_keys(conn, account_id)
    shown["package_units"] = sum(p["remaining"] for p in shown["packages"] if not p["expired"])
    return shown


async def tenant_detail(request: Request, ctx: Context, *, error: str | None = None,
                        status: int = 200, values: dict | None = None) -> Response:
    account_id = _account_id(request)
    shown = await ctx.pigeon.db.read(_tenant, account_id, ctx.now)
    today = ctx.now.astimezone(ctx.pigeon.settings.timezone).date()
    return ctx.render(request, "ops_tenant.html", status=status, nav="tenants", tenant=shown,
                      account_id=account_id, error=error, notice=_notice(request),
                      values=values or {}, kinds=list(pricing.PACKAGE_KINDS),
                      **_money_words(),
                      default_expiry=(today + timedelta(days=365)).isoformat())


async def _tenant_action(request: Request, ctx: Context, work, notice: str) -> Response:
    """Run ``work(conn)``; back to the tenant's page with ``notice``, or the page with the
    error and what was typed."""
    account_id = _account_id(request)
    try:
        await ctx.pigeon.db.write(work)
    except PigeonError as exc:
        values = {key: value for key, value in (ctx.form or {}).items()
                  if key != "csrf" and isinstance(value, str)}
        return await tenant_detail(request, ctx, error=error_text.of(exc), status=400,
                                   values=values)
    return RedirectResponse(f"{OPERATOR_BASE}/tenants/{account_id}?notice={notice}", 303)


async def tenant_topup(request: Request, ctx: Context) -> Response:
    account_id = _account_id(request)
    amount, note = ctx.field("amount"), ctx.field("note")

    def work(conn):
        milli = _cny(amount, gettext("The top-up"))
        return billing.topup(conn, account_id, milli, ctx.now,
                             note or f"top-up by operator:{ctx.user['email']}")

    return await _tenant_action(request, ctx, work, "topup")


async def tenant_package(request: Request, ctx: Context) -> Response:
    account_id = _account_id(request)
    kind, count, expires = ctx.field("type"), ctx.field("count"), ctx.field("expires")
    zone = ctx.pigeon.settings.timezone

    def work(conn):
        try:
            units = int(count)
        except ValueError:
            raise error_text.refusal(gettext("A package holds a whole number of messages.")) \
                from None
        try:
            last_day = date.fromisoformat(expires)
        except ValueError:
            raise error_text.refusal(gettext("Choose the package's last day.")) from None
        # Usable through that whole day, as `pigeon billing package add --expires` does.
        expires_at = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)
        return billing.add_package(conn, account_id, kind, units, expires_at, ctx.now)

    return await _tenant_action(request, ctx, work, "package")


async def tenant_status(request: Request, ctx: Context) -> Response:
    account_id = _account_id(request)
    status = ctx.field("status")
    if status not in ("active", "suspended"):
        return await tenant_detail(request, ctx, status=400,
                                   error=gettext("The status is active or suspended."))
    return await _tenant_action(
        request, ctx, lambda conn: accounts.set_account_status(conn, account_id, status), status)


async def tenant_price(request: Request, ctx: Context) -> Response:
    """The account's own price for a template type (it overrides the platform's)."""
    account_id = _account_id(request)
    kind, price = ctx.field("type"), ctx.field("price")

    def work(conn):
        if kind not in billing.TEMPLATE_TYPE_NAMES:
            raise error_text.refusal(gettext("Choose a template type from the list."))
        return billing.set_price(conn, billing.TEMPLATE_TYPE_NAMES[kind],
                                 _cny(price, gettext("The price")), account_id)

    return await _tenant_action(request, ctx, work, "price")


# -- prices -------------------------------------------------------------------------------------

async def price_list(request: Request, ctx: Context, *, error: str | None = None,
                     status: int = 200, values: dict | None = None) -> Response:
    listed = await ctx.pigeon.db.read(billing.price_list, None)
    return ctx.render(request, "ops_prices.html", status=status, nav="prices", prices=listed,
                      error=error, values=values or {}, notice=_notice(request),
                      **_money_words())


async def price_save(request: Request, ctx: Context) -> Response:
    """Save every changed platform price, or none when one is not an amount."""
    typed = {kind: ctx.field(f"price_{kind}") for kind in billing.TEMPLATE_TYPE_NAMES}

    def work(conn):
        current = {p["type"]: p for p in billing.price_list(conn, None)}
        wanted = {kind: _cny(text, gettext("The price of %(type)s")
                             % {"type": gettext(TYPE_TITLES[kind])})
                  for kind, text in typed.items() if text}
        for kind, milli in wanted.items():
            if milli != current[kind]["price_milli"]:  # an unchanged default stays one
                billing.set_price(conn, billing.TEMPLATE_TYPE_NAMES[kind], milli)

    try:
        await ctx.pigeon.db.write(work)
    except PigeonError as exc:
        return await price_list(request, ctx, error=error_text.of(exc), status=400,
                                values={f"price_{kind}": text for kind, text in typed.items()})
    return RedirectResponse(f"{OPERATOR_BASE}/prices?notice=prices", 303)
