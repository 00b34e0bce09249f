"""Shared by the webhook tests: a local endpoint that plays a partner's receiver."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stand_in import QuietHandler, StandIn


class Receiver(StandIn):
    """A local endpoint that answers with the next scripted status (then 200) and records what it got."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.script: list[int] = []
        self.redirect_to: str | None = None  # sent as Location with a 3xx
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.script.pop(0) if receiver.script else 200
                receiver.received.append({"headers": dict(self.headers), "body": body, "answered": status})
                self.send_response(status)
                if 300 <= status < 400 and receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802 - what a followed 302 would become
                receiver.received.append({"headers": dict(self.headers), "body": b"", "answered": 200})
                self.send_response(200)
                self.end_headers()

        super().__init__(Handler, "/hooks/aidmap")

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.received if r["answered"] == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with contextlib.closing(Receiver()) as found:
        yield found
