"""Signatures: application, review, carrier registration, and the tenant's views of them.

A signature needs an approved qualification (the legacy AddSmsSign path carries none and goes
to review on its proof files).  Once approved it is submitted for real-name registration with
the three mainland carriers; ``PIGEON_REGISTRATION_DELAY`` decides when the simulated carriers
complete that, and operators can set any carrier's state by hand.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import date, datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from pigeon.core import review_rules
from pigeon.core.errors import PigeonError
from pigeon.core.review_rules import Decision
from pigeon.services import audit, ext_codes, review, sign_documents
from pigeon.services.review import ReviewPolicy, Subject
from pigeon.store.database import Driver, Rows
from pigeon.store.tables import files, qualifications, sign_registrations, signatures

PENDING, APPROVED, REJECTED, CANCELLED = 0, 1, 2, 10
CARRIERS = ("mobile", "unicom", "telecom")
_CARRIER_ORDER = {carrier: at for at, carrier in enumerate(CARRIERS)}

# RegisterStatus values (spec/dysmsapi.md §3.6) and the operator CLI's names for them.
REGISTER_STATES = {"registering": -1, "failed": 0, "verifying": 1, "expired": 2,
                   "registered": 3, "unregistered": -2}
REGISTER_REASONS = {-1: "REGISTERING", 0: "OTHERS_ERROR", 1: "DETECTING", 2: "NO_SEND_RECORD",
                    3: "DETECT_SUCCESS", -2: "NON_REGISTER"}

SIGN_SOURCES = {0: "企事业单位的全称或简称", 1: "工信部备案网站的全称或简称",
                2: "App应用的全称或简称", 3: "公众号或小程序的全称或简称",
                4: "电商平台店铺名的全称或简称", 5: "商标名的全称或简称"}
SIGN_SCENES = {0: "验证码", 1: "通用"}


# Read on the driver: SQLAlchemy building and running these SELECTs cost ~100 µs each, a
# signed read (GetSmsSign) several of them (bench/README.md, "signed reads").
_SIGNATURES = Rows(signatures)
_FIND = f"{_SIGNATURES.select} WHERE account_id = ? AND name_key = ?"
_FILES = Rows(files, ("id", "suffix", "size", "sha256"))
_FILES_OF = f"{_FILES.select} WHERE owner_kind = 'signature' AND owner_id = ? ORDER BY id"
_REGISTRATIONS = Rows(sign_registrations)
_REGISTRATIONS_OF = f"{_REGISTRATIONS.select} WHERE signature_id = ?"


def _find(conn: Connection, account_id: int, name: str) -> dict | None:
    found = _SIGNATURES.read(conn, _FIND, (account_id, name.strip().lower()))
    return found[0] if found else None


def require(conn: Connection, account_id: int, name: str) -> dict:
    """The tenant's signature by name; another tenant's is indistinguishable from none."""
    row = _find(conn, account_id, name)
    if row is None:
        raise PigeonError("isv.SMS_SIGNATURE_ILLEGAL",
                          f"There is no signature named {name!r} in this account.")
    return row


def _decode_files(sign_files: list[dict]) -> list[tuple[str, bytes]]:
    decoded = []
    for index, item in enumerate(sign_files, start=1):
        contents, suffix = item.get("FileContents"), item.get("FileSuffix")
        if not contents:
            raise PigeonError.missing(f"SignFileList.{index}.FileContents")
        if not suffix:
            raise PigeonError.missing(f"SignFileList.{index}.FileSuffix")
        try:
            data = base64.b64decode(contents, validate=True)
        except (binascii.Error, ValueError):
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"SignFileList.{index}.FileContents is not base64.") from None
        review_rules.validate_sign_file(suffix, data)
        decoded.append((suffix.lower(), data))
    return decoded


def _store_files(conn, account_id: int, signature_id: int, decoded, now: datetime) -> None:
    conn.execute(delete(files).where(files.c.owner_kind == "signature",
                                     files.c.owner_id == signature_id))
    for suffix, data in decoded:
        conn.execute(insert(files).values(
            account_id=account_id, owner_kind="signature", owner_id=signature_id,
            suffix=suffix, size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data,
            created_at=now))


def _approved_qualification(conn: Connection, account_id: int, qualification_id: int):
    qualification = conn.execute(select(qualifications.c.state, qualifications.c.use_by_self)
                                 .where(qualifications.c.id == qualification_id,
                                        qualifications.c.account_id == account_id)).first()
    if qualification is None:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"QualificationId {qualification_id} does not exist in this account.")
    if qualification.state != "PASS":
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"QualificationId {qualification_id} is not approved yet; a signature "
                          "needs an approved qualification.")
    return qualification


def _check_third_party(fields: dict, qualification) -> None:
    """A third-party signature (ThirdParty true) sends for another company: it needs that
    company's qualification (UseBySelf false) and its authorisation letter (spec §2.5)."""
    if not fields.get("third_party"):
        return
    if not fields.get("authorization_letter_id"):
        raise PigeonError.missing("AuthorizationLetterId")
    if qualification.use_by_self:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"QualificationId {fields['qualification_id']} is for the account's "
                          "own use (UseBySelf true); a third-party signature (ThirdParty true) "
                          "needs the qualification of the company it sends for.")


