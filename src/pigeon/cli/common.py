"""What every command module shares: the option types, and the helpers that open Pigeon, run
a service function, report errors and print results.

Kept light on purpose: ``pigeon --help`` imports this and the command modules, so anything
heavy (the app, the database, the services) is imported inside the command that needs it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
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


def project_data_dir() -> Path | None:
    """``data/`` beside the source checkout Pigeon runs from (an editable install, as
    ``scripts/serve`` makes one), or None for an installed package."""
    root = Path(__file__).resolve().parents[3]
    return root / "data" if (root / "pyproject.toml").is_file() else None


def data_dir_in_use(cwd: Path, project: Path | None) -> tuple[Path, str]:
    """Where the embedded database is when neither ``PIGEON_DATABASE_URL`` nor
    ``PIGEON_DATA_DIR`` says: ``./data`` if it holds one (``found``), else the checkout's
    ``data/`` (``project``) if it holds one — ``scripts/serve`` runs there — else a new
    ``./data`` (``new``)."""
    here = cwd / "data"
    if (here / "pigeon.db").exists():
        return here, "found"
    if project is not None and (project / "pigeon.db").exists():
        return project, "project"
    return here, "new"


def load_settings() -> Settings:
    """The settings from the environment; a bad one is printed and exits with status 2.

    Without ``PIGEON_DATABASE_URL`` and ``PIGEON_DATA_DIR``, the database is the one the
    server uses (:func:`data_dir_in_use`), from whatever directory the command runs; the
    command says which on standard error unless it is ``./data``'s."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    if os.environ.get("PIGEON_DATABASE_URL") or os.environ.get("PIGEON_DATA_DIR"):
        return settings
    directory, why = data_dir_in_use(Path.cwd(), project_data_dir())
    if why == "project":
        err.print(f"pigeon: using the database in {directory} (where scripts/serve keeps it; "
                  "set PIGEON_DATA_DIR to choose another)", markup=False, soft_wrap=True)
    elif why == "new":
        err.print(f"pigeon: no database found; starting a new one in {directory} (set "
                  "PIGEON_DATA_DIR or PIGEON_DATABASE_URL to use another)", markup=False,
                  soft_wrap=True)
    return dataclasses.replace(settings, data_dir=directory)


def command_name() -> str:
    """How to call this command again from the shell that ran it: ``pigeon`` when that is
    what ``PATH`` finds (an activated venv), else the path it was run by
    (``.venv/bin/pigeon``)."""
    import shutil
    import sys

    ran = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    found = shutil.which("pigeon")
    if ran is None or ran.name != "pigeon" or (found and Path(found).resolve() == ran):
        return "pigeon"
    try:
        return str(ran.relative_to(Path.cwd()))
    except ValueError:
        return str(ran)


def require_shared_key(settings: Settings) -> None:
    """Refuse to encrypt a secret the server may not be able to read: with a shared database
    (``PIGEON_DATABASE_URL``) and no ``PIGEON_SECRET_KEY``, this process would use the key
    file of its own data directory, which the server's processes do not share."""
    if settings.database_url and settings.secret_key is None:
        err.print("error: PIGEON_DATABASE_URL is set but PIGEON_SECRET_KEY is not: the secret "
                  "would be encrypted with this directory's key file, which the server cannot "
                  "read. Set PIGEON_SECRET_KEY to the server's key (pigeon keygen makes one).",
                  markup=False, soft_wrap=True)
        raise typer.Exit(2)


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
