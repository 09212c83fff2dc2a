"""Alert SMS: Pigeon texts alert contacts as its own platform account, like any message.

An alert SMS is a row in ``messages`` like a tenant's: queued here, claimed by the dispatcher,
routed by the operators' routes (``pigeon route``) to a connector — an SMPP carrier, or the
carrier simulator that puts it in the contact's virtual handset — and finished by its receipt.
It belongs to the built-in **platform account** (:data:`PLATFORM_ACCOUNT_ID`, status
``platform``), created the first time an alert SMS is sent, with one signature, the platform's
(``PIGEON_ALERT_SMS_SIGNATURE``, default ``Pigeon``).  Those messages bypass what binds
tenants — review, templates, caps, per-number limits, quiet hours, billing (price 0, never
charged) — but are recorded, routed and visible (``pigeon account list`` shows the platform
account; its messages are in the records like any other).

The platform's signature counts as registered with every mainland carrier, so the simulator
delivers it; on a real network the operator registers it with the carriers their connectors
reach.  It has no extension code: replies to the bare access number match no tenant and are
kept for operators (``pigeon handset unmatched``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from pigeon.core import limits
from pigeon.core.errors import PigeonError
from pigeon.core.numbers import parse_number
from pigeon.core.segments import check_length, count_segments, signed_text
from pigeon.services.sending import new_biz_id
from pigeon.store.tables import accounts, messages, sign_registrations, signatures

PLATFORM_ACCOUNT_ID = 1_000_000_000_000_000
"""The platform account's id: the smallest a tenant could be given (``create_account`` draws
from 10¹⁵ up and skips ids that exist), made at the first alert SMS."""
PLATFORM_NAME = "Pigeon platform (alert SMS)"
PLATFORM_STATUS = "platform"
TEMPLATE_CODE = "PIGEON_ALERT"
TEMPLATE_ID = 0  # no template row: the text is Pigeon's own
EXTENSION_CODE = ""  # the bare access number
CARRIERS = ("mobile", "unicom", "telecom")
REGISTERED = 3  # RegisterStatus: registered
MAX_TEXT = 300  # characters of alert text, before the signature (at most 5 segments or so)


def _invalid(message: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", message)


def platform_signature(conn: Connection, sign_name: str, now: datetime) -> dict:
    """The platform account and its signature named ``sign_name`` (made, or renamed to the
    setting, as needed); returns the signature row."""
    sign_name = (sign_name or "").strip()
    if not 2 <= len(sign_name) <= 12:
        raise _invalid(f"PIGEON_ALERT_SMS_SIGNATURE must have 2 to 12 characters, "
                       f"got {sign_name!r}.")
    owner = conn.execute(select(accounts.c.status).where(
        accounts.c.id == PLATFORM_ACCOUNT_ID)).first()
    if owner is None:
        conn.execute(insert(accounts).values(id=PLATFORM_ACCOUNT_ID, name=PLATFORM_NAME,
                                             status=PLATFORM_STATUS, created_at=now))
    row = conn.execute(select(signatures).where(
        signatures.c.account_id == PLATFORM_ACCOUNT_ID,
        signatures.c.extension_code == EXTENSION_CODE)).mappings().first()
    if row is None:
        signature_id = conn.execute(insert(signatures).values(
            account_id=PLATFORM_ACCOUNT_ID, name=sign_name, name_key=sign_name.lower(),
            source=0, sign_type=1, legacy=False, third_party=False,
            remark="Pigeon's own signature for alert SMS", status=1, audit_date=now,
            extension_code=EXTENSION_CODE, created_at=now)).inserted_primary_key[0]
        conn.execute(insert(sign_registrations), [
            {"signature_id": signature_id, "carrier": carrier, "status": REGISTERED,
             "reason_code": "DETECT_SUCCESS", "started_at": now, "completed_at": now}
            for carrier in CARRIERS])
    else:
        signature_id = row["id"]
        if row["name"] != sign_name:
            conn.execute(update(signatures).where(signatures.c.id == signature_id).values(
                name=sign_name, name_key=sign_name.lower()))
    return {"id": signature_id, "name": sign_name, "extension_code": EXTENSION_CODE}


def queue(conn: Connection, phones: list[str], text: str, sign_name: str,
          now: datetime) -> dict:
    """Queue ``text`` to each of ``phones`` from the platform account, signed ``sign_name``;
    returns ``{"BizId", "messages": [(phone, message id), …]}``.  A number Pigeon cannot send
    to is a coded error (nothing is queued)."""
    if not phones:
        raise _invalid("An alert SMS needs at least one phone number.")
    text = " ".join(text.split())
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT - 1] + "…"
    signature = platform_signature(conn, sign_name, now)
    biz_id = new_biz_id(now)
    rows = []
    for phone in dict.fromkeys(phones):
        number = parse_number(phone)
        international = not number.is_mainland
        content = signed_text(signature["name"], text, international=international)
        seg = count_segments(content, international=international)
        check_length(seg)
        rows.append(dict(
            biz_id=biz_id, account_id=PLATFORM_ACCOUNT_ID, phone=number.wire,
            country_code=number.country_code, carrier=number.carrier,
            signature_id=signature["id"], sign_name=signature["name"],
            template_id=TEMPLATE_ID, template_code=TEMPLATE_CODE,
            template_type=limits.INTERNATIONAL if international else limits.NOTIFICATION,
            params=None, content=content, segments=seg.segments, encoding=seg.encoding,
            extend_code=EXTENSION_CODE or None, out_id=None, status="queued", attempts=0,
            price=0, charged=False, created_at=now))
    ids = [conn.execute(insert(messages).values(**row)).inserted_primary_key[0] for row in rows]
    return {"BizId": biz_id, "messages": [(row["phone"], message_id)
                                          for row, message_id in zip(rows, ids, strict=True)]}


def is_platform(account_id: int | None) -> bool:
    return account_id == PLATFORM_ACCOUNT_ID
