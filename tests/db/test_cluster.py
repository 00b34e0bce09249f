"""The local cluster launcher and `aidmap serve`: start, stop, and nothing lost in between."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest

from aidmap.db.cluster import ClusterError, LocalCluster, find_bin_dir
from tests.conftest import free_port
from tests.factories import CREATE_NEED, SIGN_UP, need_input

pytestmark = pytest.mark.slow


@pytest.fixture
def base_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "aidmap-data"
    # Never leave a server behind, whatever the test did.
    cluster = LocalCluster(base_dir=tmp_path / "aidmap-data", port=0, bin_dir=find_bin_dir())
    if cluster.is_running():
        cluster.stop()


def test_data_survives_a_cluster_restart(base_dir: Path) -> None:
    cluster = LocalCluster(base_dir=base_dir, port=free_port(), bin_dir=find_bin_dir())

    assert cluster.ensure_started() is True
    assert cluster.ensure_started() is False  # a second start reuses the running server
    cluster.ensure_database("aidmap")
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    cluster.stop()
    assert not cluster.is_running()
    if os.geteuid() == 0:
        assert (cluster.data_dir.stat().st_uid, cluster.server_user) != (0, None)
    cluster.start()

    with psycopg.connect(cluster.conninfo()) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]


def test_a_data_directory_follows_the_port_it_is_given(base_dir: Path) -> None:
    """AIDMAP_PG_PORT holds for a data directory made with another port (it used to be ignored)."""
    first, second = free_port(), free_port()
    LocalCluster(base_dir=base_dir, port=first, bin_dir=find_bin_dir()).ensure_started()
    with pytest.raises(ClusterError, match=f"already running on port {first}"):
        LocalCluster(base_dir=base_dir, port=second, bin_dir=find_bin_dir()).ensure_started()
    LocalCluster(base_dir=base_dir, port=first, bin_dir=find_bin_dir()).stop()

    moved = LocalCluster(base_dir=base_dir, port=second, bin_dir=find_bin_dir())
    assert moved.ensure_started() is True
    moved.ensure_database("aidmap")
    with psycopg.connect(moved.conninfo(), autocommit=True) as conn:
        assert conn.execute("SHOW port").fetchone() == (str(second),)


def _serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "aidmap.cli", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode() if process.stdout else "serve exited")
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("aidmap serve did not become healthy")


def _stop(process: subprocess.Popen[bytes], how: signal.Signals = signal.SIGINT) -> str:
    process.send_signal(how)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out.decode()
    return out.decode()


def _gql(url: str, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = httpx2.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
    ).json()
    return body["data"]


def test_serve_starts_its_own_cluster_seeds_once_and_stops_it_without_losing_data(base_dir: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "AIDMAP_DATABASE_URL"}
    env.update(
        AIDMAP_DATA_DIR=str(base_dir),
        AIDMAP_PG_PORT=str(free_port()),
        AIDMAP_PORT=str(port),
        AIDMAP_PASSWORD_HASH_PROFILE="CHEAPEST",
    )
    url = f"http://127.0.0.1:{port}"
    count_needs = "{ needs(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 50000, first: 1, statuses: [OPEN, PARTLY_PLEDGED, PLEDGED, FULFILLED, CANCELLED]) { edges { cursor } } }"

    first = _serve(env)
    _wait_healthy(url, first)
    token = _gql(url, SIGN_UP, {"input": {"displayName": "Lan", "phone": "0987654321", "password": "long enough"}})[
        "signUp"
    ]["token"]
    made = _gql(url, CREATE_NEED, {"input": need_input(title="kept across restarts")}, token)["createNeed"]
    assert made["errors"] == []
    assert _gql(url, count_needs, {})["needs"]["edges"], "the demo data set was loaded into the empty database"
    cluster = LocalCluster(base_dir=base_dir, port=int(env["AIDMAP_PG_PORT"]), bin_dir=find_bin_dir())
    with psycopg.connect(cluster.conninfo()) as conn:
        seeded = conn.execute("SELECT count(*) FROM needs").fetchone()
    _stop(first)
    assert not cluster.is_running(), "stopping the service stops the cluster it started"

    second = _serve(env)
    try:
        _wait_healthy(url, second)
        mine = _gql(url, "{ myNeeds(first: 5) { edges { node { title } } } }", {}, token)["myNeeds"]["edges"]
        assert [e["node"]["title"] for e in mine] == ["kept across restarts"]
        with psycopg.connect(cluster.conninfo()) as conn:
            assert conn.execute("SELECT count(*) FROM needs").fetchone() == seeded, (
                "the demo is loaded only into an empty database"
            )
    finally:
        # SIGTERM, as systemd, `docker stop` or make (passing on its own) send it: the same clean stop.
        _stop(second, signal.SIGTERM)
    assert not cluster.is_running(), "a SIGTERM stops the cluster the service started too"


def test_make_run_stopped_by_sigterm_leaves_no_server_and_no_cluster_behind(base_dir: Path) -> None:
    # The README's command as a supervisor runs it (systemd, `docker stop`): a SIGTERM to make itself.
    # make passes it to its child, which must be the server, not a shell that dies and orphans it.
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("AIDMAP_DATABASE_URL", "MAKEFLAGS", "MAKELEVEL")}
    env.update(
        AIDMAP_DATA_DIR=str(base_dir), AIDMAP_PG_PORT=str(free_port()), AIDMAP_PORT=str(port),
        AIDMAP_PASSWORD_HASH_PROFILE="CHEAPEST",
    )  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    make = subprocess.Popen(
        ["make", "--no-print-directory", "-C", str(root), "run"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", make)
        make.send_signal(signal.SIGTERM)
        out, _ = make.communicate(timeout=60)
        with pytest.raises(httpx2.HTTPError):
            httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        cluster = LocalCluster(base_dir=base_dir, port=int(env["AIDMAP_PG_PORT"]), bin_dir=find_bin_dir())
        deadline = time.monotonic() + 15  # the postmaster may take a moment to be reaped
        while cluster.is_running() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not cluster.is_running(), out.decode()[-2000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)  # whatever is left of the group, should the test fail
