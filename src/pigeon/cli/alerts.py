"""``pigeon alerts``: contacts, channels, rules, protections and the alerts themselves.

OWNER arguments take a tenant's account id, or ``platform`` for the operators' contacts and
channels (they receive platform alerts).
"""

from __future__ import annotations

from typing import Annotated

import typer

from pigeon.cli.common import (
    AccountArg,
    JsonOpt,
    call,
    emit,
    err,
    operator_name,
    require_shared_key,
    run,
)

alerts_app = typer.Typer(help="Alerts: contacts, channels, rules, SMS-pumping protection.",
                         no_args_is_help=True)
contacts_app = typer.Typer(help="Who is told (per tenant, or `platform`).",
                           no_args_is_help=True)
channels_app = typer.Typer(help="How they are told: email, sms, dingtalk, webhook.",
                           no_args_is_help=True)
rules_app = typer.Typer(help="A tenant's alert rules.", no_args_is_help=True)
protection_app = typer.Typer(help="SMS-pumping protections switched on by alerts.",
                             no_args_is_help=True)
alerts_app.add_typer(contacts_app, name="contacts")
alerts_app.add_typer(channels_app, name="channels")
alerts_app.add_typer(rules_app, name="rules")
alerts_app.add_typer(protection_app, name="protection")

OwnerArg = Annotated[str, typer.Argument(
    metavar="OWNER", help="Account id, or `platform` for the operators'.")]
LimitOpt = Annotated[int, typer.Option(help="At most this many, newest first.")]


def _owner(text: str) -> int | None:
    from pigeon.core.errors import PigeonError

    if text.strip().lower() == "platform":
        return None
    if not text.strip().isdigit():
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"OWNER is an account id or `platform`, got {text!r}.")
    return int(text)


def _run_async(make):
    """``asyncio.run(make())`` in a thread of its own: the command may be invoked from code
    that already runs an event loop in this thread (a test, a notebook)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _print_alerts(rows: list[dict], as_json: bool) -> None:
    if as_json:
        emit(rows, True)
        return
    shown = [{**r, "state": "open" if r["open"] else "resolved",
              "told": "; ".join(("resolved: " if n.get("event") == "resolved" else "")
                                + f"{n['channel']} {n['target'] or ''} {n['state']}"
                                + (f" ({n['last_error']})" if n["last_error"] else "")
                                for n in r["notifications"]) or "nobody"} for r in rows]
    emit(shown, False, ["id", "fired_at", "kind", "subject", "title", "state",
                        "protection_id", "told"])


@alerts_app.command("list")
def alerts_list(account_id: AccountArg, limit: LimitOpt = 50, as_json: JsonOpt = False) -> None:
    """A tenant's alerts: what fired, the figures, who was told and whether it worked."""
    from pigeon.services import alert_evaluation

    rows = call(lambda p: p.db.read_sync(alert_evaluation.list_alerts, account_id, limit,
                                         p.settings.timezone))
    _print_alerts(rows, as_json)


@alerts_app.command("platform")
def alerts_platform(limit: LimitOpt = 50, as_json: JsonOpt = False) -> None:
    """Platform alerts for operators: connector down, queue backlog, report pushes failing."""
    from pigeon.services import alert_evaluation

    rows = call(lambda p: p.db.read_sync(alert_evaluation.platform_alerts, limit,
                                         p.settings.timezone))
    _print_alerts(rows, as_json)


@alerts_app.command("evaluate")
def alerts_evaluate(as_json: JsonOpt = False) -> None:
    """Run one evaluation pass now (what the alert worker does every PIGEON_ALERT_INTERVAL)
    and send the notifications that are due."""
    from pigeon.workers.alerts import Evaluator

    def work(pigeon):
        async def once():
            evaluator = Evaluator.for_pigeon(pigeon)
            try:
                return await evaluator.run_pass(pigeon.now())
            finally:
                await evaluator.aclose()

        return _run_async(once)

    result = call(work)
    emit({"rules": result.rules, "fired": result.fired, "resolved": result.resolved,
          "protections": result.protections, "sent": result.sent,
          "retrying": result.retrying, "failed": result.failed}, as_json)


