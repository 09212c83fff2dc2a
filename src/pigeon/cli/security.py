"""``pigeon security``: a tenant's IP allow-list for API calls, and its sending caps shown.

The same service as the console's Security page (:mod:`pigeon.services.ip_allow_list`).  The
caps themselves are set with ``pigeon limits set --day-limit/--month-limit``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pigeon.cli.common import AccountArg, JsonOpt, call, emit, out, run

EntryArg = Annotated[str, typer.Argument(
    metavar="CIDR", help="An IPv4/IPv6 address or CIDR range, e.g. 203.0.113.0/24.")]

security_app = typer.Typer(
    help="IP allow-list for API calls (empty: any address) and the sending caps.",
    no_args_is_help=True)


@security_app.command("show")
def security_show(account_id: AccountArg, as_json: JsonOpt = False) -> None:
    """The account's IP allow-list and its daily and monthly caps."""
    from pigeon.services import ip_allow_list, sending_settings

    def read(pigeon):
        def both(conn):
            return (ip_allow_list.entries(conn, account_id),
                    sending_settings.overview(conn, account_id, pigeon.now(),
                                              pigeon.settings.timezone))

        return pigeon.db.read_sync(both)

    allowed, caps = call(read)
    shown = {**allowed, "day_limit": caps["day_limit"], "month_limit": caps["month_limit"],
             "sent_today": caps["sent_today"], "sent_this_month": caps["sent_this_month"]}
    if as_json:
        emit(shown, True)
        return
    if allowed["allow_all"]:
        out.print("IP allow-list: empty — API calls are accepted from any address.")
    else:
        emit(allowed["entries"], False, ["entry", "added_at"])
    out.print(f"daily cap: {shown['day_limit'] or 'none'} (sent today: "
              f"{shown['sent_today']}), monthly cap: {shown['month_limit'] or 'none'} "
              f"(sent this month: {shown['sent_this_month']})")


@security_app.command("allow")
def security_allow(account_id: AccountArg, entry: EntryArg, as_json: JsonOpt = False) -> None:
    """Allow API calls from an address or range (the list is no longer 'any address')."""
    from pigeon.services import ip_allow_list

    emit(call(lambda p: p.db.write_sync(ip_allow_list.allow, account_id, entry,
                                        p.now())), as_json)


@security_app.command("deny")
def security_deny(account_id: AccountArg, entry: EntryArg, as_json: JsonOpt = False) -> None:
    """Take an address or range off the list (an emptied list allows any address)."""
    from pigeon.services import ip_allow_list

    emit(run(ip_allow_list.deny, account_id, entry), as_json)
