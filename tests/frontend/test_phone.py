"""'I need help' on a small phone (390 x 844): the whole form, down to its button, fits one screen.

A requester signs up, chooses a category, fills the few fields, takes their location and posts,
all without scrolling; tap targets are large and the type readable. Screenshots of the screen as
the person sees it (the viewport, not the full page) go to test-artifacts/screenshots/.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page, expect

from aidmap.resolvers.areas import BUNDLED, import_files
from tests.conftest import LiveServer
from tests.frontend.conftest import SHOTS
from tests.frontend.test_page import _person

PHONE = {"width": 390, "height": 844}
HOME = {"latitude": 21.0290, "longitude": 105.8530}


def _on_screen(page: Page, selector: str) -> dict[str, float]:
    """The element's box, asserted to lie inside the viewport as the page stands (no scrolling)."""
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], (selector, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, box)
    return box


def _screen(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))  # the fold: only what the person sees


def test_a_requester_posts_a_need_on_one_phone_screen(
    browser: Browser, live_server: LiveServer, database_url: str
) -> None:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    person = _person(
        browser, live_server, "Bà Tư", "vi-VN",
        is_mobile=True, has_touch=True, geolocation=HOME, permissions=["geolocation"],
    )  # fmt: skip
    page = person.page
    page.set_viewport_size(PHONE)
    person.open()
    person.sign_up()
    expect(page.locator("#view-need")).to_be_visible()

    page.select_option("#need-category", "MEDICINE")
    expect(page.locator("#need-unit")).not_to_have_value("kg")  # a unit that fits medicine
    _screen(page, "40-phone-need-category-chosen")
    assert page.evaluate("window.scrollY") == 0
    post = _on_screen(page, "#need-form button[type=submit]")
    assert post["height"] >= 48 and post["width"] >= PHONE["width"] * 0.7, post  # a large target
    for selector in ("#need-category", "#need-title", "#need-quantity", "#need-unit", "#need-urgency",
                     "#need-phone", "#need-geolocate", "#need-map-toggle", "#need-ward"):  # fmt: skip
        box = _on_screen(page, selector)
        assert box["height"] >= 44, (selector, box)
        size = page.locator(selector).evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 15, (selector, size)  # readable type
    # Nothing wider than the screen (no sideways scrolling).
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.fill("#need-title", "Thuốc huyết áp cho bà")
    page.fill("#need-quantity", "2")
    page.fill("#need-phone", "0912 345 678")
    page.click("#need-geolocate")
    expect(page.locator("#need-location-ok")).to_be_visible()
    expect(page.locator("#need-lat")).to_have_value(str(HOME["latitude"]))
    _screen(page, "41-phone-need-filled")
    assert page.evaluate("window.scrollY") == 0
    _on_screen(page, "#need-form button[type=submit]")  # still on the first screen, with the location
    page.click("#need-form button[type=submit]")
    mine = page.locator("#my-needs [data-need]")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("Thuốc huyết áp cho bà")

    # The map is there when wanted: "pick on the map" opens it, and a tap picks the spot.
    page.click("#need-map-toggle")
    expect(page.locator("#need-map")).to_be_visible()
    expect(page.locator("#need-map path.area").first).to_be_attached()
    page.locator("#need-map svg").tap()
    expect(page.locator("#need-lat")).not_to_have_value(str(HOME["latitude"]))
    _screen(page, "42-phone-need-map-open")
    assert person.errors == []


def test_the_phone_form_fits_in_english_too(browser: Browser, live_server: LiveServer, db: Any) -> None:
    person = _person(browser, live_server, "Mr Tu", "en-US", is_mobile=True, has_touch=True)
    page = person.page
    page.set_viewport_size(PHONE)
    person.open()
    person.sign_up()
    page.select_option("#need-category", "FOOD")
    expect(page.locator("#need-form button[type=submit]")).to_have_text("Post")
    _screen(page, "43-phone-need-en")
    assert page.evaluate("window.scrollY") == 0
    _on_screen(page, "#need-form button[type=submit]")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
