"""An operator follows a need they filed after the person claimed it: the delivery is the person's to confirm.

The rule (README, "Operator"): whoever filed a need confirms delivery for the person until they claim
it; after the claim the need is theirs. The operator's page says so where the button was, the API
refuses the operator with that reason (in the page's language), and the person confirms from their list.
"""

from __future__ import annotations

from typing import Any

import httpx2
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.factories import PLEDGE, SIGN_UP, need_input
from tests.frontend.test_page import _person

FILE = "mutation ($input: CreateNeedInput!) { createNeed(input: $input) { claimCode need { id } errors { code } } }"
CLAIM = "mutation ($input: ClaimNeedInput!) { claimNeed(input: $input) { errors { field code } } }"
CONFIRM = "mutation ($id: ID!) { confirmDelivery(input: {pledgeId: $id}) { errors { field message code } } }"


def _post(server: LiveServer, query: str, variables: dict[str, Any], token: str | None = None, **headers: str) -> Any:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    answer = httpx2.post(server.url + "/graphql", json={"query": query, "variables": variables}, headers=headers)
    return answer.json()["data"]


def test_after_the_claim_the_person_confirms_and_the_operator_is_told_why(
    browser: Browser, live_server: LiveServer, db: Any
) -> None:
    operator = _person(browser, live_server, "Tổng đài viên", "vi-VN")
    operator.open()
    operator.sign_up()
    token = operator.page.evaluate("localStorage.getItem('aidmap.token')")
    # Filed by phone for Ông Sáu (as the operator's form does), a donor pledges, and Ông Sáu claims it.
    filed = _post(live_server, FILE, {"input": need_input(
        title="Thuốc cho ông Sáu", quantity=1, unit="hộp", category="MEDICINE",
        onBehalfOf={"displayName": "Ông Sáu", "phone": "0977 333 444"})}, token)["createNeed"]  # fmt: skip
    assert filed["errors"] == []
    need_id = filed["need"]["id"]
    donor = _post(live_server, SIGN_UP, {"input": {"displayName": "Người giúp", "phone": "0988 000 111",
        "password": "long enough"}})["signUp"]["token"]  # fmt: skip
    pledge = _post(live_server, PLEDGE, {"input": {"needId": need_id, "quantity": 1}}, donor)["pledge"]["pledge"]
    sau = _post(live_server, SIGN_UP, {"input": {"displayName": "Sáu", "phone": "0977333444",
        "password": "mật khẩu đủ dài"}})["signUp"]["token"]  # fmt: skip
    claim = _post(live_server, CLAIM, {"input": {"needId": need_id, "code": filed["claimCode"]}}, sau)
    assert claim["claimNeed"]["errors"] == []

    # The operator's list: claimed, the pledge waiting, and why there is no "confirm" button.
    page = operator.page
    page.click('.tab[data-view="operator"]')
    item = page.locator(f'#filed-needs [data-filed="{need_id}"]')
    expect(item).to_contain_text("Đã được nhận")
    expect(item.locator(".pledge-row [data-status=PLEDGED]")).to_be_visible()
    expect(item.locator(".claimant-confirms")).to_have_text(
        "Người được giúp đã nhận yêu cầu: họ tự xác nhận khi nhận hàng."
    )
    expect(item.get_by_role("button", name="Xác nhận đã nhận")).to_have_count(0)
    operator.shot("50-operator-after-claim")
    # Asked directly, the API refuses the operator with the same reason, and the pledge is untouched.
    refused = _post(live_server, CONFIRM, {"id": pledge["id"]}, token, **{"Accept-Language": "vi"})
    assert refused["confirmDelivery"]["errors"] == [{"field": "pledgeId", "code": "FORBIDDEN",
        "message": "Người được đăng hộ đã nhận yêu cầu này: họ tự xác nhận khi nhận hàng."}]  # fmt: skip
    assert db.execute("SELECT status FROM pledges").fetchall() == [("PLEDGED",)]

    # Ông Sáu signs in and confirms it from their own list.
    person = _person(browser, live_server, "Sáu", "vi-VN")
    person.open()
    person.page.fill("#in-phone", "0977333444")
    person.page.fill("#in-password", "mật khẩu đủ dài")
    person.page.click("#sign-in button[type=submit]")
    mine = person.page.locator(f'#my-needs [data-need="{need_id}"]')
    expect(mine).to_contain_text("Thuốc cho ông Sáu")
    mine.get_by_role("button", name="Xác nhận đã nhận").click()
    expect(mine.locator("[data-status=FULFILLED]")).to_be_visible()
    person.shot("51-claimant-confirmed")
    assert db.execute("SELECT status FROM pledges").fetchall() == [("DELIVERED",)]

    # The operator sees it delivered when they look again.
    page.click('.tab[data-view="need"]')
    page.click('.tab[data-view="operator"]')
    expect(item.locator(".pledge-row [data-status=DELIVERED]")).to_be_visible()
    expect(item.locator(".claimant-confirms")).to_have_count(0)
    for who in (operator, person):
        assert who.errors == []
