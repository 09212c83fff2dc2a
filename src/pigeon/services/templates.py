"""Templates: application, review and the tenant's views of them.

A template can be applied for only once the tenant has an approved signature (the seed's
workflow): CreateSmsTemplate names it in ``RelatedSignName``; the legacy AddSmsTemplate names
none, so the account must hold at least one approved signature.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from pigeon.core import review_rules
from pigeon.core.errors import PigeonError
from pigeon.core.review_rules import Decision
from pigeon.core.templates import variables
from pigeon.services import review, template_tags
from pigeon.services import signatures as signatures_service
from pigeon.services.review import ReviewPolicy, Subject
from pigeon.store.tables import signatures, templates

PENDING, APPROVED, REJECTED, CANCELLED = 0, 1, 2, 10
USABLE, UNUSABLE = "USABLE", "UNUSABLE"
"""GetSmsTemplateList's ``UsableStateList`` (undocumented by Alibaba; Pigeon's words): a
template can send (approved) or cannot."""
TYPE_NAMES = {0: "验证码", 1: "短信通知", 2: "推广短信", 3: "国际/港澳台消息"}


def _find(conn: Connection, account_id: int, code: str) -> dict | None:
    row = conn.execute(select(templates).where(templates.c.account_id == account_id,
                                               templates.c.code == code.strip())).mappings().first()
    return dict(row) if row else None


def require(conn: Connection, account_id: int, code: str) -> dict:
    """The tenant's template by code; another tenant's is indistinguishable from none."""
    row = _find(conn, account_id, code)
    if row is None:
        raise PigeonError("isv.SMS_TEMPLATE_ILLEGAL",
                          f"There is no template {code!r} in this account.")
    return row


def _new_code(conn: Connection) -> str:
    while True:
        code = f"SMS_{secrets.randbelow(9 * 10**8) + 10**8}"
        if not conn.scalar(select(templates.c.id).where(templates.c.code == code)):
            return code


def _check_signature(conn: Connection, account_id: int, fields: dict, legacy: bool) -> None:
    related = fields.get("related_sign_name")
    if related:
        sign = signatures_service.require(conn, account_id, related)
        if sign["status"] != signatures_service.APPROVED:
            raise PigeonError("isv.SMS_SIGNATURE_ILLEGAL",
                              f"Signature {sign['name']!r} is not approved; apply for a template "
                              "once its signature is approved.")
        fields["related_sign_name"] = sign["name"]
        return
    if not legacy and fields["type"] in (0, 1, 2):
        raise PigeonError.missing("RelatedSignName")
    approved = conn.scalar(select(func.count()).select_from(signatures).where(
        signatures.c.account_id == account_id, signatures.c.status == signatures_service.APPROVED))
    if not approved:
        raise PigeonError("isv.SMS_SIGNATURE_ILLEGAL",
                          "This account has no approved signature yet; apply for a template once "
                          "a signature is approved.")


def _validate(conn: Connection, account_id: int, fields: dict, legacy: bool) -> None:
    review_rules.validate_template(
        fields["name"], fields["content"], fields["type"], remark=fields.get("remark") or "",
        legacy=legacy, intl_type=fields.get("intl_type"), rule=fields.get("variable_attribute"))
    if not legacy and fields.get("variable_attribute") is None and variables(fields["content"]):
        raise PigeonError("isv.INVALID_PARAMETERS",
                          "TemplateRule is required when TemplateContent has variables: give "
                          'each variable its attribute, e.g. {"code":"numberCaptcha"}.')
    _check_signature(conn, account_id, fields, legacy)


def _columns(fields: dict) -> dict:
    return dict(name=fields["name"], content=fields["content"], type=fields["type"],
                intl_type=fields.get("intl_type"),
                related_sign_name=fields.get("related_sign_name"),
                variable_attribute=fields.get("variable_attribute"),
                remark=fields.get("remark"), apply_scene=fields.get("apply_scene"),
                traffic_driving=fields.get("traffic_driving"), more_data=fields.get("more_data"))


def create(conn: Connection, policy: ReviewPolicy, account_id: int, fields: dict,
           now: datetime, *, legacy: bool = False) -> dict:
    """CreateSmsTemplate / AddSmsTemplate.  ``fields`` uses snake_case wire names."""
    _validate(conn, account_id, fields, legacy)
    code = _new_code(conn)
    template_id = conn.execute(insert(templates).values(
        code=code, account_id=account_id, legacy=legacy, status=PENDING, created_at=now,
        **_columns(fields))).inserted_primary_key[0]
    return _submit(conn, policy, account_id, template_id, now)


def _submit(conn, policy, account_id: int, template_id: int, now: datetime) -> dict:
    ticket = review.open_ticket(conn, policy, account_id=account_id, kind="template",
                                subject_id=template_id, now=now)
    conn.execute(update(templates).where(templates.c.id == template_id).values(order_id=ticket))
    row = conn.execute(select(templates.c.code, templates.c.name)
                       .where(templates.c.id == template_id)).one()
    return {"TemplateCode": row.code, "TemplateName": row.name, "OrderId": str(ticket)}


def modify(conn: Connection, policy: ReviewPolicy, account_id: int, code: str, fields: dict,
           now: datetime, *, legacy: bool = False) -> dict:
    """UpdateSmsTemplate / ModifySmsTemplate: only a rejected template changes; it is
    reviewed again."""
    current = require(conn, account_id, code)
    if current["status"] != REJECTED:
        raise PigeonError("isv.ERROR_TEMPLATE_NOT_MODIFY",
                          f"Template {current['code']} is not rejected; only a rejected "
                          "template can be modified.")
    _validate(conn, account_id, fields, legacy)
    conn.execute(update(templates).where(templates.c.id == current["id"]).values(
        status=PENDING, reject_info=None, audit_date=None, **_columns(fields)))
    return _submit(conn, policy, account_id, current["id"], now)


def remove(conn: Connection, account_id: int, code: str, now: datetime) -> dict:
    current = require(conn, account_id, code)
    if current["status"] == PENDING:
        raise PigeonError("isv.ERROR_TEMPLATE_NOT_DELETE",
                          f"Template {current['code']} is under review and cannot be deleted.")
    template_tags.forget(conn, current["id"])
    conn.execute(delete(templates).where(templates.c.id == current["id"]))
    return {"TemplateCode": current["code"]}


def get(conn: Connection, account_id: int, code: str) -> dict:
    return require(conn, account_id, code)


def page(conn: Connection, account_id: int, page_index: int, page_size: int):
    where = templates.c.account_id == account_id
    total = conn.scalar(select(func.count()).select_from(templates).where(where))
    if (page_index - 1) * page_size >= total:  # past the end (an OFFSET past a BIGINT fails)
        return total, []
    rows = conn.execute(select(templates).where(where).order_by(templates.c.id.desc())
                        .limit(page_size).offset((page_index - 1) * page_size)).mappings()
    return total, [dict(r) for r in rows]


def usable_states(row: dict) -> list[str]:
    return [USABLE if row["status"] == APPROVED else UNUSABLE]


def search(conn: Connection, account_id: int, *, page_no: int, page_size: int,
           code: str | None = None, name: str | None = None, sign_name: str | None = None,
           template_type: int | None = None, status: int | None = None,
           tag: str | None = None, usable: list[str] | None = None) -> tuple[int, list[dict]]:
    """GetSmsTemplateList (and the console's list): ``(total, rows of the page)``, newest
    first, each row with its ``tags`` (``{key: value}``).

    Filters: ``code`` exact; ``name`` a part of the name (letter case aside); ``sign_name``
    the related signature; ``template_type`` and ``status`` (0/1/2/10, as TemplateStatus);
    ``tag`` a tag key or ``key:value``; ``usable`` states of :data:`USABLE`/:data:`UNUSABLE`.
    """
    where = [templates.c.account_id == account_id]
    if code is not None:
        where.append(templates.c.code == code.strip())
    if name is not None:
        where.append(func.lower(templates.c.name).contains(name.strip().lower(),
                                                           autoescape=True))
    if sign_name is not None:
        where.append(func.lower(templates.c.related_sign_name) == sign_name.strip().lower())
    if template_type is not None:
        where.append(templates.c.type == template_type)
    if status is not None:
        where.append(templates.c.status == status)
    if tag is not None:
        where.append(template_tags.has_tag(tag))
    if usable is not None:
        unknown = [state for state in usable if state not in (USABLE, UNUSABLE)]
        if unknown:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"UsableStateList holds {unknown[0]!r}; use {USABLE} or "
                              f"{UNUSABLE}.")
        if set(usable) == {USABLE}:
            where.append(templates.c.status == APPROVED)
        elif set(usable) == {UNUSABLE}:
            where.append(templates.c.status != APPROVED)
    total = conn.scalar(select(func.count()).select_from(templates).where(*where))
    if (page_no - 1) * page_size >= total:  # past the end (an OFFSET past a BIGINT fails)
        return total, []
    rows = [dict(r) for r in conn.execute(
        select(templates).where(*where).order_by(templates.c.id.desc())
        .limit(page_size).offset((page_no - 1) * page_size)).mappings()]
    tags = template_tags.of_templates(conn, [row["id"] for row in rows])
    for row in rows:
        row["tags"] = tags[row["id"]]
    return total, rows


def find_for_operator(conn: Connection, code: str) -> dict:
    row = conn.execute(select(templates).where(templates.c.code == code.strip())).mappings().first()
    if row is None:
        raise PigeonError("isv.SMS_TEMPLATE_ILLEGAL", f"There is no template {code!r}.")
    return dict(row)


# -- review -------------------------------------------------------------------------------

def _rules(conn: Connection, template_id: int, now: datetime, policy: ReviewPolicy) -> Decision:
    row = conn.execute(select(templates).where(templates.c.id == template_id)).mappings().one()
    sign_type_allows = True
    if row["related_sign_name"]:
        sign = conn.execute(select(signatures.c.sign_type).where(
            signatures.c.account_id == row["account_id"],
            signatures.c.name_key == row["related_sign_name"].lower())).first()
        # An OTP-only signature (SignType 0) may only send OTP templates.
        sign_type_allows = sign is None or sign.sign_type != 0 or row["type"] == 0
    return review_rules.review_template(row["content"], row["type"],
                                        rule=row["variable_attribute"],
                                        sign_type_allows=sign_type_allows)


def _apply(conn: Connection, template_id: int, approved: bool, reason: str, ticket: dict,
           now: datetime, policy: ReviewPolicy) -> None:
    conn.execute(update(templates).where(templates.c.id == template_id).values(
        status=APPROVED if approved else REJECTED, reject_info=None if approved else reason,
        audit_date=now))
    row = conn.execute(select(templates).where(templates.c.id == template_id)).mappings().one()
    review.emit_report(conn, row["account_id"], "TemplateSmsReport", {
        "template_code": row["code"],
        "template_name": row["name"],
        "template_type": TYPE_NAMES.get(row["type"], ""),
        "template_content": row["content"],
        "template_status": "approved" if approved else "rejected",
        "reason": "" if approved else reason,
        "orderId": str(ticket["id"]),
        "remark": row["remark"] or "",
        "create_date": policy.calendar.local_datetime_text(row["created_at"]),
    }, now)


review.register_subject("template", Subject(rules=_rules, apply=_apply))
