"""``pigeon reports``: how a tenant receives delivery reports and replies (HTTP push, its
queue, or not at all), and the reports whose push failed."""

from __future__ import annotations

from typing import Annotated

import typer

from pigeon.cli.common import JsonOpt, call, emit, out, plain, run

reports_app = typer.Typer(help="How tenants receive reports: HTTP push, queue or off.",
                          no_args_is_help=True)


ReportTypeArg = Annotated[str, typer.Argument(
    help="SmsReport, SmsUp, SignSmsReport or TemplateSmsReport")]
ReportTypeOpt = Annotated[str | None, typer.Option("--type", help="Only this report type.")]


@reports_app.command("set")
def reports_set(account_id: int, report_type: ReportTypeArg,
                http: Annotated[str | None, typer.Option(
                    "--http", metavar="URL", help="Push to this http:// or https:// URL.")] = None,
                queue: Annotated[bool, typer.Option(
                    "--queue", help="Keep them in the tenant's queue (MNS-compatible).")] = False,
                off: Annotated[bool, typer.Option("--off", help="Do not deliver them.")] = False,
                as_json: JsonOpt = False) -> None:
    """How a tenant receives one report type: --http URL, --queue or --off."""
    from pigeon.core.errors import PigeonError
    from pigeon.services import reports

    def work(pigeon):
        if (http is not None) + queue + off != 1:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              "Give exactly one of --http URL, --queue or --off.")
        mode = "http" if http is not None else "queue" if queue else "off"
        return pigeon.db.write_sync(reports.set_mode, account_id, report_type, mode, http,
                                    pigeon.now(), pigeon.settings.push_targets)

    emit(plain(call(work)), as_json, ["type", "mode", "url"])


@reports_app.command("show")
def reports_show(account_id: int, as_json: JsonOpt = False) -> None:
    """A tenant's report settings, reports by state and the last push attempts."""
    from pigeon.services import reports

    shown = plain(run(reports.show, account_id, write=False))
    if as_json:
        emit(shown, True)
        return
    out.print(f"[bold]reports of account {account_id}[/bold]")
    for setting in shown["settings"]:  # lines, not a table: a wrapped URL cannot be copied
        where = f" {setting['url']}" if setting["url"] else ""
        out.print(f"  {setting['type']}: {setting['mode']}{where}", markup=False,
                  soft_wrap=True)
    out.print("[bold]reports by state[/bold]")
    emit(shown["counts"], False)
    out.print("[bold]last push attempts[/bold]")
    emit(shown["attempts"], False,
         ["at", "type", "url", "reports", "ok", "status_code", "error", "duration_ms"])


@reports_app.command("failed")
def reports_failed(account_id: int, report_type: ReportTypeOpt = None,
                   limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
                   as_json: JsonOpt = False) -> None:
    """Reports kept after their last push failed, newest first."""
    from pigeon.services import reports

    rows = plain(run(reports.failed, account_id, report_type, limit, write=False))
    emit(rows, as_json, ["report_id", "type", "attempts", "created_at", "last_error"])


@reports_app.command("retry")
def reports_retry(account_id: int, report_type: ReportTypeOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Push failed reports again, with a fresh retry schedule (once the endpoint is fixed)."""
    from pigeon.services import reports

    requeued = call(lambda p: p.db.write_sync(reports.retry_failed, account_id, report_type,
                                              p.now()))
    emit({"account_id": str(account_id), "type": report_type, "requeued": requeued}, as_json)
