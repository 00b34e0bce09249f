"""Each role's flows on the page, end to end in Debian's chromium against a real server and PostGIS:
a donor's offer and its suggestions, instant help across two browsers, an operator filing for someone
who then claims it with the code, a report, the most urgent needs first, and a phone-sized screen.

Screenshots of each step go to test-artifacts/screenshots/ (not committed): look at them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx2
import pytest
from playwright.sync_api import Browser, expect

from aidmap.resolvers.areas import BUNDLED, import_files
from aidmap.settings import Settings
from tests.conftest import LiveServer
from tests.factories import CREATE_NEED, SIGN_UP, need_input
from tests.frontend.forms import NEAR, fill_need, watch
from tests.frontend.test_page import _person


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Instant-help rounds as long as in production: with the other tests' 1 s round the only donor's
    ask ran out (nobody else to ask: EXHAUSTED) before a busy machine's browser clicked Accept."""
    return dataclasses.replace(settings, help_timeout_seconds=600.0)


def _api_need(server: LiveServer, phone: str, **fields: Any) -> dict[str, Any]:
    """A neighbour posts a need through the API (as another app would)."""
    token = httpx2.post(server.url + "/graphql", json={"query": SIGN_UP, "variables": {"input": {
        "displayName": "Hàng xóm", "phone": phone, "password": "long enough"}}}).json()["data"]["signUp"]["token"]  # fmt: skip
    created = httpx2.post(
        server.url + "/graphql", json={"query": CREATE_NEED, "variables": {"input": need_input(**fields)}},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["data"]["createNeed"]  # fmt: skip
    assert created["errors"] == [], created
    need: dict[str, Any] = created["need"]
    return need


def test_a_donor_posts_an_offer_reads_its_suggestions_and_pledges_from_them(
    browser: Browser, live_server: LiveServer
) -> None:
    _api_need(live_server, "0977 300 001", title="Gạo cho nhà bà Tư", location=NEAR, quantity=5, urgency="HIGH")
    donor = _person(browser, live_server, "Minh", "en-US")
    donor.open()
    donor.sign_up()
    watch(donor.page)
    page = donor.page
    page.select_option("#offer-category", "FOOD")
    expect(page.locator("#offer-unit")).to_have_value("kg")
    page.fill("#offer-title", "Rice from my shop")
    page.fill("#offer-quantity", "10")
    page.fill("#offer-radius", "2")
    page.click("#offer-form button[type=submit]")
    offer = page.locator("#my-offers [data-offer]")
    expect(offer).to_have_count(1)
    suggestion = offer.locator("[data-suggested]", has_text="Gạo cho nhà bà Tư")
    expect(suggestion).to_be_visible()
    reasons = suggestion.locator(".reason")
    expect(reasons.first).to_contain_text("close to you")
    expect(suggestion).to_contain_text("urgent")
    expect(suggestion).to_contain_text("not yet helped")
    donor.shot("20-donor-offer-suggestions")
    suggestion.get_by_role("button", name="Pledge 5 kg").click()
    pledge = page.locator("#my-pledges [data-pledge-holder]")
    expect(pledge).to_have_count(1)
    # The badge says "Pledged", not the need's "Fully pledged"; the address opens the maps app.
    expect(pledge.locator("[data-status=PLEDGED]")).to_have_text("Pledged")
    link = pledge.locator("a.maps-link")
    expect(link).to_have_attribute("href", "geo:21.029,105.853?q=21.029,105.853")
    expect(pledge.locator(".walk")).to_contain_text("min on foot")
    donor.shot("21-donor-pledged-geo-link")
    assert donor.errors == []


def test_instant_help_from_request_to_acceptance_across_two_browsers(browser: Browser, live_server: LiveServer) -> None:
    requester = _person(browser, live_server, "Bà Lan", "vi-VN")
    donor = _person(browser, live_server, "Minh", "en-US")
    for person in (requester, donor):
        person.open()
        person.sign_up()
    watch(donor.page)
    donor.page.check("#availability")
    expect(donor.page.locator("#availability-text")).to_contain_text("You are available")
    donor.page.reload()  # the switch is read back from the API (myAvailability)
    expect(donor.page.locator("#view-need")).to_be_visible()
    donor.page.click('.tab[data-view="help"]')
    expect(donor.page.locator("#availability")).to_be_checked()

    page = requester.page
    page.select_option("#need-category", "MEDICINE")
    expect(page.locator("#need-unit")).to_have_value("hộp")  # a unit that fits medicine, not "kg"
    fill_need(page, title="Thuốc hạ sốt gấp", urgency="CRITICAL", household="3", phone="0912 345 678", at=NEAR)
    expect(page.locator("#need-location-ok")).to_be_visible()
    page.click("#need-form button[type=submit]")
    expect(page.locator("#need-urgency")).to_have_value("NORMAL")  # the next need is not silently LOW
    mine = page.locator("#my-needs [data-need]")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("3 người")
    mine.locator(".help-now").click()
    requester.shot("22-requester-help-now")

    ask = donor.page.locator("#help-asks [data-ask]")
    expect(ask).to_contain_text("Thuốc hạ sốt gấp", timeout=10_000)
    donor.shot("23-donor-instant-help-asked")
    ask.get_by_role("button", name="Accept").click()
    expect(ask).to_have_count(0)
    expect(donor.page.locator("#my-pledges [data-pledge-holder]")).to_contain_text("Thuốc hạ sốt gấp")
    # The requester sees who pledged, live.
    expect(mine).to_contain_text("Minh", timeout=10_000)
    requester.shot("24-requester-sees-helper")
    for person in (requester, donor):
        assert person.errors == []


def test_an_operator_files_for_someone_and_the_person_claims_with_the_code(
    browser: Browser, live_server: LiveServer, database_url: str, db: Any
) -> None:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    ward = db.execute("SELECT name FROM admin_areas WHERE code = '00070'").fetchone()[0]
    operator = _person(browser, live_server, "Tổng đài viên", "vi-VN")
    operator.open()
    operator.sign_up()
    page = operator.page
    page.click('.tab[data-view="operator"]')
    page.fill("#op-name", "Bà Năm")
    page.fill("#op-phone", "0977 222 333")
    page.select_option("#op-category", "FOOD")
    page.fill("#op-title", "Gạo cho bà Năm")
    page.fill("#op-quantity", "2")
    # No coordinates, no geolocation: find the ward by name (without accents), then the map is centred on it.
    page.fill("#op-ward", ward.lower().replace("à", "a").replace("ế", "e"))
    page.locator("#op-results button").first.click()
    expect(page.locator("#op-location-ok")).to_be_visible()
    page.locator("#op-map svg").click()
    operator.shot("25-operator-form")
    page.click("#op-form button[type=submit]")
    code = page.locator("#op-code .big-code")
    expect(code).to_have_text(__import__("re").compile(r"^\d{8}$"))
    need_id = page.locator("#op-code code").inner_text()
    assert need_id.isdigit(), need_id  # the number, read out over the phone, not the base64 id
    filed = page.locator("#filed-needs [data-filed]")
    expect(filed).to_contain_text("Bà Năm")
    expect(filed).to_contain_text("Chưa nhận")
    operator.shot("26-operator-filed-with-code")
    claim_code = code.inner_text()

    person = _person(browser, live_server, "Năm", "vi-VN")
    person.open()
    person.page.fill("#up-name", "Năm")
    person.page.fill("#up-phone", "0977222333")
    person.page.fill("#up-password", "mật khẩu đủ dài")
    person.page.click("#sign-up button[type=submit]")
    expect(person.page.locator("#who")).to_have_text("Năm")
    person.page.click('.tab[data-view="claim"]')
    person.page.fill("#claim-needId", need_id)
    person.page.fill("#claim-code", "00000000")
    person.page.click("#claim-form button[type=submit]")
    expect(person.page.locator("#claim-code-error")).not_to_be_empty()
    person.shot("27-claim-wrong-code")
    person.page.fill("#claim-code", claim_code)
    person.page.click("#claim-form button[type=submit]")
    expect(person.page.locator("#my-needs [data-need]")).to_contain_text("Gạo cho bà Năm")
    person.shot("28-claimed")
    page.click('.tab[data-view="need"]')
    page.click('.tab[data-view="operator"]')
    expect(filed).to_contain_text("Đã được nhận")
    for who in (operator, person):
        assert who.errors == []


def test_a_report_urgent_first_and_tapping_a_cell(browser: Browser, live_server: LiveServer, db: Any) -> None:
    near = _api_need(live_server, "0977 300 011", title="Rau gần", urgency="LOW", location=NEAR)
    _api_need(live_server, "0977 300 012", title="Sữa xa mà gấp", urgency="CRITICAL",
              location={"lat": 21.0400, "lon": 105.8542})  # fmt: skip
    donor = _person(browser, live_server, "Minh", "en-US")
    donor.open()
    donor.sign_up()
    watch(donor.page)
    items = donor.page.locator("#nearby [data-need]")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Rau gần")  # nearest first by default
    donor.page.select_option("#help-order", "URGENCY")
    expect(items.first).to_contain_text("Sữa xa mà gấp")
    expect(items.first).to_have_class(__import__("re").compile(r"\burgent\b"))
    donor.shot("29-triage-urgent-first")
    donor.page.check("#help-urgent")
    expect(items).to_have_count(1)
    donor.page.uncheck("#help-urgent")
    expect(items).to_have_count(2)

    # Tapping a cell lists only its needs.
    cell = donor.page.locator(f'#help-map rect.cell[data-cell^="{near["approximateLocation"]["lat"]:.5f}"]')
    cell.first.click(force=True)
    expect(items).to_have_count(1)
    expect(items).to_contain_text("Rau gần")
    donor.shot("30-tapped-cell")
    donor.page.click("#cell-clear")
    expect(items).to_have_count(2)

    card = items.filter(has_text="Rau gần")
    card.locator(".report-toggle").click()
    card.locator("input[name=reason]").fill("Spam, not a real need")
    card.locator(".send-report").click()
    expect(donor.page.locator("#banner")).to_contain_text("report is sent")
    assert db.execute("SELECT count(*) FROM need_reports").fetchone() == (1,)
    assert donor.errors == []


def test_the_page_on_a_small_phone(browser: Browser, live_server: LiveServer) -> None:
    person = _person(browser, live_server, "Bà Hoa", "vi-VN", is_mobile=True, has_touch=True)
    person.page.set_viewport_size({"width": 390, "height": 844})
    person.open()
    person.shot("31-phone-sign-in")
    person.sign_up()
    person.shot("31b-phone-signed-in")
    page = person.page
    header = page.locator("header.top").bounding_box()
    assert header is not None and header["height"] <= 110, header  # was ~170 px
    # Large tap targets on the main buttons and tabs.
    for selector in ("#need-form button[type=submit]", '.tab[data-view="help"]', "#need-geolocate"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["height"] >= 40, (selector, box)
    expect(page.locator("#need-details")).to_be_hidden()  # folded away under "more details"
    person.shot("32-phone-need")
    page.click('.tab[data-view="help"]')
    person.shot("33-phone-help")
    page.click('.tab[data-view="operator"]')
    person.shot("34-phone-operator")
    page.click('.tab[data-view="claim"]')
    person.shot("35-phone-claim")
    assert person.errors == []
