"""Found by an outside attacker after issue 14's first round: a sign-in racing a password change, an
address whose failures stopped being forgotten while people signed in from it, and the weak
passwords the first rule let through."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from aidmap.db.engine import make_engine, make_sessionmaker
from aidmap.db.reader import conninfo_from_url
from aidmap.problems import Problems
from aidmap.resolvers import accounts
from aidmap.resolvers.accounts import SignInThrottle, password_hasher, sign_in
from tests.conftest import Api, LiveServer
from tests.factories import SIGN_UP, new_phone
from tests.schema.test_sign_in_throttle import PASSWORD, _code, _sign_in, _sign_up

OLD, NEW = "the old pass phrase", "a brand new pass phrase"


def test_a_sign_in_checked_against_the_old_password_gets_no_token_once_the_change_committed(
    database_url: str, db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The password is checked with no transaction open (hashing is slow); a changePassword that
    commits in that gap revokes every token but the changer's, so the sign-in must not issue one."""
    phone = "+84" + new_phone()[1:]
    hasher = password_hasher("CHEAPEST")
    db.execute(
        "INSERT INTO accounts (display_name, phone, password_hash, roles) VALUES ('Lan', %s, %s, '{REQUESTER}')",
        (phone, hasher.hash(OLD)),
    )
    db.commit()
    real_matches = accounts.password_matches

    async def matches_then_changed(profile: str, stored: str, password: str) -> bool:
        ok = await real_matches(profile, stored, password)
        # The owner's changePassword commits while this sign-in's check was running.
        with psycopg.connect(conninfo_from_url(database_url), autocommit=True) as other:
            other.execute("UPDATE accounts SET password_hash = %s WHERE phone = %s", (hasher.hash(NEW), phone))
        return ok

    monkeypatch.setattr(accounts, "password_matches", matches_then_changed)

    async def attempt() -> str:
        engine = make_engine(database_url, pool_size=2)
        try:
            throttle = SignInThrottle(key=b"k")
            _, token = await sign_in(sessions=make_sessionmaker(engine), phone=phone, password=OLD,
                                     hash_profile="CHEAPEST", ttl_days=1, throttle=throttle)  # fmt: skip
            return token
        finally:
            await engine.dispose()

    with pytest.raises(Problems) as refused:
        asyncio.run(attempt())
    assert [p.code.value for p in refused.value.problems] == ["INVALID_CREDENTIALS"]
    tokens = db.execute(
        "SELECT count(*) FROM access_tokens t JOIN accounts a ON a.id = t.account_id WHERE a.phone = %s", (phone,)
    ).fetchone()
    assert tokens == (0,)


def test_right_passwords_from_an_address_do_not_stop_its_failures_being_forgotten(
    live_server: LiveServer, db: psycopg.Connection[Any]
) -> None:
    """Behind a carrier's NAT many people share an address. Its failures are forgotten one per
    window/limit (30 s by default); people signing in rightly meanwhile must not hold that back."""
    url, address = live_server.url, "198.51.100.77"
    phone = "0900000077"
    _sign_up(url, phone)
    for i in range(29):  # one below the address's limit, each for another phone
        assert _code(_sign_in(url, f"09130000{i:02d}", "wrong guess here", address=address)) == "INVALID_CREDENTIALS"
    for _ in range(3):  # someone signs in rightly every 20 s (simulated: the clock moved back)
        db.execute("UPDATE sign_in_backoff SET last_failure_at = last_failure_at - interval '20 seconds'")
        assert _sign_in(url, phone, PASSWORD, address=address)["token"]
    # 60 s have passed: two failures forgotten, so three more wrong guesses are answered, not locked.
    guesses = [_code(_sign_in(url, f"09140000{i:02d}", "wrong guess here", address=address)) for i in range(2)]
    assert guesses == ["INVALID_CREDENTIALS"] * 2


@pytest.mark.parametrize(
    "password",
    ["aaaaaaaaaa", "          ", "\u200b" * 10, "abababababab", "Password1!", "p@ssw0rd12", "qwerty123456",
     "password12", "0900000088", "my 900000088 pw"],
)  # fmt: skip
def test_sign_up_refuses_passwords_that_are_easy_to_guess(api: Api, password: str) -> None:
    payload = api.data(SIGN_UP, {"input": {"displayName": "Lan", "phone": "0900000088", "password": password}})
    result = payload["signUp"]
    assert result["token"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("password", "TOO_COMMON")], password


@pytest.mark.parametrize("password", ["correct horse battery", "tre con an com 2 bat", "Mưa rơi trên phố cổ"])
def test_sign_up_accepts_passphrases(api: Api, password: str) -> None:
    payload = api.data(SIGN_UP, {"input": {"displayName": "Lan", "phone": new_phone(), "password": password}})
    assert payload["signUp"]["errors"] == [] and payload["signUp"]["token"]


def test_a_stranger_keeping_a_phone_locked_does_not_lock_its_owner_out_where_they_signed_in_before(
    live_server: LiveServer, db: psycopg.Connection[Any]
) -> None:
    """One wrong guess each time the lock ends keeps a phone locked for as long as the attacker
    likes; the person, signed out or on a new phone, still signs in from a place (address, IPv6 by
    /64) where they signed in rightly within 90 days. A new place and the attacker's stay locked."""
    url, phone = live_server.url, "0900000079"
    token = _sign_up(url, phone)
    assert _sign_in(url, phone, PASSWORD, address="203.0.113.5")["token"]  # home, once
    api_sign_out = "mutation { signOutEverywhere { revokedTokens } }"
    from tests.schema.test_sign_in_throttle import _post

    _post(url, api_sign_out, {}, token=token)
    for i in range(5):  # the attacker, from elsewhere
        assert _code(_sign_in(url, phone, f"attacker guess {i}", address="198.51.100.90")) == "INVALID_CREDENTIALS"
    assert _code(_sign_in(url, phone, PASSWORD, address="198.51.100.90")) == "TOO_MANY_ATTEMPTS"
    assert _code(_sign_in(url, phone, PASSWORD, address="198.51.100.91")) == "TOO_MANY_ATTEMPTS"  # a new place

    at_home = _sign_in(url, phone, PASSWORD, address="203.0.113.5")
    assert at_home["errors"] == [] and at_home["token"]
    # A guesser at the person's home gets that place's own budget, no more.
    home_guesses = [_code(_sign_in(url, phone, f"home guess {i}", address="203.0.113.5")) for i in range(6)]
    assert home_guesses == ["INVALID_CREDENTIALS"] * 5 + ["TOO_MANY_ATTEMPTS"]
    # The table keeps neither the phone nor the address.
    rows = db.execute("SELECT key_hash FROM known_sign_in_places").fetchall()
    assert rows and all("0900000079" not in r[0] and "203.0.113" not in r[0] for r in rows)
