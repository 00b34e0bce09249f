"""GraphiQL at /graphql in dev mode only, served from aidmap's vendored copy: it works with no internet."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from aidmap.settings import Settings
from tests.conftest import LiveServer
from tests.frontend.conftest import SHOTS

HTML = {"Accept": "text/html"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, dev=True)


def test_the_explorer_is_for_dev_mode_only(make_api: object) -> None:
    dev = make_api(dev=True)  # type: ignore[operator]
    production = make_api(dev=False)  # type: ignore[operator]

    page = dev.http.get("/graphql", headers=HTML)
    assert page.status_code == 200 and "/vendor/graphiql/graphiql.min.js" in page.text
    assert "cdn" not in page.text.lower() and "unpkg" not in page.text.lower()
    assert dev.http.get("/vendor/graphiql/graphiql.min.js").status_code == 200
    assert production.http.get("/graphql", headers=HTML).status_code == 404


def test_the_explorer_runs_a_query_with_only_local_requests(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.goto(live_server.url + "/graphql")
    page.locator(".graphiql-execute-button").click()
    expect(page.locator(".graphiql-response")).to_contain_text('"edges": []', timeout=10_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "10-explorer.png"))
    assert {urlsplit(url).netloc for url in requests} == {urlsplit(live_server.url).netloc}
    context.close()
