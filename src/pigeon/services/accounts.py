"""Tenants and their AccessKeys.

A tenant (account) is identified by a 16-digit number like an Alibaba Cloud account UID; it
also names the tenant's receipt queues.  AccessKey secrets are shown once, at creation, and
stored encrypted.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from pigeon.core.errors import PigeonError
from pigeon.services import audit
from pigeon.store.secrets import SecretBox
from pigeon.store.tables import access_keys, accounts

_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class AccessKey:
    id: str
    account_id: int
    secret: str = field(repr=False)
    enabled: bool  # the key is enabled (a suspended account keeps API access, cannot send)


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def create_account(conn: Connection, name: str, now: datetime) -> dict:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise PigeonError("isv.INVALID_PARAMETERS", "An account name has 1 to 100 characters.")
    while True:
        account_id = 10**15 + secrets.randbelow(9 * 10**15)
        exists = conn.scalar(select(accounts.c.id).where(accounts.c.id == account_id))
        if not exists:
            break
    conn.execute(insert(accounts).values(id=account_id, name=name, status="active",
                                         created_at=now))
    made = {"AccountId": str(account_id), "Name": name, "Status": "active"}
    audit.record(conn, "account.create", f"account:{account_id}", account_id=account_id,
                 after=made, now=now)
    return made


def require_account(conn: Connection, account_id: int) -> dict:
    row = conn.execute(select(accounts).where(accounts.c.id == account_id)).mappings().first()
    if row is None:
        raise PigeonError("isv.ACCOUNT_NOT_EXISTS", f"Account {account_id} does not exist.")
    return dict(row)


def list_accounts(conn: Connection) -> list[dict]:
    rows = conn.execute(select(accounts).order_by(accounts.c.created_at)).mappings()
    return [{"AccountId": str(r["id"]), "Name": r["name"], "Status": r["status"],
             "CreateDate": r["created_at"].isoformat()} for r in rows]


def create_access_key(conn: Connection, box: SecretBox, account_id: int,
                      now: datetime) -> dict:
    """Make a key pair; the only time the secret is ever returned."""
    require_account(conn, account_id)
    key_id = "LTAI5t" + _random(_ALNUM, 18)
    secret = _random(_ALNUM, 30)
    conn.execute(insert(access_keys).values(id=key_id, account_id=account_id,
                                            secret=box.encrypt(secret), status="enabled",
                                            created_at=now))
    audit.record(conn, "accesskey.create", f"accesskey:{key_id}", account_id=account_id,
                 after={"AccessKeyId": key_id, "Status": "enabled"}, now=now)
    return {"AccessKeyId": key_id, "AccessKeySecret": secret, "AccountId": str(account_id)}


def list_access_keys(conn: Connection, account_id: int) -> list[dict]:
    require_account(conn, account_id)
    rows = conn.execute(select(access_keys.c.id, access_keys.c.status, access_keys.c.created_at)
                        .where(access_keys.c.account_id == account_id)
                        .order_by(access_keys.c.created_at)).mappings()
    return [{"AccessKeyId": r["id"], "Status": r["status"],
             "CreateDate": r["created_at"].isoformat()} for r in rows]


def set_access_key_status(conn: Connection, key_id: str, status: str, *,
                          account_id: int | None = None) -> dict:
    """Enable or disable a key; with ``account_id``, only a key of that account (another
    account's key answers as a nonexistent one)."""
    found = select(access_keys.c.account_id, access_keys.c.status).where(
        access_keys.c.id == key_id)
    if account_id is not None:
        found = found.where(access_keys.c.account_id == account_id)
    row = conn.execute(found).first()
    if row is None:
        raise PigeonError("InvalidAccessKeyId.NotFound",
                          f"AccessKey {key_id} does not exist.")
    conn.execute(update(access_keys).where(access_keys.c.id == key_id).values(status=status))
    audit.record(conn, "accesskey.enable" if status == "enabled" else "accesskey.disable",
                 f"accesskey:{key_id}", account_id=row.account_id,
                 before={"Status": row.status}, after={"Status": status})
    return {"AccessKeyId": key_id, "Status": status}


def find_access_key(conn: Connection, box: SecretBox, key_id: str) -> AccessKey | None:
    row = conn.execute(
        select(access_keys.c.id, access_keys.c.account_id, access_keys.c.secret,
               access_keys.c.status).where(access_keys.c.id == key_id)
    ).mappings().first()
    if row is None:
        return None
    return AccessKey(id=row["id"], account_id=row["account_id"], secret=box.decrypt(row["secret"]),
                     enabled=row["status"] == "enabled")


def set_account_status(conn: Connection, account_id: int, status: str) -> dict:
    before = require_account(conn, account_id)
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(status=status))
    audit.record(conn, "account.suspend" if status == "suspended" else "account.resume",
                 f"account:{account_id}", account_id=account_id,
                 before={"Status": before["status"]}, after={"Status": status})
    return {"AccountId": str(account_id), "Status": status}
