"""Browser origins: CORS for partners' and configured origins, and the websocket Origin check."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from aidmap.cli import partners
from aidmap.settings import Settings
from tests.conftest import Api, LiveServer

PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, allowed_origins=("https://aidmap.example.org",))


def test_preflight_is_answered_for_allowed_origins_only(api: Api, database_url: str) -> None:
    partners.create(
        url=database_url, name="Trường học", scopes=["needs:read"], rate_limit_per_minute=60,
        allowed_origins=["https://school.example.edu"],
    )  # fmt: skip

    configured = api.http.options("/graphql", headers={"Origin": "https://aidmap.example.org", **PREFLIGHT})
    partner = api.http.options("/graphql", headers={"Origin": "https://school.example.edu", **PREFLIGHT})
    stranger = api.http.options("/graphql", headers={"Origin": "https://evil.example", **PREFLIGHT})

    assert configured.status_code == partner.status_code == 204
    assert partner.headers["access-control-allow-origin"] == "https://school.example.edu"
    assert "authorization" in partner.headers["access-control-allow-headers"]
    assert stranger.status_code == 403 and "access-control-allow-origin" not in stranger.headers


def test_requests_carry_cors_headers_only_for_allowed_origins(api: Api) -> None:
    query = {"query": "{ __typename }"}

    allowed = api.http.post("/graphql", json=query, headers={"Origin": "https://aidmap.example.org"})
    same_origin = api.http.post("/graphql", json=query, headers={"Origin": "http://testserver"})
    refused = api.http.post("/graphql", json=query, headers={"Origin": "https://evil.example"})

    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://aidmap.example.org"
    assert same_origin.status_code == 200
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_a_partner_key_works_only_from_that_partners_origins(api: Api, database_url: str) -> None:
    _, key = partners.create(
        url=database_url, name="A", scopes=["needs:read"], rate_limit_per_minute=60,
        allowed_origins=["https://a.example.org"],
    )  # fmt: skip
    partners.create(
        url=database_url, name="B", scopes=["needs:read"], rate_limit_per_minute=60,
        allowed_origins=["https://b.example.org"],
    )  # fmt: skip
    query = {"query": "{ __typename }"}

    def post(origin: str) -> Any:
        return api.http.post("/graphql", json=query, headers={"Origin": origin, "Authorization": f"Bearer {key}"})

    assert post("https://a.example.org").status_code == 200
    # B's origin passes CORS (it is some partner's), but not with A's key.
    assert post("https://b.example.org").status_code == 403


def test_websocket_handshakes_from_other_origins_are_refused(live_server: LiveServer) -> None:
    url = live_server.url.replace("http", "ws", 1) + "/graphql"

    with pytest.raises(InvalidStatus) as refused:
        connect(url, subprotocols=["graphql-transport-ws"], origin="https://evil.example")  # type: ignore[list-item,arg-type]
    with connect(url, subprotocols=["graphql-transport-ws"], origin="https://aidmap.example.org") as ok:  # type: ignore[list-item,arg-type]
        assert ok.subprotocol == "graphql-transport-ws"
    with connect(url, subprotocols=["graphql-transport-ws"]) as no_origin:  # type: ignore[list-item]
        assert no_origin.subprotocol == "graphql-transport-ws"  # not a browser

    assert refused.value.response.status_code == 403
