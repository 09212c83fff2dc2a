"""An account's IP allow-list for API calls, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from pigeon.core.errors import PigeonError
from pigeon.services import ip_allow_list


def entries(pigeon, account_id) -> list[str]:
    return [e["entry"] for e in pigeon.db.read_sync(ip_allow_list.entries,
                                                    account_id)["entries"]]


def test_an_empty_list_allows_every_address(pigeon, tenant):
    shown = pigeon.db.read_sync(ip_allow_list.entries, tenant.account_id)
    assert shown["allow_all"] is True and shown["entries"] == []


def test_entries_are_kept_once_in_canonical_form_ipv4_first(pigeon, tenant):
    for entry in ("2001:DB8::/32", "203.0.113.0/24", "127.0.0.1", "127.0.0.1/32"):
        pigeon.db.write_sync(ip_allow_list.allow, tenant.account_id, entry, pigeon.now())
    assert entries(pigeon, tenant.account_id) == ["127.0.0.1", "203.0.113.0/24",
                                                  "2001:db8::/32"]
    again = pigeon.db.write_sync(ip_allow_list.allow, tenant.account_id, " 127.0.0.1 ",
                                 pigeon.now())
    assert again["added"] is False


def test_removing_the_last_entry_allows_every_address_again(pigeon, tenant):
    pigeon.db.write_sync(ip_allow_list.allow, tenant.account_id, "203.0.113.7", pigeon.now())
    removed = pigeon.db.write_sync(ip_allow_list.deny, tenant.account_id, "203.0.113.7/32")
    assert removed["removed"] and removed["allow_all"]
    with pytest.raises(PigeonError) as caught:
        pigeon.db.write_sync(ip_allow_list.deny, tenant.account_id, "203.0.113.7")
    assert "is not on the IP allow-list" in caught.value.message


def test_a_bad_entry_changes_nothing(pigeon, tenant):
    with pytest.raises(PigeonError) as caught:
        pigeon.db.write_sync(ip_allow_list.allow, tenant.account_id, "10.0.0.1/8",
                             pigeon.now())
    assert caught.value.code == "isv.INVALID_PARAMETERS"
    assert entries(pigeon, tenant.account_id) == []


def test_the_list_holds_at_most_its_capacity(pigeon, tenant, monkeypatch):
    monkeypatch.setattr(ip_allow_list, "CAPACITY", 2)
    for entry in ("198.51.100.1", "198.51.100.2"):
        pigeon.db.write_sync(ip_allow_list.allow, tenant.account_id, entry, pigeon.now())
    with pytest.raises(PigeonError) as caught:
        pigeon.db.write_sync(ip_allow_list.allow, tenant.account_id, "198.51.100.3",
                             pigeon.now())
    assert "holds at most 2 entries" in caught.value.message


def test_each_account_has_its_own_list_and_the_key_lookup_reads_it(pigeon, tenant,
                                                                   other_tenant):
    pigeon.db.write_sync(ip_allow_list.allow, tenant.account_id, "203.0.113.0/24",
                         pigeon.now())
    mine = pigeon.db.read_sync(ip_allow_list.find_access_key, pigeon.box, tenant.key_id)
    theirs = pigeon.db.read_sync(ip_allow_list.find_access_key, pigeon.box,
                                 other_tenant.key_id)
    assert [str(n) for n in mine.allow_list] == ["203.0.113.0/24"]
    assert mine.key.secret == tenant.secret
    assert theirs.allow_list == ()
    assert pigeon.db.read_sync(ip_allow_list.find_access_key, pigeon.box, "LTAI5tNoSuch") is None


def test_an_unknown_account_is_refused(pigeon):
    with pytest.raises(PigeonError) as caught:
        pigeon.db.write_sync(ip_allow_list.allow, 1234, "203.0.113.7", pigeon.now())
    assert caught.value.code == "isv.ACCOUNT_NOT_EXISTS"
