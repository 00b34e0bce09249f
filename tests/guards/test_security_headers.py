"""The page cannot be framed by another site (the attacker's clickjacking finding: its CSP lived only
in a <meta> tag, which cannot say frame-ancestors), and no answer lets a browser sniff types."""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer
from tests.live import LiveClient


@pytest.mark.parametrize("path", ["/", "/index.html", "/app.js", "/healthz", "/graphql?query={__typename}"])
def test_every_answer_forbids_framing_and_sniffing(live_server: LiveServer, path: str) -> None:
    import httpx2

    response = httpx2.get(live_server.url + path, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_websockets_are_untouched(live_server: LiveServer) -> None:
    with LiveClient(live_server.url):  # the handshake and connection_ack still work
        pass
