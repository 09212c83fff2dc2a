"""``pigeon account``, ``accesskey`` and ``user``: tenants, their AccessKeys and the people
who sign in to the web console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pigeon.cli.common import (
    JsonOpt,
    call,
    emit,
    err,
    plain,
    require_shared_key,
    run,
    utcnow,
)

account_app = typer.Typer(help="Tenants (accounts).", no_args_is_help=True)
accesskey_app = typer.Typer(help="AccessKeys of a tenant.", no_args_is_help=True)
user_app = typer.Typer(help="Who signs in to the web console: tenants' users (/console) and "
                            "operators (/ops).", no_args_is_help=True)


# -- tenants and keys ---------------------------------------------------------------------

@account_app.command("create")
def account_create(name: str, as_json: JsonOpt = False) -> None:
    """Create a tenant, with the recommended alerts switched on (OTP abuse, package quota,
    volume, frequency; told to its contacts); prints its AccountId."""
    from pigeon.services import accounts, alert_config

    def work(pigeon):
        def create(conn):
            now = utcnow()
            account = accounts.create_account(conn, name, now)
            alert_config.add_recommended(conn, int(account["AccountId"]),
                                         pigeon.settings.alert_quiet_period, now)
            return account

        return pigeon.db.write_sync(create)

    emit(call(work), as_json)


@account_app.command("list")
def account_list(as_json: JsonOpt = False) -> None:
    from pigeon.services import accounts

    emit(run(accounts.list_accounts, write=False), as_json)


@account_app.command("suspend")
def account_suspend(account_id: int, as_json: JsonOpt = False) -> None:
    """Suspend a tenant's sending (isv.OUT_OF_SERVICE); its keys still read."""
    from pigeon.services import accounts

    emit(run(accounts.set_account_status, account_id, "suspended"), as_json)


@account_app.command("resume")
def account_resume(account_id: int, as_json: JsonOpt = False) -> None:
    from pigeon.services import accounts

    emit(run(accounts.set_account_status, account_id, "active"), as_json)


@accesskey_app.command("create")
def accesskey_create(account_id: int, as_json: JsonOpt = False) -> None:
    """Create an AccessKey pair.  The secret is shown this once."""
    from pigeon.services import accounts

    def work(pigeon):
        require_shared_key(pigeon.settings)
        return pigeon.db.write_sync(accounts.create_access_key, pigeon.box, account_id,
                                    utcnow())

    key = call(work)
    emit(key, as_json)
    if not as_json:
        err.print("Keep the secret now: it cannot be shown again.")


@accesskey_app.command("list")
def accesskey_list(account_id: int, as_json: JsonOpt = False) -> None:
    from pigeon.services import accounts

    emit(run(accounts.list_access_keys, account_id, write=False), as_json)


@accesskey_app.command("disable")
def accesskey_disable(key_id: str, as_json: JsonOpt = False) -> None:
    from pigeon.services import accounts

    emit(run(accounts.set_access_key_status, key_id, "disabled"), as_json)


@accesskey_app.command("enable")
def accesskey_enable(key_id: str, as_json: JsonOpt = False) -> None:
    from pigeon.services import accounts

    emit(run(accounts.set_access_key_status, key_id, "enabled"), as_json)


# -- console users ------------------------------------------------------------------------------


def _new_password(password: str | None, from_stdin: bool) -> str:
    if password is not None:
        return password
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@user_app.command("create")
def user_create(
        email: Annotated[str, typer.Argument(help="The address the user signs in with.")],
        account: Annotated[int | None, typer.Option(
            "--account", help="The tenant's AccountId: a user of that account only.")] = None,
        operator: Annotated[bool, typer.Option(
            "--operator", help="An operator: the operator console (/ops), every tenant.")]
        = False,
        password: Annotated[str | None, typer.Option(
            "--password", help="The password (at least 10 characters).  Other local users "
                               "can see a command line: prefer --password-stdin in scripts.")]
        = None,
        password_stdin: Annotated[bool, typer.Option(
            "--password-stdin", help="Read the password from standard input (one line).")]
        = False,
        as_json: JsonOpt = False) -> None:
    """A console user: of a tenant (--account ID) or an operator (--operator).  Without
    --password or --password-stdin, asks for the password twice."""
    from pigeon.core.errors import PigeonError
    from pigeon.services import console_users

    def work(pigeon):
        if (account is None) == (not operator):
            raise PigeonError("isv.INVALID_PARAMETERS",
                              "Give either --account ACCOUNT_ID (a tenant's user) or "
                              "--operator.")
        if password is not None and password_stdin:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              "Give either --password or --password-stdin, not both.")
        password_hash = console_users.hash_password(_new_password(password, password_stdin))
        return pigeon.db.write_sync(console_users.create_user, account, email, password_hash,
                                    pigeon.now())

    emit(call(work), as_json)


@user_app.command("list")
def user_list(account: Annotated[int | None, typer.Option(
        "--account", help="Only this account's users.")] = None,
              as_json: JsonOpt = False) -> None:
    """Console users (operators too when no account is given); never their passwords."""
    from pigeon.services import console_users

    rows = plain(run(console_users.list_users, account, write=False))
    emit(rows, as_json, ["id", "email", "account_id", "operator", "created_at"])
