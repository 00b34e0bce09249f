"""Every field that returns an Account holds to the Account node's rule (issue 14).

An account is seen by itself, admins, the people it shares a pledge or a need with and the partner
app that signed it up; to anyone else `node` answers like an unknown id and a field returning it is
null. The fields are found by introspection: a new field of type Account fails this test until it is
listed below, with how it is reached.
"""

from __future__ import annotations

from typing import Any

import psycopg
from graphql import GraphQLObjectType, get_named_type

from aidmap.cli import partners
from aidmap.schema import schema
from tests.conftest import Api
from tests.factories import HANOI, create_need, create_offer, give_role, pledge, sign_up

# Fields that return someone else's account: each is read below by every caller.
SOMEONE_ELSES = {("Offer", "donor"), ("Pledge", "donor"), ("Message", "sender")}
# Fields that return the caller's own account (or, for role changes, one only an admin can ask about).
OWN_OR_ADMIN = {
    ("Query", "me"),
    ("AuthPayload", "account"),  # signUp / signIn: the account just signed up or in
    ("ChangePasswordPayload", "account"),  # the caller's own
    ("RolePayload", "account"),  # grantRole / revokeRole: admins only, never through a key
}

OFFERS = """query ($near: GeoPointInput!) {
  offers(near: $near, radiusMeters: 5000, first: 50) { edges { node { id donor { id displayName } } } }
}"""
NODES = """query ($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename
    ... on Offer { donor { id displayName } }
    ... on Pledge { donor { id displayName } }
    ... on Message { sender { id displayName } }
    ... on Account { displayName }
  }
}"""
NEED_PLEDGES = "query ($id: ID!) { node(id: $id) { ... on Need { pledges { donor { displayName } } } } }"
SEND = "mutation ($input: SendMessageInput!) { sendMessage(input: $input) { message { id } errors { code } } }"
PARTNER_SIGN_UP = "mutation ($input: SignUpInput!) { signUp(input: $input) { account { id } errors { code } } }"


def _account_fields() -> set[tuple[str, str]]:
    found = set()
    for type_name, graphql_type in schema._schema.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field_name, field in graphql_type.fields.items():
            if get_named_type(field.type).name == "Account":
                found.add((type_name, field_name))
    return found


def test_every_field_returning_an_account_is_listed() -> None:
    assert _account_fields() == SOMEONE_ELSES | OWN_OR_ADMIN


def _post(api: Api, query: str, variables: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = api.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    ).json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def test_strangers_get_null_for_every_account_they_may_not_see(
    api: Api, database_url: str, db: psycopg.Connection[Any]
) -> None:
    owner, donor, stranger, admin = (sign_up(api, n) for n in ("Owner O", "Donor D", "Stranger S", "Admin A"))
    give_role(db, admin, "ADMIN")
    others = [sign_up(api, f"Other donor {i}") for i in range(5)]
    need = create_need(api, owner)
    offer = create_offer(api, donor)
    for other in others:
        create_offer(api, other)
    made = pledge(api, donor, need["id"], 2, offer["id"])
    assert made["errors"] == [], made
    pledge_id = made["pledge"]["id"]
    sent = api.data(SEND, {"input": {"pledgeId": pledge_id, "body": "On my way"}}, donor)["sendMessage"]
    assert sent["errors"] == [], sent
    message_id = sent["message"]["id"]
    donor_id = api.data("{ me { id } }", token=donor)["me"]["id"]

    # A partner app with every read scope, but it did not sign these people up; and one that signed
    # up a donor of its own, who makes an offer through it.
    _, outsider = partners.create(
        url=database_url, name="Outsider", scopes=["needs:read", "offers:read"], rate_limit_per_minute=1000,
        allowed_origins=[],
    )  # fmt: skip
    _, signer = partners.create(
        url=database_url, name="Signer", scopes=["accounts", "needs:read", "offers:read", "offers:write"],
        rate_limit_per_minute=1000, allowed_origins=[],
    )  # fmt: skip
    signed = _post(
        api,
        PARTNER_SIGN_UP,
        {"input": {"displayName": "Partner's donor", "phone": "0987 654 321", "password": "correct horse"}},
        {"Authorization": f"Bearer {signer}"},
    )["signUp"]
    assert signed["errors"] == [], signed
    partners_donor = signed["account"]["id"]
    created = _post(
        api,
        "mutation ($input: CreateOfferInput!) { createOffer(input: $input) { offer { id } errors { code } } }",
        {"input": {"category": "FOOD", "title": "Mì", "quantity": 5, "unit": "thùng", "location": HANOI,
                   "radiusMeters": 3000}},
        {"Authorization": f"Bearer {signer}", "Aidmap-Act-As": partners_donor},
    )["createOffer"]  # fmt: skip
    assert created["errors"] == [], created
    partners_offer = created["offer"]["id"]

    def headers(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def offer_donors(h: dict[str, str]) -> dict[str, Any]:
        edges = _post(api, OFFERS, {"near": HANOI}, h)["offers"]["edges"]
        assert len(edges) == 7, edges  # every offer is public: the page itself is not the secret
        return {e["node"]["id"]: e["node"]["donor"] for e in edges}

    # Nobody, a signed-in stranger, a partner that did not sign them up: a page of offers shows no donor.
    for h in (headers(None), headers(stranger), headers(outsider)):
        assert set(offer_donors(h).values()) == {None}, h
        nodes = _post(api, NODES, {"ids": [offer["id"], pledge_id, message_id, donor_id]}, h)["nodes"]
        # The offer is there without its donor; the pledge, the message and the account answer like unknown ids.
        assert nodes == [{"__typename": "Offer", "donor": None}, None, None, None], (h, nodes)

    # The partner that signed its donor up sees that one, and only that one.
    seen = offer_donors(headers(signer))
    assert seen.pop(partners_offer) == {"id": partners_donor, "displayName": "Partner's donor"}
    assert set(seen.values()) == {None}

    # The owner shares a pledge with the donor: the donor's name everywhere, no other donor's.
    mine = {"id": donor_id, "displayName": "Donor D"}
    seen = offer_donors(headers(owner))
    assert seen.pop(offer["id"]) == mine and set(seen.values()) == {None}
    nodes = _post(api, NODES, {"ids": [offer["id"], pledge_id, message_id, donor_id]}, headers(owner))["nodes"]
    assert nodes == [
        {"__typename": "Offer", "donor": mine},
        {"__typename": "Pledge", "donor": mine},
        {"__typename": "Message", "sender": mine},
        {"__typename": "Account", "displayName": "Donor D"},
    ]
    pledged = _post(api, NEED_PLEDGES, {"id": need["id"]}, headers(owner))["node"]["pledges"]
    assert pledged == [{"donor": {"displayName": "Donor D"}}]

    # The donor sees itself; an admin sees everyone.
    assert offer_donors(headers(donor))[offer["id"]] == mine
    assert None not in offer_donors(headers(admin)).values()
