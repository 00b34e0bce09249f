"""Reports weigh trust that cannot be laundered, tried as the security tester did it.

Before, a delivered pledge made an account trusted whoever's need it was: a puppet requester R posted
a need, puppets D1-D3 pledged 1 each and R confirmed each delivery; at once D1-D3 were trusted, their
reports filed while fresh started counting, and one more report hid any public need (2 seconds).
"""

from __future__ import annotations

from typing import Any

import psycopg

from tests.conftest import Api
from tests.factories import account_pk, create_need, give_role, sign_up

HOAN_KIEM_LAKE = {"lat": 21.0288, "lon": 105.8525}
REPORT = (
    "mutation ($id: ID!, $r: String!) { reportNeed(input: {needId: $id, reason: $r}) { reported errors { code } } }"
)
PLEDGE = "mutation ($id: ID!) { pledge(input: {needId: $id, quantity: 1}) { pledge { id } errors { code } } }"
CONFIRM = "mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { pledge { status } errors { code } } }"
VERIFY = "mutation ($id: ID!) { verifyNeed(input: {needId: $id}) { errors { code } } }"
NODE = "query ($id: ID!) { node(id: $id) { ... on Need { id status } } }"


def _delivered(api: Api, donor: str, requester: str, need_id: str) -> None:
    """The donor pledges 1 to the need and its requester confirms the delivery, through the API."""
    pledged = api.data(PLEDGE, {"id": need_id}, donor)["pledge"]
    assert pledged["errors"] == [], pledged
    confirmed = api.data(CONFIRM, {"id": pledged["pledge"]["id"]}, requester)["confirmDelivery"]
    assert confirmed == {"pledge": {"status": "DELIVERED"}, "errors": []}, confirmed


def _report(api: Api, token: str, need_id: str) -> None:
    assert api.data(REPORT, {"id": need_id, "r": "Lừa đảo"}, token)["reportNeed"] == {"reported": True, "errors": []}


def _age(db: psycopg.Connection[Any], token: str, hours: int = 48) -> None:
    db.execute(
        "UPDATE accounts SET created_at = now() - make_interval(hours => %s) WHERE id = %s",
        (hours, account_pk(db, token)),
    )


def _still_public(api: Api, need_id: str) -> None:
    assert api.data(NODE, {"id": need_id})["node"] == {"id": need_id, "status": "OPEN"}  # anonymous


def test_puppets_vouching_for_each_other_cannot_hide_a_need(api: Api, db: psycopg.Connection[Any]) -> None:
    victim = sign_up(api, "Người cần giúp")
    _age(db, victim)
    need_id = create_need(api, victim, title="Gạo cho bà", location=HOAN_KIEM_LAKE)["id"]

    puppet_requester = sign_up(api, "R")
    bait = create_need(api, puppet_requester, title="Mồi", location=HOAN_KIEM_LAKE)["id"]
    donors = [sign_up(api, f"D{i}") for i in range(1, 4)]
    for donor in donors[:2]:
        _report(api, donor, need_id)  # filed while fresh
    for donor in donors:
        _delivered(api, donor, puppet_requester, bait)
    _report(api, donors[2], need_id)  # the report that used to hide it
    _still_public(api, need_id)
    fourth = sign_up(api, "D4")
    _delivered(api, fourth, puppet_requester, bait)
    _report(api, fourth, need_id)

    _still_public(api, need_id)
    # Even with puppets that waited out a day, a fresh puppet requester vouches for nobody.
    other_need = create_need(api, victim, title="Nước cho bà", location=HOAN_KIEM_LAKE)["id"]
    for donor in donors:
        _age(db, donor)
        _report(api, donor, other_need)
    _still_public(api, other_need)
    assert db.execute("SELECT count(*) FROM need_reports WHERE counts").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'NEED_HIDDEN'").fetchone() == (0,)


def test_a_report_filed_while_fresh_never_starts_counting(api: Api, db: psycopg.Connection[Any]) -> None:
    requester = sign_up(api, "Người cần giúp")
    _age(db, requester)
    need_id = create_need(api, requester, location=HOAN_KIEM_LAKE)["id"]
    helped = create_need(api, requester, title="Đã được giúp", location=HOAN_KIEM_LAKE)["id"]
    neighbours = [sign_up(api, f"Hàng xóm {i}") for i in range(3)]
    for token in neighbours:
        _report(api, token, need_id)  # fresh, no history: recorded, weightless
    for (
        token
    ) in neighbours:  # later they become trusted for real: older, with help delivered to an established requester
        _age(db, token)
        _delivered(api, token, requester, helped)
    _report(api, sign_up(api, "Người qua đường"), need_id)  # one more report: the count is taken again
    _still_public(api, need_id)  # the old reports keep the weight they had

    later = create_need(api, requester, title="Thuốc", location=HOAN_KIEM_LAKE)["id"]
    for token in neighbours[:2]:
        _report(api, token, later)
    _still_public(api, later)
    _report(api, neighbours[2], later)
    assert api.data(NODE, {"id": later}) == {"node": None}  # three trusted reports hide it


def test_trusted_reporters_and_reviewers_still_hide_a_need(api: Api, db: psycopg.Connection[Any]) -> None:
    requester, fresh_requester, verifier = sign_up(api, "A"), sign_up(api, "B"), sign_up(api, "Kiểm duyệt")
    give_role(db, verifier, "ADMIN")
    _age(db, requester)
    target = create_need(api, requester, location=HOAN_KIEM_LAKE)["id"]
    helped = create_need(api, requester, title="Đã được giúp", location=HOAN_KIEM_LAKE)["id"]
    # A fresh requester's delivery counts when a verifier had verified that need.
    verified = create_need(api, fresh_requester, title="Đã xác minh", location=HOAN_KIEM_LAKE)["id"]
    db.execute("UPDATE needs SET status = 'PENDING_VERIFICATION' WHERE id = (SELECT max(id) FROM needs)")
    assert api.data(VERIFY, {"id": verified}, verifier)["verifyNeed"]["errors"] == []
    neighbours = [sign_up(api, f"Hàng xóm {i}") for i in range(3)]
    for token in neighbours:
        _age(db, token)
    _delivered(api, neighbours[0], requester, helped)
    _delivered(api, neighbours[1], requester, helped)
    _delivered(api, neighbours[2], fresh_requester, verified)

    _report(api, neighbours[0], target)
    _report(api, neighbours[1], target)
    _still_public(api, target)
    _report(api, neighbours[2], target)
    assert api.data(NODE, {"id": target}) == {"node": None}
    assert api.data(NODE, {"id": target}, requester)["node"]["status"] == "UNDER_REVIEW"

    # One report from an admin (or the ward's verifier) hides at once.
    another = create_need(api, requester, title="Thuốc", location=HOAN_KIEM_LAKE)["id"]
    _report(api, verifier, another)
    assert api.data(NODE, {"id": another}) == {"node": None}
