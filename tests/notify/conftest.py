"""A local server that plays an SMS gateway speaking Twilio's Messages API (tests start it on 127.0.0.1)."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.stand_in import QuietHandler, StandIn

ACCOUNT, TOKEN, SENDER = "AC0123456789abcdef", "gateway-secret", "+15005550006"


class Gateway(StandIn):
    """Answers each POST with the next scripted status (then 201 with a message id), or, for the
    status 0, holds the request without answering; records every request it got."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.script: list[int] = []
        self.release = threading.Event()  # lets held requests go (at the end of the test)
        gateway = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = gateway.script.pop(0) if gateway.script else 201
                auth = base64.b64decode(self.headers.get("Authorization", "Basic ").split(" ", 1)[1]).decode()
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                gateway.received.append({"path": self.path, "auth": auth, "form": form, "answered": status})
                if status == 0:
                    gateway.release.wait(30)
                    return
                answer = (
                    {"sid": f"SM{len(gateway.received):032d}", "status": "queued"}
                    if status == 201
                    else {"code": 21211, "message": "The 'To' number is not valid.", "status": status}
                )
                encoded = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

        super().__init__(Handler)

    def close(self) -> None:
        self.release.set()  # the held requests go before the server stops
        super().close()

    def settings(self) -> dict[str, Any]:
        """The aidmap settings that point at this gateway."""
        return {"sms_gateway": "twilio", "sms_url": self.url, "sms_account": ACCOUNT, "sms_token": TOKEN,
                "sms_from": SENDER, "sms_retry_seconds": 0.05, "sms_timeout_seconds": 2.0}  # fmt: skip

    def wait_for(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        """Until `count` requests have arrived (the messages are sent in the background)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"the gateway got {len(self.received)} of {count} requests"
            time.sleep(0.02)
        return self.received


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with contextlib.closing(Gateway()) as found:
        yield found


class PushService(StandIn):
    """Plays a Web Push service: records each POST (headers and the encrypted body) under its path and
    answers with the next scripted status (then 201)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.script: list[int] = []
        service = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = service.script.pop(0) if service.script else 201
                service.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body, "answered": status}
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with contextlib.closing(PushService()) as found:
        yield found


def wait_until(condition: Any, timeout: float = 15, what: str = "the condition") -> Any:
    """Polls until `condition()` is truthy (background work); returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
