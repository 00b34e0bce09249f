"""Collection points (aidmap/resolvers/collection_points.py): a donor drops what they pledge at a point
within their radius, its manager carries it on to a need far away. Tried as the people involved
would: the admin opens the point, the donor relays through it, the manager delivers, and neither a
donor nor a stranger learns the address on the way; the point's reach is decided by the public cell."""

from __future__ import annotations

from typing import Any

import psycopg

from aidmap.geo.distance import haversine_m
from aidmap.geo.privacy import CELL_LAT_DEG, snap_to_cell
from aidmap.schema.ids import from_global_id, to_global_id
from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.factories import account_pk, create_need, create_offer, give_role, matching_round, sign_up
from tests.live import LiveClient

CREATE_POINT = """mutation ($input: CreateCollectionPointInput!) { createCollectionPoint(input: $input) {
  collectionPoint { id name address location { lat lon } reachMeters unitsPerDay unitsLeftToday }
  errors { field code } } }"""
POINTS = """query ($near: GeoPointInput!, $r: Float!) { collectionPoints(near: $near, radiusMeters: $r) {
  id name unitsLeftToday } }"""
RELAY = """mutation ($input: PledgeInput!) { pledge(input: $input) {
  pledge { id quantity status collectionPoint { id } need { id quantityPledged exactLocation { lat lon } contactPhone } }
  errors { field code } } }"""
NEED = """query ($id: ID!) { node(id: $id) { ... on Need { id quantityPledged exactLocation { lat lon } contactPhone } } }"""
RELAYS = """{ myRelays { id quantity collectionPoint { id } need { id exactLocation { lat lon } contactPhone } } }"""
MARK = """mutation ($input: MarkDeliveredInput!) { markDelivered(input: $input) { errors { field code } } }"""
PROPOSALS = "{ myProposals { id quantity collectionPoint { id } need { id } } }"
ACCEPT = """mutation ($input: ProposalInput!) { acceptProposal(input: $input) {
  pledge { id quantity collectionPoint { id } need { exactLocation { lat lon } } } errors { field code } } }"""

DONOR_AT = {"lat": 21.0285, "lon": 105.8542}  # Hoàn Kiếm
POINT_AT = {"lat": 21.0285, "lon": 105.8642}  # ~1 km east of the donor
FAR_NEED = {"lat": 21.1400, "lon": 105.5000}  # ~39 km west-north-west: Thạch Thất, beyond any donor's radius
PHONE = "0912 777 001"
PHONE_E164 = "+84912777001"


def _point(api: Api, admin: str, manager_token: str, db: psycopg.Connection[Any], **overrides: Any) -> dict[str, Any]:
    values = {
        "name": "UBND phường Hàng Bài", "address": "2 Lý Thường Kiệt", "location": POINT_AT,
        "reachMeters": 50_000.0, "unitsPerDay": 5, "managerId": _account_id(api, manager_token, db),
    } | overrides  # fmt: skip
    payload = api.data(CREATE_POINT, {"input": values}, admin)["createCollectionPoint"]
    assert payload["errors"] == [], payload
    point: dict[str, Any] = payload["collectionPoint"]
    return point


def _account_id(api: Api, token: str, db: psycopg.Connection[Any]) -> str:

    return to_global_id("Account", account_pk(db, token))


def _relay(api: Api, token: str, need: str, quantity: int, offer: str | None, point: str) -> dict[str, Any]:
    variables: dict[str, Any] = {"needId": need, "quantity": quantity, "collectionPointId": point}
    if offer is not None:
        variables["offerId"] = offer
    result: dict[str, Any] = api.data(RELAY, {"input": variables}, token)["pledge"]
    return result


