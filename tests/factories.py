"""Factories that build valid rows through the public API, as a client would."""

from __future__ import annotations

import itertools
from typing import Any

from tests.conftest import Api

HANOI = {"lat": 21.0285, "lon": 105.8542}
_phones = itertools.count(1)

SIGN_UP = """
mutation ($input: SignUpInput!) {
  signUp(input: $input) { token account { id displayName } errors { field message code } }
}"""

CREATE_NEED = """
mutation ($input: CreateNeedInput!) {
  createNeed(input: $input) {
    need { id title status quantity quantityPledged quantityDelivered exactLocation { lat lon } contactPhone
           approximateLocation { lat lon } category urgency householdSize details unit expiresAt isMine }
    errors { field message code }
  }
}"""

CREATE_OFFER = """
mutation ($input: CreateOfferInput!) {
  createOffer(input: $input) {
    offer { id title status quantity quantityPledged radiusMeters category exactLocation { lat lon } }
    errors { field message code }
  }
}"""

PLEDGE = """
mutation ($input: PledgeInput!) {
  pledge(input: $input) {
    pledge { id quantity status need { id status quantityPledged } }
    errors { field message code }
  }
}"""


def new_phone() -> str:
    return f"09{next(_phones):08d}"


def sign_up(api: Api, name: str = "Nguyễn An") -> str:
    """A new account's bearer token."""
    payload = api.data(SIGN_UP, {"input": {"displayName": name, "phone": new_phone(), "password": "correct horse"}})[
        "signUp"
    ]
    assert payload["errors"] == [], payload
    token: str = payload["token"]
    return token


def need_input(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "category": "FOOD",
        "title": "Gạo cho gia đình 4 người",
        "quantity": 10,
        "unit": "kg",
        "urgency": "HIGH",
        "location": HANOI,
        "contactPhone": "0912 345 678",
    }
    base.update(overrides)
    return base


def create_need(api: Api, token: str, **overrides: Any) -> dict[str, Any]:
    payload = api.data(CREATE_NEED, {"input": need_input(**overrides)}, token)["createNeed"]
    assert payload["errors"] == [], payload
    need: dict[str, Any] = payload["need"]
    return need


def offer_input(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "category": "FOOD",
        "title": "Tặng gạo",
        "quantity": 50,
        "unit": "kg",
        "location": HANOI,
        "radiusMeters": 3000,
    }
    base.update(overrides)
    return base


def create_offer(api: Api, token: str, **overrides: Any) -> dict[str, Any]:
    payload = api.data(CREATE_OFFER, {"input": offer_input(**overrides)}, token)["createOffer"]
    assert payload["errors"] == [], payload
    offer: dict[str, Any] = payload["offer"]
    return offer


def pledge(api: Api, token: str, need_id: str, quantity: int, offer_id: str | None = None) -> dict[str, Any]:
    variables: dict[str, Any] = {"input": {"needId": need_id, "quantity": quantity}}
    if offer_id is not None:
        variables["input"]["offerId"] = offer_id
    result: dict[str, Any] = api.data(PLEDGE, variables, token)["pledge"]
    return result


def account_pk(db: Any, token: str) -> int:
    """The database id of the account a token belongs to."""
    from aidmap.resolvers.accounts import hash_token

    row = db.execute("SELECT account_id FROM access_tokens WHERE token_hash = %s", (hash_token(token),)).fetchone()
    assert row is not None
    return int(row[0])


def give_role(db: Any, token: str, role: str, area_codes: tuple[str, ...] = ()) -> None:
    """Grant a role directly in the database (the grantRole flow has its own tests)."""
    pk = account_pk(db, token)
    db.execute("UPDATE accounts SET roles = array_append(roles, %s) WHERE id = %s", (role, pk))
    for code in area_codes:
        db.execute("INSERT INTO verifier_areas (account_id, area_code) VALUES (%s, %s)", (pk, code))


def matching_round(settings: Any) -> Any:
    """One matching round (aidmap/resolvers/proposals.run_round) as the job runs it, against the test database."""
    import asyncio
    from datetime import timedelta

    from sqlalchemy.ext.asyncio import create_async_engine

    from aidmap.db.engine import make_sessionmaker
    from aidmap.resolvers.proposals import run_round

    async def go() -> Any:
        engine = create_async_engine(settings.database_url or "")
        try:
            report = await run_round(sessions=make_sessionmaker(engine), fairness_weight=0.5, reach=None,
                                     proposal_ttl=timedelta(hours=24))  # fmt: skip
            assert report is not None
            return report
        finally:
            await engine.dispose()

    # In a thread of its own: a browser test's thread already runs Playwright's event loop.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result()
