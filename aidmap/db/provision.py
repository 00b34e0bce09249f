"""Which database to use: AIDMAP_DATABASE_URL if set, else the project's own local cluster."""

from __future__ import annotations

from dataclasses import dataclass

from aidmap.db.cluster import LocalCluster, find_bin_dir
from aidmap.settings import Settings


def local_cluster(settings: Settings) -> LocalCluster:
    return LocalCluster(base_dir=settings.data_dir, port=settings.pg_port, bin_dir=find_bin_dir(settings.pg_bin_dir))


@dataclass
class Database:
    url: str
    # The local cluster this process started (and so must stop), if any.
    started: LocalCluster | None


def open_database(settings: Settings) -> Database:
    """The URL to use, starting the local cluster first when no URL is configured."""
    if settings.database_url:
        url = settings.database_url
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return Database(url=url, started=None)
    cluster = local_cluster(settings)
    started = cluster.ensure_started()
    cluster.ensure_database("aidmap")
    return Database(url=cluster.url("aidmap"), started=cluster if started else None)
