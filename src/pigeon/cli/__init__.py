"""The ``pigeon`` command: serve, and the operator's tools.

Every command that prints data takes ``--json`` (the contract for scripted use).  Errors are
printed in one place, :func:`pigeon.cli.common.call`, as ``error: <Code>: <message>`` with exit
status 1; a bad setting exits with status 2.

One module per area holds its commands and command groups; this module puts them on the root
command, in the order ``pigeon --help`` lists them.  Importing the package costs Typer, Rich
and the settings only: a command imports the app, the database and the services when it runs.
"""

from __future__ import annotations

import sys

import typer

from pigeon.cli.accounts import accesskey_app, account_app, user_app
from pigeon.cli.alerts import alerts_app
from pigeon.cli.audit import audit_app
from pigeon.cli.billing import billing_app
from pigeon.cli.carriers import connector_app, route_app
from pigeon.cli.common import err
from pigeon.cli.compliance import review_app, signature_app
from pigeon.cli.limits import limits_app, testnumber_app, whitelist_app
from pigeon.cli.reports import reports_app
from pigeon.cli.security import security_app
from pigeon.cli.sending import handset_app, send
from pigeon.cli.server import keygen, migrate, serve, worker
from pigeon.config import SettingsError

__all__ = ["app", "main"]

app = typer.Typer(help="Pigeon: a self-hosted SMS platform speaking the Alibaba Cloud SMS API.",
                  no_args_is_help=True, add_completion=False)

for command in (serve, worker, migrate, keygen, send):
    app.command()(command)

for name, group in {"account": account_app, "accesskey": accesskey_app, "review": review_app,
                    "signature": signature_app, "handset": handset_app, "reports": reports_app,
                    "billing": billing_app, "limits": limits_app, "whitelist": whitelist_app,
                    "testnumber": testnumber_app, "user": user_app, "alerts": alerts_app,
                    "security": security_app, "connector": connector_app,
                    "route": route_app, "audit": audit_app}.items():
    app.add_typer(group, name=name)
del command, name, group


def main() -> None:
    try:
        app()
    except SettingsError as exc:  # pragma: no cover - settings are read in load_settings
        err.print(f"error: {exc}")
        sys.exit(2)
