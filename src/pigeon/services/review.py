"""Review tickets: the one workflow behind qualifications, signatures and templates.

Each submission opens a ticket (its id is the ``OrderId`` / ``WorkOrderId`` the API shows).
A ticket is decided by an operator (``pigeon review approve|reject``) or by the automatic
reviewer, depending on ``PIGEON_REVIEW_MODE``:

- ``manual``: operators only;
- ``rules``: the automatic reviewer applies the content rules of ``core.review_rules`` at once,
  inside the submitting transaction (the embedded default: a developer is never kept waiting);
- ``realistic``: the same rules, applied by the worker once the ticket is due — a delay after
  submission, moved into review hours and past public holidays.

Every decision is recorded on the ticket (who, when, why), applied to its subject by the
subject's own module, and produces a report event (``SignSmsReport`` / ``TemplateSmsReport``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from pigeon.core.errors import PigeonError
from pigeon.core.review_rules import Decision
from pigeon.core.schedule import Calendar
from pigeon.services import audit
from pigeon.store.tables import report_events, reviews

KINDS = ("qualification", "signature", "template", "letter", "trademark", "app_icp")
DOCUMENT_KINDS = ("letter", "trademark", "app_icp")  # services/sign_documents.py
AUTO_REVIEWER = "auto-reviewer"


@dataclass(frozen=True)
class ReviewPolicy:
    mode: str  # manual | rules | realistic
    delay: timedelta
    calendar: Calendar
    registration_delay: timedelta | None  # None: operators complete carrier registration


@dataclass(frozen=True)
class Subject:
    """How the review workflow reaches one kind of subject."""

    # (conn, subject_id) -> the automatic reviewer's decision
    rules: Callable[[Connection, int, datetime, ReviewPolicy], Decision]
    # (conn, subject_id, approved, reason, review_row, now, policy) -> applies the decision
    apply: Callable[..., None]


SUBJECTS: dict[str, Subject] = {}


def register_subject(kind: str, subject: Subject) -> None:
    SUBJECTS[kind] = subject


def _subject(kind: str) -> Subject:
    if kind not in SUBJECTS:
        # The subject modules register themselves on import.
        from pigeon.services import (  # noqa: F401
            qualifications,
            sign_documents,
            signatures,
            templates,
        )
    return SUBJECTS[kind]


def open_ticket(conn: Connection, policy: ReviewPolicy, *, account_id: int, kind: str,
                subject_id: int, now: datetime) -> int:
    """Open a review ticket for a (re)submitted subject; earlier open tickets are withdrawn.

    In ``rules`` mode the ticket is decided before this returns.
    """
    conn.execute(update(reviews)
                 .where(reviews.c.kind == kind, reviews.c.subject_id == subject_id,
                        reviews.c.status == "pending")
                 .values(status="withdrawn", decided_at=now, decided_by="tenant",
                         reason="superseded by a new submission"))
    due_at = None
    if policy.mode == "realistic":
        due_at = policy.calendar.review_due(now, policy.delay)
    elif policy.mode == "rules":
        due_at = now
    ticket = conn.execute(insert(reviews).values(
        account_id=account_id, kind=kind, subject_id=subject_id, status="pending",
        submitted_at=now, due_at=due_at)).inserted_primary_key[0]
    if policy.mode == "rules":
        auto_review(conn, policy, ticket, now)
    return ticket


def withdraw(conn: Connection, *, kind: str, subject_id: int, now: datetime, why: str) -> None:
    conn.execute(update(reviews)
                 .where(reviews.c.kind == kind, reviews.c.subject_id == subject_id,
                        reviews.c.status == "pending")
                 .values(status="withdrawn", decided_at=now, decided_by="tenant", reason=why))


def _ticket(conn: Connection, ticket_id: int) -> dict:
    row = conn.execute(select(reviews).where(reviews.c.id == ticket_id)).mappings().first()
    if row is None:
        raise PigeonError("isv.INVALID_PARAMETERS", f"Review ticket {ticket_id} does not exist.")
    return dict(row)


def decide(conn: Connection, policy: ReviewPolicy, ticket_id: int, *, approved: bool,
           reason: str, decided_by: str, now: datetime) -> dict:
    """Record a decision on a pending ticket and apply it to its subject."""
    ticket = _ticket(conn, ticket_id)
    if ticket["status"] != "pending":
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"Review ticket {ticket_id} is already {ticket['status']}.")
    if not approved and not reason.strip():
        raise PigeonError("isv.INVALID_PARAMETERS", "A rejection needs a reason.")
    status = "approved" if approved else "rejected"
    conn.execute(update(reviews).where(reviews.c.id == ticket_id, reviews.c.status == "pending")
                 .values(status=status, decided_at=now, decided_by=decided_by, reason=reason))
    ticket.update(status=status, decided_at=now, decided_by=decided_by, reason=reason)
    _subject(ticket["kind"]).apply(conn, ticket["subject_id"], approved, reason, ticket, now,
                                   policy)
    audit.record(conn, f"review.{'approve' if approved else 'reject'}",
                 f"{ticket['kind']}:{ticket['subject_id']}", account_id=ticket["account_id"],
                 before={"status": "pending"},
                 after={"status": status, "reason": reason, "decided_by": decided_by,
                        "ticket": ticket_id}, now=now,
                 actor=audit.system("reviewer") if decided_by == AUTO_REVIEWER else None)
    return ticket


def auto_review(conn: Connection, policy: ReviewPolicy, ticket_id: int, now: datetime) -> dict:
    ticket = _ticket(conn, ticket_id)
    decision = _subject(ticket["kind"]).rules(conn, ticket["subject_id"], now, policy)
    return decide(conn, policy, ticket_id, approved=decision.approved, reason=decision.reason,
                  decided_by=AUTO_REVIEWER, now=now)


def review_due(conn: Connection, policy: ReviewPolicy, now: datetime, limit: int = 100) -> int:
    """The automatic reviewer's pass (``realistic`` mode): decide the tickets that are due."""
    if policy.mode == "manual" or not policy.calendar.is_review_time(now):
        return 0
    due = conn.scalars(select(reviews.c.id)
                       .where(reviews.c.status == "pending", reviews.c.due_at.is_not(None),
                              reviews.c.due_at <= now)
                       .order_by(reviews.c.due_at).limit(limit)).all()
    for ticket_id in due:
        auto_review(conn, policy, ticket_id, now)
    return len(due)