def _check_fields(conn: Connection, account_id: int, fields: dict, legacy: bool,
                  today: date) -> None:
    review_rules.validate_sign_name(fields["name"])
    review_rules.validate_sign_source(fields["source"], legacy=legacy)
    review_rules.validate_sign_type(fields["sign_type"])
    review_rules.validate_sign_remark(fields.get("remark") or "")
    if legacy:
        return
    qualification = _approved_qualification(conn, account_id, fields["qualification_id"])
    _check_third_party(fields, qualification)
    if fields["source"] == 5 and not fields.get("trademark_id"):
        raise PigeonError.missing("TrademarkId")
    if fields["source"] == 2 and not fields.get("app_icp_record_id"):
        raise PigeonError.missing("AppIcpRecordId")
    # Every document named must exist, be approved and cover the name — even one the source
    # does not require: a signature shows what backs it.
    sign_documents.check_for_signature(conn, account_id, fields, fields["qualification_id"],
                                       today)


def create(conn: Connection, policy: ReviewPolicy, account_id: int, fields: dict,
           now: datetime, *, legacy: bool = False, sign_files: list[dict] = ()) -> dict:
    """CreateSmsSign / AddSmsSign.  ``fields`` uses snake_case names of the wire parameters."""
    _check_fields(conn, account_id, fields, legacy, policy.calendar.local_date(now))
    decoded = _decode_files(list(sign_files))
    if legacy and not decoded:
        raise PigeonError.missing("SignFileList.1.FileContents")
    if _find(conn, account_id, fields["name"]) is not None:
        raise PigeonError("isv.SIGN_NAME_ILLEGAL",
                          f"A signature named {fields['name']!r} already exists in this account.")
    code = ext_codes.new_auto_code(conn)
    signature_id = conn.execute(insert(signatures).values(
        account_id=account_id, name=fields["name"], name_key=fields["name"].lower(),
        source=fields["source"], sign_type=fields["sign_type"],
        qualification_id=fields.get("qualification_id"), legacy=legacy,
        remark=fields.get("remark"), third_party=bool(fields.get("third_party")),
        authorization_letter_id=fields.get("authorization_letter_id"),
        trademark_id=fields.get("trademark_id"), app_icp_record_id=fields.get("app_icp_record_id"),
        apply_scene=fields.get("apply_scene"), more_data=fields.get("more_data"),
        status=PENDING, extension_code=code, created_at=now,
    )).inserted_primary_key[0]
    ext_codes.register_auto(conn, account_id, signature_id, code, now)
    _store_files(conn, account_id, signature_id, decoded, now)
    return _submit(conn, policy, account_id, signature_id, now)


