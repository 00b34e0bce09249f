"""The server passes graphql-http's audit suite (the GraphQL-over-HTTP reference implementation's own checks).

The audit asks `__type(...)` for its variables checks, so it runs against a dev-mode server
(introspection on); everything else about the HTTP behaviour is the same in production.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest

from aidmap.settings import PROJECT_ROOT, Settings
from tests.conftest import LiveServer

NODE_DIR = PROJECT_ROOT / "tests" / "node"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, dev=True)


def test_every_graphql_http_audit_passes(live_server: LiveServer) -> None:
    if not (NODE_DIR / "node_modules" / "graphql-http").exists():
        pytest.fail("tests/node is not installed: `make test` runs npm ci there (scripts/setup.sh)")
    completed = subprocess.run(
        ["node", "audit.mjs", live_server.url + "/graphql"], cwd=NODE_DIR, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    not_ok = [f"{r['status']}: {r['name']} ({r['reason']})" for r in results if r["status"] != "ok"]
    assert len(results) >= 50
    assert not_ok == []