# -- contacts -----------------------------------------------------------------------------

@contacts_app.command("add")
def contacts_add(owner: OwnerArg,
                 name: Annotated[str, typer.Argument(help="The contact's name.")],
                 phone: Annotated[str | None, typer.Option(help="Mobile number.")] = None,
                 email: Annotated[str | None, typer.Option(help="Email address.")] = None,
                 as_json: JsonOpt = False) -> None:
    """Add a contact (a phone and/or an email)."""
    from pigeon.services import alert_config

    emit(call(lambda p: p.db.write_sync(alert_config.add_contact, _owner(owner), name, phone,
                                        email, p.now())), as_json)


@contacts_app.command("list")
def contacts_list(owner: OwnerArg, as_json: JsonOpt = False) -> None:
    from pigeon.services import alert_config

    emit(call(lambda p: p.db.read_sync(alert_config.contacts, _owner(owner))), as_json,
         ["id", "name", "phone", "email"])


@contacts_app.command("remove")
def contacts_remove(owner: OwnerArg, contact_id: int, as_json: JsonOpt = False) -> None:
    from pigeon.services import alert_config

    emit(call(lambda p: p.db.write_sync(alert_config.remove_contact, _owner(owner),
                                        contact_id)), as_json)


# -- channels -----------------------------------------------------------------------------

@channels_app.command("add")
def channels_add(
        owner: OwnerArg,
        kind: Annotated[str, typer.Argument(help="email, sms, dingtalk or webhook")],
        url: Annotated[str | None, typer.Option(
            help="dingtalk: the robot's webhook URL; webhook: where to POST.")] = None,
        secret: Annotated[str | None, typer.Option(
            help="dingtalk: the robot's signing secret (SEC…); webhook: an HMAC key.")] = None,
        contact: Annotated[list[int] | None, typer.Option(
            "--contact", help="Contact id (repeatable). email/sms: whom to tell (default: "
                              "every contact); dingtalk: whom to @-mention.")] = None,
        name: Annotated[str | None, typer.Option(help="A name for listings.")] = None,
        as_json: JsonOpt = False) -> None:
    """Add a notification channel."""
    from pigeon.services import alert_config

    def work(p):
        if secret:
            require_shared_key(p.settings)
        return p.db.write_sync(alert_config.add_channel, p.box, _owner(owner), kind, name,
                               p.now(), url=url, secret=secret, contact_ids=contact)

    emit(call(work), as_json)


@channels_app.command("list")
def channels_list(owner: OwnerArg, as_json: JsonOpt = False) -> None:
    from pigeon.services import alert_config

    emit(call(lambda p: p.db.read_sync(alert_config.channels, _owner(owner))), as_json,
         ["id", "kind", "name", "target", "signed", "contacts", "enabled"])


@channels_app.command("remove")
def channels_remove(owner: OwnerArg, channel_id: int, as_json: JsonOpt = False) -> None:
    from pigeon.services import alert_config

    emit(call(lambda p: p.db.write_sync(alert_config.remove_channel, _owner(owner),
                                        channel_id)), as_json)


@channels_app.command("test")
def channels_test(owner: OwnerArg, channel_id: int, as_json: JsonOpt = False) -> None:
    """Send a test notification through one channel now and show how it went."""
    from pigeon.services import alert_evaluation
    from pigeon.workers.alerts import Evaluator

    def work(pigeon):
        now = pigeon.now()
        alert_id = pigeon.db.write_sync(alert_evaluation.test_alert, _owner(owner), channel_id,
                                        now)

        async def once():
            evaluator = Evaluator.for_pigeon(pigeon)
            try:
                await evaluator.notify(now)
            finally:
                await evaluator.aclose()

        _run_async(once)
        rows = pigeon.db.read_sync(alert_evaluation.platform_alerts
                                   if _owner(owner) is None else alert_evaluation.list_alerts,
                                   *([] if _owner(owner) is None else [_owner(owner)]), 50,
                                   pigeon.settings.timezone)
        return next(r for r in rows if r["id"] == alert_id)["notifications"][0]

    told = call(work)
    emit(told, as_json, ["channel", "target", "state", "last_error"])
    if told["state"] != "sent":
        raise typer.Exit(1)


