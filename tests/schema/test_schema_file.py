"""schema.graphql is committed for partner apps; it must match the code."""

from __future__ import annotations

from aidmap.schema import schema
from aidmap.settings import PROJECT_ROOT


def test_committed_schema_is_up_to_date() -> None:
    committed = (PROJECT_ROOT / "schema.graphql").read_text()
    assert committed == schema.as_str() + "\n", "schema.graphql is stale: run `make schema` and commit it"


def test_contract_names_are_present() -> None:
    sdl = schema.as_str()
    for fragment in [
        "input GeoPointInput {\n  lat: Float!\n  lon: Float!\n}",
        "needs(near: GeoPointInput!, radiusMeters: Float!, first: Int!, categories: [NeedCategory!] = null, statuses: [NeedStatus!] = null, after: String = null, urgencies: [Urgency!] = null, orderBy: NeedOrder! = DISTANCE): NeedConnection!",
        "createNeed(input: CreateNeedInput!): NeedPayload!",
        "pledge(input: PledgeInput!): PledgePayload!",
        "confirmDelivery(input: ConfirmDeliveryInput!): PledgePayload!",
        "nodes(ids: [ID!]!): [Node]!",
        "enum NeedStatus {\n  OPEN\n  PARTLY_PLEDGED\n  PLEDGED\n  FULFILLED\n  CANCELLED\n  EXPIRED\n  PENDING_VERIFICATION\n  UNDER_REVIEW\n  REJECTED\n}",
    ]:
        assert fragment in sdl, fragment
