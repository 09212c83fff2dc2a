"""Alerts: contacts and channels, rules, the alert history and protections (tenant and operator).

Tenant pages: **Contacts** (``/console/contacts``) — who is told and how; **Alerts &
protection** (``/console/alerts``) — rules, what fired and who was told, SMS-pumping
protections with their "lift" button.  Operator page: **Platform alerts** (``…/alerts``) —
the platform alerts and the operators' own contacts and channels.  The same services as
``pigeon alerts`` (cli/alerts.py): contacts and channels belong to an *owner*, the session's
tenant or ``None`` for the operators; a tenant's ids never reach another tenant's rows (the
services filter by owner, and a miss is the 404 page).

Channel secrets (a DingTalk robot's signing secret, a webhook's HMAC key) are written once and
never shown again; URLs are shown masked (:func:`pigeon.alerts.channels.masked`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pigeon.alerts import channels as channel_kinds
from pigeon.console import error_text, i18n
from pigeon.console.auth import Context, NotFound
from pigeon.console.i18n import N_, gettext
from pigeon.console.rendering import BASE, OPERATOR_BASE
from pigeon.core import alert_rules
from pigeon.core.errors import PigeonError
from pigeon.services import (
    alert_config,
    alert_conversions,
    alert_evaluation,
    otp_protection,
)

HISTORY = 50

NOTICES = {
    "contact-added": N_("Contact added."), "contact-removed": N_("Contact removed."),
    "channel-added": N_("Channel added. Send it a test to check it works."),
    "channel-removed": N_("Channel removed."),
    "rule-added": N_("Rule added; it is evaluated at the next pass of the alert evaluator."),
    "rule-removed": N_("Rule removed."), "rule-enabled": N_("Alert switched on."),
    "rule-disabled": N_("Alert switched off."),
    "lifted": N_("Protection lifted: OTP messages to it are accepted again."),
    "nothing-lifted": N_("No protection was active."),
}

KIND_NAMES = {
    "balance": N_("Balance below a threshold"), "package": N_("Resource package quota low"),
    "volume": N_("Message volume high"), "spike": N_("Sending frequency spike"),
    "success_rate": N_("Delivery success rate low"),
    "otp_pumping": N_("OTP abuse (SMS pumping)"),
    "test": N_("Test notification"), "connector_down": N_("Connector down"),
    "queue_backlog": N_("Queue backlog"), "report_failures": N_("Report pushes failing"),
}
CHANNEL_NAMES = {"email": N_("Email (SMTP)"), "sms": N_("SMS (through Pigeon)"),
                 "dingtalk": N_("DingTalk robot"), "webhook": N_("Webhook (JSON POST)")}
PROTECTION_NAMES = {"range": N_("OTP to number range %(scope)s blocked"),
                    "country": N_("OTP to country +%(scope)s blocked"),
                    "throttle": N_("OTP throttled to %(per_minute)s a minute")}
PARAM_TEXT = {
    "below": N_("Alert below"), "above": N_("Alert above"), "per": N_("Per"),
    "window": N_("Window"), "baseline": N_("Baseline"), "factor": N_("Factor"),
    "min": N_("At least"), "prefix": N_("Range prefix digits"),
    "range_numbers": N_("Numbers of one range"),
    "country_numbers": N_("Numbers of one country"), "ip_numbers": N_("Numbers of one IP"),
    "unverified_numbers": N_("Unverified numbers"), "unverified_ratio": N_("Unverified share"),
    "follow_up": N_("Follow-up time"), "protect": N_("Protect automatically"),
    "throttle": N_("Throttle to (a minute)"), "protect_for": N_("Protect for"),
}
"""The rule parameters' labels (their names are the CLI's; each has its doc below it)."""
PARAM_DOCS = {
    ("balance", "below"): N_("alert when the balance is below this many CNY"),
    ("package", "below"): N_("alert when the messages left in unexpired packages are below "
                             "this"),
    ("volume", "above"): N_("alert when more messages than this were accepted in the period"),
    ("volume", "per"): N_("hour or day (rolling)"),
    ("spike", "window"): N_("the recent window that is compared"),
    ("spike", "baseline"): N_("the period before it that is the baseline"),
    ("spike", "factor"): N_("how many times the baseline's average window is a spike"),
    ("spike", "min"): N_("fewer messages than this never are one"),
    ("success_rate", "below"): N_("alert below this percentage delivered"),
    ("success_rate", "window"): N_("messages accepted in this window are counted"),
    ("success_rate", "min"): N_("at least this many must have a final status"),
    ("otp_pumping", "window"): N_("OTP sends in this window are looked at"),
    ("otp_pumping", "prefix"): N_("digits of a mainland number range"),
    ("otp_pumping", "range_numbers"): N_("distinct numbers of one range that make a burst"),
    ("otp_pumping", "country_numbers"): N_("distinct numbers of one foreign country that make "
                                           "a burst"),
    ("otp_pumping", "ip_numbers"): N_("distinct numbers one caller IP may reach in the window "
                                      "(off by default)"),
    ("otp_pumping", "unverified_numbers"): N_("numbers that never came back after their OTP "
                                              "(off by default)"),
    ("otp_pumping", "unverified_ratio"): N_("… and at least this share of the window's OTP "
                                            "numbers"),
    ("otp_pumping", "follow_up"): N_("a number with no other message within this after its "
                                     "OTP never came back"),
    ("otp_pumping", "protect"): N_("on: block the range or country, or throttle OTP"),
    ("otp_pumping", "throttle"): N_("OTP messages a minute for the account while throttled"),
    ("otp_pumping", "protect_for"): N_("how long a protection lasts unless lifted earlier "
                                       "(never: until lifted)"),
}
ALERT_TITLES = {title: title for title in (
    N_("Balance low"), N_("Resource package quota low"), N_("Message volume high"),
    N_("Sending frequency spike"), N_("Delivery success rate low"),
    N_("OTP burst to one number range"), N_("OTP burst to one country"),
    N_("OTP fan-out from one caller IP"), N_("OTP numbers that never verify"),
    N_("OTP numbers that never come back"),
    N_("Connector down"), N_("Queue backlog growing"), N_("Report pushes failing"),
    N_("Test notification"))}
"""The evaluator's alert titles (core/alert_rules.py, core/pumping.py), as stored."""
ALERT_TEXTS = {"This is a test of an alert channel: it works.":
               N_("This is a test of an alert channel: it works.")}