# -- rules --------------------------------------------------------------------------------

def _params(pairs: list[str] | None) -> dict[str, str]:
    from pigeon.core.errors import PigeonError

    params: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"--param takes NAME=VALUE, got {pair!r}.")
        params[name.strip()] = value.strip()
    return params


@rules_app.command("add")
def rules_add(
        account_id: AccountArg,
        kind: Annotated[str, typer.Argument(
            help="balance, package, volume, spike, success_rate or otp_pumping")],
        param: Annotated[list[str] | None, typer.Option(
            "--param", help="NAME=VALUE (repeatable); see docs/alerts.md.")] = None,
        quiet: Annotated[str | None, typer.Option(
            help="Quiet period, e.g. 30m (default PIGEON_ALERT_QUIET_PERIOD).")] = None,
        channel: Annotated[list[int] | None, typer.Option(
            "--channel", help="Channel id to tell (repeatable; default: all).")] = None,
        as_json: JsonOpt = False) -> None:
    """Add an alert rule to a tenant."""
    from datetime import timedelta

    from pigeon.core import alert_rules
    from pigeon.core.errors import PigeonError
    from pigeon.services import alert_config

    def work(p):
        period = p.settings.alert_quiet_period
        if quiet is not None:
            try:
                period = timedelta(seconds=0 if quiet.strip() in {"0", "0s", "off"}
                                   else alert_rules.parse_duration(quiet))
            except ValueError as exc:
                raise PigeonError("isv.INVALID_PARAMETERS", f"--quiet: {exc}.") from None
        return p.db.write_sync(alert_config.add_rule, account_id, kind, _params(param), period,
                               channel, p.now())

    emit(call(work), as_json)


@rules_app.command("list")
def rules_list(account_id: AccountArg, as_json: JsonOpt = False) -> None:
    from pigeon.services import alert_config

    rows = run(alert_config.rules, account_id, write=False)
    if as_json:
        emit(rows, True)
        return
    emit([r | {"params": " ".join(f"{k}={v}" for k, v in r["params"].items())} for r in rows],
         False, ["id", "kind", "params", "quiet", "channels", "enabled"])


@rules_app.command("remove")
def rules_remove(account_id: AccountArg, rule_id: int, as_json: JsonOpt = False) -> None:
    from pigeon.services import alert_config

    emit(run(alert_config.remove_rule, account_id, rule_id), as_json)


# -- protections ----------------------------------------------------------------------------

@protection_app.command("list")
def protection_list(account_id: AccountArg,
                    all_: Annotated[bool, typer.Option(
                        "--all", help="Lifted and expired ones too.")] = False,
                    as_json: JsonOpt = False) -> None:
    """A tenant's SMS-pumping protections (active ones unless --all)."""
    from pigeon.services import otp_protection

    emit(call(lambda p: p.db.read_sync(otp_protection.listing, account_id, p.now(),
                                       include_inactive=all_)), as_json,
         ["id", "kind", "scope", "per_minute", "active", "created_at", "expires_at",
          "lifted_at", "alert_id"])


@protection_app.command("lift")
def protection_lift(account_id: AccountArg,
                    protection_id: Annotated[int | None, typer.Argument(
                        help="The protection; omit with --all.")] = None,
                    all_: Annotated[bool, typer.Option(
                        "--all", help="Lift every active protection.")] = False,
                    as_json: JsonOpt = False) -> None:
    """Lift a protection: OTP messages it stopped flow again at once."""
    from pigeon.core.errors import PigeonError
    from pigeon.services import otp_protection

    def work(p):
        if (protection_id is None) == (not all_):
            raise PigeonError("isv.INVALID_PARAMETERS",
                              "Give a PROTECTION_ID or --all (not both).")
        return p.db.write_sync(otp_protection.lift, account_id, protection_id,
                               operator_name(), p.now())

    lifted = call(work)
    emit(lifted, as_json, ["id", "kind", "scope", "per_minute", "lifted_at", "lifted_by"])
    if not as_json and not lifted:
        err.print("nothing was active")
