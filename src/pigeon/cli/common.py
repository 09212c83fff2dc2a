"""What every command module shares: the option types, and the helpers that open Pigeon, run
a service function, report errors and print results.

Kept light on purpose: ``pigeon --help`` imports this and the command modules, so anything
heavy (the app, the database, the services) is imported inside the command that needs it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pigeon.config import Settings, SettingsError

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AccountOpt = Annotated[int | None, typer.Option("--account",
                                                help="Account id, when a name is ambiguous.")]
AccountArg = Annotated[int, typer.Argument(help="Account id.")]


def load_settings() -> Settings:
    """The settings from the environment; a bad one is printed and exits with status 2."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None


def open_pigeon():
    from pigeon.app import Pigeon

    return Pigeon(load_settings())


def call(work: Callable[[Any], Any]) -> Any:
    """Open Pigeon, run ``work(pigeon)``, close; errors become one line and exit status 1."""
    from pigeon.core.errors import PigeonError
    from pigeon.services import audit

    pigeon = open_pigeon()
    # What the command changes is recorded in the audit trail as this OS user's, from here.
    acting = audit.acting(audit.cli())
    try:
        return work(pigeon)
    except PigeonError as exc:
        # soft_wrap: one line whatever the terminal width (scripts match on it).
        err.print(f"error: {exc.code}: {exc.message}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        audit.done(acting)
        pigeon.close()


def run(fn: Callable[..., Any], *args: Any, write: bool = True) -> Any:
    """Run one service function ``fn(conn, *args)`` against the database."""
    return call(lambda p: (p.db.write_sync if write else p.db.read_sync)(fn, *args))


def emit(data: Any, as_json: bool, columns: list[str] | None = None) -> None:
    """Print ``data`` (a row or a list of rows) as JSON, or as a table of ``columns``."""
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        out.print("(none)")
        return
    columns = columns or list(rows[0].keys())
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    out.print(table)


def plain(value: Any) -> Any:
    """Rows for printing: datetimes as ISO 8601 text, nested values as they are."""
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def utcnow():
    from pigeon import clock

    return clock.utcnow()


def operator_name() -> str:
    """Who decides, as recorded with a review decision or a lifted protection."""
    return "operator:" + (os.environ.get("USER") or os.environ.get("LOGNAME") or "cli")
