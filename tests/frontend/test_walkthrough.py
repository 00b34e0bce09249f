"""Issue 17's list once more, as each role on a 390 x 844 phone, in English and in Vietnamese.

One story per language: an operator files a need for someone by phone and name and gets the claim
code; a donor who watches the area and is available pledges from the list and gets the address as a
maps link; the operator confirms that delivery for the person; the person claims the need with the
code, then asks for help now on an urgent need of their own; the donor accepts the ask, the
requester sees who helps, edits the need and confirms; the donor posts an offer.

On every screen: nothing wider than the phone (no sideways scrolling, no clipped button or badge),
one language only (tests/frontend/test_languages.py's check), no script error. Viewport
screenshots: test-artifacts/screenshots/8x-<lang>-*.png.
"""

from __future__ import annotations

import base64
import dataclasses
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from aidmap.settings import Settings
from tests.conftest import LiveServer
from tests.frontend.conftest import SHOTS
from tests.frontend.forms import CENTRE
from tests.frontend.test_languages import _check
from tests.frontend.test_page import Person, _person

PHONE = {"width": 390, "height": 844}
# Boxes whose text must not be cut off, and tabs out of sight past the screen's edge.
CLIPPED = """() => [...document.querySelectorAll("button, .badge, label, h2, h3, .meta span, a")]
  .filter((e) => e.checkVisibility() && (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow !== "visible"
    || e.matches(".tab") && (e.getBoundingClientRect().right > innerWidth + 0.5 || e.getBoundingClientRect().left < 0)))
  .map((e) => e.textContent.trim())"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, help_timeout_seconds=600.0)


def _phone(browser: Browser, server: LiveServer, name: str, lang: str) -> Person:
    person = _person(browser, server, name, "vi-VN" if lang == "vi" else "en-US", is_mobile=True, has_touch=True)
    person.page.set_viewport_size(PHONE)
    person.open()
    return person


def _screen(page: Page, lang: str, name: str) -> None:
    """Fits the phone, in one language; a screenshot of what the person sees."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (name, width)
    assert page.evaluate(CLIPPED) == [], name
    _check(page, lang, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"8x-{lang}-{name}.png"))


