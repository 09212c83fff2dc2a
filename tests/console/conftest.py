"""Fixtures for the console's tests: a live Pigeon with its workers, console users, and a real
browser (Playwright driving the system's Chromium, /usr/bin/chromium).

Browser tests run on SQLite only (they test pages, not storage; the HTTP-level console tests
run on both databases).  Without /usr/bin/chromium they are skipped, unless
``PIGEON_TEST_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from pigeon.app import Pigeon
from pigeon.services import accounts, console_users
from tests.conftest import MISSING_TOOL, TEST_SECRET_KEY
from tests.support.sdk import Tenant
from tests.support.server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery"


def _browser_available() -> None:
    """Skip (or, in CI, fail) when the system's Chromium or Playwright is missing."""
    required = os.environ.get("PIGEON_TEST_REQUIRE_BROWSER") == "1"
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install -e '.[test]')"
    if problem:
        if required:
            pytest.fail(f"a browser is required (PIGEON_TEST_REQUIRE_BROWSER=1) but {problem}")
        pytest.skip(f"{MISSING_TOOL}browser tests need the system's Chromium: {problem}")


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module.  Not per session: while Playwright's sync API is
    started, its event loop counts as running in the main thread, and tests of other modules
    that run an event loop of their own (asyncio.run) would fail."""
    _browser_available()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class ConsoleUser:
    email: str
    password: str
    account_id: int | None
    tenant: Tenant | None = None  # with an AccessKey, for the SDK


class ConsoleSite:
    """A running Pigeon and its console, with helpers to make users."""

    def __init__(self, pigeon: Pigeon, live: LiveServer) -> None:
        self.pigeon = pigeon
        self.live = live
        self.url = live.url

    def _user(self, account_id: int | None, email: str) -> None:
        self.pigeon.db.write_sync(console_users.create_user, account_id, email,
                                  console_users.hash_password(PASSWORD), self.pigeon.now())

    def tenant_user(self, email: str = "dev@lark.example", name: str = "Lark Technology"):
        now = self.pigeon.now()
        account = self.pigeon.db.write_sync(accounts.create_account, name, now)
        account_id = int(account["AccountId"])
        key = self.pigeon.db.write_sync(accounts.create_access_key, self.pigeon.box,
                                        account_id, now)
        self._user(account_id, email)
        return ConsoleUser(email, PASSWORD, account_id,
                           Tenant(account_id=account_id, key_id=key["AccessKeyId"],
                                  secret=key["AccessKeySecret"]))

    def operator_user(self, email: str = "ops@pigeon.example") -> ConsoleUser:
        self._user(None, email)
        return ConsoleUser(email, PASSWORD, None)


@pytest.fixture
def console_settings(tmp_path):
    from pigeon.config import Settings

    return Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'p.db'}",
                    review_mode="rules", registration_delay=timedelta(0),
                    secret_key=TEST_SECRET_KEY, simulator_delay=timedelta(milliseconds=50))


@pytest.fixture
def site_factory(console_settings):
    """``site(**settings overrides)``: a Pigeon with its workers, serving the console."""
    started = []

    def start(**overrides) -> ConsoleSite:
        pigeon = Pigeon(replace(console_settings, **overrides))
        live = LiveServer(pigeon, workers=True).start()
        started.append((pigeon, live))
        return ConsoleSite(pigeon, live)

    yield start
    for pigeon, live in started:
        live.stop()
        pigeon.close()


@pytest.fixture
def site(site_factory) -> ConsoleSite:
    return site_factory()


@pytest.fixture
def new_page(browser):
    """``new_page(site)``: a page in a fresh browser context (its own cookies)."""
    contexts = []

    def open_page(site: ConsoleSite):
        context = browser.new_context(base_url=site.url, locale="en-US")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page, user: ConsoleUser, *, expect_ok: bool = True) -> None:
    page.goto("/console/signin")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", user.password)
    page.click("button[type=submit]")
    if expect_ok:
        page.wait_for_url(re.compile(r".*/(console|ops)/$"))
