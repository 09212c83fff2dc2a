"""Qualifications: the enterprise identity behind a tenant's signatures (spec §2.19–2.23).

A qualification is submitted with a verification code that RequiredPhoneCode texted to its
administrator's phone, reviewed like signatures and templates (``services/review.py``), and once
approved (state ``PASS``) it can back signatures.  States, in QuerySmsQualificationRecord's
vocabulary: ``INIT`` under review, ``PASS``, ``NOT_PASS`` rejected, ``NOT_FINISH`` materials to
supplement, ``CANCEL`` withdrawn.  Only ``NOT_PASS`` and ``NOT_FINISH`` can be updated; a
qualification under review or used by a signature cannot be deleted.

Every query filters by ``account_id``: another tenant's QualificationGroupId answers exactly as
a nonexistent one.  Fields use the wire names of §2.19 (``BussinessLicenseExpDate`` keeps
Alibaba's spelling); the ones the list view searches on have columns, the rest are kept by wire
name in ``details``.  File fields are OSS-style object keys, stored as given.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import Connection, func, insert, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError

from pigeon.core import limits, review_rules
from pigeon.core.errors import PigeonError
from pigeon.core.qualification_rules import parse_bool, parse_file_list
from pigeon.services import billing, handsets, review
from pigeon.services.review import ReviewPolicy, Subject
from pigeon.store.tables import phone_codes, qualifications, reviews, signatures

KIND = "qualification"
STATES = ("INIT", "NOT_PASS", "PASS", "NOT_FINISH", "CANCEL")
UPDATABLE_STATES = ("NOT_PASS", "NOT_FINISH")

CODE_LIFETIME = timedelta(minutes=5)
CODE_FREE_PER_DAY = 5
"""Codes one account gets free in 24 hours: its first qualification comes before it has any
money.  Each further code is billed as one OTP message (the seed bills test messages)."""
CODE_ACCOUNT_PER_DAY = 100
"""Codes one account may have sent in 24 hours, paid or not."""
CODE_PLATFORM_PER_DAY = 40
"""Codes one number may receive in 24 hours from every account together (spec §7.3: 40
verification codes a day across all senders)."""
CODE_SENDER = "Pigeon"
CODE_TEXT = "【Pigeon】您的验证码为{code}，5分钟内有效。"

# Columns of their own (the list view filters on them); everything else lives in ``details``.
_COLUMNS = {"QualificationName": "name", "CompanyName": "company_name",
            "LegalPersonName": "legal_person_name", "UseBySelf": "use_by_self",
            "WhetherShare": "whether_share"}
_DETAILS = (
    "CompanyType", "OrganizationCode", "BussinessLicenseExpDate", "BusinessLicensePics",
    "LegalPersonIDCardType", "LegalPersonIDCardNo", "LegalPersonIdCardEffTime",
    "LegalPersonIdCardFrontSide", "LegalPersonIdCardBackSide", "AdminName", "AdminIDCardType",
    "AdminIDCardNo", "AdminIDCardExpDate", "AdminIDCardFrontFace", "AdminIDCardPic",
    "AdminPhoneNo", "OtherFiles", "Remark",
)


# -- verification codes (RequiredPhoneCode / ValidPhoneCode) ------------------------------------

def _mobile(phone: str | None) -> str:
    national = review_rules.normalize_mainland_mobile(phone)
    if national is None:
        raise PigeonError("isv.MOBILE_NUMBER_ILLEGAL",
                          f"{phone!r} is not a mainland mobile number (11 digits starting with 1, "
                          "optionally after +86, 0086 or 86).")
    return national


def _masked(national: str) -> str:
    return f"{national[:3]}****{national[-4:]}"


def request_phone_code(conn: Connection, account_id: int, phone: str, now: datetime,
                       zone: tzinfo = UTC) -> str:
    """RequiredPhoneCode: text a fresh 6-digit code, valid 5 minutes, to ``phone``.

    The code arrives in the phone's virtual handset inbox.  It is a verification code like an
    OTP message, limited like one (``isv.BUSINESS_LIMIT_CONTROL``, Alibaba's wording): per
    account and number 1 a minute, 5 an hour, 10 a day (clock minute and hour in ``zone``,
    rolling day: :mod:`pigeon.core.limits`); per number :data:`CODE_PLATFORM_PER_DAY` a day
    from all accounts; per account :data:`CODE_ACCOUNT_PER_DAY` a day.  The account's first
    :data:`CODE_FREE_PER_DAY` codes of a day are free, each further one is billed as an OTP
    message (``isv.AMOUNT_NOT_ENOUGH`` without the money).  A new code replaces the earlier
    unused ones.  Returns the phone's 11-digit form.
    """
    national = _mobile(phone)
    # The counts and the new row in one step on every node: under the account's lock.  (The
    # platform-wide count is not: two accounts racing may pass it by one each.)
    billing.lock_account(conn, account_id)
    window = limits.windows(now, zone)
    sent = conn.execute(select(phone_codes.c.phone, phone_codes.c.created_at).where(
        phone_codes.c.account_id == account_id,
        phone_codes.c.created_at >= window.day)).all()
    limits.check_number(limits.OTP, window.counts(at for number, at in sent
                                                  if number == national),
                        mainland=True, whitelisted=False)
    if len(sent) >= CODE_ACCOUNT_PER_DAY:
        raise PigeonError("isv.BUSINESS_LIMIT_CONTROL",
                          f"This account had {len(sent)} verification codes sent in the last 24 "
                          f"hours, the most it may (触发天级流控Permits:{CODE_ACCOUNT_PER_DAY}).")
    everywhere = conn.scalar(select(func.count()).select_from(phone_codes).where(
        phone_codes.c.phone == national, phone_codes.c.created_at >= window.day))
    if everywhere >= CODE_PLATFORM_PER_DAY:
        raise PigeonError("isv.BUSINESS_LIMIT_CONTROL",
                          f"触发天级流控Permits:{CODE_PLATFORM_PER_DAY}")
    if len(sent) >= CODE_FREE_PER_DAY:
        billing.charge(conn, account_id, limits.OTP, 1, now,
                       f"RequiredPhoneCode to {_masked(national)}")
    conn.execute(sql_update(phone_codes).where(
        phone_codes.c.account_id == account_id, phone_codes.c.phone == national,
        phone_codes.c.used.is_(False)).values(used=True))
    code = f"{secrets.randbelow(1_000_000):06d}"
    conn.execute(insert(phone_codes).values(account_id=account_id, phone=national, code=code,
                                            expires_at=now + CODE_LIFETIME, used=False,
                                            created_at=now))
    handsets.deliver(conn, national, CODE_SENDER, CODE_TEXT.format(code=code), now)
    return national


def _live_code(conn: Connection, account_id: int, national: str, code: str, now: datetime):
    return conn.scalar(select(phone_codes.c.id).where(
        phone_codes.c.account_id == account_id, phone_codes.c.phone == national,
        phone_codes.c.code == code.strip(), phone_codes.c.used.is_(False),
        phone_codes.c.expires_at > now))


def live_code_text(conn: Connection, account_id: int, phone: str, now: datetime) -> str | None:
    """The text of the live code this account had sent to ``phone`` as its virtual handset
    shows it (RequiredPhoneCode only ever texts a handset of the carrier simulator), or None.
    The console shows it beside the form: nobody else reads that handset."""
    national = _mobile(phone)
    code = conn.scalar(select(phone_codes.c.code).where(
        phone_codes.c.account_id == account_id, phone_codes.c.phone == national,
        phone_codes.c.used.is_(False), phone_codes.c.expires_at > now)
        .order_by(phone_codes.c.id.desc()).limit(1))
    return None if code is None else CODE_TEXT.format(code=code)


MAX_CODE_FAILURES = 5


def check_phone_code(conn: Connection, account_id: int, phone: str, code: str,
                     now: datetime) -> bool:
    """ValidPhoneCode: whether ``code`` is the live code sent to ``phone`` for this account.

    Checking does not use the code up; submitting a qualification does.  A wrong code counts
    against the live one, which is void after ``MAX_CODE_FAILURES`` wrong tries: six digits
    must not be guessable by asking a million times.  (Run it as a write of its own, so a
    failed guess is counted even when the request then fails.)
    """
    national = _mobile(phone)
    live = conn.execute(select(phone_codes.c.id, phone_codes.c.code, phone_codes.c.failures)
                        .where(phone_codes.c.account_id == account_id,
                               phone_codes.c.phone == national,
                               phone_codes.c.used.is_(False), phone_codes.c.expires_at > now)
                        .order_by(phone_codes.c.id.desc()).limit(1)).first()
    if live is None:
        return False
    if hmac.compare_digest(live.code, code.strip()):
        return True
    failures = live.failures + 1
    conn.execute(sql_update(phone_codes).where(phone_codes.c.id == live.id)
                 .values(failures=failures, used=failures >= MAX_CODE_FAILURES))
    return False


def _use_code(conn: Connection, account_id: int, phone: str, code: str, now: datetime) -> None:
    national = _mobile(phone)
    code_id = _live_code(conn, account_id, national, code, now)
    if code_id is None:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"CertifyCode is not the code last sent to {_masked(national)}, or it "
                          "has expired or was used already; call RequiredPhoneCode for a new one.")
    conn.execute(sql_update(phone_codes).where(phone_codes.c.id == code_id).values(used=True))


# -- submission --------------------------------------------------------------------------------

def _stored(fields: dict) -> tuple[dict, dict]:
    """Split validated wire fields into column values and ``details``, decoded and normalised."""
    columns, details = {}, {}
    for wire, column in _COLUMNS.items():
        value = fields.get(wire)
        if value is not None:
            columns[column] = parse_bool(value) if wire in ("UseBySelf", "WhetherShare") else value
    for wire in _DETAILS:
        value = fields.get(wire)
        if value is None:
            continue
        if wire in ("BusinessLicensePics", "OtherFiles"):
            value = parse_file_list(value, typed=wire == "BusinessLicensePics")
        elif wire == "AdminPhoneNo":
            value = review_rules.normalize_mainland_mobile(value)
        details[wire] = value
    return columns, details


def _name_taken(name: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS",
                       f"A qualification named {name!r} already exists in this account; "
                       "QualificationName must be unique (letter case is ignored).")


def submit(conn: Connection, policy: ReviewPolicy, account_id: int, fields: dict,
           now: datetime) -> dict:
    """SubmitSmsQualification.  ``fields`` holds the request's parameters by wire name
    (``None`` when absent).  Returns ``{"id", "order_id", "state"}``.
    """
    review_rules.validate_qualification(fields, update=False)
    name = fields["QualificationName"]
    name_key = name.lower()
    taken = conn.scalar(select(qualifications.c.id).where(
        qualifications.c.account_id == account_id, qualifications.c.name_key == name_key))
    if taken is not None:
        raise _name_taken(name)
    _use_code(conn, account_id, fields["AdminPhoneNo"], fields["CertifyCode"], now)
    columns, details = _stored(fields)
    try:
        with conn.begin_nested():  # a concurrent submission on another node took the name
            qualification_id = conn.execute(insert(qualifications).values(
                account_id=account_id, name_key=name_key, state="INIT", details=details,
                created_at=now, **columns)).inserted_primary_key[0]
    except IntegrityError:
        raise _name_taken(name) from None
    return _open_review(conn, policy, account_id, qualification_id, now)


def _open_review(conn: Connection, policy: ReviewPolicy, account_id: int,
                 qualification_id: int, now: datetime) -> dict:
    # In ``rules`` mode the ticket is decided before open_ticket returns: the row must hold
    # its final fields and state INIT first, and gets its order_id only afterwards.
    ticket = review.open_ticket(conn, policy, account_id=account_id, kind=KIND,
                                subject_id=qualification_id, now=now)
    conn.execute(sql_update(qualifications).where(qualifications.c.id == qualification_id)
                 .values(order_id=ticket))
    state = conn.scalar(select(qualifications.c.state)
                        .where(qualifications.c.id == qualification_id))
    return {"id": qualification_id, "order_id": ticket, "state": state}


def _unknown(qualification_id: int, order_id: int | None = None) -> PigeonError:
    ticket = "" if order_id is None else f" with OrderId {order_id}"
    return PigeonError("isv.INVALID_PARAMETERS",
                       f"There is no qualification with QualificationGroupId {qualification_id}"
                       f"{ticket} in this account.")


def _find(conn: Connection, account_id: int, qualification_id: int) -> dict | None:
    row = conn.execute(select(qualifications).where(
        qualifications.c.id == qualification_id,
        qualifications.c.account_id == account_id)).mappings().first()
    return dict(row) if row else None


def _current(conn: Connection, account_id: int, qualification_id: int, order_id: int) -> dict:
    """The tenant's qualification whose current review ticket is ``order_id``."""
    row = _find(conn, account_id, qualification_id)
    if row is None:
        raise _unknown(qualification_id, order_id)
    if row["order_id"] != order_id:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"OrderId {order_id} is not the current review ticket of qualification "
                          f"{qualification_id} (it is {row['order_id']}); use the WorkOrderId "
                          "that QuerySingleSmsQualification shows.")
    return row


