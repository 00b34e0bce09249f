"""Every read of a need's exact location or phone by someone else is logged, and the requester can see who."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Api
from tests.factories import create_need, pledge, sign_up

PRIVATE = "query ($id: ID!) { node(id: $id) { ... on Need { exactLocation { lat } contactPhone } } }"
ONLY_LOCATION = "query ($id: ID!) { node(id: $id) { ... on Need { exactLocation { lat } } } }"
READS = "query ($id: ID!) { node(id: $id) { ... on Need { locationReads { readerName field readAt } } } }"


def _reads(api: Api, need_id: str, token: str, expected: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:  # the log is written in batches every 0.2 s
        reads: list[dict[str, Any]] = api.data(READS, {"id": need_id}, token)["node"]["locationReads"]
        if len(reads) >= expected or time.monotonic() > deadline:
            return reads
        time.sleep(0.1)


def test_reads_by_others_are_logged_and_shown_to_the_requester_only(api: Api) -> None:
    requester, donor, stranger = sign_up(api, "Người cần"), sign_up(api, "Người giúp"), sign_up(api, "Người lạ")
    need = create_need(api, requester)
    pledge(api, donor, need["id"], 1)

    assert api.data(PRIVATE, {"id": need["id"]}, requester)["node"]["contactPhone"] is not None  # own read: not logged
    assert api.data(PRIVATE, {"id": need["id"]}, stranger)["node"] == {"exactLocation": None, "contactPhone": None}
    donor_view = api.data(PRIVATE, {"id": need["id"]}, donor)["node"]
    api.data(ONLY_LOCATION, {"id": need["id"]}, donor)  # only what was asked for is logged

    reads = _reads(api, need["id"], requester, expected=3)
    assert donor_view["exactLocation"] is not None and donor_view["contactPhone"] == "+84912345678"
    assert sorted((r["readerName"], r["field"]) for r in reads) == [
        ("Người giúp", "CONTACT_PHONE"), ("Người giúp", "EXACT_LOCATION"), ("Người giúp", "EXACT_LOCATION"),
    ]  # fmt: skip
    assert api.data(READS, {"id": need["id"]}, donor)["node"]["locationReads"] == []


READS_WITH_CHANNEL = """query ($id: ID!) { node(id: $id) { ... on Need {
  locationReads { readerName partnerName field via } } } }"""


def test_reads_through_a_partner_key_are_logged_with_the_partner(api: Api, database_url: str) -> None:
    """Acting for nobody (a need filed through it, `private:read`) and acting for a donor who pledged."""
    from aidmap.cli import partners
    from tests.factories import CREATE_NEED, SIGN_UP, need_input, new_phone

    key = partners.create(
        url=database_url, name="Hue-S", scopes=partners.parse_scopes("accounts,needs:read,needs:write,pledges:write,private:read"),
        rate_limit_per_minute=10_000, allowed_origins=[],
    )[1]  # fmt: skip

    def post(query: str, variables: dict[str, Any], act_as: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} | ({"Aidmap-Act-As": act_as} if act_as else {})
        body: dict[str, Any] = api.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        ).json()
        assert "errors" not in body, body
        return body["data"]

    def user(name: str) -> str:
        answer = post(SIGN_UP, {"input": {"displayName": name, "phone": new_phone(), "password": "long enough"}})
        account_id: str = answer["signUp"]["account"]["id"]
        return account_id

    requester_id = user("Bà Lan")
    need_id = post(CREATE_NEED, {"input": need_input()}, act_as=requester_id)["createNeed"]["need"]["id"]
    read = post(PRIVATE, {"id": need_id})["node"]  # the key itself, acting for nobody
    assert read["exactLocation"] is not None
    donor_id = user("Anh Tư")
    post(
        "mutation ($input: PledgeInput!) { pledge(input: $input) { errors { code } } }",
        {"input": {"needId": need_id, "quantity": 1}}, act_as=donor_id,
    )  # fmt: skip
    assert post(ONLY_LOCATION, {"id": need_id}, act_as=donor_id)["node"]["exactLocation"] is not None
    post(PRIVATE, {"id": need_id}, act_as=requester_id)  # the requester's own read, through the app: not logged

    deadline = time.monotonic() + 10
    while True:
        reads = post(READS_WITH_CHANNEL, {"id": need_id}, act_as=requester_id)["node"]["locationReads"]
        if len(reads) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted((r["readerName"], r["partnerName"], r["field"], r["via"]) for r in reads) == [
        ("Anh Tư", "Hue-S", "EXACT_LOCATION", "API"),
        ("Hue-S", "Hue-S", "CONTACT_PHONE", "API"),
        ("Hue-S", "Hue-S", "EXACT_LOCATION", "API"),
    ]
