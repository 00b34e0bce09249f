"""Migrations and models agree, and upgrading twice is harmless."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from aidmap.db.migrate import upgrade
from aidmap.models import Base


def test_models_match_the_migrated_database(database_url: str) -> None:
    upgrade(database_url)  # already at head: a no-op
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    # GiST indexes live only in the migration (hand-written); PostGIS's own tables are not ours.
    relevant = [d for d in diff if not (d[0] == "remove_index" and "location" in d[1].name) and d[0] != "remove_table"]
    assert relevant == []
