"""Operator pages for the carrier side: connectors with their live state, routing rules, and
the carrier simulator's virtual handsets (an inbox per number, and replies).

The pages call what ``pigeon connector``, ``pigeon route`` and ``pigeon handset`` call.  A
connector or rule changed here reaches every running dispatcher the way the CLI's changes do:
through the database, which each dispatcher reloads every
:data:`pigeon.workers.dispatcher.RELOAD_SECONDS`.  The live columns (bound sessions, window,
last error) come from the state rows the dispatchers write; the page polls a small JSON
endpoint for them, and the handset pages poll for new messages the same way.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import Connection, func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pigeon.console import error_text, i18n, words
from pigeon.console.auth import Context, NotFound
from pigeon.console.i18n import N_, gettext
from pigeon.console.rendering import OPERATOR_BASE
from pigeon.core.errors import PigeonError
from pigeon.core.numbers import parse_number
from pigeon.core.routing import CARRIERS
from pigeon.services import billing, connectors, delivery, handsets, simulator
from pigeon.services import routes as routing
from pigeon.store.tables import handset_messages, mo_messages

NOTICES = {
    "connector-added": N_("Connector added; the dispatcher binds it within a few seconds."),
    "connector-enabled": N_("Connector enabled."),
    "connector-disabled": N_("Connector disabled; its binds close within a few seconds."),
    "connector-removed": N_("Connector removed."),
    "route-added": N_("Route added; it takes effect on every node within a few seconds."),
    "route-removed": N_("Route removed."),
}
REPLY_NOTICES = {
    "matched": N_("Reply sent; the signature's tenant receives it as an SmsUp report."),
    "unmatched": N_("Reply sent, but its extension code matches no signature: it is kept "
                    "under unmatched replies."),
}
STATES = {"up": N_("up"), "down": N_("down"), "not running": N_("not running")}
CARRIER_NAMES = {"mobile": N_("China Mobile"), "unicom": N_("China Unicom"),
                 "telecom": N_("China Telecom"), "broadnet": N_("China Broadnet")}
HANDSET_LIMIT = 200  # numbers listed
CONVERSATION_LIMIT = 100  # messages shown per handset
NO_STORE = {"Cache-Control": "no-store"}


def routes(t, o) -> list[Route]:
    post = ["POST"]
    return [
        o("/connectors", connector_page),
        o("/connectors", connector_add, post),
        o("/connectors/live.json", connector_live),
        o("/connectors/{name}/enabled", connector_enabled, post),
        o("/connectors/{name}/remove", connector_remove, post),
        o("/routes", route_add, post),
        o("/routes/{route_id}/remove", route_remove, post),
        o("/handsets", handset_list),
        o("/handsets/open", handset_open),
        o("/handsets/{number}", handset_page),
        o("/handsets/{number}/messages.json", handset_messages_json),
        o("/handsets/{number}/reply", handset_reply, post),
    ]


def _notice(request: Request) -> str | None:
    key = request.query_params.get("notice", "")
    return gettext(NOTICES[key]) if key in NOTICES else None


def _whole(text: str, what: str, default: int | None = None) -> int | None:
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise error_text.refusal(gettext("%(what)s is a whole number.") % {"what": what}) \
            from None


# -- connectors and routes ---------------------------------------------------------------------

LIVE_FIELDS = ("state", "bound", "throughput", "queue", "outstanding", "last_error", "nodes")


def _carrier_side(conn: Connection, now: datetime) -> dict:
    return {"connectors": connectors.listing(conn, now), "routes": routing.listing(conn)}


async def connector_page(request: Request, ctx: Context, *, error: str | None = None,
                         status: int = 200, values: dict | None = None) -> Response:
    found = await ctx.pigeon.db.read(_carrier_side, ctx.now)
    return ctx.render(request, "ops_connectors.html", status=status, nav="connectors",
                      connectors=found["connectors"], routes=found["routes"],
                      carriers=CARRIERS, template_types=list(billing.TEMPLATE_TYPE_NAMES),
                      carrier_names=i18n.translated(CARRIER_NAMES),
                      type_names=i18n.translated(words.TEMPLATE_TYPE_NAMES),
                      states=i18n.translated(STATES),
                      bind_modes=connectors.BIND_MODES, error=error, values=values or {},
                      notice=_notice(request))


async def connector_live(request: Request, ctx: Context) -> Response:
    """Each connector's live columns, for the page's refresh."""
    listed = await ctx.pigeon.db.read(connectors.listing, ctx.now)
    return JSONResponse({c["name"]: {key: c[key] for key in LIVE_FIELDS} for c in listed},
                        headers=NO_STORE)


async def _carrier_action(request: Request, ctx: Context, work, notice: str) -> Response:
    try:
        await ctx.pigeon.db.write(work)
    except PigeonError as exc:
        # What was typed comes back, the password never.
        values = {key: value for key, value in (ctx.form or {}).items()
                  if key not in ("csrf", "password") and isinstance(value, str)}
        return await connector_page(request, ctx, error=error_text.of(exc), status=400,
                                    values=values)
    return RedirectResponse(f"{OPERATOR_BASE}/connectors?notice={notice}", 303)


async def connector_add(request: Request, ctx: Context) -> Response:
    """An SMPP connector, as ``pigeon connector add`` adds it."""
    field = ctx.field
    password = ctx.form.get("password") if ctx.form is not None else None
    password = password if isinstance(password, str) else ""

    def work(conn):
        tps_text = field("tps")
        try:
            tps = float(tps_text) if tps_text else None
        except ValueError:
            raise error_text.refusal(gettext("The speed is a number of messages per "
                                             "second.")) from None
        if tps is not None and tps == int(tps):
            tps = int(tps)
        return connectors.add(
            conn, ctx.pigeon.box, field("name"), "smpp", ctx.now, host=field("host"),
            port=_whole(field("port"), gettext("The port")), system_id=field("system_id"),
            password=password, system_type=field("system_type"), tps=tps,
            window=_whole(field("window"), gettext("The window"), 10),
            binds=_whole(field("binds"), gettext("Binds"), 1),
            bind_mode=field("bind_mode") or "transceiver")

    return await _carrier_action(request, ctx, work, "connector-added")


async def connector_enabled(request: Request, ctx: Context) -> Response:
    name, enabled = request.path_params["name"], ctx.field("enabled") == "1"
    return await _carrier_action(
        request, ctx, lambda conn: connectors.set_enabled(conn, name, enabled),
        "connector-enabled" if enabled else "connector-disabled")


async def connector_remove(request: Request, ctx: Context) -> Response:
    name = request.path_params["name"]
    return await _carrier_action(request, ctx, lambda conn: connectors.remove(conn, name),
                                 "connector-removed")


async def route_add(request: Request, ctx: Context) -> Response:
    """A routing rule, as ``pigeon route add`` adds it (an empty condition matches all)."""
    field = ctx.field

    def work(conn):
        return routing.add(conn, connector=field("connector"), now=ctx.now,
                           priority=_whole(field("priority"), gettext("The priority")),
                           carrier=field("carrier") or None, country=field("country") or None,
                           template_type=field("template_type") or None,
                           fallback=field("fallback") or None)

    return await _carrier_action(request, ctx, work, "route-added")


async def route_remove(request: Request, ctx: Context) -> Response:
    try:
        route_id = int(request.path_params["route_id"])
    except ValueError:
        raise NotFound() from None
    return await _carrier_action(request, ctx, lambda conn: routing.remove(conn, route_id),
                                 "route-removed")


# -- virtual handsets -----------------------------------------------------------------------------

def _numbers(conn: Connection) -> list[dict]:
    """The numbers whose handsets received something, the most recent first, each with its
    message count and last message."""
    latest = conn.execute(select(handset_messages.c.phone, func.count().label("count"),
                                 func.max(handset_messages.c.id).label("last_id"))
                          .group_by(handset_messages.c.phone)
                          .order_by(func.max(handset_messages.c.id).desc())
                          .limit(HANDSET_LIMIT)).all()
    last = {row.id: row for row in conn.execute(select(handset_messages).where(
        handset_messages.c.id.in_([row.last_id for row in latest])))} if latest else {}
    return [{"phone": row.phone, "count": row.count, "sender": last[row.last_id].sender,
             "text": last[row.last_id].text, "received_at": last[row.last_id].received_at}
            for row in latest]


def _handsets(conn: Connection) -> dict:
    return {"numbers": _numbers(conn), "unmatched": delivery.unmatched_replies(conn, 50)}


async def handset_list(request: Request, ctx: Context, *, error: str | None = None,
                       status: int = 200) -> Response:
    found = await ctx.pigeon.db.read(_handsets)
    return ctx.render(request, "ops_handsets.html", status=status, nav="handsets",
                      numbers=found["numbers"], unmatched=found["unmatched"],
                      access_code=ctx.pigeon.settings.access_code, error=error,
                      limit=HANDSET_LIMIT)


def _phone(text: str) -> str:
    """A handset's address (the number's wire form), or ``isv.MOBILE_NUMBER_ILLEGAL``;
    spaces and dashes, as people write numbers, are left out."""
    return parse_number(re.sub(r"[\s-]", "", text)).wire


async def handset_open(request: Request, ctx: Context) -> Response:
    """The handset of a typed number (any form SendSms accepts)."""
    try:
        phone = _phone(request.query_params.get("number", ""))
    except PigeonError as exc:
        return await handset_list(request, ctx, error=error_text.of(exc), status=400)
    return RedirectResponse(f"{OPERATOR_BASE}/handsets/{quote(phone)}", 303)


def _conversation(conn: Connection, phone: str, access_code: str) -> dict:
    """What ``phone`` received and the replies it sent, oldest first (the newest
    :data:`CONVERSATION_LIMIT`), and the senders it can reply to, most recent first."""
    received = handsets.inbox(conn, phone, CONVERSATION_LIMIT)
    sent = conn.execute(select(mo_messages).where(mo_messages.c.phone == phone)
                        .order_by(mo_messages.c.id.desc()).limit(CONVERSATION_LIMIT)).mappings()
    items = [{"key": f"in-{m['id']}", "direction": "in", "address": m["sender"],
              "text": m["text"], "at": m["received_at"]} for m in received]
    items += [{"key": f"out-{m['id']}", "direction": "out",
               "address": access_code + m["dest_code"], "text": m["content"],
               "at": m["created_at"], "matched": m["account_id"] is not None} for m in sent]
    items.sort(key=lambda item: (item["at"], item["direction"] == "out"))
    senders = list(dict.fromkeys(m["sender"] for m in received))
    return {"items": items[-CONVERSATION_LIMIT:], "senders": senders}


def _number_of(request: Request) -> str:
    try:
        return _phone(request.path_params["number"])
    except PigeonError:
        raise NotFound() from None


async def handset_page(request: Request, ctx: Context, *, error: str | None = None,
                       status: int = 200, values: dict | None = None) -> Response:
    phone = _number_of(request)
    found = await ctx.pigeon.db.read(_conversation, phone, ctx.pigeon.settings.access_code)
    replied = request.query_params.get("replied")
    return ctx.render(request, "ops_handset.html", status=status, nav="handsets", phone=phone,
                      items=found["items"], senders=found["senders"], error=error,
                      values=values or {}, access_code=ctx.pigeon.settings.access_code,
                      notice=gettext(REPLY_NOTICES[replied]) if replied in REPLY_NOTICES
                      else None)


async def handset_messages_json(request: Request, ctx: Context) -> Response:
    """The conversation, for the page's refresh (text only: the page puts it in with
    ``textContent``)."""
    phone = _number_of(request)
    found = await ctx.pigeon.db.read(_conversation, phone, ctx.pigeon.settings.access_code)
    return JSONResponse([{"key": item["key"], "direction": item["direction"],
                          "address": item["address"], "text": item["text"],
                          "at": ctx.pages.local(item["at"])} for item in found["items"]],
                        headers=NO_STORE)


async def handset_reply(request: Request, ctx: Context) -> Response:
    """The handset's user replies (MO), as ``pigeon handset reply`` does."""
    phone = _number_of(request)
    to, text = ctx.field("to"), ctx.field("text")
    settings = ctx.pigeon.settings
    if not to:
        return await handset_page(request, ctx, status=400, values={"text": text},
                                  error=gettext("Choose or type whom the reply goes to."))
    try:
        sent = await ctx.pigeon.db.write(simulator.reply, phone, text,
                                         simulator.dest_code_of(to, settings.access_code),
                                         settings.timezone, ctx.now)
    except PigeonError as exc:
        return await handset_page(request, ctx, status=400, error=error_text.of(exc),
                                  values={"text": text, "to": to})
    outcome = "matched" if sent["Matched"] else "unmatched"
    return RedirectResponse(f"{OPERATOR_BASE}/handsets/{quote(phone)}?replied={outcome}", 303)
