"""signUp, signIn, me, and what happens with bad or expired tokens."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.conftest import Api
from tests.factories import SIGN_UP, create_need, need_input, pledge, sign_up

SIGN_IN = """
mutation ($input: SignInInput!) {
  signIn(input: $input) { token account { id displayName } errors { field message code } }
}"""
ME = "{ me { id displayName phone roles } }"
CREATE_NEED_ERRORS = """
mutation ($input: CreateNeedInput!) { createNeed(input: $input) { need { id } errors { field message code } } }"""


def test_sign_up_returns_a_token_that_identifies_the_account(api: Api, db: psycopg.Connection[Any]) -> None:
    payload = api.data(
        SIGN_UP, {"input": {"displayName": " Trần Bình ", "phone": "0912 345 678", "password": "long enough"}}
    )["signUp"]

    assert payload["errors"] == []
    assert payload["account"]["displayName"] == "Trần Bình"
    me = api.data(ME, token=payload["token"])["me"]
    assert me == {
        "id": payload["account"]["id"],
        "displayName": "Trần Bình",
        "phone": "+84912345678",
        "roles": ["REQUESTER", "DONOR"],
    }
    stored_hash, token_hash = db.execute(
        "SELECT a.password_hash, t.token_hash FROM accounts a JOIN access_tokens t ON t.account_id = a.id"
    ).fetchone()  # type: ignore[misc]
    assert stored_hash.startswith("$argon2id$")
    assert payload["token"] not in token_hash


def test_sign_up_rejects_bad_input_and_a_taken_phone(api: Api, db: psycopg.Connection[Any]) -> None:
    sign_up_input = {"displayName": "An", "phone": "0912345678", "password": "long enough"}
    assert api.data(SIGN_UP, {"input": sign_up_input})["signUp"]["errors"] == []

    taken = api.data(SIGN_UP, {"input": {**sign_up_input, "phone": "+84 912 345 678"}})["signUp"]
    bad = api.data(SIGN_UP, {"input": {"displayName": "", "phone": "12ab", "password": "short"}})["signUp"]

    assert taken["token"] is None and [e["code"] for e in taken["errors"]] == ["PHONE_TAKEN"]
    assert bad["token"] is None
    assert {(e["field"], e["code"]) for e in bad["errors"]} == {
        ("displayName", "REQUIRED"),
        ("phone", "INVALID"),
        ("password", "TOO_SHORT"),
    }
    assert db.execute("SELECT count(*) FROM accounts").fetchone() == (1,)


def test_sign_in_with_right_and_wrong_credentials(api: Api) -> None:
    api.data(SIGN_UP, {"input": {"displayName": "An", "phone": "0912345678", "password": "long enough"}})

    ok = api.data(SIGN_IN, {"input": {"phone": "+84912345678", "password": "long enough"}})["signIn"]
    wrong = api.data(SIGN_IN, {"input": {"phone": "0912345678", "password": "not the one"}})["signIn"]
    unknown = api.data(SIGN_IN, {"input": {"phone": "0999999999", "password": "long enough"}})["signIn"]

    assert ok["errors"] == [] and ok["token"]
    assert api.data(ME, token=ok["token"])["me"]["displayName"] == "An"
    # Same answer for a wrong password and an unknown phone: nothing tells which phones have accounts.
    assert (
        wrong["errors"]
        == unknown["errors"]
        == [{"field": None, "message": "Phone number or password is wrong.", "code": "INVALID_CREDENTIALS"}]
    )


def test_anonymous_and_expired_tokens_cannot_write(api: Api, db: psycopg.Connection[Any]) -> None:
    token = sign_up(api)
    db.execute("UPDATE access_tokens SET expires_at = now() - interval '1 second'")

    expired = api.data(CREATE_NEED_ERRORS, {"input": need_input()}, token)["createNeed"]
    anonymous = api.data(CREATE_NEED_ERRORS, {"input": need_input()})["createNeed"]
    garbage = api.data(CREATE_NEED_ERRORS, {"input": need_input()}, "not-a-token")["createNeed"]

    assert expired["need"] is None and expired["errors"][0]["code"] == "UNAUTHENTICATED"
    assert "expired" in expired["errors"][0]["message"]
    assert anonymous["errors"] == [{"field": None, "message": "Sign in to do this.", "code": "UNAUTHENTICATED"}]
    assert garbage["errors"][0]["code"] == "UNAUTHENTICATED"
    assert api.data(ME, token=token)["me"] is None
    assert db.execute("SELECT count(*) FROM needs").fetchone() == (0,)


def test_phone_and_roles_are_hidden_from_others(api: Api) -> None:
    owner = sign_up(api, "Chủ")
    other = sign_up(api, "Khác")
    need = create_need(api, owner)
    query = "query ($id: ID!) { node(id: $id) { ... on Need { pledges { id } } } }"
    assert api.data(query, {"id": need["id"]}, other)["node"]["pledges"] == []
    pledge(api, other, need["id"], 1)  # acquainted: the donor may see the requester's name
    me = api.data(ME, token=owner)["me"]
    account = api.data(
        "query ($id: ID!) { node(id: $id) { ... on Account { displayName phone roles } } }", {"id": me["id"]}, other
    )["node"]
    assert account == {"displayName": "Chủ", "phone": None, "roles": []}


def test_sign_in_and_sign_up_answer_with_the_roles_me_shows(api: Api) -> None:
    query = "mutation ($input: SignUpInput!) { signUp(input: $input) { token account { phone roles } } }"
    up = api.data(query, {"input": {"displayName": "Lan", "phone": "0912 000 111", "password": "long enough"}})
    assert up["signUp"]["account"] == {"phone": "+84912000111", "roles": ["REQUESTER", "DONOR"]}
    signed_in = api.data(
        "mutation ($input: SignInInput!) { signIn(input: $input) { token account { phone roles } } }",
        {"input": {"phone": "0912000111", "password": "long enough"}},
    )["signIn"]
    me = api.data(ME, token=signed_in["token"])["me"]
    assert signed_in["account"] == {"phone": me["phone"], "roles": me["roles"]} == {
        "phone": "+84912000111", "roles": ["REQUESTER", "DONOR"]}  # fmt: skip
