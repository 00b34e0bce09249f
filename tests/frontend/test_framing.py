"""Clickjacking, tried as the attacker would: another site's page puts aidmap's page in a frame.

The browser must refuse to draw it (X-Frame-Options: DENY and frame-ancestors 'none', headers a
<meta> CSP cannot set), while the same page opened directly works.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer, serving


def attacker_site(target: str) -> Any:
    """A bare ASGI app (served on another port, so another origin): one page that frames `target`."""
    body = f'<!doctype html><title>win a prize</title><iframe id="victim" src="{target}"></iframe>'.encode()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": body})

    return app


def test_another_site_cannot_frame_the_page(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_server.url + "/")
    expect(page.locator("#sign-up")).to_be_visible()  # opened directly, the page works

    with serving(attacker_site(live_server.url + "/")) as attacker_url:
        assert attacker_url != live_server.url
        page.goto(attacker_url + "/")
        page.wait_for_load_state("load")
        expect(page.locator("#victim")).to_be_attached()
        # The frame's navigation is refused: nothing of aidmap's page is drawn inside it.
        expect(page.frame_locator("#victim").locator("#sign-up")).to_have_count(0)
        victim = next(f for f in page.frames if f is not page.main_frame)
        assert not victim.url.startswith(live_server.url), victim.url
    context.close()
