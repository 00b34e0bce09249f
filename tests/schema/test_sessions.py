"""Sessions (issue 14): signOut ends this token, signOutEverywhere every token of the account, and
changePassword every other one; open websockets of a revoked token close (4403); the password rule
refuses short and common passwords; a partner key can do none of it."""

from __future__ import annotations

from typing import Any

import httpx2
import psycopg
import pytest

from aidmap.cli import partners
from aidmap.resolvers.accounts import MIN_PASSWORD, common_passwords
from tests.conftest import Api, LiveServer
from tests.factories import SIGN_UP, create_need, new_phone
from tests.live import LiveClient
from tests.schema.test_socket_credentials import _closed_with

PASSWORD = "correct horse battery"
SIGN_IN = "mutation ($input: SignInInput!) { signIn(input: $input) { token errors { code } } }"
SIGN_OUT = "mutation { signOut { revokedTokens errors { field code message } } }"
SIGN_OUT_EVERYWHERE = "mutation { signOutEverywhere { revokedTokens errors { field code message } } }"
CHANGE_PASSWORD = """mutation ($input: ChangePasswordInput!) { changePassword(input: $input) {
  account { id } revokedTokens errors { field code message retryAfterSeconds } } }"""
ME = "{ me { id } }"


def _person(api: Api) -> tuple[str, str, str]:
    """(phone, token from signUp, a second token from signIn): one person on two devices."""
    phone = new_phone()
    first = api.data(SIGN_UP, {"input": {"displayName": "Lan", "phone": phone, "password": PASSWORD}})["signUp"]
    assert first["errors"] == [], first
    return phone, first["token"], _sign_in(api, phone, PASSWORD)


def _sign_in(api: Api, phone: str, password: str) -> str:
    payload = api.data(SIGN_IN, {"input": {"phone": phone, "password": password}})["signIn"]
    assert payload["errors"] == [], payload
    token: str = payload["token"]
    return token


def _signed_in(api: Api, token: str) -> bool:
    """Whether the token still authenticates its holder."""
    data = api.post(ME, token=token).get("data") or {}
    return data.get("me") is not None


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def test_sign_out_ends_this_token_only(api: Api) -> None:
    _, phone_token, laptop_token = _person(api)
    signed_out = api.data(SIGN_OUT, {}, phone_token)["signOut"]
    assert signed_out == {"revokedTokens": 1, "errors": []}
    assert not _signed_in(api, phone_token)
    # A revoked token is told its session is over, on every mutation, signOut included.
    again = api.data(SIGN_OUT, {}, phone_token)["signOut"]
    assert _codes(again) == ["UNAUTHENTICATED"] and again["revokedTokens"] == 0
    assert "expired" in again["errors"][0]["message"]
    assert _signed_in(api, laptop_token)
    assert api.data(SIGN_OUT, {})["signOut"]["errors"][0]["code"] == "UNAUTHENTICATED"  # anonymous


def test_sign_out_everywhere_closes_an_open_socket_of_another_token(api: Api, live_server: LiveServer) -> None:
    phone, phone_token, laptop_token = _person(api)
    _, stranger, _ = _person(api)
    with LiveClient(live_server.url, laptop_token) as laptop, LiveClient(live_server.url, stranger) as other:
        laptop.subscribe("subscription { myActivity { cursor } }")
        other.subscribe("subscription { myActivity { cursor } }")
        assert _closed_with(laptop, 0.5) is None
        body = httpx2.post(
            f"{live_server.url}/graphql",
            json={"query": SIGN_OUT_EVERYWHERE},
            headers={"Authorization": f"Bearer {phone_token}"},
        ).json()
        assert body["data"]["signOutEverywhere"] == {"revokedTokens": 2, "errors": []}
        assert _closed_with(laptop, 8) == 4403
        assert _closed_with(other, 0.5) is None  # another person's socket stays open
    assert not _signed_in(api, phone_token) and not _signed_in(api, laptop_token)
    assert _signed_in(api, _sign_in(api, phone, PASSWORD))  # signing in again works


def test_sign_out_over_a_websocket_revokes_the_sockets_token_and_closes_it(api: Api, live_server: LiveServer) -> None:
    _, phone_token, laptop_token = _person(api)
    with LiveClient(live_server.url, phone_token) as client:
        client.subscribe(SIGN_OUT)
        assert client.next()["data"]["signOut"] == {"revokedTokens": 1, "errors": []}
        assert _closed_with(client, 8) == 4403
    assert not _signed_in(api, phone_token) and _signed_in(api, laptop_token)


