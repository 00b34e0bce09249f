"""The donor taps "I delivered it" and the requester, told live, confirms (a real browser, server and PostGIS)."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.frontend.forms import fill_need, watch
from tests.frontend.test_page import _person


def test_the_donor_marks_delivered_and_the_requester_confirms(browser: Browser, live_server: LiveServer) -> None:
    requester = _person(browser, live_server, "Bà Lan", "vi-VN")
    donor = _person(browser, live_server, "Minh", "en-US")
    for person in (requester, donor):
        person.open()
        person.sign_up()

    page = requester.page
    fill_need(page, title="Sữa cho bé", quantity="2", unit="hộp", phone="0912 345 679",
              at={"lat": "21.0290", "lon": "105.8530"})  # fmt: skip
    page.click("#need-form button[type=submit]")
    expect(page.locator("#my-needs [data-need]")).to_have_count(1)

    watch(donor.page)
    card = donor.page.locator("#nearby [data-need]", has_text="Sữa cho bé")
    expect(card).to_be_visible(timeout=5000)
    card.locator("input[name=quantity]").fill("2")
    card.locator("button[type=submit]").click()
    pledge = donor.page.locator("#my-pledges [data-pledge-holder]")
    expect(pledge).to_have_count(1)
    pledge.get_by_role("button", name="I delivered it").click()
    expect(pledge.locator(".awaiting-confirmation")).to_have_text("Waiting for the requester to confirm")
    expect(pledge.get_by_role("button", name="I delivered it")).to_have_count(0)
    expect(pledge.locator("[data-status=PLEDGED]")).to_be_visible()

    # The requester hears of it without a reload, and is the one who says it arrived.
    row = page.locator("#my-needs [data-pledge-holder]")
    expect(row.locator(".donor-says-delivered")).to_be_visible(timeout=5000)
    expect(page.locator("#banner")).to_contain_text("Nhà hảo tâm báo đã giao")
    requester.shot("29-donor-says-delivered")
    row.get_by_role("button", name="Xác nhận đã nhận").click()
    expect(row.locator("[data-status=DELIVERED]")).to_be_visible()
    expect(pledge.locator("[data-status=DELIVERED]")).to_be_visible(timeout=5000)
    for person in (requester, donor):
        assert person.errors == []
