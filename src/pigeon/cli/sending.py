"""``pigeon send`` and ``handset``: sending as a tenant, and the carrier simulator's handsets.

``pigeon send`` accepts messages exactly as SendSms does (the same checks, limits and
charges), one per NUMBERS or one per row of a CSV file; it is a top-level command, which
:mod:`pigeon.cli` registers on the root command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pigeon.cli.common import JsonOpt, call, emit, err, out, run

handset_app = typer.Typer(help="The carrier simulator's virtual handsets.", no_args_is_help=True)

SenderOpt = Annotated[int, typer.Option("--account", help="Account id of the sender.")]
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

    answer = call(work)
    emit({"BizId": answer["BizId"], "Numbers": len(numbers)}, as_json)


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

    call(work)
    refused.sort(key=lambda item: item["line"])
    if as_json:
        emit({"accepted": accepted, "refused": refused}, True)
    else:
        out.print(f"accepted {len(accepted)} of {len(rows)} rows, refused {len(refused)}")
        if refused:
            emit(refused, False, ["line", "phone", "Code", "Message"])
    if refused:
        raise typer.Exit(1)


# -- handsets ------------------------------------------------------------------------------

@handset_app.command("unmatched")
def handset_unmatched(limit: Annotated[int, typer.Option()] = 50, as_json: JsonOpt = False) -> None:
    """Replies (MO) whose extension code matched no tenant's signature, newest first."""
    from pigeon.services import delivery

    emit(run(delivery.unmatched_replies, limit, write=False), as_json)


@handset_app.command("inbox")
def handset_inbox(number: str, limit: Annotated[int, typer.Option()] = 20,
                  as_json: JsonOpt = False) -> None:
    """Messages a virtual handset has received, newest first."""
    from pigeon.services import handsets

    rows = run(handsets.inbox, number, limit, write=False)
    emit(rows, as_json)


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

    emit(call(work), as_json)
