"""AIDMAP_READ_DATABASE_URL: the hot reads on a real streaming replica of the test cluster.

The replica is made here (pg_basebackup -R, a hot standby on another port, run by the same OS user)
once for this module; the rest of the suite never starts one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from aidmap.app import create_app
from aidmap.db.cluster import LocalCluster
from aidmap.db.reader import Reader
from aidmap.db.replica import ReadRouter, parse_lsn
from aidmap.settings import Settings
from tests.conftest import Api, free_port
from tests.factories import HANOI, create_need, sign_up

SEARCH = """query ($near: GeoPointInput!) {
  needs(near: $near, radiusMeters: 5000, categories: [FOOD], first: 20) { edges { node { id title } } }
}"""
ME = "{ me { id } }"
SIGN_OUT = "mutation { signOut { revokedTokens errors { code } } }"
# The indexes a search for open needs walks (one per category, and one over several: 0015, 0031).
RANK_INDEXES = "ix_needs_open_%rank_point"


def _until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {seconds} s")
        time.sleep(0.01)


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _one(conninfo: str, sql: str) -> Any:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
        assert row is not None
        return row[0]


def replayed(primary: LocalCluster, standby: LocalCluster) -> float:
    """Wait until the standby has replayed all the primary has written; how long that took (s)."""
    target = parse_lsn(_one(primary.conninfo("postgres"), "SELECT pg_current_wal_insert_lsn()::text"))
    assert target is not None
    started = time.perf_counter()

    def caught_up() -> bool:
        replay = parse_lsn(_one(standby.conninfo("postgres"), "SELECT pg_last_wal_replay_lsn()::text"))
        # At a page boundary the insert position is past the next page's header.
        return replay is not None and replay >= target - 40

    _until(caught_up, "replayed")
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def standby(pg_cluster: LocalCluster) -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="aidmap-test-replica-"))
    replica = pg_cluster.replicate(base, free_port())
    replica.start()
    try:
        yield replica
    finally:
        replica.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def read_url(pg_cluster: LocalCluster, standby: LocalCluster, database_url: str) -> str:
    replayed(pg_cluster, standby)  # this test's database (cloned a moment ago) is on the standby too
    return standby.url(_dbname(database_url))


@contextlib.contextmanager
def serving(settings: Settings, **overrides: Any) -> Iterator[tuple[Api, ReadRouter]]:
    changed = dataclasses.replace(settings, **overrides)
    with TestClient(create_app(changed, database_url=changed.database_url or "")) as http:
        yield Api(http), http.app.state.router  # type: ignore[attr-defined]


def served(api: Api) -> dict[str, float]:
    """How many hot reads each server answered, from /metrics."""
    page = api.http.get("/metrics").text
    found = re.findall(r'^aidmap_hot_reads_total\{server="(\w+)"\} ([0-9.e+]+)$', page, re.MULTILINE)
    return {"replica": 0.0, "primary": 0.0} | {server: float(count) for server, count in found}


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in after}


def search(api: Api, token: str | None = None) -> list[str]:
    edges = api.data(SEARCH, {"near": HANOI}, token)["needs"]["edges"]
    return [e["node"]["id"] for e in edges]


def rank_index_scans(conninfo: str) -> int:
    return int(
        _one(
            conninfo,
            f"SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE indexrelname LIKE '{RANK_INDEXES}'",
        )
    )


def backends_gone(cluster: LocalCluster, name: str) -> None:
    """Wait until no session of the app is left on that server (a backend's statistics are flushed when it exits)."""
    sql = f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    _until(lambda: _one(cluster.conninfo("postgres"), sql) == 0, "disconnected")


def test_the_read_router_answers_from_the_standby(database_url: str, read_url: str) -> None:
    async def run() -> tuple[bool, bool]:
        primary, replica = Reader(database_url, max_size=2), Reader(read_url, max_size=2)
        await primary.open()
        router = ReadRouter(primary, replica, max_lag_s=2.0)
        await router.start()
        try:
            assert router.fresh
            on_router = (await router.fetch("SELECT pg_is_in_recovery() AS standby", {}))[0].standby
            on_primary = (await primary.fetch("SELECT pg_is_in_recovery() AS standby", {}))[0].standby
            return on_router, on_primary
        finally:
            await router.stop()
            await primary.close()

    assert asyncio.run(run()) == (True, False)


def test_searches_and_token_look_ups_are_served_by_the_replica_writes_by_the_primary(
    settings: Settings, pg_cluster: LocalCluster, standby: LocalCluster, database_url: str, read_url: str
) -> None:
    name = _dbname(database_url)
    with serving(settings, read_database_url=read_url) as (api, _):
        requester, donor = sign_up(api), sign_up(api, "Trần Bình")
        made = {create_need(api, requester, title=f"Gạo {i}")["id"] for i in range(3)}
    # The writes are on the primary (the standby would refuse them: it is read-only).
    assert _one(pg_cluster.conninfo(name), "SELECT count(*) FROM needs") == 3
    replayed(pg_cluster, standby)
    before = rank_index_scans(pg_cluster.conninfo(name)), rank_index_scans(standby.conninfo(name))

    for compiled in (True, False):  # the compiled fast path and the ordinary pipeline
        with serving(settings, read_database_url=read_url, compiled_queries=compiled) as (api, router):
            _until(lambda: router.fresh, "fresh")
            counts = served(api)
            for _ in range(5):
                assert set(search(api)) == made
                assert set(search(api, donor)) == made
                assert api.data(ME, token=donor)["me"] is not None
            # 10 searches and 10 token look-ups, all on the replica.
            assert delta(counts, served(api)) == {"replica": 20.0, "primary": 0.0}

    for cluster in (pg_cluster, standby):
        backends_gone(cluster, name)
    after = rank_index_scans(pg_cluster.conninfo(name)), rank_index_scans(standby.conninfo(name))
    # PostgreSQL's own count: the searches' index scans happened on the standby, none on the primary.
    assert after[0] == before[0]
    assert after[1] - before[1] >= 20


def test_a_just_created_need_reaches_the_replica_and_what_lags_is_bounded(
    settings: Settings, pg_cluster: LocalCluster, standby: LocalCluster, read_url: str, capsys: Any
) -> None:
    with serving(settings, read_database_url=read_url, read_max_lag_seconds=1.0) as (api, router):
        requester, other = sign_up(api), sign_up(api, "Lê Chi")
        first = create_need(api, requester)["id"]
        lag = replayed(pg_cluster, standby)
        _until(lambda: router.fresh, "fresh")
        counts = served(api)
        assert first in search(api)
        assert delta(counts, served(api)) == {"replica": 1.0, "primary": 0.0}

        # Read-your-writes: right after posting, the requester's own search is read on the primary.
        second = create_need(api, requester, title="Sữa")["id"]
        counts = served(api)
        assert {first, second} <= set(search(api, requester))
        assert delta(counts, served(api)) == {"replica": 1.0, "primary": 1.0}  # token there, search here

        replica = standby.conninfo("postgres")
        with psycopg.connect(replica, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            try:
                _until(lambda: _one(replica, "SELECT pg_get_wal_replay_pause_state()") == "paused", "paused")
                third = create_need(api, other, title="Thuốc")["id"]
                counts = served(api)
                found = search(api)
                # Within the bound the replica may answer without the newest need, and only then.
                by_replica = delta(counts, served(api))["replica"] == 1.0
                assert (third not in found) == by_replica
                # Past the bound the same search goes to the primary, which has it.
                _until(lambda: not router.fresh, "stale")
                counts = served(api)
                assert third in search(api)
                assert delta(counts, served(api)) == {"replica": 0.0, "primary": 1.0}
            finally:
                conn.execute("SELECT pg_wal_replay_resume()")
        replayed(pg_cluster, standby)
        _until(lambda: router.fresh, "fresh again")
        assert third in search(api)
    with capsys.disabled():
        print(f"\n  a new need was on the replica {lag * 1000:.1f} ms after createNeed answered")


def test_a_revoked_token_stops_at_once_even_while_the_replica_lags(
    settings: Settings, pg_cluster: LocalCluster, standby: LocalCluster, read_url: str
) -> None:
    with serving(settings, read_database_url=read_url, read_max_lag_seconds=1.0) as (api, router):
        lagging, current = sign_up(api), sign_up(api, "Phạm Dũng")
        replayed(pg_cluster, standby)
        _until(lambda: router.fresh, "fresh")
        counts = served(api)
        assert api.data(ME, token=lagging)["me"] is not None
        assert delta(counts, served(api))["replica"] == 1.0  # the replica knows the token

        # The replica current: signOut answers once the replica has the revocation.
        assert api.data(SIGN_OUT, token=current)["signOut"]["revokedTokens"] == 1
        assert api.data(ME, token=current)["me"] is None

        replica = standby.conninfo("postgres")
        with psycopg.connect(replica, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            try:
                _until(lambda: _one(replica, "SELECT pg_get_wal_replay_pause_state()") == "paused", "paused")
                assert api.data(SIGN_OUT, token=lagging)["signOut"]["revokedTokens"] == 1
                # The paused replica still holds the token as live, but may no longer answer.
                assert not router.fresh
                assert api.data(ME, token=lagging)["me"] is None
                assert api.post(SIGN_OUT, token=lagging)["data"]["signOut"]["errors"][0]["code"] == "UNAUTHENTICATED"
            finally:
                conn.execute("SELECT pg_wal_replay_resume()")


@pytest.fixture
def own_standby(pg_cluster: LocalCluster) -> Iterator[LocalCluster]:
    """A replica of this test's own, to stop and start."""
    base = Path(tempfile.mkdtemp(prefix="aidmap-test-replica-"))
    replica = pg_cluster.replicate(base, free_port())
    replica.start()
    try:
        yield replica
    finally:
        replica.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_reads_fall_back_to_the_primary_while_the_replica_is_down(
    settings: Settings, pg_cluster: LocalCluster, own_standby: LocalCluster, database_url: str
) -> None:
    replayed(pg_cluster, own_standby)
    read_url = own_standby.url(_dbname(database_url))
    with serving(settings, read_database_url=read_url, read_max_lag_seconds=0.5) as (api, router):
        requester, donor = sign_up(api), sign_up(api, "Võ Em")
        need = create_need(api, requester)["id"]
        replayed(pg_cluster, own_standby)
        _until(lambda: router.fresh, "fresh")
        counts = served(api)
        assert need in search(api, donor)
        assert delta(counts, served(api)) == {"replica": 2.0, "primary": 0.0}

        own_standby.stop()
        counts = served(api)
        assert need in search(api, donor)
        assert api.data(ME, token=donor)["me"] is not None
        assert api.data(SIGN_OUT, token=requester)["signOut"]["revokedTokens"] == 1
        assert api.data(ME, token=requester)["me"] is None
        assert delta(counts, served(api))["primary"] >= 4.0

        own_standby.start()
        _until(lambda: router.fresh, "fresh after the restart")
        counts = served(api)
        assert need in search(api)
        assert delta(counts, served(api)) == {"replica": 1.0, "primary": 0.0}


def test_a_replica_that_cannot_be_reached_at_start_changes_no_answer(settings: Settings) -> None:
    unreachable = f"postgresql+psycopg://aidmap:x@127.0.0.1:{free_port()}/nowhere"
    with serving(settings, read_database_url=unreachable) as (api, router):
        token = sign_up(api)
        need = create_need(api, token)["id"]
        assert not router.fresh
        counts = served(api)
        assert need in search(api)
        assert api.data(ME, token=token)["me"] is not None
        assert delta(counts, served(api)) == {"replica": 0.0, "primary": 2.0}


def test_without_a_read_url_everything_reads_the_primary(settings: Settings) -> None:
    with serving(settings) as (api, router):
        token = sign_up(api)
        need = create_need(api, token)["id"]
        assert router.replica is None
        counts = served(api)
        assert need in search(api, token)
        assert delta(counts, served(api)) == {"replica": 0.0, "primary": 2.0}
