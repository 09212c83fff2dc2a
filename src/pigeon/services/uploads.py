"""Proof files tenants upload with OSS PostObject (``POST /oss``, api/uploads.py), and finding
them again by the object keys that applications name.

An upload is a row of ``files`` with ``owner_kind`` ``upload``, ``owner_id`` its account and
``key`` its object key.  SubmitSmsQualification's file fields and the ``MoreData`` of signatures
and templates hold such keys; reviewers see the files they name (:func:`proof_files`).  Keys are
looked up within one account only: another tenant's key never resolves, it is "missing".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from pigeon.config import Settings
from pigeon.core import document_rules, post_policy
from pigeon.core.errors import OssError
from pigeon.store.secrets import load_or_create_key
from pigeon.store.tables import accounts, files

OWNER_KIND = "upload"
# Where each kind of upload goes, under the account id: ``<AccountId>/qualification/``.
PURPOSES = {"qualification": "qualification/", "more-data": "more-data/"}

QUALIFICATION_FILE_FIELDS = ("LegalPersonIdCardFrontSide", "LegalPersonIdCardBackSide",
                             "AdminIDCardFrontFace", "AdminIDCardPic")
QUALIFICATION_FILE_LISTS = ("BusinessLicensePics", "OtherFiles")


def platform_key(settings: Settings) -> str:
    """The key upload secrets are derived from (the one that encrypts AccessKey secrets)."""
    return load_or_create_key(settings).reveal()


def grant(key: str, account_id: int, purpose: str, now: datetime) -> post_policy.Grant:
    """Upload credentials for one of :data:`PURPOSES`, valid 30 minutes."""
    return post_policy.grant(key, account_id, f"{account_id}/{PURPOSES[purpose]}", now)


def store(conn: Connection, account_id: int, key: str, suffix: str, data: bytes,
          now: datetime) -> dict:
    """Keep an uploaded file under ``key``, replacing an earlier upload of the same key.

    ``AccessDenied`` when the account is suspended; ``InvalidAccessKeyId`` when it does not
    exist (the credentials were signed for it, so this is a deleted account or a foreign key).
    """
    status = conn.scalar(select(accounts.c.status).where(accounts.c.id == account_id))
    if status is None:
        raise OssError("InvalidAccessKeyId")
    if status != "active":
        raise OssError("AccessDenied", "The account is suspended; uploads are refused.")
    # Two nodes storing the same key at once may both insert; lookups take the newest row and
    # the next upload of the key removes the others.
    conn.execute(delete(files).where(files.c.owner_kind == OWNER_KIND,
                                     files.c.account_id == account_id, files.c.key == key))
    sha256 = hashlib.sha256(data).hexdigest()
    file_id = conn.execute(insert(files).values(
        account_id=account_id, owner_kind=OWNER_KIND, owner_id=account_id, key=key,
        suffix=suffix, size=len(data), sha256=sha256, data=data,
        created_at=now)).inserted_primary_key[0]
    return {"id": file_id, "key": key, "suffix": suffix, "size": len(data), "sha256": sha256}


def referenced_keys(kind: str, subject: dict) -> list[tuple[str, str]]:
    """``(field, key)`` for every object key a qualification, signature, template or signature
    document (letter, trademark, ICP filing) names, in form order; fields as the API names
    them (``BusinessLicensePics[1].LicensePic``)."""
    refs: list[tuple[str, str]] = []
    if kind == "qualification":
        details = subject.get("details") or {}
        for field in QUALIFICATION_FILE_FIELDS:
            if isinstance(details.get(field), str) and details[field]:
                refs.append((field, details[field]))
        for field in QUALIFICATION_FILE_LISTS:
            items = details.get(field)
            for position, item in enumerate(items if isinstance(items, list) else [], start=1):
                if isinstance(item, dict) and isinstance(item.get("LicensePic"), str):
                    refs.append((f"{field}[{position}].LicensePic", item["LicensePic"]))
    elif kind in document_rules.PICTURES:  # letter, trademark, app_icp
        details = subject.get("details") or {}
        for field in document_rules.PICTURES[kind]:
            if isinstance(details.get(field), str) and details[field]:
                refs.append((field, details[field]))
    elif kind in ("signature", "template"):
        items = subject.get("more_data")
        for position, key in enumerate(items if isinstance(items, list) else [], start=1):
            if isinstance(key, str) and key:
                refs.append((f"MoreData[{position}]", key))
    return refs


def proof_files(conn: Connection, account_id: int,
                refs: Iterable[tuple[str, str]]) -> tuple[list[dict], list[dict]]:
    """The account's uploads that ``refs`` name, and the refs no upload answers.

    Returns ``(found, missing)``: ``found`` rows have ``id``, ``field``, ``key``, ``suffix``,
    ``size``, ``sha256``; ``missing`` rows ``field`` and ``key``.
    """
    refs = list(refs)
    keys = sorted({key for _, key in refs})
    latest: dict[str, dict] = {}
    if keys:
        rows = conn.execute(
            select(files.c.id, files.c.key, files.c.suffix, files.c.size, files.c.sha256)
            .where(files.c.owner_kind == OWNER_KIND, files.c.account_id == account_id,
                   files.c.key.in_(keys))
            .order_by(files.c.id)).mappings()
        for row in rows:
            latest[row["key"]] = dict(row)  # ordered by id: the newest wins
    found, missing = [], []
    for field, key in refs:
        row = latest.get(key)
        if row is None:
            missing.append({"field": field, "key": key})
        else:
            found.append({"id": row["id"], "field": field, "key": key, "suffix": row["suffix"],
                          "size": row["size"], "sha256": row["sha256"]})
    return found, missing
