"""Claim codes by SMS: filing a need on someone's behalf (and issueClaimCode) texts the code to the
person's phone through the configured gateway, played here by a server on 127.0.0.1, after the write
has committed and without making the filer wait; a gateway that fails changes nothing for the filer."""

from __future__ import annotations

import base64
from typing import Any

import psycopg

from aidmap.schema.ids import from_global_id
from tests.factories import CREATE_NEED as PLAIN_CREATE_NEED
from tests.factories import need_input, sign_up
from tests.notify.conftest import Gateway, wait_until

CREATE_NEED = PLAIN_CREATE_NEED.replace("createNeed(input: $input) {", "createNeed(input: $input) { claimCode", 1)
ISSUE = """mutation ($id: ID!) { issueClaimCode(input: {needId: $id}) {
  claimCode errors { field code retryAfterSeconds } } }"""
HA_NOI = {"lat": 21.028511, "lon": 105.854167}


def _file(api: Any, operator: str, phone: str, **extra: Any) -> dict[str, Any]:
    behalf = {"displayName": "Bà Lan", "phone": phone}
    filed: dict[str, Any] = api.data(CREATE_NEED, {"input": need_input(onBehalfOf=behalf, location=HA_NOI, **extra)}, operator)  # fmt: skip
    return filed["createNeed"]


def test_the_code_is_texted_once_to_the_persons_phone(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    api = make_api(**gateway.settings())
    operator = sign_up(api, "Tổng đài")
    filed = _file(api, operator, "0955 000 001", contactPhone="0955000001", idempotencyKey="call-1")
    assert filed["errors"] == [] and filed["claimCode"]
    [first] = gateway.wait_for(1)
    # A retry of the same createNeed returns no code (use issueClaimCode) and texts nothing.
    retried = _file(api, operator, "0955 000 001", contactPhone="0955000001", idempotencyKey="call-1")
    assert retried["need"]["id"] == filed["need"]["id"] and retried["claimCode"] is None
    db.execute("UPDATE need_claim_codes SET created_at = created_at - interval '61 seconds'")  # a minute later
    renewed = api.data(ISSUE, {"id": filed["need"]["id"]}, operator)["issueClaimCode"]
    assert renewed["errors"] == []
    received = gateway.wait_for(2)

    code, new_code = filed["claimCode"], renewed["claimCode"]
    assert [r["form"]["To"] for r in received] == ["+84955000001", "+84955000001"]  # E.164, once each
    # The need by its number, as the person types it on the claim screen (not the base64 id).
    number = base64.b64decode(filed["need"]["id"]).decode().split(":")[1]
    assert f"{code[:4]} {code[4:]}" in first["form"]["Body"] and f"ma yeu cau: {number}." in first["form"]["Body"]
    assert f"{new_code[:4]} {new_code[4:]}" in received[1]["form"]["Body"]
    assert code.replace(" ", "") not in received[1]["form"]["Body"].replace(" ", "")
    for request in received:
        body = request["form"]["Body"]
        assert len(body) <= 160 and body.isascii()  # one GSM-7 message
        # Nothing of where the person is: no coordinates, no title, no other phone.
        assert "21.0" not in body and "105.8" not in body and "Gạo" not in body and "0955" not in body
    assert len(gateway.received) == 2


def test_an_english_text_for_a_number_outside_vietnam(make_api: Any, gateway: Gateway) -> None:
    api = make_api(**gateway.settings())
    filed = _file(api, sign_up(api, "Operator"), "+44 7700 900123")
    [sent] = gateway.wait_for(1)
    assert sent["form"]["To"] == "+447700900123"
    assert sent["form"]["Body"].startswith("aidmap: a request for help was filed for you. Claim code ")
    assert filed["claimCode"][:4] in sent["form"]["Body"]


def test_a_failing_gateway_does_not_break_filing(make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]) -> None:
    api = make_api(**gateway.settings())
    operator = sign_up(api, "Tổng đài")
    gateway.script = [500, 500, 500]  # every attempt for the first message
    failed = _file(api, operator, "0955 000 002")
    tried = list(gateway.wait_for(3))
    gateway.script = [400]  # refused outright: not retried
    refused = _file(api, operator, "0955 000 003")
    gateway.wait_for(4)
    gateway.script = [0]  # a gateway that never answers: the filer does not wait for it
    held = _file(api, operator, "0955 000 004")
    assert gateway.wait_for(5)[-1]["answered"] == 0  # still held by the gateway

    for filed in (failed, refused, held):
        assert filed["errors"] == [] and filed["claimCode"] and len(filed["claimCode"]) == 8
    assert [r["answered"] for r in tried] == [500, 500, 500]  # transient: tried again, then given up
    ids = {from_global_id(f["need"]["id"])[1] for f in (failed, refused, held)}
    assert {row[0] for row in db.execute("SELECT id FROM needs").fetchall()} == ids
    assert db.execute("SELECT count(*) FROM need_claim_codes").fetchone() == (3,)
    # A later message goes out as usual.
    gateway.release.set()
    _file(api, operator, "0955 000 005")
    # (The released request for 0955 000 004 got no answer: that one may be tried again first.)
    wait_until(lambda: [r for r in gateway.received if r["form"]["To"] == "+84955000005"], what="the later message")
    assert len([r for r in gateway.received if r["form"]["To"] == "+84955000003"]) == 1


