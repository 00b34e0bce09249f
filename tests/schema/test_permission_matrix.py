"""Who may read what and do what: every private field and every mutation on another person's
objects, for every kind of caller. IDs of objects someone may not see answer like unknown IDs."""

from __future__ import annotations

import re
import time
from typing import Any

import psycopg
import pytest

from aidmap.cli import partners
from aidmap.resolvers.areas import BUNDLED, import_files
from aidmap.schema.ids import to_global_id
from tests.conftest import Api
from tests.factories import CREATE_NEED, SIGN_UP, create_offer, give_role, need_input, sign_up

HOAN_KIEM_LAKE = {"lat": 21.0288, "lon": 105.8525}
CALLERS = [
    "anonymous", "requester", "other_requester", "donor", "pledged_donor", "ward_verifier", "other_verifier",
    "operator", "partner_with_scope", "partner_without_scope", "other_partner", "admin",
]  # fmt: skip
NEED = """query ($id: ID!) { node(id: $id) { ... on Need {
  exactLocation { lat lon } contactPhone onBehalfOf { phone } locationReads { readerName }
  pledges { id } reports { reason } possibleDuplicateOf { id } } } }"""
PLEDGE_NODE = "query ($id: ID!) { node(id: $id) { id } }"
MESSAGES = "query ($id: ID!) { messages(pledgeId: $id) { body } }"
ACCOUNT = "query ($id: ID!) { node(id: $id) { ... on Account { phone roles } } }"
OFFER = "query ($id: ID!) { node(id: $id) { ... on Offer { exactLocation { lat } } } }"


class Callers:
    def __init__(self, api: Api, headers: dict[str, dict[str, str]]) -> None:
        self.api, self.headers = api, headers

    def post(self, who: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = self.api.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers[who]
        )
        assert response.status_code == 200, (who, response.text)
        body: dict[str, Any] = response.json()
        return body

    def data(self, who: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = self.post(who, query, variables)
        assert "errors" not in body, (who, body)
        result: dict[str, Any] = body["data"]
        return result


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(api: Api, database_url: str, db: psycopg.Connection[Any]) -> dict[str, Any]:
    """One need in Hoàn Kiếm, posted through a partner app for its user, with an active pledge and a message;
    one need an operator filed for someone without a phone; the cast of callers around them."""
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])

    def partner(name: str, scopes: list[str]) -> str:
        return partners.create(
            url=database_url, name=name, scopes=scopes, rate_limit_per_minute=10_000, allowed_origins=[]
        )[1]

    read = ["accounts", "needs:read", "needs:write", "offers:read", "pledges:write", "messages"]
    hue_s = partner("Hue-S", [*read, "private:read"])
    tokens = {name: sign_up(api, name) for name in CALLERS if name != "anonymous" and "partner" not in name}
    headers = {name: _bearer(token) for name, token in tokens.items()} | {
        "anonymous": {},
        "partner_with_scope": _bearer(hue_s),
        "partner_without_scope": _bearer(partner("map", read)),
        "other_partner": _bearer(partner("other", [*read, "private:read"])),
    }
    give_role(db, tokens["ward_verifier"], "VERIFIER", ("00070",))
    give_role(db, tokens["other_verifier"], "VERIFIER", ("00004",))
    give_role(db, tokens["operator"], "OPERATOR")
    give_role(db, tokens["admin"], "ADMIN")
    # The requester signed up through Hue-S and acts through it (an account a partner signed up gets
    # no token of its own: tests/schema/test_sessions.py).
    person = api.http.post(
        "/graphql",
        json={"query": SIGN_UP, "variables": {"input": {"displayName": "Bà Lan", "phone": "0944 000 111", "password": "long enough"}}},
        headers=_bearer(hue_s),
    ).json()["data"]["signUp"]["account"]["id"]  # fmt: skip
    headers["requester"] = {**_bearer(hue_s), "Aidmap-Act-As": person}
    callers = Callers(api, headers)
    created = api.http.post(
        "/graphql",
        json={"query": CREATE_NEED, "variables": {"input": need_input(location=HOAN_KIEM_LAKE)}},
        headers={**_bearer(hue_s), "Aidmap-Act-As": person},
    ).json()["data"]["createNeed"]["need"]
    need_id = created["id"]
    pledge_id = callers.data(
        "pledged_donor", "mutation ($id: ID!) { pledge(input: {needId: $id, quantity: 1}) { pledge { id } } }",
        {"id": need_id},
    )["pledge"]["pledge"]["id"]  # fmt: skip
    callers.data(
        "requester", 'mutation ($id: ID!) { sendMessage(input: {pledgeId: $id, body: "Ngõ 5, nhà số 3"}) { errors { code } } }',
        {"id": pledge_id},
    )  # fmt: skip
    filed = api.data(
        CREATE_NEED,
        {"input": need_input(location=HOAN_KIEM_LAKE, category="MEDICINE", onBehalfOf={"displayName": "Ông Tư", "phone": "0955 000 222"})},
        tokens["operator"],
    )["createNeed"]["need"]  # fmt: skip
    offer = create_offer(api, tokens["donor"])
    return {"callers": callers, "need": need_id, "pledge": pledge_id, "filed": filed["id"], "offer": offer["id"],
            "requester_account": person}  # fmt: skip


