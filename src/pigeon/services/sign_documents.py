"""Signature documents: authorisation letters, trademarks and app ICP filings.

Submitted by CreateSmsAuthorizationLetter / CreateSmsTrademark / CreateSmsAppIcpRecord (and the
console), reviewed like qualifications (``services/review.py``, kinds ``letter``, ``trademark``
and ``app_icp``: the automatic reviewer or an operator), and then named by signatures:
:func:`check_for_signature` is what CreateSmsSign, UpdateSmsSign and
ChangeSignatureQualification ask before they accept an ``AuthorizationLetterId``,
``TrademarkId`` or ``AppIcpRecordId``.  The rules are ``core/document_rules.py``'s.

States, as for qualifications: ``INIT`` under review, ``PASS``, ``NOT_PASS``.  Every query filters
by ``account_id``: another tenant's id answers exactly as an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import Connection, insert, select, update

from pigeon.core import document_rules
from pigeon.core.document_rules import KINDS, LETTER
from pigeon.services import review, uploads
from pigeon.services.review import ReviewPolicy, Subject
from pigeon.store.tables import qualifications, sign_documents

LETTER_STATES = {"INIT": "INT", "PASS": "PASSED", "NOT_PASS": "FAILED"}
"""A letter's ``State`` as QuerySmsAuthorizationLetter answers it (spec §3.5; ``FAILED`` for a
rejected letter is Pigeon's, in the vocabulary of QuerySingleSmsQualification)."""


def create(conn: Connection, policy: ReviewPolicy, account_id: int, kind: str, fields: dict,
           now: datetime) -> dict:
    """Submit a document of ``kind`` (wire-named ``fields``, ``None`` when absent) for review.
    Returns ``{"id", "order_id", "state"}``."""
    kept = document_rules.validate_document(kind, fields)
    document_id = conn.execute(insert(sign_documents).values(
        account_id=account_id, kind=kind, name=kept[document_rules.NAME_FIELDS[kind]],
        state="INIT", details=kept, created_at=now)).inserted_primary_key[0]
    # In ``rules`` mode the ticket is decided before open_ticket returns: the row holds its
    # final fields first, and gets its order_id afterwards.
    ticket = review.open_ticket(conn, policy, account_id=account_id, kind=kind,
                                subject_id=document_id, now=now)
    conn.execute(update(sign_documents).where(sign_documents.c.id == document_id)
                 .values(order_id=ticket))
    state = conn.scalar(select(sign_documents.c.state).where(sign_documents.c.id == document_id))
    return {"id": document_id, "order_id": ticket, "state": state}


def find(conn: Connection, account_id: int, kind: str, document_id: int) -> dict | None:
    row = conn.execute(select(sign_documents).where(
        sign_documents.c.id == document_id, sign_documents.c.account_id == account_id,
        sign_documents.c.kind == kind)).mappings().first()
    return dict(row) if row else None


def listed(conn: Connection, account_id: int, kind: str,
           ids: Iterable[int] | None = None) -> list[dict]:
    """The account's documents of ``kind``, oldest first; only those of ``ids`` when given
    (ids of another account or kind are left out, as ids that do not exist)."""
    query = select(sign_documents).where(sign_documents.c.account_id == account_id,
                                         sign_documents.c.kind == kind)
    if ids is not None:
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return []
        query = query.where(sign_documents.c.id.in_(wanted))
    return [dict(r) for r in conn.execute(query.order_by(sign_documents.c.id)).mappings()]


def letters(conn: Connection, account_id: int, *, ids: Iterable[int] | None = None,
            organization_code: str | None = None, sign_name: str | None = None,
            state: str | None = None, status: str | None = None,
            today: date) -> list[dict]:
    """QuerySmsAuthorizationLetter: the account's letters matching every filter given.
    ``state`` in the API's vocabulary (``INT``/``PASSED``/``FAILED``), ``status`` ``VALID`` or
    ``INVALID`` (within its validity ``today`` or not); each row gets ``valid``."""
    found = []
    for row in listed(conn, account_id, LETTER, ids):
        details = row["details"]
        row["valid"] = document_rules.is_current(LETTER, details, today)
        if organization_code is not None and details.get("OrganizationCode") != \
                organization_code.strip():
            continue
        if sign_name is not None and not document_rules.covers(LETTER, row["name"], details,
                                                               sign_name):
            continue
        if state is not None and LETTER_STATES.get(row["state"]) != state.strip().upper():
            continue
        if status is not None and ("VALID" if row["valid"] else "INVALID") != \
                status.strip().upper():
            continue
        found.append(row)
    return found


def letters_approved(conn: Connection, account_id: int, rows: list[dict]) -> None:
    """Set ``letter_approved`` on each signature row: whether its authorisation letter is
    approved now (GetSmsSign's AuthorizationLetterAuditPass)."""
    ids = {row["authorization_letter_id"] for row in rows if row["authorization_letter_id"]}
    approved = set()
    if ids:
        approved = set(conn.scalars(select(sign_documents.c.id).where(
            sign_documents.c.id.in_(sorted(ids)), sign_documents.c.account_id == account_id,
            sign_documents.c.kind == LETTER, sign_documents.c.state == "PASS")))
    for row in rows:
        row["letter_approved"] = row["authorization_letter_id"] in approved


def check_for_signature(conn: Connection, account_id: int, fields: dict,
                        qualification_id: int | None, today: date) -> None:
    """Refuse (``isv.INVALID_PARAMETERS``) a document id in ``fields`` (snake_case:
    ``authorization_letter_id``, ``trademark_id``, ``app_icp_record_id``) that does not exist
    in the account, is not approved or not valid, or does not cover ``fields["name"]``."""
    organization_code = None
    if qualification_id is not None:
        details = conn.scalar(select(qualifications.c.details).where(
            qualifications.c.id == qualification_id, qualifications.c.account_id == account_id))
        organization_code = (details or {}).get("OrganizationCode")
    for kind, column in ((LETTER, "authorization_letter_id"),
                         (document_rules.TRADEMARK, "trademark_id"),
                         (document_rules.APP_ICP, "app_icp_record_id")):
        document_id = fields.get(column)
        if document_id is None:
            continue
        document_rules.check_for_signature(
            kind, document_id, find(conn, account_id, kind, document_id), fields["name"],
            organization_code=organization_code, today=today)


# -- review -------------------------------------------------------------------------------------

def _row(conn: Connection, document_id: int) -> dict:
    return dict(conn.execute(select(sign_documents).where(sign_documents.c.id == document_id))
                .mappings().one())


def _rules(conn: Connection, document_id: int, now: datetime,
           policy: ReviewPolicy) -> document_rules.Decision:
    row = _row(conn, document_id)
    found, _missing = uploads.proof_files(conn, row["account_id"],
                                          uploads.referenced_keys(row["kind"], row))
    return document_rules.review_document(row["kind"], row["details"],
                                          uploaded=[f["field"] for f in found],
                                          today=policy.calendar.local_date(now))


def _apply(conn: Connection, document_id: int, approved: bool, reason: str, ticket: dict,
           now: datetime, policy: ReviewPolicy) -> None:
    conn.execute(update(sign_documents).where(sign_documents.c.id == document_id).values(
        state="PASS" if approved else "NOT_PASS", audit_time=now, audit_remark=reason or None))


for _kind in KINDS:
    review.register_subject(_kind, Subject(rules=_rules, apply=_apply))