def test_change_password_keeps_this_session_and_ends_the_others(api: Api, live_server: LiveServer) -> None:
    phone, phone_token, laptop_token = _person(api)
    new = "seven green bottles"
    with LiveClient(live_server.url, phone_token) as kept, LiveClient(live_server.url, laptop_token) as ended:
        kept.subscribe("subscription { myActivity { cursor } }")
        ended.subscribe("subscription { myActivity { cursor } }")
        changed = api.data(CHANGE_PASSWORD, {"input": {"currentPassword": PASSWORD, "newPassword": new}}, phone_token)[
            "changePassword"
        ]
        assert changed["errors"] == [] and changed["revokedTokens"] == 1
        assert changed["account"]["id"] == api.data(ME, token=phone_token)["me"]["id"]
        assert _closed_with(ended, 8) == 4403
        assert _closed_with(kept, 0.5) is None
    assert _signed_in(api, phone_token) and not _signed_in(api, laptop_token)
    old = api.data(SIGN_IN, {"input": {"phone": phone, "password": PASSWORD}})["signIn"]
    assert _codes(old) == ["INVALID_CREDENTIALS"] and old["token"] is None
    assert _signed_in(api, _sign_in(api, phone, new))


@pytest.mark.parametrize(
    ("current", "new", "field", "code"),
    [
        ("not my password", "seven green bottles", "currentPassword", "INVALID_CREDENTIALS"),
        (PASSWORD, "12345678", "newPassword", "TOO_SHORT"),
        (PASSWORD, "qwertyuiop", "newPassword", "TOO_COMMON"),
        (PASSWORD, "PassWord123", "newPassword", "TOO_COMMON"),
        (PASSWORD, "x" * 257, "newPassword", "TOO_LONG"),
        (PASSWORD, PASSWORD, "newPassword", "INVALID"),
    ],
)
def test_a_refused_change_changes_nothing(
    api: Api, db: psycopg.Connection[Any], current: str, new: str, field: str, code: str
) -> None:
    phone, phone_token, laptop_token = _person(api)
    before = db.execute("SELECT password_hash FROM accounts WHERE phone = %s", (f"+84{phone[1:]}",)).fetchone()
    refused = api.data(CHANGE_PASSWORD, {"input": {"currentPassword": current, "newPassword": new}}, phone_token)
    payload = refused["changePassword"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert payload["account"] is None and payload["revokedTokens"] == 0
    assert db.execute("SELECT password_hash FROM accounts WHERE phone = %s", (f"+84{phone[1:]}",)).fetchone() == before
    assert _signed_in(api, phone_token) and _signed_in(api, laptop_token)
    assert _signed_in(api, _sign_in(api, phone, PASSWORD))


def test_a_stolen_token_cannot_guess_the_password_and_strangers_cannot_lock_the_owner_out(api: Api) -> None:
    phone, stolen, owner = _person(api)
    for n in range(5):
        guess = api.data(CHANGE_PASSWORD, {"input": {"currentPassword": f"guess {n}", "newPassword": "taken over now"}}, stolen)  # fmt: skip
        assert _codes(guess["changePassword"]) == ["INVALID_CREDENTIALS"]
    # The sixth try is refused before the password is looked at, even the right one.
    locked = api.data(
        CHANGE_PASSWORD, {"input": {"currentPassword": PASSWORD, "newPassword": "taken over now"}}, stolen
    )
    error = locked["changePassword"]["errors"][0]
    assert error["code"] == "TOO_MANY_ATTEMPTS" and error["retryAfterSeconds"] > 0
    # The budget is the account's own: signing in still works, and so does signing everything out.
    assert _signed_in(api, _sign_in(api, phone, PASSWORD))
    assert api.data(SIGN_OUT_EVERYWHERE, {}, owner)["signOutEverywhere"]["revokedTokens"] == 3
    assert not _signed_in(api, stolen)


def test_a_partner_key_cannot_end_sessions_or_change_passwords(
    api: Api, database_url: str, db: psycopg.Connection[Any]
) -> None:
    key = partners.create(
        url=database_url, name="App", scopes=["accounts", "needs:read"], rate_limit_per_minute=1000, allowed_origins=[]
    )[1]
    narrow = partners.create(
        url=database_url, name="Map", scopes=["needs:read"], rate_limit_per_minute=1000, allowed_origins=[]
    )[1]
    phone = new_phone()
    account = api.http.post(
        "/graphql",
        json={"query": SIGN_UP, "variables": {"input": {"displayName": "Lan", "phone": phone, "password": PASSWORD}}},
        headers={"Authorization": f"Bearer {key}"},
    ).json()["data"]["signUp"]["account"]["id"]
    stored_hash = db.execute("SELECT password_hash FROM accounts WHERE phone LIKE %s", (f"%{phone[-9:]}",)).fetchone()
    tokens_before = db.execute("SELECT count(*) FROM access_tokens WHERE revoked_at IS NULL").fetchone()
    change = {"input": {"currentPassword": PASSWORD, "newPassword": "the partner chose"}}
    for headers in ({"Authorization": f"Bearer {key}"}, {"Authorization": f"Bearer {key}", "Aidmap-Act-As": account}):
        for document, variables, name in [
            (SIGN_OUT, {}, "signOut"),
            (SIGN_OUT_EVERYWHERE, {}, "signOutEverywhere"),
            (CHANGE_PASSWORD, change, "changePassword"),
        ]:
            body = api.http.post("/graphql", json={"query": document, "variables": variables}, headers=headers).json()
            assert _codes(body["data"][name]) == ["FORBIDDEN"], (headers, body)
            assert "partner key" in body["data"][name]["errors"][0]["message"]
        # Without the accounts scope the key may not even ask.
    body = api.http.post("/graphql", json={"query": SIGN_OUT_EVERYWHERE}, headers={"Authorization": f"Bearer {narrow}"})
    assert body.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert db.execute("SELECT count(*) FROM access_tokens WHERE revoked_at IS NULL").fetchone() == tokens_before
    assert db.execute("SELECT password_hash FROM accounts WHERE phone LIKE %s", (f"%{phone[-9:]}",)).fetchone() == stored_hash


def test_an_account_a_partner_signed_up_gets_no_token_of_its_own_by_password(
    api: Api, database_url: str, db: psycopg.Connection[Any]
) -> None:
    """signUp under a key returns no token; signing in without the key must not return one either: a
    token of its own would outlive the key's revocation and exceed its scopes."""
    key = partners.create(
        url=database_url, name="Scoped app", scopes=["accounts", "needs:read"], rate_limit_per_minute=1000,
        allowed_origins=[],
    )[1]  # fmt: skip
    phone = new_phone()
    signed = api.http.post(
        "/graphql",
        json={"query": SIGN_UP, "variables": {"input": {"displayName": "Lan", "phone": phone, "password": PASSWORD}}},
        headers={"Authorization": f"Bearer {key}"},
    ).json()["data"]["signUp"]
    assert signed["token"] is None and signed["account"] is not None
    tokens_before = db.execute("SELECT count(*) FROM access_tokens").fetchone()
    right = api.data(SIGN_IN, {"input": {"phone": phone, "password": PASSWORD}})["signIn"]
    wrong = api.data(SIGN_IN, {"input": {"phone": phone, "password": "not the password at all"}})["signIn"]
    assert right == wrong == {"token": None, "errors": [{"code": "INVALID_CREDENTIALS"}]}  # told like a wrong one
    assert db.execute("SELECT count(*) FROM access_tokens").fetchone() == tokens_before


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("12345678", "TOO_SHORT"),
        ("123456789", "TOO_SHORT"),
        ("short one", "TOO_SHORT"),
        ("1234567890", "TOO_COMMON"),
        ("qwertyuiop", "TOO_COMMON"),
        ("password123", "TOO_COMMON"),
        ("PASSWORD123", "TOO_COMMON"),
        ("Basketball", "TOO_COMMON"),
    ],
)
def test_sign_up_refuses_short_and_common_passwords(
    api: Api, db: psycopg.Connection[Any], password: str, code: str
) -> None:
    accounts_before = db.execute("SELECT count(*) FROM accounts").fetchone()
    payload = api.data(SIGN_UP, {"input": {"displayName": "Lan", "phone": new_phone(), "password": password}})
    result = payload["signUp"]
    assert result["token"] is None and result["account"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("password", code)]
    assert db.execute("SELECT count(*) FROM accounts").fetchone() == accounts_before


