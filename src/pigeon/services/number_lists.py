"""A tenant's lists of numbers: the whitelist and the bound test numbers.

* ``whitelist`` — numbers exempt from the per-number frequency limits (spec/dysmsapi.md §7.3:
  "whitelisted numbers (up to 300) bypass these limits").  Sending reads it.
* ``test`` — the numbers a tenant binds for trying the service (seed document, "Try the
  service": "bind up to five test phone numbers").

Numbers are stored in their wire form (``13800138000``, ``85291234567``), whatever form the
operator typed, so a number is on a list once however it is written.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from pigeon.core.errors import PigeonError
from pigeon.core.numbers import parse_number
from pigeon.services import audit
from pigeon.services.accounts import require_account
from pigeon.store.tables import number_lists

WHITELIST = "whitelist"
TEST = "test"
CAPACITY = {WHITELIST: 300, TEST: 5}
"""How many numbers each list holds at most."""

_TITLE = {WHITELIST: "whitelist", TEST: "list of test numbers"}
_AUDITED = {WHITELIST: "whitelist", TEST: "testnumber"}  # names in the audit trail


def _check_list(list_name: str) -> None:
    if list_name not in CAPACITY:
        raise ValueError(f"unknown number list {list_name!r}; expected one of "
                         f"{', '.join(CAPACITY)}")


def _where(account_id: int, list_name: str):
    return (number_lists.c.account_id == account_id, number_lists.c.list == list_name)


def numbers(conn: Connection, account_id: int, list_name: str) -> list[dict]:
    """The numbers on the list, in the order they were added."""
    _check_list(list_name)
    require_account(conn, account_id)
    rows = conn.execute(select(number_lists.c.phone, number_lists.c.created_at)
                        .where(*_where(account_id, list_name))
                        .order_by(number_lists.c.created_at, number_lists.c.phone)).all()
    return [{"number": r.phone, "added_at": r.created_at.isoformat()} for r in rows]


def add(conn: Connection, account_id: int, list_name: str, number: str,
        now: datetime) -> dict:
    """Put a number on the list (already there: nothing changes).

    An invalid number raises ``isv.MOBILE_NUMBER_ILLEGAL``; a full list (:data:`CAPACITY`)
    ``isv.INVALID_PARAMETERS``.
    """
    _check_list(list_name)
    require_account(conn, account_id)
    phone = parse_number(number).wire
    present = conn.scalar(select(number_lists.c.phone).where(
        *_where(account_id, list_name), number_lists.c.phone == phone))
    if present is None:
        held = conn.scalar(select(func.count()).select_from(number_lists)
                           .where(*_where(account_id, list_name)))
        if held >= CAPACITY[list_name]:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"The {_TITLE[list_name]} holds at most {CAPACITY[list_name]} "
                              f"numbers and is full; remove one before adding {phone}.")
        conn.execute(insert(number_lists).values(account_id=account_id, list=list_name,
                                                 phone=phone, created_at=now))
    audit.record(conn, f"{_AUDITED[list_name]}.add", f"{_AUDITED[list_name]}:{phone}",
                 account_id=account_id, before={"listed": present is not None},
                 after={"listed": True}, now=now)
    return {"AccountId": str(account_id), "list": list_name, "number": phone,
            "added": present is None}


def remove(conn: Connection, account_id: int, list_name: str, number: str) -> dict:
    """Take a number off the list; one that is not on it raises ``isv.INVALID_PARAMETERS``."""
    _check_list(list_name)
    require_account(conn, account_id)
    phone = parse_number(number).wire
    removed = conn.execute(delete(number_lists).where(
        *_where(account_id, list_name), number_lists.c.phone == phone)).rowcount
    if not removed:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{phone} is not on the {_TITLE[list_name]} of account {account_id}.")
    audit.record(conn, f"{_AUDITED[list_name]}.remove", f"{_AUDITED[list_name]}:{phone}",
                 account_id=account_id, before={"listed": True}, after={"listed": False})
    return {"AccountId": str(account_id), "list": list_name, "number": phone, "removed": True}