def test_a_donor_relays_through_a_point_and_only_its_operator_learns_the_address(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    admin, manager, donor, requester, stranger = (
        sign_up(api, n) for n in ("Admin", "Manager", "Donor", "Requester", "Stranger")
    )
    give_role(db, admin, "ADMIN")
    need = create_need(api, requester, quantity=3, location=FAR_NEED, contactPhone=PHONE)
    offer = create_offer(api, donor, quantity=4, radiusMeters=3000, location=DONOR_AT)
    point = _point(api, admin, manager, db)
    assert (point["unitsPerDay"], point["unitsLeftToday"], point["location"]) == (5, 5, POINT_AT)
    listed = api.data(POINTS, {"near": DONOR_AT, "r": 5000.0})["collectionPoints"]
    assert listed == [{"id": point["id"], "name": "UBND phường Hàng Bài", "unitsLeftToday": 5}]

    relayed = _relay(api, donor, need["id"], 2, offer["id"], point["id"])
    assert relayed["errors"] == [], relayed
    assert relayed["pledge"]["collectionPoint"] == {"id": point["id"]}
    # The donor's trip ends at the point: the need's address and phone are not theirs to see.
    assert relayed["pledge"]["need"]["exactLocation"] is None and relayed["pledge"]["need"]["contactPhone"] is None
    for who in (donor, stranger):
        seen = api.data(NEED, {"id": need["id"]}, who)["node"]
        assert (seen["exactLocation"], seen["contactPhone"], seen["quantityPledged"]) == (None, None, 2)
    # The manager carries it, so they see where it goes.
    carried = api.data(RELAYS, None, manager)["myRelays"]
    assert [(c["id"], c["quantity"], c["collectionPoint"]["id"]) for c in carried] == [
        (relayed["pledge"]["id"], 2, point["id"])
    ]
    assert carried[0]["need"]["contactPhone"] == PHONE_E164
    assert carried[0]["need"]["exactLocation"] == need["exactLocation"]
    assert api.data(RELAYS, None, donor)["myRelays"] == []
    assert api.data(POINTS, {"near": DONOR_AT, "r": 5000.0})["collectionPoints"][0]["unitsLeftToday"] == 3

    # The manager, not the donor, says it was delivered.
    refused = api.data(MARK, {"input": {"pledgeId": relayed["pledge"]["id"]}}, donor)["markDelivered"]
    assert refused["errors"] == [{"field": "pledgeId", "code": "FORBIDDEN"}]
    assert api.data(MARK, {"input": {"pledgeId": relayed["pledge"]["id"]}}, manager)["markDelivered"]["errors"] == []


def test_a_relay_the_point_cannot_carry_is_refused_and_changes_nothing(api: Api, db: psycopg.Connection[Any]) -> None:
    admin, manager, donor, requester = (sign_up(api, n) for n in ("Admin", "Manager", "Donor", "Requester"))
    give_role(db, admin, "ADMIN")
    need = create_need(api, requester, quantity=10, location=FAR_NEED)
    offer = create_offer(api, donor, quantity=10, radiusMeters=3000, location=DONOR_AT)
    point = _point(api, admin, manager, db, unitsPerDay=3)
    far_point = _point(api, admin, manager, db, location={"lat": 21.0285, "lon": 105.9200})  # ~6.8 km from the donor
    short_point = _point(api, admin, manager, db, reachMeters=10_000.0)

    def refused(quantity: int, offer_id: str | None, point_id: str) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = _relay(api, donor, need["id"], quantity, offer_id, point_id)["errors"]
        return errors

    assert refused(4, offer["id"], point["id"]) == [{"field": "quantity", "code": "QUOTA_EXCEEDED"}]
    assert refused(1, offer["id"], far_point["id"]) == [{"field": "collectionPointId", "code": "OUT_OF_RANGE"}]
    assert refused(1, offer["id"], short_point["id"]) == [{"field": "collectionPointId", "code": "OUT_OF_RANGE"}]
    assert refused(1, None, point["id"]) == [{"field": "offerId", "code": "REQUIRED"}]
    assert refused(1, offer["id"], offer["id"]) == [{"field": "collectionPointId", "code": "NOT_FOUND"}]
    assert db.execute("SELECT count(*), sum(quantity_pledged) FROM offers").fetchone() == (1, 0)
    assert db.execute("SELECT count(*) FROM pledges").fetchone() == (0,)
    assert _relay(api, donor, need["id"], 3, offer["id"], point["id"])["errors"] == []
    assert refused(1, offer["id"], point["id"]) == [{"field": "quantity", "code": "QUOTA_EXCEEDED"}]

    # Admins only, and bad input is a typed error that writes nothing.
    other = api.data(CREATE_POINT, {"input": {
        "name": "x", "address": "y", "location": POINT_AT, "reachMeters": 1000.0, "unitsPerDay": 1,
        "managerId": _account_id(api, manager, db)}}, donor)["createCollectionPoint"]  # fmt: skip
    assert other == {"collectionPoint": None, "errors": [{"field": None, "code": "FORBIDDEN"}]}
    bad = api.data(CREATE_POINT, {"input": {
        "name": " ", "address": "y", "location": {"lat": 91.0, "lon": 0.0}, "reachMeters": 0.0, "unitsPerDay": 0,
        "managerId": _account_id(api, manager, db)}}, admin)["createCollectionPoint"]  # fmt: skip
    assert sorted(e["field"] for e in bad["errors"]) == ["location", "name", "reachMeters", "unitsPerDay"]
    assert db.execute("SELECT count(*) FROM collection_points").fetchone() == (3,)


def test_whether_a_point_reaches_a_need_does_not_depend_on_the_exact_point_in_its_cell(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    """An attacker who opens points (or finds one) with reaches around a need must learn nothing finer
    than its public cell: two needs in one cell, one exact point nearer the point's edge of reach than
    the cell's centre and one farther, get the same answer from every reach."""
    admin, manager, donor, requester = (sign_up(api, n) for n in ("Admin", "Manager", "Donor", "Requester"))
    give_role(db, admin, "ADMIN")
    lon_c, lat_c = snap_to_cell(FAR_NEED["lon"], FAR_NEED["lat"])
    quarter = CELL_LAT_DEG / 4
    near_side = {"lat": lat_c + quarter, "lon": lon_c}  # toward the point (north of the centre)...
    far_side = {"lat": lat_c - quarter, "lon": lon_c}  # ...and away from it, in the same cell
    assert snap_to_cell(near_side["lon"], near_side["lat"]) == snap_to_cell(far_side["lon"], far_side["lat"])
    point_at = {"lat": lat_c + 0.2, "lon": lon_c}  # ~22 km due north
    offer = create_offer(api, donor, quantity=20, radiusMeters=3000, location=point_at)
    centre_m = haversine_m(point_at["lon"], point_at["lat"], lon_c, lat_c)
    needs = [create_need(api, requester, quantity=2, location=where)["id"] for where in (near_side, far_side)]
    for reach in (centre_m - 100.0, centre_m + 100.0):  # between the two exact points' distances, either side
        point = _point(api, admin, manager, db, location=point_at, reachMeters=reach, unitsPerDay=100)
        answers = [_relay(api, donor, need, 1, offer["id"], point["id"])["errors"] for need in needs]
        assert answers[0] == answers[1], (reach, answers)
        expected = [] if reach > centre_m else [{"field": "collectionPointId", "code": "OUT_OF_RANGE"}]
        assert answers[0] == expected


def test_a_round_proposes_through_a_point_a_need_no_donor_reaches(
    api: Api, settings: Settings, db: psycopg.Connection[Any]
) -> None:
    admin, manager, donor, requester = (sign_up(api, n) for n in ("Admin", "Manager", "Donor", "Requester"))
    give_role(db, admin, "ADMIN")
    need = create_need(api, requester, quantity=2, location=FAR_NEED, contactPhone=PHONE)
    create_offer(api, donor, quantity=4, radiusMeters=3000, location=DONOR_AT)
    assert matching_round(settings).proposals == 0  # out of the donor's reach, and no point yet
    full = _point(api, admin, manager, db, unitsPerDay=1)
    assert _relay(api, sign_up(api, "Other"), need["id"], 1, None, full["id"])["errors"][0]["field"] == "offerId"
    db.execute("UPDATE collection_points SET active = false")
    point = _point(api, admin, manager, db)
    assert matching_round(settings).proposals == 1
    proposal = api.data(PROPOSALS, None, donor)["myProposals"][0]
    assert (proposal["need"]["id"], proposal["quantity"], proposal["collectionPoint"]) == (
        need["id"], 2, {"id": point["id"]}
    )  # fmt: skip
    # While it waits, pledges may still use the point's units (only rounds count the proposal).
    assert api.data(POINTS, {"near": DONOR_AT, "r": 5000.0})["collectionPoints"][0]["unitsLeftToday"] == 5
    accepted = api.data(ACCEPT, {"input": {"proposalId": proposal["id"]}}, donor)["acceptProposal"]
    assert accepted["errors"] == [], accepted
    assert accepted["pledge"]["collectionPoint"] == {"id": point["id"]}
    assert accepted["pledge"]["need"]["exactLocation"] is None
    assert api.data(RELAYS, None, manager)["myRelays"][0]["need"]["contactPhone"] == PHONE_E164
    assert api.data(POINTS, {"near": DONOR_AT, "r": 5000.0})["collectionPoints"][0]["unitsLeftToday"] == 3


SEND = (
    """mutation ($id: ID!, $body: String!) { sendMessage(input: {pledgeId: $id, body: $body}) { errors { code } } }"""
)
THREAD = """query ($id: ID!) { messages(pledgeId: $id) { body } }"""
CANCEL = """mutation ($id: ID!) { cancelPledge(input: {pledgeId: $id}) { pledge { status } errors { code } } }"""
UPDATE = """mutation ($input: UpdateNeedInput!) { updateNeed(input: $input) { errors { code } } }"""


def _relayed_world(api: Api, db: psycopg.Connection[Any]) -> tuple[str, str, str, str, str]:
    """(manager, donor, requester, need id, relayed pledge id): one relayed pledge of 1 unit."""
    admin, manager, donor, requester = (sign_up(api, n) for n in ("Admin", "Manager", "Donor", "Requester"))
    give_role(db, admin, "ADMIN")
    need = create_need(api, requester, quantity=3, location=FAR_NEED, contactPhone=PHONE)
    offer = create_offer(api, donor, quantity=4, radiusMeters=3000, location=DONOR_AT)
    point = _point(api, admin, manager, db)
    relayed = _relay(api, donor, need["id"], 1, offer["id"], point["id"])
    assert relayed["errors"] == [], relayed
    return manager, donor, requester, need["id"], relayed["pledge"]["id"]


def test_the_relays_chat_is_the_requester_and_the_operator_never_the_donor(
    api: Api, db: psycopg.Connection[Any]
) -> None:
    """The requester would tell whoever is in the chat where to come: that must be the one who carries it."""
    manager, donor, requester, _, pledge_id = _relayed_world(api, db)
    assert api.data(SEND, {"id": pledge_id, "body": "Số 12 ngõ 5, gọi 0912 777 001"}, requester)["sendMessage"] == {
        "errors": []
    }
    assert api.data(SEND, {"id": pledge_id, "body": "Chiều nay tôi mang đến"}, manager)["sendMessage"]["errors"] == []
    assert [m["body"] for m in api.data(THREAD, {"id": pledge_id}, manager)["messages"]] == [
        "Số 12 ngõ 5, gọi 0912 777 001", "Chiều nay tôi mang đến"
    ]  # fmt: skip
    assert api.data(SEND, {"id": pledge_id, "body": "Địa chỉ ở đâu?"}, donor)["sendMessage"]["errors"] == [
        {"code": "NOT_FOUND"}
    ]
    refused = api.post(THREAD, {"id": pledge_id}, donor)
    assert refused.get("data") is None or refused["data"].get("messages") is None
    assert "12 ngõ 5" not in str(refused)


def test_once_the_operator_says_delivered_the_donor_cannot_take_it_back(api: Api, db: psycopg.Connection[Any]) -> None:
    manager, donor, requester, _, pledge_id = _relayed_world(api, db)
    assert api.data(MARK, {"input": {"pledgeId": pledge_id}}, manager)["markDelivered"]["errors"] == []
    assert api.data(CANCEL, {"id": pledge_id}, donor)["cancelPledge"]["errors"] == [{"code": "INVALID_STATE"}]
    assert api.data(CANCEL, {"id": pledge_id}, manager)["cancelPledge"]["errors"] == [{"code": "INVALID_STATE"}]
    assert db.execute("SELECT status FROM pledges").fetchone() == ("PLEDGED",)
    # It did not arrive, says the requester: they still may.
    assert api.data(CANCEL, {"id": pledge_id}, requester)["cancelPledge"]["errors"] == []


def test_an_unanswered_proposal_holds_nothing_back_from_a_donor_who_relays(
    api: Api, settings: Settings, db: psycopg.Connection[Any]
) -> None:
    """A squatter whose offer a round proposed through a point, and who never answers, must not keep
    others from using the point; the next round does not propose past the point's units either."""
    admin, manager, squatter, honest, requester = (
        sign_up(api, n) for n in ("Admin", "Manager", "Squatter", "Honest", "Requester")
    )
    give_role(db, admin, "ADMIN")
    first = create_need(api, requester, quantity=3, location=FAR_NEED)
    second = create_need(api, sign_up(api, "Other requester"), quantity=3, location=FAR_NEED)
    create_offer(api, squatter, quantity=3, radiusMeters=3000, location=DONOR_AT)
    point = _point(api, admin, manager, db, unitsPerDay=3)
    assert matching_round(settings).proposals == 1
    waiting = api.data(PROPOSALS, None, squatter)["myProposals"]
    assert [(p["quantity"], p["collectionPoint"]) for p in waiting] == [(3, {"id": point["id"]})]
    # The round's view counts it, made yesterday too: a second offer is not proposed through the full point.
    db.execute("UPDATE match_proposals SET created_at = created_at - interval '1 day'")
    create_offer(api, sign_up(api, "Second donor"), quantity=3, radiusMeters=3000, location=DONOR_AT)
    assert matching_round(settings).proposals == 0
    # A pledge is never refused for it.
    offer = create_offer(api, honest, quantity=3, radiusMeters=3000, location=DONOR_AT)
    target = next(n["id"] for n in (first, second) if n["id"] != waiting[0]["need"]["id"])
    assert _relay(api, honest, target, 2, offer["id"], point["id"])["errors"] == []
    # Accepted late, the proposal gets what the point can still carry; then nothing is left.
    late = api.data(ACCEPT, {"input": {"proposalId": waiting[0]["id"]}}, squatter)["acceptProposal"]
    assert late["errors"] == [] and late["pledge"]["quantity"] == 1
    assert _relay(api, honest, target, 1, offer["id"], point["id"])["errors"] == [
        {"field": "quantity", "code": "QUOTA_EXCEEDED"}
    ]


def test_the_relaying_donor_hears_public_changes_to_the_need_but_never_its_address(
    api: Api, live_server: LiveServer, db: psycopg.Connection[Any]
) -> None:
    manager, donor, requester, need_id, _ = _relayed_world(api, db)
    activity_query = "subscription { myActivity { kind need { id quantity exactLocation { lat } contactPhone } } }"
    with LiveClient(live_server.url, donor) as activity:
        activity.subscribe(activity_query)
        activity.nothing_within(0.3)
        assert api.data(UPDATE, {"input": {"needId": need_id, "quantity": 2}}, requester)["updateNeed"]["errors"] == []
        event = activity.next()["data"]["myActivity"]
    assert event["kind"] == "NEED_UPDATED"
    assert event["need"] == {"id": need_id, "quantity": 2, "exactLocation": None, "contactPhone": None}
    with LiveClient(live_server.url, manager) as activity:
        activity.subscribe(activity_query)
        activity.nothing_within(0.3)
        assert api.data(UPDATE, {"input": {"needId": need_id, "quantity": 3}}, requester)["updateNeed"]["errors"] == []
        event = activity.next()["data"]["myActivity"]
    assert event["need"]["contactPhone"] == PHONE_E164


def test_a_downgrade_past_0035_shows_no_relayed_need_to_its_donor(
    api: Api, database_url: str, db: psycopg.Connection[Any]
) -> None:
    """Before 0035 a pledge's donor is who sees the need and chats with the requester: a relayed pledge
    must not become the donor's address book, or hand them the requester's chat with the manager, on
    a rollback."""
    from alembic import command

    from aidmap.db.migrate import alembic_config, upgrade

    manager, _, requester, _, pledge_id = _relayed_world(api, db)
    assert api.data(SEND, {"id": pledge_id, "body": "Số 12 ngõ 5"}, requester)["sendMessage"]["errors"] == []
    command.downgrade(alembic_config(database_url), "0034_private_need_updates")
    try:
        # Cancelled (the code before 0035 cannot carry it), its units open again, its chat gone.
        assert db.execute("SELECT status, accepted_at FROM pledges").fetchall() == [("CANCELLED", None)]
        assert db.execute("SELECT quantity_pledged, status FROM needs").fetchall() == [(0, "OPEN")]
        assert db.execute("SELECT quantity_pledged, status FROM offers").fetchall() == [(0, "ACTIVE")]
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (0,)
    finally:
        upgrade(database_url)


UPDATE_POINT = """mutation ($input: UpdateCollectionPointInput!) { updateCollectionPoint(input: $input) {
  collectionPoint { id unitsPerDay reachMeters } errors { field code } } }"""


def test_an_admin_hands_a_point_to_a_new_manager_and_closes_it(api: Api, db: psycopg.Connection[Any]) -> None:
    manager, donor, _, need_id, pledge_id = _relayed_world(api, db)
    admin = sign_up(api, "Second admin")
    give_role(db, admin, "ADMIN")
    point_id = api.data(RELAYS, None, manager)["myRelays"][0]["collectionPoint"]["id"]
    successor = sign_up(api, "Successor")

    def change(token: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = api.data(UPDATE_POINT, {"input": {"collectionPointId": point_id, **fields}}, token)
        return result["updateCollectionPoint"]

    assert change(manager, open=False)["errors"] == [{"field": None, "code": "FORBIDDEN"}]
    assert sorted(e["field"] for e in change(admin, reachMeters=-1.0, unitsPerDay=0)["errors"]) == [
        "reachMeters", "unitsPerDay"
    ]  # fmt: skip
    # A relay the manager already says they delivered stays theirs: the successor never carried it.
    offer = create_offer(api, donor, quantity=1, radiusMeters=3000, location=DONOR_AT)
    done = _relay(api, donor, need_id, 1, offer["id"], point_id)["pledge"]["id"]
    assert api.data(MARK, {"input": {"pledgeId": done}}, manager)["markDelivered"]["errors"] == []
    assert change(admin, managerId=_account_id(api, successor, db))["errors"] == []
    carriers = dict(db.execute("SELECT id, carrier_id FROM pledges").fetchall())
    assert carriers[from_global_id(done)[1]] == account_pk(db, manager)
    # The relay on its way goes with the point, its chat too.
    assert [r["id"] for r in api.data(RELAYS, None, manager)["myRelays"]] == [done]
    assert api.data(SEND, {"id": pledge_id, "body": "?"}, manager)["sendMessage"]["errors"] == [{"code": "NOT_FOUND"}]
    assert api.data(SEND, {"id": pledge_id, "body": "Tôi nhận"}, successor)["sendMessage"]["errors"] == []
    assert [r["id"] for r in api.data(RELAYS, None, successor)["myRelays"]] == [pledge_id]
    assert api.data(NEED, {"id": need_id}, successor)["node"]["contactPhone"] == PHONE_E164
    # Closed: no longer listed, and no new relay goes through it.
    assert change(admin, open=False, unitsPerDay=7)["collectionPoint"]["unitsPerDay"] == 7
    assert api.data(POINTS, {"near": DONOR_AT, "r": 5000.0})["collectionPoints"] == []
    refused = _relay(api, donor, need_id, 1, create_offer(api, donor, quantity=1, radiusMeters=3000,
                                                           location=DONOR_AT)["id"], point_id)["errors"]  # fmt: skip
    assert refused == [{"field": "collectionPointId", "code": "NOT_FOUND"}]


def test_a_proposal_through_a_point_closed_since_the_round_lapses_when_accepted(
    api: Api, settings: Settings, db: psycopg.Connection[Any]
) -> None:
    admin, manager, donor, requester = (sign_up(api, n) for n in ("Admin", "Manager", "Donor", "Requester"))
    give_role(db, admin, "ADMIN")
    create_need(api, requester, quantity=2, location=FAR_NEED)
    create_offer(api, donor, quantity=2, radiusMeters=3000, location=DONOR_AT)
    point = _point(api, admin, manager, db)
    assert matching_round(settings).proposals == 1
    proposal = api.data(PROPOSALS, None, donor)["myProposals"][0]
    db.execute("UPDATE collection_points SET active = false")
    late = api.data(ACCEPT, {"input": {"proposalId": proposal["id"]}}, donor)["acceptProposal"]
    assert late["errors"] == [{"field": "proposalId", "code": "INVALID_STATE"}]
    assert db.execute("SELECT status FROM match_proposals").fetchall() == [("LAPSED",)]
    assert db.execute("SELECT count(*) FROM pledges").fetchone() == (0,)
    assert api.data(PROPOSALS, None, donor)["myProposals"] == []
    assert point["id"]