def _submit(conn, policy, account_id: int, signature_id: int, now: datetime) -> dict:
    ticket = review.open_ticket(conn, policy, account_id=account_id, kind="signature",
                                subject_id=signature_id, now=now)
    conn.execute(update(signatures).where(signatures.c.id == signature_id)
                 .values(order_id=ticket))
    name = conn.scalar(select(signatures.c.name).where(signatures.c.id == signature_id))
    return {"SignName": name, "OrderId": str(ticket)}


def modify(conn: Connection, policy: ReviewPolicy, account_id: int, fields: dict,
           now: datetime, *, legacy: bool = False, sign_files: list[dict] = ()) -> dict:
    """UpdateSmsSign / ModifySmsSign: only a rejected signature can change; it is reviewed
    again.  The name cannot change."""
    current = require(conn, account_id, fields["name"])
    if current["status"] != REJECTED:
        raise PigeonError("isv.ERROR_SIGN_NOT_MODIFY",
                          f"Signature {current['name']!r} is not rejected; only a rejected "
                          "signature can be modified.")
    fields = {**fields, "name": current["name"]}
    _check_fields(conn, account_id, fields, legacy, policy.calendar.local_date(now))
    decoded = _decode_files(list(sign_files))
    conn.execute(update(signatures).where(signatures.c.id == current["id"]).values(
        source=fields["source"], sign_type=fields["sign_type"],
        qualification_id=fields.get("qualification_id", current["qualification_id"]),
        remark=fields.get("remark"), third_party=bool(fields.get("third_party")),
        authorization_letter_id=fields.get("authorization_letter_id"),
        trademark_id=fields.get("trademark_id"), app_icp_record_id=fields.get("app_icp_record_id"),
        apply_scene=fields.get("apply_scene"), more_data=fields.get("more_data"),
        status=PENDING, reject_info=None, audit_date=None))
    if decoded:
        _store_files(conn, account_id, current["id"], decoded, now)
    return _submit(conn, policy, account_id, current["id"], now)


def remove(conn: Connection, account_id: int, name: str, now: datetime) -> dict:
    current = require(conn, account_id, name)
    if current["status"] == PENDING:
        raise PigeonError("isv.ERROR_SIGN_NOT_DELETE",
                          f"Signature {current['name']!r} is under review and cannot be deleted.")
    conn.execute(delete(sign_registrations)
                 .where(sign_registrations.c.signature_id == current["id"]))
    conn.execute(delete(files).where(files.c.owner_kind == "signature",
                                     files.c.owner_id == current["id"]))
    ext_codes.forget(conn, current["id"])
    conn.execute(delete(signatures).where(signatures.c.id == current["id"]))
    return {"SignName": current["name"]}


def change_qualification(conn: Connection, policy: ReviewPolicy, account_id: int, name: str,
                         qualification_id: int, authorization_letter_id: int | None,
                         now: datetime) -> dict:
    """ChangeSignatureQualification: bind the signature to another approved qualification (and
    authorisation letter).  Not while it is under review.  An approved signature is submitted
    to the carriers again: their registration is of the company behind it."""
    current = require(conn, account_id, name)
    if current["status"] == PENDING:
        raise PigeonError("isv.ERROR_SIGN_NOT_MODIFY",
                          f"Signature {current['name']!r} is under review; change its "
                          "qualification once the review is decided.")
    letter = authorization_letter_id or current["authorization_letter_id"]
    fields = {"name": current["name"], "qualification_id": qualification_id,
              "third_party": current["third_party"], "authorization_letter_id": letter}
    qualification = _approved_qualification(conn, account_id, qualification_id)
    _check_third_party(fields, qualification)
    sign_documents.check_for_signature(conn, account_id, fields, qualification_id,
                                       policy.calendar.local_date(now))
    conn.execute(update(signatures).where(signatures.c.id == current["id"]).values(
        qualification_id=qualification_id, authorization_letter_id=letter))
    if current["status"] == APPROVED:
        start_registration(conn, current["id"], now, policy)
    return {"SignName": current["name"], "QualificationId": qualification_id,
            "AuthorizationLetterId": letter}