def test_the_rule_is_ten_characters_and_a_shipped_list(api: Api) -> None:
    assert MIN_PASSWORD == 10
    listed = common_passwords()
    assert len(listed) > 10_000 and {"12345678", "password123", "qwertyuiop", "1234567890"} <= listed
    assert all(p == p.lower() for p in listed)
    # Ten characters that are not on the list are enough; a passphrase with spaces is fine.
    for password in ("ten chars!", "mật khẩu dài", PASSWORD):
        result = api.data(SIGN_UP, {"input": {"displayName": "Lan", "phone": new_phone(), "password": password}})
        assert result["signUp"]["errors"] == [], password
    token = result["signUp"]["token"]
    create_need(api, token)  # and the account works


def test_a_session_ended_while_its_password_change_runs_cannot_set_the_password(
    api: Api, settings: Any, db: psycopg.Connection[Any]
) -> None:
    """The request's token was valid when it came in, and the owner ended every session from another
    device before the change was written: the thief holding it does not get to set a password."""
    import asyncio

    from aidmap.db.engine import make_engine, make_sessionmaker
    from aidmap.problems import Problems
    from aidmap.resolvers.accounts import SignInThrottle, change_password, hash_token

    phone, stolen, owner = _person(api)
    assert api.data(SIGN_OUT_EVERYWHERE, {}, owner)["signOutEverywhere"]["revokedTokens"] == 2
    account_id = db.execute("SELECT account_id FROM access_tokens WHERE token_hash = %s", (hash_token(stolen),))
    row = account_id.fetchone()
    assert row is not None

    async def change() -> list[str]:
        engine = make_engine(settings.database_url)
        try:
            await change_password(
                sessions=make_sessionmaker(engine), account_id=row[0], token_hash=hash_token(stolen),
                current_password=PASSWORD, new_password="taken over now", hash_profile="CHEAPEST",
                throttle=SignInThrottle(key=b"test"),
            )  # fmt: skip
        except Problems as refused:
            return [p.code.value for p in refused.problems]
        finally:
            await engine.dispose()
        return []

    assert asyncio.run(change()) == ["UNAUTHENTICATED"]
    assert _signed_in(api, _sign_in(api, phone, PASSWORD))  # the password is the owner's still
