"""A relay on the page (a real browser, server and PostGIS): a matching round proposes a far need to a
donor through a collection point; the donor accepts and is told where to drop it, never the address;
the point's manager sees where it goes, and says it was delivered."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from playwright.sync_api import Browser, expect

from aidmap.settings import Settings
from tests.conftest import Api, LiveServer
from tests.factories import create_need, create_offer, give_role, matching_round, sign_up
from tests.frontend.test_page import Person, _person
from tests.schema.test_collection_points import DONOR_AT, FAR_NEED, PHONE, PHONE_E164, _point


def _signed_in(browser: Browser, live_server: LiveServer, name: str, token: str) -> Person:
    person = _person(browser, live_server, name, "en-US")
    person.context.add_init_script(f"localStorage.setItem('aidmap.token', {json.dumps(token)});")
    person.open()
    expect(person.page.locator("#who")).to_have_text(name)
    return person


def test_a_donor_relays_through_a_collection_point_and_its_manager_delivers(
    browser: Browser, live_server: LiveServer, api: Api, settings: Settings, db: psycopg.Connection[Any]
) -> None:
    admin, manager, donor, requester = (sign_up(api, n) for n in ("Admin", "Point manager", "Minh", "Bà Lan"))
    give_role(db, admin, "ADMIN")
    create_need(api, requester, title="Sữa cho bé", quantity=2, unit="hộp", location=FAR_NEED, contactPhone=PHONE)
    create_offer(api, donor, title="Sữa bột", quantity=2, unit="hộp", radiusMeters=3000, location=DONOR_AT)
    _point(api, admin, manager, db, name="UBND phường Hàng Bài", address="2 Lý Thường Kiệt")
    assert matching_round(settings).proposals == 1

    giver = _signed_in(browser, live_server, "Minh", donor)
    giver.page.click('.tab[data-view="help"]')
    proposal = giver.page.locator("#my-proposals [data-proposal]")
    expect(proposal).to_contain_text("Drop it at the collection point: UBND phường Hàng Bài, 2 Lý Thường Kiệt")
    giver.shot("40-relay-proposed")
    proposal.get_by_role("button", name="Accept").click()
    pledge = giver.page.locator("#my-pledges [data-pledge-holder]")
    expect(pledge).to_contain_text("Drop it at the collection point: UBND phường Hàng Bài")
    expect(giver.page.locator("#proposals-card")).to_be_hidden()
    # The donor's trip ends at the point: no address, no phone, no chat, no "I delivered it".
    expect(pledge.locator(".maps-link")).to_have_count(0)
    expect(pledge).not_to_contain_text(PHONE_E164)
    expect(pledge.get_by_role("button", name="I delivered it")).to_have_count(0)
    expect(giver.page.locator("#relays-card")).to_be_hidden()
    giver.shot("41-relay-pledged")

    carrier = _signed_in(browser, live_server, "Point manager", manager)
    carrier.page.click('.tab[data-view="help"]')
    relay = carrier.page.locator("#my-relays [data-relay]")
    expect(relay).to_contain_text("Sữa cho bé")
    expect(relay.locator(".maps-link")).to_be_visible()
    expect(relay).to_contain_text(PHONE_E164)
    expect(relay.locator(".walk")).to_have_count(0)
    carrier.shot("42-relay-to-carry")
    relay.get_by_role("button", name="I delivered it").click()
    expect(relay.locator(".awaiting-confirmation")).to_have_text("Waiting for the requester to confirm")
    for person in (giver, carrier):
        assert person.errors == []