def get(conn: Connection, account_id: int, name: str) -> dict:
    """The signature with its files and per-carrier registration rows."""
    row = require(conn, account_id, name)
    row["files"] = _FILES.read(conn, _FILES_OF, (row["id"],))
    row["registrations"] = registrations(conn, row["id"])
    sign_documents.letters_approved(conn, account_id, [row])
    return row


def get_by_id(conn: Connection, account_id: int, signature_id: int) -> dict:
    """:func:`get` by the signature's id (the console's URLs); another tenant's id answers as
    a nonexistent one, ``isv.SMS_SIGNATURE_ILLEGAL``."""
    name = conn.scalar(select(signatures.c.name).where(signatures.c.id == signature_id,
                                                      signatures.c.account_id == account_id))
    if name is None:
        raise PigeonError("isv.SMS_SIGNATURE_ILLEGAL",
                          f"There is no signature {signature_id} in this account.")
    return get(conn, account_id, name)


def page(conn: Connection, account_id: int, page_index: int, page_size: int, *,
         name: str | None = None, status: int | None = None):
    """``(total, rows of the page)``, newest first; ``name`` a part of the name (letter case
    aside; ``%`` and ``_`` are plain characters in it), ``status`` a SignStatus."""
    where, params = "account_id = ?", [account_id]
    if name:
        where += " AND name_key LIKE ? ESCAPE '/'"
        params.append(f"%{_literal_like(name.strip().lower())}%")
    if status is not None:
        where += " AND status = ?"
        params.append(status)
    [(total,)] = Driver.of(conn).run(conn, None, f"SELECT count(*) FROM signatures WHERE {where}",
                                     params)
    if (page_index - 1) * page_size >= total:  # past the end (an OFFSET past a BIGINT fails)
        return total, []
    rows = _SIGNATURES.read(conn, f"{_SIGNATURES.select} WHERE {where} ORDER BY id DESC "
                                  "LIMIT ? OFFSET ?", (*params, page_size,
                                                       (page_index - 1) * page_size))
    sign_documents.letters_approved(conn, account_id, rows)
    return total, rows


def _literal_like(text: str) -> str:
    """``text`` for a LIKE pattern with ``ESCAPE '/'``: its ``%``, ``_`` and ``/`` match
    themselves (what SQLAlchemy's ``autoescape`` does)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


# -- review -------------------------------------------------------------------------------

def _rules(conn: Connection, signature_id: int, now: datetime, policy: ReviewPolicy) -> Decision:
    row = conn.execute(select(signatures).where(signatures.c.id == signature_id)).mappings().one()
    company = None
    if row["qualification_id"] is not None:
        company = conn.scalar(select(qualifications.c.company_name)
                              .where(qualifications.c.id == row["qualification_id"]))
    has_files = bool(conn.scalar(select(func.count()).select_from(files).where(
        files.c.owner_kind == "signature", files.c.owner_id == signature_id)))
    return review_rules.review_signature(
        row["name"], source=row["source"], sign_type=row["sign_type"], remark=row["remark"] or "",
        qualification_company=company, has_files=has_files, legacy=row["legacy"])


def _apply(conn: Connection, signature_id: int, approved: bool, reason: str, ticket: dict,
           now: datetime, policy: ReviewPolicy) -> None:
    conn.execute(update(signatures).where(signatures.c.id == signature_id).values(
        status=APPROVED if approved else REJECTED, reject_info=None if approved else reason,
        audit_date=now))
    row = conn.execute(select(signatures).where(signatures.c.id == signature_id)).mappings().one()
    if approved:
        start_registration(conn, signature_id, now, policy)
    review.emit_report(conn, row["account_id"], "SignSmsReport", {
        "sign_name": row["name"],
        "sign_status": "approved" if approved else "rejected",
        "reason": "" if approved else reason,
        "orderId": str(ticket["id"]),
        "remark": row["remark"] or "",
        "sign_source": SIGN_SOURCES.get(row["source"], ""),
        "sign_scene": SIGN_SCENES.get(row["sign_type"], ""),
        "create_date": policy.calendar.local_datetime_text(row["created_at"]),
    }, now)


review.register_subject("signature", Subject(rules=_rules, apply=_apply))


# -- carrier registration -------------------------------------------------------------------

def start_registration(conn: Connection, signature_id: int, now: datetime,
                       policy: ReviewPolicy) -> None:
    """Submit an approved signature to the three carriers (again, if it was before)."""
    conn.execute(delete(sign_registrations)
                 .where(sign_registrations.c.signature_id == signature_id))
    delay = policy.registration_delay
    done = delay is not None and delay.total_seconds() <= 0
    for carrier in CARRIERS:
        status = 3 if done else -1
        conn.execute(insert(sign_registrations).values(
            signature_id=signature_id, carrier=carrier, status=status,
            reason_code=REGISTER_REASONS[status], started_at=now,
            due_at=None if delay is None else now + delay,
            completed_at=now if done else None))


def complete_due_registrations(conn: Connection, policy: ReviewPolicy, now: datetime) -> int:
    """The simulated carriers' pass: registrations whose delay has passed succeed."""
    result = conn.execute(update(sign_registrations).where(
        sign_registrations.c.status == -1, sign_registrations.c.due_at.is_not(None),
        sign_registrations.c.due_at <= now).values(
        status=3, reason_code=REGISTER_REASONS[3], completed_at=now))
    return result.rowcount or 0


