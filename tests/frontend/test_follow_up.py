"""What a page keeps and what it is told, on a 390 x 844 phone, against a real server and PostGIS:

- a donor's instant-help ask is still there after a reload (myHelpAsks), the "I want to help" tab is
  marked whatever view opens, and accepting from the reloaded page works;
- the operator who filed a need for someone follows it live after the person claimed it: a new
  pledge and the person's confirmation of the delivery show up without touching the page;
- "I need help" keeps the person's phone and household size for their next need, clears what was
  about the need, and starts the next one at NORMAL urgency (also after a reload);
- a live update that redraws a list keeps what the person is typing in it (the requester's edit
  form and "cancel this request?", the donor's amount and report reason) and the keyboard's focus.

Screenshots go to test-artifacts/screenshots/ (7x-*.png).
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from aidmap.settings import Settings
from tests.conftest import LiveServer
from tests.factories import PLEDGE, need_input
from tests.frontend.forms import NEAR, fill_need, watch
from tests.frontend.test_page import Person, _person
from tests.frontend.test_reload import _account, _post

PHONE = {"width": 390, "height": 844}
REQUEST = "mutation ($id: ID!) { requestHelpNow(input: {needId: $id}) { helpRequest { status } errors { code } } }"
CREATE = "mutation ($input: CreateNeedInput!) { createNeed(input: $input) { claimCode need { id } errors { code } } }"
CLAIM = "mutation ($input: ClaimNeedInput!) { claimNeed(input: $input) { errors { field code } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Production-length instant-help rounds: the ask must outlive a reload."""
    return dataclasses.replace(settings, help_timeout_seconds=600.0)


def _phone(browser: Browser, server: LiveServer, name: str, locale: str) -> Person:
    person = _person(browser, server, name, locale, is_mobile=True, has_touch=True)
    person.page.set_viewport_size(PHONE)
    person.open()
    return person


def _sign_in(person: Person, phone: str, password: str) -> None:
    person.page.fill("#in-phone", phone)
    person.page.fill("#in-password", password)
    person.page.click("#sign-in button[type=submit]")
    expect(person.page.locator("#who")).to_have_text(person.name)