def pending_tickets(conn: Connection, kind: str | None = None) -> list[dict]:
    query = select(reviews).where(reviews.c.status == "pending").order_by(reviews.c.submitted_at)
    if kind:
        query = query.where(reviews.c.kind == kind)
    return [dict(r) for r in conn.execute(query).mappings()]


def history(conn: Connection, kind: str, subject_id: int) -> list[dict]:
    query = (select(reviews).where(reviews.c.kind == kind, reviews.c.subject_id == subject_id)
             .order_by(reviews.c.id))
    return [dict(r) for r in conn.execute(query).mappings()]


def emit_report(conn: Connection, account_id: int, report_type: str, payload: dict,
                now: datetime) -> None:
    """Queue a report for the tenant (delivered by the reports worker)."""
    conn.execute(insert(report_events).values(account_id=account_id, type=report_type,
                                              payload=payload, created_at=now))


def emit_reports(conn: Connection, reports: list[tuple[int, str, dict]], now: datetime) -> None:
    """:func:`emit_report` for many (account id, type, payload) at once: one INSERT."""
    if reports:
        conn.execute(insert(report_events), [
            {"account_id": account_id, "type": report_type, "payload": payload,
             "created_at": now} for account_id, report_type, payload in reports])


def _subject_row(conn: Connection, kind: str, name: str, account_id: int | None) -> dict:
    """Operators name subjects as the API does: a qualification or a document by its id, a
    signature by SignName, a template by TemplateCode."""
    from pigeon.services import signatures, templates
    from pigeon.store.tables import qualifications, sign_documents

    if kind == "signature":
        return signatures.find_for_operator(conn, account_id, name)
    if kind == "template":
        return templates.find_for_operator(conn, name)
    if kind == "qualification":
        query = select(qualifications).where(qualifications.c.id == _as_id(name))
        if account_id is not None:
            query = query.where(qualifications.c.account_id == account_id)
        row = conn.execute(query).mappings().first()
        if row is None:
            raise PigeonError("isv.INVALID_PARAMETERS", f"There is no qualification {name}.")
        return dict(row)
    if kind in DOCUMENT_KINDS:
        query = select(sign_documents).where(sign_documents.c.id == _as_id(name, kind),
                                             sign_documents.c.kind == kind)
        if account_id is not None:
            query = query.where(sign_documents.c.account_id == account_id)
        row = conn.execute(query).mappings().first()
        if row is None:
            raise PigeonError("isv.INVALID_PARAMETERS", f"There is no {kind} {name}.")
        return dict(row)
    raise PigeonError("isv.INVALID_PARAMETERS",
                      f"Kind must be one of {', '.join(KINDS)}, not {kind!r}.")


