"""Partner apps: keys from the command line, scopes, acting for their own users, and nothing more."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from aidmap import cli
from aidmap.cli import partners
from aidmap.schema import schema
from aidmap.schema.limits import ROOT_SCOPES
from tests.conftest import Api
from tests.factories import CREATE_NEED, SIGN_UP, create_need, need_input, sign_up

NEED = "query ($id: ID!) { node(id: $id) { ... on Need { title exactLocation { lat } contactPhone } } }"
SEARCH = "{ needs(near: {lat: 21.0285, lon: 105.8542}, radiusMeters: 1000, first: 5) { edges { node { id } } } }"


def _partner(database_url: str, name: str, scopes: str) -> str:
    _, key = partners.create(
        url=database_url, name=name, scopes=partners.parse_scopes(scopes), rate_limit_per_minute=600,
        allowed_origins=[],
    )  # fmt: skip
    return key


def _post(api: Api, key: str, query: str, variables: dict[str, Any] | None = None, act_as: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} | ({"Aidmap-Act-As": act_as} if act_as else {})
    return api.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


def _sign_up_through(api: Api, key: str, phone: str) -> dict[str, Any]:
    variables = {"input": {"displayName": "Bà Lan", "phone": phone, "password": "long enough"}}
    payload: dict[str, Any] = _post(api, key, SIGN_UP, variables).json()["data"]["signUp"]
    return payload


def test_partner_create_prints_a_key_once_and_stores_only_its_hash(
    api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    db: psycopg.Connection[Any],
) -> None:  # fmt: skip
    monkeypatch.setenv("AIDMAP_DATABASE_URL", database_url)

    code = cli.main(
        ["partner", "create", "--name", "Hue-S", "--scopes", "needs:read,private:read", "--rate-limit", "120"]
    )
    key = capsys.readouterr().out.strip().splitlines()[-1]
    bad = cli.main(["partner", "create", "--name", "X", "--scopes", "needs:read,root"])
    cli.main(["partner", "list"])
    listed = capsys.readouterr().out

    assert (code, bad) == (0, 2)
    assert key.startswith("amk_") and len(key) > 40
    assert db.execute("SELECT count(*) FROM partners WHERE key_hash = %s", (partners.hash_key(key),)).fetchone() == (1,)
    assert key not in str(db.execute("SELECT * FROM partners").fetchall())
    assert "Hue-S\tactive\tneeds:read,private:read\t120/min" in listed
    assert _post(api, key, SEARCH).status_code == 200
    assert cli.main(["partner", "revoke", "--name", "Hue-S"]) == 0
    assert cli.main(["partner", "revoke", "--name", "Hue-S"]) == 2


def test_unknown_and_revoked_keys_get_401(api: Api, database_url: str) -> None:
    key = _partner(database_url, "old", "needs:read")
    partners.revoke(url=database_url, name="old")

    assert _post(api, key, SEARCH).status_code == 401
    assert _post(api, "amk_not-a-key", SEARCH).status_code == 401


def test_a_key_does_only_what_its_scopes_allow(api: Api, database_url: str) -> None:
    reader = _partner(database_url, "map", "needs:read")

    search = _post(api, reader, SEARCH).json()
    write = _post(api, reader, CREATE_NEED, {"input": need_input()}).json()
    both = _post(
        api, reader, "{ needs(near: {lat: 1, lon: 1}, radiusMeters: 10, first: 1) { edges { cursor } } me { id } }"
    ).json()
    admin_work = _post(
        api, reader, 'mutation { grantRole(input: {accountId: "x", role: ADMIN}) { errors { code } } }'
    ).json()

    assert search == {"data": {"needs": {"edges": []}}}
    assert write["data"] is None and write["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "createNeed (needs:write)" in write["errors"][0]["message"]
    assert both["data"] is None and "me (accounts)" in both["errors"][0]["message"]
    assert "grantRole (not available to partner apps)" in admin_work["errors"][0]["message"]


def test_every_root_field_has_a_decided_scope() -> None:
    roots = [schema._schema.query_type, schema._schema.mutation_type, schema._schema.subscription_type]
    fields = {name for root in roots if root is not None for name in root.fields}
    assert fields == set(ROOT_SCOPES)


def test_a_partner_acts_for_its_own_users_and_sees_private_data_only_with_the_scope(
    api: Api, database_url: str, db: psycopg.Connection[Any]
) -> None:
    hotline = _partner(database_url, "hotline", "accounts,needs:read,needs:write")
    trusted = _partner(database_url, "trusted", "accounts,needs:read,needs:write,private:read")
    signed_up = _sign_up_through(api, hotline, "0933 000 111")
    person = signed_up["account"]["id"]

    need = _post(api, hotline, CREATE_NEED, {"input": need_input(title="qua tổng đài")}, act_as=person).json()
    need_id = need["data"]["createNeed"]["need"]["id"]
    own_view = _post(api, hotline, NEED, {"id": need_id}, act_as=person).json()["data"]["node"]
    trusted_user = _sign_up_through(api, trusted, "0933 000 222")["account"]["id"]
    trusted_need = _post(api, trusted, CREATE_NEED, {"input": need_input()}, act_as=trusted_user).json()
    trusted_need_id = trusted_need["data"]["createNeed"]["need"]["id"]

    assert signed_up["token"] is None and signed_up["errors"] == []  # the partner acts with its key, not a token
    assert db.execute("SELECT count(*) FROM needs WHERE partner_id IS NOT NULL").fetchone() == (2,)
    # Without private:read, even the person's own exact location stays behind the key.
    assert own_view == {"title": "qua tổng đài", "exactLocation": None, "contactPhone": None}
    # With it: the person's own need, and (without acting for anyone) the needs filed through the partner.
    assert (
        _post(api, trusted, NEED, {"id": trusted_need_id}, act_as=trusted_user).json()["data"]["node"]["contactPhone"]
        == "+84912345678"
    )
    assert _post(api, trusted, NEED, {"id": trusted_need_id}).json()["data"]["node"]["exactLocation"] is not None
    # Never another partner's: their needs show approximate locations, their users cannot be acted for.
    assert _post(api, trusted, NEED, {"id": need_id}).json()["data"]["node"]["exactLocation"] is None
    assert _post(api, trusted, SEARCH, act_as=person).status_code == 403
    # Nor an account that signed up directly.
    direct = sign_up(api)
    direct_id = api.data("{ me { id } }", token=direct)["me"]["id"]
    assert _post(api, trusted, SEARCH, act_as=direct_id).status_code == 403
    create_need(api, direct)