def _notice(request: Request) -> str | None:
    key = request.query_params.get("notice", "")
    return gettext(NOTICES[key]) if key in NOTICES else None


def shown_alerts(alerts: list[dict]) -> list[dict]:
    """Alerts with their title in the user's language (the stored text stays as written
    unless it is one the console knows)."""
    return [{**a, "title": gettext(ALERT_TITLES[a["title"]]) if a["title"] in ALERT_TITLES
             else a["title"], "text": gettext(ALERT_TEXTS[a["text"]])
             if a["text"] in ALERT_TEXTS else a["text"]} for a in alerts]


def _path_id(request: Request, name: str = "id") -> int:
    try:
        return int(request.path_params[name])
    except (KeyError, ValueError):
        raise NotFound() from None


def _ids(ctx: Context, name: str) -> list[int]:
    """The integers of a multi-valued form field (checkboxes); others are ignored."""
    if ctx.form is None:
        return []
    return [int(v) for v in ctx.form.getlist(name) if isinstance(v, str) and v.isdigit()]


def protection_text(p: dict) -> str:
    if p["kind"] not in PROTECTION_NAMES:
        return p["kind"]
    return gettext(PROTECTION_NAMES[p["kind"]]) % {"scope": p.get("scope"),
                                                   "per_minute": p.get("per_minute")}


# -- contacts and channels (tenant and operator) ------------------------------------------------

