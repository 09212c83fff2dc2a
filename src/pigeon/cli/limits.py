"""``pigeon limits``, ``whitelist`` and ``testnumber``: what sending reads about an account
besides its balance: caps, per-number limits and the number lists."""

from __future__ import annotations

from typing import Annotated

import typer

from pigeon.cli.common import AccountArg, JsonOpt, call, emit, out, run

limits_app = typer.Typer(help="Account caps and per-number limits.", no_args_is_help=True)
whitelist_app = typer.Typer(help="Numbers exempt from the per-number limits (at most 300).",
                            no_args_is_help=True)
testnumber_app = typer.Typer(help="Bound test numbers (at most 5).", no_args_is_help=True)


def _limit_option(flag: str, what: str):
    return Annotated[int | None, typer.Option(flag, help=what, show_default=False)]


@limits_app.command("set")
def limits_set(
        account_id: AccountArg,
        day_limit: _limit_option("--day-limit", "Messages per platform day (account cap).") = None,
        month_limit: _limit_option("--month-limit", "Messages per calendar month.") = None,
        otp_per_minute: _limit_option("--otp-per-minute", "OTP per number per minute (≤1).")
        = None,
        otp_per_hour: _limit_option("--otp-per-hour", "OTP per number per hour (≤5).") = None,
        otp_per_day: _limit_option("--otp-per-day", "OTP per number per 24 h (≤10).") = None,
        other_per_day: _limit_option(
            "--other-per-day", "Notification/promotional per number and template per 24 h "
            "(≤50).") = None,
        reset: Annotated[bool, typer.Option(
            "--reset", help="Clear every setting first (back to the platform's).")] = False,
        as_json: JsonOpt = False) -> None:
    """Set an account's caps and lower its per-number limits."""
    from pigeon.services import sending_settings

    values = {"day_limit": day_limit, "month_limit": month_limit,
              "otp_per_minute": otp_per_minute, "otp_per_hour": otp_per_hour,
              "otp_per_day": otp_per_day, "other_per_day": other_per_day}
    shown = call(lambda p: p.db.write_sync(sending_settings.set_limits, account_id,
                                           reset=reset, **values))
    _show_limits(shown, as_json)


@limits_app.command("show")
def limits_show(account_id: AccountArg, as_json: JsonOpt = False) -> None:
    """An account's settings, the limits in force and today's and this month's counts."""
    from pigeon.services import sending_settings

    shown = call(lambda p: p.db.read_sync(sending_settings.overview, account_id, p.now(),
                                          p.settings.timezone))
    _show_limits(shown, as_json)


def _show_limits(shown: dict, as_json: bool) -> None:
    if as_json:
        emit(shown, True)
        return
    from pigeon.services.sending_settings import CAPS, NUMBER_LIMITS

    rows = [{"setting": name, "set": shown[name], "in force": shown[name] or "no cap"}
            for name in CAPS]
    rows += [{"setting": name, "set": shown[name], "in force": shown["in_force"][name]}
             for name in NUMBER_LIMITS]
    emit(rows, False, ["setting", "set", "in force"])
    if "sent_today" in shown:
        out.print(f"sent today: {shown['sent_today']}, this month: {shown['sent_this_month']}")


NumberArg = Annotated[str, typer.Argument(help="Phone number, any form SendSms accepts.")]


def _number_list_commands(group: typer.Typer, list_name: str, title: str) -> None:
    @group.command("add")
    def add(account_id: AccountArg, number: NumberArg, as_json: JsonOpt = False) -> None:
        from pigeon.services import number_lists

        emit(call(lambda p: p.db.write_sync(number_lists.add, account_id, list_name, number,
                                            p.now())), as_json)

    @group.command("remove")
    def remove(account_id: AccountArg, number: NumberArg, as_json: JsonOpt = False) -> None:
        from pigeon.services import number_lists

        emit(run(number_lists.remove, account_id, list_name, number), as_json)

    @group.command("list")
    def list_(account_id: AccountArg, as_json: JsonOpt = False) -> None:
        from pigeon.services import number_lists

        emit(run(number_lists.numbers, account_id, list_name, write=False), as_json,
             ["number", "added_at"])

    add.__doc__ = f"Put a number on the account's {title}."
    remove.__doc__ = f"Take a number off the account's {title}."
    list_.__doc__ = f"The numbers on the account's {title}."


_number_list_commands(whitelist_app, "whitelist", "whitelist")
_number_list_commands(testnumber_app, "test", "list of test numbers")
