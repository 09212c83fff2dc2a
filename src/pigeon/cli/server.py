"""``pigeon serve``, ``worker``, ``migrate`` and ``keygen``: running Pigeon.

Top-level commands: :mod:`pigeon.cli` registers them on the root command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pigeon.cli.common import command_name, load_settings, open_pigeon, out


def serve(host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
          port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
          workers: Annotated[int | None, typer.Option(
              "--workers", min=1, max=256,
              help="API processes sharing the port (default: PIGEON_SERVE_WORKERS, else one "
                   "per CPU core).")] = None) -> None:
    """Run the API (and the background workers unless PIGEON_WORKERS=off)."""
    import sys

    import uvicorn

    from pigeon import logs, serving
    from pigeon.api.operations import start_listener
    from pigeon.app import Pigeon, create_app
    from pigeon.services import accounts

    settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    count = serving.process_count(settings, workers)
    logs.configure(settings)
    serving.quiet_storage_faults()
    pigeon = Pigeon(settings)
    tenants = pigeon.db.read_sync(accounts.list_accounts)
    out.print(f"Pigeon is listening on [bold]http://{host}:{port}[/bold] "
              f"(database: {'SQLite' if pigeon.db.is_sqlite else 'PostgreSQL'}, "
              f"review mode: {settings.review_mode}, "
              f"{count} API process{'es' if count > 1 else ''})")
    out.print(f"Point the Alibaba Cloud SDK at endpoint [bold]{host}:{port}[/bold] with "
              "protocol 'http'.")
    if not tenants:
        command = command_name()
        out.print(f"No tenant yet. Create one and its AccessKey with:\n"
                  f"  {command} account create \"My Company\"\n"
                  f"  {command} accesskey create <AccountId>", markup=False)
    stop_listener = None
    try:
        if count > 1:
            serving.settle_gc()  # the parent: its workers' thread
            serving.serve_many(settings, pigeon, host, port, count,
                               on_ready=lambda: start_listener(pigeon))
        else:
            stop_listener = start_listener(pigeon)
            server = uvicorn.Server(serving.server_config(create_app(pigeon), settings,
                                                          host=host, port=port))
            serving.settle_gc()
            try:
                server.run()
            except KeyboardInterrupt:
                pass
            if not server.started:  # as uvicorn.run: it could not bind, or the app not start
                sys.exit(3)
    finally:
        if stop_listener is not None:
            stop_listener()
        pigeon.close()


def worker() -> None:
    """Run only the background workers, as one more node of the cluster (for deployments with
    PIGEON_WORKERS=off on the API nodes).  SIGTERM or Ctrl-C stops it cleanly: its leases and
    claimed messages go to the other nodes at once."""
    import asyncio
    import signal

    from pigeon import logs, serving, workers
    from pigeon.api.operations import start_listener

    settings = load_settings()
    logs.configure(settings)
    serving.quiet_storage_faults()
    pigeon = open_pigeon()
    stop_listener = start_listener(pigeon)  # PIGEON_METRICS_ADDRESS: this node's /metrics
    serving.settle_gc()

    async def main() -> None:
        pigeon.db.attach()
        task = pigeon.workers_task = asyncio.create_task(workers.run(pigeon))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass
        finally:
            pigeon.db.detach()

    try:
        asyncio.run(main())
    finally:
        if stop_listener is not None:
            stop_listener()
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