class Owned:
    """The contact and channel handlers for one kind of owner: the session's tenant
    (``operator=False``) or the operators (``account_id`` None)."""

    def __init__(self, *, operator: bool) -> None:
        self.operator = operator

    def owner(self, ctx: Context) -> int | None:
        return None if self.operator else ctx.account_id

    def page(self) -> str:
        return f"{OPERATOR_BASE}/alerts" if self.operator else f"{BASE}/contacts"

    def urls(self) -> dict[str, str]:
        if self.operator:
            return {"contacts": f"{OPERATOR_BASE}/alerts/contacts",
                    "channels": f"{OPERATOR_BASE}/alerts/channels"}
        return {"contacts": f"{BASE}/contacts", "channels": f"{BASE}/contacts/channels"}

    async def show(self, request: Request, ctx: Context, *, error: str | None = None,
                   status: int = 200, values: dict | None = None,
                   notice: str | None = None) -> Response:
        owner = self.owner(ctx)

        def read(conn):
            shown = {"contacts": alert_config.contacts(conn, owner),
                     "channels": alert_config.channels(conn, owner)}
            if self.operator:
                shown["alerts"] = alert_evaluation.platform_alerts(
                    conn, HISTORY, ctx.pigeon.calendar.zone)
            return shown

        shown = await ctx.pigeon.db.read(read)
        if "alerts" in shown:
            shown["alerts"] = shown_alerts(shown["alerts"])
        page = "alerts_platform.html" if self.operator else "contacts.html"
        return ctx.render(request, page, **shown, error=error, status=status,
                          values=values or {}, notice=notice or _notice(request), nav=(
                              "alerts" if self.operator else "contacts"),
                          urls=self.urls(), channel_kinds=i18n.translated(CHANNEL_NAMES),
                          needs={k: m.NEEDS for k, m in channel_kinds.KINDS.items()},
                          smtp_ready=bool(ctx.pigeon.settings.smtp_host))

    async def contact_add(self, request: Request, ctx: Context) -> Response:
        values = {"name": ctx.field("name"), "phone": ctx.field("phone"),
                  "email": ctx.field("email")}
        try:
            await ctx.pigeon.db.write(alert_config.add_contact, self.owner(ctx), values["name"],
                                      values["phone"] or None, values["email"] or None,
                                      ctx.now)
        except PigeonError as exc:
            return await self.show(request, ctx, error=error_text.of(exc), status=400,
                                   values={"contact": values})
        return RedirectResponse(f"{self.page()}?notice=contact-added", 303)

    async def contact_remove(self, request: Request, ctx: Context) -> Response:
        contact_id = _path_id(request)
        contacts = await ctx.pigeon.db.read(alert_config.contacts, self.owner(ctx))
        if contact_id not in {c["id"] for c in contacts}:
            raise NotFound()
        try:
            await ctx.pigeon.db.write(alert_config.remove_contact, self.owner(ctx), contact_id)
        except PigeonError as exc:  # still named by a channel
            return await self.show(request, ctx, error=error_text.of(exc), status=400)
        return RedirectResponse(f"{self.page()}?notice=contact-removed", 303)

    async def channel_add(self, request: Request, ctx: Context) -> Response:
        kind = ctx.field("kind")
        values = {"kind": kind, "name": ctx.field("name"), "url": ctx.field("url")}
        contact_ids = _ids(ctx, "contacts")
        try:
            if kind not in channel_kinds.KINDS:
                raise error_text.refusal(gettext("Choose how to tell from the list."))
            takes_url = kind in ("dingtalk", "webhook")
            await ctx.pigeon.db.write(
                alert_config.add_channel, ctx.pigeon.box, self.owner(ctx), kind,
                values["name"] or None, ctx.now, url=(values["url"] or None) if takes_url
                else None, secret=(ctx.field("secret") or None) if takes_url else None,
                contact_ids=contact_ids or None)
        except PigeonError as exc:  # the secret is not sent back into the form
            return await self.show(request, ctx, error=error_text.of(exc), status=400,
                                   values={"channel": values})
        return RedirectResponse(f"{self.page()}?notice=channel-added", 303)

    async def _own_channel(self, ctx: Context, channel_id: int) -> None:
        listed = await ctx.pigeon.db.read(alert_config.channels, self.owner(ctx))
        if channel_id not in {c["id"] for c in listed}:
            raise NotFound()

    async def channel_remove(self, request: Request, ctx: Context) -> Response:
        channel_id = _path_id(request)
        await self._own_channel(ctx, channel_id)
        await ctx.pigeon.db.write(alert_config.remove_channel, self.owner(ctx), channel_id)
        return RedirectResponse(f"{self.page()}?notice=channel-removed", 303)

    async def channel_test(self, request: Request, ctx: Context) -> Response:
        """Send a test notification through the channel now and show how it went (the wait
        is bounded by ``PIGEON_ALERT_TIMEOUT``; the page shows that it is sending)."""
        from pigeon.workers.alerts import Evaluator

        channel_id = _path_id(request)
        await self._own_channel(ctx, channel_id)
        owner = self.owner(ctx)
        alert_id = await ctx.pigeon.db.write(alert_evaluation.test_alert, owner, channel_id,
                                             ctx.now)
        evaluator = Evaluator.for_pigeon(ctx.pigeon)
        try:
            await evaluator.notify(ctx.now, alert_id=alert_id)
        finally:
            await evaluator.aclose()
        zone = ctx.pigeon.calendar.zone
        rows = await ctx.pigeon.db.read(
            alert_evaluation.platform_alerts if owner is None else alert_evaluation.list_alerts,
            *([] if owner is None else [owner]), 20, zone)
        told = next((r["notifications"][0] for r in rows
                     if r["id"] == alert_id and r["notifications"]), None)
        if told is None or told["state"] != "sent":
            why = (told or {}).get("last_error") or gettext("not sent yet")
            return await self.show(request, ctx, status=400, error=gettext(
                "The test through channel %(id)s did not get through: %(why)s")
                % {"id": channel_id, "why": why})
        return await self.show(request, ctx, notice=gettext(
            "The test through channel %(id)s was sent to %(target)s.")
            % {"id": channel_id, "target": told["target"]})


