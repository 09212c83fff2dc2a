"""``pigeon serve``, ``worker``, ``migrate`` and ``keygen``: running Pigeon.

Top-level commands: :mod:`pigeon.cli` registers them on the root command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pigeon.cli.common import load_settings, open_pigeon, out


def serve(host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
          port: Annotated[int | None, typer.Option(help="Listen port.")] = None) -> None:
    """Run the API (and the background workers unless PIGEON_WORKERS=off)."""
    import logging

    import uvicorn

    from pigeon.app import Pigeon, create_app
    from pigeon.services import accounts

    settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    pigeon = Pigeon(settings)
    tenants = pigeon.db.read_sync(accounts.list_accounts)
    out.print(f"Pigeon is listening on [bold]http://{host}:{port}[/bold] "
              f"(database: {'SQLite' if pigeon.db.is_sqlite else 'PostgreSQL'}, "
              f"review mode: {settings.review_mode})")
    out.print(f"Point the Alibaba Cloud SDK at endpoint [bold]{host}:{port}[/bold] with "
              "protocol 'http'.")
    if not tenants:
        out.print("No tenant yet. Create one and its AccessKey with:\n"
                  "  pigeon account create \"My Company\"\n"
                  "  pigeon accesskey create <AccountId>")
    try:
        # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from any local
        # peer as the client; Pigeon reads it itself, from PIGEON_TRUSTED_PROXIES only.
        uvicorn.run(create_app(pigeon), host=host, port=port,
                    log_level=settings.log_level, access_log=False, proxy_headers=False)
    finally:
        pigeon.close()


def worker() -> None:
    """Run only the background workers (for deployments with PIGEON_WORKERS=off on the API)."""
    import asyncio

    from pigeon.workers import all_workers

    pigeon = open_pigeon()

    async def main() -> None:
        await asyncio.gather(*(w(pigeon) for w in all_workers()))

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        pigeon.close()


def migrate() -> None:
    """Apply database migrations (serve does this automatically)."""
    from pigeon.store import migrate as migrations

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.effective_database_url)
    out.print("database is up to date")


def keygen() -> None:
    """Print a new key for PIGEON_SECRET_KEY."""
    from pigeon.store.secrets import generate_key

    print(generate_key())