def test_a_donors_pending_ask_survives_a_reload(browser: Browser, live_server: LiveServer) -> None:
    donor = _phone(browser, live_server, "Minh", "en-US")
    donor.sign_up()
    page = donor.page
    watch(page)
    page.check("#availability")
    expect(page.locator("#availability-text")).to_contain_text("You are available")

    requester = _account(live_server, "Bà Lan", "0988 100 200")
    need = _post(live_server, "mutation ($input: CreateNeedInput!) { createNeed(input: $input) { need { id } } }",
                 {"input": need_input(title="Thuốc hạ sốt gấp", urgency="CRITICAL", category="MEDICINE",
                                      unit="hộp", quantity=2, location=NEAR)}, requester)["createNeed"]["need"]  # fmt: skip
    assert _post(live_server, REQUEST, {"id": need["id"]}, requester)["requestHelpNow"]["helpRequest"] == {
        "status": "OPEN"
    }
    ask = page.locator("#help-asks [data-ask]")
    expect(ask).to_contain_text("Thuốc hạ sốt gấp", timeout=10_000)
    donor.shot("70-donor-asked-live")

    # Reloaded, the page opens on "I need help": the ask is read back, the help tab is marked.
    page.reload()
    expect(page.locator("#view-need")).to_be_visible()
    expect(page.locator('.tab[data-view="help"]')).to_have_attribute("data-alert", "1")
    expect(page.locator("#banner")).to_contain_text("Someone needs help now")
    donor.shot("71-donor-reloaded-tab-marked")
    page.click('.tab[data-view="help"]')
    expect(ask).to_have_count(1)
    expect(ask).to_contain_text("Thuốc hạ sốt gấp")
    expect(ask).to_contain_text("2 hộp")
    expect(ask).to_contain_text("≈")  # roughly how far: its cell, not the address
    expect(ask).not_to_contain_text("+84912345678")
    donor.shot("72-donor-reloaded-ask")
    ask.get_by_role("button", name="Accept").click()
    expect(ask).to_have_count(0)
    pledge = page.locator("#my-pledges [data-pledge-holder]")
    expect(pledge).to_contain_text("Thuốc hạ sốt gấp")
    expect(pledge.locator("a.maps-link")).to_be_visible()  # the address, now that they help
    expect(page.locator('.tab[data-view="help"]')).not_to_have_attribute("data-alert", "1")

    page.reload()  # answered: nothing comes back
    page.click('.tab[data-view="help"]')
    expect(pledge).to_have_count(1)
    expect(ask).to_have_count(0)
    expect(page.locator('.tab[data-view="help"]')).not_to_have_attribute("data-alert", "1")
    donor.shot("73-donor-accepted")

    # Another asked donor takes the next request first: the card goes, live, and so does the dot.
    other = _account(live_server, "Hùng", "0988 100 201")
    available = "mutation ($input: SetAvailabilityInput!) { setAvailability(input: $input) { errors { code } } }"
    near = {"available": True, "near": NEAR, "radiusMeters": 3000}
    assert _post(live_server, available, {"input": near}, other)["setAvailability"]["errors"] == []
    second = _post(live_server, "mutation ($input: CreateNeedInput!) { createNeed(input: $input) { need { id } } }",
                   {"input": need_input(title="Sữa cho bé", urgency="HIGH", location=NEAR)},
                   requester)["createNeed"]["need"]  # fmt: skip
    _post(live_server, REQUEST, {"id": second["id"]}, requester)
    expect(ask).to_contain_text("Sữa cho bé", timeout=10_000)
    asked = _post(live_server, "{ myHelpAsks { id } }", {}, other)["myHelpAsks"]
    accept = "mutation ($id: ID!) { acceptHelpRequest(input: {helpRequestId: $id}) { errors { code } } }"
    assert _post(live_server, accept, {"id": asked[0]["id"]}, other)["acceptHelpRequest"]["errors"] == []
    expect(ask).to_have_count(0, timeout=10_000)
    expect(page.locator('.tab[data-view="help"]')).not_to_have_attribute("data-alert", "1")
    assert donor.errors == []


def test_the_operator_follows_a_claimed_need_live_to_its_delivery(browser: Browser, live_server: LiveServer) -> None:
    operator = _phone(browser, live_server, "Tổng đài viên", "vi-VN")
    operator.sign_up()
    token = operator.page.evaluate("localStorage.getItem('aidmap.token')")
    filed = _post(live_server, CREATE, {"input": need_input(
        title="Gạo cho bà Bảy", quantity=2, onBehalfOf={"displayName": "Bà Bảy", "phone": "0977 444 555"})},
        token)["createNeed"]  # fmt: skip
    need_id = filed["need"]["id"]
    _post(live_server, "mutation ($input: SignUpInput!) { signUp(input: $input) { token } }",
          {"input": {"displayName": "Bảy", "phone": "0977444555", "password": "mật khẩu đủ dài"}})  # fmt: skip
    person = _phone(browser, live_server, "Bảy", "vi-VN")
    _sign_in(person, "0977444555", "mật khẩu đủ dài")
    person.page.click('.tab[data-view="claim"]')
    # The operator reads the need's number out over the phone (the SMS gives it too): digits, typed
    # with a stray space, never the case-sensitive global id.
    number = base64.b64decode(need_id).decode().split(":")[1]
    person.page.fill("#claim-needId", f" {number}")
    person.page.fill("#claim-code", filed["claimCode"])
    person.page.click("#claim-form button[type=submit]")
    mine = person.page.locator(f'#my-needs [data-need="{need_id}"]')
    expect(mine).to_contain_text("Gạo cho bà Bảy")

    page = operator.page
    page.click('.tab[data-view="operator"]')
    item = page.locator(f'#filed-needs [data-filed="{need_id}"]')
    expect(item).to_contain_text("Đã được nhận")
    expect(item.locator(".pledge-row")).to_have_count(0)
    # A donor pledges after the claim: the operator's list shows it without a reload or a tap.
    donor = _account(live_server, "Minh", "0988 100 300")
    assert _post(live_server, PLEDGE, {"input": {"needId": need_id, "quantity": 2}}, donor)["pledge"]["errors"] == []
    expect(item.locator(".pledge-row [data-status=PLEDGED]")).to_be_visible(timeout=10_000)
    expect(item.locator(".claimant-confirms")).to_be_visible()
    operator.shot("74-operator-sees-pledge-live")

    # The person confirms on their phone; the operator sees it delivered, live, and is told.
    mine.get_by_role("button", name="Xác nhận đã nhận").click()
    expect(mine.locator("[data-status=FULFILLED]")).to_be_visible()
    person.shot("75-claimant-confirmed")
    expect(item.locator(".pledge-row [data-status=DELIVERED]")).to_be_visible(timeout=10_000)
    expect(page.locator("#banner")).to_contain_text("Đã xác nhận nhận hàng")
    expect(item.locator(".claimant-confirms")).to_have_count(0)
    operator.shot("76-operator-sees-delivery-live")
    for who in (operator, person):
        assert who.errors == []


