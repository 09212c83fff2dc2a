"""Fixtures of the pure rules' tests."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def machine_east_of_utc(monkeypatch):
    """The process's own time zone set to UTC+9 (Asia/Tokyo): a rule that used the machine's
    local time instead of the zone it is given would show it."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