def update(conn: Connection, policy: ReviewPolicy, account_id: int, qualification_id: int,
           order_id: int, fields: dict, now: datetime) -> dict:
    """UpdateSmsQualification: change a rejected (or incomplete) qualification and review it
    again under a new ticket.  Fields not given keep their values; QualificationName,
    CompanyType, OrganizationCode, UseBySelf, WhetherShare and Remark cannot change.
    Returns ``{"id", "order_id", "state"}``.
    """
    review_rules.validate_qualification(fields, update=True)
    row = _current(conn, account_id, qualification_id, order_id)
    if row["state"] not in UPDATABLE_STATES:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"Qualification {qualification_id} is {_describe(row['state'])}; "
                          "only a rejected qualification or one asked for more materials can "
                          "be updated.")
    _use_code(conn, account_id, fields["AdminPhoneNo"], fields["CertifyCode"], now)
    columns, details = _stored(fields)
    conn.execute(sql_update(qualifications).where(qualifications.c.id == qualification_id)
                 .values(state="INIT", audit_time=None, audit_remark=None,
                         details={**row["details"], **details}, **columns))
    return _open_review(conn, policy, account_id, qualification_id, now)


def _describe(state: str) -> str:
    return {"INIT": "under review", "PASS": "approved", "NOT_PASS": "rejected",
            "NOT_FINISH": "waiting for more materials", "CANCEL": "withdrawn"}.get(state, state)


