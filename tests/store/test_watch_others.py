"""Database.watch_others: a worker learns soon after another process commits — on SQLite
from one polling thread however many workers watch, on PostgreSQL from LISTEN/NOTIFY."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from tests.support.waiting import wait_until


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("pigeon-watch")]


def commit_elsewhere(pigeon) -> None:
    """A commit made by another connection (as another process would), announced as the
    writer announces one to ``messages``."""
    engine = create_engine(pigeon.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS elsewhere (n INTEGER)"))
            conn.execute(text("INSERT INTO elsewhere VALUES (1)"))
            if engine.dialect.name == "postgresql":
                conn.execute(text("NOTIFY pigeon_messages"))
    finally:
        engine.dispose()


def test_every_watcher_hears_of_another_process_commit(pigeon):
    before = len(watcher_threads())
    heard = {"messages": threading.Event(), "report_events": threading.Event()}
    stops = [pigeon.db.watch_others(table, event.set) for table, event in heard.items()]
    try:
        if pigeon.db.is_sqlite:  # one thread for both
            assert len(watcher_threads()) == before + 1
        wait_until(lambda: len(watcher_threads()) > before, what="the watcher started")
        events = list(heard.values())

        def commit_and_listen() -> bool:  # PostgreSQL: LISTEN may not be in place yet
            commit_elsewhere(pigeon)
            return heard["messages"].wait(0.2)

        wait_until(commit_and_listen, what="the commit heard")
        if pigeon.db.is_sqlite:  # any commit wakes every watcher
            wait_until(events[1].is_set, what="the second watcher woken")
        heard["messages"].clear()
        stops.pop(0)()  # one stops watching; the other still hears
        heard["report_events"].clear()
        if pigeon.db.is_sqlite:
            commit_elsewhere(pigeon)
            wait_until(heard["report_events"].is_set, what="the remaining watcher woken")
            assert not heard["messages"].is_set()
            assert len(watcher_threads()) == before + 1
    finally:
        for stop in stops:
            stop()
    wait_until(lambda: len(watcher_threads()) == before, what="the watcher threads gone")


def test_a_table_not_announced_cannot_be_watched(pigeon):
    with pytest.raises(ValueError):
        pigeon.db.watch_others("balances", lambda: None)
