"""The page's forms filled in as a person would, shared by the browser tests."""

from __future__ import annotations

from collections.abc import Mapping

from playwright.sync_api import Page

CENTRE = ("21.0285", "105.8542")  # Hoàn Kiếm, as the help filter takes it
NEAR = {"lat": 21.0290, "lon": 105.8530}  # a few streets from it
SELECTS = {"category", "urgency"}  # chosen from a list, not typed


def fill_need(page: Page, *, at: Mapping[str, object] | None = None, **fields: str) -> None:
    """The need form's fields (`title=` is #need-title) in the order given (a category picks its unit,
    so it comes before one), then the place `at` if given: the change event is what checks it."""
    for name, value in fields.items():
        (page.select_option if name in SELECTS else page.fill)(f"#need-{name}", value)
    if at is not None:
        page.fill("#need-lat", str(at["lat"]))
        page.fill("#need-lon", str(at["lon"]))
        page.dispatch_event("#need-lon", "change")


def watch(page: Page, lat: str = CENTRE[0], lon: str = CENTRE[1]) -> None:
    """The help view, on the needs around (lat, lon)."""
    page.click('.tab[data-view="help"]')
    page.fill("#help-lat", lat)
    page.fill("#help-lon", lon)
    page.click("#help-filters button[type=submit]")