def _as_id(text: str, kind: str = "qualification") -> int:
    try:
        return int(text)
    except ValueError:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"A {kind} is named by its id (a number), not {text!r}.") from None


def decide_by_name(conn: Connection, policy: ReviewPolicy, kind: str, name: str, *,
                   approved: bool, reason: str, decided_by: str, now: datetime,
                   account_id: int | None = None) -> dict:
    """``pigeon review approve|reject KIND NAME``: decide the subject's pending ticket."""
    subject = _subject_row(conn, kind, name, account_id)
    ticket_id = conn.scalar(select(reviews.c.id).where(
        reviews.c.kind == kind, reviews.c.subject_id == subject["id"],
        reviews.c.status == "pending"))
    if ticket_id is None:
        raise PigeonError("isv.INVALID_PARAMETERS", f"The {kind} {name} has no pending review.")
    return decide(conn, policy, ticket_id, approved=approved, reason=reason,
                  decided_by=decided_by, now=now)


def describe(conn: Connection, kind: str, name: str, account_id: int | None = None) -> dict:
    """Everything a reviewer looks at: the submitted fields, proof files, past decisions.

    ``files`` holds the files sent with the application (AddSmsSign's SignFileList) and the
    uploads its object keys name (qualification file fields, ``MoreData``), each with ``id``
    (for :func:`file_data`), ``field``, ``key``, ``suffix``, ``size``, ``sha256``.  Keys that
    name no upload of the subject's account are in ``missing_files`` (``field``, ``key``).
    """
    from pigeon.services import uploads
    from pigeon.store.tables import files

    subject = _subject_row(conn, kind, name, account_id)
    # Files that came with the application itself: only AddSmsSign/ModifySmsSign send any.
    sent_as = "SignFileList" if kind == "signature" else "file"
    proof = [{"id": r["id"], "field": f"{sent_as}[{position}]", "key": None,
              "suffix": r["suffix"], "size": r["size"], "sha256": r["sha256"]}
             for position, r in enumerate(conn.execute(
                 select(files.c.id, files.c.suffix, files.c.size, files.c.sha256)
                 .where(files.c.owner_kind == kind, files.c.owner_id == subject["id"])
                 .order_by(files.c.id)).mappings(), start=1)]
    uploaded, missing = uploads.proof_files(conn, subject["account_id"],
                                            uploads.referenced_keys(kind, subject))
    return {"subject": subject, "files": proof + uploaded, "missing_files": missing,
            "history": history(conn, kind, subject["id"])}


def file_data(conn: Connection, file_id: int) -> bytes:
    from pigeon.store.tables import files

    return conn.scalar(select(files.c.data).where(files.c.id == file_id))


def proof_file(conn: Connection, file_id: int) -> dict | None:
    """A stored proof file: ``{"id", "account_id", "suffix", "data"}``, or None."""
    from pigeon.store.tables import files

    row = conn.execute(select(files.c.id, files.c.account_id, files.c.suffix, files.c.data)
                       .where(files.c.id == file_id)).mappings().first()
    return dict(row) if row else None


def pending_overview(conn: Connection, kind: str | None = None) -> list[dict]:
    """Pending tickets with the names operators use for their subjects."""
    from pigeon.store.tables import qualifications, sign_documents, signatures, templates

    names = {
        "qualification": (qualifications, lambda r: str(r["id"]), lambda r: r["name"]),
        "signature": (signatures, lambda r: r["name"], lambda r: r["remark"] or ""),
        "template": (templates, lambda r: r["code"], lambda r: r["content"]),
    } | {kind: (sign_documents, lambda r: str(r["id"]), lambda r: r["name"])
         for kind in DOCUMENT_KINDS}
    overview = []
    for ticket in pending_tickets(conn, kind):
        table, key, summary = names[ticket["kind"]]
        row = conn.execute(select(table).where(table.c.id == ticket["subject_id"])) \
            .mappings().first()
        if row is None:
            continue
        overview.append({"OrderId": str(ticket["id"]), "Kind": ticket["kind"],
                         "Name": key(row), "AccountId": str(ticket["account_id"]),
                         "Summary": summary(row),
                         "SubmittedAt": ticket["submitted_at"].isoformat(),
                         "DueAt": ticket["due_at"].isoformat() if ticket["due_at"] else None})
    return overview
