"""What a requester waits for survives a reload: it is read from the API (myNeeds), not kept in memory.

A need with a pledge waiting for "confirm delivery", and an instant-help request still asking
donors, are both still on screen after the page reloads; the donor accepts while the requester is
away and the reloaded page says so; the confirmation works from the reloaded page. Nobody else
learns of the request.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx2
import pytest
from playwright.sync_api import Browser, expect

from aidmap.settings import Settings
from tests.conftest import LiveServer
from tests.factories import PLEDGE, SIGN_UP
from tests.frontend.forms import NEAR, fill_need
from tests.frontend.test_page import _person

AVAILABLE = "mutation ($input: SetAvailabilityInput!) { setAvailability(input: $input) { errors { code } } }"
ACCEPT = """mutation ($id: ID!) { acceptHelpRequest(input: {helpRequestId: $id}) { helpRequest { status }
  errors { field code } } }"""
HELP_OF = "query ($id: ID!) { node(id: $id) { ... on Need { helpRequest { id status } } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A round of instant help as long as in production: the 1 s of the other tests would end it
    (nobody else to ask) while the page reloads, and the test would race the cascade job."""
    return dataclasses.replace(settings, help_timeout_seconds=600.0)


def _post(server: LiveServer, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx2.post(server.url + "/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


def _account(server: LiveServer, name: str, phone: str) -> str:
    payload = {"input": {"displayName": name, "phone": phone, "password": "long enough"}}
    token: str = _post(server, SIGN_UP, payload)["signUp"]["token"]
    return token


def test_pending_help_is_still_there_after_a_reload(browser: Browser, live_server: LiveServer, db: Any) -> None:
    requester = _person(browser, live_server, "Bà Lan", "vi-VN")
    requester.open()
    requester.sign_up()
    page = requester.page
    fill_need(page, category="MEDICINE", title="Thuốc hạ sốt gấp", quantity="2", urgency="CRITICAL",
              phone="0912 345 678", at=NEAR)  # fmt: skip
    page.click("#need-form button[type=submit]")
    mine = page.locator("#my-needs [data-need]")
    expect(mine).to_have_count(1)
    need_id = mine.get_attribute("data-need")

    # A donor pledges 1 of 2; another is available nearby for instant help.
    giver = _account(live_server, "Minh", "0988 000 222")
    pledged = _post(live_server, PLEDGE, {"input": {"needId": need_id, "quantity": 1}}, giver)["pledge"]
    assert pledged["errors"] == [], pledged
    helper = _account(live_server, "Hùng", "0988 000 333")
    near = {"available": True, "near": NEAR, "radiusMeters": 3000}
    assert _post(live_server, AVAILABLE, {"input": near}, helper)["setAvailability"]["errors"] == []
    expect(mine).to_contain_text("Minh")
    mine.locator(".help-now").click()
    expect(mine.locator("[data-help=OPEN]")).to_be_visible()

    page.reload()
    mine = page.locator(f'#my-needs [data-need="{need_id}"]')
    expect(mine.locator("[data-help=OPEN]")).to_contain_text("Đang hỏi những người giúp gần nhất")
    expect(mine.locator(".help-now")).to_have_count(0)  # one request at a time
    expect(mine.locator("[data-pledge-holder]")).to_contain_text("Minh: 1 hộp")
    expect(mine.get_by_role("button", name="Xác nhận đã nhận")).to_have_count(1)
    requester.shot("60-reloaded-pending-help")

    # Only the requester learns of the request; the asked donor accepts while the page is closed.
    request = _post(live_server, HELP_OF, {"id": need_id}, requester_token(page))["node"]["helpRequest"]
    assert _post(live_server, HELP_OF, {"id": need_id}, giver)["node"]["helpRequest"] is None
    assert _post(live_server, HELP_OF, {"id": need_id})["node"]["helpRequest"] is None
    page.close()
    accepted = _post(live_server, ACCEPT, {"id": request["id"]}, helper)["acceptHelpRequest"]
    assert accepted == {"helpRequest": {"status": "ACCEPTED"}, "errors": []}

    page = requester.context.new_page()
    page.goto(live_server.url + "/")
    mine = page.locator(f'#my-needs [data-need="{need_id}"]')
    expect(mine.locator("[data-help=ACCEPTED]")).to_contain_text("Có người đã nhận giúp!")
    expect(mine.locator("[data-pledge-holder]")).to_have_count(2)
    expect(mine.locator("[data-pledge-holder]", has_text="Hùng")).to_be_visible()
    requester.page = page
    requester.shot("61-reopened-help-accepted")
    for holder in ("Minh", "Hùng"):  # both deliveries confirmed from the reopened page
        mine.locator("[data-pledge-holder]", has_text=holder).get_by_role("button", name="Xác nhận đã nhận").click()
        expect(mine.locator("[data-pledge-holder]", has_text=holder).locator("[data-status=DELIVERED]")).to_be_visible()
    expect(mine.locator("[data-status=FULFILLED]")).to_be_visible()
    assert db.execute("SELECT status FROM pledges ORDER BY id").fetchall() == [("DELIVERED",), ("DELIVERED",)]
    assert requester.errors == []


def requester_token(page: Any) -> str:
    token: str = page.evaluate("localStorage.getItem('aidmap.token')")
    return token