# -- rules, history, protections (tenant) -------------------------------------------------------

def _param_forms() -> list[dict]:
    """Every rule kind with its parameters, as the add-rule form shows them."""
    kinds = []
    for kind in alert_rules.KINDS:
        params = []
        for p in alert_rules.PARAMS[kind]:
            required = p.default is alert_rules.REQUIRED
            params.append({"name": p.name, "label": gettext(PARAM_TEXT.get(p.name, p.name)),
                           "doc": gettext(PARAM_DOCS[kind, p.name])
                           if (kind, p.name) in PARAM_DOCS else p.doc,
                           "required": required,
                           "default": "" if required else p.show(p.default)})
        kinds.append({"kind": kind, "title": gettext(KIND_NAMES[kind]), "params": params})
    return kinds


async def alerts_page(request: Request, ctx: Context, *, error: str | None = None,
                      status: int = 200, values: dict | None = None) -> Response:
    account_id, zone = ctx.account_id, ctx.pigeon.calendar.zone

    def read(conn):
        return {"rules": alert_config.rules(conn, account_id),
                "channels": alert_config.channels(conn, account_id),
                "alerts": alert_evaluation.list_alerts(conn, account_id, HISTORY, zone),
                "protections": otp_protection.listing(conn, account_id, ctx.now,
                                                      include_inactive=True)[:HISTORY],
                "conversions": alert_conversions.reports_conversions(conn, account_id,
                                                                     ctx.now)}

    shown = await ctx.pigeon.db.read(read)
    shown["alerts"] = shown_alerts(shown["alerts"])
    for p in shown["protections"]:
        p["what"] = protection_text(p)
    for rule in shown["rules"]:
        rule["params_shown"] = [(gettext(PARAM_TEXT.get(name, name)), value)
                                for name, value in rule["params"].items()]
    quiet = ctx.pigeon.settings.alert_quiet_period
    return ctx.render(request, "alerts.html", **shown, error=error, status=status,
                      values=values or {}, notice=_notice(request), nav="alerts",
                      kinds=_param_forms(), kind_names=i18n.translated(KIND_NAMES),
                      default_quiet=alert_rules.format_duration(int(quiet.total_seconds())),
                      open_count=sum(1 for a in shown["alerts"] if a["open"]))


