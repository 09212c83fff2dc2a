"""The ``pigeon`` command: serve, and the operator's tools.

Every command that prints data takes ``--json`` (the contract for scripted use).  Errors are
printed here, in one place, as ``error: <Code>: <message>`` with exit status 1; a bad setting
exits with status 2.
"""

from __future__ import annotations

if __name__ == "__main__":
    # `python -m pigeon.cli`: run the one real `pigeon.cli` module rather than a second copy
    # of it named __main__, which command groups importing `pigeon.cli` would trip over.
    from pigeon.cli import main

    main()
    raise SystemExit(0)

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pigeon.config import Settings, SettingsError

app = typer.Typer(help="Pigeon: a self-hosted SMS platform speaking the Alibaba Cloud SMS API.",
                  no_args_is_help=True, add_completion=False)
account_app = typer.Typer(help="Tenants (accounts).", no_args_is_help=True)
accesskey_app = typer.Typer(help="AccessKeys of a tenant.", no_args_is_help=True)
review_app = typer.Typer(help="Review qualifications, signatures and templates.",
                         no_args_is_help=True)
signature_app = typer.Typer(help="Signatures: carrier registration.", no_args_is_help=True)
handset_app = typer.Typer(help="The carrier simulator's virtual handsets.", no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(accesskey_app, name="accesskey")
app.add_typer(review_app, name="review")
app.add_typer(signature_app, name="signature")
app.add_typer(handset_app, name="handset")
reports_app = typer.Typer(help="How tenants receive reports: HTTP push, queue or off.",
                          no_args_is_help=True)
app.add_typer(reports_app, name="reports")

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AccountOpt = Annotated[int | None, typer.Option("--account",
                                                help="Account id, when a name is ambiguous.")]


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None


def _open():
    from pigeon.app import Pigeon

    return Pigeon(_settings())


def _call(work: Callable[[Any], Any]) -> Any:
    """Open Pigeon, run ``work(pigeon)``, close; errors become one line and exit status 1."""
    from pigeon.core.errors import PigeonError

    pigeon = _open()
    try:
        return work(pigeon)
    except PigeonError as exc:
        # soft_wrap: one line whatever the terminal width (scripts match on it).
        err.print(f"error: {exc.code}: {exc.message}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        pigeon.close()


def _run(fn: Callable[..., Any], *args: Any, write: bool = True) -> Any:
    """Run one service function ``fn(conn, *args)`` against the database."""
    return _call(lambda p: (p.db.write_sync if write else p.db.read_sync)(fn, *args))


def _emit(data: Any, as_json: bool, columns: list[str] | None = None) -> None:
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


def _now():
    from pigeon import clock

    return clock.utcnow()


# -- serving ---------------------------------------------------------------------------------

@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
          port: Annotated[int | None, typer.Option(help="Listen port.")] = None) -> None:
    """Run the API (and the background workers unless PIGEON_WORKERS=off)."""
    import logging

    import uvicorn

    from pigeon.app import Pigeon, create_app
    from pigeon.services import accounts

    settings = _settings()
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


@app.command()
def worker() -> None:
    """Run only the background workers (for deployments with PIGEON_WORKERS=off on the API)."""
    import asyncio

    from pigeon.workers import all_workers

    pigeon = _open()

    async def main() -> None:
        await asyncio.gather(*(w(pigeon) for w in all_workers()))

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        pigeon.close()


@app.command()
def migrate() -> None:
    """Apply database migrations (serve does this automatically)."""
    from pigeon.store import migrate as migrations

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.effective_database_url)
    out.print("database is up to date")


@app.command()
def keygen() -> None:
    """Print a new key for PIGEON_SECRET_KEY."""
    from pigeon.store.secrets import generate_key

    print(generate_key())


# -- tenants and keys ---------------------------------------------------------------------

@account_app.command("create")
def account_create(name: str, as_json: JsonOpt = False) -> None:
    """Create a tenant; prints its AccountId."""
    from pigeon.services import accounts

    _emit(_run(accounts.create_account, name, _now()), as_json)


@account_app.command("list")
def account_list(as_json: JsonOpt = False) -> None:
    from pigeon.services import accounts

    _emit(_run(accounts.list_accounts, write=False), as_json)


