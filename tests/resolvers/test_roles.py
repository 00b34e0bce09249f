"""The first admin comes from the command line; admins grant roles, verifiers are bound to areas."""

from __future__ import annotations

import io
from typing import Any

import psycopg
import pytest

from aidmap import cli
from aidmap.resolvers.areas import BUNDLED, import_files
from tests.conftest import Api
from tests.factories import sign_up

SIGN_IN = "mutation ($input: SignInInput!) { signIn(input: $input) { token errors { code } } }"
ME = "{ me { id roles } }"
GRANT = "mutation ($input: GrantRoleInput!) { grantRole(input: $input) { account { roles } errors { field code } } }"
REVOKE = "mutation ($input: RevokeRoleInput!) { revokeRole(input: $input) { account { roles } errors { field code } } }"


def _create_admin(monkeypatch: pytest.MonkeyPatch, database_url: str, phone: str) -> tuple[int, str]:
    monkeypatch.setenv("AIDMAP_DATABASE_URL", database_url)
    monkeypatch.setenv("AIDMAP_PASSWORD_HASH_PROFILE", "CHEAPEST")
    monkeypatch.setattr("sys.stdin", io.StringIO("admin password\n"))
    code = cli.main(["admin", "create", "--phone", phone, "--name", "Quản trị", "--password-stdin"])
    return code, phone


def test_admin_create_bootstraps_an_admin_once(
    api: Api, monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, phone = _create_admin(monkeypatch, database_url, "0988 000 111")
    again, _ = _create_admin(monkeypatch, database_url, phone)

    assert (code, again) == (0, 0)
    out = capsys.readouterr().out
    assert "created admin account" in out and "promoted admin account" in out
    token = api.data(SIGN_IN, {"input": {"phone": phone, "password": "admin password"}})["signIn"]["token"]
    assert api.data(ME, token=token)["me"]["roles"] == ["REQUESTER", "DONOR", "ADMIN"]
    assert cli.main(["admin", "create", "--phone", "not a phone", "--password-stdin"]) == 2


@pytest.mark.parametrize(("password", "said"), [("Password1", "at least 10"), ("qwertyuiop", "too easy to guess")])
def test_admin_create_holds_the_password_rule(
    monkeypatch: pytest.MonkeyPatch, database_url: str, db: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str],
    password: str, said: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("AIDMAP_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{password}\n"))
    assert cli.main(["admin", "create", "--phone", "0988 000 333", "--name", "Quản trị", "--password-stdin"]) == 2
    assert said in capsys.readouterr().err
    assert db.execute("SELECT count(*) FROM accounts").fetchone() == (0,)


def test_admins_grant_and_revoke_roles_and_nobody_else_can(
    api: Api, monkeypatch: pytest.MonkeyPatch, database_url: str, db: psycopg.Connection[Any]
) -> None:
    import_files(database_url, [BUNDLED / "46_hue.geojson"])
    _, phone = _create_admin(monkeypatch, database_url, "0988000222")
    admin = api.data(SIGN_IN, {"input": {"phone": phone, "password": "admin password"}})["signIn"]["token"]
    person = sign_up(api, "Cán bộ phường")
    person_id = api.data(ME, token=person)["me"]["id"]
    admin_id = api.data(ME, token=admin)["me"]["id"]

    def grant(token: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = api.data(GRANT, {"input": {"accountId": person_id, **fields}}, token)["grantRole"]
        return result

    assert grant(person, role="ADMIN")["errors"] == [{"field": None, "code": "FORBIDDEN"}]
    assert grant(admin, role="VERIFIER")["errors"] == [{"field": "areaCodes", "code": "REQUIRED"}]
    assert grant(admin, role="VERIFIER", areaCodes=["99999"])["errors"] == [{"field": "areaCodes", "code": "INVALID"}]
    assert grant(admin, role="OPERATOR", areaCodes=["19753"])["errors"] == [{"field": "areaCodes", "code": "INVALID"}]
    verifier = grant(admin, role="VERIFIER", areaCodes=["19753", "46"])
    operator = grant(admin, role="OPERATOR")

    assert verifier["errors"] == [] and "VERIFIER" in verifier["account"]["roles"]
    assert operator["account"]["roles"] == ["REQUESTER", "DONOR", "VERIFIER", "OPERATOR"]
    assert db.execute("SELECT area_code FROM verifier_areas ORDER BY 1").fetchall() == [("19753",), ("46",)]
    revoked = api.data(REVOKE, {"input": {"accountId": person_id, "role": "VERIFIER"}}, admin)["revokeRole"]
    assert revoked["account"]["roles"] == ["REQUESTER", "DONOR", "OPERATOR"]
    assert db.execute("SELECT count(*) FROM verifier_areas").fetchone() == (0,)
    own = api.data(REVOKE, {"input": {"accountId": admin_id, "role": "ADMIN"}}, admin)["revokeRole"]
    assert own["errors"] == [{"field": "role", "code": "INVALID_STATE"}]
