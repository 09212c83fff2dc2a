"""Extension codes of signatures: AddExtCodeSign, QueryExtCodeSign, UpdateExtCodeSign,
DeleteExtCodeSign, and finding the owner of a reply.

Every signature gets a code from Pigeon when it is created (source ``auto``); a tenant may give
it codes of its own (``custom``), typically the ones its customers already reply to.  The
signature's ``extension_code`` is the one its messages are sent with — the code added last (a
code taken away hands that role to the newest one left) — and a reply to any of its codes
reaches it (:func:`owner_of`, used by ``services/delivery.py``).  Codes are unique on the
platform and none is a prefix of another signature's (``core/extension_codes.py``).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from pigeon.core import extension_codes
from pigeon.core.errors import PigeonError
from pigeon.services import signatures as signatures_service
from pigeon.store.tables import ext_codes, messages, signatures

AUTO, CUSTOM = "auto", "custom"


def _clashing(conn: Connection, code: str) -> tuple[str, int] | None:
    """A code (and its signature's id) that ``code`` equals, prefixes or is prefixed by."""
    rows = conn.execute(select(ext_codes.c.code, ext_codes.c.signature_id).where(or_(
        ext_codes.c.code.in_(extension_codes.prefixes(code)),
        ext_codes.c.code.startswith(code, autoescape=True))).limit(5)).all()
    clash = extension_codes.clash(code, [row.code for row in rows])
    return None if clash is None else next((c, s) for c, s in rows if c == clash)


def new_auto_code(conn: Connection) -> str:
    """A free 4-digit code (widened as codes run out) that clashes with no signature's."""
    width = 4
    while True:
        for _ in range(20):
            code = str(secrets.randbelow(9 * 10 ** (width - 1)) + 10 ** (width - 1))
            if _clashing(conn, code) is None:
                return code
        width += 1


def register_auto(conn: Connection, account_id: int, signature_id: int, code: str,
                  now: datetime) -> None:
    """Record the code a new signature was given (CreateSmsSign, AddSmsSign)."""
    conn.execute(insert(ext_codes).values(code=code, account_id=account_id,
                                          signature_id=signature_id, source=AUTO,
                                          created_at=now))


def forget(conn: Connection, signature_id: int) -> None:
    """A deleted signature's codes are free again."""
    conn.execute(delete(ext_codes).where(ext_codes.c.signature_id == signature_id))


def _signature(conn: Connection, account_id: int, sign_name: str) -> dict:
    return signatures_service.require(conn, account_id, sign_name)


def _check_free(conn: Connection, code: str, signature: dict) -> None:
    found = _clashing(conn, code)
    if found is None:
        return
    clash, owner = found
    if owner == signature["id"]:
        what = "is already" if clash == code else f"overlaps {clash},"
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{code} {what} an extension code of {signature['name']}; a code may "
                          "not begin another one.")
    shown = "is" if clash == code else f"overlaps {clash}, which is"
    raise PigeonError("isv.EXTEND_CODE_ERROR",
                      f"The extension code {code} {shown} used by another signature: replies to "
                      "it could not tell the two apart; choose another code.")


def _activate(conn: Connection, signature_id: int, code: str) -> None:
    conn.execute(update(signatures).where(signatures.c.id == signature_id)
                 .values(extension_code=code))


def add(conn: Connection, account_id: int, sign_name: str, code: str, now: datetime) -> None:
    """AddExtCodeSign: give the signature ``code``; its messages are sent with it from now on."""
    code = extension_codes.validate(code)
    signature = _signature(conn, account_id, sign_name)
    _check_free(conn, code, signature)
    conn.execute(insert(ext_codes).values(code=code, account_id=account_id,
                                          signature_id=signature["id"], source=CUSTOM,
                                          created_at=now))
    _activate(conn, signature["id"], code)


def _own_code(conn: Connection, signature: dict, code: str, field: str) -> dict:
    row = conn.execute(select(ext_codes).where(ext_codes.c.code == code,
                                               ext_codes.c.signature_id == signature["id"])
                       ).mappings().first()
    if row is None:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{field} {code} is not an extension code of {signature['name']}.")
    return dict(row)


