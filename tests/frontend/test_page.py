"""The reference page in a real browser (Debian's chromium via Playwright) against a real server and PostGIS.

Screenshots of every view go to test-artifacts/screenshots/ (not committed): look at them.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlsplit

import httpx2
from playwright.sync_api import Browser, BrowserContext, Page, expect

from aidmap.resolvers.areas import BUNDLED, import_files
from tests.conftest import LiveServer
from tests.factories import CREATE_NEED, SIGN_UP, need_input
from tests.frontend.conftest import SHOTS
from tests.frontend.forms import CENTRE, fill_need, watch

_phones = itertools.count(1)


class Person:
    def __init__(self, context: BrowserContext, server: LiveServer, name: str) -> None:
        self.context, self.server, self.name = context, server, name
        self.requests: list[str] = []
        context.on("request", lambda request: self.requests.append(request.url))
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self) -> None:
        self.page.goto(self.server.url + "/")

    def sign_up(self) -> None:
        self.page.fill("#up-name", self.name)
        self.page.fill("#up-phone", f"0966{next(_phones):06d}")
        self.page.fill("#up-password", "mật khẩu đủ dài")
        self.page.click("#sign-up button[type=submit]")
        expect(self.page.locator("#who")).to_have_text(self.name)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate(
            "window.scrollTo(0, 0)"
        )  # a full-page shot of a scrolled page draws the sticky header mid-page
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _person(browser: Browser, server: LiveServer, name: str, locale: str, **options: object) -> Person:
    return Person(browser.new_context(locale=locale, viewport={"width": 1280, "height": 900}, **options), server, name)


def test_a_need_reaches_a_watching_donor_live_and_they_finish_the_job_together(
    browser: Browser, live_server: LiveServer, database_url: str
) -> None:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    requester = _person(browser, live_server, "Bà Lan", "vi-VN")
    donor = _person(browser, live_server, "Minh", "en-US")
    for person in (requester, donor):
        person.open()
    requester.shot("01-sign-in")
    requester.sign_up()
    donor.sign_up()

    # The donor watches the area around Hoàn Kiếm.
    watch(donor.page)
    expect(donor.page.locator("#live")).to_have_attribute("data-state", "on")
    expect(donor.page.locator("#help-map path.area").first).to_be_attached()  # ward outlines drawn

    # The requester posts a need, choosing the place on the map.
    page = requester.page
    fill_need(page, title="Gạo cho gia đình 4 người", details="Ngõ nhỏ, gọi trước khi đến", quantity="3", unit="bao",
              phone="0912 345 678")  # fmt: skip
    page.locator("#need-map svg").click()
    expect(page.locator("#need-lat")).not_to_have_value("")
    fill_need(page, at={"lat": "21.0290", "lon": "105.8530"})
    requester.shot("02-need-form")
    page.click("#need-form button[type=submit]")
    expect(page.locator("#my-needs [data-need]")).to_have_count(1)

    # It appears in the donor's list without a reload, within a few seconds, drawn as a cell.
    card = donor.page.locator("#nearby [data-need]", has_text="Gạo cho gia đình 4 người")
    expect(card).to_be_visible(timeout=5000)
    expect(donor.page.locator("#help-map rect.cell")).to_have_count(1)
    donor.shot("03-nearby-live")

    # The donor pledges everything.
    card.locator("input[name=quantity]").fill("3")
    card.locator("button[type=submit]").click()
    pledge = donor.page.locator("#my-pledges [data-pledge-holder]")
    expect(pledge).to_have_count(1)
    expect(pledge).to_contain_text("21.0290")  # the exact location, now that they help

    # The requester sees the pledge and writes; the donor answers.
    mine = page.locator("#my-needs [data-need]")
    expect(mine).to_contain_text("Minh", timeout=5000)
    mine.get_by_role("button", name="Trò chuyện").click()
    mine.locator(".chat input").fill("Nhà số 3, ngõ 5")
    mine.locator(".chat button[type=submit]").click()
    # Sent (the box reloads after the mutation) before the donor opens the chat: otherwise, on a busy
    # machine, the donor's box could load before the message existed and wait on the live event alone.
    expect(mine.locator(".chat")).to_contain_text("Nhà số 3, ngõ 5", timeout=10_000)
    pledge.get_by_role("button", name="Chat").click()
    expect(pledge.locator(".chat")).to_contain_text("Nhà số 3, ngõ 5", timeout=5000)
    pledge.locator(".chat input").fill("On my way, 15 minutes")
    pledge.locator(".chat button[type=submit]").click()
    expect(mine.locator(".chat")).to_contain_text("On my way, 15 minutes", timeout=15_000)
    requester.shot("04-my-needs-chat")

    # Delivery confirmed: both see the final status.
    mine.get_by_role("button", name="Xác nhận đã nhận").click()
    expect(mine.locator("[data-status=FULFILLED]")).to_be_visible(timeout=5000)
    expect(donor.page.locator("#my-pledges [data-status=DELIVERED]")).to_be_visible(timeout=5000)
    donor.shot("05-my-pledges-delivered")
    requester.shot("06-fulfilled")

    # Nothing was fetched from anywhere but the server, and no script failed.
    server = urlsplit(live_server.url).netloc
    for person in (requester, donor):
        hosts = {urlsplit(url).netloc for url in person.requests}
        assert hosts == {server}, hosts
        assert person.errors == []


def test_language_switch_and_api_errors_next_to_the_field(browser: Browser, live_server: LiveServer) -> None:
    person = _person(browser, live_server, "Hoa", "vi-VN")
    person.open()
    page = person.page
    expect(page.locator('.tab[data-view="need"]')).to_have_text("Tôi cần giúp đỡ")
    person.sign_up()

    page.fill("#need-lat", CENTRE[0])
    page.fill("#need-lon", CENTRE[1])
    page.fill("#need-phone", "0912 345 678")
    page.click("#need-form button[type=submit]")
    expect(page.locator("#need-title-error")).to_have_text("Tiêu đề không được để trống.")
    expect(page.locator("#need-title")).to_have_attribute("aria-invalid", "true")
    person.shot("07-error-vi")

    page.click("#lang")
    expect(page.locator('.tab[data-view="need"]')).to_have_text("I need help")
    expect(page.locator("label[for=need-title]")).to_have_text("Title")
    expect(page.locator("#need-category option[value=MEDICINE]")).to_have_text("Medicine")
    page.click("#need-form button[type=submit]")
    expect(page.locator("#need-title-error")).to_have_text("title must not be empty.")
    person.shot("08-error-en")


def test_a_verifier_works_the_queue_on_a_phone_sized_screen(
    browser: Browser, live_server: LiveServer, database_url: str, db: Any
) -> None:
    import_files(database_url, [BUNDLED / "01_ha_noi.geojson"])
    # A neighbour posts through the API; the need waits for verification in Hoàn Kiếm.
    neighbour = httpx2.post(
        live_server.url + "/graphql", json={"query": SIGN_UP, "variables": {"input": {
            "displayName": "Hàng xóm", "phone": "0977 111 222", "password": "long enough"}}},
    ).json()["data"]["signUp"]["token"]  # fmt: skip
    created = httpx2.post(
        live_server.url + "/graphql",
        json={"query": CREATE_NEED, "variables": {"input": need_input(title="Thuốc cho ông Tư", location={"lat": 21.0288, "lon": 105.8525})}},
        headers={"Authorization": f"Bearer {neighbour}"},
    ).json()["data"]["createNeed"]["need"]  # fmt: skip
    db.execute("UPDATE needs SET status = 'PENDING_VERIFICATION'")
    person = _person(browser, live_server, "Cán bộ phường", "vi-VN", is_mobile=True, has_touch=True)
    person.context.set_default_timeout(10_000)
    person.page.set_viewport_size({"width": 390, "height": 844})
    person.open()
    person.sign_up()
    db.execute("UPDATE accounts SET roles = array_append(roles, 'VERIFIER') WHERE display_name = 'Cán bộ phường'")
    db.execute("INSERT INTO verifier_areas SELECT id, '00070' FROM accounts WHERE display_name = 'Cán bộ phường'")

    person.page.reload()
    person.page.click('.tab[data-view="verify"]')
    item = person.page.locator(f'#queue [data-need="{created["id"]}"]')
    expect(item).to_contain_text("Thuốc cho ông Tư")
    person.shot("09-verifier-queue-phone")
    item.get_by_role("button", name="Xác minh").click()
    expect(person.page.locator("#queue [data-need]")).to_have_count(0)
    assert db.execute("SELECT status, verified_at IS NOT NULL FROM needs").fetchone() == ("OPEN", True)
