"""The console's sign-in throttle against parallel guessing, behind a trusted proxy: the limit
holds however many attempts arrive at once, and nobody else behind the guesser's address —
nor the account's owner elsewhere — is locked out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from pigeon.services import console_users
from tests.console.test_http import add_user, sign_in

pytestmark = pytest.mark.slow

GUESSER = "203.0.113.7"


def client(served, address: str) -> httpx.Client:
    # The server trusts the loopback as its proxy (tests/security/conftest.py): the address
    # it counts is the one the proxy names.
    return httpx.Client(base_url=served.url, timeout=30, headers={"x-forwarded-for": address})


def test_forty_parallel_guesses_get_five_checks_and_lock_out_nobody_else(served):
    add_user(served.local, served.tenant.account_id, "owner@lark.example")
    add_user(served.local, None, "ops@pigeon.example")

    def guess(n):
        with client(served, GUESSER) as browser:
            return sign_in(browser, "owner@lark.example", f"wrong password {n}").status_code

    with ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(guess, range(40)))
    # Exactly five are checked, one after the other; the rest are refused unchecked.
    assert statuses.count(401) == console_users.MAX_FAILURES_PER_PAIR, statuses
    assert statuses.count(429) == 40 - console_users.MAX_FAILURES_PER_PAIR, statuses
    with client(served, GUESSER) as browser:
        assert sign_in(browser, "owner@lark.example").status_code == 429  # cooling down

    # The operator behind the same address, and the owner from home, sign in.
    with client(served, GUESSER) as operator:
        assert sign_in(operator, "ops@pigeon.example").headers["location"] == "/ops/"
    with client(served, "198.51.100.20") as owner:
        assert sign_in(owner, "owner@lark.example").status_code == 303


def test_each_address_the_trusted_proxy_names_counts_on_its_own(served):
    add_user(served.local, served.tenant.account_id, "peer@lark.example")
    for _ in range(console_users.MAX_FAILURES_PER_PAIR):
        with client(served, "192.0.2.1") as browser:
            assert sign_in(browser, "peer@lark.example", "wrong password!").status_code == 401
    with client(served, "192.0.2.1") as browser:
        assert sign_in(browser, "peer@lark.example").status_code == 429
    # Another address named by the proxy is another client.
    with client(served, "192.0.2.2") as browser:
        assert sign_in(browser, "peer@lark.example").status_code == 303
