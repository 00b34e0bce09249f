"""At most AIDMAP_MAX_OPEN_OFFERS live offers per donor: offers are work for every matching round,
so an attacker must not be able to post thousands (20 aliased createOffer per request, as many as the cost limit allows, in parallel)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import httpx2
import psycopg

from aidmap.app import create_app
from aidmap.settings import Settings
from tests.conftest import Api, serving
from tests.factories import CREATE_OFFER, offer_input, sign_up

WITHDRAW = "mutation ($id: ID!) { withdrawOffer(input: {offerId: $id}) { errors { code } } }"


def _aliased(count: int) -> str:
    fields = "\n".join(
        f"o{i}: createOffer(input: $input) {{ offer {{ id }} errors {{ field message code }} }}" for i in range(count)
    )
    return f"mutation ($input: CreateOfferInput!) {{\n{fields}\n}}"


def _offers_of(db: psycopg.Connection[Any]) -> list[tuple[int, int]]:
    return db.execute("SELECT donor_id, count(*)::int FROM offers GROUP BY donor_id ORDER BY donor_id").fetchall()


def test_aliased_create_offer_past_the_cap_is_quota_exceeded_and_writes_nothing(
    make_api: Any, db: psycopg.Connection[Any]
) -> None:
    api: Api = make_api(max_open_offers=3)
    donor = sign_up(api)

    results = api.data(_aliased(20), {"input": offer_input()}, donor)
    announced = db.execute("SELECT count(*) FROM events WHERE kind = 'OFFER_CREATED'").fetchone()

    payloads = [results[f"o{i}"] for i in range(20)]
    assert [p["errors"] for p in payloads[:3]] == [[], [], []]
    assert payloads[3:] == [{"offer": None, "errors": [{
        "field": None, "message": "At most 3 live offers per donor; withdraw one or let one run out first.",
        "code": "QUOTA_EXCEEDED",
    }]}] * 17  # fmt: skip
    assert [n for _, n in _offers_of(db)] == [3] and announced == (3,)
    # A withdrawn offer frees its place; nothing was announced for the refused ones.
    api.data(WITHDRAW, {"id": payloads[0]["offer"]["id"]}, donor)
    again = api.data(CREATE_OFFER, {"input": offer_input()}, donor)["createOffer"]
    assert again["errors"] == []
    assert db.execute("SELECT count(*) FROM offers WHERE status = 'ACTIVE'").fetchone() == (3,)


def test_concurrent_aliased_requests_of_several_donors_stay_within_the_cap(
    make_api: Any, db: psycopg.Connection[Any], settings: Settings
) -> None:
    api: Api = make_api(max_open_offers=4)
    donors = [sign_up(api, f"kẻ tấn công {i}") for i in range(4)]
    app = create_app(dataclasses.replace(settings, max_open_offers=4), database_url=settings.database_url or "")
    codes: list[str] = []
    lock = threading.Lock()
    with serving(app) as url:
        start = threading.Barrier(8)

        def attack(token: str) -> None:
            with httpx2.Client(timeout=120) as client:
                start.wait()
                body = client.post(
                    url + "/graphql", json={"query": _aliased(20), "variables": {"input": offer_input()}},
                    headers={"Authorization": f"Bearer {token}"},
                ).json()  # fmt: skip
            with lock:
                codes.extend(e["code"] for p in body["data"].values() for e in p["errors"])

        threads = [threading.Thread(target=attack, args=(d,)) for d in donors for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)

    # 8 requests x 20 createOffer, two at once per donor: 4 each is written, every other one refused.
    assert [n for _, n in _offers_of(db)] == [4, 4, 4, 4]
    assert codes == ["QUOTA_EXCEEDED"] * (160 - 16)