def replace(conn: Connection, account_id: int, sign_name: str, existing: str, new: str,
            now: datetime) -> None:
    """UpdateExtCodeSign: ``existing`` becomes ``new`` (still the one messages are sent with,
    if it was); replies to ``existing`` no longer reach the signature."""
    existing = extension_codes.validate(existing, "ExistExtCode")
    new = extension_codes.validate(new, "NewExtCode")
    signature = _signature(conn, account_id, sign_name)
    _own_code(conn, signature, existing, "ExistExtCode")
    if new == existing:
        return
    # The transaction is undone if the new code is refused: the old one is back.
    conn.execute(delete(ext_codes).where(ext_codes.c.code == existing))
    _check_free(conn, new, signature)
    conn.execute(insert(ext_codes).values(code=new, account_id=account_id,
                                          signature_id=signature["id"], source=CUSTOM,
                                          created_at=now))
    if signature["extension_code"] == existing:
        _activate(conn, signature["id"], new)


def remove(conn: Connection, account_id: int, sign_name: str, code: str) -> None:
    """DeleteExtCodeSign: the signature no longer answers to ``code``.  Its last code stays:
    its messages need one."""
    code = extension_codes.validate(code)
    signature = _signature(conn, account_id, sign_name)
    _own_code(conn, signature, code, "ExtCode")
    left = conn.scalars(select(ext_codes.c.code).where(
        ext_codes.c.signature_id == signature["id"], ext_codes.c.code != code)
        .order_by(ext_codes.c.created_at.desc(), ext_codes.c.code.desc())).all()
    if not left:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{code} is the only extension code of {signature['name']}; its "
                          "messages need one: add another code first (AddExtCodeSign).")
    conn.execute(delete(ext_codes).where(ext_codes.c.code == code))
    if signature["extension_code"] == code:
        _activate(conn, signature["id"], left[0])


def page(conn: Connection, account_id: int, *, ext_code: str | None, sign_name: str | None,
         page_no: int, page_size: int) -> tuple[int, list[dict]]:
    """QueryExtCodeSign: ``(total, rows of the page)`` of the account's codes, by signature
    and code.  Rows: ``code``, ``sign_name``, ``source``, ``active`` (the code messages are
    sent with), ``send_count`` (messages sent with it, SmsUpExtendCode or not)."""
    where = [ext_codes.c.account_id == account_id]
    if ext_code is not None:
        where.append(ext_codes.c.code == ext_code.strip())
    if sign_name is not None:
        where.append(signatures.c.name_key == sign_name.strip().lower())
    joined = ext_codes.join(signatures, signatures.c.id == ext_codes.c.signature_id)
    total = conn.scalar(select(func.count()).select_from(joined).where(*where))
    if (page_no - 1) * page_size >= total:  # past the end (an OFFSET past a BIGINT fails)
        return total, []
    rows = [dict(r) for r in conn.execute(
        select(ext_codes.c.code, ext_codes.c.source, ext_codes.c.signature_id,
               signatures.c.name.label("sign_name"),
               (signatures.c.extension_code == ext_codes.c.code).label("active"))
        .select_from(joined).where(*where)
        .order_by(signatures.c.id, ext_codes.c.created_at, ext_codes.c.code)
        .limit(page_size).offset((page_no - 1) * page_size)).mappings()]
    for row in rows:
        # One range of ix_messages_signature per code: the extension codes that start with it
        # (digits: every such code sorts from the code itself to the code + ":").
        row["send_count"] = conn.scalar(select(func.count()).select_from(messages).where(
            messages.c.signature_id == row["signature_id"],
            messages.c.extend_code >= row["code"], messages.c.extend_code < row["code"] + ":"))
        row["active"] = bool(row["active"])
    return total, rows


def owner_of(conn: Connection, dest_code: str):
    """The signature a reply to ``dest_code`` belongs to — ``(id, account_id, name, code)``
    — or ``None``: the one whose code is the longest prefix of it."""
    candidates = conn.execute(
        select(signatures.c.id, signatures.c.account_id, signatures.c.name, ext_codes.c.code)
        .join(signatures, signatures.c.id == ext_codes.c.signature_id)
        .where(ext_codes.c.code.in_(extension_codes.prefixes(dest_code)))).all()
    code = extension_codes.owner(dest_code, [c.code for c in candidates])
    return next((c for c in candidates if c.code == code), None)
