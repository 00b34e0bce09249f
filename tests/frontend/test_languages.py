"""The page speaks one language at a time: the main requester and donor flows in English show no
Vietnamese label, and the key screens in Vietnamese show no English one.

What is checked is every visible text and every visible placeholder and aria-label, except what
people and places wrote (need titles, names, the map's ward names, the city list): against the
other language's labels (i18n.js), for Vietnamese letters in the English interface, and for a
label key shown raw (a missing translation shows as its key, e.g. "pickOnMap").
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer
from tests.frontend.forms import CENTRE, NEAR, fill_need, watch
from tests.frontend.test_page import _person
from tests.frontend.test_roles import _api_need

# Vietnamese letters that English never uses (đ, and vowels with a hook, horn, breve or tone mark).
VIETNAMESE = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.IGNORECASE)
RAW_KEY = re.compile(r"^[a-z]+[A-Z][A-Za-z0-9]*$")

# Visible strings of the page, minus what people and places wrote (marked by where it is shown).
VISIBLE_TEXT = """(skip) => {
  const out = [];
  const hidden = (el) => !el.checkVisibility({ visibilityProperty: true }) || el.closest(skip);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (text && node.parentElement && !hidden(node.parentElement)) out.push(text);
  }
  for (const el of document.body.querySelectorAll("[placeholder], [aria-label]")) {
    if (hidden(el) || el.id === "lang") continue; // the switch is named in both languages on purpose
    for (const name of ["placeholder", "aria-label"]) if (el.getAttribute(name)) out.push(el.getAttribute(name));
  }
  return out;
}"""
# Written by people or places, not the page: titles, names, messages, ward and city names.
DATA = ".map, select[id$='-city'], .results, #who, .item h3, .pledge-row > span:first-child, .chat li, .meta strong, [data-ask] strong"


def _labels(page: Page, lang: str) -> set[str]:
    labels: list[str] = page.evaluate(f"import('/i18n.js').then((m) => m.labels('{lang}'))")
    return set(labels)


def _leaks(page: Page, lang: str, foreign: set[str]) -> list[str]:
    shown: list[str] = page.evaluate(VISIBLE_TEXT, DATA)
    assert shown
    leaks = [s for s in shown if s in foreign or RAW_KEY.match(s)]
    if lang == "en":
        leaks += [s for s in shown if VIETNAMESE.search(s)]
    return leaks


def _check(page: Page, lang: str, screen: str) -> None:
    """No label of the other language on screen, once the lists a view refetches have been redrawn."""
    foreign = _labels(page, "vi" if lang == "en" else "en") - _labels(page, lang)  # "kg", "Chat" are both
    leaks = _leaks(page, lang, foreign)
    for _ in range(20):  # a view's lists are redrawn when their query answers: wait for that, not a time
        if not leaks:
            break
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(250)
        leaks = _leaks(page, lang, foreign)
    assert leaks == [], f"{screen}: {leaks}"
    assert page.evaluate("document.documentElement.lang") == lang


def _english(browser: Browser, server: LiveServer, name: str) -> Any:
    person = _person(browser, server, name, "en-US")
    person.open()
    expect(person.page.locator('.tab[data-view="need"]')).to_have_text("I need help")
    return person


def test_the_requester_and_donor_flows_in_english_show_no_vietnamese(browser: Browser, live_server: LiveServer) -> None:
    _api_need(live_server, "0977 300 009", title="Rice for the Tran family", location=NEAR, quantity=4, urgency="HIGH")
    requester, donor = _english(browser, live_server, "Lan"), _english(browser, live_server, "Minh")
    _check(requester.page, "en", "sign in")
    requester.sign_up()
    donor.sign_up()
    page = requester.page
    _check(page, "en", "need form")
    page.fill("#need-lat", CENTRE[0])
    page.fill("#need-lon", CENTRE[1])
    page.click("#need-form button[type=submit]")  # errors from the API, in English too
    expect(page.locator("#need-title-error")).to_have_text("title must not be empty.")
    _check(page, "en", "need form errors")

    page.select_option("#need-category", "MEDICINE")
    expect(page.locator("#need-unit")).to_have_value("box")
    fill_need(page, title="Fever medicine for my son", urgency="CRITICAL", phone="0912 345 678",
              at={"lat": CENTRE[0], "lon": CENTRE[1]})  # fmt: skip
    page.click("#need-form button[type=submit]")
    mine = page.locator("#my-needs [data-need]")
    expect(mine).to_have_count(1)
    mine.locator(".help-now").click()  # no donor is available: "nobody yet"
    expect(mine.locator("[data-help]")).to_be_visible()
    _check(page, "en", "my needs, help asked")
    requester.shot("70-en-my-needs")

    # The donor: the area's needs, an offer and its suggestions, a pledge, the chat.
    watch(donor.page)
    d = donor.page
    card = d.locator("#nearby [data-need]", has_text="Fever medicine for my son")
    expect(card).to_be_visible()
    _check(d, "en", "help view")
    d.select_option("#offer-category", "FOOD")
    d.fill("#offer-title", "Rice from my shop")
    d.fill("#offer-quantity", "10")
    d.fill("#offer-radius", "2")
    d.click("#offer-form button[type=submit]")
    expect(d.locator("#my-offers [data-suggested]", has_text="Rice for the Tran family")).to_be_visible()
    _check(d, "en", "offer suggestions")
    card.locator("input[name=quantity]").fill("1")
    card.locator("button[type=submit]").click()
    pledge = d.locator("#my-pledges [data-pledge-holder]", has_text="Fever medicine")
    expect(pledge).to_be_visible()
    pledge.get_by_role("button", name="Chat").click()
    pledge.locator(".chat input").fill("Coming in 10 minutes")
    pledge.locator(".chat button[type=submit]").click()
    expect(pledge.locator(".chat")).to_contain_text("Coming in 10 minutes")
    _check(d, "en", "my pledges, chat")
    donor.shot("71-en-donor")

    # The requester confirms; the operator and claim screens too.
    expect(mine).to_contain_text("Minh", timeout=10_000)
    _check(page, "en", "my needs, pledged")
    mine.get_by_role("button", name="Confirm delivery").click()
    expect(mine.locator("[data-status=FULFILLED]")).to_be_visible()
    _check(page, "en", "my needs, fulfilled")
    for view in ("operator", "claim"):
        page.click(f'.tab[data-view="{view}"]')
        _check(page, "en", view)
    for person in (requester, donor):
        assert person.errors == []


def test_key_screens_in_vietnamese_show_no_english(browser: Browser, live_server: LiveServer) -> None:
    _api_need(live_server, "0977 300 010", title="Gạo cho nhà bà Tư", location=NEAR, quantity=4, urgency="HIGH")
    person = _person(browser, live_server, "Hoa", "vi-VN")
    person.open()
    page = person.page
    _check(page, "vi", "đăng nhập")
    person.sign_up()
    _check(page, "vi", "đăng yêu cầu")
    page.fill("#need-lat", CENTRE[0])
    page.fill("#need-lon", CENTRE[1])
    page.click("#need-form button[type=submit]")
    expect(page.locator("#need-title-error")).to_have_text("Tiêu đề không được để trống.")
    _check(page, "vi", "lỗi")
    watch(person.page)
    expect(page.locator("#nearby [data-need]")).to_have_count(1)
    _check(page, "vi", "giúp")
    for view in ("operator", "claim"):
        page.click(f'.tab[data-view="{view}"]')
        _check(page, "vi", view)

    # Switching to English and back changes every label, without a reload.
    page.click("#lang")
    _check(page, "en", "claim, switched to English")
    page.click('.tab[data-view="help"]')
    _check(page, "en", "help, switched to English")
    page.click("#lang")
    _check(page, "vi", "help, back to Vietnamese")
    assert person.errors == []
