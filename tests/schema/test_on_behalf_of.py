"""Filing a need for someone without a smartphone, and that person claiming it later."""

from __future__ import annotations

import base64

from tests.conftest import Api
from tests.factories import CREATE_NEED as PLAIN_CREATE_NEED
from tests.factories import PLEDGE, SIGN_UP, need_input, sign_up

# createNeed with the claim code that filing on someone's behalf returns once.
CREATE_NEED = PLAIN_CREATE_NEED.replace("createNeed(input: $input) {", "createNeed(input: $input) { claimCode", 1)
CLAIM = "mutation ($input: ClaimNeedInput!) { claimNeed(input: $input) { need { isMine filedByMe } errors { field code } } }"
NEED = """query ($id: ID!) { node(id: $id) { ... on Need { isMine filedByMe exactLocation { lat } contactPhone
  onBehalfOf { displayName phone } } } }"""
MY_NEEDS = "{ myNeeds(first: 5) { edges { node { title } } } }"


def test_an_operator_files_a_need_and_the_person_claims_it(api: Api) -> None:
    operator, stranger = sign_up(api, "Tổng đài viên"), sign_up(api, "Người lạ")
    filed = api.data(
        CREATE_NEED,
        {"input": need_input(title="Gạo cho bà Lan", onBehalfOf={"displayName": "Bà Lan", "phone": "0977 111 222"})},
        operator,
    )["createNeed"]
    need_id, code = filed["need"]["id"], filed["claimCode"]

    seen_by_operator = api.data(NEED, {"id": need_id}, operator)["node"]
    seen_by_stranger = api.data(NEED, {"id": need_id}, stranger)["node"]
    wrong_person = api.data(CLAIM, {"input": {"needId": need_id, "code": code}}, stranger)["claimNeed"]
    lan = api.data(SIGN_UP, {"input": {"displayName": "Lan", "phone": "+84977111222", "password": "mật khẩu dài"}})[
        "signUp"
    ]["token"]
    claimed = api.data(CLAIM, {"input": {"needId": need_id, "code": code}}, lan)["claimNeed"]
    twice = api.data(CLAIM, {"input": {"needId": need_id, "code": code}}, lan)["claimNeed"]
    after_claim = api.data(NEED, {"id": need_id}, operator)["node"]

    assert filed["errors"] == []
    assert seen_by_operator["filedByMe"] and seen_by_operator["isMine"]
    assert seen_by_operator["onBehalfOf"] == {"displayName": "Bà Lan", "phone": "+84977111222"}
    assert seen_by_stranger["onBehalfOf"] is None and seen_by_stranger["exactLocation"] is None
    assert wrong_person["errors"] == [{"field": "code", "code": "CLAIM_CODE_WRONG"}]  # as a wrong code
    assert claimed["errors"] == [] and claimed["need"] == {"isMine": True, "filedByMe": False}
    assert twice["errors"] == [{"field": "needId", "code": "INVALID_STATE"}]
    assert [e["node"]["title"] for e in api.data(MY_NEEDS, token=lan)["myNeeds"]["edges"]] == ["Gạo cho bà Lan"]
    # Whoever filed it keeps seeing what they need to follow up: the exact location and phone.
    assert after_claim["isMine"] is False and after_claim["filedByMe"] is True
    assert after_claim["exactLocation"] is not None and after_claim["contactPhone"] is not None


def test_the_person_claims_with_the_needs_number_as_it_is_read_out_to_them(api: Api) -> None:
    # The operator reads the number over the phone and the SMS gives it: digits, as people type them.
    operator = sign_up(api, "Tổng đài viên")
    filed = [
        api.data(
            CREATE_NEED,
            {"input": need_input(title=f"Thuốc {i}", onBehalfOf={"displayName": "Ông Tư", "phone": "0977 333 444"})},
            operator,
        )["createNeed"]  # fmt: skip
        for i in range(2)
    ]
    numbers = [base64.b64decode(f["need"]["id"]).decode().split(":")[1] for f in filed]
    tu = api.data(SIGN_UP, {"input": {"displayName": "Tư", "phone": "0977333444", "password": "mật khẩu dài"}})[
        "signUp"
    ]["token"]
    # Another need's number with this code is refused as any wrong code is, not as a missing need.
    crossed = api.data(CLAIM, {"input": {"needId": numbers[1], "code": filed[0]["claimCode"]}}, tu)["claimNeed"]
    first = api.data(CLAIM, {"input": {"needId": f" #{numbers[0]} ", "code": filed[0]["claimCode"]}}, tu)["claimNeed"]
    second = api.data(CLAIM, {"input": {"needId": numbers[1], "code": filed[1]["claimCode"]}}, tu)["claimNeed"]

    assert crossed["errors"] == [{"field": "code", "code": "CLAIM_CODE_WRONG"}]
    assert first["errors"] == [] and first["need"] == {"isMine": True, "filedByMe": False}
    assert second["errors"] == []