def registrations(conn: Connection, signature_id: int) -> list[dict]:
    rows = _REGISTRATIONS.read(conn, _REGISTRATIONS_OF, (signature_id,))
    return sorted(rows, key=lambda r: (_CARRIER_ORDER.get(r["carrier"], 99), r["carrier"]))


def set_registration(conn: Connection, account_id: int | None, name: str, carrier: str,
                     state: str, reason: str | None, now: datetime) -> list[dict]:
    """Operators: record a carrier's registration outcome for a signature."""
    if state not in REGISTER_STATES:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"State must be one of {', '.join(REGISTER_STATES)}.")
    carriers = CARRIERS if carrier == "all" else (carrier,)
    if any(c not in CARRIERS for c in carriers):
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"Carrier must be one of {', '.join(CARRIERS)} or all.")
    row = find_for_operator(conn, account_id, name)
    if row["status"] != APPROVED:
        raise PigeonError("isv.SIGN_STATE_ILLEGAL",
                          f"Signature {row['name']!r} is not approved; only approved signatures "
                          "are registered with carriers.")
    status = REGISTER_STATES[state]
    final = status in (0, 2, 3)
    before = {r["carrier"]: r["status"] for r in registrations(conn, row["id"])}
    for c in carriers:
        values = dict(status=status, reason_code=REGISTER_REASONS[status], reason_text=reason,
                      completed_at=now if final else None, due_at=None)
        updated = conn.execute(update(sign_registrations).where(
            sign_registrations.c.signature_id == row["id"],
            sign_registrations.c.carrier == c).values(**values))
        if not updated.rowcount:
            conn.execute(insert(sign_registrations).values(
                signature_id=row["id"], carrier=c, started_at=now, **values))
    after = registrations(conn, row["id"])
    audit.record(conn, "signature.register", f"signature:{row['id']}",
                 account_id=row["account_id"], before={"registrations": before},
                 after={"name": row["name"], "state": state, "reason": reason,
                        "registrations": {r["carrier"]: r["status"] for r in after}}, now=now)
    return after


def find_for_operator(conn: Connection, account_id: int | None, name: str) -> dict:
    """Operators name signatures by SignName; ``account_id`` settles a name two tenants share."""
    query = select(signatures).where(signatures.c.name_key == name.strip().lower())
    if account_id is not None:
        query = query.where(signatures.c.account_id == account_id)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    if not rows:
        raise PigeonError("isv.SMS_SIGNATURE_ILLEGAL", f"There is no signature named {name!r}.")
    if len(rows) > 1:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"Several accounts have a signature named {name!r}; give --account.")
    return rows[0]
