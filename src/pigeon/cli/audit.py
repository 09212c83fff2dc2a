"""``pigeon audit``: the audit trail of administrative changes — read it, check its chain."""

from __future__ import annotations

from typing import Annotated

import typer

from pigeon.cli.common import JsonOpt, call, emit, err, out, plain

audit_app = typer.Typer(help="The audit trail: every administrative change, who made it, "
                             "from where, before and after.", no_args_is_help=True)


@audit_app.command("list")
def audit_list(
        account: Annotated[int | None, typer.Option(
            "--account", help="Only the changes concerning this account.")] = None,
        action: Annotated[str | None, typer.Option(
            "--action", help="Only this action (account.suspend), or a family of them "
                             "ending in a dot (account.).")] = None,
        actor: Annotated[str | None, typer.Option(
            "--actor", help="Only the changes of this actor (OS user, email, AccessKeyId, "
                            "worker).")] = None,
        before: Annotated[int | None, typer.Option(
            "--before", help="Entries older than this seq (the next page).")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=10_000,
                                           help="How many entries.")] = 50,
        as_json: JsonOpt = False) -> None:
    """The newest entries first."""
    from pigeon.services import audit

    rows = plain(call(lambda p: p.db.read_sync(
        audit.entries, account_id=account, action=action, actor=actor, before_seq=before,
        limit=limit)))
    if as_json:
        emit(rows, True)
        return
    emit([{**row, "who": f"{row['actor_kind']}:{row['actor']}",
           "change": _change(row)} for row in rows], False,
         ["seq", "at", "who", "source", "account_id", "action", "target", "change"])


def _change(row: dict) -> str:
    before, after = row.get("before"), row.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        changed = {k: (before.get(k), after.get(k)) for k in after if before.get(k) !=
                   after.get(k)}
        return ", ".join(f"{k}: {a!r} → {b!r}" for k, (a, b) in changed.items())[:120]
    shown = after if after is not None else before
    return "" if shown is None else str(shown)[:120]


@audit_app.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Check the hash chain: every entry unchanged, none missing.  Prints the head (the newest
    entry's seq and hash: keep it elsewhere to anchor the chain); exit status 1 where the chain
    breaks, naming the entry."""
    from pigeon.services import audit

    verdict = call(lambda p: p.db.read_sync(audit.verify))
    shown = {"ok": verdict.ok, "checked": verdict.checked, "head_seq": verdict.head_seq,
             "head_hash": verdict.head_hash, "broken_at": verdict.broken_at,
             "problem": verdict.problem}
    if as_json:
        emit(shown, True)
    elif verdict.ok:
        out.print(f"audit trail intact: {verdict.checked} entries checked; head seq "
                  f"{verdict.head_seq}, hash {verdict.head_hash}", soft_wrap=True)
    else:
        err.print(f"audit trail broken at entry {verdict.broken_at}: {verdict.problem} "
                  f"({verdict.checked} entries before it are intact)", markup=False,
                  soft_wrap=True)
    if not verdict.ok:
        raise typer.Exit(1)
