"""``pigeon billing``: balances, resource packages and prices."""

from __future__ import annotations

from typing import Annotated

import typer

from pigeon.cli.common import AccountArg, JsonOpt, call, emit, out

billing_app = typer.Typer(help="Balances, resource packages and prices.", no_args_is_help=True)
package_app = typer.Typer(help="Resource packages (consumed before the balance).",
                          no_args_is_help=True)
price_app = typer.Typer(help="Prices per segment.", no_args_is_help=True)
billing_app.add_typer(package_app, name="package")
billing_app.add_typer(price_app, name="price")


def _cny(text: str) -> int:
    from pigeon.core import pricing
    from pigeon.core.errors import PigeonError

    try:
        return pricing.parse_cny(text)
    except ValueError as exc:
        raise PigeonError("isv.INVALID_PARAMETERS", str(exc)) from None


@billing_app.command("topup")
def billing_topup(account_id: AccountArg,
                  amount: Annotated[str, typer.Argument(help="CNY, e.g. 100 or 12.5.")],
                  note: Annotated[str | None, typer.Option(help="Kept in the ledger.")] = None,
                  as_json: JsonOpt = False) -> None:
    """Add money to an account's balance."""
    from pigeon.services import billing

    emit(call(lambda p: p.db.write_sync(billing.topup, account_id, _cny(amount), p.now(),
                                        note)), as_json)


@package_app.command("add")
def billing_package_add(
        account_id: AccountArg,
        kind: Annotated[str, typer.Option("--type",
                                          help="general, otp, notification or promotional")],
        count: Annotated[int, typer.Option("--count", help="Messages (segments) it holds.")],
        expires: Annotated[str, typer.Option(
            "--expires", help="Last day it may be used, YYYY-MM-DD (platform time).")],
        as_json: JsonOpt = False) -> None:
    """Give an account a resource package."""
    from datetime import date, datetime, time, timedelta

    from pigeon.core.errors import PigeonError
    from pigeon.services import billing

    def work(p):
        try:
            last_day = date.fromisoformat(expires)
        except ValueError:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"--expires must be a date YYYY-MM-DD, got {expires!r}.") from None
        # Usable through that whole day: it expires at the next local midnight.
        expires_at = datetime.combine(last_day + timedelta(days=1), time(0),
                                      tzinfo=p.settings.timezone)
        return p.db.write_sync(billing.add_package, account_id, kind, count, expires_at,
                               p.now())

    emit(call(work), as_json)


@billing_app.command("show")
def billing_show(account_id: AccountArg, as_json: JsonOpt = False) -> None:
    """Balance, packages, prices in force and the latest ledger rows."""
    from pigeon.services import billing

    shown = call(lambda p: p.db.read_sync(billing.overview, account_id, p.now(),
                                          p.settings.timezone))
    if as_json:
        emit(shown, True)
        return
    out.print(f"[bold]{shown['Name']}[/bold] ({shown['AccountId']}, {shown['Status']}): "
              f"balance {shown['balance']} CNY", highlight=False)
    out.print("[bold]packages[/bold]")
    emit(shown["packages"], False, ["id", "type", "remaining", "total", "expires_at", "expired"])
    out.print("[bold]prices per segment (CNY)[/bold]")
    emit(shown["prices"], False, ["type", "price", "source"])
    out.print("[bold]ledger, newest first[/bold]")
    emit(shown["ledger"], False, ["id", "created_at", "kind", "amount", "units", "package_id",
                                  "message_id", "note"])


@price_app.command("set")
def billing_price_set(
        price: Annotated[str, typer.Argument(help="CNY per segment, e.g. 0.045.")],
        kind: Annotated[str, typer.Option(
            "--type", help="otp, notification, promotional or international")],
        account: Annotated[int | None, typer.Option(
            "--account", help="This account's own price; without it, the platform's.")] = None,
        as_json: JsonOpt = False) -> None:
    """Set the price per segment of a template type."""
    from pigeon.core.errors import PigeonError
    from pigeon.services import billing

    def work(p):
        if kind not in billing.TEMPLATE_TYPE_NAMES:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"--type is one of {', '.join(billing.TEMPLATE_TYPE_NAMES)}, "
                              f"got {kind!r}.")
        return p.db.write_sync(billing.set_price, billing.TEMPLATE_TYPE_NAMES[kind], _cny(price),
                               account)

    emit(call(work), as_json)
