"""signUp as a way to learn which phones have accounts, tried as an enumerator would: PHONE_TAKEN
says a phone is known, so from one address those answers draw on the same budget as failed
sign-ins; a locked address is told TOO_MANY_ATTEMPTS whether the phone is taken or free, while
people signing up from behind one address (a carrier's NAT) are never held back."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import psycopg
import pytest

from aidmap.cli import partners
from aidmap.settings import Settings
from tests.conftest import LiveServer

FREE = 3  # failures an address may have before the back-off (AIDMAP_SIGN_IN_IP_MAX_FAILURES)
SIGN_UP = """mutation ($input: SignUpInput!) { signUp(input: $input) {
  token errors { field code retryAfterSeconds } } }"""
SIGN_IN = "mutation ($input: SignInInput!) { signIn(input: $input) { token errors { code retryAfterSeconds } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, sign_in_ip_max_failures=FREE)


def _post(server: LiveServer, query: str, variables: dict[str, Any], address: str, key: str | None = None) -> Any:
    # The test's uvicorn believes X-Forwarded-For from 127.0.0.1, as a deployment behind its proxy does.
    headers = {"X-Forwarded-For": address} | ({"Authorization": f"Bearer {key}"} if key else {})
    answer = httpx2.post(
        server.url + "/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
    )
    return answer.json()["data"]


def _sign_up(server: LiveServer, phone: str, address: str, key: str | None = None) -> dict[str, Any]:
    variables = {"input": {"displayName": "Lan", "phone": phone, "password": "correct horse battery"}}
    result: dict[str, Any] = _post(server, SIGN_UP, variables, address, key)["signUp"]
    return result


def _code(answer: dict[str, Any]) -> str | None:
    return answer["errors"][0]["code"] if answer["errors"] else None


def test_probing_taken_phones_locks_the_address_for_taken_and_free_phones_alike(
    live_server: LiveServer, db: psycopg.Connection[Any]
) -> None:
    taken = [f"09000001{i:02d}" for i in range(FREE + 1)]
    for phone in taken:
        assert _code(_sign_up(live_server, phone, "203.0.113.50")) is None

    probes = [_sign_up(live_server, phone, "198.51.100.7") for phone in taken]
    assert [_code(p) for p in probes] == ["PHONE_TAKEN"] * FREE + ["TOO_MANY_ATTEMPTS"]
    # Locked, the address cannot tell a taken phone from a free one: both answers are the same.
    still_taken, free = (
        _sign_up(live_server, taken[0], "198.51.100.7"),
        _sign_up(live_server, "0900000199", "198.51.100.7"),
    )
    assert _code(still_taken) == _code(free) == "TOO_MANY_ATTEMPTS"
    assert free["token"] is None and free["errors"][0]["retryAfterSeconds"] > 0
    assert db.execute("SELECT count(*) FROM accounts WHERE phone = '+84900000199'").fetchone() == (0,)
    # The same budget as signIn's: probing by signUp does not buy fresh guesses there.
    guess = _post(live_server, SIGN_IN, {"input": {"phone": taken[0], "password": "a guess"}}, "198.51.100.7")["signIn"]
    assert _code(guess) == "TOO_MANY_ATTEMPTS"
    # Elsewhere nobody is held back.
    assert _code(_sign_up(live_server, "0900000199", "198.51.100.8")) is None


def test_many_people_signing_up_behind_one_address_are_never_held_back(
    live_server: LiveServer, db: psycopg.Connection[Any]
) -> None:
    """Only a PHONE_TAKEN answer counts: a ward office's wifi, or a carrier's NAT."""
    made = [_sign_up(live_server, f"09000002{i:02d}", "198.51.100.9") for i in range(3 * FREE)]
    assert [_code(m) for m in made] == [None] * (3 * FREE)
    assert all(m["token"] for m in made)
    assert db.execute("SELECT count(*) FROM sign_in_backoff").fetchone() == (0,)  # nothing left to count
    # All at once (a surge behind one carrier address): sign-ups in flight count nothing either.
    with ThreadPoolExecutor(3 * FREE) as pool:
        burst = list(pool.map(lambda i: _sign_up(live_server, f"09000004{i:02d}", "198.51.100.9"), range(3 * FREE)))
    assert [_code(b) for b in burst] == [None] * (3 * FREE)
    # Bad input is no probe either: it says nothing about any phone.
    bad = [_sign_up(live_server, "not a phone", "198.51.100.9") for _ in range(FREE + 1)]
    assert {_code(b) for b in bad} == {"INVALID"}
    assert _code(_sign_up(live_server, "0900000299", "198.51.100.9")) is None


def test_a_partner_app_signs_up_its_people_within_its_keys_limits(live_server: LiveServer, database_url: str) -> None:
    """All of a partner's sign-ups come from its servers' one address; its key, not the address, bounds it."""
    _, key = partners.create(
        url=database_url, name="Zalo Connect", scopes=partners.parse_scopes("accounts"), rate_limit_per_minute=600,
        allowed_origins=[],
    )  # fmt: skip
    phones = [f"09000003{i:02d}" for i in range(FREE + 2)]
    for phone in phones:
        assert _code(_sign_up(live_server, phone, "203.0.113.60")) is None
    # Its people re-registering (already known) answer PHONE_TAKEN each time; its address is never locked.
    again = [_sign_up(live_server, phone, "192.0.2.10", key=key) for phone in phones]
    assert [_code(a) for a in again] == ["PHONE_TAKEN"] * len(phones)
    assert _code(_sign_up(live_server, "0900000399", "192.0.2.10", key=key)) is None