# Who sees the exact location and phone of the partner-filed need (models.need.may_see_private).
PRIVATE = {"requester", "pledged_donor", "ward_verifier", "partner_with_scope", "admin"}
# Who sees the reports and duplicate flags (reviewers).
REVIEWERS = {"ward_verifier", "admin"}


def test_private_need_fields_by_caller(world: dict[str, Any]) -> None:
    callers: Callers = world["callers"]
    for who in CALLERS:
        need = callers.data(who, NEED, {"id": world["need"]})["node"]
        private = who in PRIVATE
        assert (need["exactLocation"] is not None) == private, who
        assert (need["contactPhone"] is not None) == private, who
        assert need["onBehalfOf"] is None, who
        assert (len(need["pledges"]) == 1) == (who in {"requester", "pledged_donor"}), who
        assert need["reports"] == [] and need["possibleDuplicateOf"] is None, who
    # Every read above by someone other than the requester was logged; only the requester sees the log.
    deadline = time.monotonic() + 5
    while True:
        reads = {who: callers.data(who, NEED, {"id": world["need"]})["node"]["locationReads"] for who in CALLERS}
        if len(reads["requester"]) >= 2 * (len(PRIVATE) - 1) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert {r["readerName"] for r in reads["requester"]} >= {"pledged_donor", "ward_verifier", "admin"}
    assert all(reads[who] == [] for who in CALLERS if who != "requester")


def test_a_need_filed_on_someones_behalf_by_caller(world: dict[str, Any]) -> None:
    callers: Callers = world["callers"]
    for who in CALLERS:
        need = callers.data(who, NEED, {"id": world["filed"]})["node"]
        assert (need["exactLocation"] is not None) == (who in {"operator", "ward_verifier", "admin"}), who
        assert (need["onBehalfOf"] is not None) == (who == "operator"), who


def test_pledges_messages_accounts_and_offers_by_caller(world: dict[str, Any]) -> None:
    callers: Callers = world["callers"]
    unknown_pledge = to_global_id("Pledge", 987_654)
    for who in CALLERS:
        parties = who in {"requester", "pledged_donor"}
        seen = callers.post(who, PLEDGE_NODE, {"id": world["pledge"]})
        # Someone else's pledge answers exactly like a pledge that does not exist.
        assert (seen == callers.post(who, PLEDGE_NODE, {"id": unknown_pledge})) == (not parties), who
        thread = callers.post(who, MESSAGES, {"id": world["pledge"]})
        if parties:
            assert thread["data"]["messages"] == [{"body": "Ngõ 5, nhà số 3"}], who
        else:
            unknown = callers.post(who, MESSAGES, {"id": unknown_pledge})
            assert thread.get("data") == unknown.get("data") and "errors" in thread, who
            assert thread["errors"][0]["extensions"] == unknown["errors"][0]["extensions"], who
        account = callers.data(who, ACCOUNT, {"id": world["requester_account"]})["node"]
        # The account node: itself, admins, the donor who pledged to its need, the partner that owns it.
        assert (account is not None) == (who in {"requester", "admin", "pledged_donor", "partner_with_scope"}), who
        if account is not None:
            assert (account["phone"] is not None) == (who == "requester"), who
            assert (account["roles"] != []) == (who in {"requester", "admin"}), who
        offer = callers.data(who, OFFER, {"id": world["offer"]})["node"]
        assert (offer["exactLocation"] is not None) == (who == "donor"), who


