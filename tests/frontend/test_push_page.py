"""The page's Web Push (frontend_stub/push.js, sw.js) in Chromium: the permission prompt appears only
after the person clicks "Notify me", the service worker is registered for the whole page, and the
subscription reaches aidmap. Headless Chromium has no push service of its own, so the browser's
PushManager.subscribe is played by the test (it returns an endpoint on the test's push service, with
keys the test holds); everything else is the page's own code."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx2
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Browser, expect

from aidmap.app import create_app
from aidmap.notify.push import new_vapid_pair
from aidmap.settings import Settings
from tests.conftest import serving
from tests.notify.conftest import PushService


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with contextlib.closing(PushService()) as found:
        yield found


SIGN_UP = """mutation ($input: SignUpInput!) { signUp(input: $input) { token errors { code } } }"""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(url: str, phone: str) -> str:
    answer = httpx2.post(f"{url}/graphql", json={"query": SIGN_UP, "variables": {"input": {
        "displayName": "Chị Hạnh", "phone": phone, "password": "correct horse"}}}).json()  # fmt: skip
    token: str = answer["data"]["signUp"]["token"]
    return token


def test_the_permission_prompt_appears_only_after_a_click(
    browser: Browser,
    settings: Settings,
    push_service: PushService,
    db: psycopg.Connection[Any],
) -> None:
    private, public = new_vapid_pair()
    changed = dataclasses.replace(settings, vapid_private_key=private, push_allow_private=True)
    key = ec.generate_private_key(ec.SECP256R1())
    p256dh = _b64(
        key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    auth = _b64(os.urandom(16))
    with serving(create_app(changed, database_url=changed.database_url or "")) as url:
        token = _token(url, "0977 000 111")
        context = browser.new_context(locale="vi-VN")
        # Count permission requests, and play the browser's push service subscription.
        context.add_init_script(
            f"""
            localStorage.setItem("aidmap.token", {json.dumps(token)});
            window.__asked = 0;
            Notification.requestPermission = async () => {{ window.__asked += 1; return "granted"; }};
            PushManager.prototype.subscribe = async function (options) {{
              window.__serverKey = options.applicationServerKey.length;
              const keys = {{ p256dh: {json.dumps(p256dh)}, auth: {json.dumps(auth)} }};
              return {{ endpoint: {json.dumps(push_service.url + "/push/page")}, toJSON: () => ({{ keys }}) }};
            }};
            """
        )
        page = context.new_page()
        page.goto(url + "/")
        button = page.locator("#notify-me")
        expect(button).to_be_visible()  # signed in
        expect(button).to_have_text("Báo cho tôi")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__asked") == 0  # nothing asked on load
        assert page.evaluate("navigator.serviceWorker.getRegistration().then(r => r === undefined)")

        button.click()
        expect(page.locator("#banner")).to_have_text("Đã bật thông báo.")
        assert page.evaluate("window.__asked") == 1
        assert page.evaluate("window.__serverKey") == 65  # the VAPID public key, decoded
        scope = page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.scope)")
        assert scope == url + "/"
        row = db.execute("SELECT endpoint, p256dh, auth FROM push_subscriptions").fetchone()
        assert row == (push_service.url + "/push/page", p256dh, auth)

        page.click("#lang")
        expect(button).to_have_text("Notify me")
        context.close()


def test_the_service_worker_is_served_for_the_root_scope(api: Any) -> None:
    response = api.http.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert "showNotification" in response.text