async def rule_add(request: Request, ctx: Context) -> Response:
    kind = ctx.field("kind")
    given: dict[str, str] = {}
    if kind in alert_rules.PARAMS:
        for p in alert_rules.PARAMS[kind]:
            value = ctx.field(f"{kind}.{p.name}")
            if value:
                given[p.name] = value
    quiet_text = ctx.field("quiet")
    values = {"kind": kind, "params": given, "quiet": quiet_text}
    try:
        if kind not in alert_rules.KINDS:
            raise error_text.refusal(gettext("Choose what the rule watches."))
        try:
            quiet = timedelta(seconds=alert_rules.parse_duration(quiet_text)) if quiet_text \
                else ctx.pigeon.settings.alert_quiet_period
        except ValueError:
            raise error_text.refusal(gettext("The quiet period is a duration such as 90s, 10m, "
                                             "2h or 1d.")) from None
        await ctx.pigeon.db.write(alert_config.add_rule, ctx.account_id, kind, given, quiet,
                                  _ids(ctx, "channels") or None, ctx.now)
    except PigeonError as exc:
        return await alerts_page(request, ctx, error=error_text.of(exc), status=400,
                                 values=values)
    return RedirectResponse(f"{BASE}/alerts?notice=rule-added", 303)


async def rule_remove(request: Request, ctx: Context) -> Response:
    try:
        await ctx.pigeon.db.write(alert_config.remove_rule, ctx.account_id, _path_id(request))
    except PigeonError:
        raise NotFound() from None
    return RedirectResponse(f"{BASE}/alerts?notice=rule-removed", 303)


async def rule_enabled(request: Request, ctx: Context) -> Response:
    enabled = ctx.field("enabled") == "on"
    try:
        await ctx.pigeon.db.write(alert_config.set_rule_enabled, ctx.account_id,
                                  _path_id(request), enabled)
    except PigeonError:
        raise NotFound() from None
    return RedirectResponse(
        f"{BASE}/alerts?notice={'rule-enabled' if enabled else 'rule-disabled'}", 303)


async def protection_lift(request: Request, ctx: Context) -> Response:
    """Lift one active protection (form field ``protection``: its id) or all (``all``)."""
    which = ctx.field("protection")
    if which != "all" and not which.isdigit():
        raise NotFound()
    try:
        lifted = await ctx.pigeon.db.write(
            otp_protection.lift, ctx.account_id, None if which == "all" else int(which),
            f"console:{ctx.user['email']}", ctx.now)
    except PigeonError:  # not this account's, or no longer active
        raise NotFound() from None
    return RedirectResponse(f"{BASE}/alerts?notice={'lifted' if lifted else 'nothing-lifted'}",
                            303)


def routes(t: Callable, o: Callable) -> list[Route]:
    """This module's routes, built with ``t`` (tenant pages) and ``o`` (operator pages)."""
    post = ["POST"]
    tenant, operators = Owned(operator=False), Owned(operator=True)
    return [
        t("/contacts", tenant.show),
        t("/contacts/add", tenant.contact_add, post),
        t("/contacts/{id}/remove", tenant.contact_remove, post),
        t("/contacts/channels", tenant.channel_add, post),
        t("/contacts/channels/{id}/remove", tenant.channel_remove, post),
        t("/contacts/channels/{id}/test", tenant.channel_test, post),
        t("/alerts", alerts_page),
        t("/alerts/rules", rule_add, post),
        t("/alerts/rules/{id}/remove", rule_remove, post),
        t("/alerts/rules/{id}/enabled", rule_enabled, post),
        t("/alerts/protections/lift", protection_lift, post),
        o("/alerts", operators.show),
        o("/alerts/contacts/add", operators.contact_add, post),
        o("/alerts/contacts/{id}/remove", operators.contact_remove, post),
        o("/alerts/channels", operators.channel_add, post),
        o("/alerts/channels/{id}/remove", operators.channel_remove, post),
        o("/alerts/channels/{id}/test", operators.channel_test, post),
    ]