# mutation -> (variables builder, callers allowed, error code for the others)
MUTATIONS: list[tuple[str, str, set[str]]] = [
    ('updateNeed(input: {needId: $need, title: "changed"})', "NOT_FOUND", {"requester"}),
    ("cancelNeed(input: {needId: $need})", "NOT_FOUND", {"requester"}),
    ("renewNeed(input: {needId: $need})", "NOT_FOUND", {"requester"}),
    ("confirmDelivery(input: {pledgeId: $pledge})", "NOT_FOUND", {"requester"}),
    ("cancelPledge(input: {pledgeId: $pledge})", "NOT_FOUND", {"requester", "pledged_donor"}),
    ('sendMessage(input: {pledgeId: $pledge, body: "hi"})', "NOT_FOUND", {"requester", "pledged_donor"}),
    ('rejectNeed(input: {needId: $need, reason: "fake"})', "FORBIDDEN", {"ward_verifier", "admin"}),
    ("grantRole(input: {accountId: $account, role: ADMIN})", "FORBIDDEN", {"admin"}),
    ('claimNeed(input: {needId: $filed, code: "00000000"})', "CLAIM_CODE_WRONG", set()),
    ('updateOffer(input: {offerId: $offer, title: "changed"})', "NOT_FOUND", {"donor"}),
]


@pytest.mark.parametrize(("mutation", "denied_code", "allowed"), MUTATIONS, ids=[m[0].split("(")[0] for m in MUTATIONS])
def test_mutations_on_other_peoples_objects_are_refused_and_change_nothing(
    world: dict[str, Any], db: psycopg.Connection[Any], mutation: str, denied_code: str, allowed: set[str]
) -> None:
    callers: Callers = world["callers"]
    name = mutation.split("(")[0]
    used = sorted(set(re.findall(r"\$(\w+)", mutation)))
    declared = ", ".join(f"${v}: ID!" for v in used)
    document = f"mutation ({declared}) {{ {mutation} {{ errors {{ code }} }} }}"
    values = {k: world[k] for k in ("need", "pledge", "filed", "offer")} | {"account": world["requester_account"]}
    variables = {k: values[k] for k in used}
    events_before = db.execute("SELECT count(*) FROM events").fetchone()
    state_before = db.execute("SELECT status, title, quantity_pledged FROM needs ORDER BY id").fetchall()

    for who in CALLERS:
        if who in allowed:
            continue
        body = callers.post(who, document, variables)
        # Refused by scope before running (the requester acts through Hue-S's key): nothing to compare.
        if ("partner" in who or who == "requester") and "errors" in body:
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (who, body)
            continue
        assert body.get("data") is not None, (who, body)
        errors = body["data"][name]["errors"]
        expected = "UNAUTHENTICATED" if who in ("anonymous",) or "partner" in who else denied_code
        if name == "confirmDelivery" and who == "pledged_donor":
            expected = "FORBIDDEN"  # the donor sees the pledge; only the requester confirms it
        assert [e["code"] for e in errors] == [expected], (who, errors)

    assert db.execute("SELECT count(*) FROM events").fetchone() == events_before
    assert db.execute("SELECT status, title, quantity_pledged FROM needs ORDER BY id").fetchall() == state_before
    for who in sorted(allowed):
        assert callers.data(who, document, variables)[name]["errors"] == [], who
        break  # one allowed caller proves the mutation itself works here
