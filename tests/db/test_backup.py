"""The backup and restore documented in docs/operations.md work: pg_dump, pg_restore into an empty database."""

from __future__ import annotations

import subprocess
from typing import Any

import psycopg

from aidmap.db.cluster import LocalCluster
from aidmap.db.reader import conninfo_from_url
from tests.conftest import Api
from tests.factories import create_need, pledge, sign_up


def _counts(url: str) -> tuple[Any, ...]:
    with psycopg.connect(conninfo_from_url(url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM needs), (SELECT count(*) FROM pledges), (SELECT max(seq) FROM events),"
            " (SELECT sum(ST_X(geometry(location))) FROM needs), (SELECT version_num FROM alembic_version)"
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_pg_dump_and_pg_restore_round_trip(
    api: Api, database_url: str, pg_cluster: LocalCluster, tmp_path: Any
) -> None:
    requester, donor = sign_up(api), sign_up(api)
    for i in range(3):
        need = create_need(api, requester, title=f"need {i}")
        pledge(api, donor, need["id"], 1)
    dump = tmp_path / "aidmap.dump"
    tool = str(pg_cluster.bin_dir / "pg_dump")
    subprocess.run(
        [tool, "--format=custom", "--no-owner", f"--file={dump}", conninfo_from_url(database_url)], check=True
    )
    with psycopg.connect(pg_cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute('CREATE DATABASE "restored" TEMPLATE template0')
    restored = database_url.rsplit("/", 1)[0] + "/restored"
    try:
        subprocess.run(
            [str(pg_cluster.bin_dir / "pg_restore"), "--no-owner", "--exit-on-error",
             f"--dbname={conninfo_from_url(restored)}", str(dump)],
            check=True,
        )  # fmt: skip
        assert _counts(restored) == _counts(database_url)
        assert _counts(restored)[:2] == (3, 3)
    finally:
        with psycopg.connect(pg_cluster.conninfo("postgres"), autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "restored" WITH (FORCE)')
