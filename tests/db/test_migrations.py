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
    # GiST and GIN indexes live only in the migrations (hand-written); PostGIS's own tables are not ours.
    relevant = [
        d
        for d in diff
        if not (d[0] == "remove_index" and d[1].dialect_options["postgresql"].get("using") in ("gist", "gin"))
        and d[0] != "remove_table"
    ]
    assert relevant == []