def delete(conn: Connection, account_id: int, qualification_id: int, order_id: int,
           now: datetime) -> None:
    """DeleteSmsQualification: not while under review, nor while a signature uses it."""
    row = _current(conn, account_id, qualification_id, order_id)
    if row["state"] == "INIT":
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"Qualification {qualification_id} is under review and cannot be "
                          "deleted until it is decided.")
    users = conn.scalars(select(signatures.c.name).where(
        signatures.c.account_id == account_id,
        signatures.c.qualification_id == qualification_id).order_by(signatures.c.id)).all()
    if users:
        shown = ", ".join(users[:5]) + (" …" if len(users) > 5 else "")
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"Qualification {qualification_id} is used by {len(users)} signature(s) "
                          f"({shown}); change their qualification or delete them first.")
    conn.execute(sql_delete(qualifications).where(qualifications.c.id == qualification_id,
                                              qualifications.c.account_id == account_id))


# -- views -------------------------------------------------------------------------------------

def query_records(conn: Connection, account_id: int, *, page_no: int = 1, page_size: int = 10,
                  company_name: str | None = None, legal_person_name: str | None = None,
                  name: str | None = None, state: str | None = None,
                  use_by_self: bool | None = None,
                  work_order_id: int | None = None) -> tuple[int, list[dict]]:
    """QuerySmsQualificationRecord: ``(total, rows of the page)``, newest first.

    Name filters match a case-insensitive part of the name; ``state`` one of :data:`STATES`;
    ``work_order_id`` the current review ticket.
    """
    if state is not None and state not in STATES:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"State must be one of {', '.join(STATES)}, got {state!r}.")
    where = [qualifications.c.account_id == account_id]
    for column, text in ((qualifications.c.company_name, company_name),
                         (qualifications.c.legal_person_name, legal_person_name),
                         (qualifications.c.name_key, name)):
        if text is not None:
            where.append(func.lower(column).contains(text.lower(), autoescape=True))
    if state is not None:
        where.append(qualifications.c.state == state)
    if use_by_self is not None:
        where.append(qualifications.c.use_by_self.is_(use_by_self))
    if work_order_id is not None:
        where.append(qualifications.c.order_id == work_order_id)
    total = conn.scalar(select(func.count()).select_from(qualifications).where(*where))
    if (page_no - 1) * page_size >= total:  # past the end (an OFFSET past a BIGINT fails)
        return total, []
    rows = conn.execute(select(qualifications).where(*where)
                        .order_by(qualifications.c.id.desc())
                        .limit(page_size).offset((page_no - 1) * page_size)).mappings()
    return total, [dict(row) for row in rows]