def _tap_view(page: Page, view: str) -> None:
    tab = page.locator(f'.tab[data-view="{view}"]')
    tab.scroll_into_view_if_needed()
    tab.click()


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_every_role_on_a_phone(browser: Browser, live_server: LiveServer, lang: str) -> None:
    person_phone = f"0977 555 00{1 if lang == 'en' else 2}"
    operator = _phone(browser, live_server, "Lan", lang)
    operator.sign_up()
    donor = _phone(browser, live_server, "Minh", lang)
    donor.sign_up()

    # The donor watches Hoàn Kiếm and is available for instant help.
    d = donor.page
    _tap_view(d, "help")
    d.fill("#help-lat", CENTRE[0])
    d.fill("#help-lon", CENTRE[1])
    d.click("#help-filters button[type=submit]")
    d.check("#availability")
    expect(d.locator("#availability")).to_be_checked()
    _screen(d, lang, "donor-help")

    # The operator files for Bà Sáu (the map opens on Hà Nội: a tap picks the spot).
    o = operator.page
    _tap_view(o, "operator")
    o.fill("#op-name", "Bà Sáu")
    o.fill("#op-phone", person_phone)
    o.select_option("#op-category", "FOOD")
    o.fill("#op-title", "Gạo cho bà Sáu")
    o.fill("#op-quantity", "2")
    o.fill("#op-household", "2")
    o.locator("#op-map svg").click()
    expect(o.locator("#op-location-ok")).to_be_visible()
    _screen(o, lang, "operator-form")
    o.click("#op-form button[type=submit]")
    code = o.locator("#op-code .big-code")
    expect(code).to_have_text(re.compile(r"^\d{8}$"))
    number = o.locator("#op-code code").inner_text()
    assert number.isdigit(), number  # the number, read out over the phone, not the base64 id
    need_id = base64.b64encode(f"Need:{number}".encode()).decode()
    claim_code = code.inner_text()
    filed = o.locator(f'#filed-needs [data-filed="{need_id}"]')
    expect(filed).to_contain_text("Bà Sáu")
    _screen(o, lang, "operator-code")

    # The donor sees it live, pledges 1 of 2 and gets the address as a maps link.
    card = d.locator(f'#nearby [data-need="{need_id}"]')
    expect(card).to_be_visible(timeout=10_000)
    card.locator("input[name=quantity]").fill("1")
    card.locator("button[type=submit]").click()
    pledge = d.locator("#my-pledges [data-pledge-holder]", has_text="Gạo cho bà Sáu")
    expect(pledge.locator("a.maps-link")).to_have_attribute("href", re.compile(r"^geo:"))
    expect(pledge.locator("[data-status=PLEDGED]")).to_be_visible()
    pledge.scroll_into_view_if_needed()
    _screen(d, lang, "donor-pledged")

    # The operator sees the pledge live and confirms the delivery for Bà Sáu (not claimed yet).
    row = filed.locator(".pledge-row", has=o.locator("[data-status=PLEDGED]"))
    expect(row).to_be_visible(timeout=10_000)
    row.locator("button.primary").click()
    expect(filed.locator("[data-status=DELIVERED]")).to_be_visible()
    filed.scroll_into_view_if_needed()
    _screen(o, lang, "operator-confirmed")

    # Bà Sáu signs up with the phone the operator gave and claims the need with the code.
    person = _phone(browser, live_server, "Sáu", lang)
    p = person.page
    p.fill("#up-name", "Sáu")
    p.fill("#up-phone", person_phone.replace(" ", ""))
    p.fill("#up-password", "mật khẩu đủ dài")
    p.click("#sign-up button[type=submit]")
    expect(p.locator("#who")).to_have_text("Sáu")
    _tap_view(p, "claim")
    _screen(p, lang, "claim")
    p.fill("#claim-needId", number)
    p.fill("#claim-code", claim_code)
    p.click("#claim-form button[type=submit]")
    expect(p.locator(f'#my-needs [data-need="{need_id}"]')).to_be_visible()
    _tap_view(o, "need")
    _tap_view(o, "operator")
    expect(filed.locator(".claimed")).to_contain_text("✓")  # claimed by the person

    # Then an urgent need of her own, and "request help now".
    p.select_option("#need-category", "MEDICINE")
    expect(p.locator("#need-unit")).not_to_have_value("kg")
    p.fill("#need-title", "Thuốc hạ sốt")
    p.select_option("#need-urgency", "CRITICAL")
    p.fill("#need-phone", person_phone)
    p.click("#need-map-toggle")  # on a phone the map folds away until wanted
    p.locator("#need-map svg").click()
    expect(p.locator("#need-location-ok")).to_be_visible()
    _screen(p, lang, "requester-form")
    p.click("#need-form button[type=submit]")
    expect(p.locator("#need-urgency")).to_have_value("NORMAL")
    expect(p.locator("#need-phone")).to_have_value(person_phone)
    mine = p.locator("#my-needs [data-need]", has_text="Thuốc hạ sốt")
    expect(mine).to_be_visible()
    mine.locator(".help-now").click()
    expect(mine.locator("[data-help=OPEN]")).to_be_visible()
    mine.scroll_into_view_if_needed()
    _screen(p, lang, "requester-help-now")

    # The donor is asked, and accepts.
    ask = d.locator("#help-asks [data-ask]")
    expect(ask).to_contain_text("Thuốc hạ sốt", timeout=10_000)
    ask.scroll_into_view_if_needed()
    _screen(d, lang, "donor-asked")
    ask.locator("button").click()
    expect(ask).to_have_count(0)
    expect(d.locator("#my-pledges [data-pledge-holder]", has_text="Thuốc hạ sốt")).to_be_visible()

    # The requester sees who helps, edits the title, and confirms the delivery.
    expect(mine.locator("[data-help=ACCEPTED]")).to_be_visible(timeout=10_000)
    expect(mine).to_contain_text("Minh")
    mine.locator(".actions button:not(.danger):not(.help-now)").last.click()  # edit
    mine.locator("form.edit input[name=title]").fill("Thuốc hạ sốt cho cháu")
    mine.locator("form.edit button[type=submit]").click()
    mine = p.locator("#my-needs [data-need]", has_text="Thuốc hạ sốt cho cháu")
    expect(mine).to_be_visible()
    mine.locator("[data-pledge-holder] .pledge-row button.primary").first.click()
    expect(mine.locator("[data-status=FULFILLED]")).to_be_visible()
    mine.scroll_into_view_if_needed()
    _screen(p, lang, "requester-confirmed")

    # The donor posts an offer; the delivery confirmed reached them too.
    d.select_option("#offer-category", "FOOD")
    d.fill("#offer-title", "Gạo")
    d.fill("#offer-quantity", "5")
    d.click("#offer-form button[type=submit]")
    offer = d.locator("#my-offers [data-offer]")
    expect(offer).to_have_count(1)
    offer.scroll_into_view_if_needed()
    _screen(d, lang, "donor-offer")
    for who in (operator, donor, person):
        assert who.errors == [], who.name
