"""The migrations build exactly the schema tables.py declares, on both databases."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from pigeon.store import migrate
from pigeon.store.database import maintenance_engine
from pigeon.store.tables import metadata


def test_the_migrations_match_the_tables(database_url):
    migrate.upgrade(database_url)  # fresh, or already migrated: either way idempotent
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_a_database_one_revision_behind_is_brought_to_the_head(database_url, monkeypatch):
    engine = maintenance_engine(database_url)
    try:
        with engine.begin() as conn:
            config = migrate.alembic_config(database_url)
            config.attributes["connection"] = conn
            command.downgrade(config, "-1")
            behind = migrate.current(conn)
        assert behind is not None and behind != migrate.head()
        migrate.upgrade(database_url)
        with engine.connect() as conn:
            assert migrate.current(conn) == migrate.head()
        # At the head already, Alembic is not even asked.
        monkeypatch.setattr(command, "upgrade", lambda *args: pytest.fail("Alembic ran"))
        migrate.upgrade(database_url)
    finally:
        engine.dispose()