def test_the_need_form_keeps_the_persons_phone_and_household_for_the_next_need(
    browser: Browser, live_server: LiveServer, db: Any
) -> None:
    requester = _phone(browser, live_server, "Bà Tư", "vi-VN")
    requester.sign_up()
    page = requester.page
    fill_need(page, category="MEDICINE", title="Thuốc ho cho cháu", quantity="2", urgency="HIGH", phone="0912 345 678")
    page.click("details.more summary")
    fill_need(page, household="4", details="Gọi trước khi đến", at=NEAR)
    page.click("#need-form button[type=submit]")
    expect(page.locator("#my-needs [data-need]")).to_have_count(1)

    # The person's fields stay; the need's go; urgency is NORMAL again (not LOW).
    expect(page.locator("#need-phone")).to_have_value("0912 345 678")
    expect(page.locator("#need-household")).to_have_value("4")
    expect(page.locator("#need-title")).to_have_value("")
    expect(page.locator("#need-quantity")).to_have_value("1")
    expect(page.locator("#need-details")).to_have_value("")
    expect(page.locator("#need-urgency")).to_have_value("NORMAL")
    expect(page.locator("#need-category")).to_have_value("FOOD")
    expect(page.locator("#need-unit")).to_have_value("kg")
    expect(page.locator("#need-location-ok")).to_be_visible()  # the place is the person's too
    requester.shot("77-need-form-after-posting")

    page.fill("#need-title", "Gạo")
    page.click("#need-form button[type=submit]")
    expect(page.locator("#my-needs [data-need]")).to_have_count(2)
    rows = db.execute("SELECT title, contact_phone_hash, household_size, urgency FROM needs ORDER BY id").fetchall()
    assert [(r[0], r[2], r[3]) for r in rows] == [("Thuốc ho cho cháu", 4, "HIGH"), ("Gạo", 4, "NORMAL")]
    assert rows[0][1] == rows[1][1]

    page.reload()  # the page reads them back from my newest need
    expect(page.locator("#need-phone")).to_have_value("+84912345678")
    expect(page.locator("#need-household")).to_have_value("4")
    expect(page.locator("#need-urgency")).to_have_value("NORMAL")
    requester.shot("78-need-form-after-reload")
    page.click("#sign-out")  # the next person on this phone starts blank
    expect(page.locator("#need-phone")).to_have_value("")
    assert requester.errors == []