def get_single(conn: Connection, account_id: int, qualification_id: int,
               order_id: int | None = None) -> dict:
    """QuerySingleSmsQualification: the qualification with its ``details``.

    ``order_id``, when given, must be one of its review tickets (the current or an earlier one).
    """
    row = _find(conn, account_id, qualification_id)
    if row is None:
        raise _unknown(qualification_id, order_id)
    if order_id is not None and order_id != row["order_id"]:
        ticket = conn.scalar(select(reviews.c.id).where(
            reviews.c.id == order_id, reviews.c.account_id == account_id,
            reviews.c.kind == KIND, reviews.c.subject_id == qualification_id))
        if ticket is None:
            raise _unknown(qualification_id, order_id)
    return row


# -- review ------------------------------------------------------------------------------------

def review_fields(row: dict) -> dict:
    """A stored qualification as the wire-named fields the review rules read."""
    fields = dict(row["details"])
    for wire, column in _COLUMNS.items():
        fields[wire] = row[column]
    return fields


def _rules(conn: Connection, qualification_id: int, now: datetime,
           policy: ReviewPolicy) -> review_rules.Decision:
    row = conn.execute(select(qualifications)
                       .where(qualifications.c.id == qualification_id)).mappings().one()
    return review_rules.review_qualification(review_fields(dict(row)),
                                             today=policy.calendar.local_date(now))


def _apply(conn: Connection, qualification_id: int, approved: bool, reason: str, ticket: dict,
           now: datetime, policy: ReviewPolicy) -> None:
    conn.execute(sql_update(qualifications).where(qualifications.c.id == qualification_id).values(
        state="PASS" if approved else "NOT_PASS", audit_time=now, audit_remark=reason))


review.register_subject(KIND, Subject(rules=_rules, apply=_apply))
