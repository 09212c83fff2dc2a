"""A nonce store in memory, for the tests of the authenticator's other checks (the real one
is the database's: tests/api/test_auth.py tests it through ``db_authenticator``)."""

from __future__ import annotations


class MemoryNonces:
    def __init__(self) -> None:
        self.used: set[tuple[str, str]] = set()

    async def use(self, access_key_id, nonce, now, expires_at) -> bool:
        fresh = (access_key_id, nonce) not in self.used
        self.used.add((access_key_id, nonce))
        return fresh