def test_a_requester_edits_renews_and_cancels_a_need_on_a_phone(
    browser: Browser, live_server: LiveServer, db: Any
) -> None:
    requester = _phone(browser, live_server, "Bà Tư", "vi-VN")
    requester.sign_up()
    page = requester.page
    fill_need(page, title="Gạo", quantity="3", phone="0912 345 678")
    page.click("details.more summary")
    tomorrow = page.evaluate("new Date(Date.now() + 86400e3).toISOString().slice(0, 10)")
    fill_need(page, expires=tomorrow, at=NEAR)  # ends tomorrow: the page asks "still need help?"
    page.click("#need-form button[type=submit]")
    mine = page.locator("#my-needs [data-need]")
    expect(mine).to_have_count(1)
    before = db.execute("SELECT expires_at FROM needs").fetchone()[0]

    mine.get_by_role("button", name="Vẫn cần giúp?").click()
    expect(page.locator("#banner")).to_have_text("Đã gia hạn yêu cầu.")
    expect(mine.get_by_role("button", name="Vẫn cần giúp?")).to_have_count(0)  # far off again
    assert db.execute("SELECT expires_at FROM needs").fetchone()[0] > before

    mine.get_by_role("button", name="Sửa").click()
    mine.locator("form.edit input[name=title]").fill("Gạo tẻ")
    mine.locator("form.edit input[name=quantity]").fill("5")
    requester.shot("79-requester-editing")
    mine.locator("form.edit button[type=submit]").click()
    expect(mine.locator("h3")).to_have_text("Gạo tẻ")
    expect(page.locator("#banner")).to_have_text("Đã lưu thay đổi.")
    expect(mine).to_contain_text("5 kg")

    mine.get_by_role("button", name="Hủy yêu cầu").click()  # asks once more: a slip does not cancel
    expect(mine.locator(".sure")).to_contain_text("Hủy yêu cầu này?")
    mine.get_by_role("button", name="Không").click()
    expect(mine.locator(".sure")).to_be_hidden()
    assert db.execute("SELECT status FROM needs").fetchone() == ("OPEN",)
    mine.get_by_role("button", name="Hủy yêu cầu").click()
    requester.shot("79a-requester-cancel-sure")
    mine.get_by_role("button", name="Có, hủy").click()
    expect(mine.locator("[data-status=CANCELLED]")).to_be_visible()
    expect(page.locator("#banner")).to_have_text("Đã hủy yêu cầu.")
    expect(mine.locator(".actions")).to_have_count(0)
    requester.shot("79b-requester-cancelled")
    assert db.execute("SELECT title, quantity, status FROM needs").fetchall() == [("Gạo tẻ", 5, "CANCELLED")]
    assert requester.errors == []


