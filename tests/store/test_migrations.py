"""The migrations build exactly the schema tables.py declares, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from pigeon.store import migrate
from pigeon.store.tables import metadata


def test_the_migrations_match_the_tables(database_url):
    migrate.upgrade(database_url)  # fresh, or already migrated: either way idempotent
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()