@account_app.command("suspend")
def account_suspend(account_id: int, as_json: JsonOpt = False) -> None:
    """Suspend a tenant's sending (isv.OUT_OF_SERVICE); its keys still read."""
    from pigeon.services import accounts

    _emit(_run(accounts.set_account_status, account_id, "suspended"), as_json)


@account_app.command("resume")
def account_resume(account_id: int, as_json: JsonOpt = False) -> None:
    from pigeon.services import accounts

    _emit(_run(accounts.set_account_status, account_id, "active"), as_json)


@accesskey_app.command("create")
def accesskey_create(account_id: int, as_json: JsonOpt = False) -> None:
    """Create an AccessKey pair.  The secret is shown this once."""
    from pigeon.services import accounts

    key = _call(lambda p: p.db.write_sync(accounts.create_access_key, p.box, account_id,
                                          _now()))
    _emit(key, as_json)
    if not as_json:
        err.print("Keep the secret now: it cannot be shown again.")


@accesskey_app.command("list")
def accesskey_list(account_id: int, as_json: JsonOpt = False) -> None:
    from pigeon.services import accounts

    _emit(_run(accounts.list_access_keys, account_id, write=False), as_json)


@accesskey_app.command("disable")
def accesskey_disable(key_id: str, as_json: JsonOpt = False) -> None:
    from pigeon.services import accounts

    _emit(_run(accounts.set_access_key_status, key_id, "disabled"), as_json)


@accesskey_app.command("enable")
def accesskey_enable(key_id: str, as_json: JsonOpt = False) -> None:
    from pigeon.services import accounts

    _emit(_run(accounts.set_access_key_status, key_id, "enabled"), as_json)


# -- review -----------------------------------------------------------------------------------

KindArg = Annotated[str, typer.Argument(help="qualification, signature or template")]
NameArg = Annotated[str, typer.Argument(
    help="qualification id, SignName or TemplateCode")]


def _operator() -> str:
    return "operator:" + (os.environ.get("USER") or os.environ.get("LOGNAME") or "cli")


@review_app.command("list")
def review_list(kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
                as_json: JsonOpt = False) -> None:
    """Pending reviews, oldest first."""
    from pigeon.services import review

    _emit(_run(review.pending_overview, kind, write=False), as_json,
          ["OrderId", "Kind", "Name", "AccountId", "SubmittedAt", "DueAt", "Summary"])


def _decide(kind: str, name: str, approved: bool, reason: str, account: int | None,
            as_json: bool) -> None:
    from pigeon.services import review

    ticket = _call(lambda p: p.db.write_sync(
        review.decide_by_name, p.policy, kind, name, approved=approved, reason=reason,
        decided_by=_operator(), now=p.now(), account_id=account))
    _emit({"OrderId": str(ticket["id"]), "Kind": kind, "Name": name,
           "Decision": ticket["status"], "DecidedBy": ticket["decided_by"],
           "Reason": ticket["reason"]}, as_json)


