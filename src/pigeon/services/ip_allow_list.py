"""An account's IP allow-list for API calls (console: Security; CLI: ``pigeon security``).

Entries are IPv4/IPv6 addresses and CIDR ranges, stored in canonical form
(``203.0.113.0/24``, ``203.0.113.7/32``) so that an entry is on the list once however it was
typed.  An empty list allows every address; the rules are in :mod:`pigeon.core.source_ip`.

The API reads the list together with the AccessKey (:func:`find_access_key`), and the key
lookup is cached for ``pigeon.app.KEY_CACHE_SECONDS`` (2 s): a change takes effect on every
node within that time, and costs no query per request.  The console is never subject to the
list, so a tenant cannot lock itself out of the page that edits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from pigeon.core import source_ip
from pigeon.core.errors import PigeonError
from pigeon.services import accounts, audit
from pigeon.services.accounts import require_account
from pigeon.store.secrets import SecretBox
from pigeon.store.tables import ip_allow_list

CAPACITY = source_ip.MAX_ENTRIES


def _networks(conn: Connection, account_id: int) -> list[source_ip.Network]:
    rows = conn.execute(select(ip_allow_list.c.network)
                        .where(ip_allow_list.c.account_id == account_id)).scalars()
    # Stored entries were checked on the way in; sorted v4 first, then by address.
    return sorted((source_ip.parse_entry(text) for text in rows),
                  key=lambda net: (net.version, net.network_address, net.prefixlen))


def entries(conn: Connection, account_id: int) -> dict:
    """The list: ``entries`` (each ``entry`` as shown, ``network`` canonical, ``added_at``)
    and ``allow_all`` (True while it is empty)."""
    require_account(conn, account_id)
    added = dict(conn.execute(select(ip_allow_list.c.network, ip_allow_list.c.created_at)
                              .where(ip_allow_list.c.account_id == account_id)).all())
    rows = [{"entry": source_ip.shown(net), "network": str(net),
             "added_at": added[str(net)].isoformat()} for net in _networks(conn, account_id)]
    return {"AccountId": str(account_id), "allow_all": not rows, "entries": rows,
            "capacity": CAPACITY}


def allow(conn: Connection, account_id: int, entry: str, now: datetime) -> dict:
    """Put an address or range on the list (already there: nothing changes).

    A malformed entry or a full list raises ``isv.INVALID_PARAMETERS``.
    """
    require_account(conn, account_id)
    network = source_ip.parse_entry(entry)
    where = (ip_allow_list.c.account_id == account_id,
             ip_allow_list.c.network == str(network))
    present = conn.scalar(select(ip_allow_list.c.network).where(*where)) is not None
    if not present:
        held = conn.scalar(select(func.count()).select_from(ip_allow_list)
                           .where(ip_allow_list.c.account_id == account_id))
        if held >= CAPACITY:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"The IP allow-list holds at most {CAPACITY} entries and is full; "
                              f"remove one, or use a wider range, before adding {entry.strip()}.")
        conn.execute(insert(ip_allow_list).values(account_id=account_id, network=str(network),
                                                  created_at=now))
    audit.record(conn, "ip_allow_list.allow", f"ip_allow_list:{network}", account_id=account_id,
                 before={"listed": present}, after={"listed": True}, now=now)
    return {"AccountId": str(account_id), "entry": source_ip.shown(network),
            "network": str(network), "added": not present}


def deny(conn: Connection, account_id: int, entry: str) -> dict:
    """Take an address or range off the list; one not on it raises ``isv.INVALID_PARAMETERS``.
    Removing the last entry allows every address again."""
    require_account(conn, account_id)
    network = source_ip.parse_entry(entry)
    removed = conn.execute(delete(ip_allow_list).where(
        ip_allow_list.c.account_id == account_id,
        ip_allow_list.c.network == str(network))).rowcount
    if not removed:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{source_ip.shown(network)} is not on the IP allow-list of account "
                          f"{account_id}.")
    left = conn.scalar(select(func.count()).select_from(ip_allow_list)
                       .where(ip_allow_list.c.account_id == account_id))
    audit.record(conn, "ip_allow_list.deny", f"ip_allow_list:{network}", account_id=account_id,
                 before={"listed": True}, after={"listed": False, "allow_all": not left})
    return {"AccountId": str(account_id), "entry": source_ip.shown(network),
            "network": str(network), "removed": True, "allow_all": not left}


@dataclass(frozen=True)
class KeyAccess:
    """An AccessKey and the allow-list of its account, read together for the key cache."""

    key: accounts.AccessKey
    allow_list: tuple[source_ip.Network, ...]


def find_access_key(conn: Connection, box: SecretBox, key_id: str) -> KeyAccess | None:
    """:func:`pigeon.services.accounts.find_access_key` plus the account's allow-list."""
    key = accounts.find_access_key(conn, box, key_id)
    if key is None:
        return None
    return KeyAccess(key=key, allow_list=tuple(_networks(conn, key.account_id)))
