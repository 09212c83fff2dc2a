"""signatures.page: the list behind QuerySmsSignList and the console's signature pages."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert

from pigeon.services import accounts, signatures
from pigeon.store.tables import signatures as table

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
NAMES = ["云雀_科技", "云雀A科技", "百分%之百", "百分之百", "A/B", "ab"]


def test_the_list_is_newest_first_filtered_and_paged(pigeon):
    account_id = int(pigeon.db.write_sync(accounts.create_account, "Lark", NOW)["AccountId"])
    other = int(pigeon.db.write_sync(accounts.create_account, "Other", NOW)["AccountId"])
    pigeon.db.write_sync(lambda conn: conn.execute(insert(table), [
        {"account_id": owner, "name": name, "name_key": name.lower(), "source": 0,
         "sign_type": 1, "status": n % 2, "extension_code": f"{n:02d}{o}", "created_at": NOW}
        for o, owner in enumerate((account_id, other)) for n, name in enumerate(NAMES)]))

    def names(**filters) -> tuple[int, list[str]]:
        page_index, page_size = filters.pop("page", 1), filters.pop("size", 10)
        total, rows = pigeon.db.read_sync(signatures.page, account_id, page_index, page_size,
                                          **filters)
        return total, [row["name"] for row in rows]

    assert names() == (6, list(reversed(NAMES)))  # the tenant's own, newest first
    assert names(name="_") == (1, ["云雀_科技"])  # not "any one character"
    assert names(name="%") == (1, ["百分%之百"])  # not "anything"
    assert names(name="/") == (1, ["A/B"])
    assert names(name=" a ") == (3, ["ab", "A/B", "云雀A科技"])  # trimmed, case aside
    assert names(name="云雀", status=1) == (1, ["云雀A科技"])
    assert names(page=2, size=4) == (6, ["云雀A科技", "云雀_科技"])
    assert names(page=3, size=4) == (6, [])  # past the end
    [row] = pigeon.db.read_sync(signatures.page, account_id, 1, 1)[1]
    assert row["created_at"] == NOW and row["letter_approved"] is False