@review_app.command("approve")
def review_approve(kind: KindArg, name: NameArg,
                   reason: Annotated[str, typer.Option(help="Note kept with the decision.")] = "",
                   account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    _decide(kind, name, True, reason, account, as_json)


@review_app.command("reject")
def review_reject(kind: KindArg, name: NameArg,
                  reason: Annotated[str, typer.Option(help="Why; the tenant sees it.")],
                  account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    _decide(kind, name, False, reason, account, as_json)


@review_app.command("show")
def review_show(kind: KindArg, name: NameArg, account: AccountOpt = None,
                files_to: Annotated[Path | None, typer.Option(
                    "--files-to", help="Write the proof files into this directory.")] = None,
                as_json: JsonOpt = False) -> None:
    """Everything a reviewer looks at: fields, proof files and past decisions."""
    from pigeon.services import review

    details = _run(review.describe, kind, name, account, write=False)
    if files_to is not None:
        files_to.mkdir(parents=True, exist_ok=True)
        for item in details["files"]:
            data = _run(review.file_data, item["id"], write=False)
            path = files_to / f"{kind}-{details['subject']['id']}-{item['id']}.{item['suffix']}"
            path.write_bytes(data)
            item["path"] = str(path)
    if as_json:
        _emit(details, True)
        return
    out.print(f"[bold]{kind} {name}[/bold]")
    for key, value in details["subject"].items():
        out.print(f"  {key}: {value}", markup=False)
    out.print("[bold]proof files[/bold]")
    _emit(details["files"], False)
    if details.get("missing_files"):
        out.print("[bold red]named but never uploaded[/bold red]")
        _emit(details["missing_files"], False)
    out.print("[bold]history[/bold]")
    _emit(details["history"], False,
          ["id", "status", "submitted_at", "decided_at", "decided_by", "reason"])


# -- carrier registration ---------------------------------------------------------------

@signature_app.command("register")
def signature_register(
        name: Annotated[str, typer.Argument(help="SignName")],
        carrier: Annotated[str, typer.Option(help="mobile, unicom, telecom or all")] = "all",
        state: Annotated[str, typer.Option(
            help="registered, failed, registering, verifying, expired or unregistered")]
        = "registered",
        reason: Annotated[str | None, typer.Option(help="Carrier's reason text.")] = None,
        account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Record a carrier's registration outcome for a signature."""
    from pigeon.services import signatures

    rows = _run(signatures.set_registration, account, name, carrier, state, reason, _now())
    _emit([{"Carrier": r["carrier"], "RegisterStatus": r["status"],
            "ReasonCode": r["reason_code"]} for r in rows], as_json)


# -- handsets ------------------------------------------------------------------------------

@handset_app.command("unmatched")
def handset_unmatched(limit: Annotated[int, typer.Option()] = 50, as_json: JsonOpt = False) -> None:
    """Replies (MO) whose extension code matched no tenant's signature, newest first."""
    from pigeon.services import delivery

    _emit(_run(delivery.unmatched_replies, limit, write=False), as_json)


@handset_app.command("inbox")
def handset_inbox(number: str, limit: Annotated[int, typer.Option()] = 20,
                  as_json: JsonOpt = False) -> None:
    """Messages a virtual handset has received, newest first."""
    from pigeon.services import handsets

    rows = _run(handsets.inbox, number, limit, write=False)
    _emit(rows, as_json)


@handset_app.command("reply")
def handset_reply(
        number: Annotated[str, typer.Argument(help="The handset that replies.")],
        text: Annotated[str, typer.Argument(help="What its user types.")],
        to: Annotated[str, typer.Option(
            "--to", help="The extension code (SmsUp dest_code) replied to; the sender shown in "
                         "the inbox (access code + code) works too.")],
        as_json: JsonOpt = False) -> None:
    """A virtual handset's user replies (MO): queued as an SmsUp for the signature's tenant."""
    from pigeon.services import simulator

    def work(pigeon):
        dest_code = simulator.dest_code_of(to, pigeon.settings.access_code)
        return pigeon.db.write_sync(simulator.reply, number, text, dest_code,
                                    pigeon.settings.timezone, pigeon.now())

    _emit(_call(work), as_json)


# -- reports -----------------------------------------------------------------------------------

ReportTypeArg = Annotated[str, typer.Argument(
    help="SmsReport, SmsUp, SignSmsReport or TemplateSmsReport")]
ReportTypeOpt = Annotated[str | None, typer.Option("--type", help="Only this report type.")]


def _plain(value: Any) -> Any:
    """Rows for printing: datetimes as ISO 8601 text, nested values as they are."""
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


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

    _emit(_plain(_call(work)), as_json, ["type", "mode", "url"])


@reports_app.command("show")
def reports_show(account_id: int, as_json: JsonOpt = False) -> None:
    """A tenant's report settings, reports by state and the last push attempts."""
    from pigeon.services import reports

    shown = _plain(_run(reports.show, account_id, write=False))
    if as_json:
        _emit(shown, True)
        return
    out.print(f"[bold]reports of account {account_id}[/bold]")
    for setting in shown["settings"]:  # lines, not a table: a wrapped URL cannot be copied
        where = f" {setting['url']}" if setting["url"] else ""
        out.print(f"  {setting['type']}: {setting['mode']}{where}", markup=False,
                  soft_wrap=True)
    out.print("[bold]reports by state[/bold]")
    _emit(shown["counts"], False)
    out.print("[bold]last push attempts[/bold]")
    _emit(shown["attempts"], False,
          ["at", "type", "url", "reports", "ok", "status_code", "error", "duration_ms"])


@reports_app.command("failed")
def reports_failed(account_id: int, report_type: ReportTypeOpt = None,
                   limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
                   as_json: JsonOpt = False) -> None:
    """Reports kept after their last push failed, newest first."""
    from pigeon.services import reports

    rows = _plain(_run(reports.failed, account_id, report_type, limit, write=False))
    _emit(rows, as_json, ["report_id", "type", "attempts", "created_at", "last_error"])


@reports_app.command("retry")
def reports_retry(account_id: int, report_type: ReportTypeOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Push failed reports again, with a fresh retry schedule (once the endpoint is fixed)."""
    from pigeon.services import reports

    requeued = _call(lambda p: p.db.write_sync(reports.retry_failed, account_id, report_type,
                                               p.now()))
    _emit({"account_id": str(account_id), "type": report_type, "requeued": requeued}, as_json)


# -- sending, billing, limits and number lists -------------------------------------------------
# Operators' tools around sending: `pigeon send` accepts messages exactly as SendSms does (the
# same checks, limits and charges), the rest manage what sending reads.

billing_app = typer.Typer(help="Balances, resource packages and prices.", no_args_is_help=True)
package_app = typer.Typer(help="Resource packages (consumed before the balance).",
                          no_args_is_help=True)
price_app = typer.Typer(help="Prices per segment.", no_args_is_help=True)
limits_app = typer.Typer(help="Account caps and per-number limits.", no_args_is_help=True)
whitelist_app = typer.Typer(help="Numbers exempt from the per-number limits (at most 300).",
                            no_args_is_help=True)
testnumber_app = typer.Typer(help="Bound test numbers (at most 5).", no_args_is_help=True)
billing_app.add_typer(package_app, name="package")
billing_app.add_typer(price_app, name="price")
app.add_typer(billing_app, name="billing")
app.add_typer(limits_app, name="limits")
app.add_typer(whitelist_app, name="whitelist")
app.add_typer(testnumber_app, name="testnumber")

SenderOpt = Annotated[int, typer.Option("--account", help="Account id of the sender.")]
AccountArg = Annotated[int, typer.Argument(help="Account id.")]
CSV_COLUMNS = ("phone", "sign_name", "template_code", "out_id")
"""The CSV columns `pigeon send --csv` reads itself; every other column is a variable."""
CSV_CHUNK = 256  # rows queued for the writer at once: one group commit, progress in between


def _accept_checked(conn, policy, account_id: int, request, now):
    """``sending.accept`` for an account that must exist (else ``isv.ACCOUNT_NOT_EXISTS``)."""
    from pigeon.services import accounts, sending

    accounts.require_account(conn, account_id)
    return sending.accept(conn, policy, account_id, request, now)


def _out_id(out_id: str | None) -> str | None:
    from pigeon.api.rpc.actions.sending import MAX_OUT_ID
    from pigeon.core.errors import PigeonError

    if out_id is not None and len(out_id) > MAX_OUT_ID:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"OutId must be shorter than {MAX_OUT_ID + 1} characters.")
    return out_id or None


def _template_param(text: str | None) -> dict | None:
    from pigeon.core.errors import PigeonError

    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise PigeonError("isv.INVALID_JSON_PARAM", "--param is not valid JSON.") from None
    if not isinstance(value, dict):
        raise PigeonError("isv.INVALID_JSON_PARAM",
                          '--param must be a JSON object such as {"code":"1234"}.')
    return value


@app.command()
def send(numbers: Annotated[list[str] | None, typer.Argument(
             help="Recipients, in any form SendSms accepts (13800138000, +8613800138000 …).",
             show_default=False)] = None,
         account: SenderOpt = ...,
         sign: Annotated[str | None, typer.Option("--sign", help="SignName.")] = None,
         template: Annotated[str | None, typer.Option("--template",
                                                      help="TemplateCode.")] = None,
         param: Annotated[str | None, typer.Option(
             "--param", help='TemplateParam, a JSON object: {"code":"1234"}.')] = None,
         out_id: Annotated[str | None, typer.Option("--out-id", help="OutId.")] = None,
         csv_file: Annotated[Path | None, typer.Option(
             "--csv", help="Send one message per row of this CSV file (see docs/cli.md).",
             exists=True, dir_okay=False, readable=True)] = None,
         as_json: JsonOpt = False) -> None:
    """Send a message as SendSms does (one BizId for all NUMBERS), or one per CSV row."""
    if csv_file is not None:
        if numbers:
            raise typer.BadParameter("give either NUMBERS or --csv, not both")
        _send_csv(csv_file, account, sign, template, as_json)
        return
    if not numbers:
        raise typer.BadParameter("give the recipients' NUMBERS, or --csv FILE")
    from pigeon.core.errors import PigeonError
    from pigeon.services import sending
    from pigeon.services.sending import Recipient, SendRequest

    def work(p):
        if not sign:
            raise PigeonError.missing("SignName")
        if not template:
            raise PigeonError.missing("TemplateCode")
        if len(numbers) > sending.MAX_SEND_SMS_NUMBERS:
            raise PigeonError("isv.MOBILE_COUNT_OVER_LIMIT",
                              f"{len(numbers)} numbers given; at most "
                              f"{sending.MAX_SEND_SMS_NUMBERS} per message.")
        params = _template_param(param)
        request = SendRequest(template_code=template, out_id=_out_id(out_id), recipients=[
            Recipient(phone=number, sign_name=sign, params=params) for number in numbers])
        return p.db.write_sync(_accept_checked, p.send_policy, account, request, p.now())

    answer = _call(work)
    _emit({"BizId": answer["BizId"], "Numbers": len(numbers)}, as_json)


def _csv_rows(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    """The data rows of a CSV file with their line numbers, and its variable columns."""
    import csv

    from pigeon.core.errors import PigeonError

    try:
        handle = path.open(newline="", encoding="utf-8-sig")  # Excel writes a BOM
        with handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            if "phone" not in header:
                raise PigeonError("isv.INVALID_PARAMETERS",
                                  f"{path} has no 'phone' column; the first line must name the "
                                  "columns, e.g. phone,sign_name,template_code,code")
            reader.fieldnames = header
            rows = [(reader.line_num, row) for row in reader]
    except UnicodeDecodeError:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{path} is not UTF-8 text; save the CSV as UTF-8.") from None
    except csv.Error as exc:
        raise PigeonError("isv.INVALID_PARAMETERS", f"{path} is not a valid CSV file: {exc}") \
            from None
    variables = [name for name in header if name and name not in CSV_COLUMNS]
    return rows, variables


def _csv_request(row: dict, variables: list[str], sign: str | None, template: str | None):
    """The SendRequest of one CSV row; a row's own sign_name/template_code win over the
    options.  Empty cells give no value."""
    from pigeon.core.errors import PigeonError
    from pigeon.services.sending import Recipient, SendRequest

    def cell(name: str) -> str:
        value = row.get(name)
        return value.strip() if isinstance(value, str) else ""

    if None in row:  # csv puts the cells beyond the header under the key None
        raise PigeonError("isv.INVALID_PARAMETERS",
                          "The row has more cells than the header has columns.")
    phone = cell("phone")
    if not phone:
        raise PigeonError.missing("PhoneNumbers")
    sign_name = cell("sign_name") or sign
    template_code = cell("template_code") or template
    if not sign_name:
        raise PigeonError.missing("SignName")
    if not template_code:
        raise PigeonError.missing("TemplateCode")
    params = {name: row[name] for name in variables if row.get(name) not in (None, "")}
    return SendRequest(template_code=template_code, out_id=_out_id(cell("out_id")),
                       recipients=[Recipient(phone=phone, sign_name=sign_name,
                                             params=params or None)])


def _send_csv(path: Path, account: int, sign: str | None, template: str | None,
              as_json: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pigeon.core.errors import PigeonError
    from pigeon.services import accounts

    rows: list[tuple[int, dict]] = []
    accepted: list[dict] = []
    refused: list[dict] = []

    def refuse(line: int, row: dict, error: PigeonError) -> None:
        refused.append({"line": line, "phone": (row.get("phone") or "").strip(),
                        "Code": error.code, "Message": error.message})

    def work(p):
        parsed, variables = _csv_rows(path)
        rows.extend(parsed)
        p.db.read_sync(accounts.require_account, account)
        columns = (TextColumn("sending"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            bar = progress.add_task("sending", total=len(rows))
            for start in range(0, len(rows), CSV_CHUNK):
                queued = []
                for line, row in rows[start:start + CSV_CHUNK]:
                    try:
                        request = _csv_request(row, variables, sign, template)
                    except PigeonError as error:
                        refuse(line, row, error)
                        progress.advance(bar)
                        continue
                    queued.append((line, row, p.db.submit_write(
                        _accept_checked, p.send_policy, account, request, p.now())))
                for line, row, future in queued:
                    try:
                        answer = future.result()
                    except PigeonError as error:
                        refuse(line, row, error)
                    else:
                        accepted.append({"line": line, "phone": row["phone"].strip(),
                                         "BizId": answer["BizId"]})
                    progress.advance(bar)

    _call(work)
    refused.sort(key=lambda item: item["line"])
    if as_json:
        _emit({"accepted": accepted, "refused": refused}, True)
    else:
        out.print(f"accepted {len(accepted)} of {len(rows)} rows, refused {len(refused)}")
        if refused:
            _emit(refused, False, ["line", "phone", "Code", "Message"])
    if refused:
        raise typer.Exit(1)


# -- billing ----------------------------------------------------------------------------------

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

    _emit(_call(lambda p: p.db.write_sync(billing.topup, account_id, _cny(amount), p.now(),
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

    _emit(_call(work), as_json)


@billing_app.command("show")
def billing_show(account_id: AccountArg, as_json: JsonOpt = False) -> None:
    """Balance, packages, prices in force and the latest ledger rows."""
    from pigeon.services import billing

    shown = _call(lambda p: p.db.read_sync(billing.overview, account_id, p.now(),
                                           p.settings.timezone))
    if as_json:
        _emit(shown, True)
        return
    out.print(f"[bold]{shown['Name']}[/bold] ({shown['AccountId']}, {shown['Status']}): "
              f"balance {shown['balance']} CNY", highlight=False)
    out.print("[bold]packages[/bold]")
    _emit(shown["packages"], False, ["id", "type", "remaining", "total", "expires_at", "expired"])
    out.print("[bold]prices per segment (CNY)[/bold]")
    _emit(shown["prices"], False, ["type", "price", "source"])
    out.print("[bold]ledger, newest first[/bold]")
    _emit(shown["ledger"], False, ["id", "created_at", "kind", "amount", "units", "package_id",
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

    _emit(_call(work), as_json)


# -- limits and number lists ---------------------------------------------------------------------

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
    shown = _call(lambda p: p.db.write_sync(sending_settings.set_limits, account_id,
                                            reset=reset, **values))
    _show_limits(shown, as_json)


@limits_app.command("show")
def limits_show(account_id: AccountArg, as_json: JsonOpt = False) -> None:
    """An account's settings, the limits in force and today's and this month's counts."""
    from pigeon.services import sending_settings

    shown = _call(lambda p: p.db.read_sync(sending_settings.overview, account_id, p.now(),
                                           p.settings.timezone))
    _show_limits(shown, as_json)


def _show_limits(shown: dict, as_json: bool) -> None:
    if as_json:
        _emit(shown, True)
        return
    from pigeon.services.sending_settings import CAPS, NUMBER_LIMITS

    rows = [{"setting": name, "set": shown[name], "in force": shown[name] or "no cap"}
            for name in CAPS]
    rows += [{"setting": name, "set": shown[name], "in force": shown["in_force"][name]}
             for name in NUMBER_LIMITS]
    _emit(rows, False, ["setting", "set", "in force"])
    if "sent_today" in shown:
        out.print(f"sent today: {shown['sent_today']}, this month: {shown['sent_this_month']}")


NumberArg = Annotated[str, typer.Argument(help="Phone number, any form SendSms accepts.")]


def _number_list_commands(group: typer.Typer, list_name: str, title: str) -> None:
    @group.command("add")
    def add(account_id: AccountArg, number: NumberArg, as_json: JsonOpt = False) -> None:
        from pigeon.services import number_lists

        _emit(_call(lambda p: p.db.write_sync(number_lists.add, account_id, list_name, number,
                                              p.now())), as_json)

    @group.command("remove")
    def remove(account_id: AccountArg, number: NumberArg, as_json: JsonOpt = False) -> None:
        from pigeon.services import number_lists

        _emit(_run(number_lists.remove, account_id, list_name, number), as_json)

    @group.command("list")
    def list_(account_id: AccountArg, as_json: JsonOpt = False) -> None:
        from pigeon.services import number_lists

        _emit(_run(number_lists.numbers, account_id, list_name, write=False), as_json,
              ["number", "added_at"])

    add.__doc__ = f"Put a number on the account's {title}."
    remove.__doc__ = f"Take a number off the account's {title}."
    list_.__doc__ = f"The numbers on the account's {title}."


_number_list_commands(whitelist_app, "whitelist", "whitelist")
_number_list_commands(testnumber_app, "test", "list of test numbers")


# -- console users ------------------------------------------------------------------------------

user_app = typer.Typer(help="Who signs in to the web console: tenants' users (/console) and "
                            "operators (/ops).", no_args_is_help=True)
app.add_typer(user_app, name="user")


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

    _emit(_call(work), as_json)


@user_app.command("list")
def user_list(account: Annotated[int | None, typer.Option(
        "--account", help="Only this account's users.")] = None,
              as_json: JsonOpt = False) -> None:
    """Console users (operators too when no account is given); never their passwords."""
    from pigeon.services import console_users

    rows = _plain(_run(console_users.list_users, account, write=False))
    _emit(rows, as_json, ["id", "email", "account_id", "operator", "created_at"])


# `pigeon alerts …` lives in its own module (it imports the helpers above).
from pigeon.cli_alerts import alerts_app  # noqa: E402

app.add_typer(alerts_app, name="alerts")

# `pigeon security …` (IP allow-list for API calls) likewise.
from pigeon.cli_security import security_app  # noqa: E402

app.add_typer(security_app, name="security")


# -- carriers: connectors and routes ------------------------------------------------------------

connector_app = typer.Typer(help="Carrier connections (SMSCs over SMPP) and the built-in "
                                 "simulator.", no_args_is_help=True)
route_app = typer.Typer(help="Routing rules: which connector carries which messages.",
                        no_args_is_help=True)
app.add_typer(connector_app, name="connector")
app.add_typer(route_app, name="route")

ConnectorArg = Annotated[str, typer.Argument(help="The connector's name.")]
CONNECTOR_COLUMNS = ["name", "protocol", "address", "settings", "state", "bound", "msg/s",
                     "queue", "last_error"]


@connector_app.command("add")
def connector_add(
        name: ConnectorArg,
        host: Annotated[str, typer.Option("--host", help="The SMSC's host name or address.")],
        port: Annotated[int, typer.Option("--port", help="The SMSC's SMPP port.")],
        system_id: Annotated[str, typer.Option("--system-id", help="The account (system_id).")],
        password: Annotated[str, typer.Option(
            "--password", prompt=True, hide_input=True,
            help="The account's password (asked for when left out); stored encrypted.")],
        protocol: Annotated[str, typer.Option("--protocol", help="smpp")] = "smpp",
        system_type: Annotated[str, typer.Option("--system-type",
                                                 help="system_type, if the SMSC wants one.")]
        = "",
        tps: Annotated[float | None, typer.Option(
            "--tps", help="Most messages (PDUs) per second over all binds; default: no cap.")]
        = None,
        window: Annotated[int, typer.Option(
            "--window", help="Most submit_sm awaiting their answer, per bind.")] = 10,
        binds: Annotated[int, typer.Option("--binds", help="Sessions to keep bound.")] = 1,
        bind_mode: Annotated[str, typer.Option(
            "--bind-mode", help="transceiver, or transmitter+receiver (two sessions a bind).")]
        = "transceiver",
        as_json: JsonOpt = False) -> None:
    """Connect an SMSC; the running dispatcher binds it within a few seconds."""
    from pigeon.services import connectors

    if tps is not None and tps == int(tps):
        tps = int(tps)
    added = _call(lambda p: p.db.write_sync(
        connectors.add, p.box, name, protocol, p.now(), host=host, port=port,
        system_id=system_id, password=password, system_type=system_type, tps=tps,
        window=window, binds=binds, bind_mode=bind_mode))
    _emit(added, as_json)


@connector_app.command("list")
def connector_list(as_json: JsonOpt = False) -> None:
    """Every connector, with its live state when a dispatcher runs it (binds bound, messages
    per second, messages waiting for a window slot)."""
    from pigeon.services import connectors

    rows = _plain(_call(lambda p: p.db.read_sync(connectors.listing, p.now())))
    if as_json:
        _emit(rows, True)
        return
    for row in rows:
        row["msg/s"] = row["throughput"]
        row["settings"] = "" if row["protocol"] != "smpp" else (
            f"{row['binds']} {row['bind_mode']}, window {row['window']}, "
            f"tps {row['tps'] or 'no cap'}")
    _emit(rows, False, CONNECTOR_COLUMNS)


@connector_app.command("remove")
def connector_remove(name: ConnectorArg, as_json: JsonOpt = False) -> None:
    """Delete a connector no route names; the dispatcher unbinds it within a few seconds."""
    from pigeon.services import connectors

    _emit(_run(connectors.remove, name), as_json, ["name", "protocol", "address", "removed"])


@connector_app.command("disable")
def connector_disable(name: ConnectorArg, as_json: JsonOpt = False) -> None:
    """Stop using a connector (its binds close; routes naming it fall back or wait)."""
    from pigeon.services import connectors

    _emit(_run(connectors.set_enabled, name, False), as_json,
          ["name", "protocol", "address", "enabled"])


@connector_app.command("enable")
def connector_enable(name: ConnectorArg, as_json: JsonOpt = False) -> None:
    """Use a disabled connector again."""
    from pigeon.services import connectors

    _emit(_run(connectors.set_enabled, name, True), as_json,
          ["name", "protocol", "address", "enabled"])


ROUTE_COLUMNS = ["id", "priority", "carrier", "country", "template_type", "connector",
                 "fallback"]


@route_app.command("add")
def route_add(
        connector: Annotated[str, typer.Option("--connector", help="The connector to use.")],
        priority: Annotated[int | None, typer.Option(
            "--priority", help="Lower is tried first; default: after every existing rule.")]
        = None,
        carrier: Annotated[str | None, typer.Option(
            "--carrier", help="Only numbers of this mainland carrier: mobile, unicom, telecom "
                              "or broadnet.")] = None,
        country: Annotated[str | None, typer.Option(
            "--country", help="Only numbers of this country calling code (86, 852 …).")] = None,
        template_type: Annotated[str | None, typer.Option(
            "--template-type", help="Only templates of this type: otp, notification, "
                                    "promotional or international.")] = None,
        fallback: Annotated[str | None, typer.Option(
            "--fallback", help="The connector to use while --connector is down.")] = None,
        as_json: JsonOpt = False) -> None:
    """Add a routing rule (it takes effect on every node within a few seconds)."""
    from pigeon.services import routes

    added = _call(lambda p: p.db.write_sync(
        routes.add, connector=connector, now=p.now(), priority=priority, carrier=carrier,
        country=country, template_type=template_type, fallback=fallback))
    _emit(added, as_json, ROUTE_COLUMNS)


@route_app.command("list")
def route_list(as_json: JsonOpt = False) -> None:
    """The rules in the order they are tried (an empty condition matches anything)."""
    from pigeon.services import routes

    _emit(_run(routes.listing, write=False), as_json, ROUTE_COLUMNS)


@route_app.command("remove")
def route_remove(route_id: Annotated[int, typer.Argument(help="The rule's id.")],
                 as_json: JsonOpt = False) -> None:
    """Delete a routing rule."""
    from pigeon.services import routes

    _emit(_run(routes.remove, route_id), as_json, [*ROUTE_COLUMNS, "removed"])


def main() -> None:
    try:
        app()
    except SettingsError as exc:  # pragma: no cover - settings are read in _settings
        err.print(f"error: {exc}")
        sys.exit(2)