def test_a_live_update_keeps_what_the_requester_is_typing(browser: Browser, live_server: LiveServer, db: Any) -> None:
    """A pledge arriving while the person edits their need redraws the list: the open form, what was
    typed into it, the keyboard's place and an open "cancel this request?" all stay."""
    requester = _phone(browser, live_server, "Bà Tư", "vi-VN")
    requester.sign_up()
    page = requester.page
    fill_need(page, title="Gạo", quantity="3", phone="0912 345 678")
    page.click("details.more summary")
    fill_need(page, at=NEAR)
    page.click("#need-form button[type=submit]")
    mine = page.locator("#my-needs [data-need]")
    expect(mine).to_have_count(1)
    need_id = mine.get_attribute("data-need")

    mine.get_by_role("button", name="Sửa").click()
    mine.locator("form.edit input[name=quantity]").fill("7")
    mine.locator("form.edit input[name=title]").fill("Gạo nếp")
    mine.get_by_role("button", name="Hủy yêu cầu").click()
    mine.locator("form.edit input[name=title]").focus()
    donor = _account(live_server, "Minh", "0988 000 444")
    pledged = _post(live_server, PLEDGE, {"input": {"needId": need_id, "quantity": 1}}, donor)["pledge"]
    assert pledged["errors"] == [], pledged
    expect(mine).to_contain_text("Minh")  # the list was redrawn by the live event

    expect(mine.locator("form.edit")).to_be_visible()
    expect(mine.locator("form.edit input[name=title]")).to_have_value("Gạo nếp")
    expect(mine.locator("form.edit input[name=quantity]")).to_have_value("7")
    expect(mine.locator("form.edit input[name=title]")).to_be_focused()
    expect(mine.locator(".sure")).to_be_visible()
    requester.shot("79c-requester-editing-through-a-pledge")
    mine.get_by_role("button", name="Không").click()

    mine.locator("form.edit button[type=submit]").click()
    expect(page.locator("#banner")).to_have_text("Đã lưu thay đổi.")
    expect(mine.locator("h3")).to_have_text("Gạo nếp")
    expect(mine.locator("form.edit")).to_be_hidden()  # saved: the form closes and stays closed
    donor_two = _account(live_server, "Hùng", "0988 000 555")
    assert (
        _post(live_server, PLEDGE, {"input": {"needId": need_id, "quantity": 1}}, donor_two)["pledge"]["errors"] == []
    )
    expect(mine).to_contain_text("Hùng")
    expect(mine.locator("form.edit")).to_be_hidden()
    expect(mine.locator(".sure")).to_be_hidden()
    # Closed without saving, the form forgets what was typed; a refused save keeps it open, saying why.
    mine.get_by_role("button", name="Sửa").click()
    mine.locator("form.edit input[name=title]").fill("never saved")
    mine.get_by_role("button", name="Sửa").click()
    mine.get_by_role("button", name="Sửa").click()
    expect(mine.locator("form.edit input[name=title]")).to_have_value("Gạo nếp")
    mine.locator("form.edit input[name=quantity]").fill("1")  # below the 2 pledged by the time of saving
    mine.locator("form.edit button[type=submit]").click()
    expect(mine.locator(".need-error")).not_to_be_empty()
    expect(mine.locator("form.edit")).to_be_visible()
    mine.get_by_role("button", name="Sửa").click()
    assert db.execute("SELECT title, quantity FROM needs").fetchall() == [("Gạo nếp", 7)]
    assert requester.errors == []


def test_a_live_update_keeps_what_the_donor_is_typing(browser: Browser, live_server: LiveServer, db: Any) -> None:
    """A need posted nearby redraws the donor's list: the amount typed, an open report box with its
    reason and the focus stay on the need they were on."""
    requester = _account(live_server, "Bà Lan", "0988 100 201")
    first = _post(live_server, CREATE, {"input": need_input(title="Sữa cho bé", quantity=5, unit="hộp", location=NEAR)},
                  requester)["createNeed"]["need"]  # fmt: skip
    donor = _phone(browser, live_server, "Minh", "en-US")
    donor.sign_up()
    page = donor.page
    watch(page)
    item = page.locator(f'#nearby [data-need="{first["id"]}"]')
    expect(item).to_be_visible()
    item.locator("input[name=quantity]").fill("3")
    item.locator(".report-toggle").click()
    item.locator("input[name=reason]").fill("looks like a duplicate")
    _post(live_server, CREATE, {"input": need_input(title="Gạo", location=NEAR)}, requester)
    expect(page.locator("#nearby [data-need]")).to_have_count(2)  # redrawn by the live event

    expect(item.locator("input[name=quantity]")).to_have_value("3")
    expect(item.locator(".report")).to_be_visible()
    expect(item.locator("input[name=reason]")).to_have_value("looks like a duplicate")
    expect(item.locator("input[name=reason]")).to_be_focused()
    # A card whose data did not change is not drawn again: the selection in a field stays, so what
    # is typed next replaces it (drawn again, the selection was lost: "4" typed over a selected "3" gave "34").
    item.locator("input[name=quantity]").select_text()
    _post(live_server, CREATE, {"input": need_input(title="Mì gói", location=NEAR)}, requester)
    expect(page.locator("#nearby [data-need]")).to_have_count(3)
    page.keyboard.type("4")
    expect(item.locator("input[name=quantity]")).to_have_value("4")
    item.locator("input[name=quantity]").fill("3")
    item.locator(".pledge-row button[type=submit]").click()
    expect(page.locator("#banner")).to_have_text("Thank you! Your pledge is sent.")
    assert db.execute("SELECT quantity FROM pledges").fetchall() == [(3,)]  # the amount typed before the redraw
    assert donor.errors == []