def test_on_behalf_of_needs_a_name_and_a_valid_phone(api: Api) -> None:
    operator = sign_up(api)
    bad = api.data(CREATE_NEED, {"input": need_input(onBehalfOf={"displayName": " ", "phone": "abc"})}, operator)[
        "createNeed"
    ]
    assert bad["need"] is None
    assert {(e["field"], e["code"]) for e in bad["errors"]} == {
        ("onBehalfOf.displayName", "REQUIRED"),
        ("onBehalfOf.phone", "INVALID"),
    }


def test_the_filer_lists_what_they_filed_for_others_before_and_after_the_claim(api: Api) -> None:
    operator = sign_up(api, "Tổng đài viên")
    own = api.data(PLAIN_CREATE_NEED, {"input": need_input(title="Của tôi")}, operator)["createNeed"]["need"]
    filed = [
        api.data(CREATE_NEED, {"input": need_input(title=f"Cho {name}", category=category,
                 onBehalfOf={"displayName": name, "phone": phone})}, operator)["createNeed"]
        for name, phone, category in [("Bà Lan", "0977 111 222", "FOOD"), ("Ông Tư", "0977 111 333", "MEDICINE")]
    ]  # fmt: skip
    query = (
        "{ myNeeds(first: 10, filedForOthers: true) { edges { node { title filedByMe onBehalfOf { displayName } } } } }"
    )
    ids = "{ myNeeds(first: 10, filedForOthers: true) { edges { node { id } } } }"
    lan = api.data(SIGN_UP, {"input": {"displayName": "Lan", "phone": "0977111222", "password": "mật khẩu dài"}})
    token = lan["signUp"]["token"]
    claimed = api.data(CLAIM, {"input": {"needId": filed[0]["need"]["id"], "code": filed[0]["claimCode"]}}, token)

    listed = [e["node"] for e in api.data(query, token=operator)["myNeeds"]["edges"]]
    assert claimed["claimNeed"]["errors"] == []
    assert listed == [
        {"title": "Cho Ông Tư", "filedByMe": True, "onBehalfOf": {"displayName": "Ông Tư"}},
        {"title": "Cho Bà Lan", "filedByMe": True, "onBehalfOf": {"displayName": "Bà Lan"}},
    ]
    assert own["id"] not in {e["node"]["id"] for e in api.data(ids, token=operator)["myNeeds"]["edges"]}
    assert api.data(query, token=token)["myNeeds"]["edges"] == []  # the person filed nothing


CONFIRM = "mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { pledge { status } errors { field message code } } }"
PLEDGE_STATUS = "query ($id: ID!) { node(id: $id) { ... on Pledge { status } } }"


def test_the_filer_confirms_delivery_until_the_claim_then_the_person_does(api: Api) -> None:
    operator, donor = sign_up(api, "Tổng đài viên"), sign_up(api, "Người giúp")
    filed = api.data(
        CREATE_NEED,
        {"input": need_input(quantity=2, onBehalfOf={"displayName": "Ông Sáu", "phone": "0977 333 444"})},
        operator,
    )["createNeed"]
    need_id, code = filed["need"]["id"], filed["claimCode"]
    first, second = (
        api.data(PLEDGE, {"input": {"needId": need_id, "quantity": 1}}, donor)["pledge"]["pledge"]["id"] for _ in "12"
    )

    # Before the claim the operator speaks for the person: they confirm the first delivery.
    before = api.data(CONFIRM, {"id": first}, operator)["confirmDelivery"]
    sau = api.data(SIGN_UP, {"input": {"displayName": "Sáu", "phone": "0977333444", "password": "mật khẩu dài"}})[
        "signUp"
    ]["token"]
    assert api.data(CLAIM, {"input": {"needId": need_id, "code": code}}, sau)["claimNeed"]["errors"] == []
    # After it the need is the person's: the operator is told so, and nothing changes.
    refused = api.data(CONFIRM, {"id": second}, operator)["confirmDelivery"]
    still = api.data(PLEDGE_STATUS, {"id": second}, donor)["node"]
    by_the_person = api.data(CONFIRM, {"id": second}, sau)["confirmDelivery"]

    assert before == {"pledge": {"status": "DELIVERED"}, "errors": []}
    assert refused["pledge"] is None
    assert refused["errors"] == [
        {
            "field": "pledgeId",
            "code": "FORBIDDEN",
            "message": "The person this need was filed for has claimed it: they confirm delivery themselves.",
        }
    ]
    assert still == {"status": "PLEDGED"}
    assert by_the_person == {"pledge": {"status": "DELIVERED"}, "errors": []}
