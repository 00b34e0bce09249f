"""The page with AIDMAP_DISCLOSE_ON=accept: the requester accepts a pledge, and only then does the donor's
list show the exact location and phone (a real browser, server and PostGIS)."""

from __future__ import annotations

import dataclasses

import pytest
from playwright.sync_api import Browser, expect

from aidmap.settings import Settings
from tests.conftest import LiveServer
from tests.frontend.forms import fill_need, watch
from tests.frontend.test_page import _person


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, disclose_on="accept")


def test_the_donor_sees_the_address_only_once_the_requester_accepts(browser: Browser, live_server: LiveServer) -> None:
    requester = _person(browser, live_server, "Bà Lan", "vi-VN")
    donor = _person(browser, live_server, "Minh", "en-US")
    for person in (requester, donor):
        person.open()
        person.sign_up()

    page = requester.page
    fill_need(page, title="Thuốc hạ sốt", quantity="1", unit="hộp", phone="0912 345 678",
              at={"lat": "21.0290", "lon": "105.8530"})  # fmt: skip
    page.click("#need-form button[type=submit]")
    expect(page.locator("#my-needs [data-need]")).to_have_count(1)

    watch(donor.page)
    card = donor.page.locator("#nearby [data-need]", has_text="Thuốc hạ sốt")
    expect(card).to_be_visible(timeout=5000)
    card.locator("input[name=quantity]").fill("1")
    card.locator("button[type=submit]").click()
    pledge = donor.page.locator("#my-pledges [data-pledge-holder]")
    expect(pledge).to_have_count(1)
    expect(pledge).not_to_contain_text("21.0290")
    expect(pledge).not_to_contain_text("+84912345678")

    mine = page.locator("#my-needs [data-need]")
    expect(mine).to_contain_text("Minh", timeout=5000)
    mine.get_by_role("button", name="Chấp nhận").click()
    expect(mine.get_by_role("button", name="Chấp nhận")).to_have_count(0, timeout=5000)
    # The PLEDGE_ACCEPTED activity event refreshes the donor's list.
    expect(pledge).to_contain_text("21.0290", timeout=5000)
    expect(pledge).to_contain_text("+84912345678")
    for person in (requester, donor):
        assert person.errors == []
