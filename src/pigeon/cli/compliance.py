"""``pigeon review`` and ``signature``: deciding on qualifications, signatures and
templates, and recording the carriers' registration of signatures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pigeon.cli.common import AccountOpt, JsonOpt, call, emit, operator_name, out, run, utcnow

review_app = typer.Typer(help="Review qualifications, signatures, templates and signature "
                         "documents.",
                         no_args_is_help=True)
signature_app = typer.Typer(help="Signatures: carrier registration.", no_args_is_help=True)


# -- review -----------------------------------------------------------------------------------

KindArg = Annotated[str, typer.Argument(
    help="qualification, signature, template, letter, trademark or app_icp")]
NameArg = Annotated[str, typer.Argument(
    help="qualification or document id, SignName or TemplateCode")]


@review_app.command("list")
def review_list(kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
                as_json: JsonOpt = False) -> None:
    """Pending reviews, oldest first."""
    from pigeon.services import review

    emit(run(review.pending_overview, kind, write=False), as_json,
         ["OrderId", "Kind", "Name", "AccountId", "SubmittedAt", "DueAt", "Summary"])


def _decide(kind: str, name: str, approved: bool, reason: str, account: int | None,
            as_json: bool) -> None:
    from pigeon.services import review

    ticket = call(lambda p: p.db.write_sync(
        review.decide_by_name, p.policy, kind, name, approved=approved, reason=reason,
        decided_by=operator_name(), now=p.now(), account_id=account))
    emit({"OrderId": str(ticket["id"]), "Kind": kind, "Name": name,
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

    details = run(review.describe, kind, name, account, write=False)
    if files_to is not None:
        files_to.mkdir(parents=True, exist_ok=True)
        for item in details["files"]:
            data = run(review.file_data, item["id"], write=False)
            path = files_to / f"{kind}-{details['subject']['id']}-{item['id']}.{item['suffix']}"
            path.write_bytes(data)
            item["path"] = str(path)
    if as_json:
        emit(details, True)
        return
    out.print(f"[bold]{kind} {name}[/bold]")
    for key, value in details["subject"].items():
        out.print(f"  {key}: {value}", markup=False)
    out.print("[bold]proof files[/bold]")
    emit(details["files"], False)
    if details.get("missing_files"):
        out.print("[bold red]named but never uploaded[/bold red]")
        emit(details["missing_files"], False)
    out.print("[bold]history[/bold]")
    emit(details["history"], False,
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

    rows = run(signatures.set_registration, account, name, carrier, state, reason, utcnow())
    emit([{"Carrier": r["carrier"], "RegisterStatus": r["status"],
           "ReasonCode": r["reason_code"]} for r in rows], as_json)