def test_a_stranger_cannot_flood_a_phone_with_claim_codes(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    api = make_api(**gateway.settings())
    stranger = sign_up(api, "Kẻ lạ")
    filed = _file(api, stranger, "0987000222")
    gateway.wait_for(1)
    stored = db.execute("SELECT code_hash, created_at FROM need_claim_codes").fetchall()
    answers = [api.data(ISSUE, {"id": filed["need"]["id"]}, stranger)["issueClaimCode"] for _ in range(60)]

    for answer in answers:  # typed, with when to try again; no code, nothing changed, nothing texted
        assert answer["claimCode"] is None
        [error] = answer["errors"]
        assert error["code"] == "TOO_MANY_ATTEMPTS" and error["field"] == "needId"
        assert 0 < error["retryAfterSeconds"] <= 60
    assert db.execute("SELECT code_hash, created_at FROM need_claim_codes").fetchall() == stored
    # A minute later one new code is issued (and the earlier one stops working), then the wait again.
    db.execute("UPDATE need_claim_codes SET created_at = created_at - interval '61 seconds'")
    renewed = api.data(ISSUE, {"id": filed["need"]["id"]}, stranger)["issueClaimCode"]
    assert renewed["errors"] == [] and renewed["claimCode"] != filed["claimCode"]
    again = api.data(ISSUE, {"id": filed["need"]["id"]}, stranger)["issueClaimCode"]
    assert [e["code"] for e in again["errors"]] == ["TOO_MANY_ATTEMPTS"] and again["claimCode"] is None
    gateway.wait_for(2)
    api.data(ISSUE, {"id": filed["need"]["id"]}, stranger)  # a last try, to see that nothing more is texted
    assert [r["form"]["To"] for r in gateway.received] == ["+84987000222", "+84987000222"]


def test_claim_code_texts_share_the_phones_daily_cap_and_the_code_is_still_returned(
    make_api: Any, gateway: Gateway, db: psycopg.Connection[Any]
) -> None:
    api = make_api(**gateway.settings(), sms_per_person_per_day=2)
    stranger = sign_up(api, "Kẻ lạ")
    first = _file(api, stranger, "0987000222")
    codes = [first["claimCode"]]
    for _ in range(4):  # one a minute (moved back here), past the cap
        db.execute("UPDATE need_claim_codes SET created_at = created_at - interval '61 seconds'")
        renewed = api.data(ISSUE, {"id": first["need"]["id"]}, stranger)["issueClaimCode"]
        assert renewed["errors"] == [] and renewed["claimCode"]
        codes.append(renewed["claimCode"])
    other = _file(api, stranger, "+84 987 000 222")  # another need, the same phone
    assert other["errors"] == [] and other["claimCode"]
    gateway.wait_for(2)
    _file(api, stranger, "0955 000 009")  # another phone has its own cap: texted
    wait_until(lambda: [r for r in gateway.received if r["form"]["To"] == "+84955000009"], what="the other text")
    assert [r["form"]["To"] for r in gateway.received].count("+84987000222") == 2
    assert codes[1][:4] in gateway.received[1]["form"]["Body"]
    assert db.execute("SELECT count(*) FROM sms_charges").fetchone() == (3,)
